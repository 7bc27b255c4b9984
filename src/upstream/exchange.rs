//! One exchange with an upstream group, the only code that talks HTTP to upstream servers:
//! proxied requests, `auth_request` subrequests and (through `probe`) active health checks all
//! come here. It picks a server, takes a pooled connection or dials one, sends the head and the
//! body, and reads the response head, handing interim (1xx) answers to the requester; failures
//! move the request to the next server under one policy (`proxy_next_upstream`). It knows
//! nothing of the downstream connection: what it needs from the request's side (its head, its
//! body, where 1xx answers go) comes through `Requester`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;
use tracing::warn;

use super::{Error, Group, Pooled, Tried};
use crate::http::response::parse_response;
use crate::http::{Method, ResponseHead};
use crate::net::buffers::BufPool;
use crate::net::deadline::within;
use crate::net::io::{ReadErr, read_into, write_all};
use crate::route::{NU_NON_IDEMPOTENT, NextUpstream};

/// How long to wait for an upstream's `100 Continue` before telling the client to send anyway.
const EXPECT_WAIT: Duration = Duration::from_secs(1);

/// The side that makes the request: a client's request, a subrequest, a probe.
// Futures here run on one shard's runtime: no `Send` bound is wanted.
#[allow(async_fn_in_trait)]
pub trait Requester {
    /// Why the requester's side failed (a client that went away, a bad request body).
    type Fail;

    /// Appends the request head for the upstream, with as much of the body as rides with it.
    fn head(&mut self, out: &mut Vec<u8>);
    /// Whether body bytes remain to be sent after the head.
    fn body_follows(&self) -> bool;
    /// `Expect: 100-continue` with the body still to send: the upstream may answer first.
    fn expects_continue(&self) -> bool;
    /// Whether the whole request can be sent again (its body in hand, not streamed away; not
    /// an upgrade).
    fn repeatable(&self) -> bool;
    /// Whether its method is idempotent (RFC 9110 §9.2.2).
    fn idempotent(&self) -> bool;
    /// Streams the rest of the body to the upstream.
    async fn send_body(&mut self, up: &mut TcpStream) -> Result<(), BodyFailed<Self::Fail>>;
    /// An interim response (1xx other than 101), head bytes as received: pass it on or not.
    async fn interim(&mut self, head: &[u8]) -> Result<(), Self::Fail>;
    /// The upstream said nothing within the Expect wait: tell the client to send its body.
    async fn go_ahead(&mut self) -> Result<(), Self::Fail>;
}

/// Why streaming a request body stopped.
pub enum BodyFailed<F> {
    /// On the requester's side (its client timed out, sent bad framing...).
    Requester(F),
    /// Writing to the upstream failed.
    Upstream,
}

/// Per-location settings of an exchange.
pub struct Settings<'a> {
    pub next: &'a NextUpstream,
    pub connect_timeout: Duration,
    /// `proxy_send_timeout`.
    pub send_timeout: Duration,
    /// `proxy_read_timeout`.
    pub read_timeout: Duration,
    pub max_header_size: usize,
    /// The request's method: a HEAD's answer has no body whatever its fields say.
    pub method: Method,
}

/// A final response head from a server.
pub struct Answer<'g> {
    pub server: usize,
    pub addr: SocketAddr,
    pub conn: Pooled,
    pub head: ResponseHead,
    /// The response head and whatever of the body came with it.
    pub buf: Vec<u8>,
    /// Whether the request body went upstream (false: the server answered an
    /// `Expect: 100-continue` request before it).
    pub body_sent: bool,
    /// Time to connect (zero for a pooled connection) and to the response head, of the
    /// attempt that answered.
    pub connect_time: Duration,
    pub header_time: Duration,
    /// Counts the request against the server's in-flight requests until dropped.
    pub in_flight: InFlight<'g>,
}

