//! Per-shard upstream connection pools: reuse, max idle (`keepalive N`), idle timeout, detection
//! of connections the upstream closed, and the one retry of an idempotent request on a reused
//! connection that failed before any response byte.

mod common;

use std::thread;
use std::time::Duration;

use common::*;

fn ok_backend() -> Backend {
    Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let body = format!("{}:{}", c.index, req.target);
            if !c.respond(200, body.as_bytes()) {
                return;
            }
        }
    })
}

#[test]
fn sequential_requests_share_one_upstream_connection() {
    let b = ok_backend();
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 8;", ""));
    // Different client connections, one after another: one upstream connection.
    for i in 0..10 {
        let r = rw.get(&format!("/s{i}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), format!("0:/s{i}"));
    }
    assert_eq!(
        b.accepted(),
        1,
        "upstream connections for 10 sequential requests"
    );
    let req = &b.requests()[0];
    assert!(
        !req.headers_named("connection")
            .iter()
            .any(|v| v.eq_ignore_ascii_case("close")),
        "pooled upstream requests must not say Connection: close:\n{}",
        req.head
    );
    assert_eq!(req.version, "HTTP/1.1", "{}", req.head);
}

#[test]
fn direct_proxy_pass_pools_too() {
    let b = ok_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    for i in 0..5 {
        c.send(format!("GET /d{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        assert_eq!(c.read_response().status, 200);
    }
    assert_eq!(b.accepted(), 1);
}

#[test]
fn keepalive_zero_disables_pooling() {
    let b = ok_backend();
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 0;", ""));
    for i in 0..3 {
        assert_eq!(rw.get(&format!("/z{i}")).status, 200);
    }
    assert_eq!(b.accepted(), 3);
    // And ringway closes those connections rather than leaking them.
    assert!(
        b.wait_for(Duration::from_secs(2), |b| b.peer_closed() == 3),
        "unpooled upstream connections left open: {} of 3 closed",
        b.peer_closed()
    );
}

#[test]
fn max_idle_connections_are_kept() {
    // Three concurrent slow requests open three upstream connections; with `keepalive 1` only one
    // stays idle afterwards, the other two are closed by ringway.
    let b = Backend::start(|c| {
        while let Some(req) = c.read_request() {
            if req.target.starts_with("/slow") {
                thread::sleep(Duration::from_millis(500));
            }
            if !c.respond(200, format!("{}", c.index).as_bytes()) {
                return;
            }
        }
    });
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 1;", ""));
    let addr = rw.addr;
    let hs: Vec<_> = (0..3)
        .map(|i| {
            thread::spawn(move || {
                let (_c, r) = exchange(
                    addr,
                    format!("GET /slow{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
                );
                r.status
            })
        })
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), 200);
    }
    assert_eq!(b.accepted(), 3);
    assert!(
        b.wait_for(Duration::from_secs(2), |b| b.peer_closed() >= 2),
        "with keepalive 1, two of three idle upstream connections should be closed; closed: {}",
        b.peer_closed()
    );
    assert_eq!(b.peer_closed(), 2);
    // The survivor serves what follows.
    for i in 0..3 {
        assert_eq!(rw.get(&format!("/after{i}")).status, 200);
    }
    assert_eq!(
        b.accepted(),
        3,
        "the remaining idle connection should be reused"
    );
}

#[test]
fn idle_timeout_expires_pooled_connections() {
    let b = ok_backend();
    let rw = Ringway::start(&upstream_conf(
        &[b.addr],
        "keepalive 4;\n        keepalive_timeout 1s;",
        "",
    ));
    assert_eq!(rw.get("/a").status, 200);
    assert_eq!(rw.get("/b").status, 200);
    assert_eq!(b.accepted(), 1);
    thread::sleep(Duration::from_millis(1500));
    let r = rw.get("/c");
    assert_eq!(r.status, 200);
    assert_eq!(
        b.accepted(),
        2,
        "a connection idle past keepalive_timeout must not be reused"
    );
    assert_eq!(r.body_str(), "1:/c");
}

#[test]
fn upstream_closed_idle_connection_is_detected() {
    // The backend answers once and then closes its side of the (now idle) connection.
    let b = Backend::start(|c| {
        if let Some(req) = c.read_request() {
            c.respond(200, format!("{}:{}", c.index, req.target).as_bytes());
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
    });
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 4;", ""));
    for i in 0..4 {
        let r = rw.get(&format!("/r{i}"));
        assert_eq!(r.status, 200, "request {i}: {}", r.describe());
        assert_eq!(r.body_str(), format!("{i}:/r{i}"));
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(b.accepted(), 4);
    // No request was written onto a closed connection (each connection got exactly one).
    for i in 0..4 {
        let raw = b.raw(i);
        assert_eq!(
            raw.windows(4).filter(|w| w == b"GET ").count(),
            1,
            "conn {i}: {}",
            show(&raw)
        );
    }
}

#[test]
fn upstream_reset_idle_connection_is_detected() {
    let b = Backend::start(|c| {
        if let Some(req) = c.read_request() {
            c.respond(200, format!("{}:{}", c.index, req.target).as_bytes());
            thread::sleep(Duration::from_millis(20));
            c.reset();
        }
    });
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 4;", ""));
    for i in 0..3 {
        let r = rw.get(&format!("/r{i}"));
        assert_eq!(r.status, 200, "request {i}: {}", r.describe());
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(b.accepted(), 3);
}

/// Connection 0 answers its first request and closes (or resets) on the second without answering;
/// later connections answer everything.
fn flaky_reuse_backend(reset: bool) -> Backend {
    Backend::start(move |c| {
        let mut n = 0;
        while let Some(req) = c.read_request() {
            n += 1;
            if c.index == 0 && n == 2 {
                if reset {
                    c.reset();
                }
                return;
            }
            if !c.respond(200, format!("{}:{}", c.index, req.target).as_bytes()) {
                return;
            }
        }
    })
}

#[test]
fn idempotent_request_on_dead_reused_connection_is_retried() {
    let b = flaky_reuse_backend(false);
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 4;", ""));
    let mut c = rw.connect();
    c.send(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_response().body_str(), "0:/first");
    c.send(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.status,
        200,
        "GET on a reused connection that died must be retried: {}",
        r.describe()
    );
    assert_eq!(r.body_str(), "1:/second");
    assert_eq!(b.accepted(), 2);
    let targets: Vec<(usize, String)> = b
        .requests()
        .iter()
        .map(|r| (r.conn, r.target.clone()))
        .collect();
    assert_eq!(
        targets,
        vec![
            (0, "/first".into()),
            (0, "/second".into()),
            (1, "/second".into())
        ]
    );
}

#[test]
fn idempotent_request_retried_after_reset() {
    let b = flaky_reuse_backend(true);
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 4;", ""));
    assert_eq!(rw.get("/first").body_str(), "0:/first");
    let r = rw.get("/second");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.body_str(), "1:/second");
}

#[test]
fn put_with_body_is_retried_too() {
    // PUT is idempotent and its small body is still in ringway's buffer.
    let b = flaky_reuse_backend(false);
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 4;", ""));
    assert_eq!(rw.get("/first").status, 200);
    let (_c, r) = exchange(
        rw.addr,
        b"PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(r.status, 200, "{}", r.describe());
    let got = b.requests();
    let last = got.last().unwrap();
    assert_eq!(
        (last.conn, last.target.as_str(), &last.body[..]),
        (1, "/p", &b"hello"[..])
    );
}

#[test]
fn post_on_dead_reused_connection_is_not_retried() {
    let b = flaky_reuse_backend(false);
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 4;", ""));
    assert_eq!(rw.get("/first").status, 200);
    let (_c, r) = exchange(
        rw.addr,
        b"POST /once HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(
        r.status,
        502,
        "a non-idempotent request must not be retried: {}",
        r.describe()
    );
    thread::sleep(Duration::from_millis(100));
    assert_eq!(b.accepted(), 1, "POST was sent again on a new connection");
    assert_eq!(
        b.requests().iter().filter(|r| r.target == "/once").count(),
        1
    );
}

#[test]
fn retry_happens_only_once() {
    // Connection 0 serves one request then dies on the next; every later connection dies
    // without answering: the retry fails too and the client gets 502 (no retry loop).
    let b = Backend::start(|c| {
        let mut n = 0;
        while let Some(_req) = c.read_request() {
            n += 1;
            if c.index > 0 || n == 2 {
                return;
            }
            if !c.respond(200, b"ok") {
                return;
            }
        }
    });
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 4;", ""));
    assert_eq!(rw.get("/first").status, 200);
    let r = rw.get("/second");
    assert_eq!(r.status, 502, "{}", r.describe());
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        b.accepted(),
        2,
        "exactly one retry on a fresh connection expected"
    );
}

#[test]
fn no_retry_after_response_bytes() {
    // A reused connection that sends part of a head then dies: something was answered, so no
    // retry; the client gets 502.
    let b = Backend::start(|c| {
        let mut n = 0;
        while let Some(_req) = c.read_request() {
            n += 1;
            if c.index == 0 && n == 2 {
                c.write(b"HTTP/1.1 200 O");
                return;
            }
            if !c.respond(200, b"ok") {
                return;
            }
        }
    });
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 4;", ""));
    assert_eq!(rw.get("/first").status, 200);
    let r = rw.get("/second");
    assert_eq!(r.status, 502, "{}", r.describe());
    thread::sleep(Duration::from_millis(100));
    assert_eq!(b.accepted(), 1);
}

#[test]
fn pools_are_per_server_in_a_group() {
    let a = ok_backend();
    let b = ok_backend();
    let rw = Ringway::start(&upstream_conf(&[a.addr, b.addr], "keepalive 4;", ""));
    for i in 0..8 {
        assert_eq!(rw.get(&format!("/g{i}")).status, 200);
    }
    assert_eq!((a.accepted(), b.accepted()), (1, 1));
    assert_eq!((a.request_count(), b.request_count()), (4, 4));
}

#[test]
fn connection_close_from_upstream_is_not_pooled() {
    let b = Backend::start(|c| {
        if let Some(req) = c.read_request() {
            c.respond_with(200, &[("Connection", "close")], req.target.as_bytes());
            // Keep the socket open: ringway must not reuse it anyway.
            c.wait_eof(Duration::from_secs(3));
        }
    });
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 4;", ""));
    for i in 0..3 {
        let r = rw.get(&format!("/c{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.body_str(), format!("/c{i}"));
    }
    assert_eq!(b.accepted(), 3);
}

#[test]
fn upstream_keepalive_requests_limit() {
    let b = ok_backend();
    let rw = Ringway::start(&upstream_conf(
        &[b.addr],
        "keepalive 4;\n        keepalive_requests 2;",
        "",
    ));
    for i in 0..6 {
        assert_eq!(rw.get(&format!("/k{i}")).status, 200);
    }
    assert_eq!(b.accepted(), 3, "2 requests per upstream connection");
}

#[test]
fn client_connection_close_does_not_close_the_upstream_connection() {
    let b = ok_backend();
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 4;", ""));
    for i in 0..3 {
        let (mut c, r) = exchange(
            rw.addr,
            format!("GET /cc{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 200);
        assert!(c.is_closed());
    }
    assert_eq!(
        b.accepted(),
        1,
        "the client's Connection: close must not reach the pool"
    );
    for req in b.requests() {
        assert!(
            !req.headers_named("connection")
                .iter()
                .any(|v| v.eq_ignore_ascii_case("close")),
            "{}",
            req.head
        );
    }
}

#[test]
fn http10_clients_share_pooled_connections() {
    let b = ok_backend();
    let rw = Ringway::start(&upstream_conf(&[b.addr], "keepalive 4;", ""));
    for i in 0..3 {
        let (_c, r) = exchange(
            rw.addr,
            format!("GET /ten{i} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 200);
    }
    assert_eq!(b.accepted(), 1);
}
