//! Compressed variants in the cache: the first compressed HIT of an entry compresses it and
//! stores the output next to it; later HITs for that coding are that file, sent as it is
//! (`Content-Length` known). Proven from the outside: the body served is the variant file's
//! tail byte for byte, and a marker written into that file on disk comes back to the client
//! (a recompression would not have it). A variant outlives neither its entry's refill,
//! revalidation, purge or eviction, and a damaged one is compressed again, never an error.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// A cache directory, removed when dropped.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// ringway with `conf`'s compression and a location `/` that caches in `dir`.
fn start(o: &Origin, path_extra: &str, loc_extra: &str) -> (Ringway, Dir) {
    let dir = Dir(temp_dir("compression-variants"));
    let c = format!(
        "http {{
    proxy_cache_path {} levels=1:2 keys_zone=z:1m {path_extra};
    gzip on;
    gzip_types text/plain;
    gzip_comp_level 6;
    brotli on;
    brotli_types text/plain;
    server {{
        listen {LISTEN};
        location / {{
            proxy_pass http://{};
            proxy_cache z;
            add_header X-Cache-Status $upstream_cache_status always;
            {loc_extra}
        }}
    }}
}}
",
        dir.0.display(),
        o.addr
    );
    (Ringway::start(&c), dir)
}

/// The entry files under `dir` (`.tmp` left out).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() && p != dir.join(".tmp") => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}

/// Waits until exactly `n` entry files are under `dir`.
#[track_caller]
fn await_files(dir: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while files(dir).len() != n {
        assert!(
            Instant::now() < deadline,
            "not {n} entry files: {:?}",
            files(dir)
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// The entry file whose body is `body` (a variant: the body at the file's end), and where
/// that body starts in it.
#[track_caller]
fn file_ending_with(dir: &Path, body: &[u8]) -> (PathBuf, usize) {
    files(dir)
        .into_iter()
        .find_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            (bytes.len() > body.len() && bytes.ends_with(body))
                .then(|| (p, bytes.len() - body.len()))
        })
        .unwrap_or_else(|| panic!("no entry file holds the body served"))
}

#[track_caller]
fn expect(r: &Response, cache: &str, coding: Option<&str>, want: &[u8], what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.head);
    assert_eq!(
        r.header("x-cache-status"),
        Some(cache),
        "{what}: {}",
        r.head
    );
    assert_eq!(r.header("content-encoding"), coding, "{what}: {}", r.head);
    assert!(decoded(r) == want, "{what}: decoded body differs");
}

/// A HIT sent from a stored variant: its length known, no chunks.
#[track_caller]
fn expect_stored(r: &Response, coding: &str, want: &[u8], what: &str) {
    expect(r, "HIT", Some(coding), want, what);
    assert_eq!(
        r.header("content-length"),
        Some(&*r.body.len().to_string()),
        "{what}: {}",
        r.head
    );
    assert!(!r.has("transfer-encoding"), "{what}: {}", r.head);
}

/// A HIT compressed on the way (no variant to send): chunked.
#[track_caller]
fn expect_compressed(r: &Response, cache: &str, coding: &str, want: &[u8], what: &str) {
    expect(r, cache, Some(coding), want, what);
    assert_eq!(
        r.header("transfer-encoding"),
        Some("chunked"),
        "{what}: {}",
        r.head
    );
}

