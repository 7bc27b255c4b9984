//! Configuration reload: SIGHUP and `ringway -s reload` switch routes for new requests, a broken
//! config keeps the running one, listen addresses are opened and closed, in-flight requests
//! finish on the old configuration, and no request fails while reloads happen under load.

mod common;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Generation `n`: `/` goes to `a` when n is even, to `b` when odd, with `X-Gen: n`; odd
/// generations also have `location /odd/` (a route that comes and goes).
fn gen_conf(n: usize, a: SocketAddr, b: SocketAddr) -> String {
    let target = if n.is_multiple_of(2) { a } else { b };
    let odd = if n % 2 == 1 {
        "location /odd/ { return 200 \"odd\"; }"
    } else {
        ""
    };
    format!(
        "http {{\n  server {{\n    listen {LISTEN};\n    location / {{\n      proxy_pass http://{target};\n      proxy_set_header X-Gen {n};\n    }}\n    location = /gen {{ return 200 \"gen {n}\"; }}\n    {odd}\n  }}\n}}\n"
    )
}

/// (backend tag, generation) of a proxied 200.
#[track_caller]
fn served_by(r: &Response) -> (String, String) {
    assert_eq!(r.status, 200, "{}", r.describe());
    (
        r.header("x-backend").unwrap_or("?").to_string(),
        r.header("x-gen").unwrap_or("?").to_string(),
    )
}

fn pair(tag: &str, generation: usize) -> (String, String) {
    (tag.to_string(), generation.to_string())
}

#[test]
fn sighup_switches_routes_for_new_requests() {
    let a = tagged_backend("A");
    let b = tagged_backend("B");
    let rw = Ringway::start(&gen_conf(0, a.addr, b.addr));
    assert_eq!(served_by(&rw.get("/x")), pair("A", 0));
    assert_eq!(rw.get("/odd/1").header("x-backend"), Some("A"));

    rw.reload_with(&gen_conf(1, a.addr, b.addr), &[]);
    assert_eq!(served_by(&rw.get("/x")), pair("B", 1));
    let r = rw.get("/odd/1");
    assert_eq!((r.status, r.body_str().as_str()), (200, "odd"));
    assert_eq!(rw.get("/gen").body_str(), "gen 1");

    rw.reload_with(&gen_conf(2, a.addr, b.addr), &[]);
    assert_eq!(served_by(&rw.get("/x")), pair("A", 2));
    assert_eq!(
        served_by(&rw.get("/odd/1")),
        pair("A", 2),
        "the route went away"
    );
}

#[test]
fn broken_reload_keeps_the_running_config() {
    let a = tagged_backend("A");
    let b = tagged_backend("B");
    let mut rw = Ringway::start(&gen_conf(0, a.addr, b.addr));
    assert_eq!(served_by(&rw.get("/")), pair("A", 0));
    // A syntax error, an unknown directive, and an error found only when compiling (regex).
    let broken = [
        gen_conf(1, a.addr, b.addr).replacen('}', "", 1),
        gen_conf(1, a.addr, b.addr).replace(
            "location = /gen",
            "no_such_directive on;\n    location = /gen",
        ),
        gen_conf(1, a.addr, b.addr).replace(
            "location = /gen",
            "location ~ \"([a-\" { return 200; }\n    location = /gen",
        ),
    ];
    for (i, text) in broken.iter().enumerate() {
        let failed = rw.log_count("reload failed");
        rw.write_config_text(text, &[]);
        rw.signal(libc::SIGHUP);
        assert!(
            rw.wait_log("reload failed", failed + 1, Duration::from_secs(5)),
            "broken config {i}: no error logged; stderr:\n{}",
            rw.stderr()
        );
        assert!(rw.is_running(), "ringway exited on a broken reload");
        // Old connections and new ones are still served by the old config.
        assert_eq!(
            served_by(&rw.get("/")),
            pair("A", 0),
            "after broken config {i}"
        );
        assert_eq!(rw.get("/gen").body_str(), "gen 0");
    }
    assert_eq!(rw.log_count(RELOADED), 0);
    let err = rw.stderr();
    assert!(err.contains("keeping the running configuration"), "{err}");
    // A good config afterwards still reloads.
    rw.reload_with(&gen_conf(1, a.addr, b.addr), &[]);
    assert_eq!(served_by(&rw.get("/")), pair("B", 1));
}

