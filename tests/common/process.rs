//! The ringway process under test: start on a config (listen placeholders filled), signal,
//! reload, read its log, stop.

use super::*;

pub struct Ringway {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub port: u16,
    /// Every listen address the test placed (`@LISTEN@` first, then `@LISTEN2@`, `@LISTEN3@`…),
    /// or the addresses passed to `start_file`.
    pub addrs: Vec<SocketAddr>,
    pub dir: PathBuf,
    pub config_path: PathBuf,
    stderr_path: PathBuf,
}

/// Extra listen placeholders: `@LISTEN2@` … `@LISTEN4@`, each replaced by its own free port.
pub const LISTEN_N: [&str; 3] = ["@LISTEN2@", "@LISTEN3@", "@LISTEN4@"];

impl Ringway {
    /// Starts ringway with one worker on `config` (whose `@LISTEN@` is replaced by a free port).
    pub fn start(config: &str) -> Ringway {
        Ringway::start_with(config, 1)
    }

    pub fn start_with(config: &str, workers: usize) -> Ringway {
        Ringway::start_with_env(config, workers, &[])
    }

    /// As `start_with`, with extra environment variables for the process.
    pub fn start_with_env(config: &str, workers: usize, env: &[(&str, &str)]) -> Ringway {
        let mut last_err = String::new();
        // A port picked by free_port can be taken by someone else before ringway binds it: retry.
        for _ in 0..3 {
            match Ringway::try_start(config, workers, env) {
                Ok(r) => return r,
                Err(e) => last_err = e,
            }
        }
        panic!("ringway did not start:\n{last_err}");
    }

    pub(crate) fn try_start(
        config: &str,
        workers: usize,
        env: &[(&str, &str)],
    ) -> Result<Ringway, String> {
        let mut placeholders = vec![LISTEN];
        placeholders.extend(LISTEN_N.iter().filter(|p| config.contains(**p)));
        let addrs: Vec<SocketAddr> = free_ports(placeholders.len())
            .into_iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        let dir = temp_dir("rw");
        let config_path = dir.join("ringway.conf");
        let mut text = config.to_string();
        for (p, a) in placeholders.iter().zip(&addrs) {
            text = text.replace(p, &a.to_string());
        }
        std::fs::write(&config_path, &text).unwrap();
        Ringway::spawn(dir, config_path, workers, addrs, &text, env)
    }

    /// Starts ringway on a config file already written at `config_path` (inside `dir`, which is
    /// removed when the Ringway is dropped) and waits until every address in `listens` accepts
    /// connections. Err (with the config and stderr) when it exits or does not listen in time.
    pub fn start_file(
        dir: PathBuf,
        config_path: PathBuf,
        workers: usize,
        listens: &[SocketAddr],
    ) -> Result<Ringway, String> {
        let text = std::fs::read_to_string(&config_path).unwrap_or_default();
        Ringway::spawn(dir, config_path, workers, listens.to_vec(), &text, &[])
    }