/// Writes `mark` into a gzip body's MTIME field (bytes 4..8 of its header), in the file:
/// still valid gzip, but never what ringway's encoder writes (zero).
fn mark_gzip(path: &Path, body_at: usize, mark: [u8; 4]) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[body_at + 4..body_at + 8].copy_from_slice(&mark);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn later_hits_are_the_stored_variant_sent_as_it_is() {
    let o = Origin::start();
    let want = text(100_000);
    o.set(
        "/v.txt",
        Reply::ok(&want)
            .header("Content-Type", "text/plain")
            .header("ETag", "\"v1\""),
    );
    let (rw, dir) = start(
        &o,
        "",
        "proxy_cache_valid 200 10m; gzip_http_version 1.0; zstd on; zstd_types text/plain;",
    );
    expect_compressed(&get(&rw, "/v.txt", "gzip"), "MISS", "gzip", &want, "MISS");
    await_files(&dir.0, 1);
    // The first HIT compresses the entry and stores the variant.
    expect_compressed(&get(&rw, "/v.txt", "gzip"), "HIT", "gzip", &want, "1st HIT");
    await_files(&dir.0, 2);
    let r = get(&rw, "/v.txt", "gzip");
    expect_stored(&r, "gzip", &want, "2nd HIT");
    assert_eq!(r.headers_named("vary"), ["Accept-Encoding"]);
    assert_eq!(r.header("etag"), Some("W/\"v1\""));
    assert!(!r.has("accept-ranges"));
    let (path, at) = file_ending_with(&dir.0, &r.body);
    // Sent from the file, not compressed again: a mark made on disk reaches the client.
    mark_gzip(&path, at, *b"mark");
    let r = get(&rw, "/v.txt", "gzip");
    expect_stored(&r, "gzip", &want, "HIT after the mark");
    assert_eq!(&r.body[4..8], b"mark");
    // brotli: its own variant.
    expect_compressed(&get(&rw, "/v.txt", "br"), "HIT", "br", &want, "1st br HIT");
    await_files(&dir.0, 3);
    let r = get(&rw, "/v.txt", "br");
    expect_stored(&r, "br", &want, "2nd br HIT");
    file_ending_with(&dir.0, &r.body);
    // zstd: its own variant too.
    expect_compressed(
        &get(&rw, "/v.txt", "zstd"),
        "HIT",
        "zstd",
        &want,
        "1st zstd HIT",
    );
    await_files(&dir.0, 4);
    let r = get(&rw, "/v.txt", "zstd");
    expect_stored(&r, "zstd", &want, "2nd zstd HIT");
    file_ending_with(&dir.0, &r.body);
    // A client accepting neither gets the entry itself; ranges and HEAD are not compressed.
    let r = get(&rw, "/v.txt", "");
    expect(&r, "HIT", None, &want, "identity HIT");
    assert_eq!(r.header("content-length"), Some("100000"));
    let r = request(
        &rw,
        "GET",
        "/v.txt",
        "Accept-Encoding: gzip\r\nRange: bytes=10-19\r\n",
    );
    assert_eq!((r.status, r.header("content-encoding")), (206, None));
    assert_eq!(r.body, &want[10..20]);
    let r = request(&rw, "HEAD", "/v.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("content-length"), Some("100000"));
    // An HTTP/1.1 client keeps its connection after a stored variant.
    let mut c = Client::connect(rw.addr);
    for i in 0..2 {
        c.send(b"GET /v.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n");
        expect_stored(
            &c.read_response(),
            "gzip",
            &want,
            &format!("kept-alive {i}"),
        );
    }
    // HTTP/1.0 (`gzip_http_version 1.0`): the variant with its length, then the close.
    let mut c = Client::connect(rw.addr);
    c.send(b"GET /v.txt HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n");
    expect_stored(&c.read_response(), "gzip", &want, "HTTP/1.0");
    assert!(
        c.closed_within(Duration::from_secs(2)),
        "HTTP/1.0: not closed"
    );
    assert_eq!(o.count("/v.txt"), 1);
}

#[test]
fn a_variant_is_dropped_when_its_entry_is_refilled_or_revalidated() {
    let o = Origin::start();
    let (a, b) = (text(60_000), text(70_000));
    let reply = |body: &[u8]| {
        Reply::ok(body)
            .header("Content-Type", "text/plain")
            .header("Cache-Control", "max-age=2")
            .header("ETag", &format!("\"{}\"", body.len()))
    };
    o.set("/refill.txt", reply(&a));
    o.set("/reval.txt", reply(&a).conditional());
    let (rw, dir) = start(&o, "", "proxy_cache_revalidate on;");
    for path in ["/refill.txt", "/reval.txt"] {
        expect_compressed(&get(&rw, path, "gzip"), "MISS", "gzip", &a, path);
        expect_compressed(&get(&rw, path, "gzip"), "HIT", "gzip", &a, path);
    }
    await_files(&dir.0, 4);
    let r = get(&rw, "/reval.txt", "gzip");
    expect_stored(&r, "gzip", &a, "reval: stored");
    let (marked, at) = file_ending_with(&dir.0, &r.body);
    mark_gzip(&marked, at, *b"old!");
    o.set("/refill.txt", reply(&b));
    // Once stale: the refill's body, not the old variant's; then a variant of the new entry.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = get(&rw, "/refill.txt", "gzip");
        if r.header("x-cache-status") != Some("HIT") {
            expect_compressed(&r, "EXPIRED", "gzip", &b, "refill");
            break;
        }
        assert!(Instant::now() < deadline, "still a HIT: {}", r.head);
        thread::sleep(Duration::from_millis(100));
    }
    expect_compressed(
        &get(&rw, "/refill.txt", "gzip"),
        "HIT",
        "gzip",
        &b,
        "new entry",
    );
    expect_stored(&get(&rw, "/refill.txt", "gzip"), "gzip", &b, "new variant");
    // Revalidated (304): the entry's times changed, so its variant no longer counts.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = get(&rw, "/reval.txt", "gzip");
        if r.header("x-cache-status") != Some("HIT") {
            expect_compressed(&r, "REVALIDATED", "gzip", &a, "revalidated");
            assert_ne!(&r.body[4..8], b"old!");
            break;
        }
        assert!(Instant::now() < deadline, "still a HIT: {}", r.head);
        assert_eq!(&r.body[4..8], b"old!", "fresh: the marked variant");
        thread::sleep(Duration::from_millis(100));
    }
    let r = get(&rw, "/reval.txt", "gzip");
    expect_stored(&r, "gzip", &a, "variant after the revalidation");
    assert_ne!(&r.body[4..8], b"old!");
    assert_eq!(o.count("/refill.txt"), 2);
}

