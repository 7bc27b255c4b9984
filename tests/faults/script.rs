//! The fault tests' scripted backend: it behaves or misbehaves as the test says (`Mode`),
//! logs what it saw per connection (`Ev`), and serves downloads whose second half waits for the
//! test's `go`. Also ringway's set-up with a descriptor baseline, and the checks that
//! descriptors and the pool settle and that service resumes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::fds::Fds;
use crate::common::*;

/// What the backend does with the requests it reads; the test switches it between requests.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Good,
    AcceptClose,
    ResetMidHead,
    StallMidHead,
    Garbage,
    ShortBody,
    CloseMidChunk,
    EndlessHead,
    /// Answers properly, then sends an unsolicited response into the idle connection.
    Stray,
}

const MODES: [Mode; 9] = [
    Mode::Good,
    Mode::AcceptClose,
    Mode::ResetMidHead,
    Mode::StallMidHead,
    Mode::Garbage,
    Mode::ShortBody,
    Mode::CloseMidChunk,
    Mode::EndlessHead,
    Mode::Stray,
];

/// What the backend saw, per connection (`conn`: its accept index).
#[derive(Debug, Clone, PartialEq)]
pub enum Ev {
    /// A request head arrived (in `Mode::Good`; its body is read next).
    Head { conn: usize, target: String },
    /// A request whose body ended this way (`Fill::Data`: complete).
    Req {
        conn: usize,
        target: String,
        body: Fill,
    },
    /// It misbehaved on this connection.
    Fault { conn: usize },
    /// It wrote a whole download (`all`) or the write failed.
    Wrote { conn: usize, all: bool },
    /// After misbehaving or while waiting for the next request, the connection ended: closed
    /// or reset by ringway (`closed`), or still open after the wait.
    Gone { conn: usize, closed: bool },
}

#[derive(Default)]
pub struct Script {
    mode: AtomicUsize,
    /// A download waits for this before sending the rest of its body.
    pub go: AtomicBool,
    events: Mutex<Vec<Ev>>,
}

