//! Shared harness for ringway's integration tests: the real binary, scripted raw-TCP backends
//! and a raw HTTP/1.1 client, all over loopback sockets with std threads only. Every blocking
//! read has a timeout so a misbehaving proxy makes a test fail, never hang.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub mod fds;
pub mod wire;

/// Longest any single read in the harness waits.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ringway")
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read it, drop the listener).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// `n` distinct ports that were free a moment ago (all held while picking, so none repeats).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// What ringway logs once a reload has been applied (by its first shard).
pub const RELOADED: &str = "configuration reloaded";

/// An address that refuses connections (nothing listens there).
pub fn dead_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

static DIR_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A fresh, unique temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "ringway-it-{tag}-{}-{}-{nanos}",
        std::process::id(),
        DIR_SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// Configs
// ---------------------------------------------------------------------------------------------

/// Placeholder in config texts, replaced by `127.0.0.1:PORT` by `Ringway::start`.
pub const LISTEN: &str = "@LISTEN@";

/// `http { server { listen @LISTEN@; location / { proxy_pass http://BACKEND; LOC } } }`
pub fn proxy_conf(backend: SocketAddr, loc_extra: &str) -> String {
    proxy_conf_full(backend, "", loc_extra)
}

/// Like `proxy_conf`, with extra server-level directives too.
pub fn proxy_conf_full(backend: SocketAddr, server_extra: &str, loc_extra: &str) -> String {
    format!(
        "http {{\n    server {{\n        listen {LISTEN};\n        {server_extra}\n        location / {{\n            proxy_pass http://{backend};\n            {loc_extra}\n        }}\n    }}\n}}\n"
    )
}

/// An `upstream` group named `pool` with the given servers and extra directives, proxied at `/`.
pub fn upstream_conf(backends: &[SocketAddr], upstream_extra: &str, loc_extra: &str) -> String {
    let servers: String = backends
        .iter()
        .map(|b| format!("        server {b};\n"))
        .collect();
    format!(
        "http {{\n    upstream pool {{\n{servers}        {upstream_extra}\n    }}\n    server {{\n        listen {LISTEN};\n        location / {{\n            proxy_pass http://pool;\n            {loc_extra}\n        }}\n    }}\n}}\n"
    )
}

