//! Which responses are compressed, with which coding, and what their heads say.

use super::*;

fn origin() -> Origin {
    let o = Origin::start();
    o.set(
        "/page.txt",
        Reply::ok(text(50_000)).header("Content-Type", "text/plain; charset=utf-8"),
    );
    o.set(
        "/page.html",
        Reply::ok(text(3000)).header("Content-Type", "text/html"),
    );
    o.set(
        "/data.json",
        Reply::ok(text(3000)).header("Content-Type", "application/json"),
    );
    o.set(
        "/img.png",
        Reply::ok(text(3000)).header("Content-Type", "image/png"),
    );
    o.set(
        "/tiny.txt",
        Reply::ok(text(19)).header("Content-Type", "text/plain"),
    );
    o.set(
        "/min.txt",
        Reply::ok(text(20)).header("Content-Type", "text/plain"),
    );
    o.set(
        "/coded.txt",
        Reply::ok(b"\x1f\x8balready-coded-bytes".repeat(10))
            .header("Content-Type", "text/plain")
            .header("Content-Encoding", "gzip"),
    );
    o.set(
        "/keep.txt",
        Reply::ok(text(3000))
            .header("Content-Type", "text/plain")
            .header("Cache-Control", "public, no-transform"),
    );
    o.set(
        "/tagged.txt",
        Reply::ok(text(3000))
            .header("Content-Type", "text/plain")
            .header("ETag", "\"v1\"")
            .header("Accept-Ranges", "bytes")
            .header("Vary", "Cookie")
            .conditional(),
    );
    o.set(
        "/missing.txt",
        Reply::status(404, text(3000)).header("Content-Type", "text/plain"),
    );
    o.set(
        "/error.txt",
        Reply::status(500, text(3000)).header("Content-Type", "text/plain"),
    );
    o.set_fn("/ranged.txt", |req| {
        let body = text(3000);
        match req.header("range") {
            Some(_) => Reply::status(206, &body[..100])
                .header("Content-Type", "text/plain")
                .header("Content-Range", "bytes 0-99/3000"),
            None => Reply::ok(body).header("Content-Type", "text/plain"),
        }
    });
    o
}

#[test]
fn q_values_choose_the_coding() {
    let o = origin();
    let rw = Ringway::start(&conf(o.addr, ""));
    let want = text(50_000);
    for (ae, coding) in [
        ("gzip, deflate, br", Some("br")),
        ("gzip", Some("gzip")),
        ("br", Some("br")),
        ("gzip;q=1, br;q=0.5", Some("gzip")),
        ("gzip;q=0.5, br;q=0.5", Some("br")),
        ("br;q=0, gzip", Some("gzip")),
        ("gzip;q=0, br;q=0", None),
        ("*", Some("br")),
        ("*;q=0.3, br;q=0", Some("gzip")),
        ("identity", None),
        ("deflate", None),
        ("", None),
    ] {
        let r = get(&rw, "/page.txt", ae);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-encoding"),
            coding,
            "Accept-Encoding: {ae}\n{}",
            r.head
        );
        assert_eq!(decoded(&r), want, "Accept-Encoding: {ae}");
        // Eligible: Vary whatever the client got (gzip_vary on).
        assert_eq!(r.headers_named("vary"), ["Accept-Encoding"], "{ae}");
        if coding.is_some() {
            assert!(!r.has("content-length"), "{}", r.head);
            assert_eq!(r.header("transfer-encoding"), Some("chunked"));
            assert!(
                r.body.len() < want.len() / 3,
                "{ae}: {} bytes",
                r.body.len()
            );
        } else {
            assert_eq!(r.header("content-length"), Some("50000"));
        }
    }
}

