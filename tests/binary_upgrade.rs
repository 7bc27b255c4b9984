//! Binary upgrade with nginx's signals, under keep-alive and new-connection load: SIGUSR2 starts
//! the installed binary again on the same listening sockets (pid file to `.oldbin`), SIGWINCH
//! drains the old process, SIGQUIT ends it; or SIGHUP to the old one and SIGQUIT to the new one
//! roll back. No request may fail in either, and a new process that cannot start changes
//! nothing. The config's answer says which process served a request: the new process reads the
//! config file (rewritten before SIGUSR2) while the old one keeps the text it started with.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::*;

/// A copy of the binary "installed" in a temp dir, run with a pid file, as an operator would.
struct Installed {
    dir: PathBuf,
    bin: PathBuf,
    conf: PathBuf,
    pid_file: PathBuf,
    log: PathBuf,
    addr: SocketAddr,
    old: Child,
    /// Pids started by upgrades (killed on drop if still running).
    others: Vec<i32>,
}

/// Held while this test process copies the binary or starts a process: a child forked while
/// the copy is open for writing would hold it open, and executing the copy would fail
/// (ETXTBSY).
static FORK_LOCK: Mutex<()> = Mutex::new(());

fn install_copy(to: &Path) {
    let _held = FORK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = to.with_extension("tmp");
    std::fs::copy(common::bin(), &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

/// The config: `workers` shards (`worker_processes`, read again by the new process), every
/// address of `addrs`, and each answer's body `tag`.
fn conf_text(pid_file: &Path, addrs: &[SocketAddr], workers: usize, tag: &str) -> String {
    let listens: String = addrs.iter().map(|a| format!("listen {a}; ")).collect();
    format!(
        "worker_processes {workers};\npid {};\nhttp {{ server {{ {listens}\
         keepalive_requests 100000; location / {{ return 200 \"{tag}\"; }} }} }}\n",
        pid_file.display()
    )
}

impl Installed {
    /// The old process: 2 shards, one address.
    fn start(tag: &str) -> Installed {
        Installed::start_with(tag, &[SocketAddr::from(([127, 0, 0, 1], free_port()))], 2)
    }

    fn start_with(tag: &str, addrs: &[SocketAddr], workers: usize) -> Installed {
        Installed::start_in(temp_dir("upgrade"), tag, addrs, workers, None)
    }

    /// `notify`: systemd's notification socket (`NOTIFY_SOCKET`), when the test plays systemd.
    fn start_in(
        dir: PathBuf,
        tag: &str,
        addrs: &[SocketAddr],
        workers: usize,
        notify: Option<&Path>,
    ) -> Installed {
        let addr = addrs[0];
        let bin = dir.join("ringway");
        install_copy(&bin);
        let pid_file = dir.join("ringway.pid");
        let conf = dir.join("ringway.conf");
        let log = dir.join("stderr.log");
        std::fs::write(&conf, conf_text(&pid_file, addrs, workers, tag)).unwrap();
        let held = FORK_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut cmd = Command::new(&bin);
        if let Some(socket) = notify {
            cmd.env("NOTIFY_SOCKET", socket);
        }
        let old = cmd
            .arg("-c")
            .arg(&conf)
            .env("RINGWAY_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap();
        drop(held);
        let rw = Installed {
            dir,
            bin,
            conf,
            pid_file,
            log,
            addr,
            old,
            others: Vec::new(),
        };
        let pid = rw.old.id() as i32;
        rw.wait(
            || read_pid(&rw.pid_file) == Some(pid) && get(addr).is_ok(),
            "the old process to start",
        );
        rw
    }

    fn old_pid(&self) -> i32 {
        self.old.id() as i32
    }

    fn oldbin(&self) -> PathBuf {
        self.dir.join("ringway.pid.oldbin")
    }

    fn set_tag(&self, tag: &str) {
        self.write_conf(&[self.addr], 2, tag);
    }

    fn write_conf(&self, addrs: &[SocketAddr], workers: usize, tag: &str) {
        std::fs::write(&self.conf, conf_text(&self.pid_file, addrs, workers, tag)).unwrap();
    }

    fn log(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// Polls `cond` for up to 10 s; panics with the log when it never holds.
    #[track_caller]
    fn wait(&self, mut cond: impl FnMut() -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; log:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGUSR2, then waits for the new process's pid file and the old one's `.oldbin`.
    fn upgrade(&mut self) -> i32 {
        let old = self.old_pid();
        signal(old, libc::SIGUSR2);
        let mut new = 0;
        self.wait(
            || {
                new = read_pid(&self.pid_file).unwrap_or(old);
                new != old && read_pid(&self.oldbin()) == Some(old)
            },
            "the new process's pid file and the .oldbin",
        );
        self.others.push(new);
        new
    }

    /// Waits for the old process (our child) to exit; returns whether it exited cleanly.
    fn wait_old_exit(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = self.old.try_wait().unwrap() {
                return st.success();
            }
            assert!(Instant::now() < deadline, "old process did not exit");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        for &pid in &self.others {
            if alive(pid) {
                signal(pid, libc::SIGKILL);
            }
        }
        let _ = self.old.kill();
        let _ = self.old.wait();
        if thread::panicking() {
            eprintln!("----- log -----\n{}", self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn read_pid(p: &Path) -> Option<i32> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started (directly or by SIGUSR2).
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
}

/// Running, not a zombie (an exited new process stays one until its parent reaps it).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// One request on a new connection: the body, or why it failed.
fn get(addr: SocketAddr) -> Result<String, String> {
    let mut c = Client::try_connect(addr).map_err(|e| format!("connect: {e}"))?;
    c.try_send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let r = c.try_read_response(false, IO_TIMEOUT)?;
    if r.status != 200 || r.end != End::Complete {
        return Err(r.describe());
    }
    Ok(r.body_str())
}

/// Load from threads: keep-alive clients and one-connection-per-request clients, every
/// response checked; which process answered is counted by the body's tag.
struct Load {
    stop: Arc<AtomicBool>,
    /// The step of the test now (named in each failure).
    phase: Arc<Mutex<&'static str>>,
    seen: Arc<Mutex<HashMap<String, usize>>>,
    failures: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(addr: SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let phase = Arc::new(Mutex::new("start"));
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let failures: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut threads = Vec::new();
        for t in 0..5 {
            let keep_alive = t < 3;
            let (stop, seen, failures) = (stop.clone(), seen.clone(), failures.clone());
            let phase = phase.clone();
            threads.push(thread::spawn(move || {
                let mut conn: Option<Client> = None;
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let res = if keep_alive {
                        keep_alive_request(addr, &mut conn)
                    } else {
                        get(addr)
                    };
                    match res {
                        Ok(tag) => *seen.lock().unwrap().entry(tag).or_default() += 1,
                        Err(e) => {
                            let kind = if keep_alive { "keep-alive" } else { "new" };
                            let during = *phase.lock().unwrap();
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{kind}{t} #{i} during {during}: {e}"));
                        }
                    }
                }
            }));
        }
        Load {
            stop,
            phase,
            seen,
            failures,
            threads,
        }
    }

    fn phase(&self, now: &'static str) {
        *self.phase.lock().unwrap() = now;
    }

    fn count(&self, tag: &str) -> usize {
        self.seen.lock().unwrap().get(tag).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.seen.lock().unwrap().values().sum()
    }

    /// Stops the load; panics when a request failed or too few were made.
    fn finish(self) -> HashMap<String, usize> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().unwrap();
        }
        let failures = self.failures.lock().unwrap();
        let seen = self.seen.lock().unwrap().clone();
        let total: usize = seen.values().sum();
        eprintln!(
            "load: {total} requests answered {seen:?}, {} failed",
            failures.len()
        );
        assert!(
            failures.is_empty(),
            "{} requests failed; first ones: {:#?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        assert!(total >= 200, "too little load to prove anything: {total}");
        seen
    }
}

/// One request on the thread's kept-alive connection (a new one when it has none).
fn keep_alive_request(addr: SocketAddr, conn: &mut Option<Client>) -> Result<String, String> {
    if conn.is_none() {
        *conn = Some(Client::try_connect(addr).map_err(|e| format!("connect: {e}"))?);
    }
    let c = conn.as_mut().ok_or("no connection")?;
    let res = c
        .try_send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .map_err(|e| format!("write: {e}"))
        .and_then(|()| c.try_read_response(false, IO_TIMEOUT));
    match res {
        Ok(r) if r.status == 200 && r.end == End::Complete => {
            if r.says_close() {
                *conn = None;
            }
            Ok(r.body_str())
        }
        Ok(r) => {
            *conn = None;
            Err(r.describe())
        }
        Err(e) => {
            *conn = None;
            Err(e)
        }
    }
}

#[track_caller]
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn upgrade_under_load_fails_no_request() {
    let mut rw = Installed::start("old");
    let load = Load::start(rw.addr);
    wait_for("load on the old process", || load.count("old") >= 50);
    // A package upgrade: a new file at the installed path (the old process's file is deleted).
    install_copy(&rw.bin);
    rw.set_tag("new");

    let old = rw.old_pid();
    load.phase("USR2");
    let new = rw.upgrade();
    // The path was executed again, not the old process's (now deleted) file.
    let exe = |pid: i32| std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe(new), rw.bin);
    assert!(exe(old).to_string_lossy().ends_with("(deleted)"));
    // Both processes serve while both accept on the same sockets.
    let old_before = load.count("old");
    wait_for("both processes to serve", || {
        load.count("new") >= 20 && load.count("old") >= old_before + 20
    });

    load.phase("WINCH old");
    signal(old, libc::SIGWINCH);
    rw.wait(
        || rw.log().contains("SIGWINCH: no longer accepting"),
        "the WINCH log line",
    );
    // Drained (requests on their way when it paused are still answered): only the new
    // process answers, and the old one is still running.
    thread::sleep(Duration::from_millis(200));
    let after_winch = load.count("old");
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        load.count("old"),
        after_winch,
        "the old process still serves"
    );
    assert!(alive(old));

    load.phase("QUIT old");
    signal(old, libc::SIGQUIT);
    assert!(rw.wait_old_exit(), "the old process exited with an error");
    let before = load.total();
    wait_for("load after the old process exited", || {
        load.total() >= before + 100
    });
    let seen = load.finish();
    assert!(seen["new"] > 0 && seen["old"] > 0);
    assert_eq!(get(rw.addr).as_deref(), Ok("new"));
    assert_eq!(read_pid(&rw.pid_file), Some(new));
    assert!(!rw.oldbin().exists(), "the old process left its .oldbin");
    assert!(alive(new));

    signal(new, libc::SIGQUIT);
    wait_for("the new process to exit", || !alive(new));
    assert!(!rw.pid_file.exists(), "the new process left its pid file");
}

#[test]
fn rollback_keeps_the_old_process() {
    let mut rw = Installed::start("old");
    let load = Load::start(rw.addr);
    wait_for("load on the old process", || load.count("old") >= 50);
    rw.set_tag("new");
    let old = rw.old_pid();
    load.phase("USR2");
    let new = rw.upgrade();
    load.phase("WINCH old");
    signal(old, libc::SIGWINCH);
    rw.wait(
        || rw.log().contains("SIGWINCH: no longer accepting"),
        "the WINCH log line",
    );
    let new_before = load.count("new");
    wait_for("the new process to serve alone", || {
        load.count("new") >= new_before + 50
    });

    // Roll back: the old process accepts again (config not re-read), the new one goes.
    load.phase("HUP old");
    signal(old, libc::SIGHUP);
    let old_before = load.count("old");
    wait_for("the old process to serve again", || {
        load.count("old") >= old_before + 20
    });
    load.phase("QUIT new");
    signal(new, libc::SIGQUIT);
    rw.wait(
        || read_pid(&rw.pid_file) == Some(old) && !rw.oldbin().exists(),
        "the pid file to come back",
    );
    wait_for("the new process to exit", || !alive(new));
    let before = load.total();
    wait_for("load after the rollback", || load.total() >= before + 100);
    load.finish();
    assert_eq!(get(rw.addr).as_deref(), Ok("old"));
    assert!(!rw.log().contains("configuration reloaded"));

    signal(old, libc::SIGQUIT);
    assert!(rw.wait_old_exit());
    assert!(!rw.pid_file.exists(), "the old process left its pid file");
}

#[test]
fn a_new_binary_that_cannot_start_changes_nothing() {
    let mut rw = Installed::start("old");
    let load = Load::start(rw.addr);
    wait_for("load on the old process", || load.count("old") >= 50);
    std::fs::write(&rw.conf, "http { server { bogus_directive on; } }\n").unwrap();
    let old = rw.old_pid();
    load.phase("USR2 (a bad config)");
    signal(old, libc::SIGUSR2);
    rw.wait(
        || rw.log().contains("binary upgrade failed"),
        "the failed upgrade's log line",
    );
    assert!(rw.log().contains("bogus_directive"), "{}", rw.log());
    assert_eq!(read_pid(&rw.pid_file), Some(old));
    assert!(!rw.oldbin().exists());
    // WINCH without a running new process would leave nobody accepting: refused.
    load.phase("WINCH old");
    signal(old, libc::SIGWINCH);
    rw.wait(|| rw.log().contains("SIGWINCH ignored"), "WINCH refused");
    let before = load.total();
    wait_for("load after the failed upgrade", || {
        load.total() >= before + 100
    });
    load.finish();
    assert!(alive(old));
    signal(old, libc::SIGQUIT);
    assert!(rw.wait_old_exit());
}

/// `n` requests, each on a new connection to `addr`, all answered `tag`: with SO_REUSEPORT the
/// kernel spreads new connections over every socket of the address, so a socket nobody accepts
/// from would leave some of them unanswered.
#[track_caller]
fn all_answer(addr: SocketAddr, n: usize, tag: &str) {
    for i in 0..n {
        assert_eq!(get(addr).as_deref(), Ok(tag), "request {i} to {addr}");
    }
}

/// The new process has its own config: more shards than the old one's sockets (one is bound),
/// then fewer (one shard accepts from several inherited sockets); a dropped address is closed,
/// an added one bound, and a reload keeps the inherited sockets.
#[test]
fn the_new_config_decides_shards_and_addresses() {
    let ports = free_ports(3);
    let [a, b, c] = [0, 1, 2].map(|i| SocketAddr::from(([127, 0, 0, 1], ports[i])));
    let mut rw = Installed::start_with("one", &[a, b], 1);

    // 1 shard -> 3 shards: two bind a fresh socket of `a` beside the inherited one.
    rw.write_conf(&[a, b], 3, "three");
    let old = rw.old_pid();
    let new = rw.upgrade();
    signal(old, libc::SIGQUIT);
    assert!(rw.wait_old_exit());
    all_answer(a, 60, "three");
    all_answer(b, 10, "three");
    let log = rw.log();
    assert!(log.contains("started with 3 shards"), "{log}");

    // 3 shards -> 1: the one shard accepts from all three sockets of `a`; `b` (3 sockets) goes,
    // `c` comes.
    // The first new process was re-parented when the old one exited: it upgrades in its turn.
    rw.write_conf(&[a, c], 1, "single");
    signal(new, libc::SIGUSR2);
    let mut newer = 0;
    rw.wait(
        || {
            newer = read_pid(&rw.pid_file).unwrap_or(new);
            newer != new && read_pid(&rw.oldbin()) == Some(new)
        },
        "the second upgrade",
    );
    rw.others.push(newer);
    signal(new, libc::SIGQUIT);
    wait_for("the first new process to exit", || !alive(new));
    all_answer(a, 60, "single");
    all_answer(c, 10, "single");
    assert!(
        std::net::TcpStream::connect_timeout(&b, Duration::from_secs(1)).is_err(),
        "the dropped address still accepts"
    );
    let log = rw.log();
    assert!(
        log.contains("inherited 6 listening sockets for 2 addresses"),
        "{log}"
    );
    assert!(
        log.contains(&format!("{b} is not in the configuration; closing its 3")),
        "{log}"
    );

    // A reload of the newest process keeps the inherited sockets as its own.
    rw.write_conf(&[a, c], 1, "reloaded");
    signal(newer, libc::SIGHUP);
    rw.wait(|| rw.log().contains(RELOADED), "the reload");
    all_answer(a, 60, "reloaded");
    assert!(!rw.log().contains("bind() to"), "{}", rw.log());
    signal(newer, libc::SIGQUIT);
    wait_for("the newest process to exit", || !alive(newer));
}

/// A rollback right after SIGWINCH starts the old process's health checks again while the
/// paused ones still sleep: those must end, not probe on beside the new ones.
#[test]
fn a_quick_rollback_does_not_double_the_health_checks() {
    let backend = Backend::start(|c| {
        while c.read_request().is_some() {
            if !c.respond(200, b"ok") {
                return;
            }
        }
    });
    let mut rw = Installed::start("old");
    let text = format!(
        "worker_processes 2;\npid {};\nhttp {{ upstream u {{ server {}; \
         health_check interval=100ms uri=/healthz; }}\n\
         server {{ listen {}; location / {{ proxy_pass http://u; }} }} }}\n",
        rw.pid_file.display(),
        backend.addr,
        rw.addr
    );
    std::fs::write(&rw.conf, text).unwrap();
    let old = rw.old_pid();
    signal(old, libc::SIGHUP);
    rw.wait(|| rw.log().contains(RELOADED), "the reload");
    let new = rw.upgrade();
    signal(old, libc::SIGWINCH);
    rw.wait(|| rw.log().contains("SIGWINCH: no longer"), "the pause");
    signal(old, libc::SIGHUP);
    rw.wait(
        || rw.log().contains("accepting connections again"),
        "the rollback",
    );
    signal(new, libc::SIGQUIT);
    wait_for("the new process to exit", || !alive(new));
    // Only the old process probes now, one server every 100 ms: about 10 a second, not 20.
    let before = backend.request_count();
    thread::sleep(Duration::from_secs(1));
    let probes = backend.request_count() - before;
    assert!((5..=14).contains(&probes), "{probes} probes in 1 s");
    signal(old, libc::SIGQUIT);
    assert!(rw.wait_old_exit());
}

/// systemd's view (Type=notify, NotifyAccess=all): each process says READY with itself as the
/// main process once it serves, and a new binary stopped during a rollback hands the main
/// process back to the old one, or systemd would stop the service with it.
#[test]
fn systemd_follows_the_main_process_through_upgrade_and_rollback() {
    use std::os::unix::net::UnixDatagram;
    let dir = temp_dir("upgrade-notify");
    let socket = dir.join("notify.sock");
    let systemd = UnixDatagram::bind(&socket).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let next = || {
        let mut buf = [0u8; 256];
        let n = systemd.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut rw = Installed::start_in(dir, "old", &[addr], 1, Some(&socket));
    let old = rw.old_pid();
    assert_eq!(next(), format!("MAINPID={old}\nREADY=1"));
    let new = rw.upgrade();
    assert_eq!(next(), format!("MAINPID={new}\nREADY=1"));
    signal(old, libc::SIGWINCH);
    rw.wait(
        || rw.log().contains("SIGWINCH: no longer accepting"),
        "the WINCH log line",
    );
    signal(old, libc::SIGHUP);
    signal(new, libc::SIGQUIT);
    assert_eq!(next(), format!("MAINPID={old}"));
    wait_for("the new process to exit", || !alive(new));
    assert_eq!(get(addr).as_deref(), Ok("old"));
}