// ---------------------------------------------------------------------------------------------
// The ringway process
// ---------------------------------------------------------------------------------------------

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
        let mut last_err = String::new();
        // A port picked by free_port can be taken by someone else before ringway binds it: retry.
        for _ in 0..3 {
            match Ringway::try_start(config, workers) {
                Ok(r) => return r,
                Err(e) => last_err = e,
            }
        }
        panic!("ringway did not start:\n{last_err}");
    }

    fn try_start(config: &str, workers: usize) -> Result<Ringway, String> {
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
        Ringway::spawn(dir, config_path, workers, addrs, &text)
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
        Ringway::spawn(dir, config_path, workers, listens.to_vec(), &text)
    }

    fn spawn(
        dir: PathBuf,
        config_path: PathBuf,
        workers: usize,
        addrs: Vec<SocketAddr>,
        text: &str,
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

    /// Sends SIGTERM and waits up to `timeout` for the process to exit.
    pub fn stop_graceful(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.signal(libc::SIGTERM);
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

// ---------------------------------------------------------------------------------------------
// Heads, bodies and patterns
// ---------------------------------------------------------------------------------------------

/// Deterministic, non-repeating-looking bytes for byte-exact body checks.
pub fn pattern(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    let mut x: u32 = 0x1234_5678;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push((x as u8) ^ (i as u8));
    }
    v
}

/// Asserts two byte strings are equal without dumping megabytes on failure.
#[track_caller]
pub fn assert_bytes_eq(actual: &[u8], expected: &[u8], what: &str) {
    if actual == expected {
        return;
    }
    let first = actual
        .iter()
        .zip(expected.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    let lo = first.saturating_sub(16);
    let hi_a = (first + 32).min(actual.len());
    let hi_e = (first + 32).min(expected.len());
    panic!(
        "{what}: bodies differ: actual {} bytes, expected {} bytes, first difference at {first}\n  actual[{lo}..]:   {}\n  expected[{lo}..]: {}",
        actual.len(),
        expected.len(),
        show(&actual[lo.min(actual.len())..hi_a]),
        show(&expected[lo.min(expected.len())..hi_e])
    );
}

/// Sends `req` on a fresh connection to `rw`; asserts an answer with one of `statuses`, then a
/// closed connection. Returns the answer for further checks.
#[track_caller]
pub fn expect_rejected(rw: &Ringway, req: &[u8], statuses: &[u16], what: &str) -> Response {
    let mut c = rw.connect();
    // The proxy may close before reading everything: a failed write is fine, the answer counts.
    let _ = c.try_send(req);
    let r = match c.try_read_response(false, IO_TIMEOUT) {
        Ok(r) => r,
        Err(e) => panic!(
            "{what}: request {:?}: expected {statuses:?}, got no response: {e}",
            show(req)
        ),
    };
    assert!(
        statuses.contains(&r.status),
        "{what}: request {:?}: expected {statuses:?}, got {}",
        show(req),
        r.describe()
    );
    assert!(
        c.is_closed(),
        "{what}: request {:?}: connection stayed open after {}",
        show(req),
        r.status
    );
    r
}

/// Bytes as a readable escaped string (for messages).
pub fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(4000) {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    if b.len() > 4000 {
        s.push_str(&format!("...(+{} bytes)", b.len() - 4000));
    }
    s
}

/// Encodes `body` as chunked with chunk sizes cycling through `sizes`.
pub fn chunk(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 8 + 16);
    let mut i = 0;
    let mut k = 0;
    while i < body.len() {
        let n = sizes[k % sizes.len()].max(1).min(body.len() - i);
        k += 1;
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&body[i..i + n]);
        out.extend_from_slice(b"\r\n");
        i += n;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// Parsed header fields of a head: (name, value) with value trimmed.
fn parse_fields(lines: &str) -> Vec<(String, String)> {
    lines
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.to_string(), v.trim().to_string()))
        })
        .collect()
}

fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn headers_in<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// A source of bytes with a carry-over buffer and an overall deadline per operation.
struct Reader<'a> {
    stream: &'a mut TcpStream,
    buf: &'a mut Vec<u8>,
    log: Option<&'a Mutex<Vec<u8>>>,
    deadline: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    Data,
    Eof,
    Timeout,
    Reset,
}

