//! HTTP/2 downstream (issue 21), with real clients: curl `--http2` (ALPN) and
//! `--http2-prior-knowledge` (h2c), h2load, and the black-box frame-level suite
//! `tests/h2/suite.py` (Python `h2`: framing, flow control, limits, the attack cases), in front
//! of scripted backends that record what reached them.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use sha1::{Digest, Sha1};

/// A backend for the suite's paths: `/large` (256 KiB), `/post` and `/echo` (the request head
/// as received), anything else a short body.
fn suite_backend() -> Backend {
    Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let path = req.target.clone();
            let ok = if path.starts_with("/bighead") {
                // 20 fields of 1,100 bytes: HEADERS and CONTINUATION frames.
                let values: Vec<(String, String)> = (0..20)
                    .map(|i| (format!("X-Big-{i}"), format!("{i:02}{}", "v".repeat(1098))))
                    .collect();
                let fields: Vec<(&str, &str)> = values
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                c.respond_with(200, &fields, b"big head\n")
            } else if path.starts_with("/large") {
                c.respond_with(200, &[("Content-Type", "text/plain")], &pattern(256 * 1024))
            } else if path.starts_with("/nocontent") {
                c.respond(204, b"")
            } else if path.starts_with("/notmodified") {
                c.respond_with(304, &[("ETag", "\"v1\"")], b"")
            } else if path.starts_with("/post") || path.starts_with("/echo") {
                c.respond_with(
                    200,
                    &[("X-Body-Len", &req.body.len().to_string())],
                    req.head.as_bytes(),
                )
            } else {
                c.respond(200, b"hello over h2\n")
            };
            if !ok {
                return;
            }
        }
    })
}

/// One server on a plain address (h2c and HTTP/1.1) and one on a TLS address, both `http2 on`,
/// proxying to `backend`; `extra` goes into the server block.
fn h2_conf(backend: SocketAddr, extra: &str) -> String {
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    format!(
        "http {{
    log_format h2 '$request $status $body_bytes_sent $sent_http_x_rule';
    upstream be {{ server {backend}; keepalive 32; }}
    server {{
        listen {LISTEN};
        listen @LISTEN2@ ssl;
        server_name localhost;
        http2 on;
        {certs}
        access_log @DIR@/access.log h2;
        {extra}
        location / {{
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            add_header X-Rule applied;
        }}
        location = /here {{ return 200 \"answered here\\n\"; }}
    }}
}}",
        certs = leaf.directives()
    )
}

fn start(conf: &str) -> Ringway {
    let dir = temp_dir("h2");
    let conf = conf.replace("@DIR@", dir.to_str().unwrap());
    Ringway::start(&conf)
}

fn access_log(rw: &Ringway) -> String {
    let conf = std::fs::read_to_string(&rw.config_path).unwrap();
    let path = conf
        .split("access_log ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap();
    std::fs::read_to_string(path).unwrap_or_default()
}

/// curl ARGS URL: (status, HTTP version, body).
fn curl_version(args: &[&str], url: &str) -> (u16, String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            "-w",
            "\n%{http_version} %{http_code}",
        ])
        .args(["--cacert", Pki::get().ca.to_str().unwrap()])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, tail) = text.rsplit_once('\n').unwrap_or(("", ""));
    let (version, code) = tail.split_once(' ').unwrap_or(("", ""));
    (
        code.trim().parse().unwrap_or(0),
        version.to_string(),
        body.to_string(),
    )
}

/// curl on the plain address: `--http2-prior-knowledge` (h2c) or `--http1.1`.
fn curl_plain(addr: SocketAddr, path: &str, arg: &str) -> (u16, String, String) {
    curl_plain_args(addr, path, &[arg])
}

/// curl ARGS on the plain address.
fn curl_plain_args(addr: SocketAddr, path: &str, args: &[&str]) -> (u16, String, String) {
    curl_version(args, &format!("http://{addr}{path}"))
}

