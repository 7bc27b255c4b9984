//! Configurable timeouts: 504 on `proxy_read_timeout`, 408 on `client_header_timeout`.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Reads the request, then stays silent for 4 s.
fn silent_backend() -> Backend {
    silent_backend_for(Duration::from_secs(4))
}

/// Reads the request, then stays silent for `quiet`.
fn silent_backend_for(quiet: Duration) -> Backend {
    Backend::start(move |c| {
        if c.read_request().is_some() {
            thread::sleep(quiet);
        }
    })
}

/// Sends one request to a backend silent for `quiet` under `proxy_read_timeout` `limit`;
/// asserts a 504 and the connection's state after it, and returns when the 504 came.
fn read_timeout_504_after(quiet: Duration, limit: &str) -> Duration {
    let b = silent_backend_for(quiet);
    let rw = Ringway::start(&proxy_conf(b.addr, &format!("proxy_read_timeout {limit};")));
    let mut c = rw.connect();
    let t0 = Instant::now();
    c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    // The client waits longer than the backend's silence: a read limit equal to the proxy's
    // (the shared IO_TIMEOUT is 5 s, as is the swept case's limit) races the 504 it awaits.
    let r = match c.try_read_response(false, quiet + Duration::from_secs(2)) {
        Ok(r) => r,
        Err(e) => panic!("no response: {e}"),
    };
    let dt = t0.elapsed();
    assert_eq!(r.status, 504, "{}", r.describe());
    assert_closed_or_reusable(&mut c, &r, 504);
    dt
}

#[test]
fn upstream_read_timeout_gives_504() {
    let dt = read_timeout_504_after(Duration::from_secs(4), "1s");
    assert!(
        dt >= Duration::from_millis(900) && dt < Duration::from_millis(3000),
        "504 after {dt:?}"
    );
}

/// Limits of 5 s and more are timed by the shard's sweep (every 250 ms), not by a timer per
/// operation: such a limit still fires on time, neither early nor more than a sweep late.
#[test]
fn swept_read_timeout_gives_504_on_time() {
    let dt = read_timeout_504_after(Duration::from_secs(9), "5s");
    assert!(
        dt >= Duration::from_secs(5) && dt < Duration::from_millis(6500),
        "504 after {dt:?}"
    );
}

#[test]
fn upstream_read_timeout_at_http_level() {
    let b = silent_backend();
    let conf = proxy_conf(b.addr, "").replacen("http {", "http {\n    proxy_read_timeout 1s;", 1);
    let rw = Ringway::start(&conf);
    let t0 = Instant::now();
    let r = rw.get("/slow");
    assert_eq!(r.status, 504, "{}", r.describe());
    assert!(t0.elapsed() < Duration::from_millis(3000));
}

#[test]
fn slow_but_steady_upstream_is_not_timed_out_between_reads() {
    // proxy_read_timeout applies between reads (nginx semantics), not to the whole response.
    let b = Backend::start(|c| {
        if c.read_request().is_some() {
            c.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n");
            for p in [b"ab", b"cd", b"ef"] {
                thread::sleep(Duration::from_millis(600));
                c.write(p);
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, "proxy_read_timeout 1s;"));
    let r = rw.get("/drip");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"abcdef");
}

#[test]
fn client_too_slow_to_send_head_gets_408() {
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf_full(b.addr, "client_header_timeout 1s;", ""));
    let mut c = rw.connect();
    let t0 = Instant::now();
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n");
    let r = c
        .try_read_response(false, Duration::from_secs(4))
        .unwrap_or_else(|e| panic!("no 408: {e}"));
    let dt = t0.elapsed();
    assert_eq!(r.status, 408, "{}", r.describe());
    assert!(
        dt >= Duration::from_millis(900) && dt < Duration::from_millis(3000),
        "408 after {dt:?}"
    );
    assert!(c.is_closed(), "connection open after 408");
    b.assert_untouched("408");
}

#[test]
fn trickling_head_gets_408() {
    // One byte every 150 ms: each read is quick but the whole head takes far longer than 1 s.
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf_full(b.addr, "client_header_timeout 1s;", ""));
    let mut c = rw.connect();
    let t0 = Instant::now();
    let head = b"GET /trickle HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut sent_all = true;
    for &byte in head.iter() {
        if c.try_send(&[byte]).is_err() || t0.elapsed() > Duration::from_secs(4) {
            sent_all = false;
            break;
        }
        thread::sleep(Duration::from_millis(150));
        if t0.elapsed() > Duration::from_millis(2500) {
            sent_all = false;
            break;
        }
    }
    assert!(!sent_all, "the trickled head was never cut off");
    let r = c
        .try_read_response(false, Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("no 408 for a head trickled over >1s: {e}"));
    assert_eq!(r.status, 408, "{}", r.describe());
    b.assert_untouched("trickle 408");
}

#[test]
fn idle_connection_without_bytes_is_closed_after_client_header_timeout() {
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf_full(b.addr, "client_header_timeout 1s;", ""));
    let dt = rw.silent_connection_lifetime(Duration::from_secs(4));
    assert!(
        dt >= Duration::from_millis(900) && dt < Duration::from_millis(3000),
        "closed after {dt:?}"
    );
}

