//! Robustness over real sockets: no input can take down a shard, and no bad upstream answer can
//! break another request.
//!
//! ringway runs with `--workers 1` (one shard: a dead shard shows as every later request
//! hanging) in front of a scripted upstream (`robustness/upstream.rs`) with pooled keep-alive
//! connections. Each case
//! - sends a random valid request of one of many shapes (methods TRACE/CONNECT/OPTIONS/PATCH/…,
//!   absolute-form, `Expect: 100-continue` with and without a body, Content-Length and chunked
//!   bodies up to 70 KB, Upgrade, HTTP/1.0, pipelined pairs), half the time mutated (bits flipped,
//!   bytes inserted or deleted, fields duplicated or dropped, bogus framing, huge heads, bare LF,
//!   truncation…), written at once or in pieces, and ended by reading, half-closing, closing or
//!   resetting (`robustness/input.rs`);
//! - has the upstream answer each request its own way: proper answers of every framing, 1xx
//!   sequences before any final answer, 101 whether asked for or not, closes and resets before,
//!   in and after the head, bad framing, stray bytes after the body (with it, or late: once the
//!   connection may be back in the pool), bodies shorter than their Content-Length on a kept
//!   connection, huge heads, bodies to HEAD and with 204/304, answers before the request body was
//!   read, stalls;
//!
//! and then checks
//! 1. for a valid request read to the end: what the client got reads as a response sequence a
//!    strict client accepts (`robustness/stream.rs`), some answer came (never a silent close),
//!    and the connection did not hang (answered or closed within 3 s; ringway's upstream read
//!    timeout here is 500 ms); the upstream got the request intact: method, target exactly as sent
//!    (`proxy_pass` without a URI part forwards it as sent, as nginx does) and body;
//! 2. a plain `GET` on a new connection is answered 200, with the upstream's body, within 3 s:
//!    the shard lives, and the pooled upstream connection the case may have left behind (LIFO:
//!    the probe takes the newest) was not poisoned by a bad answer (a late stray write that is
//!    a whole, well-formed answer is waited out first: `Shared::settle` says why no proxy can
//!    catch that one);
//! 3. ringway's descriptors return to the baseline. The check, and why it is sound: once the
//!    case's client is gone and the probe answered, every descriptor that is neither a pipe nor a
//!    TCP connection to the upstream must be as in the baseline (listener, ring, eventfd, log…);
//!    no client connection may be left; upstream connections at most `keepalive` (4): the pool
//!    holds up to that many idle ones, and an idle one may be one the upstream has closed
//!    (CLOSE_WAIT until a `take` peeks at it: bounded by the pool, so not a leak); pipes at most
//!    MAX_PIPE_FDS (pooled splice pipes: sequential traffic uses at most two at a time). Fast
//!    path: total − pipes = baseline + the connections the upstream still has open (polled; two
//!    equal snapshots); otherwise the sockets are classified by `/proc/PID/net/tcp` (slow on a
//!    busy host) until the check holds, for up to 5 s.
//!
//! Any failure prints one line with the check that failed and one with the seed, the case
//! index, the client's bytes and the upstream's answers, escaped (`RINGWAY_ROBUST_ONLY=I` reruns
//! that case alone: a case depends only on the seed and its index). When the probe or the
//! descriptor check fails, ringway and the upstream are restarted (the next case must not
//! inherit a dead shard); the run goes on up to RINGWAY_ROBUST_MAX_FAILURES failed cases and
//! then fails with a summary of the distinct failures.
//!
//! The default run (CI) is bounded: DEFAULT_CASES (300) cases of a fixed seed, about 25 s on 2
//! cores when ringway passes (measured: the 268 cases the current ringway passes took 20 s). A
//! failing case costs up to about 7 s more (3 s waiting for its answers, the probe's 3 s, a
//! restart) and the default stops after 3 failing cases, so the run stays under a minute
//! whatever ringway does. Longer runs, e.g. overnight or before a release (a release build is
//! not needed: the cases mostly wait on sockets):
//!
//! ```text
//! RINGWAY_ROBUST_CASES=20000 RINGWAY_ROBUST_SEED=7 RINGWAY_ROBUST_MAX_FAILURES=1000 \
//!     cargo test --test robustness -- --nocapture
//! ```
//!
//! - `RINGWAY_ROBUST_SEED=S`: the run's seed (decimal or 0x-hex; `random` picks one from the
//!   clock and prints it). Case I of seed S is the same on every machine.
//! - `RINGWAY_ROBUST_CASES=N`: how many cases (default DEFAULT_CASES).
//! - `RINGWAY_ROBUST_ONLY=I[,J…]`: only these cases (a reproducer).
//! - `RINGWAY_ROBUST_MAX_FAILURES=K`: stop after K failed cases (default 3).
//! - `RINGWAY_ROBUST_VERBOSE=1`: one line per case, with its time (a progress line comes every
//!   500 cases anyway).