/// Why an exchange ended without an answer.
pub enum Failed<F> {
    /// The last server tried failed (or none could be tried).
    Upstream {
        error: Error,
        addr: Option<SocketAddr>,
    },
    Requester(F),
}

/// Counts a request in flight to a server (least_conn, max_conns) until the exchange ends.
pub struct InFlight<'a>(&'a Group, usize);

impl<'a> InFlight<'a> {
    pub fn new(g: &'a Group, i: usize) -> InFlight<'a> {
        g.servers[i].health.begin();
        InFlight(g, i)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.released(self.1);
    }
}

/// Sends the request to a server of `group` and reads the response head, moving to the next
/// server as `proxy_next_upstream` allows. `key` is the balancer's key (ip_hash, hash).
pub async fn exchange<'g, R: Requester>(
    bufs: &BufPool,
    group: &'g Group,
    key: &[u8],
    s: &Settings<'_>,
    req: &mut R,
) -> Result<Answer<'g>, Failed<R::Fail>> {
    let started = Instant::now();
    let mut tried = Tried::new();
    let mut attempts = 0u32;
    let mut last: Option<(Error, SocketAddr)> = None;
    // A server chosen while deciding whether to retry (so the balancer is asked once).
    let mut chosen: Option<usize> = None;
    // After a pooled connection turned out closed, the same server is tried on a new one,
    // uncounted: the pool may hold more such connections.
    let mut fresh = false;
    loop {
        let server = match chosen.take() {
            Some(i) => i,
            None => match pick(group, key, &tried).await {
                Picked::Server(i) => i,
                Picked::Again => continue,
                Picked::None(error) => {
                    let (error, addr) = match last {
                        Some((e, a)) if attempts > 0 => (e, Some(a)),
                        _ => (error, None),
                    };
                    if attempts == 0 {
                        warn!(upstream = %group.name, "{error}");
                    }
                    return Err(Failed::Upstream { error, addr });
                }
            },
        };
        if !fresh {
            tried.insert(server);
            attempts += 1;
        }
        let addr = group.servers[server].addr;
        let in_flight = InFlight::new(group, server);
        let t0 = Instant::now();
        let mut conn = match group.connect(server, s.connect_timeout, fresh).await {
            Ok(c) => c,
            Err(e) => {
                warn!(upstream = %group.name, server = %addr, "{e}");
                group.failed(server);
                fresh = false;
                if may_retry(s, req, &e, attempts, started) {
                    last = Some((e, addr));
                    continue;
                }
                return Err(Failed::Upstream {
                    error: e,
                    addr: Some(addr),
                });
            }
        };
        let connect_time = if conn.reused {
            Duration::ZERO
        } else {
            t0.elapsed()
        };
        let was_fresh = fresh;
        fresh = false;
        let (head, buf, body_sent) = match attempt(bufs, &mut conn, s, req).await {
            Ok(a) => a,
            Err(Stop::Requester(f)) => return Err(Failed::Requester(f)),
            Err(Stop::Upstream(e))
                if e.nothing_answered()
                    && conn.reused
                    && !was_fresh
                    && req.repeatable()
                    && req.idempotent() =>
            {
                fresh = true;
                chosen = Some(server);
                continue;
            }
            Err(Stop::Upstream(e)) => {
                group.failed(server);
                if may_retry(s, req, &e, attempts, started) {
                    warn!(upstream = %group.name, server = %addr, "{e}; trying the next server");
                    last = Some((e, addr));
                    continue;
                }
                warn!(upstream = %group.name, server = %addr, "{e}");
                return Err(Failed::Upstream {
                    error: e,
                    addr: Some(addr),
                });
            }
        };
        // nginx: a listed 5xx/429 counts against max_fails; 403/404 never do.
        let bit = NextUpstream::status_bit(head.status).unwrap_or(0);
        if NextUpstream::status_is_failure(head.status) && s.next.on & bit != 0 {
            group.failed(server);
        } else {
            group.succeeded(server);
        }
        if bit != 0 && body_sent && may_retry_after(s, req, bit, attempts, started) {
            // Only when another server can take it: otherwise this answer is the client's.
            if let Some(next) = group.pick(key, &tried) {
                warn!(upstream = %group.name, server = %addr, status = head.status, "trying the next server");
                bufs.put(buf);
                chosen = Some(next);
                continue;
            }
        }
        return Ok(Answer {
            server,
            addr,
            conn,
            head,
            buf,
            body_sent,
            connect_time,
            header_time: t0.elapsed(),
            in_flight,
        });
    }
}