#[test]
fn dash_s_reload_and_stop_use_the_pid_file() {
    let a = tagged_backend("A");
    let b = tagged_backend("B");
    let pid_dir = temp_dir("pid");
    let pid_file = pid_dir.join("ringway.pid");
    let with_pid = |n: usize| {
        format!(
            "pid {};\n{}",
            pid_file.display(),
            gen_conf(n, a.addr, b.addr)
        )
    };
    let mut rw = Ringway::start(&with_pid(0));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pid_file.exists() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let pid = std::fs::read_to_string(&pid_file).expect("pid file written");
    assert_eq!(pid.trim(), rw.pid().to_string());
    assert_eq!(served_by(&rw.get("/")), pair("A", 0));

    rw.write_config_text(&with_pid(1), &[]);
    let (st, _o, e) = run_ringway(&[
        "-s".as_ref(),
        "reload".as_ref(),
        "-c".as_ref(),
        rw.config_path.as_os_str(),
    ]);
    assert!(st.success(), "ringway -s reload: {e}");
    assert!(
        rw.wait_log(RELOADED, 1, Duration::from_secs(5)),
        "{}",
        rw.stderr()
    );
    assert_eq!(served_by(&rw.get("/")), pair("B", 1));

    // A broken config behind `-s reload --pid`: the signal goes out, the old config stays.
    rw.write_config_text(
        "http { server { listen @LISTEN@; location / { proxy_pass ; } } }",
        &[],
    );
    let pid_arg = pid_file.as_os_str();
    let (st, _o, e) = run_ringway(&[
        "-s".as_ref(),
        "reload".as_ref(),
        "--pid".as_ref(),
        pid_arg,
        "-c".as_ref(),
        rw.config_path.as_os_str(),
    ]);
    assert!(st.success(), "ringway -s reload --pid: {e}");
    assert!(
        rw.wait_log("reload failed", 1, Duration::from_secs(5)),
        "{}",
        rw.stderr()
    );
    assert_eq!(served_by(&rw.get("/")), pair("B", 1));

    rw.write_config_text(&with_pid(2), &[]);
    let (st, _o, e) = run_ringway(&[
        "-s".as_ref(),
        "stop".as_ref(),
        "-c".as_ref(),
        rw.config_path.as_os_str(),
    ]);
    assert!(st.success(), "ringway -s stop: {e}");
    let st = rw
        .wait_exit(Duration::from_secs(5))
        .expect("ringway exits on -s stop");
    assert!(st.success(), "exit status {st}");
    assert!(!pid_file.exists(), "pid file removed at exit");
    let _ = std::fs::remove_dir_all(pid_dir);
}

