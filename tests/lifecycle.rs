//! The process: `-t` on good and bad configs, start-up failures, several workers, and the
//! signals as nginx operators send them: SIGQUIT a graceful stop (in-flight requests finish),
//! SIGTERM and SIGINT a fast one (connections closed at once), SIGUSR1 and SIGUSR2 logged while
//! ringway keeps serving.

mod common;

use std::ffi::OsStr;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

fn test_config(text: &str) -> (std::process::ExitStatus, String, String, std::path::PathBuf) {
    let dir = temp_dir("t");
    let path = write_config(&dir, text);
    let (st, out, err) = run_ringway(&[OsStr::new("-t"), OsStr::new("-c"), path.as_os_str()]);
    let _ = std::fs::remove_dir_all(&dir);
    (st, out, err, path)
}

#[test]
fn dash_t_accepts_a_good_config() {
    let (st, _out, err, path) = test_config(
        "http {\n upstream app { server 127.0.0.1:9; keepalive 4; }\n server {\n listen 127.0.0.1:1;\n location / { proxy_pass http://app; proxy_set_header X-A b; }\n location = /health { return 200 \"ok\"; }\n }\n}\n",
    );
    assert!(st.success(), "exit {st}; stderr:\n{err}");
    assert_eq!(st.code(), Some(0));
    assert!(err.contains("syntax is ok"), "{err}");
    assert!(err.contains("test is successful"), "{err}");
    assert!(
        err.contains(&path.display().to_string()),
        "message should name the file: {err}"
    );
}

#[test]
fn dash_t_does_not_bind_the_listen_address() {
    // Testing a config must work while the address is in use (e.g. by the running instance).
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (st, _out, err, _) = test_config(&format!(
        "http {{ server {{ listen {addr}; location / {{ return 200 \"x\"; }} }} }}\n"
    ));
    assert!(st.success(), "exit {st}; stderr:\n{err}");
}

#[test]
fn dash_t_rejects_an_unknown_directive() {
    let (st, _out, err, path) =
        test_config("http {\n server {\n listen 127.0.0.1:1;\n bogus_directive on;\n }\n}\n");
    assert_eq!(st.code(), Some(1), "stderr:\n{err}");
    assert!(
        err.contains("bogus_directive"),
        "the error should name the directive: {err}"
    );
    assert!(
        err.contains(&path.display().to_string()),
        "the error should name the file: {err}"
    );
    assert!(
        err.contains(":4"),
        "the error should give the line (4): {err}"
    );
    assert!(err.contains("test failed"), "{err}");
}

#[test]
fn dash_t_rejects_syntax_errors() {
    for (text, what) in [
        (
            "http {\n server {\n listen 127.0.0.1:1;\n",
            "unclosed block",
        ),
        (
            "http { server { listen 127.0.0.1:1 } }\n",
            "missing semicolon",
        ),
        (
            "http { server { listen 127.0.0.1:1; location / { return 200 \"unterminated; } } }\n",
            "unterminated string",
        ),
        (
            "http { server { listen 127.0.0.1:1; location / { proxy_pass ftp://127.0.0.1:9; } } }\n",
            "bad proxy_pass scheme",
        ),
        (
            "http { server { listen 127.0.0.1:1; location / { proxy_read_timeout abc; proxy_pass http://127.0.0.1:9; } } }\n",
            "bad time",
        ),
        (
            "http { upstream u { server 127.0.0.1:9; keepalive x; } server { listen 127.0.0.1:1; } }\n",
            "bad keepalive",
        ),
        (
            "http { server { listen notanaddress:zz; } }\n",
            "bad listen",
        ),
    ] {
        let (st, _out, err, _) = test_config(text);
        assert_eq!(
            st.code(),
            Some(1),
            "{what}: expected exit 1; stderr:\n{err}"
        );
        assert!(err.contains("test failed"), "{what}: {err}");
    }
}

