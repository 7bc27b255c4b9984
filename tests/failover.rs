//! Failover over real sockets: `proxy_next_upstream` (error, timeout, http_5xx, off, tries),
//! passive health (`max_fails`/`fail_timeout`), a backend killed and restarted under load,
//! hanging backends, and requests that must not be replayed (non-idempotent, or whose body was
//! already streamed to the failed server).

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// `upstream pool { SERVERS EXTRA }` proxied at `/` with `loc_extra` in the location.
fn pool_conf(servers: &[(SocketAddr, &str)], loc_extra: &str) -> String {
    let lines: String = servers
        .iter()
        .map(|(a, params)| format!("        server {a} {params};\n"))
        .collect();
    format!(
        "http {{\n    upstream pool {{\n{lines}    }}\n    server {{\n        listen {LISTEN};\n        location / {{\n            proxy_pass http://pool;\n            {loc_extra}\n        }}\n    }}\n}}\n"
    )
}

/// One GET, on the kept-alive connection in `conn` (opened when absent) or on a new one.
/// Never panics: a failure comes back as Err with what was seen.
fn try_get(
    addr: SocketAddr,
    conn: &mut Option<Client>,
    keep: bool,
    path: &str,
) -> Result<Response, String> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: fo\r\n\r\n");
    if !keep {
        *conn = None;
    }
    if conn.is_none() {
        *conn = Some(Client::try_connect(addr).map_err(|e| format!("{path}: connect: {e}"))?);
    }
    let c = conn.as_mut().unwrap();
    let res = c
        .try_send(req.as_bytes())
        .map_err(|e| format!("{path}: write: {e}"))
        .and_then(|()| {
            c.try_read_response(false, IO_TIMEOUT)
                .map_err(|e| format!("{path}: {e}"))
        });
    match res {
        Ok(r) if r.status == 200 && r.end == End::Complete => {
            if r.says_close() || !keep {
                *conn = None;
            }
            Ok(r)
        }
        Ok(r) => {
            *conn = None;
            Err(format!("{path}: {}", r.describe()))
        }
        Err(e) => {
            *conn = None;
            Err(e)
        }
    }
}

/// `n` GETs in runs of 10 alternating between one kept-alive connection and new connections.
/// Returns (X-Backend tags of the successes, failures).
fn run_gets(addr: SocketAddr, prefix: &str, n: usize) -> (Vec<String>, Vec<String>) {
    let mut conn = None;
    let mut tags = Vec::new();
    let mut failures = Vec::new();
    for i in 0..n {
        match try_get(addr, &mut conn, (i / 10) % 2 == 0, &format!("{prefix}/{i}")) {
            Ok(r) => tags.push(r.header("x-backend").unwrap_or("?").to_string()),
            Err(e) => failures.push(e),
        }
    }
    (tags, failures)
}

/// Accepts, reads one whole request (body included) and closes the connection without answering.
fn closing_backend() -> Backend {
    Backend::start(|c| {
        let _ = c.read_request();
    })
}

/// Accepts and reads requests but never answers (until the proxy closes the connection).
fn hanging_backend() -> Backend {
    Backend::start(|c| {
        if c.read_request().is_some() {
            c.wait_eof(Duration::from_secs(10));
        }
    })
}

/// Answers every request with `status`, tagged.
fn status_backend(status: u16, tag: &'static str) -> Backend {
    Backend::start(move |c| {
        while c.read_request().is_some() {
            if !c.respond_with(status, &[("X-Backend", tag)], b"from backend") {
                return;
            }
        }
    })
}

/// How many `connect failed` warnings ringway logged for server `addr` of upstream `pool`.
fn connect_failures(rw: &Ringway, addr: SocketAddr) -> usize {
    rw.log_count_all(&["connect failed", "upstream=pool", &format!("server={addr}")])
}