impl Reader<'_> {
    fn fill(&mut self) -> Fill {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Fill::Timeout;
        }
        let _ = self
            .stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))));
        let mut tmp = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut tmp) {
                Ok(0) => return Fill::Eof,
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    if let Some(log) = self.log {
                        log.lock().unwrap().extend_from_slice(&tmp[..n]);
                    }
                    return Fill::Data;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Fill::Timeout;
                }
                Err(_) => return Fill::Reset,
            }
        }
    }

    /// Reads until the buffer holds a complete head; returns its length (CRLFCRLF included).
    fn head(&mut self) -> Result<usize, Fill> {
        loop {
            if let Some(i) = find(self.buf, b"\r\n\r\n") {
                return Ok(i + 4);
            }
            match self.fill() {
                Fill::Data => {}
                other => return Err(other),
            }
        }
    }

    /// Takes exactly n bytes.
    fn take(&mut self, n: usize) -> Result<Vec<u8>, (Vec<u8>, Fill)> {
        while self.buf.len() < n {
            match self.fill() {
                Fill::Data => {}
                other => return Err((std::mem::take(self.buf), other)),
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn line(&mut self) -> Result<Vec<u8>, Fill> {
        loop {
            if let Some(i) = find(self.buf, b"\r\n") {
                return Ok(self.buf.drain(..i + 2).collect());
            }
            match self.fill() {
                Fill::Data => {}
                other => return Err(other),
            }
        }
    }

    /// Decodes a chunked body. Returns (decoded, raw, trailers, end).
    fn chunked(&mut self) -> (Vec<u8>, Vec<u8>, Vec<u8>, Fill) {
        let mut body = Vec::new();
        let mut raw = Vec::new();
        loop {
            let line = match self.line() {
                Ok(l) => l,
                Err(f) => {
                    raw.append(self.buf);
                    return (body, raw, Vec::new(), f);
                }
            };
            raw.extend_from_slice(&line);
            let text = String::from_utf8_lossy(&line[..line.len() - 2]).to_string();
            let size_txt = text.split(';').next().unwrap().trim();
            let Ok(size) = usize::from_str_radix(size_txt, 16) else {
                // Not valid chunked framing: report what we have as a protocol violation.
                return (body, raw, Vec::new(), Fill::Reset);
            };
            if size == 0 {
                let mut trailers = Vec::new();
                loop {
                    match self.line() {
                        Ok(l) => {
                            raw.extend_from_slice(&l);
                            if l == b"\r\n" {
                                return (body, raw, trailers, Fill::Data);
                            }
                            trailers.extend_from_slice(&l);
                        }
                        Err(f) => return (body, raw, trailers, f),
                    }
                }
            }
            match self.take(size + 2) {
                Ok(d) => {
                    raw.extend_from_slice(&d);
                    if &d[size..] != b"\r\n" {
                        return (body, raw, Vec::new(), Fill::Reset);
                    }
                    body.extend_from_slice(&d[..size]);
                }
                Err((rest, f)) => {
                    raw.extend_from_slice(&rest);
                    body.extend_from_slice(&rest[..rest.len().min(size)]);
                    return (body, raw, Vec::new(), f);
                }
            }
        }
    }

    fn until_eof(&mut self) -> (Vec<u8>, Fill) {
        loop {
            match self.fill() {
                Fill::Data => {}
                other => return (std::mem::take(self.buf), other),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

/// A request as a backend received it.
#[derive(Debug, Clone)]
pub struct Req {
    /// Index of the backend connection it arrived on (0 = first accepted).
    pub conn: usize,
    /// Exact bytes received for this request: head and (raw, possibly chunked) body.
    pub raw: Vec<u8>,
    /// The head text, request line included, final CRLFCRLF included.
    pub head: String,
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub body: Vec<u8>,
    pub chunked: bool,
    pub trailers: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        headers_in(&self.headers, name)
    }
    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
    /// All values of `name` joined with ", " (how a list-valued field reads).
    pub fn joined(&self, name: &str) -> Option<String> {
        let v = self.headers_named(name);
        if v.is_empty() {
            None
        } else {
            Some(v.join(", "))
        }
    }
}

#[derive(Default)]
pub struct BackendState {
    pub accepted: AtomicUsize,
    /// Connections on which the backend saw the proxy close (EOF/reset while waiting for a request).
    pub peer_closed: AtomicUsize,
    pub requests: Mutex<Vec<Req>>,
    /// All raw bytes received, per connection.
    pub raw: Mutex<Vec<Arc<Mutex<Vec<u8>>>>>,
}

/// One accepted backend connection, handed to the handler.
pub struct Conn {
    pub stream: TcpStream,
    pub index: usize,
    buf: Vec<u8>,
    log: Arc<Mutex<Vec<u8>>>,
    state: Arc<BackendState>,
}

impl Conn {
    fn reader(&mut self, timeout: Duration) -> Reader<'_> {
        Reader {
            stream: &mut self.stream,
            buf: &mut self.buf,
            log: Some(&self.log),
            deadline: Instant::now() + timeout,
        }
    }

    /// Reads one request head only (the body stays unread). None on EOF, reset or timeout.
    pub fn read_head(&mut self) -> Option<Req> {
        self.read_head_within(IO_TIMEOUT)
    }

    pub fn read_head_within(&mut self, timeout: Duration) -> Option<Req> {
        self.read_head_end(timeout).ok()
    }

    /// Reads one request head; Err says why none came: the proxy closed (`Fill::Eof`) or reset
    /// (`Fill::Reset`) the connection, or `timeout` passed (`Fill::Timeout`).
    pub fn read_head_end(&mut self, timeout: Duration) -> Result<Req, Fill> {
        let len = match self.reader(timeout).head() {
            Ok(n) => n,
            Err(f) => {
                if matches!(f, Fill::Eof | Fill::Reset) {
                    self.state.peer_closed.fetch_add(1, Ordering::SeqCst);
                }
                return Err(f);
            }
        };
        let raw: Vec<u8> = self.buf.drain(..len).collect();
        let head = String::from_utf8_lossy(&raw).into_owned();
        let (line, rest) = head.split_once("\r\n").unwrap_or((&head, ""));
        let mut parts = line.splitn(3, ' ');
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let version = parts.next().unwrap_or("").to_string();
        let headers = parse_fields(rest);
        let chunked = header_in(&headers, "transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        Ok(Req {
            conn: self.index,
            raw,
            head,
            method,
            target,
            version,
            headers,
            body: Vec::new(),
            chunked,
            trailers: Vec::new(),
        })
    }

    /// Reads the body of `req` (by Content-Length or chunked) into it. False if incomplete.
    pub fn read_body(&mut self, req: &mut Req) -> bool {
        self.read_body_end(req) == Fill::Data
    }

    /// Like `read_body`, telling how it ended: `Fill::Data` when complete, else why it stopped
    /// (the proxy closed or reset the connection, or nothing came within `IO_TIMEOUT`).
    pub fn read_body_end(&mut self, req: &mut Req) -> Fill {
        if req.chunked {
            let (body, raw, trailers, end) = self.reader(IO_TIMEOUT).chunked();
            req.raw.extend_from_slice(&raw);
            req.body = body;
            req.trailers = trailers;
            return end;
        }
        let n: usize = req
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        match self.reader(IO_TIMEOUT).take(n) {
            Ok(b) => {
                req.raw.extend_from_slice(&b);
                req.body = b;
                Fill::Data
            }
            Err((rest, f)) => {
                req.raw.extend_from_slice(&rest);
                req.body = rest;
                f
            }
        }
    }

    /// Reads one whole request and records it in the backend's request list.
    pub fn read_request(&mut self) -> Option<Req> {
        let mut req = self.read_head()?;
        let complete = self.read_body(&mut req);
        self.record(&req);
        complete.then_some(req)
    }

    /// Records a request read with `read_head`/`read_body` in the backend's list.
    pub fn record(&self, req: &Req) {
        self.state.requests.lock().unwrap().push(req.clone());
    }

    pub fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// 200 with the given body and Content-Length (keep-alive).
    pub fn respond(&mut self, status: u16, body: &[u8]) -> bool {
        self.respond_with(status, &[], body)
    }

    pub fn respond_with(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> bool {
        let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (n, v) in headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        self.write(&bytes)
    }

    /// Reads whatever arrives until EOF or `timeout`; true when the peer closed.
    pub fn wait_eof(&mut self, timeout: Duration) -> bool {
        let (_, f) = self.reader(timeout).until_eof();
        matches!(f, Fill::Eof | Fill::Reset)
    }

    /// Reads raw bytes (at least one) within the timeout.
    pub fn read_some(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        if self.buf.is_empty() {
            match self.reader(timeout).fill() {
                Fill::Data => {}
                _ => return None,
            }
        }
        Some(std::mem::take(&mut self.buf))
    }

    /// Closes the connection now with a TCP reset (SO_LINGER 0, then the socket is closed by
    /// putting a fresh unconnected socket in place of its descriptor).
    pub fn reset(&mut self) {
        use std::os::fd::AsRawFd;
        let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
        // SAFETY: plain socket/dup2/close on descriptors this Conn owns; dup2 atomically closes
        // the connected socket (sending RST because of linger 0) and leaves a valid fd behind.
        unsafe {
            let fresh = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fresh >= 0);
            libc::dup2(fresh, self.stream.as_raw_fd());
            libc::close(fresh);
        }
    }

    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        401 => "Unauthorized",
        404 => "Not Found",
        417 => "Expectation Failed",
        500 => "Internal Server Error",
        _ => "Whatever",
    }
}

type Handler = dyn Fn(&mut Conn) + Send + Sync + 'static;

pub struct Backend {
    pub addr: SocketAddr,
    pub state: Arc<BackendState>,
    stop: Arc<AtomicBool>,
}

impl Backend {
    /// Starts a backend on a free loopback port; `handler` runs on its own thread for each
    /// accepted connection (which closes when the handler returns).
    pub fn start<F>(handler: F) -> Backend
    where
        F: Fn(&mut Conn) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("backend bind");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(BackendState::default());
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let state = state.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                for s in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = s else { continue };
                    let index = state.accepted.fetch_add(1, Ordering::SeqCst);
                    let log = Arc::new(Mutex::new(Vec::new()));
                    state.raw.lock().unwrap().push(log.clone());
                    let handler = handler.clone();
                    let state = state.clone();
                    thread::spawn(move || {
                        let _ = stream.set_nodelay(true);
                        let mut conn = Conn {
                            stream,
                            index,
                            buf: Vec::new(),
                            log,
                            state,
                        };
                        handler(&mut conn);
                    });
                }
            });
        }
        Backend { addr, state, stop }
    }

    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    pub fn peer_closed(&self) -> usize {
        self.state.peer_closed.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Req> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    /// All raw bytes received on connection `i`.
    pub fn raw(&self, i: usize) -> Vec<u8> {
        self.state.raw.lock().unwrap()[i].lock().unwrap().clone()
    }

    /// Total bytes received over all connections.
    pub fn raw_total(&self) -> usize {
        self.state
            .raw
            .lock()
            .unwrap()
            .iter()
            .map(|l| l.lock().unwrap().len())
            .sum()
    }

    /// Waits until `f()` holds (polling), up to `timeout`.
    pub fn wait_for(&self, timeout: Duration, f: impl Fn(&Backend) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if f(self) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        f(self)
    }

    /// Asserts that nobody connected (after a short grace period for late connects).
    #[track_caller]
    pub fn assert_untouched(&self, what: &str) {
        thread::sleep(Duration::from_millis(100));
        let n = self.accepted();
        if n != 0 {
            let raw = self.raw(0);
            panic!(
                "{what}: the backend must not be contacted, but it accepted {n} connection(s); first received: {}",
                show(&raw)
            );
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag; connection threads finish on their own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(100));
    }
}