    pub(crate) fn spawn(
        dir: PathBuf,
        config_path: PathBuf,
        workers: usize,
        addrs: Vec<SocketAddr>,
        text: &str,
        env: &[(&str, &str)],
    ) -> Result<Ringway, String> {
        assert!(
            !addrs.is_empty(),
            "ringway needs a listen address to wait for"
        );
        let stderr_path = dir.join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let child = Command::new(bin())
            .arg("-c")
            .arg(&config_path)
            .arg("--workers")
            .arg(workers.to_string())
            .env(
                "RINGWAY_LOG",
                std::env::var("RINGWAY_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", bin()))?;
        let addr = addrs[0];
        let mut rw = Ringway {
            child: Some(child),
            addr,
            port: addr.port(),
            addrs,
            dir,
            config_path,
            stderr_path,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut waiting: Vec<SocketAddr> = rw.addrs.clone();
        loop {
            if let Some(status) = rw.child.as_mut().unwrap().try_wait().unwrap() {
                let err = format!(
                    "ringway exited early with {status}\nconfig:\n{text}\nstderr:\n{}",
                    rw.stderr()
                );
                rw.child = None;
                return Err(err);
            }
            waiting.retain(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_err());
            if waiting.is_empty() {
                return Ok(rw);
            }
            if Instant::now() > deadline {
                let err = format!(
                    "ringway did not listen on {waiting:?} within 10s\nconfig:\n{text}\nstderr:\n{}",
                    rw.stderr()
                );
                return Err(err);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// Replaces the config file (atomically: write then rename) with `text`, whose `@LISTEN@`,
    /// `@LISTEN2@`… become the addresses this instance was started with (extra placeholders
    /// beyond those get the address passed in `more`, in order).
    pub fn write_config_text(&self, text: &str, more: &[SocketAddr]) {
        let mut text = text.replace(LISTEN, &self.addr.to_string());
        let mut extra = self.addrs.iter().skip(1).chain(more.iter());
        for p in LISTEN_N {
            if text.contains(p) {
                let a = extra
                    .next()
                    .unwrap_or_else(|| panic!("no address for placeholder {p}"));
                text = text.replace(p, &a.to_string());
            }
        }
        let tmp = self.config_path.with_extension("conf.tmp");
        std::fs::write(&tmp, &text).unwrap();
        std::fs::rename(&tmp, &self.config_path).unwrap();
    }

    /// How many stderr lines contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.stderr().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits until at least `n` stderr lines contain `needle`.
    pub fn wait_log(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log_count(needle) >= n {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Writes `text` as the new config (see `write_config_text`), sends SIGHUP and waits for
    /// ringway to log that the configuration was reloaded. Panics when it does not.
    pub fn reload_with(&self, text: &str, more: &[SocketAddr]) {
        let before = self.log_count(RELOADED);
        self.write_config_text(text, more);
        self.signal(libc::SIGHUP);
        assert!(
            self.wait_log(RELOADED, before + 1, Duration::from_secs(5)),
            "ringway did not log {RELOADED:?} after SIGHUP; stderr:\n{}",
            self.stderr()
        );
    }

    /// One request with the given Host on a fresh connection.
    pub fn get_host(&self, host: &str, path: &str) -> Response {
        let mut c = self.connect();
        c.send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        c.read_response()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("ringway is running").id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Sends SIGQUIT (nginx's graceful stop) and waits up to `timeout` for the process to exit.
    pub fn stop_graceful(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.signal(libc::SIGQUIT);
        self.wait_exit(timeout)
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// One request on a fresh connection; returns the response.
    pub fn get(&self, path: &str) -> Response {
        let mut c = self.connect();
        c.send(format!("GET {path} HTTP/1.1\r\nHost: test.local\r\n\r\n").as_bytes());
        c.read_response()
    }

    /// Connects, sends nothing, and returns how long ringway took to close the connection
    /// (at most `timeout`). nginx closes such a connection silently; a 408 is tolerated.
    #[track_caller]
    pub fn silent_connection_lifetime(&self, timeout: Duration) -> Duration {
        let mut c = self.connect();
        let t0 = Instant::now();
        let (bytes, closed) = c.read_to_close(timeout);
        let dt = t0.elapsed();
        assert!(closed, "silent connection not closed within {timeout:?}");
        assert!(
            bytes.is_empty() || bytes.starts_with(b"HTTP/1.1 408"),
            "{}",
            show(&bytes)
        );
        dt
    }
}

impl Drop for Ringway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take()
            && child.try_wait().ok().flatten().is_none()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        if thread::panicking() {
            let err = self.stderr();
            let tail = if err.len() > 6000 {
                &err[err.len() - 6000..]
            } else {
                &err[..]
            };
            eprintln!(
                "----- ringway stderr (tail) -----\n{tail}\n---------------------------------"
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `ringway ARGS` to completion (for `-t`), returning (exit status, stdout, stderr).
/// The resident memory of process `pid`, in KiB (`VmRSS`).
pub fn rss_kib(pid: i32) -> i64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

pub fn run_ringway(args: &[&std::ffi::OsStr]) -> (ExitStatus, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ringway");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ringway {args:?} did not exit within 10s");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("ringway.conf");
    std::fs::write(&p, text).unwrap();
    p
}

/// `s` without ANSI escape sequences (ringway colours its log fields even into a file).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in '@'..='~'.
            for f in chars.by_ref() {
                if ('@'..='~').contains(&f) {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

impl Ringway {
    /// The stderr log with colour escapes removed (so `key=value` fields can be matched).
    pub fn log_plain(&self) -> String {
        strip_ansi(&self.stderr())
    }

    /// How many log lines (colours removed) contain every one of `needles`.
    pub fn log_count_all(&self, needles: &[&str]) -> usize {
        self.log_plain()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .count()
    }

    /// Waits until at least `n` log lines (colours removed) contain every one of `needles`.
    pub fn wait_log_all(&self, needles: &[&str], n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log_count_all(needles) >= n {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}