mod common;
#[path = "robustness/input.rs"]
mod input;
#[path = "robustness/rng.rs"]
mod rng;
#[path = "robustness/stream.rs"]
mod stream;
#[path = "robustness/upstream.rs"]
mod upstream;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use input::{ClientEnd, ClientPlan, Send};
use rng::Rng;
use stream::{Sent, State};
use upstream::{Answer, Shared};

const DEFAULT_SEED: u64 = 0x5eed_0017;
const DEFAULT_CASES: usize = 300;
const KEEPALIVE: usize = 4;
/// Pooled splice pipes (two descriptors each) ringway may keep after sequential traffic.
const MAX_PIPE_FDS: usize = 8;
/// Longest wait for the probe's answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait for descriptors to settle.
const FD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a valid request's client waits for its answers (ringway's upstream read timeout is
/// 500 ms, its own `100 Continue` comes after 1 s).
const VALID_WAIT: Duration = Duration::from_secs(3);
/// How long a mutated request's client waits (it may be incomplete: nothing would come).
const MUTATED_WAIT: Duration = Duration::from_millis(400);

fn config(backend: SocketAddr) -> String {
    format!(
        "http {{
    upstream backend {{
        server {backend};
        keepalive {KEEPALIVE};
    }}
    server {{
        listen {LISTEN};
        client_header_timeout 2s;
        client_body_timeout 2s;
        send_timeout 2s;
        keepalive_timeout 10s;
        location / {{
            proxy_pass http://backend;
            proxy_connect_timeout 1s;
            proxy_send_timeout 1s;
            proxy_read_timeout 500ms;
        }}
        location {probe} {{
            proxy_pass http://backend;
            proxy_read_timeout 5s;
        }}
    }}
}}
",
        probe = upstream::PROBE_PREFIX
    )
}

/// One case: what the client does and how the upstream answers.
struct Case {
    client: ClientPlan,
    answers: Vec<Answer>,
}

fn case(seed: u64, index: usize) -> Case {
    let mut rng = Rng::for_case(seed, index as u64);
    let mut client = input::plan(&mut rng);
    // Tag valid requests so that the upstream's record can be matched to the case.
    if !client.mutated() {
        for (k, r) in client.requests.iter_mut().enumerate() {
            r.fields.push(("X-Case".into(), format!("{index}.{k}")));
        }
        client.first_head_len = client.requests[0].head().len();
        client.bytes = client
            .requests
            .iter()
            .flat_map(|r| {
                let mut b = r.head();
                b.extend_from_slice(&r.body_bytes());
                b
            })
            .collect();
    }
    let n = client.requests.len();
    let answers = (0..n).map(|_| upstream::answer(&mut rng)).collect();
    Case { client, answers }
}

/// Longest escaped byte string a reproducer prints (the case index regenerates it exactly).
const REPRO_CHARS: usize = 3000;

fn reproducer(seed: u64, index: usize, c: &Case) -> String {
    let answers: Vec<String> = c.answers.iter().map(Answer::describe).collect();
    let mut bytes = show_all(&c.client.bytes);
    if bytes.len() > REPRO_CHARS {
        // ASCII only (`show` escapes the rest).
        bytes = format!(
            "{}…(of {} bytes)",
            &bytes[..REPRO_CHARS],
            c.client.bytes.len()
        );
    }
    format!(
        "RINGWAY_ROBUST_SEED={seed:#x} RINGWAY_ROBUST_ONLY={index}: client sends \"{}\" ({:?}, {:?}{}); upstream answers {}",
        bytes,
        c.client.send,
        c.client.end,
        if c.client.mutated() {
            format!(", mutated: {}", c.client.mutations.join("; "))
        } else {
            String::new()
        },
        answers.join(" then ")
    )
}

