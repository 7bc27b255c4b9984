//! Client-side connection management: keep-alive defaults, Connection: close, HTTP/1.0,
//! pipelining in order, keepalive_timeout.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Echoes the request target as the body; `/slow…` targets take 300 ms.
fn path_backend() -> Backend {
    Backend::start(|c| {
        while let Some(req) = c.read_request() {
            if req.target.starts_with("/slow") {
                thread::sleep(Duration::from_millis(300));
            }
            let body = format!("{} {} {}", req.method, req.target, req.body.len());
            if !c.respond(200, body.as_bytes()) {
                return;
            }
        }
    })
}

#[test]
fn http11_keeps_alive_by_default() {
    let b = path_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    for i in 0..5 {
        c.send(format!("GET /k{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), format!("GET /k{i} 0"));
        assert!(!r.says_close(), "{}", r.head);
    }
    assert!(
        !c.closed_within(Duration::from_millis(300)),
        "idle keep-alive connection closed early"
    );
}

#[test]
fn connection_close_is_honoured() {
    let b = path_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.body_str(), "GET /bye 0");
    assert!(
        r.says_close(),
        "the response should say Connection: close: {}",
        r.head
    );
    assert!(
        c.is_closed(),
        "connection stayed open after Connection: close"
    );
}

#[test]
fn http10_closes_by_default() {
    let b = path_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"GET /old HTTP/1.0\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "GET /old 0");
    assert!(!r.says_keep_alive(), "{}", r.head);
    assert!(
        c.is_closed(),
        "HTTP/1.0 connection without keep-alive stayed open"
    );
}

#[test]
fn http10_keep_alive() {
    let b = path_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    for i in 0..3 {
        c.send(
            format!("GET /ka{i} HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n").as_bytes(),
        );
        let r = c.read_response();
        assert_eq!(r.body_str(), format!("GET /ka{i} 0"));
        assert!(
            r.says_keep_alive(),
            "HTTP/1.0 keep-alive must be confirmed: {}",
            r.head
        );
        assert!(
            !matches!(r.framing, Framing::Close | Framing::Chunked),
            "{}",
            r.head
        );
    }
    c.send(b"GET /last HTTP/1.0\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.body_str(), "GET /last 0");
    assert!(c.is_closed());
}

#[test]
fn http10_keep_alive_with_close_delimited_upstream() {
    // No length known: an HTTP/1.0 client cannot get chunked, so the connection must close.
    let b = fixed_backend_then_close(b"HTTP/1.1 200 OK\r\n\r\nstream");
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.body, b"stream");
    assert!(!r.says_keep_alive(), "{}", r.head);
    assert!(c.is_closed());
}

#[test]
fn pipelined_requests_answered_in_order() {
    let b = path_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(
        b"GET /slow1 HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nPOST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyzGET /slow2 HTTP/1.1\r\nHost: x\r\n\r\nGET /e HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let want = [
        "GET /slow1 0",
        "GET /b 0",
        "POST /c 3",
        "GET /slow2 0",
        "GET /e 0",
    ];
    for w in want {
        let r = c.read_response();
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.body_str(), w);
    }
    assert_eq!(b.requests()[2].body, b"xyz");
    assert!(!c.closed_within(Duration::from_millis(200)));
}

#[test]
fn pipelined_mix_of_builtin_and_proxied() {
    let b = path_backend();
    let conf = format!(
        "http {{\n server {{\n listen {LISTEN};\n location = /health {{ return 200 \"ok\"; }}\n location / {{ proxy_pass http://{}; }}\n }}\n}}\n",
        b.addr
    );
    let rw = Ringway::start(&conf);
    let mut c = rw.connect();
    c.send(b"GET /slowp HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let bodies: Vec<String> = (0..4).map(|_| c.read_response().body_str()).collect();
    assert_eq!(bodies, vec!["GET /slowp 0", "ok", "GET /p2 0", "ok"]);
}

#[test]
fn pipelined_many_small_requests_in_one_packet() {
    let b = path_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    let mut all = Vec::new();
    for i in 0..40 {
        all.extend_from_slice(format!("GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    c.send(&all);
    for i in 0..40 {
        let r = c.read_response();
        assert_eq!(r.body_str(), format!("GET /p{i} 0"));
    }
}

#[test]
fn pipelined_request_after_chunked_body() {
    let b = path_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"POST /ch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    let r1 = c.read_response();
    assert_eq!(r1.body_str(), "POST /ch 3", "{}", r1.describe());
    // Either the next request is answered, or the first response said close and the connection
    // closed. Parsing chunk bytes as a request (400) is wrong.
    if r1.says_close() {
        assert!(c.is_closed());
    } else {
        let r2 = c.read_response();
        assert_eq!(r2.body_str(), "GET /next 0", "{}", r2.describe());
    }
}

#[test]
fn keep_alive_after_chunked_body() {
    let b = path_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(
        b"POST /ch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    let r1 = c.read_response();
    assert_eq!(r1.body_str(), "POST /ch 3", "{}", r1.describe());
    assert_closed_or_reusable(&mut c, &r1, 200);
}

#[test]
fn keepalive_timeout_closes_idle_clients() {
    let b = path_backend();
    let conf = proxy_conf_full(b.addr, "keepalive_timeout 1s;", "");
    let rw = Ringway::start(&conf);
    let mut c = rw.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    let t0 = Instant::now();
    assert!(
        c.closed_within(Duration::from_secs(4)),
        "idle connection not closed after keepalive_timeout 1s"
    );
    let dt = t0.elapsed();
    assert!(
        dt > Duration::from_millis(700) && dt < Duration::from_millis(2500),
        "closed after {dt:?}"
    );
}

#[test]
fn keepalive_requests_limits_requests_per_connection() {
    let b = path_backend();
    let rw = Ringway::start(&proxy_conf_full(b.addr, "keepalive_requests 3;", ""));
    let mut c = rw.connect();
    for i in 0..3 {
        c.send(format!("GET /n{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.status, 200);
        if i == 2 {
            assert!(r.says_close(), "third response should close: {}", r.head);
        }
    }
    assert!(c.is_closed());
}

#[test]
fn many_clients_concurrently() {
    let b = path_backend();
    let rw = Ringway::start_with(&proxy_conf(b.addr, ""), 2);
    let addr = rw.addr;
    let hs: Vec<_> = (0..8)
        .map(|t| {
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                for i in 0..10 {
                    c.send(format!("GET /c{t}/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
                    let r = c.read_response();
                    assert_eq!(r.body_str(), format!("GET /c{t}/{i} 0"));
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(b.request_count(), 80);
}