#[test]
fn default_next_upstream_hides_a_refusing_server() {
    let (a, b) = (tagged_backend("A"), tagged_backend("B"));
    let dead = dead_addr();
    // Default: proxy_next_upstream error timeout; max_fails=1 fail_timeout=10s.
    let rw = Ringway::start(&pool_conf(&[(a.addr, ""), (dead, ""), (b.addr, "")], ""));
    let (tags, failures) = run_gets(rw.addr, "/d", 300);
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(tags.len(), 300);
    let attempts = connect_failures(&rw, dead);
    eprintln!(
        "refusing server: {attempts} connect attempt(s) over 300 GETs; A {} B {}",
        a.request_count(),
        b.request_count()
    );
    // It was tried (so failover really happened) and, once failed, left alone for 10 s.
    assert_eq!(
        attempts,
        1,
        "connect attempts to the refusing server:\n{}",
        rw.log_plain()
    );
}

#[test]
fn max_fails_takes_a_failing_server_out_for_fail_timeout() {
    let (a, b) = (tagged_backend("A"), tagged_backend("B"));
    let x = closing_backend();
    let rw = Ringway::start(&pool_conf(
        &[
            (a.addr, ""),
            (x.addr, "max_fails=1 fail_timeout=2s"),
            (b.addr, ""),
        ],
        "",
    ));
    let t0 = Instant::now();
    let (_, failures) = run_gets(rw.addr, "/burst", 200);
    let burst = t0.elapsed();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(
        burst < Duration::from_millis(1800),
        "the burst took {burst:?}"
    );
    // One failure took X out for 2 s: the rest of the burst never reached it.
    assert_eq!(
        x.accepted(),
        1,
        "attempts on the failing server within fail_timeout"
    );
    assert!(
        rw.log_count("server marked down") >= 1,
        "{}",
        rw.log_plain()
    );

    // After fail_timeout it is tried again (once: it fails again and is out for another 2 s).
    thread::sleep(Duration::from_millis(2100).saturating_sub(t0.elapsed()));
    let (_, failures) = run_gets(rw.addr, "/later", 60);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        x.accepted(),
        2,
        "attempts on the failing server after fail_timeout"
    );
    eprintln!(
        "max_fails=1 fail_timeout=2s: burst of 200 in {burst:?}, then 60 more: failing server got {} connections",
        x.accepted()
    );
}

#[test]
fn killed_and_restarted_backend_under_load() {
    let (a, b) = (tagged_backend("A"), tagged_backend("B"));
    let mut c = KillableBackend::start(tagged_handler("C"));
    let params = "max_fails=1 fail_timeout=1s";
    let rw = Ringway::start_with(
        &pool_conf(&[(a.addr, params), (b.addr, params), (c.addr, params)], ""),
        2,
    );
    let addr = rw.addr;
    let stop = AtomicBool::new(false);
    let seen: Mutex<(usize, Vec<String>)> = Mutex::new((0, Vec::new()));
    let (killed_at, restarted_at, open_killed, c_at_kill, c_at_restart) = thread::scope(|s| {
        for t in 0..2 {
            let (stop, seen) = (&stop, &seen);
            s.spawn(move || {
                let mut conn = None;
                let mut ok = 0;
                let mut failures = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(4);
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    // Thread 0 keeps connections alive (runs of 10), thread 1 mostly opens new ones.
                    let keep = if t == 0 { i % 10 != 0 } else { i % 5 == 0 };
                    match try_get(addr, &mut conn, keep, &format!("/load/{t}/{i}")) {
                        Ok(_) => ok += 1,
                        Err(e) => failures.push(e),
                    }
                    i += 1;
                }
                let mut g = seen.lock().unwrap();
                g.0 += ok;
                g.1.extend(failures);
            });
        }
        thread::sleep(Duration::from_millis(500));
        let open_killed = c.kill();
        let killed_at = Instant::now();
        // A request C had read just before the kill is recorded a moment later.
        thread::sleep(Duration::from_millis(50));
        let c_at_kill = c.request_count();
        thread::sleep(Duration::from_millis(550));
        let c_at_restart = c.request_count();
        c.restart();
        let restarted_at = Instant::now();
        thread::sleep(Duration::from_millis(900));
        stop.store(true, Ordering::SeqCst);
        (
            killed_at,
            restarted_at,
            open_killed,
            c_at_kill,
            c_at_restart,
        )
    });
    let (ok, failures) = seen.into_inner().unwrap();
    let during_load_after_restart = c.request_count() - c_at_restart;
    eprintln!(
        "kill/restart: {ok} ok, {} failed; C had {c_at_kill} requests and {open_killed} open connections when killed, \
         {} while down, {during_load_after_restart} in the {:?} after its restart; A {} B {}",
        failures.len(),
        c_at_restart - c_at_kill,
        restarted_at.elapsed(),
        a.request_count(),
        b.request_count()
    );
    assert!(
        failures.is_empty(),
        "{} client requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(ok >= 200, "too little load: {ok} requests");
    assert!(c_at_kill > 0, "C got no traffic before it was killed");
    assert_eq!(
        c_at_restart, c_at_kill,
        "requests reached C while it was down"
    );
    // fail_timeout (1 s) after its last failure, C gets traffic again.
    let since_kill = killed_at.elapsed();
    thread::sleep(Duration::from_millis(1100).saturating_sub(restarted_at.elapsed()));
    let before = c.request_count();
    let (tags, failures) = run_gets(rw.addr, "/after", 120);
    assert!(failures.is_empty(), "{failures:?}");
    let to_c = c.request_count() - before;
    eprintln!("after restart ({since_kill:?} after the kill): C served {to_c} of 120");
    assert!(
        to_c >= 20 && tags.iter().filter(|t| *t == "C").count() == to_c,
        "the restarted server should take its share again: {to_c} of 120"
    );
}