enum Picked {
    Server(usize),
    /// A server under `max_conns` was released while queued: ask the balancer again.
    Again,
    None(Error),
}

async fn pick(group: &Group, key: &[u8], tried: &Tried) -> Picked {
    if let Some(i) = group.pick(key, tried) {
        return Picked::Server(i);
    }
    match &group.queue {
        // Every server that could take it is at max_conns: wait in the queue.
        Some(q) if group.only_full(tried) => {
            if q.wait().await {
                Picked::Again
            } else {
                Picked::None(Error::QueueFull)
            }
        }
        _ => Picked::None(Error::NoServer),
    }
}

/// May the request go to another server after `e`?
fn may_retry<R: Requester>(
    s: &Settings<'_>,
    req: &R,
    e: &Error,
    attempts: u32,
    started: Instant,
) -> bool {
    if !e.reached_server() {
        // Nothing went upstream: any request may go elsewhere, its body still at the client.
        return s.next.on & e.condition() != 0 && within_limits(s.next, attempts, started);
    }
    may_retry_after(s, req, e.condition(), attempts, started)
}

/// May a request the server may have acted on go to another server, for condition `bit`?
fn may_retry_after<R: Requester>(
    s: &Settings<'_>,
    req: &R,
    bit: u16,
    attempts: u32,
    started: Instant,
) -> bool {
    s.next.on & bit != 0
        && req.repeatable()
        && (req.idempotent() || s.next.on & NU_NON_IDEMPOTENT != 0)
        && within_limits(s.next, attempts, started)
}

fn within_limits(next: &NextUpstream, attempts: u32, started: Instant) -> bool {
    (next.tries == 0 || attempts < next.tries)
        && (next.timeout.is_zero() || started.elapsed() < next.timeout)
}

enum Stop<F> {
    Upstream(Error),
    Requester(F),
}

/// One try on one connection: head, body (after the upstream's go-ahead when the request
/// expects one), response head. Returns the head, its buffer, and whether the body was sent.
async fn attempt<R: Requester>(
    bufs: &BufPool,
    conn: &mut Pooled,
    s: &Settings<'_>,
    req: &mut R,
) -> Result<(ResponseHead, Vec<u8>, bool), Stop<R::Fail>> {
    let mut out = bufs.get();
    req.head(&mut out);
    match write_all(&mut conn.stream, out, s.send_timeout).await {
        Ok(out) => bufs.put(out),
        Err(_) => return Err(Stop::Upstream(Error::Send)),
    }
    let mut ub = bufs.get();
    if req.body_follows() {
        if req.expects_continue() {
            let ready = within(EXPECT_WAIT, conn.stream.readable(false)).await;
            if ready.is_err() {
                // A silent upstream: tell the client to go on (RFC 9110 §10.1.1).
                req.go_ahead().await.map_err(Stop::Requester)?;
            } else {
                match read_answer(&mut conn.stream, ub, s, req, true).await? {
                    (Some(head), buf) => return Ok((head, buf, false)),
                    (None, buf) => ub = buf,
                }
            }
        }
        match req.send_body(&mut conn.stream).await {
            Ok(()) => {}
            Err(BodyFailed::Requester(f)) => return Err(Stop::Requester(f)),
            Err(BodyFailed::Upstream) => return Err(Stop::Upstream(Error::Send)),
        }
    }
    match read_answer(&mut conn.stream, ub, s, req, false).await? {
        (Some(head), buf) => Ok((head, buf, true)),
        // Only the Expect wait stops at a 100.
        (None, buf) => {
            bufs.put(buf);
            Err(Stop::Upstream(Error::Malformed))
        }
    }
}