#[test]
fn curl_compressed_decodes_what_ringway_sends() {
    let o = origin();
    let rw = Ringway::start(&conf(o.addr, ""));
    let dir = temp_dir("curl-compressed");
    // curl asks for br only when built with brotli (Debian's is).
    let version = std::process::Command::new("curl")
        .arg("-V")
        .output()
        .expect("run curl");
    let br = if String::from_utf8_lossy(&version.stdout).contains("brotli") {
        "br"
    } else {
        "gzip"
    };
    for (path, want_coding) in [
        ("/page.txt", br),
        ("/data.json", "gzip"),
        ("/page.html", br),
    ] {
        let file = dir.join("body");
        let out = std::process::Command::new("curl")
            .args(["-s", "--compressed", "--max-time", "5", "-D", "-", "-o"])
            .arg(&file)
            .arg(format!("http://{}{path}", rw.addr))
            .output()
            .expect("run curl");
        let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
        assert!(
            head.contains(&format!("content-encoding: {want_coding}\r\n")),
            "{path}: {head}"
        );
        let body = std::fs::read(&file).unwrap();
        let want = if path == "/page.txt" {
            text(50_000)
        } else {
            text(3000)
        };
        assert_bytes_eq(&body, &want, path);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn zstd_beside_brotli_and_gzip() {
    let o = origin();
    let rw = Ringway::start(&conf(
        o.addr,
        "zstd on; zstd_types text/plain; zstd_comp_level 3;",
    ));
    let want = text(50_000);
    for (ae, coding) in [
        // A browser's list (Chrome, Firefox): zstd wins the tie.
        ("gzip, deflate, br, zstd", Some("zstd")),
        ("zstd", Some("zstd")),
        ("ZSTD;q=0.9, gzip;q=0.5", Some("zstd")),
        ("zstd;q=0.5, br", Some("br")),
        ("zstd;q=0, gzip", Some("gzip")),
        ("*", Some("zstd")),
    ] {
        let r = get(&rw, "/page.txt", ae);
        assert_eq!(r.header("content-encoding"), coding, "{ae}\n{}", r.head);
        assert_eq!(decoded(&r), want, "Accept-Encoding: {ae}");
        assert_eq!(r.headers_named("vary"), ["Accept-Encoding"], "{ae}");
    }
    // The upstream's length is known: libzstd sizes its frame to it and says it in the header.
    let r = get(&rw, "/page.txt", "zstd");
    assert!(
        !r.has("content-length") && r.body.len() < want.len() / 3,
        "{}",
        r.head
    );
    let size = zstd::zstd_safe::get_frame_content_size(&r.body).unwrap();
    assert_eq!(size, Some(want.len() as u64));
    // JSON is in gzip_types only.
    let r = get(&rw, "/data.json", "gzip, br, zstd");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    // curl decodes it (Debian's curl is built with zstd: it then offers it).
    let version = std::process::Command::new("curl")
        .arg("-V")
        .output()
        .expect("run curl");
    if String::from_utf8_lossy(&version.stdout).contains("zstd") {
        let dir = temp_dir("curl-zstd");
        let file = dir.join("body");
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "--compressed",
                "-H",
                "Accept-Encoding: zstd",
                "--max-time",
                "5",
            ])
            .args(["-D", "-", "-o"])
            .arg(&file)
            .arg(format!("http://{}/page.txt", rw.addr))
            .output()
            .expect("run curl");
        let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
        assert!(head.contains("content-encoding: zstd\r\n"), "{head}");
        assert_bytes_eq(&std::fs::read(&file).unwrap(), &want, "curl");
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn types_lengths_and_statuses_decide() {
    let o = origin();
    let rw = Ringway::start(&conf(o.addr, ""));
    let ae = "gzip, br";
    // JSON is in gzip_types only; text/html is always in both lists.
    assert_eq!(
        get(&rw, "/data.json", ae).header("content-encoding"),
        Some("gzip")
    );
    assert_eq!(
        get(&rw, "/page.html", ae).header("content-encoding"),
        Some("br")
    );
    // Not listed, or shorter than gzip_min_length / brotli_min_length (20): as it came, no Vary.
    for path in ["/img.png", "/tiny.txt"] {
        let r = get(&rw, path, ae);
        assert_eq!(r.header("content-encoding"), None, "{path}");
        assert!(!r.has("vary"), "{path}: {}", r.head);
    }
    assert_eq!(
        get(&rw, "/min.txt", ae).header("content-encoding"),
        Some("br")
    );
    // Already coded: passed untouched.
    let r = get(&rw, "/coded.txt", ae);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.body, b"\x1f\x8balready-coded-bytes".repeat(10));
    // Cache-Control: no-transform is honoured.
    let r = get(&rw, "/keep.txt", ae);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body, text(3000));
    // 404 is compressed (as nginx: 200, 403, 404), 500 is not.
    let r = get(&rw, "/missing.txt", "gzip");
    assert_eq!(
        (r.status, r.header("content-encoding")),
        (404, Some("gzip"))
    );
    assert_eq!(decoded(&r), text(3000));
    let r = get(&rw, "/error.txt", "gzip");
    assert_eq!((r.status, r.header("content-encoding")), (500, None));
}