#[test]
fn hanging_backend_read_timeout_fails_over_gets_but_not_posts() {
    let h = hanging_backend();
    let n = tagged_backend("N");
    // max_fails=0: H stays in rotation, so requests keep reaching it.
    let rw = Ringway::start(&pool_conf(
        &[(h.addr, "max_fails=0"), (n.addr, "")],
        "proxy_read_timeout 1s;",
    ));
    let addr = rw.addr;
    let gets: Vec<_> = (0..4)
        .map(|i| {
            thread::spawn(move || {
                let t = Instant::now();
                let (_c, r) = exchange(
                    addr,
                    format!("GET /g/{i} HTTP/1.1\r\nHost: fo\r\n\r\n").as_bytes(),
                );
                (r, t.elapsed())
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for g in gets {
        let (r, took) = g.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.header("x-backend"), Some("N"));
        slowest = slowest.max(took);
    }
    let h_gets: Vec<String> = h.requests().iter().map(|r| r.target.clone()).collect();
    let n_gets: HashSet<String> = n.requests().iter().map(|r| r.target.clone()).collect();
    eprintln!("hanging: H got GETs {h_gets:?}; slowest GET {slowest:?}");
    assert!(!h_gets.is_empty(), "no GET reached the hanging backend");
    assert!(
        h_gets.iter().all(|t| n_gets.contains(t)),
        "GETs timed out on H were not retried on N"
    );
    assert!(
        slowest >= Duration::from_millis(900),
        "a GET that hit H answered after {slowest:?}"
    );

    // POSTs until one lands on H: that one gets 504 and is not retried.
    let mut hit = None;
    for i in 0..4 {
        let body = format!("post number {i}");
        let req = format!(
            "POST /p/{i} HTTP/1.1\r\nHost: fo\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let t = Instant::now();
        let (_c, r) = exchange(addr, req.as_bytes());
        let target = format!("/p/{i}");
        if h.requests().iter().any(|q| q.target == target) {
            hit = Some((target, r, t.elapsed()));
            break;
        }
        assert_eq!(r.status, 200, "POST served by N: {}", r.describe());
    }
    let (target, r, took) = hit.expect("no POST reached the hanging backend");
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        r.status,
        504,
        "POST {target} to the hanging backend: {}",
        r.describe()
    );
    assert!(
        !n.requests().iter().any(|q| q.target == target),
        "the non-idempotent POST {target} was retried on the other backend"
    );
    eprintln!("hanging: POST {target} got 504 after {took:?}, not retried");
}

#[test]
fn http_503_listed_goes_to_the_next_server() {
    let s = status_backend(503, "S");
    let n = tagged_backend("N");
    let rw = Ringway::start(&pool_conf(
        &[(s.addr, "max_fails=0"), (n.addr, "")],
        "proxy_next_upstream error timeout http_502 http_503;",
    ));
    let (tags, failures) = run_gets(rw.addr, "/s", 40);
    assert!(failures.is_empty(), "{failures:?}");
    assert!(tags.iter().all(|t| t == "N"), "{tags:?}");
    // S answered (503) about half of the first attempts; each went on to N.
    assert!(
        s.request_count() >= 10,
        "S saw {} requests",
        s.request_count()
    );
    assert_eq!(n.request_count(), 40);
}

#[test]
fn http_503_from_the_only_server_reaches_the_client() {
    let s = status_backend(503, "S");
    let rw = Ringway::start(&pool_conf(
        &[(s.addr, "")],
        "proxy_next_upstream error timeout http_502 http_503;",
    ));
    for i in 0..3 {
        let r = rw.get(&format!("/only/{i}"));
        assert_eq!(r.status, 503, "{}", r.describe());
        assert_eq!(r.header("x-backend"), Some("S"));
        assert_eq!(r.body_str(), "from backend");
    }
    assert_eq!(s.request_count(), 3);
}

#[test]
fn unlisted_503_and_next_upstream_off_give_the_first_answer_to_the_client() {
    // 503 is not in the default list: it is passed on.
    let s = status_backend(503, "S");
    let n = tagged_backend("N");
    let rw = Ringway::start(&pool_conf(&[(s.addr, "max_fails=0"), (n.addr, "")], ""));
    let statuses: Vec<u16> = (0..10).map(|i| rw.get(&format!("/u/{i}")).status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 503).count(),
        s.request_count(),
        "{statuses:?}"
    );
    assert!(s.request_count() >= 3, "{statuses:?}");
    assert_eq!(
        n.request_count() + s.request_count(),
        10,
        "a request was retried: {statuses:?}"
    );

    // off: a refused connection is the client's 502, not a retry.
    let n = tagged_backend("N");
    let dead = dead_addr();
    let rw = Ringway::start(&pool_conf(
        &[(dead, "max_fails=0"), (n.addr, "")],
        "proxy_next_upstream off;",
    ));
    let statuses: Vec<u16> = (0..10)
        .map(|i| rw.get(&format!("/off/{i}")).status)
        .collect();
    let bad = statuses.iter().filter(|s| **s == 502).count();
    assert!(
        bad >= 3,
        "with proxy_next_upstream off some requests must fail: {statuses:?}"
    );
    assert_eq!(bad + n.request_count(), 10, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 502),
        "{statuses:?}"
    );
}

/// Sends `method /target` with a `len`-byte body to `addr` and reads the answer.
fn send_body(addr: SocketAddr, method: &str, target: &str, len: usize) -> Response {
    let body = pattern(len);
    let mut c = Client::connect(addr);
    let mut req =
        format!("{method} {target} HTTP/1.1\r\nHost: fo\r\nContent-Length: {len}\r\n\r\n")
            .into_bytes();
    req.extend_from_slice(&body);
    c.send(&req);
    c.read_response()
}

#[test]
fn streamed_body_is_not_replayed_after_the_backend_dies() {
    const BIG: usize = 200 * 1024;
    for (method, next) in [
        ("POST", ""),
        ("PUT", ""),
        ("POST", "proxy_next_upstream error timeout non_idempotent;"),
    ] {
        let d = closing_backend();
        let n = tagged_backend("N");
        let rw = Ringway::start(&pool_conf(&[(d.addr, "max_fails=0"), (n.addr, "")], next));
        let mut hit = None;
        for i in 0..3 {
            let target = format!("/up/{i}");
            let r = send_body(rw.addr, method, &target, BIG);
            if d.requests().iter().any(|q| q.target == target) {
                hit = Some((target, r));
                break;
            }
            assert_eq!(r.status, 200, "{method} served by N: {}", r.describe());
        }
        let (target, r) = hit.unwrap_or_else(|| panic!("{method} {next:?}: no request reached D"));
        thread::sleep(Duration::from_millis(100));
        let got = d
            .requests()
            .into_iter()
            .find(|q| q.target == target)
            .unwrap();
        assert_eq!(
            got.body.len(),
            BIG,
            "{method}: D did not receive the whole body"
        );
        assert!(
            !n.requests().iter().any(|q| q.target == target),
            "{method} {target} ({next:?}) was replayed on the second backend after its body had been streamed"
        );
        assert_eq!(r.status, 502, "{method} {next:?}: {}", r.describe());
    }
}

/// The contrast: a small body still in ringway's buffer may be resent with `non_idempotent`.
#[test]
fn small_post_is_replayed_only_with_non_idempotent() {
    for (next, replayed) in [
        ("", false),
        ("proxy_next_upstream error timeout non_idempotent;", true),
    ] {
        let d = closing_backend();
        let n = tagged_backend("N");
        let rw = Ringway::start(&pool_conf(&[(d.addr, "max_fails=0"), (n.addr, "")], next));
        let mut hit = None;
        for i in 0..3 {
            let target = format!("/small/{i}");
            let r = send_body(rw.addr, "POST", &target, 100);
            if d.requests().iter().any(|q| q.target == target) {
                hit = Some((target, r));
                break;
            }
        }
        let (target, r) = hit.expect("no request reached D");
        let on_n = n.requests().into_iter().find(|q| q.target == target);
        if replayed {
            assert_eq!(r.status, 200, "{}", r.describe());
            assert_eq!(on_n.expect("not replayed on N").body, pattern(100));
        } else {
            assert_eq!(r.status, 502, "{}", r.describe());
            assert!(on_n.is_none(), "POST replayed without non_idempotent");
        }
    }
}

#[test]
fn next_upstream_tries_limits_attempts() {
    // Four failing servers (they accept, read the request and close), one good one last.
    for (tries, want_status, want_attempts) in [("2", 502, 2), ("3", 502, 3), ("0", 200, 4)] {
        let dead: Vec<Backend> = (0..4).map(|_| closing_backend()).collect();
        let live = tagged_backend("L");
        let mut servers: Vec<(SocketAddr, &str)> =
            dead.iter().map(|d| (d.addr, "max_fails=0")).collect();
        servers.push((live.addr, ""));
        let rw = Ringway::start(&pool_conf(
            &servers,
            &format!("proxy_next_upstream_tries {tries};"),
        ));
        let r = rw.get("/t");
        thread::sleep(Duration::from_millis(100));
        let attempts: usize = dead.iter().map(Backend::accepted).sum();
        eprintln!(
            "tries {tries}: status {}, {attempts} failed attempts, live got {}",
            r.status,
            live.request_count()
        );
        assert_eq!(r.status, want_status, "tries {tries}: {}", r.describe());
        assert_eq!(
            attempts, want_attempts,
            "tries {tries}: attempts on failing servers"
        );
        assert_eq!(
            live.request_count(),
            usize::from(want_status == 200),
            "tries {tries}"
        );
    }
}

/// The same with servers that refuse connections (attempts counted from ringway's log).
#[test]
fn next_upstream_tries_limits_attempts_on_refusing_servers() {
    for (tries, want_status, want_attempts) in [("2", 502, 2), ("0", 200, 4)] {
        let dead: Vec<SocketAddr> = free_ports(4)
            .into_iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        let live = tagged_backend("L");
        let mut servers: Vec<(SocketAddr, &str)> =
            dead.iter().map(|d| (*d, "max_fails=0")).collect();
        servers.push((live.addr, ""));
        let rw = Ringway::start(&pool_conf(
            &servers,
            &format!("proxy_next_upstream_tries {tries};"),
        ));
        let r = rw.get("/t");
        assert_eq!(r.status, want_status, "tries {tries}: {}", r.describe());
        assert!(rw.wait_log_all(
            &["connect failed", "upstream=pool"],
            want_attempts,
            Duration::from_secs(2)
        ));
        thread::sleep(Duration::from_millis(100));
        let attempts: usize = dead.iter().map(|d| connect_failures(&rw, *d)).sum();
        assert_eq!(
            attempts,
            want_attempts,
            "tries {tries}:\n{}",
            rw.log_plain()
        );
        assert_eq!(
            live.request_count(),
            usize::from(want_status == 200),
            "tries {tries}"
        );
    }
}

#[test]
fn all_servers_down_gives_502_and_names_the_upstream() {
    let (d1, d2) = (dead_addr(), dead_addr());
    let rw = Ringway::start(&pool_conf(&[(d1, ""), (d2, "")], ""));
    let r = rw.get("/x");
    assert_eq!(r.status, 502, "{}", r.describe());
    assert!(
        rw.wait_log_all(
            &["upstream=pool", &format!("server={d1}")],
            1,
            Duration::from_secs(2)
        ),
        "{}",
        rw.log_plain()
    );
    assert!(
        rw.wait_log_all(
            &["upstream=pool", &format!("server={d2}")],
            1,
            Duration::from_secs(2)
        ),
        "{}",
        rw.log_plain()
    );
    // Both are now out for fail_timeout: the next request finds no live server.
    let r = rw.get("/y");
    assert_eq!(r.status, 502, "{}", r.describe());
    assert!(
        rw.wait_log_all(
            &["no live upstreams", "upstream=pool"],
            1,
            Duration::from_secs(2)
        ),
        "{}",
        rw.log_plain()
    );
}

#[test]
fn a_lone_server_is_never_marked_down() {
    let mut c = KillableBackend::start(tagged_handler("C"));
    c.kill();
    // Default max_fails=1 fail_timeout=10s: with several servers this would keep it out 10 s.
    let rw = Ringway::start(&pool_conf(&[(c.addr, "")], ""));
    for i in 0..3 {
        assert_eq!(rw.get(&format!("/down/{i}")).status, 502);
    }
    assert_eq!(connect_failures(&rw, c.addr), 3, "{}", rw.log_plain());
    c.restart();
    let r = rw.get("/back");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.header("x-backend"), Some("C"));
}

