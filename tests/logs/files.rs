//! Log files: logrotate's rename + SIGUSR1 and `-s reopen`, `-t` on a path it cannot open, a
//! full disk (requests are still answered), and the error log's nginx format and level.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use crate::{curl, lines, log_dir, wait_lines};

const WAIT: Duration = Duration::from_secs(5);

fn uri_conf(log: &Path, pid: &Path) -> String {
    format!(
        "pid {};\nhttp {{\n log_format u '$uri';\n access_log {} u;\n server {{\n listen {LISTEN};\n location / {{ return 204; }}\n }}\n}}\n",
        pid.display(),
        log.display()
    )
}

#[test]
fn logrotate_rename_then_usr1_and_s_reopen() {
    let dir = log_dir("reopen");
    let (log, pid) = (dir.join("access.log"), dir.join("ringway.pid"));
    let rw = Ringway::start_with(&uri_conf(&log, &pid), 2);
    let a = format!("http://{}", rw.addr);
    assert_eq!(curl(&format!("{a}/before"), &[]), 204);
    assert_eq!(wait_lines(&log, 1, WAIT), vec!["/before"]);
    // logrotate: rename, then `kill -USR1 $(cat pid)`.
    let rotated = dir.join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    assert_eq!(curl(&format!("{a}/renamed"), &[]), 204);
    assert_eq!(wait_lines(&rotated, 2, WAIT), vec!["/before", "/renamed"]);
    let kill = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -USR1 $(cat {})", pid.display()))
        .status()
        .unwrap();
    assert!(kill.success());
    // The new file exists once the main thread reopened it; the shards switch soon after.
    assert!(wait_until(WAIT, || log.exists()), "reopen creates the file");
    std::thread::sleep(Duration::from_millis(200));
    for i in 0..4 {
        assert_eq!(curl(&format!("{a}/after{i}"), &[]), 204);
    }
    let new = wait_lines(&log, 4, WAIT);
    assert_eq!(new, vec!["/after0", "/after1", "/after2", "/after3"]);
    assert_eq!(lines(&rotated), vec!["/before", "/renamed"]);
    // The same through `ringway -s reopen`.
    let second = dir.join("access.log.2");
    std::fs::rename(&log, &second).unwrap();
    let (st, _, err) = run_ringway(&[
        "-s".as_ref(),
        "reopen".as_ref(),
        "-c".as_ref(),
        rw.config_path.as_os_str(),
    ]);
    assert!(st.success(), "{err}");
    assert!(wait_until(WAIT, || log.exists()), "-s reopen reopens");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(curl(&format!("{a}/last"), &[]), 204);
    assert_eq!(wait_lines(&log, 1, WAIT), vec!["/last"]);
    assert_eq!(lines(&second).len(), 4);
}

fn wait_until(timeout: Duration, f: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

#[test]
fn unopenable_path_is_a_dash_t_error_with_its_line() {
    let dir = log_dir("unopenable");
    let conf = "http {\n  server {\n    listen 127.0.0.1:1;\n    access_log /proc/ringway-no/such.log;\n  }\n}\n";
    let path = write_config(&dir, conf);
    let (st, _, err) = run_ringway(&["-t".as_ref(), "-c".as_ref(), path.as_os_str()]);
    assert_eq!(st.code(), Some(1), "{err}");
    let want = format!("{}:4:5: cannot open access log", path.display());
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("test failed"), "{err}");
}

#[test]
fn dash_t_creates_the_files() {
    let dir = log_dir("createt");
    let log = dir.join("made.log");
    let conf = format!(
        "http {{\n  server {{\n    listen 127.0.0.1:1;\n    access_log {};\n  }}\n}}\n",
        log.display()
    );
    let path = write_config(&dir, &conf);
    let (st, _, err) = run_ringway(&["-t".as_ref(), "-c".as_ref(), path.as_os_str()]);
    assert!(st.success(), "{err}");
    assert!(log.exists(), "-t opens (creates) the log, as nginx");
}

