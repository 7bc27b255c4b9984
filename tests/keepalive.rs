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

/// Connections parked in the ringway process: the entries of its parking epoll set, the one
/// set open under two descriptors (the parker waits on a duplicate of it; the runtime's own set,
/// under the epoll driver, has one).
fn parked_count(pid: i32) -> usize {
    let mut sets: std::collections::HashMap<String, (usize, usize)> = Default::default();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    for fd in fds.flatten() {
        let is_epoll = std::fs::read_link(fd.path())
            .map(|l| l.to_string_lossy().contains("eventpoll"))
            .unwrap_or(false);
        let info = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
        if let (true, Ok(text)) = (is_epoll, std::fs::read_to_string(info)) {
            let ino = text
                .lines()
                .find(|l| l.starts_with("ino:"))
                .unwrap_or("")
                .to_string();
            let e = sets.entry(ino).or_default();
            e.0 += 1;
            e.1 = text.lines().filter(|l| l.starts_with("tfd:")).count();
        }
    }
    sets.values()
        .filter(|(fds, _)| *fds >= 2)
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn idle_connections_park_resume_and_still_time_out() {
    let b = path_backend();
    let conf = proxy_conf_full(
        b.addr,
        "keepalive_timeout 3s; client_header_timeout 3s;",
        "",
    );
    let rw = Ringway::start(&conf);
    let base = parked_count(rw.pid());
    let mut cs: Vec<Client> = (0..3).map(|_| rw.connect()).collect();
    for (i, c) in cs.iter_mut().enumerate() {
        c.send(format!("GET /a{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        assert_eq!(c.read_response().body_str(), format!("GET /a{i} 0"));
    }
    // A connection that never speaks parks too.
    let mut silent = rw.connect();
    let deadline = Instant::now() + Duration::from_secs(3);
    while parked_count(rw.pid()) < base + 4 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        parked_count(rw.pid()),
        base + 4,
        "idle connections did not park"
    );
    // Parked connections are served again, with a request arriving in pieces.
    for (i, c) in cs.iter_mut().enumerate() {
        c.send_in_pieces(
            format!("GET /b{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
            5,
            Duration::from_millis(20),
        );
        assert_eq!(c.read_response().body_str(), format!("GET /b{i} 0"));
    }
    // The first request on a parked never-spoken connection too.
    silent.send(b"GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(silent.read_response().body_str(), "GET /s 0");
    // keepalive_timeout still holds for parked connections, measured from the last response.
    let t0 = Instant::now();
    assert!(
        cs[0].closed_within(Duration::from_secs(6)),
        "parked connection never timed out"
    );
    let dt = t0.elapsed();
    assert!(
        dt > Duration::from_millis(2500) && dt < Duration::from_millis(5000),
        "closed after {dt:?}"
    );
    assert!(silent.closed_within(Duration::from_secs(2)));
    assert_eq!(b.request_count(), 7);
}

#[test]
fn graceful_stop_closes_parked_connections() {
    let b = path_backend();
    let rw = Ringway::start(&proxy_conf_full(b.addr, "keepalive_timeout 60s;", ""));
    let base = parked_count(rw.pid());
    let mut c = rw.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    let deadline = Instant::now() + Duration::from_secs(3);
    while parked_count(rw.pid()) <= base && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        parked_count(rw.pid()),
        base + 1,
        "idle connection did not park"
    );
    let mut rw = rw;
    let t0 = Instant::now();
    // SIGQUIT: the graceful stop (SIGTERM is the fast one).
    rw.signal(libc::SIGQUIT);
    let st = rw.wait_exit(Duration::from_secs(10));
    assert!(
        st.is_some_and(|s| s.success()),
        "ringway did not stop cleanly: {st:?}"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "stop waited on a parked connection"
    );
    assert!(c.closed_within(Duration::from_secs(1)));
}

/// More kept-alive connections than a shard reads directly at once (512): the rest wait for
/// readability instead, and every one is served again.
#[test]
fn kept_alive_connections_beyond_the_direct_read_cap_are_served() {
    let b = path_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut cs: Vec<Client> = (0..600).map(|_| rw.connect()).collect();
    for round in 0..2 {
        for (i, c) in cs.iter_mut().enumerate() {
            c.send(format!("GET /k{round}/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        }
        for (i, c) in cs.iter_mut().enumerate() {
            assert_eq!(c.read_response().body_str(), format!("GET /k{round}/{i} 0"));
        }
    }
    assert_eq!(b.request_count(), 1200);
}