/// A POST to a server that refuses the connection was never sent: it goes to the next server
/// (nginx does the same without `non_idempotent`).
#[test]
fn post_to_a_refusing_server_goes_to_the_next() {
    let n = tagged_backend("N");
    let dead = dead_addr();
    let rw = Ringway::start(&pool_conf(&[(dead, "max_fails=0"), (n.addr, "")], ""));
    for i in 0..6 {
        let r = send_body(rw.addr, "POST", &format!("/rp/{i}"), 100);
        assert_eq!(r.status, 200, "POST {i}: {}", r.describe());
    }
    assert_eq!(n.request_count(), 6);
    assert!(connect_failures(&rw, dead) >= 2, "{}", rw.log_plain());
}

/// An upload larger than ringway's buffer to a server that refuses the connection was never
/// sent either: it goes to the next server whole (the soak found it answered 502).
#[test]
fn large_post_to_a_refusing_server_goes_to_the_next() {
    const BIG: usize = 300 * 1024;
    let n = tagged_backend("N");
    let dead = dead_addr();
    let rw = Ringway::start(&pool_conf(&[(dead, "max_fails=0"), (n.addr, "")], ""));
    for i in 0..4 {
        let r = send_body(rw.addr, "POST", &format!("/big/{i}"), BIG);
        assert_eq!(r.status, 200, "POST {i}: {}", r.describe());
    }
    let reqs = n.requests();
    assert_eq!(reqs.len(), 4);
    for q in &reqs {
        assert_bytes_eq(&q.body, &pattern(BIG), "body at the next server");
    }
    assert!(connect_failures(&rw, dead) >= 2, "{}", rw.log_plain());
}