/// Answers every request with 200 and a body that is the raw request head it received, plus
/// `X-Conn: N` (backend connection index) and `X-Body-Len: N` (decoded request body length).
pub fn echo_backend() -> Backend {
    Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let conn = req.conn.to_string();
            let blen = req.body.len().to_string();
            if !c.respond_with(
                200,
                &[("X-Conn", &conn), ("X-Body-Len", &blen)],
                req.head.as_bytes(),
            ) {
                return;
            }
        }
    })
}

/// Answers every request with 200, `X-Backend: TAG`, `X-Gen: V` (V: the request's `X-Gen`
/// field, `-` when absent), `X-Conn: N`, and the raw request head as the body (keep-alive).
pub fn tagged_backend(tag: &str) -> Backend {
    Backend::start(tagged_handler(tag))
}

/// Parses the raw request head a backend echoed back (the body of `echo_backend` and
/// `tagged_backend` responses): (request line, fields).
pub fn echoed_head(body: &[u8]) -> (String, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(body).into_owned();
    let (line, rest) = text.split_once("\r\n").unwrap_or((&text, ""));
    (line.to_string(), parse_fields(rest))
}

/// All values of field `name` (case-insensitive) in a parsed field list.
pub fn field_values<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers_in(fields, name)
}

/// Like `echo_backend`, but the body is the decoded request body.
pub fn body_echo_backend() -> Backend {
    Backend::start(|c| {
        while let Some(req) = c.read_request() {
            if !c.respond_with(200, &[("X-Conn", &req.conn.to_string())], &req.body) {
                return;
            }
        }
    })
}

