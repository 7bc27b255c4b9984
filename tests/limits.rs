//! limit_req, limit_conn and client_max_body_size over real sockets.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Answers 200 "ok" to every request; a target containing `/slow` waits until `gate` opens.
fn gated_backend(gate: Arc<AtomicBool>) -> Backend {
    Backend::start(move |c| {
        while let Some(req) = c.read_request() {
            if req.target.contains("/slow") {
                let deadline = Instant::now() + Duration::from_secs(10);
                while !gate.load(Ordering::SeqCst) && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(5));
                }
            }
            if !c.respond(200, b"ok") {
                return;
            }
        }
    })
}

/// A request on a new connection until it is answered 200 (a count is released just after
/// the previous answer was written, so the next request may race it), within 5 s.
#[track_caller]
fn eventually_200(rw: &Ringway) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = rw.connect();
        let s = get(&mut c, "/", "").status;
        if s == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the count was never released ({s})"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn get(c: &mut Client, path: &str, extra: &str) -> Response {
    c.send(format!("GET {path} HTTP/1.1\r\nHost: h\r\n{extra}\r\n").as_bytes());
    c.read_response()
}

/// The sum over shards stays within rate × time + burst: many keep-alive connections from one
/// client address (the key) land on both shards; each shard enforces its half.
#[test]
fn limit_req_over_two_shards_stays_within_rate_and_burst() {
    const RATE: f64 = 20.0;
    const BURST: usize = 10;
    const CONNS: usize = 16;
    let b = gated_backend(Arc::new(AtomicBool::new(true)));
    let rw = Ringway::start_with(
        &format!(
            "http {{ limit_req_zone $binary_remote_addr zone=r:1m rate={RATE}r/s;\n\
             server {{ listen @LISTEN@; location / {{ proxy_pass http://{}; limit_req zone=r burst={BURST} nodelay; }} }} }}",
            b.addr
        ),
        2,
    );
    // Both shards listen once start-up is logged (the harness only waits for the first).
    assert!(rw.wait_log("started with 2 shards", 1, Duration::from_secs(10)));
    let passed = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let run_for = Duration::from_millis(2000);
    let threads: Vec<_> = (0..CONNS)
        .map(|_| {
            let (passed, refused, addr) = (passed.clone(), refused.clone(), rw.addr);
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                while start.elapsed() < run_for {
                    match get(&mut c, "/", "").status {
                        200 => passed.fetch_add(1, Ordering::SeqCst),
                        503 => refused.fetch_add(1, Ordering::SeqCst),
                        s => panic!("unexpected status {s}"),
                    };
                    // About 100 requests a second per connection: far above the rate, gentle
                    // on a shared machine.
                    thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Every request was decided between `start` and now.
    let secs = start.elapsed().as_secs_f64();
    let passed = passed.load(Ordering::SeqCst);
    let refused = refused.load(Ordering::SeqCst);
    // Tolerance: each shard lets the first request of a new key through for free (nginx's
    // semantics: a new state starts with no excess), so +1 per shard; +1 for millisecond
    // rounding at the window's edges.
    let most = (RATE * secs).floor() as usize + BURST + 2 + 1;
    assert!(
        passed <= most,
        "{passed} passed in {secs:.2}s, at most {most} allowed (refused {refused})"
    );
    // Not far below: both shards had clients (16 connections all hashed to one shard is a
    // 1-in-30,000 event), so both used their share.
    let least = (RATE * secs * 0.8) as usize;
    eprintln!("passed {passed} (allowed {least}..={most}) refused {refused} in {secs:.2}s");
    assert!(
        passed >= least,
        "{passed} passed in {secs:.2}s, expected at least {least} (refused {refused})"
    );
    assert!(refused > passed, "the limit refused most requests");
    assert_eq!(
        b.request_count(),
        passed,
        "refused requests never reach the backend"
    );
}

/// Excess requests within the burst wait (above `delay=`), the rest pass at once; over the
/// burst they are refused.
#[test]
fn limit_req_delays_excess_requests() {
    let b = gated_backend(Arc::new(AtomicBool::new(true)));
    let rw = Ringway::start(&format!(
        "http {{ limit_req_zone $binary_remote_addr zone=r:1m rate=10r/s;\n\
         server {{ listen @LISTEN@; location / {{ proxy_pass http://{}; limit_req zone=r burst=5 delay=2; }} }} }}",
        b.addr
    ));
    // Seven at once: excess 0, 1, 2 pass now; 3, 4, 5 wait (excess - 2) / 10r/s = 100, 200,
    // 300 ms; the seventh (excess 6 > 5) is refused.
    let mut clients: Vec<Client> = (0..7).map(|_| rw.connect()).collect();
    let start = Instant::now();
    for c in &mut clients {
        c.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    }
    let results: Vec<(u16, Duration)> = thread::scope(|s| {
        let handles: Vec<_> = clients
            .iter_mut()
            .map(|c| {
                s.spawn(move || {
                    let r = c.read_response();
                    (r.status, start.elapsed())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ok: Vec<Duration> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|r| r.1)
        .collect();
    ok.sort();
    let refused = results.iter().filter(|(s, _)| *s == 503).count();
    assert_eq!((ok.len(), refused), (6, 1), "{results:?}");
    let ms = |d: Duration| d.as_millis();
    // Relative to the third (how fast the proxy answers depends on the machine's load).
    assert!(
        ms(ok[3]) >= ms(ok[2]) + 50 && ms(ok[5]) >= ms(ok[2]) + 200,
        "three pass at once, three wait about 100, 200, 300 ms: {results:?}"
    );
    assert!(ms(ok[4]) >= 180 && ms(ok[5]) >= 280, "{results:?}");
    assert!(ms(ok[5]) < 2000, "{results:?}");
}

/// limit_req_status, keep-alive after a refusal, dry run, empty keys, and nginx's phase order
/// (a location that `return`s is not limited).
#[test]
fn limit_req_status_dry_run_and_keys() {
    let b = gated_backend(Arc::new(AtomicBool::new(true)));
    let rw = Ringway::start(&format!(
        "http {{ limit_req_zone $binary_remote_addr zone=ip:1m rate=1r/m;\n\
         limit_req_zone $http_x_user zone=user:1m rate=1r/m;\n\
         server {{ listen @LISTEN@; limit_req zone=ip; limit_req_status 429;\n\
           location / {{ proxy_pass http://{0}; }}\n\
           location /dry {{ proxy_pass http://{0}; limit_req_dry_run on; }}\n\
           location /user {{ proxy_pass http://{0}; limit_req zone=user; }}\n\
           location /ret {{ return 200 fine; }} }} }}",
        b.addr
    ));
    let mut c = rw.connect();
    assert_eq!(get(&mut c, "/", "").status, 200);
    let r = get(&mut c, "/", "");
    assert_eq!(r.status, 429, "{}", r.describe());
    assert!(!r.says_close(), "a refusal keeps the connection");
    assert_eq!(get(&mut c, "/", "").status, 429, "same connection");
    assert_eq!(b.request_count(), 1);
    // Dry run: the same (exhausted) key passes.
    assert_eq!(get(&mut c, "/dry", "").status, 200);
    assert_eq!(get(&mut c, "/dry", "").status, 200);
    // `return` is answered in the rewrite phase, before limits.
    assert_eq!(get(&mut c, "/ret", "").body_str(), "fine");
    // An empty key is not limited; a present one is, per value.
    for _ in 0..3 {
        assert_eq!(get(&mut c, "/user", "").status, 200);
    }
    assert_eq!(get(&mut c, "/user", "X-User: a\r\n").status, 200);
    assert_eq!(
        get(&mut c, "/user", "X-User: a\r\n").status,
        429,
        "inherited status"
    );
    assert_eq!(get(&mut c, "/user", "X-User: b\r\n").status, 200);
}

/// limit_conn counts requests in progress and releases them when done, errors included.
#[test]
fn limit_conn_counts_requests_in_progress() {
    let gate = Arc::new(AtomicBool::new(false));
    let b = gated_backend(gate.clone());
    let dead = dead_addr();
    let rw = Ringway::start(&format!(
        "http {{ limit_conn_zone $binary_remote_addr zone=c:1m;\n\
         server {{ listen @LISTEN@; limit_conn c 1; limit_conn_status 429;\n\
           location / {{ proxy_pass http://{}; }}\n\
           location /dead {{ proxy_pass http://{dead}; }} }} }}",
        b.addr
    ));
    let mut slow = rw.connect();
    slow.send(b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
    assert!(b.wait_for(Duration::from_secs(5), |b| b.accepted() == 1));
    thread::sleep(Duration::from_millis(50));
    let mut other = rw.connect();
    let r = get(&mut other, "/", "");
    assert_eq!(r.status, 429, "one in progress: {}", r.describe());
    gate.store(true, Ordering::SeqCst);
    assert_eq!(slow.read_response().status, 200);
    // Released when it finished.
    eventually_200(&rw);
    // An upstream error releases it too.
    for _ in 0..3 {
        let mut c = rw.connect();
        let r = get(&mut c, "/dead", "");
        assert_eq!(r.status, 502, "{}", r.describe());
        eventually_200(&rw);
    }
    // And a client that vanishes mid-request.
    gate.store(false, Ordering::SeqCst);
    let mut gone = rw.connect();
    gone.send(b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
    thread::sleep(Duration::from_millis(100));
    assert_eq!(get(&mut other, "/", "").status, 429);
    drop(gone);
    gate.store(true, Ordering::SeqCst);
    eventually_200(&rw);
}

/// A chunked body that grows past client_max_body_size while streaming: the client gets 413
/// and a closed connection; the backend gets part of the body and a closed connection, never
/// the last chunk, and that upstream connection is not reused.
#[test]
fn chunked_body_over_the_limit_while_streaming() {
    let b = Backend::start(|c| {
        while let Some(mut req) = c.read_head() {
            let complete = c.read_body(&mut req);
            c.record(&req);
            if !complete || !c.respond(200, b"done") {
                return;
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, "client_max_body_size 100;"));
    // Within the limit first, so the upstream connection would be pooled.
    let mut c = rw.connect();
    c.send(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(&chunk(&pattern(100), &[40]));
    assert_eq!(c.read_response().status, 200);
    // Now 3 × 40 bytes, a pause between chunks: the first two reach the backend.
    c.send(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    let body = chunk(&pattern(120), &[40]);
    let mut rest = &body[..];
    for _ in 0..3 {
        let n = rest.iter().position(|&x| x == b'\n').unwrap() + 1 + 40 + 2;
        let _ = c.try_send(&rest[..n]);
        rest = &rest[n..];
        thread::sleep(Duration::from_millis(50));
    }
    let _ = c.try_send(rest);
    assert_status_and_close(&mut c, 413, "chunked body past the limit");
    assert!(
        b.wait_for(Duration::from_secs(5), |b| b.request_count() == 2),
        "the backend saw the second request"
    );
    let reqs = b.requests();
    assert_eq!(reqs[0].body.len(), 100);
    let second = &reqs[1];
    assert!(
        second.body.len() <= 100,
        "no more than the limit reached the backend: {}",
        second.body.len()
    );
    assert!(
        !second.raw.ends_with(b"0\r\n\r\n"),
        "the backend must never see the last chunk: {}",
        show(&second.raw)
    );
    // The next request goes on a new upstream connection: the cut one was not pooled.
    let mut c = rw.connect();
    assert_eq!(get(&mut c, "/", "").status, 200);
    assert_eq!(b.accepted(), 2);
}

/// An upgraded connection (a WebSocket tunnel) is a request in progress until it closes.
#[test]
fn limit_conn_counts_an_upgraded_tunnel_until_it_closes() {
    let b = Backend::start(|c| {
        let Some(req) = c.read_request() else { return };
        if req.header("upgrade").is_none() {
            c.respond(200, b"ok");
            return;
        }
        if !c.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n") {
            return;
        }
        while let Some(bytes) = c.read_some(Duration::from_secs(5)) {
            if !c.write(&bytes) {
                return;
            }
        }
    });
    let rw = Ringway::start(&format!(
        "http {{ limit_conn_zone $binary_remote_addr zone=c:1m;\n\
         server {{ listen @LISTEN@; location / {{ proxy_pass http://{}; limit_conn c 1; }} }} }}",
        b.addr
    ));
    let mut ws = rw.connect();
    ws.send(b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    assert_eq!(ws.read_response().status, 101);
    ws.send(b"ping");
    assert_eq!(ws.read_exact_bytes(4), b"ping");
    let mut c = rw.connect();
    assert_eq!(
        get(&mut c, "/", "").status,
        503,
        "the tunnel holds the count"
    );
    drop(ws);
    eventually_200(&rw);
}

/// A reload keeps a zone's state when the zone keeps its name and key (as nginx keeps its
/// shared memory); a zone whose key changed starts afresh.
#[test]
fn limit_state_survives_reload() {
    let b = gated_backend(Arc::new(AtomicBool::new(true)));
    let conf = |key: &str, status: u16| {
        format!(
            "http {{ limit_req_zone {key} zone=r:1m rate=1r/m;\n\
             server {{ listen @LISTEN@; location / {{ proxy_pass http://{}; limit_req zone=r; limit_req_status {status}; }} }} }}",
            b.addr
        )
    };
    let rw = Ringway::start(&conf("$binary_remote_addr", 429));
    let mut c = rw.connect();
    assert_eq!(get(&mut c, "/", "").status, 200);
    assert_eq!(get(&mut c, "/", "").status, 429);
    rw.reload_with(&conf("$binary_remote_addr", 503), &[]);
    let mut c = rw.connect();
    assert_eq!(
        get(&mut c, "/", "").status,
        503,
        "still limited, new status"
    );
    rw.reload_with(&conf("$remote_addr", 503), &[]);
    let mut c = rw.connect();
    assert_eq!(get(&mut c, "/", "").status, 200, "a new key is a new zone");
}

/// Lingering close (nginx's `lingering_close`, `lingering_time`, `lingering_timeout`): a client
/// still sending a body ringway refused is read on, not reset.
mod lingering {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{Shutdown, TcpStream};
    use std::thread;
    use std::time::{Duration, Instant};

    use crate::common::*;

    fn rw() -> Ringway {
        Ringway::start(&format!(
            "http {{ server {{ listen {LISTEN}; client_max_body_size 1k; client_header_timeout 1s;
                location / {{ return 200 \"ok\"; }}
                location /off {{ lingering_close off; return 200 \"ok\"; }}
                location /timeout {{ lingering_timeout 1s; return 200 \"ok\"; }}
                location /time {{ lingering_time 2s; return 200 \"ok\"; }}
                location /forever {{ lingering_time 99999999999d; lingering_timeout 1s;
                    return 200 \"ok\"; }} }} }}\n"
        ))
    }

    /// Sends a 10 MB POST's head to `path`; the body is the caller's to send.
    fn post(rw: &Ringway, path: &str) -> TcpStream {
        let mut s = TcpStream::connect(rw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        s
    }

    /// Writes `n` pieces of 64 KiB, 10 ms apart; the first error ends it.
    fn keep_sending(s: &mut TcpStream, n: usize) -> std::io::Result<()> {
        let piece = vec![b'x'; 64 * 1024];
        for _ in 0..n {
            s.write_all(&piece)?;
            thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Reads until the peer closes: Ok(bytes) on an orderly close (FIN), Err on a reset.
    fn read_to_eof(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return Ok(all),
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    #[test]
    fn a_client_still_sending_a_refused_body_is_not_reset() {
        let rw = rw();
        let mut s = post(&rw, "/");
        // 1.3 MB after the 413 went out: without lingering, the kernel resets these writes.
        keep_sending(&mut s, 20).expect("a write of the body after the 413 failed");
        s.shutdown(Shutdown::Write).unwrap();
        let got = read_to_eof(&mut s).expect("the connection ended with a reset");
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
        assert!(text.contains("Connection: close"), "{text}");
    }

    #[test]
    fn lingering_close_off_resets_a_client_still_sending() {
        let rw = rw();
        let mut s = post(&rw, "/off");
        let sent = keep_sending(&mut s, 40);
        assert!(
            sent.is_err(),
            "with lingering_close off, writes after the close should meet a reset"
        );
    }

    /// Whether the socket was closed under the client: a write after it is met by a reset,
    /// which fails the write after it.
    fn writes_fail(s: &mut TcpStream) -> bool {
        let first = s.write_all(&[b'x'; 1024]);
        thread::sleep(Duration::from_millis(100));
        first.is_err() || s.write_all(&[b'x'; 1024]).is_err()
    }

    #[test]
    fn lingering_timeout_closes_a_client_that_went_quiet() {
        let rw = rw();
        let mut s = post(&rw, "/timeout");
        keep_sending(&mut s, 2).unwrap();
        // Quiet for less than lingering_timeout (1 s): still read.
        thread::sleep(Duration::from_millis(300));
        keep_sending(&mut s, 2).expect("reset within lingering_timeout");
        // Quiet for longer: closed.
        thread::sleep(Duration::from_millis(1800));
        assert!(writes_fail(&mut s), "still open 1.8 s after the last bytes");
    }

    /// The largest lingering_time a config can say (about 273 million years) is counted
    /// without overflow, and lingering_timeout still ends the wait.
    #[test]
    fn a_lingering_time_of_ages_still_ends_at_lingering_timeout() {
        let rw = rw();
        let mut s = post(&rw, "/forever");
        keep_sending(&mut s, 4).expect("reset while lingering");
        thread::sleep(Duration::from_millis(1800));
        assert!(writes_fail(&mut s), "still open 1.8 s after the last bytes");
        assert_eq!(rw.get("/").body_str(), "ok");
        assert_eq!(rw.log_count("panicked"), 0, "{}", rw.stderr());
    }

    #[test]
    fn lingering_time_ends_the_wait_for_a_client_that_keeps_sending() {
        let rw = rw();
        let mut s = post(&rw, "/time");
        let t0 = Instant::now();
        // Sends for up to 8 s; ringway stops reading after lingering_time (2 s) and closes.
        let sent = keep_sending(&mut s, 400);
        let at = t0.elapsed();
        assert!(sent.is_err(), "still reading after {at:?}");
        assert!(
            at > Duration::from_millis(1500) && at < Duration::from_secs(5),
            "closed after {at:?}"
        );
    }

    /// A client that went quiet in its head gets its 408 and a plain close: it is not waited for.
    #[test]
    fn a_timed_out_client_is_not_lingered_on() {
        let rw = rw();
        let mut s = TcpStream::connect(rw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n")
            .unwrap();
        let got = read_to_eof(&mut s).expect("reset instead of a close");
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408 "));
        assert!(writes_fail(&mut s), "still read after the 408");
    }

    /// A request without a body that closes (`Connection: close`) is not lingered on: the
    /// socket is closed once the answer is out.
    #[test]
    fn a_close_without_a_body_does_not_linger() {
        let rw = rw();
        let mut s = TcpStream::connect(rw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let got = read_to_eof(&mut s).unwrap();
        assert!(String::from_utf8_lossy(&got).ends_with("ok"));
        assert!(
            writes_fail(&mut s),
            "the socket is still read after the close"
        );
    }
}