/// `show` without its 4000-byte cut, but long runs of one byte shortened.
fn show_all(b: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let mut j = i;
        while j < b.len() && b[j] == b[i] {
            j += 1;
        }
        if j - i > 16 {
            out.push_str(&show(&b[i..i + 1]));
            out.push_str(&format!("{{x{}}}", j - i));
        } else {
            out.push_str(&show(&b[i..j]));
        }
        i = j;
    }
    out
}

/// A finding: which check failed (a short stable key for the summary) and the details.
struct Failure {
    key: String,
    detail: String,
}

/// A failure; its detail on one line (line ends escaped).
fn fail(key: impl Into<String>, detail: impl Into<String>) -> Failure {
    Failure {
        key: key.into(),
        detail: detail.into().replace('\r', "\\r").replace('\n', "\\n"),
    }
}

/// ringway, the upstream and ringway's descriptor baseline.
struct Harness {
    shared: Arc<Shared>,
    backend: KillableBackend,
    rw: Ringway,
    /// Descriptors other than pipes and TCP connections to the upstream, at rest.
    base_other: usize,
    /// What they were (for failure messages).
    base_list: String,
}

impl Harness {
    fn start() -> Harness {
        let shared = Arc::new(Shared::default());
        let backend = upstream::start(shared.clone());
        let rw = Ringway::start_with(&config(backend.addr), 1);
        let mut h = Harness {
            shared,
            backend,
            rw,
            base_other: 0,
            base_list: String::new(),
        };
        // A first exchange, so that whatever is opened on first use is in the baseline.
        if let Err(e) = h.probe("warm") {
            panic!("ringway does not answer at the start: {}", e.detail);
        }
        // At rest: no client connection, and the same counts 200 ms apart (a socket ringway is
        // closing just then must not become part of the baseline).
        let mut snap = h
            .settled(false, FD_TIMEOUT, |s| s.client == 0)
            .unwrap_or_else(|s| panic!("no baseline: {s:?}"));
        for _ in 0..20 {
            thread::sleep(Duration::from_millis(200));
            let again = h
                .settled(false, FD_TIMEOUT, |s| s.client == 0)
                .unwrap_or_else(|s| panic!("no baseline: {s:?}"));
            if again.same(&snap) {
                break;
            }
            snap = again;
        }
        h.base_other = snap.other;
        h.base_list = fd_list(h.rw.pid());
        h
    }

    fn probe(&self, tag: &str) -> Result<(), Failure> {
        let target = format!("{}{tag}", upstream::PROBE_PREFIX);
        let mut c = Client::try_connect(self.rw.addr)
            .map_err(|e| fail("probe: connect", format!("probe connect: {e}")))?;
        let _ = c.try_send(format!("GET {target} HTTP/1.1\r\nHost: probe\r\n\r\n").as_bytes());
        match c.try_read_response(false, PROBE_TIMEOUT) {
            Ok(r)
                if r.status == 200
                    && r.end == End::Complete
                    && r.body == upstream::probe_body(&target).as_bytes() =>
            {
                Ok(())
            }
            Ok(r) => Err(fail(
                if r.status == 200 {
                    "probe: 200 with the wrong body".to_string()
                } else {
                    format!("probe: {}", r.status)
                },
                format!("the plain GET after the case got: {}", r.describe()),
            )),
            Err(e) => {
                let log = strip_ansi(&self.rw.stderr());
                // `thread 'ringway-shard-0' (123) panicked at src/…:467:5:` → its location.
                let panic = log.lines().find(|l| l.contains("panicked"));
                let at = panic
                    .and_then(|l| l.split(" panicked at ").nth(1))
                    .map(|a| a.trim_end_matches(':').to_string());
                Err(fail(
                    match &at {
                        Some(at) => format!("probe: no answer, the shard panicked at {at}"),
                        None => "probe: no answer".to_string(),
                    },
                    format!(
                        "the plain GET after the case got no answer within {PROBE_TIMEOUT:?} (a dead shard?): {e}{}",
                        panic
                            .map(|l| format!("; ringway logged: {l}"))
                            .unwrap_or_default()
                    ),
                ))
            }
        }
    }