#[test]
fn dash_t_on_missing_file() {
    let dir = temp_dir("missing");
    let path = dir.join("nope.conf");
    let (st, _out, err) = run_ringway(&[OsStr::new("-t"), OsStr::new("-c"), path.as_os_str()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(err.contains("nope.conf"), "{err}");
}

/// Runs ringway in the foreground on `config` (one worker) until it exits: (status, stderr).
/// For starts that must fail.
fn run_to_exit(config: &str) -> (std::process::ExitStatus, String) {
    let dir = temp_dir("start");
    let path = write_config(&dir, config);
    let (st, _out, err) = run_ringway(&[
        OsStr::new("-c"),
        path.as_os_str(),
        OsStr::new("--workers"),
        OsStr::new("1"),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    (st, err)
}

#[test]
fn start_with_bad_config_exits_nonzero() {
    let (st, err) = run_to_exit("http { server { listen 127.0.0.1:1; what_is_this; } }\n");
    assert!(!st.success(), "{err}");
    assert!(err.contains("what_is_this"), "{err}");
}

#[test]
fn start_on_busy_address_exits_nonzero() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (st, err) = run_to_exit(&format!(
        "http {{ server {{ listen {addr}; location / {{ return 200 \"x\"; }} }} }}\n"
    ));
    assert!(
        !st.success(),
        "ringway started on an address in use; stderr: {err}"
    );
    drop(l);
}

/// ringway's listeners use SO_REUSEPORT, which would let a second instance bind a running one's
/// address and take part of its connections: it refuses to start there instead, as nginx does.
#[test]
fn a_second_ringway_on_a_running_ones_address_refuses_to_start() {
    let first = Ringway::start(&format!(
        "http {{ server {{ listen {LISTEN}; location / {{ return 200 \"first\"; }} }} }}\n"
    ));
    let (st, err) = run_to_exit(&format!(
        "http {{ server {{ listen {}; location / {{ return 200 \"second\"; }} }} }}\n",
        first.addr
    ));
    assert!(!st.success(), "a second ringway started on {}", first.addr);
    assert!(err.contains("Address already in use"), "stderr: {err}");
    assert_eq!(first.get("/").body_str(), "first");
}

/// A restart right after a fast stop (systemd's `restart`, a script's stop-then-start) finds
/// the address free. A stop used to leave its accepts in flight: the kernel kept the listening
/// socket until the ring's teardown, after the process had exited, and about one restart in
/// five failed with "another process listens there".
#[test]
fn a_restart_right_after_a_fast_stop_finds_its_address_free() {
    let conf = |listen: &str| {
        format!("http {{ server {{ listen {listen}; location / {{ return 200 \"up\"; }} }} }}\n")
    };
    let mut rw = Ringway::start(&conf(LISTEN));
    let addr = rw.addr;
    for i in 0..20 {
        assert_eq!(rw.get("/").status, 200, "run {i}");
        rw.signal(libc::SIGTERM);
        assert!(
            rw.wait_exit(Duration::from_secs(5)).is_some(),
            "run {i}: no exit"
        );
        let dir = temp_dir("restart");
        let path = write_config(&dir, &conf(&addr.to_string()));
        rw = Ringway::start_file(dir, path, 1, &[addr])
            .unwrap_or_else(|e| panic!("restart {i} on {addr}: {e}"));
    }
}

#[test]
fn two_workers_serve_requests() {
    let b = echo_backend();
    let rw = Ringway::start_with(&proxy_conf(b.addr, ""), 2);
    for i in 0..20 {
        let r = rw.get(&format!("/w{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
    }
    assert_eq!(b.request_count(), 20);
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests() {
    let b = slow_backend(Duration::from_millis(1200));
    let (mut rw, mut c) = with_request_in_flight(&b, &proxy_conf(b.addr, ""));
    let addr = rw.addr;
    let t0 = Instant::now();
    rw.signal(libc::SIGQUIT);

    // New connections are refused once the listeners are closed.
    let mut refused = false;
    while t0.elapsed() < Duration::from_millis(800) {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Err(_) => {
                refused = true;
                break;
            }
            Ok(_s) => thread::sleep(Duration::from_millis(50)),
        }
    }

    // The in-flight request completes.
    let r = c
        .try_read_response(false, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("in-flight request lost on SIGQUIT: {e}"));
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.body, b"done /slow");
    assert_eq!(r.end, End::Complete);
    // And then that connection is closed.
    assert!(
        c.is_closed(),
        "client connection kept open after graceful stop"
    );

    let st = rw
        .wait_exit(Duration::from_secs(5))
        .expect("ringway did not exit after SIGQUIT");
    assert!(st.success(), "exit status {st}");
    assert!(
        refused,
        "new connections were still accepted 800 ms after SIGQUIT"
    );
}

/// A stopping shard keeps timing its in-flight requests: a request stuck on a silent upstream
/// gets its 504 at `proxy_read_timeout` (5 s, a limit the shard's sweep times), not at
/// `worker_shutdown_timeout` or never.
#[test]
fn graceful_shutdown_still_times_out_a_stuck_request() {
    let b = Backend::start(|c| {
        if c.read_request().is_some() {
            thread::sleep(Duration::from_secs(12));
        }
    });
    let conf = proxy_conf(b.addr, "proxy_read_timeout 5s;").replacen(
        "http {",
        "worker_shutdown_timeout 30s;\nhttp {",
        1,
    );
    let mut rw = Ringway::start(&conf);
    let mut c = rw.connect();
    let t0 = Instant::now();
    c.send(b"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        b.wait_for(Duration::from_secs(3), |b| b.accepted() == 1),
        "the request never reached the backend"
    );
    rw.signal(libc::SIGQUIT);
    let r = c
        .try_read_response(false, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("no answer to the stuck request after SIGQUIT: {e}"));
    let dt = t0.elapsed();
    assert_eq!(r.status, 504, "{}", r.describe());
    assert!(
        dt >= Duration::from_secs(5) && dt < Duration::from_millis(6500),
        "504 after {dt:?}"
    );
    let st = rw
        .wait_exit(Duration::from_secs(5))
        .expect("ringway did not exit once its last request was answered");
    assert!(st.success(), "exit status {st}");
}

#[test]
fn graceful_shutdown_closes_idle_keep_alive_connections() {
    let b = echo_backend();
    let mut rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut idle = rw.connect();
    idle.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(idle.read_response().status, 200);
    let mut never = rw.connect();
    let t0 = Instant::now();
    let st = quit(&mut rw, Duration::from_secs(5)).expect("ringway did not exit after SIGQUIT");
    assert!(st.success(), "exit status {st}");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "idle connections delayed the exit: {:?}",
        t0.elapsed()
    );
    assert!(idle.is_closed(), "idle keep-alive connection not closed");
    assert!(never.is_closed(), "connection without a request not closed");
}

#[test]
fn graceful_shutdown_with_nothing_to_do_is_quick() {
    let mut rw = Ringway::start_with(
        &format!("http {{ server {{ listen {LISTEN}; location / {{ return 200 \"x\"; }} }} }}\n"),
        2,
    );
    let t0 = Instant::now();
    let st = quit(&mut rw, Duration::from_secs(5)).expect("no exit");
    assert!(st.success(), "{st}");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
}

/// A graceful stop (nginx's `quit`): the helper in tests/common sends SIGTERM, which is fast.
fn quit(rw: &mut Ringway, timeout: Duration) -> Option<std::process::ExitStatus> {
    rw.signal(libc::SIGQUIT);
    rw.wait_exit(timeout)
}

/// A backend whose `/slow` answers after `delay` and everything else at once.
fn slow_backend(delay: Duration) -> Backend {
    Backend::start(move |c| {
        while let Some(req) = c.read_request() {
            if req.target == "/slow" {
                thread::sleep(delay);
            }
            if !c.respond(200, format!("done {}", req.target).as_bytes()) {
                return;
            }
        }
    })
}

/// Starts ringway in front of `b` and leaves a `/slow` request in flight on the returned
/// connection.
fn with_request_in_flight(b: &Backend, conf: &str) -> (Ringway, Client) {
    let rw = Ringway::start(conf);
    let mut c = rw.connect();
    c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        b.wait_for(Duration::from_secs(3), |b| b.accepted() == 1),
        "the slow request never reached the backend"
    );
    thread::sleep(Duration::from_millis(100));
    (rw, c)
}

/// Runs `stop` (which signals ringway) and asserts that ringway exits cleanly within about a
/// second, far sooner than the in-flight `/slow` request would finish.
fn assert_fast_exit(rw: &mut Ringway, what: &str, stop: impl FnOnce(&Ringway)) {
    let t0 = Instant::now();
    stop(rw);
    let st = rw
        .wait_exit(Duration::from_secs(3))
        .unwrap_or_else(|| panic!("ringway did not exit within 3 s of {what}"));
    let dt = t0.elapsed();
    assert!(st.success(), "{what}: exit status {st}");
    assert!(dt < Duration::from_millis(1200), "{what}: exit took {dt:?}");
}

/// SIGTERM (nginx's `stop`, systemd's default): a fast stop. The in-flight request is cut and
/// ringway exits at once, not when the request would have finished.
#[test]
fn sigterm_is_a_fast_stop_that_cuts_in_flight_requests() {
    let b = slow_backend(Duration::from_secs(5));
    let (mut rw, mut c) = with_request_in_flight(&b, &proxy_conf(b.addr, ""));
    assert_fast_exit(&mut rw, "SIGTERM", |rw| rw.signal(libc::SIGTERM));
    // The client gets no answer, and its connection is gone.
    assert!(
        c.try_read_response(false, Duration::from_secs(1)).is_err(),
        "a response after a fast stop"
    );
    assert!(rw.log_count("SIGTERM: fast stop") == 1, "{}", rw.stderr());
}

#[test]
fn sigint_is_a_fast_stop_too() {
    let b = slow_backend(Duration::from_secs(5));
    let (mut rw, _c) = with_request_in_flight(&b, &proxy_conf(b.addr, ""));
    assert_fast_exit(&mut rw, "SIGINT", |rw| rw.signal(libc::SIGINT));
}

/// `ringway -s stop` sends SIGTERM (fast), `-s quit` SIGQUIT (graceful), as nginx's do.
#[test]
fn dash_s_stop_is_fast() {
    let b = slow_backend(Duration::from_secs(5));
    let pid_dir = temp_dir("pid");
    let pid_file = pid_dir.join("ringway.pid");
    let conf = format!("pid {};\n{}", pid_file.display(), proxy_conf(b.addr, ""));
    let (mut rw, _c) = with_request_in_flight(&b, &conf);
    assert_fast_exit(&mut rw, "-s stop", |_| {
        let (st, _out, err) = run_ringway(&[
            OsStr::new("-s"),
            OsStr::new("stop"),
            OsStr::new("--pid"),
            pid_file.as_os_str(),
        ]);
        assert!(st.success(), "ringway -s stop: {err}");
    });
    assert!(!pid_file.exists(), "the pid file is removed at exit");
    let _ = std::fs::remove_dir_all(&pid_dir);
}

/// SIGTERM during a graceful drain cuts it short, as in nginx.
#[test]
fn sigterm_cuts_a_graceful_drain_short() {
    let b = slow_backend(Duration::from_secs(5));
    let (mut rw, mut c) = with_request_in_flight(&b, &proxy_conf(b.addr, ""));
    rw.signal(libc::SIGQUIT);
    thread::sleep(Duration::from_millis(500));
    assert!(
        rw.is_running(),
        "SIGQUIT did not wait for the in-flight request"
    );
    assert_fast_exit(&mut rw, "SIGTERM during a drain", |rw| {
        rw.signal(libc::SIGTERM)
    });
    assert!(c.try_read_response(false, Duration::from_secs(1)).is_err());
}

/// SIGUSR1 (logrotate's nginx script: reopen logs) and SIGUSR2 (nginx's binary upgrade) used to
/// kill ringway with their default action. SIGUSR1 reopens the log files (tests/logs.rs checks
/// the files); SIGUSR2 without a pid file is refused with a log line; ringway goes on serving: new
/// connections, kept-alive ones, and requests in flight.
#[test]
fn sigusr1_and_sigusr2_leave_it_serving() {
    let b = slow_backend(Duration::from_millis(800));
    let (mut rw, mut slow) = with_request_in_flight(&b, &proxy_conf(b.addr, ""));
    let mut kept = rw.connect();
    kept.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(kept.read_response().body_str(), "done /a");
    for (sig, log) in [
        (libc::SIGUSR1, "SIGUSR1: reopening log files"),
        // Without a pid file (none here) an upgrade is refused: tests/binary_upgrade.rs.
        (libc::SIGUSR2, "SIGUSR2 (binary upgrade) needs a pid file"),
        (libc::SIGUSR1, "SIGUSR1: reopening log files"),
    ] {
        let before = rw.log_count(log);
        rw.signal(sig);
        assert!(
            rw.wait_log(log, before + 1, Duration::from_secs(3)),
            "no log line for signal {sig}:\n{}",
            rw.stderr()
        );
        assert!(rw.is_running(), "signal {sig} ended ringway");
        assert_eq!(rw.get("/new").body_str(), "done /new");
    }
    let r = slow.read_response();
    assert_eq!(r.body_str(), "done /slow", "{}", r.describe());
    kept.send(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(kept.read_response().body_str(), "done /b");
    // And it still stops gracefully afterwards.
    let st = quit(&mut rw, Duration::from_secs(5)).expect("no exit on SIGQUIT");
    assert!(st.success(), "{st}");
}

/// The `iou-sqp-*` kernel threads of a process: one per ring set up with SQPOLL.
fn sqpoll_threads(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.starts_with("iou-sqp"))
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn sqpoll_rings_serve_and_a_reload_keeps_them() {
    let b = echo_backend();
    let events = "events { io_uring_entries 64; io_uring_sqpoll on; io_uring_sqpoll_idle 10ms; }\n";
    let conf = format!("{events}{}", proxy_conf(b.addr, ""));
    let rw = Ringway::start_with(&conf, 2);
    let err = rw.stderr();
    if err.contains("falling back to the epoll driver") {
        // A sandbox without io_uring: ringway said so; there is no ring to check.
        eprintln!("io_uring unavailable here, SQPOLL not checked: {err}");
    } else {
        // Each shard's ring has its polling thread: the setting is applied, not just parsed,
        // and with flags the kernel takes (no refused first try).
        // A shard sets up its ring after the first is serving: wait for both (a busy machine
        // can take a while).
        let deadline = Instant::now() + Duration::from_secs(10);
        while sqpoll_threads(rw.pid()) < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(sqpoll_threads(rw.pid()), 2, "stderr:\n{err}");
        assert!(!err.contains("refused"), "stderr:\n{err}");
    }
    // Fresh connections and a kept-alive one, with a body, through the small rings.
    for i in 0..30 {
        let r = rw.get(&format!("/s{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
    }
    let mut c = rw.connect();
    for i in 0..30 {
        let body = pattern(1000 + i * 997);
        c.send(
            format!(
                "POST /k{i} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        c.send(&body);
        let r = c.read_response();
        assert_eq!(r.status, 200, "{}", r.describe());
        // The backend read the whole body.
        assert_eq!(
            r.header("x-body-len"),
            Some(body.len().to_string().as_str()),
            "{}",
            r.describe()
        );
    }
    assert_eq!(b.request_count(), 60);
    // A reload cannot rebuild the rings: it says so and carries on serving.
    rw.reload_with(
        &format!(
            "events {{ io_uring_entries 128; }}\n{}",
            proxy_conf(b.addr, "")
        ),
        &[],
    );
    assert_eq!(
        rw.log_count("the running rings keep their setup"),
        1,
        "{}",
        rw.stderr()
    );
    assert_eq!(rw.get("/after").status, 200);
}