/// Answers every request on a connection with the same raw bytes (keeps the connection).
pub fn fixed_backend(bytes: &[u8]) -> Backend {
    let bytes = bytes.to_vec();
    Backend::start(move |c| {
        while c.read_request().is_some() {
            if !c.write(&bytes) {
                return;
            }
        }
    })
}

/// Answers the first request with the raw bytes, then closes the connection.
pub fn fixed_backend_then_close(bytes: &[u8]) -> Backend {
    let bytes = bytes.to_vec();
    Backend::start(move |c| {
        if c.read_request().is_some() {
            c.write(&bytes);
            let _ = c.stream.flush();
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(usize),
    Chunked,
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The body was complete per its framing.
    Complete,
    /// The connection closed before the body was complete.
    Eof,
    /// Nothing more arrived within the timeout.
    Timeout,
    /// The connection was reset, or the chunked framing was invalid.
    Broken,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Status line and fields, final CRLFCRLF included.
    pub head: String,
    pub headers: Vec<(String, String)>,
    /// Decoded body.
    pub body: Vec<u8>,
    /// Body bytes as framed on the wire (chunk framing included).
    pub raw_body: Vec<u8>,
    pub trailers: Vec<u8>,
    pub framing: Framing,
    pub end: End,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        headers_in(&self.headers, name)
    }
    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// `Connection` lists `close`.
    pub fn says_close(&self) -> bool {
        self.headers_named("connection")
            .iter()
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }
    pub fn says_keep_alive(&self) -> bool {
        self.headers_named("connection").iter().any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("keep-alive"))
        })
    }
    pub fn describe(&self) -> String {
        format!(
            "{}[body {} bytes, end {:?}]: {}",
            self.head,
            self.body.len(),
            self.end,
            show(&self.body[..self.body.len().min(300)])
        )
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        let _ = stream.set_nodelay(true);
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Connects without panicking (for load loops that count failures).
    pub fn try_connect(addr: SocketAddr) -> std::io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        let _ = stream.set_nodelay(true);
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("client write of {} bytes: {e}", bytes.len()));
    }

    /// Writes, reporting failure instead of panicking (the proxy may have closed already).
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Writes `bytes` in pieces of `piece` bytes with a pause after each.
    pub fn send_in_pieces(&mut self, bytes: &[u8], piece: usize, pause: Duration) {
        for p in bytes.chunks(piece.max(1)) {
            self.send(p);
            self.stream.flush().unwrap();
            thread::sleep(pause);
        }
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    fn reader(&mut self, timeout: Duration) -> Reader<'_> {
        Reader {
            stream: &mut self.stream,
            buf: &mut self.buf,
            log: None,
            deadline: Instant::now() + timeout,
        }
    }

    /// Reads one response (a 1xx included) to a non-HEAD request; panics unless it is complete.
    #[track_caller]
    pub fn read_response(&mut self) -> Response {
        match self.try_read_response(false, IO_TIMEOUT) {
            Ok(r) if r.end == End::Complete => r,
            Ok(r) => panic!("incomplete response: {}", r.describe()),
            Err(e) => panic!("no response: {e}"),
        }
    }

    /// Reads the response to a HEAD request (no body whatever the fields say).
    #[track_caller]
    pub fn read_head_response(&mut self) -> Response {
        match self.try_read_response(true, IO_TIMEOUT) {
            Ok(r) => r,
            Err(e) => panic!("no response: {e}"),
        }
    }

    /// Reads one response. Err when no complete head arrived (with what did arrive).
    pub fn try_read_response(
        &mut self,
        head_request: bool,
        timeout: Duration,
    ) -> Result<Response, String> {
        let mut rd = self.reader(timeout);
        let len = match rd.head() {
            Ok(n) => n,
            Err(f) => {
                return Err(format!(
                    "{f:?} before a complete response head; received: {:?}",
                    show(rd.buf)
                ));
            }
        };
        let raw: Vec<u8> = rd.buf.drain(..len).collect();
        let head = String::from_utf8_lossy(&raw).into_owned();
        let (line, rest) = head.split_once("\r\n").unwrap_or((&head, ""));
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line: {line:?}"))?;
        if !line.starts_with("HTTP/1.") {
            return Err(format!("bad status line: {line:?}"));
        }
        let headers = parse_fields(rest);
        let te = header_in(&headers, "transfer-encoding").map(|v| v.to_ascii_lowercase());
        let cl = header_in(&headers, "content-length").and_then(|v| v.parse::<usize>().ok());
        let framing = if head_request || status < 200 || status == 204 || status == 304 {
            Framing::None
        } else if te.as_deref().is_some_and(|t| t.contains("chunked")) {
            Framing::Chunked
        } else if let Some(n) = cl {
            Framing::Length(n)
        } else {
            Framing::Close
        };
        let mut resp = Response {
            status,
            head,
            headers,
            body: Vec::new(),
            raw_body: Vec::new(),
            trailers: Vec::new(),
            framing,
            end: End::Complete,
        };
        match framing {
            Framing::None => {}
            Framing::Length(n) => match rd.take(n) {
                Ok(b) => {
                    resp.raw_body = b.clone();
                    resp.body = b;
                }
                Err((rest, f)) => {
                    resp.raw_body = rest.clone();
                    resp.body = rest;
                    resp.end = end_of(f);
                }
            },
            Framing::Chunked => {
                let (body, raw, trailers, f) = rd.chunked();
                resp.body = body;
                resp.raw_body = raw;
                resp.trailers = trailers;
                resp.end = if f == Fill::Data {
                    End::Complete
                } else {
                    end_of(f)
                };
            }
            Framing::Close => {
                let (body, f) = rd.until_eof();
                resp.raw_body = body.clone();
                resp.body = body;
                resp.end = match f {
                    Fill::Eof => End::Complete,
                    other => end_of(other),
                };
            }
        }
        Ok(resp)
    }

    /// Bytes already received but not consumed by a response read.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Reads exactly n raw bytes (for tunnels).
    #[track_caller]
    pub fn read_exact_bytes(&mut self, n: usize) -> Vec<u8> {
        match self.reader(IO_TIMEOUT).take(n) {
            Ok(b) => b,
            Err((got, f)) => panic!(
                "wanted {n} bytes, got {} then {f:?}: {}",
                got.len(),
                show(&got)
            ),
        }
    }

    /// Waits up to `timeout` for the connection to be closed by the peer. True on EOF/reset;
    /// false when it stays open (or more bytes arrive: those are kept in `extra`).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut rd = self.reader(timeout);
        matches!(rd.fill(), Fill::Eof | Fill::Reset)
    }

    /// `closed_within` with the default 2 s.
    pub fn is_closed(&mut self) -> bool {
        self.closed_within(Duration::from_secs(2))
    }

    /// Reads everything until EOF (or timeout). Returns (bytes, closed).
    pub fn read_to_close(&mut self, timeout: Duration) -> (Vec<u8>, bool) {
        let (b, f) = self.reader(timeout).until_eof();
        (b, matches!(f, Fill::Eof | Fill::Reset))
    }
}