    /// One snapshot of ringway's descriptors, by the fast path (counts only) or, with `tcp`,
    /// with the sockets classified by the kernel's TCP table.
    fn snapshot(&self, tcp: bool) -> Snap {
        let fds = self.rw.fds();
        let open = self.backend.open_count();
        if !tcp {
            return Snap {
                pipes: fds.pipes,
                client: usize::MAX,
                upstream: open,
                other: (fds.total - fds.pipes).saturating_sub(open),
                conns: Vec::new(),
            };
        }
        let tcp = self.rw.tcp();
        let conns: Vec<String> = tcp
            .iter()
            .filter(|c| c.state != "LISTEN")
            .map(|c| format!("{}->{} {}", c.local, c.peer, c.state))
            .collect();
        let client = tcp
            .iter()
            .filter(|c| c.local.port() == self.rw.port && c.state != "LISTEN")
            .count();
        let upstream = tcp.iter().filter(|c| c.peer == self.backend.addr).count();
        Snap {
            pipes: fds.pipes,
            client,
            upstream,
            other: (fds.total - fds.pipes).saturating_sub(client + upstream),
            conns,
        }
    }

    /// Polls until `ok` holds for a snapshot: with `fast`, first by counts only (two equal
    /// snapshots in a row adding up to the baseline), then by the TCP table.
    fn settled(
        &self,
        fast: bool,
        timeout: Duration,
        ok: impl Fn(&Snap) -> bool,
    ) -> Result<Snap, Snap> {
        if fast {
            let mut last: Option<Snap> = None;
            for _ in 0..5 {
                let s = self.snapshot(false);
                if s.other == self.base_other
                    && s.upstream <= KEEPALIVE
                    && s.pipes <= MAX_PIPE_FDS
                    && last.as_ref().is_some_and(|l| l.same(&s))
                {
                    return Ok(s);
                }
                last = Some(s);
                thread::sleep(Duration::from_millis(10));
            }
        }
        let deadline = Instant::now() + timeout;
        let mut last: Option<Snap> = None;
        loop {
            let s = self.snapshot(true);
            if ok(&s)
                && last
                    .as_ref()
                    .is_some_and(|l| l.same(&s) && l.client == s.client)
            {
                return Ok(s);
            }
            if Instant::now() > deadline {
                return Err(s);
            }
            last = Some(s);
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn check_fds(&self, timeout: Duration) -> Result<(), Failure> {
        let base = self.base_other;
        self.settled(true, timeout, |s| {
            s.client == 0 && s.upstream <= KEEPALIVE && s.pipes <= MAX_PIPE_FDS && s.other == base
        })
        .map(|_| ())
        .map_err(|s| {
            let key = if s.client > 0 {
                "fds: client connection left open"
            } else if s.upstream > KEEPALIVE {
                "fds: more upstream connections than the pool holds"
            } else if s.pipes > MAX_PIPE_FDS {
                "fds: pipes"
            } else {
                "fds: other descriptors"
            };
            fail(
                key,
                format!(
                    "descriptors did not return to the baseline within {timeout:?}: {s:?}, baseline other={base}, upstream has {} open; descriptors now: {}; at the baseline: {}",
                    self.backend.open_count(),
                    fd_list(self.rw.pid()),
                    self.base_list
                ),
            )
        })
    }
}

/// The process's descriptors by target, counted (`socket:[…]` by kind only).
fn fd_list(pid: i32) -> String {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in dir.flatten() {
            if let Ok(t) = std::fs::read_link(e.path()) {
                let t = t.to_string_lossy().into_owned();
                let kind = match t.split_once(":[") {
                    Some((k, _)) => format!("{k}:[…]"),
                    None => t,
                };
                *kinds.entry(kind).or_default() += 1;
            }
        }
    }
    format!("{kinds:?}")
}

#[derive(Debug)]
#[allow(dead_code)] // `conns` is read through Debug, in failure messages.
struct Snap {
    pipes: usize,
    /// Client connections (usize::MAX: not classified).
    client: usize,
    upstream: usize,
    other: usize,
    conns: Vec<String>,
}

impl Snap {
    fn same(&self, o: &Snap) -> bool {
        (self.pipes, self.upstream, self.other) == (o.pipes, o.upstream, o.other)
    }
}

/// What the client saw.
struct Seen {
    bytes: Vec<u8>,
    closed: bool,
    /// The scan of `bytes` against the valid requests (None for a mutated case).
    scan: Option<stream::Scan>,
}

fn sent_of(plan: &ClientPlan) -> Vec<Sent> {
    plan.requests
        .iter()
        .map(|r| Sent {
            method: r.method.clone(),
            http10: r.http10,
            upgrade: r.upgrade,
        })
        .collect()
}

/// Runs the client side of a case.
fn client(addr: SocketAddr, plan: &ClientPlan) -> Result<Seen, Failure> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .map_err(|e| fail("client: connect", format!("connect: {e}")))?;
    let _ = stream.set_nodelay(true);
    let mut w = stream.try_clone().unwrap();
    let _ = w.set_write_timeout(Some(Duration::from_secs(5)));
    let (bytes, send, end) = (plan.bytes.clone(), plan.send, plan.end);
    let head_len = plan.first_head_len.min(bytes.len());
    let writer = thread::spawn(move || {
        let pieces: Vec<(&[u8], u64)> = match send {
            Send::AllAtOnce => vec![(&bytes[..], 0)],
            Send::HeadThenRest { pause_ms } => {
                vec![(&bytes[..head_len], pause_ms), (&bytes[head_len..], 0)]
            }
            Send::Pieces { cuts, pause_ms } => vec![
                (&bytes[..cuts[0]], pause_ms),
                (&bytes[cuts[0]..cuts[1]], pause_ms),
                (&bytes[cuts[1]..], 0),
            ],
        };
        for (p, pause) in pieces {
            if !p.is_empty() && w.write_all(p).is_err() {
                return;
            }
            if pause > 0 {
                thread::sleep(Duration::from_millis(pause));
            }
        }
        if end == ClientEnd::HalfCloseThenRead {
            let _ = w.shutdown(Shutdown::Write);
        }
    });
    let mut stream = stream;
    let sent = sent_of(plan);
    let mut seen = Seen {
        bytes: Vec::new(),
        closed: false,
        scan: None,
    };
    match end {
        ClientEnd::Close | ClientEnd::Reset => {
            let _ = writer.join();
            if end == ClientEnd::Reset {
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            }
            drop(stream);
            return Ok(seen);
        }
        _ => {}
    }
    let wait = if plan.mutated() {
        MUTATED_WAIT
    } else {
        VALID_WAIT
    };
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf) {
            Ok(0) => {
                seen.closed = true;
                break;
            }
            Ok(n) => seen.bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(_) => {
                seen.closed = true;
                break;
            }
        }
        if end == ClientEnd::CloseOnFirstBytes {
            break;
        }
        let s = stream::scan(&seen.bytes, &sent);
        if matches!(s.state, State::Done | State::Tunnel | State::Bad(_)) {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    drop(stream);
    let _ = writer.join();
    if !plan.mutated() && end != ClientEnd::CloseOnFirstBytes {
        seen.scan = Some(stream::scan(&seen.bytes, &sent));
    }
    Ok(seen)
}

