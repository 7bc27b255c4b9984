//! Answers ringway makes itself: `return CODE "text"`, 404 for unmatched requests, location
//! matching between exact and prefix locations.

mod common;

use common::*;

fn conf(backend: &Backend) -> String {
    format!(
        "http {{\n    server {{\n        listen {LISTEN};\n        location = /health {{ return 200 \"ok\"; }}\n        location = /gone {{ return 410; }}\n        location = /teapot {{ return 418 \"short and stout\"; }}\n        location = /moved {{ return 301 http://example.com/new; }}\n        location = /nothing {{ return 204; }}\n        location /api/ {{ proxy_pass http://{}; }}\n    }}\n}}\n",
        backend.addr
    )
}

#[test]
fn return_200_text() {
    let b = echo_backend();
    let rw = Ringway::start(&conf(&b));
    let (mut c, r) = exchange(rw.addr, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"ok");
    assert_eq!(r.header("content-length"), Some("2"), "{}", r.head);
    assert!(r.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", r.head);
    // Keep-alive works on built-in answers.
    c.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_response().body, b"ok");
    b.assert_untouched("return 200");
}

#[test]
fn return_with_query_string_and_head() {
    let b = echo_backend();
    let rw = Ringway::start(&conf(&b));
    let (_c, r) = exchange(
        rw.addr,
        b"GET /health?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(
        r.body, b"ok",
        "the query string is not part of the location match"
    );
    let mut c = rw.connect();
    c.send(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_head_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("2"));
    c.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.body,
        b"ok",
        "a HEAD answer must carry no body: {}",
        r.describe()
    );
}

#[test]
fn other_return_codes() {
    let b = echo_backend();
    let rw = Ringway::start(&conf(&b));
    let r = rw.get("/gone");
    assert_eq!(r.status, 410);
    let r = rw.get("/teapot");
    assert_eq!(r.status, 418);
    assert_eq!(r.body, b"short and stout");
    let r = rw.get("/moved");
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("http://example.com/new"),
        "{}",
        r.head
    );
    let mut c = rw.connect();
    c.send(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 204);
    assert!(
        !r.has("content-length") && !r.has("transfer-encoding"),
        "{}",
        r.head
    );
    assert_eq!(c.read_response().body, b"ok");
    b.assert_untouched("return codes");
}

#[test]
fn unmatched_gets_404() {
    let b = echo_backend();
    let rw = Ringway::start(&conf(&b));
    // (`/api` itself is not here: nginx answers it 301 to `/api/`, the proxied prefix.)
    for path in ["/", "/other", "/health/extra", "/healthz", "/apix"] {
        let (mut c, r) = exchange(
            rw.addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 404, "{path}: {}", r.describe());
        assert_closed_or_reusable(&mut c, &r, 404);
    }
    b.assert_untouched("404");
}

#[test]
fn prefix_location_proxies() {
    let b = echo_backend();
    let rw = Ringway::start(&conf(&b));
    let r = rw.get("/api/v1/x");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(b.requests()[0].target, "/api/v1/x");
}

#[test]
fn exact_match_beats_prefix() {
    let b = echo_backend();
    let conf = format!(
        "http {{\n server {{\n listen {LISTEN};\n location = / {{ return 200 \"root\"; }}\n location / {{ proxy_pass http://{}; }}\n }}\n}}\n",
        b.addr
    );
    let rw = Ringway::start(&conf);
    assert_eq!(rw.get("/").body, b"root");
    assert_eq!(rw.get("/x").status, 200);
    assert_eq!(b.request_count(), 1);
    assert_eq!(b.requests()[0].target, "/x");
}

#[test]
fn longest_prefix_wins() {
    let conf = format!(
        "http {{\n server {{\n listen {LISTEN};\n location / {{ return 200 \"short\"; }}\n location /a/b/ {{ return 200 \"long\"; }}\n location /a/ {{ return 200 \"mid\"; }}\n }}\n}}\n"
    );
    let rw = Ringway::start(&conf);
    assert_eq!(rw.get("/a/b/c").body, b"long");
    assert_eq!(rw.get("/a/x").body, b"mid");
    assert_eq!(rw.get("/zzz").body, b"short");
}

#[test]
fn server_name_selects_server() {
    let conf = format!(
        "http {{\n server {{\n listen {LISTEN};\n server_name one.test;\n location / {{ return 200 \"one\"; }}\n }}\n server {{\n listen {LISTEN};\n server_name two.test;\n location / {{ return 200 \"two\"; }}\n }}\n}}\n"
    );
    let rw = Ringway::start(&conf);
    let (_c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: two.test\r\n\r\n");
    assert_eq!(r.body, b"two");
    let (_c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: ONE.test:80\r\n\r\n");
    assert_eq!(r.body, b"one");
    // Unknown names go to the first (default) server.
    let (_c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: three.test\r\n\r\n");
    assert_eq!(r.body, b"one");
}

#[test]
fn return_with_body_in_request_keeps_connection_in_sync() {
    let b = echo_backend();
    let rw = Ringway::start(&conf(&b));
    let mut c = rw.connect();
    c.send(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.body, b"ok");
    if r.says_close() {
        assert!(c.is_closed());
    } else {
        let r2 = c.read_response();
        assert_eq!(r2.body, b"ok", "{}", r2.describe());
    }
}

#[test]
fn return_with_chunked_body_in_request() {
    let b = echo_backend();
    let rw = Ringway::start(&conf(&b));
    let mut c = rw.connect();
    c.send(b"POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.body, b"ok");
    assert_closed_or_reusable(&mut c, &r, 404);
}