fn end_of(f: Fill) -> End {
    match f {
        Fill::Data => End::Complete,
        Fill::Eof => End::Eof,
        Fill::Timeout => End::Timeout,
        Fill::Reset => End::Broken,
    }
}

/// Sends `req` on a fresh connection and reads one response (non-HEAD).
pub fn exchange(addr: SocketAddr, req: &[u8]) -> (Client, Response) {
    let mut c = Client::connect(addr);
    c.send(req);
    let r = c.read_response();
    (c, r)
}

/// The check for "`Connection: close` where the connection cannot be reused": either the
/// response says close and the connection then closes, or the connection must serve another
/// request (`GET /again`) whose final response has status `next_status`.
#[track_caller]
pub fn assert_closed_or_reusable(c: &mut Client, resp: &Response, next_status: u16) {
    if resp.says_close() {
        assert!(
            c.is_closed(),
            "response said Connection: close but the connection stayed open"
        );
        return;
    }
    if c.try_send(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        .is_err()
    {
        panic!(
            "no Connection: close, but the connection was closed: {}",
            resp.describe()
        );
    }
    loop {
        match c.try_read_response(false, IO_TIMEOUT) {
            Ok(r) if r.status < 200 => continue,
            Ok(r) if r.end == End::Complete && r.status == next_status => return,
            Ok(r) => panic!(
                "no Connection: close on {}, but the next request on the connection got (expected {next_status}): {}",
                resp.status,
                r.describe()
            ),
            Err(e) => panic!(
                "no Connection: close on {}, but the connection could not be reused: {e}",
                resp.status
            ),
        }
    }
}

/// Asserts the client got `status` and then the connection closed.
#[track_caller]
pub fn assert_status_and_close(c: &mut Client, status: u16, what: &str) -> Response {
    let r = match c.try_read_response(false, IO_TIMEOUT) {
        Ok(r) => r,
        Err(e) => panic!("{what}: expected {status}, got no response: {e}"),
    };
    assert_eq!(
        r.status,
        status,
        "{what}: wrong status; response: {}",
        r.describe()
    );
    assert!(
        c.is_closed(),
        "{what}: connection not closed after {status}"
    );
    r
}

// ---------------------------------------------------------------------------------------------
// Killable backends (failover tests)
// ---------------------------------------------------------------------------------------------

/// The handler of `tagged_backend` (same answers), for backends started another way.
pub fn tagged_handler(tag: &str) -> impl Fn(&mut Conn) + Send + Sync + 'static {
    let tag = tag.to_string();
    move |c: &mut Conn| {
        while let Some(req) = c.read_request() {
            let conn = req.conn.to_string();
            let generation = req.header("x-gen").unwrap_or("-").to_string();
            if !c.respond_with(
                200,
                &[
                    ("X-Backend", &tag),
                    ("X-Gen", &generation),
                    ("X-Conn", &conn),
                ],
                req.head.as_bytes(),
            ) {
                return;
            }
        }
    }
}

