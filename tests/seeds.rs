//! The seed configs (`tests/seed-configs`), run as they are apart from addresses: each
//! is copied into a temporary folder with `listen 80` pointed at a free loopback port, the
//! backend addresses pointed at real test backends and `pid` at a temporary file. Checks which
//! backend each request reaches, with which target and which forwarded fields.

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