#[test]
fn purge_and_eviction_take_the_variants_along() {
    let o = Origin::start();
    let want = text(30_000);
    for p in ["/p.txt", "/q.txt"] {
        o.set(p, Reply::ok(&want).header("Content-Type", "text/plain"));
    }
    let (rw, dir) = start(
        &o,
        "inactive=3s",
        "proxy_cache_valid 200 10m; proxy_cache_purge $http_x_purge;",
    );
    let fill = |path: &str| {
        for ae in ["gzip", "br"] {
            get(&rw, path, ae);
            get(&rw, path, ae);
        }
    };
    fill("/p.txt");
    fill("/q.txt");
    await_files(&dir.0, 6);
    let r = request(&rw, "GET", "/p.txt", "X-Purge: 1\r\n");
    assert_eq!(r.status, 204, "{}", r.head);
    // The purge answers once the files are gone.
    assert_eq!(files(&dir.0).len(), 3, "{:?}", files(&dir.0));
    expect_compressed(&get(&rw, "/p.txt", "gzip"), "MISS", "gzip", &want, "purged");
    // `inactive`: entries and variants unused for 3 s go, all of them.
    let deadline = Instant::now() + Duration::from_secs(12);
    while !files(&dir.0).is_empty() {
        assert!(Instant::now() < deadline, "left: {:?}", files(&dir.0));
        thread::sleep(Duration::from_millis(100));
    }
}

/// Spoils a variant file's bytes, given where its body starts.
type Damage = fn(&mut Vec<u8>, usize);