#[test]
fn head_304_and_ranges_are_not_compressed() {
    let o = origin();
    let rw = Ringway::start(&conf(o.addr, ""));
    let r = request(&rw, "HEAD", "/page.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), None, "{}", r.head);
    assert_eq!(r.header("content-length"), Some("50000"));
    let r = request(
        &rw,
        "GET",
        "/tagged.txt",
        "Accept-Encoding: gzip\r\nIf-None-Match: \"v1\"\r\n",
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("content-encoding"), None, "{}", r.head);
    // The origin answers the range: the 206 passes as it came.
    let r = request(
        &rw,
        "GET",
        "/ranged.txt",
        "Accept-Encoding: gzip\r\nRange: bytes=0-99\r\n",
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body, &text(3000)[..100]);
}

#[test]
fn compressed_heads_weaken_the_etag_and_drop_accept_ranges() {
    let o = origin();
    let rw = Ringway::start(&conf(o.addr, ""));
    let r = get(&rw, "/tagged.txt", "gzip");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("etag"), Some("W/\"v1\""));
    assert!(!r.has("accept-ranges"), "{}", r.head);
    assert_eq!(r.headers_named("vary"), ["Cookie", "Accept-Encoding"]);
    assert_eq!(decoded(&r), text(3000));
    // Not compressed: the strong ETag stays.
    let r = get(&rw, "/tagged.txt", "");
    assert_eq!(r.header("etag"), Some("\"v1\""));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
}

#[test]
fn vary_proxied_disable_and_levels() {
    let o = origin();
    let extra = "location /quiet/ { gzip_vary off; brotli off; proxy_pass http://ORIGIN/; }
        location /via/ { gzip_proxied no_etag; proxy_pass http://ORIGIN/; }
        location /bots/ { gzip_disable \"^Bot/\" msie6; proxy_pass http://ORIGIN/; }
        location /best/ { gzip_comp_level 9; brotli_comp_level 11; proxy_pass http://ORIGIN/; }
        location /fast/ { brotli_comp_level 0; proxy_pass http://ORIGIN/; }";
    let rw = Ringway::start(&conf(o.addr, &extra.replace("ORIGIN", &o.addr.to_string())));
    // gzip_vary off: no Vary on an uncompressed answer; a compressed one still says it varies.
    let r = get(&rw, "/quiet/page.txt", "");
    assert!(!r.has("vary"), "{}", r.head);
    let r = get(&rw, "/quiet/page.txt", "gzip, br");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.headers_named("vary"), ["Accept-Encoding"]);
    // A request that came through a proxy (Via) is compressed only as gzip_proxied says.
    let via = "Accept-Encoding: gzip\r\nVia: 1.1 cdn\r\n";
    assert_eq!(
        request(&rw, "GET", "/page.txt", via).header("content-encoding"),
        None
    );
    assert_eq!(
        request(&rw, "GET", "/via/page.txt", via).header("content-encoding"),
        Some("gzip")
    );
    assert_eq!(
        request(&rw, "GET", "/via/tagged.txt", via).header("content-encoding"),
        None
    );
    // gzip_disable.
    let ua = |ua: &str| format!("Accept-Encoding: gzip\r\nUser-Agent: {ua}\r\n");
    let coding = |p: &str, f: &str| {
        request(&rw, "GET", p, f)
            .header("content-encoding")
            .map(str::to_string)
    };
    assert_eq!(coding("/bots/page.txt", &ua("bot/1.0")), None);
    assert_eq!(
        coding(
            "/bots/page.txt",
            &ua("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.0)")
        ),
        None
    );
    assert_eq!(
        coding("/bots/page.txt", &ua("curl/8")).as_deref(),
        Some("gzip")
    );
    // Other levels: other sizes, the same bytes once decoded.
    let size = |p: &str, ae: &str| {
        let r = get(&rw, p, ae);
        assert_eq!(r.header("content-encoding"), Some(ae), "{p}");
        assert_eq!(decoded(&r), text(50_000), "{p} {ae}");
        r.body.len()
    };
    assert!(size("/best/page.txt", "gzip") < size("/page.txt", "gzip"));
    assert!(size("/fast/page.txt", "br") > size("/page.txt", "br"));
    size("/best/page.txt", "br");
}