/// A POST answered 503 is not sent on even when `http_503` is listed (it was sent, and POST is
/// not idempotent), unless `non_idempotent` is listed too.
#[test]
fn post_answered_503_is_retried_only_with_non_idempotent() {
    for (extra, retried) in [("", false), (" non_idempotent", true)] {
        let s = status_backend(503, "S");
        let n = tagged_backend("N");
        let rw = Ringway::start(&pool_conf(
            &[(s.addr, "max_fails=0"), (n.addr, "")],
            &format!("proxy_next_upstream error timeout http_503{extra};"),
        ));
        let mut hit = None;
        for i in 0..3 {
            let target = format!("/p503/{i}");
            let r = send_body(rw.addr, "POST", &target, 100);
            if s.requests().iter().any(|q| q.target == target) {
                hit = Some((target, r));
                break;
            }
        }
        let (target, r) = hit.expect("no POST reached S");
        let on_n = n.requests().iter().any(|q| q.target == target);
        if retried {
            assert_eq!(r.status, 200, "{extra:?}: {}", r.describe());
            assert!(on_n);
        } else {
            assert_eq!(r.status, 503, "{extra:?}: {}", r.describe());
            assert!(
                !on_n,
                "POST answered 503 was sent on without non_idempotent"
            );
        }
    }
}