#[test]
fn a_damaged_variant_is_compressed_again() {
    let o = Origin::start();
    let want = text(50_000);
    o.set(
        "/d.txt",
        Reply::ok(&want).header("Content-Type", "text/plain"),
    );
    let (rw, dir) = start(&o, "", "proxy_cache_valid 200 10m;");
    get(&rw, "/d.txt", "gzip");
    get(&rw, "/d.txt", "gzip");
    await_files(&dir.0, 2);
    let damages: [(&str, Damage); 3] = [
        ("cut short", |f, at| f.truncate(at + 10)),
        ("header overwritten", |f, _| f[..16].fill(b'x')),
        // A well-formed entry whose tie (past the key) is not this entry's.
        ("tie changed", |f, at| f[at - 1] ^= 0xff),
    ];
    for (what, damage) in damages {
        let r = get(&rw, "/d.txt", "gzip");
        expect_stored(&r, "gzip", &want, what);
        let (path, at) = file_ending_with(&dir.0, &r.body);
        let mut bytes = std::fs::read(&path).unwrap();
        damage(&mut bytes, at);
        std::fs::write(&path, bytes).unwrap();
        expect_compressed(&get(&rw, "/d.txt", "gzip"), "HIT", "gzip", &want, what);
    }
    expect_stored(&get(&rw, "/d.txt", "gzip"), "gzip", &want, "stored again");
    assert_eq!(o.count("/d.txt"), 1);
}

/// `n` bytes of seeded pseudo-random letters: about 0.6 of their size under gzip, so a 200 KB
/// body's variant is past what an entry's first read holds (it goes by sendfile, or in pieces
/// over TLS).
fn noisy(n: usize) -> Vec<u8> {
    let mut x = 21u64;
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i % 64 == 63 {
                b'\n'
            } else {
                b"abcdefghijklmnop"[(x >> 60) as usize]
            }
        })
        .collect()
}

#[test]
fn a_large_variant_goes_by_sendfile_and_over_tls() {
    let o = Origin::start();
    let want = noisy(200_000);
    o.set(
        "/big.txt",
        Reply::ok(&want).header("Content-Type", "text/plain"),
    );
    let dir = Dir(temp_dir("compression-variants-tls"));
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let location = format!(
        "location / {{ proxy_pass http://{}; proxy_cache z; proxy_cache_valid 200 10m;
            add_header X-Cache-Status $upstream_cache_status always; }}",
        o.addr
    );
    let rw = Ringway::start(&format!(
        "http {{
    proxy_cache_path {} levels=1:2 keys_zone=z:1m;
    gzip on;
    gzip_types text/plain;
    server {{ listen {LISTEN}; {location} }}
    server {{ listen @LISTEN2@ ssl; server_name localhost; {} {location} }}
}}
",
        dir.0.display(),
        leaf.directives()
    ));
    get(&rw, "/big.txt", "gzip");
    get(&rw, "/big.txt", "gzip");
    let r = get(&rw, "/big.txt", "gzip");
    expect_stored(&r, "gzip", &want, "plain");
    assert!(r.body.len() > 64 * 1024, "{} bytes", r.body.len());
    file_ending_with(&dir.0, &r.body);
    // TLS (its own entry: the key has the scheme): the variant read and written in pieces.
    let tls = rw.addrs[1];
    let out = Dir(temp_dir("compression-variants-curl"));
    let head_file = out.0.join("head");
    let body_file = out.0.join("body");
    let resolve = format!("localhost:{}:{}", tls.port(), tls.ip());
    let url = format!("https://localhost:{}/big.txt", tls.port());
    let fetch = || {
        let ok = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "5", "--resolve", &resolve, "--cacert"])
            .arg(&Pki::get().ca)
            .args(["-H", "Accept-Encoding: gzip", "-D"])
            .arg(&head_file)
            .arg("-o")
            .arg(&body_file)
            .arg(&url)
            .status()
            .unwrap()
            .success();
        assert!(ok, "curl {url} failed");
        let head = std::fs::read_to_string(&head_file).unwrap().to_lowercase();
        (head, std::fs::read(&body_file).unwrap())
    };
    fetch();
    fetch();
    let (head, body) = fetch();
    assert!(head.contains("x-cache-status: hit"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{head}"
    );
    assert!(gunzip(&body) == want, "TLS: decoded body differs");
    file_ending_with(&dir.0, &body);
    assert_eq!(o.count("/big.txt"), 2);
}