/// A scripted backend that can be killed (its listener closed and every open connection shut
/// down, so the port refuses connections) and restarted on the same port. Counts and recorded
/// requests accumulate over restarts.
pub struct KillableBackend {
    pub addr: SocketAddr,
    pub state: Arc<BackendState>,
    handler: Arc<Handler>,
    stop: Arc<AtomicBool>,
    /// Clones of the open connections (removed when their handler returns), to shut them down.
    conns: Arc<Mutex<Vec<(usize, TcpStream)>>>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl KillableBackend {
    pub fn start<F>(handler: F) -> KillableBackend
    where
        F: Fn(&mut Conn) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("backend bind");
        let mut b = KillableBackend {
            addr: listener.local_addr().unwrap(),
            state: Arc::new(BackendState::default()),
            handler: Arc::new(handler),
            stop: Arc::new(AtomicBool::new(false)),
            conns: Arc::new(Mutex::new(Vec::new())),
            acceptor: None,
        };
        b.serve(listener);
        b
    }

    fn serve(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        self.stop = stop.clone();
        let (state, handler, conns) =
            (self.state.clone(), self.handler.clone(), self.conns.clone());
        // A polling acceptor: it owns the listener and drops it (closing the port) when stopped.
        self.acceptor = Some(thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let stream = match listener.accept() {
                    Ok((s, _)) => s,
                    Err(_) => {
                        thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                };
                let _ = stream.set_nonblocking(false);
                let index = state.accepted.fetch_add(1, Ordering::SeqCst);
                if let Ok(clone) = stream.try_clone() {
                    conns.lock().unwrap().push((index, clone));
                }
                let log = Arc::new(Mutex::new(Vec::new()));
                state.raw.lock().unwrap().push(log.clone());
                let (handler, state, conns) = (handler.clone(), state.clone(), conns.clone());
                thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let mut conn = Conn {
                        stream,
                        index,
                        buf: Vec::new(),
                        log,
                        state,
                    };
                    handler(&mut conn);
                    conns.lock().unwrap().retain(|(i, _)| *i != index);
                });
            }
        }));
    }

    /// Closes the listener (the port then refuses connections) and shuts down every open
    /// connection. Returns how many connections were open.
    pub fn kill(&mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            a.join().unwrap();
        }
        let conns = std::mem::take(&mut *self.conns.lock().unwrap());
        for (_, s) in &conns {
            let _ = s.shutdown(Shutdown::Both);
        }
        conns.len()
    }

    /// Listens again on the same address (after `kill`).
    pub fn restart(&mut self) {
        assert!(self.acceptor.is_none(), "restart of a running backend");
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() > deadline => panic!("rebind {}: {e}", self.addr),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        };
        self.serve(listener);
    }

    /// Connections the backend holds open: accepted and its handler not yet returned (nor shut
    /// down by `kill`).
    pub fn open_count(&self) -> usize {
        self.conns.lock().unwrap().len()
    }

    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Req> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }
}

impl Drop for KillableBackend {
    fn drop(&mut self) {
        self.kill();
    }
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