/// curl over TLS to `localhost` at `addr`.
fn curl_tls(addr: SocketAddr, path: &str, args: &[&str]) -> (u16, String, String) {
    let resolve = format!("localhost:{}:127.0.0.1", addr.port());
    let mut all = vec!["--resolve", &resolve];
    all.extend_from_slice(args);
    curl_version(&all, &format!("https://localhost:{}{path}", addr.port()))
}

#[test]
fn h2c_and_http11_share_a_plain_port_and_both_are_logged() {
    let be = suite_backend();
    let rw = start(&h2_conf(be.addr, ""));
    let h2c = "--http2-prior-knowledge";
    let r = curl_plain(rw.addr, "/here", h2c);
    assert_eq!(r, (200, "2".into(), "answered here\n".into()));
    let r = curl_plain(rw.addr, "/p?q=1", "--http1.1");
    assert_eq!(r, (200, "1.1".into(), "hello over h2\n".into()));
    let r = curl_plain(rw.addr, "/p?q=2", h2c);
    assert_eq!(r, (200, "2".into(), "hello over h2\n".into()));
    let reached = be.requests();
    assert_eq!(reached.len(), 2, "{reached:?}");
    // Upstream, an HTTP/2 stream is an HTTP/1.1 request like any other.
    assert!(
        reached[1].head.starts_with("GET /p?q=2 HTTP/1.1\r\n"),
        "{}",
        reached[1].head
    );
    // A field the response phase wrote (add_header) is logged whichever form the head took:
    // HTTP/1.1 text, or HTTP/2's own for a stream.
    let want = [
        "GET /here HTTP/2.0 200 14 -",
        "GET /p?q=1 HTTP/1.1 200 14 applied",
        "GET /p?q=2 HTTP/2.0 200 14 applied",
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut log = access_log(&rw);
    while !want.iter().all(|w| log.contains(w)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        log = access_log(&rw);
    }
    for w in want {
        assert!(log.contains(w), "{w:?} not in the access log:\n{log}");
    }
}

#[test]
fn alpn_offers_h2_where_http2_is_on_and_http11_elsewhere() {
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let conf = format!(
        "http {{
    server {{ listen {LISTEN} ssl; server_name localhost; http2 on; {c}
        location / {{ return 200 \"$server_port\"; }} }}
    server {{ listen @LISTEN2@ ssl; server_name localhost; {c}
        location / {{ return 200 \"$server_port\"; }} }}
    server {{ listen @LISTEN3@ ssl http2; server_name localhost; {c}
        location / {{ return 200 \"$server_port\"; }} }}
}}",
        c = leaf.directives()
    );
    let rw = Ringway::start(&conf);
    let version = |addr: SocketAddr| {
        let (status, version, body) = curl_tls(addr, "/", &["--http2"]);
        assert_eq!((status, body), (200, addr.port().to_string()));
        version
    };
    assert_eq!(version(rw.addrs[0]), "2", "http2 on");
    assert_eq!(
        version(rw.addrs[1]),
        "1.1",
        "no http2: ALPN offers http/1.1 only"
    );
    assert_eq!(
        version(rw.addrs[2]),
        "2",
        "listen … http2 (nginx before 1.25)"
    );
    // A client that offers only http/1.1 keeps it where h2 is on.
    assert_eq!(curl_tls(rw.addrs[0], "/", &["--http1.1"]).1, "1.1");
}

#[test]
fn streams_go_through_the_same_phases_bodies_and_rules() {
    let be = suite_backend();
    let rw = start(&h2_conf(be.addr, "gzip on; gzip_types text/plain;"));
    let tls = rw.addrs[1];
    // A request body streamed with flow control, and the header rules of the location.
    let body = pattern(300_000);
    let file = temp_dir("h2body");
    let path = file.join("body");
    std::fs::write(&path, &body).unwrap();
    let at = format!("@{}", path.display());
    let (status, version, head) = curl_tls(
        tls,
        "/post",
        &[
            "--http2",
            "--data-binary",
            &at,
            "-D",
            "-",
            "-o",
            "/dev/null",
        ],
    );
    assert_eq!((status, &*version), (200, "2"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/2 200"), "{head}");
    assert!(head.contains("x-body-len: 300000"), "{head}");
    assert!(head.contains("x-rule: applied"), "{head}");
    let reached = be.requests();
    let post = reached.last().unwrap();
    assert_eq!(post.body, body, "the upstream got the request body intact");
    assert_eq!(
        post.header("host"),
        Some(&*format!("localhost:{}", tls.port()))
    );
    // A large body, compressed on the way (gzip), decompressed here.
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "--http2",
            "-H",
            "Accept-Encoding: gzip",
            "-D",
            "-",
        ])
        .args(["--cacert", Pki::get().ca.to_str().unwrap()])
        .arg("--resolve")
        .arg(format!("localhost:{}:127.0.0.1", tls.port()))
        .arg(format!("https://localhost:{}/large", tls.port()))
        .output()
        .unwrap();
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout[..split]).to_ascii_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&out.stdout[split + 4..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_bytes_eq(&plain, &pattern(256 * 1024), "gunzipped /large over HTTP/2");
    // HEAD: the length, no body.
    let (status, _, head) = curl_tls(tls, "/large", &["--http2", "-I"]);
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase().contains("content-length: 262144"),
        "{head}"
    );
}

/// A response head larger than one frame goes out as HEADERS and CONTINUATION frames, every
/// field intact and lowercased (ringway's own HPACK, `http::hpack`).
#[test]
fn a_response_head_larger_than_a_frame_reaches_the_client_whole() {
    let be = suite_backend();
    let rw = start(&h2_conf(be.addr, ""));
    for (addr, args) in [
        (rw.addrs[0], "--http2-prior-knowledge"),
        (rw.addrs[1], "--http2"),
    ] {
        let (status, version, head) = if args == "--http2" {
            curl_tls(addr, "/bighead", &[args, "-D", "-", "-o", "/dev/null"])
        } else {
            curl_plain(addr, "/bighead", args)
        };
        assert_eq!((status, &*version), (200, "2"), "{head}");
        if args == "--http2" {
            for i in 0..20 {
                let want = format!("x-big-{i}: {i:02}{}\r\n", "v".repeat(1098));
                assert!(
                    head.contains(&want),
                    "x-big-{i} missing or changed:\n{head}"
                );
            }
            assert!(head.contains("x-rule: applied\r\n"), "{head}");
        }
    }
}

#[test]
fn h2load_streams_all_answered_over_both_transports() {
    let be = suite_backend();
    let rw = start(&h2_conf(be.addr, "keepalive_requests 100000;"));
    for url in [
        format!("http://{}/small", rw.addrs[0]),
        format!("https://{}/small", rw.addrs[1]),
    ] {
        let out = Command::new("h2load")
            .args(["-n", "2000", "-c", "4", "-m", "10", &url])
            .output()
            .expect("h2load (nghttp2-client)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("2000 succeeded, 0 failed, 0 errored"),
            "{url}: {text}"
        );
        assert!(text.contains("status codes: 2000 2xx"), "{url}: {text}");
    }
    assert_eq!(be.requests().len(), 4000);
}

#[test]
fn keepalive_requests_ends_the_connection_with_goaway() {
    let be = suite_backend();
    let rw = start(&h2_conf(be.addr, "keepalive_requests 5;"));
    let url = format!("http://{}/here", rw.addrs[0]);
    let out = Command::new("h2load")
        .args(["-n", "8", "-c", "1", "-m", "1", &url])
        .output()
        .expect("h2load");
    let text = String::from_utf8_lossy(&out.stdout);
    // h2load does not reconnect after a GOAWAY: the five allowed streams are answered.
    assert!(text.contains("5 succeeded"), "{text}");
}

/// The Python `h2` suite's interpreter: the venv `.ci/run` makes, or a `python3` with `h2`;
/// None when neither has it (`RINGWAY_H2_SUITE=require`, set by CI, makes that a failure).
fn suite_python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ci-h2/bin/python3");
    let found = [venv, PathBuf::from("python3")].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import h2"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var("RINGWAY_H2_SUITE").as_deref() != Ok("require"),
            "RINGWAY_H2_SUITE=require but no python3 has h2 (see .ci/run)"
        );
        eprintln!("SKIPPED: no python3 with h2 (python3 -m venv target/ci-h2; pip install h2)");
    }
    found
}

fn suite(python: &PathBuf, rw: &Ringway, addr: SocketAddr, args: &[&str]) -> String {
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/h2/suite.py");
    let out = Command::new(python)
        .arg(suite)
        .args(["127.0.0.1", &addr.port().to_string(), "-v"])
        .args(["--pid", &rw.pid().to_string(), "--echo", "/echo"])
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "suite.py {args:?} failed:\n{text}");
    text
}

#[test]
fn frame_level_suite_passes_over_h2c_and_tls() {
    let Some(python) = suite_python() else {
        return;
    };
    let be = suite_backend();
    let mut rw = start(&h2_conf(be.addr, ""));
    let text = suite(&python, &rw, rw.addrs[0], &[]);
    assert!(text.contains("11 passed, 0 failed"), "{text}");
    suite(&python, &rw, rw.addrs[1], &["--tls"]);
    assert!(rw.is_running(), "ringway exited during the suite");
    // Rapid reset: streams opened and cancelled at once cost (almost) no upstream request.
    let before = be.requests().len();
    let text = suite(&python, &rw, rw.addrs[0], &["--case", "rapid_reset"]);
    let reached = be.requests().len() - before;
    assert!(
        reached < 300,
        "{reached} of 2000 reset streams reached the upstream:\n{text}"
    );
    assert!(text.contains("ENHANCE_YOUR_CALM"), "{text}");
}

#[test]
fn access_rules_limits_rewrites_and_the_cache_apply_to_streams() {
    let be = suite_backend();
    let dir = temp_dir("h2cache");
    let extra = "location /cached { proxy_pass http://be; proxy_cache c; proxy_cache_valid 200 1m;
            add_header X-Cache $upstream_cache_status; }
        location /denied { deny all; proxy_pass http://be; }
        location /old { rewrite ^/old/(.*)$ /new/$1 permanent; }
        location /limited { limit_req zone=one nodelay; proxy_pass http://be; }";
    let conf = h2_conf(be.addr, extra).replace(
        "http {\n",
        &format!(
            "http {{\n    proxy_cache_path {} levels=1:2 keys_zone=c:1m;\n    \
             limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;\n",
            dir.display()
        ),
    );
    let rw = start(&conf);
    let tls = rw.addrs[1];
    let head = |path: &str| {
        let (status, version, head) =
            curl_tls(tls, path, &["--http2", "-D", "-", "-o", "/dev/null"]);
        assert_eq!(version, "2", "{path}: {head}");
        (status, head.to_ascii_lowercase())
    };
    let (s1, h1) = head("/cached/a");
    let (s2, h2) = head("/cached/a");
    assert_eq!((s1, s2), (200, 200));
    assert!(h1.contains("x-cache: miss"), "{h1}");
    assert!(h2.contains("x-cache: hit"), "{h2}");
    let cached = be
        .requests()
        .iter()
        .filter(|r| r.target == "/cached/a")
        .count();
    assert_eq!(cached, 1, "the HIT was served from the cache");
    assert_eq!(head("/denied").0, 403);
    let (status, h) = head("/old/x?y");
    assert_eq!(status, 301);
    assert!(
        h.contains(&format!(
            "location: https://localhost:{}/new/x?y",
            tls.port()
        )),
        "{h}"
    );
    assert_eq!(head("/limited").0, 200);
    assert_eq!(
        head("/limited").0,
        503,
        "limit_req refuses the second stream"
    );
}

/// Heads with no body after them (a HEAD's answer, 204, 304) end their streams with the
/// HEADERS frame, over h2c and TLS, and keep the fields that describe the representation.
#[test]
fn head_204_and_304_answers_end_their_streams_with_their_heads() {
    let be = suite_backend();
    let mut rw = start(&h2_conf(be.addr, ""));
    for tls in [false, true] {
        let run = |path: &str, args: &[&str]| {
            let mut all = vec!["-D", "-", "-o", "/dev/null"];
            all.extend_from_slice(args);
            if tls {
                all.push("--http2");
                curl_tls(rw.addrs[1], path, &all)
            } else {
                all.push("--http2-prior-knowledge");
                curl_plain_args(rw.addrs[0], path, &all)
            }
        };
        let (status, version, head) = run("/p", &["-I"]);
        let head = head.to_ascii_lowercase();
        assert_eq!((status, version.as_str()), (200, "2"), "tls {tls}: {head}");
        // A HEAD's answer states the length the GET's body would have.
        assert!(head.contains("content-length: 14\r\n"), "tls {tls}: {head}");
        assert!(head.contains("x-rule: applied"), "tls {tls}: {head}");
        let (status, _, head) = run("/nocontent", &[]);
        assert_eq!(status, 204, "tls {tls}: {head}");
        assert!(
            !head.to_ascii_lowercase().contains("content-length"),
            "{head}"
        );
        let (status, _, head) = run("/notmodified", &[]);
        assert_eq!(status, 304, "tls {tls}: {head}");
        assert!(head.contains("etag: \"v1\""), "tls {tls}: {head}");
    }
    assert!(rw.is_running());
}

/// A compressed response over HTTP/2, proxied and then cached: on the fly (no length), then
/// from its stored variant, whose head gets the variant's Content-Length on its way out (the
/// head in HTTP/2's form, `http::h2_head::set_length`).
#[test]
fn a_compressed_cache_variant_goes_out_with_its_length_over_http2() {
    use std::io::Write;
    let be = suite_backend();
    let dir = temp_dir("h2variant");
    let extra = "location /large { proxy_pass http://be; proxy_cache c; proxy_cache_valid 200 1m;
            gzip on; gzip_types text/plain; add_header X-Cache $upstream_cache_status; }";
    let conf = h2_conf(be.addr, extra).replace(
        "http {\n",
        &format!(
            "http {{\n    proxy_cache_path {} levels=1:2 keys_zone=c:1m;\n",
            dir.display()
        ),
    );
    let rw = start(&conf);
    let out = temp_dir("h2variant-out");
    let body_file = out.join("body");
    let get = || {
        let (status, version, head) = curl_tls(
            rw.addrs[1],
            "/large",
            &[
                "--http2",
                "-H",
                "Accept-Encoding: gzip",
                "-D",
                "-",
                "-o",
                body_file.to_str().unwrap(),
            ],
        );
        assert_eq!((status, version.as_str()), (200, "2"), "{head}");
        let body = std::fs::read(&body_file).unwrap();
        let mut d = flate2::write::GzDecoder::new(Vec::new());
        d.write_all(&body).unwrap();
        assert_eq!(d.finish().unwrap(), pattern(256 * 1024), "{head}");
        let head = head.to_ascii_lowercase();
        assert!(head.contains("content-encoding: gzip"), "{head}");
        (head, body.len())
    };
    let (miss, _) = get();
    assert!(miss.contains("x-cache: miss"), "{miss}");
    // The first HITs compress the entry and store the variant; a later one sends it as stored.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (hit, len) = get();
        assert!(hit.contains("x-cache: hit"), "{hit}");
        if hit.contains(&format!("content-length: {len}\r\n")) {
            break;
        }
        assert!(!hit.contains("content-length"), "a wrong length: {hit}");
        assert!(
            std::time::Instant::now() < deadline,
            "no stored variant: {hit}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads HTTP/2 frames from `s` until one of type `kind` comes (true) or the stream ends.
fn frame_seen(s: &mut std::net::TcpStream, kind: u8) -> bool {
    let mut head = [0u8; 9];
    loop {
        if s.read_exact(&mut head).is_err() {
            return false;
        }
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        if s.read_exact(&mut payload).is_err() {
            return false;
        }
        if head[3] == kind {
            return true;
        }
    }
}

/// A client that errs and keeps sending: ringway's GOAWAY must still reach it, and the
/// connection must not be reset under its writes. Closing at once with the client's bytes
/// unread would make the kernel answer them with a reset: the client's next write fails, and
/// a client that gives up on a failed write (many do) never reads the GOAWAY. ringway keeps
/// reading (and discarding) a while after its GOAWAY and FIN, as nginx's lingering close does.
#[test]
fn a_client_that_keeps_sending_after_an_error_is_not_reset_and_gets_the_goaway() {
    use std::io::Write;
    let be = suite_backend();
    let rw = start(&h2_conf(be.addr, ""));
    for round in 0..3 {
        let mut s = std::net::TcpStream::connect(rw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .unwrap();
        // A PING whose length is not 8 (a connection error), and right behind it 512 KiB more
        // (well-formed PINGs) that ringway no longer takes as frames, all written before
        // reading anything: ringway sees the error with most of it unread. Then 64 KiB more.
        let mut bytes = b"\x00\x00\x07\x06\x00\x00\x00\x00\x00abcdefg".to_vec();
        let ping = b"\x00\x00\x08\x06\x00\x00\x00\x00\x0012345678";
        bytes.extend(ping.iter().copied().cycle().take(512 * 1024 / 17 * 17));
        s.write_all(&bytes).unwrap();
        // Time for the GOAWAY and the close; then the client goes on sending.
        std::thread::sleep(Duration::from_millis(200));
        let written = s.write_all(&bytes[16..64 * 1024 / 17 * 17 + 16]);
        assert!(
            written.is_ok(),
            "round {round}: the connection was reset under the client's writes: {written:?}"
        );
        assert!(frame_seen(&mut s, 0x7), "round {round}: no GOAWAY");
    }
}

#[test]
fn a_graceful_stop_sends_goaway_and_closes_idle_http2_connections() {
    let be = suite_backend();
    let mut rw = start(&h2_conf(be.addr, ""));
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut s = std::net::TcpStream::connect(rw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        use std::io::Write;
        s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .unwrap();
        assert!(frame_seen(&mut s, 0x4), "the server's SETTINGS");
        idle.push(s);
    }
    let began = std::time::Instant::now();
    rw.signal(libc::SIGQUIT);
    for s in &mut idle {
        assert!(frame_seen(s, 0x7), "GOAWAY on an idle connection");
    }
    // The connections close without the client's help (it never answers h2's PING).
    assert!(
        rw.wait_exit(Duration::from_secs(10)).is_some(),
        "ringway did not exit with idle HTTP/2 connections open"
    );
    assert!(began.elapsed() < Duration::from_secs(10));
}

#[test]
fn streams_keep_flowing_through_reloads() {
    let be = suite_backend();
    let rw = start(&h2_conf(be.addr, "keepalive_requests 100000;"));
    let url = format!("https://{}/small", rw.addrs[1]);
    let load = std::thread::spawn(move || {
        Command::new("h2load")
            .args(["-n", "6000", "-c", "4", "-m", "10", &url])
            .output()
            .expect("h2load")
    });
    // Two reloads while the connections stream (the same config: new generations).
    let conf = std::fs::read_to_string(&rw.config_path).unwrap();
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(150));
        rw.reload_with(&conf, &[]);
    }
    let out = load.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("6000 succeeded, 0 failed, 0 errored"),
        "{text}"
    );
}

/// `tests/h2/websocket.py`'s upstream: WebSocket handshakes over HTTP/1.1, checked as a
/// WebSocket server would check them (see the script's docstring for the paths).
fn ws_backend() -> Backend {
    Backend::start(|c| {
        let Some(req) = c.read_request() else { return };
        let path = req.target.clone();
        if path == "/page" {
            c.respond_with(200, &[("Content-Type", "text/html")], WS_PAGE.as_bytes());
            return;
        }
        if path == "/after-echo.js" {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !BROWSER_ECHOED.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            // Time for the echo's frame to reach the page before the script ends its load.
            std::thread::sleep(Duration::from_millis(100));
            c.respond_with(200, &[("Content-Type", "text/javascript")], b"// echoed\n");
            return;
        }
        if !path.starts_with("/ws/") {
            c.respond(200, b"plain\n");
            return;
        }
        let key = req
            .header("sec-websocket-key")
            .unwrap_or_default()
            .to_string();
        let handshake_ok = req
            .header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
            && req
                .joined("connection")
                .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"))
            && B64.decode(&key).is_ok_and(|k| k.len() == 16)
            && req.header("sec-websocket-version") == Some("13");
        if !handshake_ok {
            c.respond(400, b"not a WebSocket handshake\n");
            return;
        }
        let accept = |k: &str| B64.encode(Sha1::digest(format!("{k}{WS_GUID}")));
        let switch = |accept: String, extra: &str| {
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
            )
        };
        match path.as_str() {
            "/ws/echo" => {
                let head = switch(accept(&key), "Sec-WebSocket-Protocol: chat\r\n");
                if !c.write(format!("{head}HELLO").as_bytes()) {
                    return;
                }
                while let Some(bytes) = c.read_some(Duration::from_secs(5)) {
                    if !c.write(&bytes) {
                        return;
                    }
                }
            }
            "/ws/browser" => {
                if c.write(switch(accept(&key), "").as_bytes()) {
                    echo_ws_messages(c, || BROWSER_ECHOED.store(true, Ordering::SeqCst));
                }
            }
            "/ws/hold" => {
                if c.write(switch(accept(&key), "").as_bytes())
                    && c.wait_eof(Duration::from_secs(10))
                {
                    HOLDS_CLOSED.fetch_add(1, Ordering::SeqCst);
                }
            }
            "/ws/bye" => {
                let _ = c.write(format!("{}BYE", switch(accept(&key), "")).as_bytes());
            }
            "/ws/deny" => {
                c.respond(403, b"no\n");
            }
            "/ws/plain" => {
                c.respond(200, b"not upgraded\n");
            }
            _ => {
                let _ = c.write(switch(accept("another key"), "").as_bytes());
                let _ = c.read_some(Duration::from_secs(2));
            }
        }
    })
}

const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `/ws/hold` tunnels whose upstream connection ringway closed (after the client's reset).
static HOLDS_CLOSED: AtomicUsize = AtomicUsize::new(0);

/// A page whose script opens a WebSocket to its own origin, sends "ping" and shows the answer.
/// The page opens its WebSocket, then loads a script the backend holds until it has echoed the
/// page's message (`/after-echo.js`). Chromium's virtual time (`--virtual-time-budget`) does not
/// wait for a WebSocket, only for pending fetches: without the held script the DOM could be
/// dumped before the echo arrived (about one run in four on a loaded machine).
const WS_PAGE: &str = "<html><body>waiting<script>
const ws = new WebSocket('wss://' + location.host + '/ws/browser');
ws.onopen = () => ws.send('ping');
ws.onmessage = (e) => { document.body.textContent = 'GOT ' + e.data; ws.close(); };
ws.onerror = () => { document.body.textContent = 'ERROR'; };
</script><script src=\"/after-echo.js\"></script></body></html>";

/// Set once the backend has echoed the browser's WebSocket message.
static BROWSER_ECHOED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Answers each WebSocket text message (short, masked, as a browser sends) with "echo:" and
/// the message, until a close frame or the end of the connection; `echoed` after each answer.
fn echo_ws_messages(c: &mut Conn, echoed: impl Fn()) {
    let mut buf = Vec::new();
    loop {
        // A client frame: FIN+opcode, MASK+length (< 126 here), the 4-byte mask, the payload.
        if buf.len() >= 2 && buf.len() >= 6 + usize::from(buf[1] & 0x7f) {
            let (op, len) = (buf[0] & 0x0f, usize::from(buf[1] & 0x7f));
            let payload: Vec<u8> = (0..len).map(|i| buf[6 + i] ^ buf[2 + i % 4]).collect();
            buf.drain(..6 + len);
            if op == 8 {
                let _ = c.write(&[0x88, 0]);
                return;
            }
            let mut out = b"echo:".to_vec();
            out.extend_from_slice(&payload);
            let mut frame = vec![0x81, out.len() as u8];
            frame.extend_from_slice(&out);
            if !c.write(&frame) {
                return;
            }
            echoed();
            continue;
        }
        match c.read_some(Duration::from_secs(5)) {
            Some(more) => buf.extend_from_slice(&more),
            None => return,
        }
    }
}

/// Chromium speaks WebSocket over the page's own HTTP/2 connection when the server's SETTINGS
/// allow it: the access log shows the upgrade as an HTTP/2 request.
#[test]
fn a_browser_opens_its_websocket_over_http2() {
    let Some(browser) = chromium() else { return };
    let be = ws_backend();
    let rw = start(&h2_conf(be.addr, ""));
    let url = format!("https://localhost:{}/page", rw.addrs[1].port());
    let profile = temp_dir("chromium");
    let out = Command::new("timeout")
        .args([
            "60",
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args([
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--ignore-certificate-errors",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=10000", "--dump-dom", &url])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("GOT echo:ping"),
        "{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = access_log(&rw);
    assert!(log.contains("GET /ws/browser HTTP/2.0 101"), "{log}");
}

#[test]
fn websocket_over_http2_relays_both_ways_over_h2c_and_tls() {
    let Some(python) = suite_python() else {
        return;
    };
    let be = ws_backend();
    // The usual WebSocket location of an nginx config: it must not keep the upgrade from
    // reaching the upstream.
    let mut rw = start(&h2_conf(
        be.addr,
        "location /ws/ { proxy_pass http://be; proxy_http_version 1.1;
             proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection upgrade; }",
    ));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/h2/websocket.py");
    for (addr, tls) in [(rw.addrs[0], false), (rw.addrs[1], true)] {
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .args(["127.0.0.1", &addr.port().to_string(), "-v"]);
        if tls {
            cmd.arg("--tls");
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "websocket.py (tls: {tls}) failed:\n{text}"
        );
        assert_eq!(text.matches("\nok ").count() + 1, 8, "{text}");
    }
    // Upstream, each tunnel began as an HTTP/1.1 upgrade with a key ringway made up.
    let reached = be.requests();
    let echo: Vec<_> = reached.iter().filter(|r| r.target == "/ws/echo").collect();
    assert_eq!(echo.len(), 2, "{reached:?}");
    let keys: Vec<_> = echo
        .iter()
        .map(|r| r.header("sec-websocket-key").unwrap_or_default())
        .collect();
    assert_ne!(keys[0], keys[1], "a key per stream");
    assert!(
        echo[0].head.starts_with("GET /ws/echo HTTP/1.1\r\n"),
        "{}",
        echo[0].head
    );
    // The access log says what the upstream answered.
    let log = access_log(&rw);
    assert!(log.contains("GET /ws/echo HTTP/2.0 101"), "{log}");
    // A client's RST_STREAM closed its tunnel's upstream connection, on both transports.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while HOLDS_CLOSED.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(HOLDS_CLOSED.load(Ordering::SeqCst), 2);
    assert!(rw.is_running());
    // A tunnel that carries nothing for proxy_read_timeout ends, its upstream side too.
    let quiet = start(&h2_conf(
        be.addr,
        "location /ws/ { proxy_pass http://be; proxy_read_timeout 1s; }",
    ));
    let out = Command::new(&python)
        .arg(&script)
        .args([
            "127.0.0.1",
            &quiet.addrs[0].port().to_string(),
            "--case",
            "quiet",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "websocket.py quiet failed:\n{text}");
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while HOLDS_CLOSED.load(Ordering::SeqCst) < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(HOLDS_CLOSED.load(Ordering::SeqCst), 3);
}