/// The first head must be complete within client_header_timeout of the accept, as nginx times
/// it: waiting before the first byte does not buy a fresh timeout for the rest (found by the
/// slowloris workload: connections lived nearly twice the timeout). Also after the connection
/// parked (idle over 1 s).
#[test]
fn first_head_is_timed_from_the_accept() {
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf_full(b.addr, "client_header_timeout 2s;", ""));
    let mut c = rw.connect();
    let t0 = Instant::now();
    thread::sleep(Duration::from_millis(1500));
    c.send(b"GET / HTTP/1.1\r\n");
    let r = c
        .try_read_response(false, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("no 408: {e}"));
    let dt = t0.elapsed();
    assert_eq!(r.status, 408, "{}", r.describe());
    assert!(
        dt >= Duration::from_millis(1800) && dt < Duration::from_millis(2900),
        "408 after {dt:?} (2 s from the accept expected)"
    );
    b.assert_untouched("408 from accept");
}

#[test]
fn header_timeout_does_not_cut_a_slow_body_or_a_slow_upstream() {
    // client_header_timeout is about the head only.
    let b = Backend::start(|c| {
        if let Some(req) = c.read_request() {
            thread::sleep(Duration::from_millis(1300));
            c.respond(200, &req.body);
        }
    });
    let rw = Ringway::start(&proxy_conf_full(b.addr, "client_header_timeout 1s;", ""));
    let mut c = rw.connect();
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");
    thread::sleep(Duration::from_millis(1200));
    c.send(b"cd");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.body, b"abcd");
}

/// How long after its request a 64 MiB response's upstream is released when the client reads
/// nothing, under `send_timeout` `limit` (and a long `proxy_send_timeout`).
fn stalled_client_release_time(limit: &str) -> Duration {
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    let tx = std::sync::Mutex::new(tx);
    let b = Backend::start(move |c| {
        if c.read_request().is_some() {
            let big = vec![b'x'; 64 << 20];
            // Blocks once ringway stops taking bytes; fails once ringway gives up.
            let _ = c.respond(200, &big);
            let _ = tx.lock().map(|t| t.send(Instant::now()));
        }
    });
    let extra = format!("send_timeout {limit}; proxy_send_timeout 60s;");
    let rw = Ringway::start(&proxy_conf_full(b.addr, &extra, ""));
    let mut c = rw.connect();
    let t0 = Instant::now();
    c.send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    // The client reads nothing: ringway's writes stall, and after send_timeout it gives up.
    let done = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("the backend's write never failed: ringway kept the stalled exchange open");
    done - t0
}

/// `send_timeout` bounds writes to the client (nginx's meaning), apart from
/// `proxy_send_timeout` for the upstream: a client that stops reading a large response is cut
/// after it, and the upstream connection is dropped too.
#[test]
fn send_timeout_cuts_a_client_that_stops_reading() {
    let dt = stalled_client_release_time("1s");
    assert!(
        dt >= Duration::from_millis(900) && dt < Duration::from_secs(5),
        "upstream released after {dt:?}"
    );
}

/// The same with a swept `send_timeout`: the response's body goes by splice, whose waits are
/// timed by the sweep too.
#[test]
fn swept_send_timeout_cuts_a_client_that_stops_reading() {
    let dt = stalled_client_release_time("5s");
    assert!(
        dt >= Duration::from_secs(5) && dt < Duration::from_secs(8),
        "upstream released after {dt:?}"
    );
}

/// `listen ... deferred` (TCP_DEFER_ACCEPT): a connection that sends at once is served from its
/// first read, whole or with the head in pieces, and kept alive; a silent one is held by the
/// kernel for about a second before ringway sees it, so client_header_timeout runs from then.
#[test]
fn deferred_listener_serves_at_once_and_times_a_silent_connection_from_the_handover() {
    let b = echo_backend();
    let conf = proxy_conf_full(b.addr, "client_header_timeout 1s;", "").replace(
        &format!("listen {LISTEN};"),
        &format!("listen {LISTEN} deferred;"),
    );
    assert!(conf.contains(" deferred;"), "{conf}");
    let rw = Ringway::start(&conf);
    let mut c = rw.connect();
    for i in 0..3 {
        c.send(format!("GET /d{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.status, 200, "{}", r.describe());
        let (line, _) = echoed_head(&r.body);
        assert!(line.starts_with(&format!("GET /d{i} ")), "{line}");
    }
    // The first piece brings the connection over; the rest of the head follows.
    let mut c = rw.connect();
    c.send(b"GET /split HTTP/1.1\r\n");
    thread::sleep(Duration::from_millis(200));
    c.send(b"Host: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    // Silent: the kernel's second, then the timeout's.
    let dt = rw.silent_connection_lifetime(Duration::from_secs(6));
    assert!(
        dt >= Duration::from_millis(1800) && dt < Duration::from_millis(4500),
        "closed after {dt:?} (about 2 s expected: 1 s held by the kernel, then 1 s timeout)"
    );
}