/// The checks on a valid case's answers and on what reached the upstream.
fn check_valid(index: usize, c: &Case, seen: &Seen, shared: &Shared) -> Result<(), Failure> {
    let Some(scan) = &seen.scan else {
        return Ok(());
    };
    let got = || {
        let mut g = show_all(&seen.bytes);
        if g.len() > 800 {
            // ASCII only (`show` escapes the rest).
            g = format!("{}…", &g[..800]);
        }
        format!("the client got \"{g}\"")
    };
    match &scan.state {
        State::Bad(why) => {
            let key: String = why.split([':', '"']).next().unwrap_or(why).to_string();
            return Err(fail(
                format!("client stream: {key}"),
                format!("{why}; {}", got()),
            ));
        }
        State::More | State::UntilClose if !seen.closed => {
            return Err(fail(
                "client stream: hang",
                format!(
                    "{} of {} answers after {VALID_WAIT:?}, the connection still open; {}",
                    scan.finals,
                    c.client.requests.len(),
                    got()
                ),
            ));
        }
        // A client that half-closed may be taken for gone (nginx: 499, closed).
        _ if c.client.end == ClientEnd::HalfCloseThenRead => {}
        _ if seen.closed && scan.statuses.is_empty() => {
            return Err(fail(
                "client stream: closed without an answer",
                format!("the connection closed with no answer at all; {}", got()),
            ));
        }
        State::More
            if scan.finals >= 1
                && scan.finals < c.client.requests.len()
                && scan.done_at == seen.bytes.len() =>
        {
            return Err(fail(
                "client stream: pipelined request unanswered",
                format!(
                    "{} of {} answers, then the connection closed (the last answer did not say Connection: close); {}",
                    scan.finals,
                    c.client.requests.len(),
                    got()
                ),
            ));
        }
        _ => {}
    }
    // What reached the upstream, tagged with this case and the request's place in it (a
    // request may arrive twice: an idempotent one is retried on a new connection when a reused
    // one failed before any answer).
    let reqs = &c.client.requests;
    for s in &shared.seen() {
        let head = s.head.to_ascii_lowercase();
        let Some(k) = (0..reqs.len()).find(|k| head.contains(&format!("x-case: {index}.{k}\r\n")))
        else {
            continue;
        };
        let r = &reqs[k];
        if s.method != r.method {
            return Err(fail(
                "upstream: method changed",
                format!("sent {:?}, the upstream got {:?}", r.method, s.method),
            ));
        }
        let want = r.forwarded_target();
        if s.target != want {
            return Err(fail(
                "upstream: target changed",
                format!(
                    "sent {:?}, the upstream got {:?}, nginx sends {want:?}",
                    r.target, s.target
                ),
            ));
        }
        if let Some(body) = &s.body
            && body.as_slice() != r.body.data()
        {
            return Err(fail(
                "upstream: body changed",
                format!(
                    "sent {} body bytes, the upstream got {}: {:?}",
                    r.body.data().len(),
                    body.len(),
                    show(&body[..body.len().min(200)])
                ),
            ));
        }
    }
    Ok(())
}