/// Reads up to the final response head, handing each interim one to the requester. With
/// `at_continue`, a `100 Continue` ends the read: Ok((None, buffer)).
async fn read_answer<R: Requester>(
    up: &mut TcpStream,
    mut ub: Vec<u8>,
    s: &Settings<'_>,
    req: &mut R,
    at_continue: bool,
) -> Result<(Option<ResponseHead>, Vec<u8>), Stop<R::Fail>> {
    let mut got_any = !ub.is_empty();
    loop {
        let (head, buf) = read_head(up, ub, s.method, s.max_header_size, s.read_timeout, got_any)
            .await
            .map_err(Stop::Upstream)?;
        ub = buf;
        got_any = true;
        if !is_interim(head.status) {
            return Ok((Some(head), ub));
        }
        req.interim(&ub[..head.head_len])
            .await
            .map_err(Stop::Requester)?;
        ub.drain(..head.head_len);
        if at_continue && head.status == 100 {
            return Ok((None, ub));
        }
    }
}

/// 1xx answers other than 101 come before the final one (RFC 9110 §15.2).
fn is_interim(status: u16) -> bool {
    (100..200).contains(&status) && status != 101
}

/// Reads until one response head (interim or final) parses from the start of `ub`.
/// `got_any`: bytes of this answer were already received (a close is then a truncation).
pub async fn read_head(
    up: &mut TcpStream,
    mut ub: Vec<u8>,
    method: Method,
    max_head: usize,
    limit: Duration,
    mut got_any: bool,
) -> Result<(ResponseHead, Vec<u8>), Error> {
    loop {
        if !ub.is_empty() {
            match parse_response(&ub, method, max_head) {
                Ok(Some(h)) => return Ok((h, ub)),
                Ok(None) => {}
                Err(_) => return Err(Error::Malformed),
            }
        }
        if ub.capacity() - ub.len() < 1024 {
            ub.reserve(16 * 1024);
        }
        match read_into(up, ub, limit).await {
            Ok((0, _)) if !got_any => return Err(Error::ClosedEarly),
            Ok((0, _)) => return Err(Error::Truncated),
            Ok((_, nb)) => {
                got_any = true;
                ub = nb;
            }
            Err(ReadErr::Timeout) => return Err(Error::Timeout),
            Err(ReadErr::Io(e)) if !got_any && e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Err(Error::ClosedEarly);
            }
            Err(ReadErr::Io(_)) => return Err(Error::Truncated),
        }
    }
}

/// An active health check's request: `GET uri` on a new connection to `addr`, the final
/// response's status (interim ones skipped), all within `limit`. None: no valid answer.
pub async fn probe(addr: SocketAddr, uri: &str, limit: Duration) -> Option<u16> {
    let run = async {
        let mut up = TcpStream::connect_addr(addr).await.ok()?;
        let mut head = Vec::with_capacity(128 + uri.len());
        head.extend_from_slice(b"GET ");
        head.extend_from_slice(uri.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        head.extend_from_slice(addr.to_string().as_bytes());
        head.extend_from_slice(
            b"\r\nUser-Agent: ringway-health-check\r\nConnection: close\r\n\r\n",
        );
        write_all(&mut up, head, limit).await.ok()?;
        let mut buf = Vec::with_capacity(4096);
        loop {
            let (h, mut b) = read_head(&mut up, buf, Method::Get, 64 * 1024, limit, false)
                .await
                .ok()?;
            if !is_interim(h.status) {
                return Some(h.status);
            }
            b.drain(..h.head_len);
            buf = b;
        }
    };
    within(limit, run).await.ok().flatten()
}