#[test]
fn full_disk_drops_lines_and_requests_go_on() {
    let dir = log_dir("full");
    let conf = format!(
        "http {{\n access_log /dev/full;\n access_log {};\n server {{\n listen {LISTEN};\n location / {{ return 204; }}\n }}\n}}\n",
        dir.join("ok.log").display()
    );
    let rw = Ringway::start(&conf);
    for i in 0..20 {
        assert_eq!(
            curl(&format!("http://{}/r{i}", rw.addr), &[]),
            204,
            "request {i}"
        );
    }
    assert_eq!(wait_lines(&dir.join("ok.log"), 20, WAIT).len(), 20);
    assert!(
        rw.wait_log("access log \"/dev/full\": write failed", 1, WAIT),
        "{}",
        rw.stderr()
    );
    // Rate limited: one error line per second per file at most.
    assert!(rw.log_count("write failed") <= 3, "{}", rw.stderr());
}

#[test]
fn error_log_writes_nginx_lines_at_its_level() {
    let dir = log_dir("errorlog");
    let err_log = dir.join("error.log");
    let dead = dead_addr();
    let conf = format!(
        "error_log {} warn;\nhttp {{\n server {{\n listen {LISTEN};\n location / {{ proxy_pass http://{dead}; }}\n }}\n}}\n",
        err_log.display()
    );
    // An empty RINGWAY_LOG counts as unset: the configured level filters.
    let rw = Ringway::start_with_env(&conf, 1, &[("RINGWAY_LOG", "")]);
    assert_eq!(curl(&format!("http://{}/x", rw.addr), &[]), 502);
    let got = wait_lines(&err_log, 1, WAIT);
    assert!(!got.is_empty(), "stderr: {}", rw.stderr());
    let l = &got[0];
    // 2026/12/06 10:20:11 [warn] 12345#12350: message
    let b = l.as_bytes();
    assert_eq!(
        (b[4], b[7], b[10], b[13], b[16]),
        (b'/', b'/', b' ', b':', b':'),
        "{l}"
    );
    let rest = &l[20..];
    assert!(
        rest.starts_with("[warn] ") || rest.starts_with("[error] "),
        "{l}"
    );
    let after = rest.split_once("] ").unwrap().1;
    let (ids, msg) = after.split_once(": ").unwrap();
    let (pid, tid) = ids.split_once('#').unwrap();
    assert_eq!(pid.parse::<i32>().unwrap(), rw.pid(), "{l}");
    assert!(tid.parse::<u64>().is_ok(), "{l}");
    assert!(!msg.is_empty());
    // info lines (the start message) are below the level.
    assert!(
        !lines(&err_log).iter().any(|l| l.contains("[info]")),
        "{:?}",
        lines(&err_log)
    );
    assert!(
        !rw.stderr().contains("started with"),
        "the file replaces stderr"
    );
}

#[test]
fn stop_and_reload_write_buffered_lines() {
    let dir = log_dir("stopflush");
    let (first, second) = (dir.join("first.log"), dir.join("second.log"));
    let conf = |log: &Path| {
        format!(
            "http {{\n log_format u '$uri';\n access_log {} u buffer=64k flush=1h;\n server {{\n listen {LISTEN};\n location / {{ return 204; }}\n }}\n}}\n",
            log.display()
        )
    };
    let mut rw = Ringway::start(&conf(&first));
    assert_eq!(curl(&format!("http://{}/held", rw.addr), &[]), 204);
    // A reload that drops the file writes what its buffer held.
    rw.reload_with(&conf(&second), &[]);
    assert_eq!(wait_lines(&first, 1, WAIT), vec!["/held"]);
    assert_eq!(curl(&format!("http://{}/at-stop", rw.addr), &[]), 204);
    assert!(lines(&second).is_empty(), "buffered for an hour");
    let st = rw.stop_graceful(WAIT).expect("exit on SIGQUIT");
    assert!(st.success(), "{st}");
    assert_eq!(lines(&second), vec!["/at-stop"], "graceful stop flushes");
}