/// Runs one case; returns its failures and whether ringway must be restarted (the probe or
/// the descriptor check failed: its state can no longer be trusted).
fn run_case(h: &Harness, index: usize, c: &Case) -> (Vec<Failure>, bool) {
    h.shared.begin(c.answers.clone());
    let seen = match client(h.rw.addr, &c.client) {
        Ok(s) => s,
        Err(f) => return (vec![f], true),
    };
    let mut failures = Vec::new();
    if let Err(f) = check_valid(index, c, &seen, &h.shared) {
        failures.push(f);
    }
    // The shard lives and the pool is not poisoned, whatever happened above.
    h.shared.settle();
    let mut restart = false;
    if let Err(f) = h.probe(&index.to_string()) {
        if f.key.contains("panicked") {
            // The case's own hang is the same dead shard: report the cause only.
            failures.retain(|f| f.key != "client stream: hang");
        }
        failures.push(f);
        restart = true;
    } else if let Err(f) = h.check_fds(FD_TIMEOUT) {
        failures.push(f);
        restart = true;
    }
    (failures, restart)
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    if v == "random" {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        return Some(rng::mix(t.as_nanos() as u64));
    }
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={v}: not a number")))
}

#[test]
fn no_input_takes_down_a_shard() {
    let seed = env_u64("RINGWAY_ROBUST_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_u64("RINGWAY_ROBUST_CASES").map_or(DEFAULT_CASES, |n| n as usize);
    let max_failures = env_u64("RINGWAY_ROBUST_MAX_FAILURES").map_or(3, |n| n as usize);
    let verbose = std::env::var("RINGWAY_ROBUST_VERBOSE").is_ok_and(|v| v == "1");
    let only: Option<Vec<usize>> = std::env::var("RINGWAY_ROBUST_ONLY").ok().map(|v| {
        v.split(',')
            .map(|i| i.trim().parse().expect("RINGWAY_ROBUST_ONLY: case indices"))
            .collect()
    });
    let indices: Vec<usize> = only.clone().unwrap_or_else(|| (0..cases).collect());
    eprintln!(
        "robustness: seed {seed:#x}, {} case(s) (RINGWAY_ROBUST_SEED={seed:#x} RINGWAY_ROBUST_CASES={cases} to repeat)",
        indices.len()
    );
    let t0 = Instant::now();
    let mut h = Harness::start();
    let mut failures: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut failed = 0;
    let mut mutated = 0;
    let mut done = 0;
    for &index in &indices {
        let c = case(seed, index);
        mutated += c.client.mutated() as usize;
        let t = Instant::now();
        let (found, restart) = run_case(&h, index, &c);
        if verbose {
            eprintln!(
                "case {index}: {} in {:?}: {}",
                if found.is_empty() { "ok" } else { "FAILED" },
                t.elapsed(),
                reproducer(seed, index, &c)
            );
        }
        if !found.is_empty() {
            failed += 1;
            let repro = reproducer(seed, index, &c);
            for f in found {
                eprintln!(
                    "robustness FAILURE [{}] case {index}: {}\n  reproduce: {repro}",
                    f.key, f.detail
                );
                let e = failures.entry(f.key.clone()).or_insert((0, String::new()));
                e.0 += 1;
                if e.1.is_empty() {
                    e.1 = format!("{}\n    reproduce: {repro}", f.detail);
                }
            }
            if failed >= max_failures {
                break;
            }
        }
        if restart {
            // A fresh ringway and upstream: the next case must not inherit a dead shard.
            drop(h);
            h = Harness::start();
        }
        done += 1;
        if done % 500 == 0 {
            eprintln!(
                "robustness: {done} case(s) done, {failed} failed, {:.0?}",
                t0.elapsed()
            );
        }
    }
    eprintln!(
        "robustness: {done} of {} case(s) run ({mutated} mutated), {failed} failed, {:.1?}",
        indices.len(),
        t0.elapsed()
    );
    if !failures.is_empty() {
        let mut summary = String::new();
        for (key, (n, first)) in &failures {
            summary.push_str(&format!("\n[{key}] x{n}; first: {first}"));
        }
        panic!("robustness: {failed} case(s) failed (seed {seed:#x}):{summary}");
    }
}

/// The checks can fail: a client connection left open is caught by the descriptor check, a
/// probe that ringway cannot answer properly by the probe check, bytes after the last answer by
/// the stream check. (Against the current ringway the main test shows it too: see
/// tests/regressions.rs for what it found.)
#[test]
fn the_checks_catch_what_they_are_for() {
    let mut h = Harness::start();
    // A client connection held open (what a leaked or stuck connection looks like).
    let held = Client::connect(h.rw.addr);
    let f = h
        .check_fds(Duration::from_millis(300))
        .expect_err("the descriptor check missed a client connection left open");
    assert_eq!(f.key, "fds: client connection left open", "{}", f.detail);
    drop(held);
    h.check_fds(FD_TIMEOUT).unwrap_or_else(|f| {
        panic!(
            "descriptors did not settle once the client left: {}",
            f.detail
        )
    });

    // The probe fails when ringway cannot answer it properly (here: the upstream is gone).
    h.backend.kill();
    let f = h
        .probe("self-test")
        .expect_err("the probe passed with the upstream gone");
    assert_eq!(f.key, "probe: 502", "{}", f.detail);

    // Bytes after the last answer.
    let sent = [Sent {
        method: "GET".into(),
        http10: false,
        upgrade: false,
    }];
    let s = stream::scan(b"HTTP/1.1 204 No Content\r\n\r\nhello", &sent);
    assert!(matches!(s.state, State::Bad(_)), "{s:?}");
    let s = stream::scan(
        b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        &sent,
    );
    assert_eq!(s.state, State::Done, "{s:?}");
}