/// An upstream closes a kept-alive connection right after answering (its keep-alive timeout, a
/// restart). A POST that comes 30 ms later must not be written onto that dead pooled connection:
/// nginx drops such a connection from its cache as soon as the close arrives and dials anew.
#[test]
fn post_after_the_upstream_closed_its_pooled_connection_succeeds() {
    // Answers one request per connection (keep-alive offered), then closes it.
    let b = Backend::start(|c| {
        if c.read_request().is_some() {
            c.respond(200, b"ok");
        }
    });
    let rw = Ringway::start(&pool_conf(&[(b.addr, "")], ""));
    for i in 0..5 {
        let r = rw.get(&format!("/g{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        std::thread::sleep(Duration::from_millis(30));
        let target = format!("/p{i}");
        let r = send_body(rw.addr, "POST", &target, 5);
        assert_eq!(r.status, 200, "POST {i}: {}", r.describe());
        assert!(
            b.requests()
                .iter()
                .any(|q| q.method == "POST" && q.target == target),
            "the POST reached the backend"
        );
    }
}

/// `proxy_next_upstream_timeout` bounds the whole search: two hanging servers (1 s read timeout
/// each) before a good one exceed 1.5 s, so the client gets the timeout's 504; without the limit
/// the third server answers.
#[test]
fn next_upstream_timeout_bounds_the_search() {
    for (limit, want) in [("proxy_next_upstream_timeout 1500ms;", 504), ("", 200)] {
        let h1 = hanging_backend();
        let h2 = hanging_backend();
        let good = tagged_backend("G");
        let rw = Ringway::start(&pool_conf(
            &[
                (h1.addr, "max_fails=0"),
                (h2.addr, "max_fails=0"),
                (good.addr, ""),
            ],
            &format!("proxy_read_timeout 1s; {limit}"),
        ));
        let t = Instant::now();
        let r = rw.get("/t");
        let took = t.elapsed();
        assert_eq!(r.status, want, "{limit:?}: {}", r.describe());
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
            "{limit:?}: took {took:?}"
        );
        assert_eq!(good.request_count(), usize::from(want == 200));
    }
}

/// A server whose accept queue is full never completes the handshake: `proxy_connect_timeout`
/// moves the request to the next server; alone, that server costs the client a 504.
#[test]
fn connect_timeout_moves_to_the_next_server() {
    use socket2::{Domain, Socket, Type};
    let full = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    full.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    full.listen(0).unwrap();
    let addr = full.local_addr().unwrap().as_socket().unwrap();
    // Fill the accept queue (never accepted): further handshakes get no answer.
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    let good = tagged_backend("G");
    let rw = Ringway::start(&pool_conf(
        &[(addr, "max_fails=0"), (good.addr, "")],
        "proxy_connect_timeout 500ms;",
    ));
    let t = Instant::now();
    let r = rw.get("/c");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert!(
        t.elapsed() >= Duration::from_millis(450),
        "{:?}",
        t.elapsed()
    );

    let alone = Ringway::start(&pool_conf(&[(addr, "")], "proxy_connect_timeout 500ms;"));
    let r = alone.get("/c");
    assert_eq!(r.status, 504, "{}", r.describe());
    drop(fillers);
}

/// A backend that answers after `delay`.
fn slow_backend(delay: Duration) -> Backend {
    Backend::start(move |c| {
        while c.read_request().is_some() {
            thread::sleep(delay);
            if !c.respond(200, b"slow") {
                return;
            }
        }
    })
}

/// Runs `n` GETs at once; returns (status, seconds taken) for each.
fn concurrent_gets(rw: &Ringway, n: usize) -> Vec<(u16, f64)> {
    let addr = rw.addr;
    let handles: Vec<_> = (0..n)
        .map(|i| {
            thread::spawn(move || {
                let t = Instant::now();
                let (_c, r) = exchange(
                    addr,
                    format!("GET /q{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
                );
                (r.status, t.elapsed().as_secs_f64())
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn max_conns_with_a_queue_waits_for_a_free_server() {
    let b = slow_backend(Duration::from_millis(400));
    // One shard, one request at a time to the server, up to two waiting for up to 3 s.
    let rw = Ringway::start(&format!(
        "http {{ upstream pool {{ server {} max_conns=1; queue 2 timeout=3s; }}
            server {{ listen {LISTEN}; location / {{ proxy_pass http://pool; }} }} }}",
        b.addr
    ));
    let mut got = concurrent_gets(&rw, 3);
    got.sort_by(|a, b| a.1.total_cmp(&b.1));
    assert!(got.iter().all(|(s, _)| *s == 200), "{got:?}");
    // Served one after another: the last waited for the two before it.
    assert!(got[2].1 >= 1.1, "{got:?}");
    assert_eq!(b.accepted(), 1, "one connection at a time, reused");

    // A full queue and a timed-out wait are 502s.
    let full = concurrent_gets(&rw, 4);
    assert_eq!(
        full.iter().filter(|(s, _)| *s == 502).count(),
        1,
        "{full:?}"
    );
}

#[test]
fn max_conns_queue_timeout_and_no_queue() {
    let b = slow_backend(Duration::from_millis(800));
    let rw = Ringway::start(&format!(
        "http {{ upstream pool {{ server {} max_conns=1; queue 5 timeout=200ms; }}
            server {{ listen {LISTEN}; location / {{ proxy_pass http://pool; }} }} }}",
        b.addr
    ));
    let got = concurrent_gets(&rw, 2);
    let late = got.iter().find(|(s, _)| *s == 502).expect("one times out");
    assert!(late.1 >= 0.15 && late.1 < 0.7, "{got:?}");

    let b2 = slow_backend(Duration::from_millis(400));
    let rw = Ringway::start(&format!(
        "http {{ upstream pool {{ server {} max_conns=1; }}
            server {{ listen {LISTEN}; location / {{ proxy_pass http://pool; }} }} }}",
        b2.addr
    ));
    let got = concurrent_gets(&rw, 2);
    let rejected = got
        .iter()
        .find(|(s, _)| *s == 502)
        .expect("no queue: at once");
    assert!(rejected.1 < 0.3, "{got:?}");
}

/// The failover proof with active checks: under steady GETs (kept-alive and new
/// connections, two shards), one of three backends dies and later comes back. No client request
/// fails, and the restarted server gets traffic again only once its health check has passed.
#[test]
fn killed_backend_comes_back_after_its_health_check_passes() {
    let (a, b) = (tagged_backend("A"), tagged_backend("B"));
    let mut c = KillableBackend::start(tagged_handler("C"));
    // max_fails=0: passive health off, so only the active check takes C out and brings it back.
    let conf = format!(
        "http {{
            upstream pool {{
                server {} max_fails=0;
                server {} max_fails=0;
                server {} max_fails=0;
                health_check interval=200ms fails=1 passes=2 uri=/healthz timeout=300ms;
            }}
            server {{ listen {LISTEN}; location / {{ proxy_pass http://pool; }} }}
        }}",
        a.addr, b.addr, c.addr
    );
    let rw = Ringway::start_with(&conf, 2);
    let addr = rw.addr;
    let stop = AtomicBool::new(false);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let ok = std::sync::atomic::AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..2 {
            let (stop, failures, ok) = (&stop, &failures, &ok);
            s.spawn(move || {
                let mut conn = None;
                let deadline = Instant::now() + Duration::from_secs(6);
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    let keep = t == 0;
                    match try_get(addr, &mut conn, keep, &format!("/hc/{t}/{i}")) {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                    i += 1;
                }
            });
        }
        thread::sleep(Duration::from_millis(400));
        c.kill();
        assert!(
            rw.wait_log_all(&["health check failed"], 1, Duration::from_secs(3)),
            "{}",
            rw.log_plain()
        );
        let down_count = c.request_count();
        c.restart();
        let restarted = Instant::now();
        assert!(
            rw.wait_log_all(&["health check passed"], 1, Duration::from_secs(3)),
            "{}",
            rw.log_plain()
        );
        assert!(
            restarted.elapsed() >= Duration::from_millis(300),
            "two passing probes needed"
        );
        // Load traffic (not probes) reached C again after the check passed.
        thread::sleep(Duration::from_millis(500));
        let load_after = c
            .requests()
            .iter()
            .skip(down_count)
            .filter(|r| r.target.starts_with("/hc/"))
            .count();
        assert!(
            load_after > 0,
            "C got no load traffic after passing its check"
        );
        stop.store(true, Ordering::SeqCst);
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(ok.load(Ordering::SeqCst) >= 200, "too little load");
}