#[test]
fn reload_changes_the_error_log_level_and_file() {
    let dir = log_dir("errreload");
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    let conf = |p: &Path, level: &str| {
        format!(
            "error_log {} {level};\nhttp {{\n server {{\n listen {LISTEN};\n location / {{ return 204; }}\n }}\n}}\n",
            p.display()
        )
    };
    let rw = Ringway::start_with_env(&conf(&a, "error"), 1, &[("RINGWAY_LOG", "")]);
    rw.write_config_text(&conf(&b, "info"), &[]);
    rw.signal(libc::SIGHUP);
    let got = wait_until(WAIT, || {
        lines(&b)
            .iter()
            .any(|l| l.contains("[info]") && l.contains("configuration reloaded"))
    });
    assert!(got, "b: {:?}\nstderr: {}", lines(&b), rw.stderr());
    assert!(
        !lines(&a).iter().any(|l| l.contains("[info]")),
        "a was at level error: {:?}",
        lines(&a)
    );
}

/// A child process killed when the test ends, failed or not.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_file_size_limit_fails_writes_without_killing_ringway() {
    let dir = log_dir("fsize");
    let log = dir.join("big.log");
    let port = free_port();
    let conf = format!(
        "http {{\n log_format u '$uri';\n access_log {} u;\n server {{\n listen 127.0.0.1:{port};\n location / {{ return 204; }}\n }}\n}}\n",
        log.display()
    );
    let path = write_config(&dir, &conf);
    // RLIMIT_FSIZE of 1 KiB (`ulimit -f` counts 512-byte blocks): writes past it get SIGXFSZ,
    // whose default action ends the process; ringway ignores it and sees EFBIG. The epoll
    // driver writes with pwrite from the shard's thread, which gets the signal (an io_uring
    // write fails with EFBIG without one).
    let mut child = Reaped(
        Command::new("sh")
            .arg("-c")
            .arg("ulimit -f 2 && exec \"$0\" -c \"$1\" --workers 1")
            .arg(bin())
            .arg(&path)
            .env("RINGWAY_LOG", "info")
            .env("RINGWAY_DRIVER", "legacy")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        wait_until(WAIT, || std::net::TcpStream::connect(addr).is_ok()),
        "ringway did not listen"
    );
    let url = format!("http://{addr}/{}", "x".repeat(200));
    for i in 0..30 {
        assert_eq!(curl(&url, &[]), 204, "request {i}");
    }
    assert!(child.0.try_wait().unwrap().is_none(), "ringway ended");
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size <= 1024, "{size}");
    // Lines of 202 bytes: whole ones up to the limit (the write that crosses it is cut there,
    // as nginx's would be).
    let got = lines(&log);
    assert!(got.len() >= 4, "{got:?}");
    let uri = format!("/{}", "x".repeat(200));
    assert!(got[..4].iter().all(|l| *l == uri), "{got:?}");
    // SAFETY: kill(2) on our child.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) };
    let st = child.0.wait().unwrap();
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err);
    assert!(st.success(), "{st}: {err}");
    assert!(
        err.contains("write failed") && err.contains("too large"),
        "{err}"
    );
}

#[test]
fn fast_stop_writes_buffered_lines() {
    let dir = log_dir("faststop");
    let log = dir.join("f.log");
    let conf = format!(
        "http {{\n log_format u '$uri';\n access_log {} u buffer=64k flush=1h;\n server {{\n listen {LISTEN};\n location / {{ return 204; }}\n }}\n}}\n",
        log.display()
    );
    let mut rw = Ringway::start_with(&conf, 2);
    for i in 0..6 {
        assert_eq!(curl(&format!("http://{}/f{i}", rw.addr), &[]), 204);
    }
    assert!(lines(&log).is_empty(), "buffered for an hour");
    rw.signal(libc::SIGTERM);
    assert!(rw.wait_exit(WAIT).is_some(), "exit on SIGTERM");
    let mut got = lines(&log);
    got.sort();
    assert_eq!(got, (0..6).map(|i| format!("/f{i}")).collect::<Vec<_>>());
}
