//! The seed configs (`tests/seed-configs`), run as they are apart from addresses: each
//! is copied into a temporary folder with `listen 80` pointed at a free loopback port, the
//! backend addresses pointed at real test backends and `pid` at a temporary file. Checks which
//! backend each request reaches, with which target and which forwarded fields. edge-full.conf
//! runs too, with its TLS certificate, htpasswd and cache directory also rewritten (see
//! `EDGE_REWRITTEN_LINES`), checked with curl over TLS.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

fn seeds() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seed-configs"))
}

fn read_seed(rel: &str) -> String {
    let p = seeds().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Replaces `from` wherever it stands as a whole token (not followed by a digit).
fn replace_token(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let after = &rest[i + from.len()..];
        out.push_str(&rest[..i]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The seed text with `listen 80` (any parameters kept) on `listen`, each backend address in
/// `backends` replaced by its test backend, and `pid` moved to `pid_file`.
fn rewrite(
    text: &str,
    listen: SocketAddr,
    backends: &[(&str, SocketAddr)],
    pid_file: &Path,
) -> String {
    // Placeholders first, so a replaced address is never matched again.
    let mut t = text.to_string();
    for (i, (from, _)) in backends.iter().enumerate() {
        t = replace_token(&t, from, &format!("@BACKEND{i}@"));
    }
    let mut out = String::new();
    for line in t.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(rest) = trimmed.strip_prefix("listen ") {
            let rest = rest.trim_start();
            let end = rest.find([' ', ';']).unwrap_or(rest.len());
            assert_eq!(&rest[..end], "80", "unexpected listen in seed: {line}");
            out.push_str(&format!("{indent}listen {listen}{}\n", &rest[end..]));
        } else if trimmed.starts_with("pid ") {
            out.push_str(&format!("{indent}pid {};\n", pid_file.display()));
        } else if trimmed.starts_with("access_log /") {
            // The seed's /var/log/nginx may not exist here: the log goes next to the pid file.
            let dir = pid_file.parent().unwrap_or(Path::new("."));
            out.push_str(&format!(
                "{indent}access_log {};\n",
                dir.join("access.log").display()
            ));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    for (i, (from, to)) in backends.iter().enumerate() {
        // `localhost:8080` keeps its name: ringway resolves it (IPv4 first) at start.
        let to = if from.starts_with("localhost:") {
            format!("localhost:{}", to.port())
        } else {
            to.to_string()
        };
        out = out.replace(&format!("@BACKEND{i}@"), &to);
    }
    out
}

/// Starts ringway on a seed prepared by `prepare(dir, listen)` (which writes the files and
/// returns the main config path); retries with a new port if the first one was taken.
fn start_seed(prepare: impl Fn(&Path, SocketAddr) -> PathBuf) -> Ringway {
    let mut last = String::new();
    for _ in 0..3 {
        let dir = temp_dir("seed");
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let main = prepare(&dir, listen);
        match Ringway::start_file(dir, main, 1, &[listen]) {
            Ok(rw) => return rw,
            Err(e) => last = e,
        }
    }
    panic!("ringway did not start on the seed:\n{last}");
}

fn request(rw: &Ringway, raw: &str) -> Response {
    let (_c, r) = exchange(rw.addr, raw.as_bytes());
    r
}

fn get(rw: &Ringway, host: &str, path: &str) -> Response {
    request(
        rw,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: seeds\r\n\r\n"),
    )
}

/// The backend that answered (`X-Backend`) and the request head it saw.
fn landed(r: &Response) -> (String, String, Vec<(String, String)>) {
    assert_eq!(r.status, 200, "expected a proxied 200: {}", r.describe());
    let (line, fields) = echoed_head(&r.body);
    let target = line.split(' ').nth(1).unwrap_or("").to_string();
    (
        r.header("x-backend").unwrap_or("?").to_string(),
        target,
        fields,
    )
}

#[track_caller]
fn one_field(fields: &[(String, String)], name: &str) -> String {
    let v = field_values(fields, name);
    assert_eq!(
        v.len(),
        1,
        "expected exactly one {name} field, got {v:?} in {fields:?}"
    );
    v[0].to_string()
}

fn targets(b: &Backend) -> Vec<String> {
    b.requests().into_iter().map(|r| r.target).collect()
}

#[test]
fn seeds_pass_dash_t_as_they_are() {
    for rel in [
        "api-pool.conf",
        "named-host.conf",
        "single-backend.conf",
        "site/nginx.conf",
    ] {
        let p = seeds().join(rel);
        let (st, _out, err) = run_ringway(&["-t".as_ref(), "-c".as_ref(), p.as_os_str()]);
        // `-t` opens the access logs, as nginx does: where /var/log/nginx cannot be written,
        // that is the one thing it may stop at, naming the file and line.
        let logs = "/var/log/nginx/access.log";
        if !st.success() && read_seed(rel).contains(logs) {
            let line = read_seed(rel)
                .lines()
                .position(|l| l.contains(logs))
                .map_or(0, |i| i + 1);
            let first = err.lines().next().unwrap_or("");
            assert!(
                first.contains(&format!("{rel}:{line}:"))
                    && first.contains("cannot open access log"),
                "ringway -t on {rel} failed: {err}"
            );
            continue;
        }
        assert!(st.success(), "ringway -t on {rel} failed: {err}");
        assert!(err.contains("test is successful"), "{rel}: {err}");
    }
}

#[test]
fn seed_edge_full_dash_t_stops_only_at_a_file_it_cannot_read() {
    let p = seeds().join("edge-full.conf");
    // ringway understands every directive of edge-full.conf (proxy_cache_path and the
    // proxy_cache* settings included); `-t` fails only on the first file it names that this
    // machine lacks: the auth_basic_user_file (line 61), read when the config is loaded.
    let line = read_seed("edge-full.conf")
        .lines()
        .position(|l| l.trim_start().starts_with("auth_basic_user_file"))
        .expect("edge-full.conf has auth_basic_user_file")
        + 1;
    assert_eq!(line, 61);
    let (st, out, err) = run_ringway(&["-t".as_ref(), "-c".as_ref(), p.as_os_str()]);
    assert_eq!(st.code(), Some(1), "ringway -t exit status; stderr: {err}");
    assert!(out.is_empty(), "nothing on stdout for -t: {out}");
    let first = err.lines().next().unwrap_or("");
    assert!(
        first.contains(&format!("edge-full.conf:{line}:")),
        "the error must name the file and line: {err}"
    );
    assert!(first.contains("cannot read auth_basic_user_file"), "{err}");
    assert!(!err.contains("not supported"), "{err}");
    assert!(err.contains("test failed"), "{err}");
}

#[test]
fn seed_api_pool_routes_balancing_and_fields() {
    let app: Vec<Backend> = (0..4)
        .map(|i| tagged_backend(&format!("{}", 8000 + i)))
        .collect();
    let map: Vec<(String, SocketAddr)> = (0..4)
        .map(|i| (format!("127.0.0.1:{}", 8000 + i), app[i].addr))
        .collect();
    let map_ref: Vec<(&str, SocketAddr)> = map.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    let rw = start_seed(|dir, listen| {
        let text = rewrite(
            &read_seed("api-pool.conf"),
            listen,
            &map_ref,
            &dir.join("nginx.pid"),
        );
        let p = dir.join("api-pool.conf");
        std::fs::write(&p, text).unwrap();
        p
    });
    let host = format!("api.example.dev:{}", rw.port);

    // `/` → upstream app: all four servers get traffic (least_conn is balanced round-robin
    // for now: only that every server is used is checked).
    for i in 0..25 {
        let (_, target, _) = landed(&get(&rw, &host, &format!("/app-{i}")));
        assert_eq!(target, format!("/app-{i}"));
    }
    for (i, b) in app.iter().enumerate() {
        let n = targets(b).iter().filter(|t| t.starts_with("/app-")).count();
        assert!(n > 0, "app server {} got none of 25 requests", 8000 + i);
    }

    // Fields set by the seed's `location /`: Host $host (no port), X-Forwarded-For appended;
    // X-Real-IP and X-Forwarded-Proto are ringway's defaults (the seed does not set them).
    let r = request(
        &rw,
        &format!(
            "GET /fields?x=1 HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-For: 10.1.1.1\r\nX-Real-IP: 6.6.6.6\r\n\r\n"
        ),
    );
    let (_, target, f) = landed(&r);
    assert_eq!(target, "/fields?x=1");
    assert_eq!(one_field(&f, "host"), "api.example.dev");
    assert_eq!(one_field(&f, "x-forwarded-for"), "10.1.1.1, 127.0.0.1");
    assert_eq!(one_field(&f, "x-real-ip"), "127.0.0.1");
    assert_eq!(one_field(&f, "x-forwarded-proto"), "http");

    // `/admin` (prefix, no URI part) → upstream admin = 8002 only, target unchanged.
    for path in ["/admin", "/admin/users?page=2", "/administrator"] {
        let (b, target, f) = landed(&get(&rw, &host, path));
        assert_eq!(b, "8002", "{path}");
        assert_eq!(target, path);
        // No proxy_set_header in this location: the client's Host passes unchanged (ringway's
        // documented default; nginx would send $proxy_host) and the default fields are added.
        assert_eq!(one_field(&f, "host"), host);
        assert_eq!(one_field(&f, "x-real-ip"), "127.0.0.1");
        assert_eq!(one_field(&f, "x-forwarded-for"), "127.0.0.1");
        assert_eq!(one_field(&f, "x-forwarded-proto"), "http");
    }

    // `/user/` with `proxy_pass http://users/`: the prefix is replaced by `/`; the backup
    // (8001) gets nothing while 8003 is up.
    for i in 0..6 {
        let (b, target, _) = landed(&get(&rw, &host, &format!("/user/u-{i}?q={i}")));
        assert_eq!(b, "8003");
        assert_eq!(target, format!("/u-{i}?q={i}"));
    }
    let (b, target, _) = landed(&get(&rw, &host, "/user/"));
    assert_eq!((b.as_str(), target.as_str()), ("8003", "/"));
    assert!(
        !targets(&app[1])
            .iter()
            .any(|t| t.starts_with("/u-") || t == "/"),
        "the backup server 8001 of `users` got traffic: {:?}",
        targets(&app[1])
    );

    // Host matching is case-insensitive and ignores the port.
    let (_, target, _) = landed(&get(&rw, &format!("API.Example.DEV:{}", rw.port), "/case"));
    assert_eq!(target, "/case");

    // `server_name _` with default_server: unknown hosts and Host-less requests get 404 and
    // reach no backend.
    let before: usize = app.iter().map(|b| b.request_count()).sum();
    let r = get(&rw, "unknown.example", "/app-x");
    assert_eq!(r.status, 404, "{}", r.describe());
    let r = get(&rw, &format!("127.0.0.1:{}", rw.port), "/");
    assert_eq!(r.status, 404, "{}", r.describe());
    let r = request(&rw, "GET / HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 404, "{}", r.describe());
    let after: usize = app.iter().map(|b| b.request_count()).sum();
    assert_eq!(before, after, "the default server must not proxy");
}

#[test]
fn seed_named_host_fields_and_default() {
    let b = tagged_backend("3000");
    let prepare = |extra: &'static str| {
        let addr = b.addr;
        move |dir: &Path, listen: SocketAddr| {
            let mut text = rewrite(
                &read_seed("named-host.conf"),
                listen,
                &[("127.0.0.1:3000", addr)],
                &dir.join("nginx.pid"),
            );
            text.push_str(&extra.replace("@SAME@", &listen.to_string()));
            let p = dir.join("named-host.conf");
            std::fs::write(&p, text).unwrap();
            p
        }
    };
    let rw = start_seed(prepare(""));
    let host = format!("yourdomain.com:{}", rw.port);
    // The client's forwarded fields are replaced (X-Real-IP, X-Forwarded-Proto) or appended to
    // (X-Forwarded-For) exactly as the seed sets them.
    let r = request(
        &rw,
        &format!(
            "GET /page?id=7 HTTP/1.1\r\nHost: {host}\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n"
        ),
    );
    let (tag, target, f) = landed(&r);
    assert_eq!(tag, "3000");
    assert_eq!(target, "/page?id=7");
    assert_eq!(one_field(&f, "host"), "yourdomain.com");
    assert_eq!(one_field(&f, "x-real-ip"), "127.0.0.1");
    assert_eq!(one_field(&f, "x-forwarded-for"), "1.2.3.4, 127.0.0.1");
    assert_eq!(one_field(&f, "x-forwarded-proto"), "http");
    let (_, _, f) = landed(&get(&rw, "www.yourdomain.com", "/"));
    assert_eq!(one_field(&f, "host"), "www.yourdomain.com");
    assert_eq!(one_field(&f, "x-forwarded-for"), "127.0.0.1");
    // The only server on its address is the default: other names reach it too.
    let (_, _, f) = landed(&get(&rw, "other.example", "/"));
    assert_eq!(one_field(&f, "host"), "other.example");
    drop(rw);

    // With another server as the default, only the seed's names reach it.
    let rw = start_seed(prepare(
        "server {\n    listen @SAME@ default_server;\n    return 404;\n}\n",
    ));
    let before = b.request_count();
    for h in ["yourdomain.com", "WWW.yourdomain.com"] {
        let (tag, _, _) = landed(&get(&rw, h, "/x"));
        assert_eq!(tag, "3000");
    }
    for h in ["other.example", "yourdomain.com.evil", "sub.yourdomain.com"] {
        let r = get(&rw, h, "/x");
        assert_eq!(r.status, 404, "Host {h}: {}", r.describe());
    }
    assert_eq!(b.request_count(), before + 2);
}

#[test]
fn seed_single_backend_pid_and_passthrough() {
    let b = tagged_backend("8080");
    let pid_file = std::cell::RefCell::new(PathBuf::new());
    let mut rw = start_seed(|dir, listen| {
        *pid_file.borrow_mut() = dir.join("nginx.pid");
        let text = rewrite(
            &read_seed("single-backend.conf"),
            listen,
            &[("localhost:8080", b.addr)],
            &dir.join("nginx.pid"),
        );
        assert!(text.contains("user www-data;"), "`user` stays: {text}");
        assert!(text.contains(&format!("localhost:{}", b.addr.port())));
        let p = dir.join("nginx.conf");
        std::fs::write(&p, text).unwrap();
        p
    });
    let pid_file = pid_file.into_inner();
    // The pid file is written just after the listeners open: poll for it briefly.
    let t0 = std::time::Instant::now();
    let written = loop {
        match std::fs::read_to_string(&pid_file) {
            Ok(t) if !t.is_empty() => break t,
            Ok(_) | Err(_) if t0.elapsed() < std::time::Duration::from_secs(3) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            r => panic!("pid file {}: {r:?}", pid_file.display()),
        }
    };
    assert_eq!(written.trim(), rw.pid().to_string());
    for path in ["/", "/any/path?x=1&y=%20", "/favicon.ico"] {
        let (tag, target, f) = landed(&get(&rw, "whatever.example", path));
        assert_eq!(tag, "8080");
        assert_eq!(target, path);
        // No proxy_set_header in the seed: Host passes unchanged (ringway's documented
        // default), with ringway's default forwarded fields.
        assert_eq!(one_field(&f, "host"), "whatever.example");
        assert_eq!(one_field(&f, "x-real-ip"), "127.0.0.1");
        assert_eq!(one_field(&f, "x-forwarded-for"), "127.0.0.1");
        assert_eq!(one_field(&f, "x-forwarded-proto"), "http");
    }
    let st = rw
        .stop_graceful(Duration::from_secs(5))
        .expect("ringway stops on SIGQUIT");
    assert!(st.success(), "exit status {st}");
    assert!(!pid_file.exists(), "the pid file is removed at exit");
}

#[test]
fn seed_site_follows_includes_and_sites_enabled_path_file() {
    let b = tagged_backend("8000");
    let rw = start_seed(|dir, listen| {
        let site = dir.join("site");
        std::fs::create_dir_all(site.join("sites-enabled")).unwrap();
        std::fs::create_dir_all(site.join("sites-available")).unwrap();
        let pid = dir.join("nginx.pid");
        std::fs::write(
            site.join("nginx.conf"),
            rewrite(&read_seed("site/nginx.conf"), listen, &[], &pid),
        )
        .unwrap();
        std::fs::write(
            site.join("sites-available/example"),
            rewrite(
                &read_seed("site/sites-available/example"),
                listen,
                &[("127.0.0.1:8000", b.addr)],
                &pid,
            ),
        )
        .unwrap();
        // sites-enabled/example as it is: a symlink stays a symlink, a plain file holding the
        // relative path (what git writes where it cannot make links) stays that file.
        let src = seeds().join("site/sites-enabled/example");
        let dst = site.join("sites-enabled/example");
        let meta = std::fs::symlink_metadata(&src).unwrap();
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else {
            std::fs::write(&dst, std::fs::read(&src).unwrap()).unwrap();
        }
        site.join("nginx.conf")
    });
    for host in ["site.example", "anything.else"] {
        let r = request(
            &rw,
            &format!(
                "POST /form?a=b HTTP/1.1\r\nHost: {host}:{}\r\nContent-Length: 3\r\nX-Forwarded-For: 9.9.9.9\r\n\r\nabc",
                rw.port
            ),
        );
        let (tag, target, f) = landed(&r);
        assert_eq!(tag, "8000");
        assert_eq!(target, "/form?a=b");
        assert_eq!(one_field(&f, "host"), host);
        assert_eq!(one_field(&f, "x-real-ip"), "127.0.0.1");
        assert_eq!(one_field(&f, "x-forwarded-for"), "9.9.9.9, 127.0.0.1");
        assert_eq!(one_field(&f, "x-forwarded-proto"), "http");
    }
    assert_eq!(b.requests().last().unwrap().body, b"abc");
}

#[test]
fn seed_named_host_http10_without_host_forwards_the_server_name() {
    let b = tagged_backend("3000");
    let rw = start_seed(|dir, listen| {
        let text = rewrite(
            &read_seed("named-host.conf"),
            listen,
            &[("127.0.0.1:3000", b.addr)],
            &dir.join("nginx.pid"),
        );
        let p = dir.join("named-host.conf");
        std::fs::write(&p, text).unwrap();
        p
    });
    let r = request(&rw, "GET /old-client HTTP/1.0\r\n\r\n");
    let (_, _, f) = landed(&r);
    // nginx: $host is the matched server's first name when the request has no Host.
    assert_eq!(
        field_values(&f, "host"),
        vec!["yourdomain.com"],
        "{}",
        show(&r.body)
    );
}

// ---------------------------------------------------------------------------------------------
// edge-full.conf, run: TLS termination, the cache, limits, access rules and basic auth.

#[path = "tls/clients.rs"]
#[allow(dead_code)] // only curl is used here
mod clients;

/// The body `/static/x` serves (big enough to span several reads and cache-file writes; ASCII,
/// as curl's output is read as text).
fn static_body() -> Vec<u8> {
    pattern(200_000).iter().map(|b| b'a' + b % 26).collect()
}

/// What a test machine lacks in edge-full.conf, rewritten token for token; every other line
/// stays byte for byte as the seed has it. By line of the seed:
///   11  `proxy_cache_path /var/cache/ringway …`  → a temporary directory (parameters kept)
///   16  `server 127.0.0.1:8000 …`                → origin 0 (parameters kept)
///   17  `server 127.0.0.1:8001 …`                → origin 1 (parameters kept)
///   18  `server 127.0.0.1:8002 backup;`          → origin 2 (still the backup)
///   23  `listen 80;`                             → a free loopback port (plain HTTP)
///   29  `listen 443 ssl;`                        → a free loopback port (`ssl` kept)
///   31  `ssl_certificate /etc/ssl/…crt`          → a leaf for shop.example.com from the test CA
///   32  `ssl_certificate_key /etc/ssl/…key`      → its key
///   61  `auth_basic_user_file /etc/ringway/htpasswd` → a temporary htpasswd (user `admin`)
const EDGE_REWRITTEN_LINES: [usize; 9] = [11, 16, 17, 18, 23, 29, 31, 32, 61];

struct Edge {
    rw: Ringway,
    plain: SocketAddr,
    tls: SocketAddr,
    /// Origins for 127.0.0.1:8000, :8001 and :8002 (the backup), in that order.
    origins: Vec<Origin>,
}

const ADMIN_USER: &str = "admin";
const ADMIN_PASS: &str = "s3cret-pass";

impl Edge {
    fn start() -> Edge {
        let origins: Vec<Origin> = (0..3).map(|_| Origin::start()).collect();
        for (i, o) in origins.iter().enumerate() {
            let tag = format!("{}", 8000 + i);
            let body = static_body();
            let t = tag.clone();
            o.set_fn("/static/x", move |_| {
                Reply::ok(&body)
                    .header("Content-Type", "application/octet-stream")
                    .header("X-Backend", &t)
            });
            for path in [
                "/api/items",
                "/api/burst",
                "/admin/panel",
                "/",
                "/shop/cart",
            ] {
                o.set(
                    path,
                    Reply::ok(format!("{tag} {path}")).header("X-Backend", &tag),
                );
            }
            o.set(
                "/api/slow",
                Reply::ok(format!("{tag} slow"))
                    .header("X-Backend", &tag)
                    .delay(Duration::from_millis(3000)),
            );
        }
        let leaf = Pki::get().server(&["shop.example.com"], KeyKind::Ecdsa);
        let seed = read_seed("edge-full.conf");
        let mut last = String::new();
        for _ in 0..3 {
            let dir = temp_dir("seed-edge");
            let ports = free_ports(2);
            let plain = SocketAddr::from(([127, 0, 0, 1], ports[0]));
            let tls = SocketAddr::from(([127, 0, 0, 1], ports[1]));
            let cache = dir.join("cache");
            std::fs::create_dir_all(&cache).unwrap();
            let htpasswd = dir.join("htpasswd");
            let hash = String::from_utf8(openssl(
                &dir,
                &["passwd", "-apr1", "-salt", "edgeSALT", ADMIN_PASS],
            ))
            .unwrap();
            std::fs::write(&htpasswd, format!("{ADMIN_USER}:{}\n", hash.trim())).unwrap();
            let o = |i: usize| origins[i].addr.to_string();
            let text = rewrite_lines(
                &seed,
                &[
                    (11, "/var/cache/ringway", cache.display().to_string()),
                    (16, "127.0.0.1:8000", o(0)),
                    (17, "127.0.0.1:8001", o(1)),
                    (18, "127.0.0.1:8002", o(2)),
                    (23, "listen 80;", format!("listen {plain};")),
                    (29, "listen 443 ssl;", format!("listen {tls} ssl;")),
                    (
                        31,
                        "/etc/ssl/shop.example.com.crt",
                        leaf.cert.display().to_string(),
                    ),
                    (
                        32,
                        "/etc/ssl/shop.example.com.key",
                        leaf.key.display().to_string(),
                    ),
                    (61, "/etc/ringway/htpasswd", htpasswd.display().to_string()),
                ],
            );
            let main = dir.join("edge-full.conf");
            std::fs::write(&main, text).unwrap();
            match Ringway::start_file(dir, main, 1, &[plain, tls]) {
                Ok(rw) => {
                    return Edge {
                        rw,
                        plain,
                        tls,
                        origins,
                    };
                }
                Err(e) => last = e,
            }
        }
        panic!("ringway did not start on edge-full.conf:\n{last}");
    }

    /// curl over TLS with SNI and Host `shop.example.com` (HTTP/1.1); `-i` puts the head first.
    fn https(&self, path: &str, args: &[&str]) -> Answer {
        let mut all = vec!["--http1.1", "-i"];
        all.extend_from_slice(args);
        Answer::of(clients::curl_https(
            self.tls,
            "shop.example.com",
            path,
            &all,
        ))
    }

    /// Requests for `path` that reached any origin.
    fn origin_count(&self, path: &str) -> usize {
        self.origins.iter().map(|o| o.count(path)).sum()
    }

    fn origin_requests(&self, path: &str) -> Vec<Req> {
        self.origins
            .iter()
            .flat_map(|o| o.requests_for(path))
            .collect()
    }
}

/// The seed with, on each given line (1-based), `from` (which must stand there exactly once)
/// replaced by `to`. Every other line is kept as it is; the rewritten lines must be exactly
/// `EDGE_REWRITTEN_LINES`.
fn rewrite_lines(text: &str, edits: &[(usize, &str, String)]) -> String {
    let lines: Vec<usize> = edits.iter().map(|e| e.0).collect();
    assert_eq!(lines, EDGE_REWRITTEN_LINES);
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        match edits.iter().find(|e| e.0 == i + 1) {
            Some((n, from, to)) => {
                assert_eq!(line.matches(from).count(), 1, "line {n}: {line}");
                out.push_str(&line.replace(from, to));
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A curl answer split into status, head fields and body.
struct Answer {
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
    all: String,
}

impl Answer {
    fn of(c: clients::Curl) -> Answer {
        let all = c.out.all();
        let (head, body) = c.body.split_once("\r\n\r\n").unwrap_or((&c.body, ""));
        let fields = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Answer {
            status: c.status,
            fields,
            body: body.as_bytes().to_vec(),
            all,
        }
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[test]
fn seed_edge_full_runs_redirect_cache_api_admin_and_backup() {
    let e = Edge::start();
    let seed = read_seed("edge-full.conf");
    for (i, line) in std::fs::read_to_string(&e.rw.config_path)
        .unwrap()
        .lines()
        .zip(seed.lines())
        .enumerate()
    {
        let (ours, theirs) = line;
        if !EDGE_REWRITTEN_LINES.contains(&(i + 1)) {
            assert_eq!(ours, theirs, "line {} must stay as the seed has it", i + 1);
        }
    }

    // :80 → `return 301 https://$host$request_uri` ($host without the port).
    let host = format!("shop.example.com:{}", e.plain.port());
    let resolve = format!("{host}:127.0.0.1");
    let url = format!("http://{host}/a/b?c=d&e=1");
    let r = Answer::of(clients::curl(&["-i", "--resolve", &resolve, &url]));
    assert_eq!(r.status, 301, "{}", r.all);
    assert_eq!(
        r.field("location"),
        Some("https://shop.example.com/a/b?c=d&e=1"),
        "{}",
        r.all
    );
    assert_eq!(e.origins.iter().map(|o| o.total()).sum::<usize>(), 0);

    // /static/: MISS, then HIT from the cache; the origin answered once; the body is intact.
    let body = static_body();
    let r = e.https("/static/x", &[]);
    assert_eq!(r.status, 200, "{}", r.all);
    assert_eq!(r.field("x-cache-status"), Some("MISS"), "{}", r.all);
    assert_bytes_eq(&r.body, &body, "/static/x (MISS)");
    let r = e.https("/static/x", &[]);
    assert_eq!(r.status, 200, "{}", r.all);
    assert_eq!(r.field("x-cache-status"), Some("HIT"), "{}", r.all);
    assert_bytes_eq(&r.body, &body, "/static/x (HIT)");
    assert_eq!(e.origin_count("/static/x"), 1, "the origin is asked once");

    // /api/: proxied to `web` with the seed's Host, X-Forwarded-For and X-Forwarded-Proto;
    // add_header of /static/ does not apply here.
    let r = e.https(
        "/api/items?page=2",
        &[
            "-H",
            "X-Forwarded-For: 203.0.113.9",
            "-H",
            "X-Forwarded-Proto: http",
        ],
    );
    assert_eq!(r.status, 200, "{}", r.all);
    assert_eq!(r.field("x-cache-status"), None, "{}", r.all);
    let tag = r.field("x-backend").unwrap_or("?").to_string();
    assert!(tag == "8000" || tag == "8001", "{}", r.all);
    let reqs = e.origin_requests("/api/items");
    assert_eq!(reqs.len(), 1);
    let q = &reqs[0];
    assert_eq!(q.target, "/api/items?page=2");
    assert_eq!(
        q.headers_named("x-forwarded-proto"),
        ["https"],
        "{}",
        q.head
    );
    assert_eq!(
        q.headers_named("x-forwarded-for"),
        ["203.0.113.9, 127.0.0.1"],
        "{}",
        q.head
    );
    assert_eq!(q.headers_named("host"), ["shop.example.com"], "{}", q.head);

    // /admin/: allow 127.0.0.1 + auth_basic (satisfy all).
    let r = e.https("/admin/panel", &[]);
    assert_eq!(r.status, 401, "{}", r.all);
    assert_eq!(
        r.field("www-authenticate"),
        Some("Basic realm=\"admin\""),
        "{}",
        r.all
    );
    let wrong = format!("{ADMIN_USER}:not-it");
    let r = e.https("/admin/panel", &["-u", &wrong]);
    assert_eq!(r.status, 401, "{}", r.all);
    assert_eq!(e.origin_count("/admin/panel"), 0);
    let good = format!("{ADMIN_USER}:{ADMIN_PASS}");
    let r = e.https("/admin/panel", &["-u", &good]);
    assert_eq!(r.status, 200, "{}", r.all);
    assert!(r.body.ends_with(b" /admin/panel"), "{}", r.all);
    assert_eq!(e.origin_count("/admin/panel"), 1);
    // From 127.0.0.2 (not allowed; `deny all`): 403 even with the right credentials.
    let r = e.https("/admin/panel", &["--interface", "127.0.0.2", "-u", &good]);
    assert_eq!(r.status, 403, "{}", r.all);
    assert_eq!(e.origin_count("/admin/panel"), 1);

    // client_max_body_size 10m (server level): a declared 10 MiB + 1 body is refused with 413
    // before anything is proxied.
    let r = e.https(
        "/shop/cart",
        &[
            "-X",
            "POST",
            "-H",
            "Content-Length: 10485761",
            "-H",
            "Expect:",
            "--data-binary",
            "",
        ],
    );
    assert_eq!(r.status, 413, "{}", r.all);
    assert_eq!(e.origin_count("/shop/cart"), 0);

    // location / → web, round robin over the two primaries; the backup gets nothing while
    // they are up.
    for _ in 0..6 {
        let r = e.https("/shop/cart", &[]);
        assert_eq!(r.status, 200, "{}", r.all);
    }
    assert!(e.origins[0].count("/shop/cart") > 0 && e.origins[1].count("/shop/cart") > 0);
    assert_eq!(e.origins[2].total(), 0, "the backup server got traffic");

    // Both primaries down: the backup answers.
    let Edge {
        rw, mut origins, ..
    } = e;
    origins[0].kill();
    origins[1].kill();
    let r = Answer::of(clients::curl_https(
        rw.addrs[1],
        "shop.example.com",
        "/",
        &["--http1.1", "-i"],
    ));
    assert_eq!(r.status, 200, "{}", r.all);
    assert_eq!(r.field("x-backend"), Some("8002"), "{}", r.all);
    assert_eq!(origins[2].count("/"), 1);
}

/// Requests a curl URL glob (`path` with `[1-N]`) over TLS to the edge's TLS server, with
/// `extra` curl arguments; returns each answer's status code, in order, and curl's output.
fn curl_codes(e: &Edge, path: &str, extra: &[&str]) -> (Vec<String>, String) {
    let glob = format!("https://shop.example.com:{}{path}", e.tls.port());
    let resolve = format!("shop.example.com:{}:127.0.0.1", e.tls.port());
    let ca = Pki::get().ca.display().to_string();
    let mut args = vec!["-sS", "--http1.1", "--max-time", "7"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "--resolve",
        &resolve,
        "--cacert",
        &ca,
        "-w",
        "\n@@%{http_code}\n",
        &glob,
    ]);
    let out = clients::run(std::process::Command::new("curl").args(&args), b"");
    let codes = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("@@"))
        .map(str::to_string)
        .collect();
    (codes, out.all())
}

#[test]
fn seed_edge_full_limits_on_api() {
    let e = Edge::start();
    // limit_conn conns 20: of 25 requests held open at once (the origin waits 3 s), 20 are
    // proxied and 5 get 503 (limit_conn_status' default).
    let (codes, all) = curl_codes(
        &e,
        "/api/slow?n=[1-25]",
        &["-Z", "--parallel-immediate", "--parallel-max", "25"],
    );
    assert_eq!(codes.len(), 25, "{all}");
    let ok = codes.iter().filter(|c| **c == "200").count();
    let limited = codes.iter().filter(|c| **c == "503").count();
    assert_eq!((ok, limited), (20, 5), "{all}");
    assert_eq!(e.origin_count("/api/slow"), 20);

    // Let limit_req's excess from those 25 drain (20 r/s), then: burst=40 nodelay lets the
    // first 41 of a quick run through and refuses the excess with 503.
    std::thread::sleep(Duration::from_millis(2000));
    let (codes, all) = curl_codes(&e, "/api/burst?n=[1-150]", &[]);
    assert_eq!(codes.len(), 150, "{all}");
    assert!(
        codes.iter().all(|c| *c == "200" || *c == "503"),
        "{codes:?}"
    );
    assert!(codes[..41].iter().all(|c| *c == "200"), "{codes:?}");
    let limited = codes.iter().filter(|c| **c == "503").count();
    assert!(limited > 0, "no request was limited: {codes:?}");
    assert_eq!(e.origin_count("/api/burst"), 150 - limited);
}
