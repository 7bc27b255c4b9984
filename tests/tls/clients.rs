//! Real TLS clients for the tests: `openssl s_client` and `curl`, run as processes with a time
//! limit, and a live `s_client` kept open as a keep-alive connection.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::Pki;

/// How long one client process may run.
const LIMIT: Duration = Duration::from_secs(8);

/// A finished client process.
#[derive(Debug)]
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn all(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }

    /// `s_client`: the leaf's subject line (`CN = name, …` as OpenSSL 3 prints it).
    pub fn subject(&self) -> Option<&str> {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("subject="))
            .map(str::trim)
    }

    /// `s_client`: the leaf certificate's CN.
    pub fn cn(&self) -> Option<String> {
        let s = self.subject()?;
        s.split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("CN = ").or_else(|| p.strip_prefix("CN=")))
            .map(str::to_string)
    }

    /// `s_client`: whether the session was resumed ("Reused, TLSv1.3, …").
    pub fn reused(&self) -> bool {
        self.stdout.lines().any(|l| l.starts_with("Reused,"))
    }

    /// `s_client`: whether a handshake completed ("New, …" or "Reused, …" with a cipher).
    pub fn handshake_done(&self) -> bool {
        self.stdout.lines().any(|l| {
            (l.starts_with("New,") || l.starts_with("Reused,")) && !l.contains("Cipher is (NONE)")
        })
    }

    /// `s_client`: "Server public key is N bit".
    pub fn server_key_bits(&self) -> Option<u32> {
        self.stdout.lines().find_map(|l| {
            l.strip_prefix("Server public key is ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
    }

    /// `s_client`: the negotiated protocol ("New, TLSv1.3, Cipher is …").
    pub fn protocol(&self) -> Option<&str> {
        self.stdout.lines().find_map(|l| {
            let rest = l
                .strip_prefix("New, ")
                .or_else(|| l.strip_prefix("Reused, "))?;
            let (proto, cipher) = rest.split_once(", Cipher is ")?;
            (cipher != "(NONE)").then_some(proto)
        })
    }
}

/// Runs `cmd` with `input` on its stdin, for at most `LIMIT` (then kills it).
pub fn run(cmd: &mut Command, input: &[u8]) -> Out {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let stdout = reader(child.stdout.take().unwrap());
    let stderr = reader(child.stderr.take().unwrap());
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    let stdout = stdout.join().unwrap();
    let stderr = stderr.join().unwrap();
    let mut out = Out {
        ok: status.is_some_and(|s| s.success()),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    if status.is_none() {
        out.stderr.push_str("\n[killed: ran past its time limit]");
    }
    out
}

fn reader(mut r: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// `openssl s_client -connect ADDR -CAfile <test CA> ARGS`. With `request`, that is sent once
/// the handshake is done and the client reads until ringway closes (`-ign_eof`); without, the
/// client closes right after the handshake.
pub fn s_client(addr: SocketAddr, args: &[&str], request: Option<&[u8]>) -> Out {
    let mut cmd = Command::new("openssl");
    cmd.arg("s_client")
        .arg("-connect")
        .arg(addr.to_string())
        .arg("-CAfile")
        .arg(&Pki::get().ca)
        .args(args);
    if request.is_some() {
        cmd.arg("-ign_eof");
    }
    run(&mut cmd, request.unwrap_or(b""))
}

/// A `GET PATH` with `Connection: close` for `s_client`.
pub fn close_request(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

/// A curl answer: status, body, and the whole process output.
#[derive(Debug)]
pub struct Curl {
    pub status: u16,
    pub body: String,
    pub out: Out,
}

/// `curl https://NAME:PORT/PATH --resolve NAME:PORT:IP --cacert <test CA> ARGS`. Status 0
/// when curl got no answer (its error is in `out.stderr`).
pub fn curl_https(addr: SocketAddr, name: &str, path: &str, args: &[&str]) -> Curl {
    let ip = match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    let port = addr.port();
    let url = format!("https://{name}:{port}{path}");
    let resolve = format!("{name}:{port}:{ip}");
    let ca = Pki::get().ca.to_str().unwrap();
    let mut all: Vec<&str> = vec!["--resolve", &resolve, "--cacert", ca];
    all.extend_from_slice(args);
    all.push(&url);
    curl(&all)
}

/// `curl -sS --max-time 5 -w '\n%{http_code}' ARGS`.
pub fn curl(args: &[&str]) -> Curl {
    let out = run(
        Command::new("curl")
            .args(["-sS", "--max-time", "5", "-w", "\n%{http_code}"])
            .args(args),
        b"",
    );
    let (body, code) = out.stdout.rsplit_once('\n').unwrap_or(("", ""));
    Curl {
        status: code.trim().parse().unwrap_or(0),
        body: body.to_string(),
        out: Out {
            ok: out.ok,
            stdout: out.stdout.clone(),
            stderr: out.stderr.clone(),
        },
    }
}

/// `--cert C --key K` for curl.
pub fn cert_args(pair: &crate::common::Pair) -> Vec<String> {
    vec![
        "--cert".into(),
        pair.cert.display().to_string(),
        "--key".into(),
        pair.key.display().to_string(),
    ]
}

/// An `s_client -quiet` kept running: a TLS keep-alive connection the test writes requests to
/// and reads answers from.
pub struct LiveClient {
    child: Child,
    got: Arc<Mutex<Vec<u8>>>,
}

impl LiveClient {
    pub fn open(addr: SocketAddr, args: &[&str]) -> LiveClient {
        let mut child = Command::new("openssl")
            .arg("s_client")
            .arg("-quiet")
            .arg("-connect")
            .arg(addr.to_string())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn s_client");
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let mut stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        LiveClient { child, got }
    }

    /// Sends `GET PATH` (keep-alive) and waits for an answer whose body ends with `until`;
    /// returns everything read since the last call.
    pub fn request(&mut self, host: &str, path: &str, until: &str) -> String {
        self.got.lock().unwrap().clear();
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let stdin = self.child.stdin.as_mut().unwrap();
        let _ = stdin.write_all(req.as_bytes());
        let _ = stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = String::from_utf8_lossy(&self.got.lock().unwrap()).into_owned();
            if text.ends_with(until) || Instant::now() > deadline {
                return text;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for LiveClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