fn refuses(addr: SocketAddr, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn reload_opens_added_and_closes_removed_listen_addresses() {
    let a = tagged_backend("A");
    let conf1 = format!(
        "http {{ server {{ listen {LISTEN}; location / {{ proxy_pass http://{}; }} }} }}",
        a.addr
    );
    // Two shards: each has its own SO_REUSEPORT listener to open and close.
    let rw = Ringway::start_with(&conf1, 2);
    let addr1 = rw.addr;
    let addr2 = SocketAddr::from(([127, 0, 0, 1], free_port()));
    assert!(refuses(addr2, Duration::ZERO));

    let conf2 = format!(
        "http {{\n server {{ listen {LISTEN}; location / {{ proxy_pass http://{a}; }} }}\n server {{ listen @LISTEN2@; location / {{ return 200 \"two\"; }} }}\n}}",
        a = a.addr
    );
    rw.reload_with(&conf2, &[addr2]);
    for _ in 0..6 {
        let (_c, r) = exchange(addr2, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!((r.status, r.body_str().as_str()), (200, "two"));
        assert_eq!(rw.get("/").header("x-backend"), Some("A"));
    }

    let conf3 = format!(
        "http {{ server {{ listen {addr2}; location / {{ return 200 \"only two\"; }} }} }}"
    );
    rw.reload_with(&conf3, &[]);
    assert!(
        refuses(addr1, Duration::from_secs(3)),
        "the removed address {addr1} still accepts connections"
    );
    for _ in 0..6 {
        let (_c, r) = exchange(addr2, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.body_str(), "only two");
    }
}

/// An address new to the config that another ringway already serves fails the reload (as a
/// bind error fails nginx's): with SO_REUSEPORT both would otherwise share its connections.
#[test]
fn a_reload_adding_an_address_another_ringway_serves_fails() {
    let one = |body: &str| {
        format!("http {{ server {{ listen {LISTEN}; location / {{ return 200 \"{body}\"; }} }} }}")
    };
    let other = Ringway::start(&one("other"));
    let rw = Ringway::start(&one("mine"));
    let conf2 = format!(
        "http {{ server {{ listen {LISTEN}; listen {}; location / {{ return 200 \"mine\"; }} }} }}",
        other.addr
    );
    rw.write_config_text(&conf2, &[]);
    rw.signal(libc::SIGHUP);
    assert!(
        rw.wait_log("reload failed", 1, Duration::from_secs(5)),
        "{}",
        rw.stderr()
    );
    assert_eq!(rw.log_count("Address already in use"), 1, "{}", rw.stderr());
    // Every connection to the other's address still reaches the other, and this one serves on.
    for _ in 0..8 {
        let (_c, r) = exchange(other.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.body_str(), "other");
    }
    assert_eq!(rw.get("/").body_str(), "mine");
}

#[test]
fn keep_alive_connection_on_a_removed_address_is_not_served() {
    let conf1 =
        format!("http {{ server {{ listen {LISTEN}; location / {{ return 200 \"one\"; }} }} }}");
    let rw = Ringway::start(&conf1);
    let addr2 = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut old = rw.connect();
    old.send(b"GET /ka HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(old.read_response().body_str(), "one");
    let conf2 =
        format!("http {{ server {{ listen {addr2}; location / {{ return 200 \"two\"; }} }} }}");
    rw.reload_with(&conf2, &[]);
    assert!(refuses(rw.addr, Duration::from_secs(3)));
    // nginx's old workers close idle keep-alive connections on reload; ringway may also close
    // it when the next request arrives, but must not answer it with a config that dropped the
    // address.
    if old.closed_within(Duration::from_millis(300)) {
        return;
    }
    let _ = old.try_send(b"GET /ka HTTP/1.1\r\nHost: x\r\n\r\n");
    if let Ok(r) = old.try_read_response(false, Duration::from_secs(2)) {
        panic!(
            "a request on a removed address was answered: {}",
            r.describe()
        );
    }
}

#[test]
fn in_flight_request_finishes_on_the_old_config() {
    let slow = Backend::start(|c| {
        while let Some(_req) = c.read_request() {
            thread::sleep(Duration::from_millis(600));
            if !c.respond_with(200, &[("X-Backend", "slow")], b"slow done") {
                return;
            }
        }
    });
    let b = tagged_backend("B");
    let rw = Ringway::start(&gen_conf(0, slow.addr, b.addr));
    let mut c = rw.connect();
    c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(slow.wait_for(Duration::from_secs(5), |s| s.request_count() == 1));
    rw.reload_with(&gen_conf(1, slow.addr, b.addr), &[]);
    // New requests already use the new config while the old one is still in flight.
    assert_eq!(served_by(&rw.get("/")), pair("B", 1));
    let r = c.read_response();
    assert_eq!((r.status, r.body_str().as_str()), (200, "slow done"));
    assert_eq!(slow.requests()[0].header("x-gen"), Some("0"));
}

#[test]
fn keep_alive_request_after_reload_uses_the_new_config() {
    let a = tagged_backend("A");
    let b = tagged_backend("B");
    let rw = Ringway::start(&gen_conf(0, a.addr, b.addr));
    let mut c = rw.connect();
    c.send(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(served_by(&c.read_response()), pair("A", 0));
    rw.reload_with(&gen_conf(1, a.addr, b.addr), &[]);
    thread::sleep(Duration::from_millis(100));
    // Either ringway closed the idle connection at the reload (as nginx's old workers do) or
    // the next request on it is routed by the configuration in force when it arrives.
    if c.closed_within(Duration::from_millis(100)) {
        return;
    }
    c.send(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(served_by(&c.read_response()), pair("B", 1));
}

/// What one load thread saw: (time sent, generation) of each response, and its failures.
#[derive(Default)]
struct Seen {
    gens: Vec<(Instant, usize)>,
    failures: Vec<String>,
}

/// Checks a load response: a complete 200 from the backend its generation routes to.
fn check(r: Result<Response, String>, what: &str) -> Result<(usize, bool), String> {
    let r = r.map_err(|e| format!("{what}: no response: {e}"))?;
    if r.status != 200 || r.end != End::Complete {
        return Err(format!("{what}: {}", r.describe()));
    }
    let generation: usize = r
        .header("x-gen")
        .and_then(|g| g.parse().ok())
        .ok_or_else(|| format!("{what}: no X-Gen: {}", r.describe()))?;
    let want = if generation.is_multiple_of(2) {
        "A"
    } else {
        "B"
    };
    if r.header("x-backend") != Some(want) {
        return Err(format!(
            "{what}: generation {generation} must be served by {want}: {}",
            r.describe()
        ));
    }
    Ok((generation, r.says_close()))
}

#[test]
fn twenty_reloads_under_load_fail_no_request() {
    const RELOADS: usize = 20;
    const MAX_PER_THREAD: usize = 20_000;
    let a = tagged_backend("A");
    let b = tagged_backend("B");
    let rw = Ringway::start_with(&gen_conf(0, a.addr, b.addr), 2);
    let addr = rw.addr;
    let stop = AtomicBool::new(false);
    let total = AtomicUsize::new(0);
    let hard_deadline = Instant::now() + Duration::from_secs(25);
    let results: Mutex<Vec<(bool, Seen)>> = Mutex::new(Vec::new());
    let mut last_reload = Instant::now();

    thread::scope(|s| {
        // 4 threads looping over keep-alive connections.
        for t in 0..4 {
            let (stop, total, results) = (&stop, &total, &results);
            s.spawn(move || {
                let mut seen = Seen::default();
                let mut conn: Option<Client> = None;
                for i in 0..MAX_PER_THREAD {
                    if stop.load(Ordering::SeqCst) || Instant::now() > hard_deadline {
                        break;
                    }
                    if conn.is_none() {
                        match Client::try_connect(addr) {
                            Ok(c) => conn = Some(c),
                            Err(e) => {
                                seen.failures.push(format!("ka{t} #{i}: connect: {e}"));
                                continue;
                            }
                        }
                    }
                    let c = conn.as_mut().unwrap();
                    let sent = Instant::now();
                    let req = format!("GET /ka/{t}/{i} HTTP/1.1\r\nHost: load\r\n\r\n");
                    let res = match c.try_send(req.as_bytes()) {
                        Ok(()) => c.try_read_response(false, IO_TIMEOUT),
                        Err(e) => Err(format!("write: {e}")),
                    };
                    total.fetch_add(1, Ordering::SeqCst);
                    match check(res, &format!("ka{t} #{i}")) {
                        Ok((g, close)) => {
                            seen.gens.push((sent, g));
                            if close {
                                conn = None;
                            }
                        }
                        Err(e) => {
                            seen.failures.push(e);
                            conn = None;
                        }
                    }
                }
                results.lock().unwrap().push((true, seen));
            });
        }
        // 2 threads opening a new connection per request (one says `Connection: close`).
        for t in 0..2 {
            let (stop, total, results) = (&stop, &total, &results);
            s.spawn(move || {
                let mut seen = Seen::default();
                let close = if t == 0 { "Connection: close\r\n" } else { "" };
                for i in 0..MAX_PER_THREAD {
                    if stop.load(Ordering::SeqCst) || Instant::now() > hard_deadline {
                        break;
                    }
                    let sent = Instant::now();
                    total.fetch_add(1, Ordering::SeqCst);
                    let res = match Client::try_connect(addr) {
                        Ok(mut c) => {
                            let req =
                                format!("GET /new/{t}/{i} HTTP/1.1\r\nHost: load\r\n{close}\r\n");
                            match c.try_send(req.as_bytes()) {
                                Ok(()) => c.try_read_response(false, IO_TIMEOUT),
                                Err(e) => Err(format!("write: {e}")),
                            }
                        }
                        Err(e) => Err(format!("connect: {e}")),
                    };
                    match check(res, &format!("new{t} #{i}")) {
                        Ok((g, _)) => seen.gens.push((sent, g)),
                        Err(e) => seen.failures.push(e),
                    }
                }
                results.lock().unwrap().push((false, seen));
            });
        }
        // The reloader: 20 reloads, one every 100–150 ms, each switching the route.
        thread::sleep(Duration::from_millis(150));
        for n in 1..=RELOADS {
            let started = Instant::now();
            rw.reload_with(&gen_conf(n, a.addr, b.addr), &[]);
            last_reload = Instant::now();
            let period = Duration::from_millis(100 + (n as u64 * 17) % 51);
            thread::sleep(period.saturating_sub(started.elapsed()));
        }
        // Let the load run on the last generation for a while, then stop it.
        thread::sleep(Duration::from_millis(400));
        stop.store(true, Ordering::SeqCst);
    });

    let results = results.into_inner().unwrap();
    let requests = total.load(Ordering::SeqCst);
    let failures: Vec<&String> = results.iter().flat_map(|(_, s)| &s.failures).collect();
    eprintln!(
        "load during {RELOADS} reloads: {requests} requests ({} keep-alive, {} new-connection), {} failed",
        results
            .iter()
            .filter(|(ka, _)| *ka)
            .map(|(_, s)| s.gens.len())
            .sum::<usize>(),
        results
            .iter()
            .filter(|(ka, _)| !*ka)
            .map(|(_, s)| s.gens.len())
            .sum::<usize>(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {requests} requests failed during reloads; first ones: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        requests >= 200,
        "too little load to prove anything: {requests}"
    );
    assert_eq!(rw.log_count(RELOADED), RELOADS);

    let mut all_gens = std::collections::BTreeSet::new();
    let settled = last_reload + Duration::from_millis(150);
    for (ka, seen) in &results {
        all_gens.extend(seen.gens.iter().map(|(_, g)| *g));
        if *ka {
            // One connection stays on one shard: its generations never go back.
            for w in seen.gens.windows(2) {
                assert!(
                    w[0].1 <= w[1].1,
                    "a keep-alive connection went back from generation {} to {}",
                    w[0].1,
                    w[1].1
                );
            }
        }
        // Requests sent once the last reload settled (150 ms after shard 0 logged it, time for
        // the other shard too) come from the last generation (a keep-alive connection may still
        // serve one request on the generation it held while waiting for it).
        let late: Vec<usize> = seen
            .gens
            .iter()
            .filter(|(t, _)| *t > settled)
            .map(|(_, g)| *g)
            .collect();
        assert!(
            !late.is_empty(),
            "the load stopped before the last reload settled"
        );
        let skip = usize::from(*ka);
        assert!(
            late.iter().skip(skip).all(|g| *g == RELOADS),
            "requests after the last reload were served by older generations: {late:?}"
        );
    }
    assert!(
        all_gens.len() >= RELOADS / 2,
        "the load did not overlap the reloads: generations seen {all_gens:?}"
    );
    // Both routes carried load, and fresh requests now get the last generation.
    assert!(a.request_count() > 0 && b.request_count() > 0);
    assert_eq!(served_by(&rw.get("/after")), pair("A", RELOADS));
}

/// A reload applies a kept address's new listen options to its open sockets, as nginx does:
/// `deferred` on, then off again, seen in when a silent connection is closed (a deferred one is
/// held by the kernel for about a second before client_header_timeout starts).
#[test]
fn reload_turns_deferred_accept_on_and_off() {
    let conf = |deferred: bool| {
        format!(
            "http {{ server {{ listen {LISTEN}{}; client_header_timeout 1s; location / {{ return 200 \"ok\"; }} }} }}",
            if deferred { " deferred" } else { "" }
        )
    };
    let rw = Ringway::start(&conf(false));
    let silent_for = || rw.silent_connection_lifetime(Duration::from_secs(6));
    let early = Duration::from_millis(1600);
    let dt = silent_for();
    assert!(dt < early, "closed after {dt:?} without deferred");
    rw.reload_with(&conf(true), &[]);
    assert_eq!(rw.get("/").body, b"ok");
    let dt = silent_for();
    assert!(
        dt >= Duration::from_millis(1800),
        "closed after {dt:?} with deferred (about 2 s expected)"
    );
    rw.reload_with(&conf(false), &[]);
    assert_eq!(rw.get("/").body, b"ok");
    let dt = silent_for();
    assert!(
        dt < early,
        "closed after {dt:?} once deferred was off again"
    );
}

/// A reload that changes a kept address's `backlog` applies it to every shard's open socket
/// (`listen()` again, as nginx does): `ss` shows a listener's backlog as its Send-Q.
#[test]
fn reload_applies_a_changed_backlog() {
    let conf = |backlog: u32| {
        format!(
            "http {{ server {{ listen {LISTEN} backlog={backlog}; location / {{ return 200 \"ok\"; }} }} }}"
        )
    };
    let rw = Ringway::start_with(&conf(77), 2);
    let backlogs = || {
        let out = std::process::Command::new("ss")
            .args(["-Hltn", &format!("sport = :{}", rw.addr.port())])
            .output()
            .expect("run ss (iproute2)");
        assert!(out.status.success(), "ss failed: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut q: Vec<u32> = text
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
            .collect();
        q.sort_unstable();
        (q, text)
    };
    let (q, text) = backlogs();
    assert_eq!(q, [77, 77], "one socket per shard:\n{text}");
    rw.reload_with(&conf(99), &[]);
    assert_eq!(rw.get("/").body, b"ok");
    let (q, text) = backlogs();
    assert_eq!(q, [99, 99], "after the reload:\n{text}");
}