impl Script {
    pub fn set(&self, m: Mode) {
        self.mode.store(m as usize, Ordering::SeqCst);
    }
    pub fn mode(&self) -> Mode {
        MODES[self.mode.load(Ordering::SeqCst)]
    }
    fn log(&self, e: Ev) {
        self.events.lock().unwrap().push(e);
    }
    pub fn events(&self) -> Vec<Ev> {
        self.events.lock().unwrap().clone()
    }
    /// Waits until `ok` holds for the events seen so far.
    #[track_caller]
    pub fn wait(&self, what: &str, ok: impl Fn(&[Ev]) -> bool) -> Vec<Ev> {
        let deadline = Instant::now() + WAIT;
        loop {
            let evs = self.events();
            if ok(&evs) {
                return evs;
            }
            assert!(
                Instant::now() < deadline,
                "backend never saw {what}: {evs:?}"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Longest wait for what ringway or the backend should do next, such as ringway closing a
/// connection the backend misbehaved on (a deadline, not a pause: a passing test waits only as
/// long as ringway takes).
pub const WAIT: Duration = Duration::from_secs(5);

fn handler(s: Arc<Script>) -> impl Fn(&mut Conn) + Send + Sync + 'static {
    move |c: &mut Conn| {
        let conn = c.index;
        if s.mode() == Mode::AcceptClose {
            s.log(Ev::Fault { conn });
            return;
        }
        loop {
            // Long enough that a pooled connection is never closed by the backend mid-test.
            let mut req = match c.read_head_end(Duration::from_secs(30)) {
                Ok(r) => r,
                Err(f) => {
                    let closed = matches!(f, Fill::Eof | Fill::Reset);
                    return s.log(Ev::Gone { conn, closed });
                }
            };
            let mode = s.mode();
            if mode != Mode::Good && mode != Mode::Stray {
                s.log(Ev::Fault { conn });
                return misbehave(c, mode, &s);
            }
            let target = req.target.clone();
            s.log(Ev::Head {
                conn,
                target: target.clone(),
            });
            let body = c.read_body_end(&mut req);
            s.log(Ev::Req {
                conn,
                target: target.clone(),
                body,
            });
            if body != Fill::Data {
                return;
            }
            let ok = match target.strip_prefix("/dl/") {
                Some(spec) => download(c, spec, &s),
                None => c.respond(
                    200,
                    format!("{conn}:{target}:{}", req.body.len()).as_bytes(),
                ),
            };
            if !ok {
                // A write fails only once ringway has closed or reset the connection.
                return s.log(Ev::Gone { conn, closed: true });
            }
            if mode == Mode::Stray {
                // Once ringway has the whole answer and the connection is idle in its pool.
                thread::sleep(Duration::from_millis(20));
                c.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY");
                s.log(Ev::Fault { conn });
            }
        }
    }
}

fn misbehave(c: &mut Conn, mode: Mode, s: &Script) {
    let conn = c.index;
    let partial_head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Le";
    match mode {
        Mode::Good | Mode::Stray => unreachable!(),
        // On a pooled connection the close comes after the request arrived.
        Mode::AcceptClose => {}
        Mode::ResetMidHead => {
            c.write(partial_head);
            thread::sleep(Duration::from_millis(20));
            c.reset();
        }
        Mode::StallMidHead => {
            c.write(partial_head);
            let closed = c.wait_eof(WAIT);
            s.log(Ev::Gone { conn, closed });
        }
        Mode::Garbage => {
            let mut junk = b"\x00\x01\x02 not http at all\r\n".to_vec();
            junk.extend(pattern(2000).iter().map(|b| b | 0x80));
            junk.extend_from_slice(b"\r\n\r\n");
            c.write(&junk);
            let closed = c.wait_eof(WAIT);
            s.log(Ev::Gone { conn, closed });
        }
        Mode::ShortBody => {
            c.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
            c.write(&[b'a'; 100]);
        }
        Mode::CloseMidChunk => {
            c.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            c.write(b"5\r\nhello\r\n100\r\npartial");
        }
        Mode::EndlessHead => {
            // Header fields until ringway gives up and the writes fail (or far past any limit).
            c.write(b"HTTP/1.1 200 OK\r\n");
            let line = format!("X-Endless: {}\r\n", "a".repeat(100));
            let deadline = Instant::now() + WAIT;
            let mut sent = 0;
            let closed = loop {
                if !c.write(line.as_bytes()) {
                    break true;
                }
                sent += line.len();
                if Instant::now() > deadline || sent > 64 << 20 {
                    break false;
                }
            };
            s.log(Ev::Gone { conn, closed });
        }
    }
}

/// `/dl/TOTAL/FIRST`: a TOTAL-byte body of which FIRST bytes go out with the head and the rest
/// once the test says `go`.
fn download(c: &mut Conn, spec: &str, s: &Script) -> bool {
    let mut it = spec.split('/').map(|n| n.parse::<usize>().unwrap());
    let (total, first) = (it.next().unwrap(), it.next().unwrap());
    let body = pattern(total);
    let mut out = format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n").into_bytes();
    out.extend_from_slice(&body[..first]);
    if !c.write(&out) {
        s.log(Ev::Wrote {
            conn: c.index,
            all: false,
        });
        return false;
    }
    if first == total {
        s.log(Ev::Wrote {
            conn: c.index,
            all: true,
        });
        return true;
    }
    let deadline = Instant::now() + WAIT;
    while !s.go.load(Ordering::SeqCst) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(2));
    }
    let all = c.write(&body[first..]);
    s.log(Ev::Wrote { conn: c.index, all });
    all
}

/// ringway's descriptors once a first exchange is over and its client has gone.
#[derive(Debug, Clone, Copy)]
pub struct Baseline {
    pub fds: Fds,
    /// All but pipes and connections to the backend: listeners, the ring, the log…
    pub other: usize,
}

/// A backend following `Script`, ringway proxying to it through a pooled upstream, and the
/// baseline of ringway's descriptors. `max_conns=1`: a request slot that a fault failed to give
/// back would turn every later request into a 502.
pub fn setup(loc: &str) -> (Arc<Script>, KillableBackend, Ringway, Baseline) {
    let s = Arc::new(Script::default());
    let b = KillableBackend::start(handler(s.clone()));
    let conf = upstream_conf(&[b.addr], "keepalive 4;", loc);
    let server = format!("server {};", b.addr);
    let conf = conf.replace(&server, &format!("server {} max_conns=1;", b.addr));
    let rw = Ringway::start(&conf);
    // After a first exchange, so that anything opened on first use is in the baseline. Its
    // `Connection: close` makes ringway close the client socket, which the client then sees;
    // the upstream connection stays in the pool.
    let mut c = rw.connect();
    c.send(b"GET /warm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    assert!(c.is_closed(), "ringway kept a Connection: close client");
    let fds = rw
        .wait_fds(WAIT, |_| b.open_count() == 1)
        .unwrap_or_else(|f| panic!("no baseline after the first exchange: {f:?}"));
    let other = fds.total - fds.pipes - 1;
    (s, b, rw, Baseline { fds, other })
}

/// Waits for ringway's descriptors to settle once the test's clients have left: everything but
/// pipes and upstream connections as in the baseline (no client connection), at most one pooled
/// pipe, and no upstream connection beyond those the backend still holds open, of which there
/// are at most `pooled`. One the backend closed but ringway kept (a dead pooled connection) or
/// one that ringway should have closed fails it.
#[track_caller]
pub fn settle(rw: &Ringway, base: &Baseline, b: &KillableBackend, pooled: usize) {
    let ok = |f: &Fds| {
        let open = b.open_count();
        open <= pooled && f.pipes <= base.fds.pipes + 2 && f.total - f.pipes == base.other + open
    };
    if let Err(f) = rw.wait_fds(WAIT, ok) {
        let tcp: Vec<_> = rw
            .tcp()
            .into_iter()
            .filter(|c| c.state != "LISTEN")
            .collect();
        panic!(
            "descriptors did not settle: expected {} (other) + {} (pipes, at most {}) + \
             the backend's open connections ({}, at most {pooled}), found {f:?}; \
             ringway's connections: {tcp:#?}\nbaseline {base:?}",
            base.other,
            f.pipes,
            base.fds.pipes + 2,
            b.open_count(),
        );
    }
}

/// The backend behaves again: POSTs (never retried, so a dead pooled connection would show as a
/// 502) on fresh client connections are served, over one upstream connection kept in the pool.
/// Returns the backend connection they went over.
#[track_caller]
pub fn recover(rw: &Ringway, s: &Script, b: &KillableBackend, base: &Baseline) -> usize {
    s.set(Mode::Good);
    let mut conns = Vec::new();
    for i in 0..3 {
        let req = format!("POST /after{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        let (_c, r) = exchange(rw.addr, req.as_bytes());
        assert_eq!(
            r.status,
            200,
            "request {i} after the fault: {}",
            r.describe()
        );
        let body = r.body_str();
        let (conn, rest) = body.split_once(':').unwrap();
        assert_eq!(rest, format!("/after{i}:5"));
        conns.push(conn.parse::<usize>().unwrap());
    }
    assert!(
        conns.windows(2).all(|w| w[0] == w[1]),
        "sequential requests after the fault should share one pooled connection: {conns:?}"
    );
    settle(rw, base, b, 1);
    conns[0]
}

/// The backend connection a request arrived on.
pub fn conn_of(evs: &[Ev], path: &str) -> Option<usize> {
    evs.iter().find_map(|e| match e {
        Ev::Head { conn, target } if target == path => Some(*conn),
        _ => None,
    })
}
