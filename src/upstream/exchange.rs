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

use super::conn::UpStream;
use super::{Error, Group, Pooled, Tried};
use crate::http::response::parse_response_reusing;
use crate::http::{Method, ResponseHead};
use crate::net::buffers::BufPool;
use crate::net::deadline::within;
use crate::net::io::{ReadErr, read_into, write_all};
use crate::observe::metrics::counters::FailKind;
use crate::route::{Location, NU_NON_IDEMPOTENT, NextUpstream};

/// How long to wait for an upstream's `100 Continue` before telling the client to send anyway.
const EXPECT_WAIT: Duration = Duration::from_secs(1);

/// The side that makes the request: a client's request, a subrequest, a probe. The defaults
/// describe a body-less GET whose interim answers go nowhere.
// Futures here run on one shard's runtime: no `Send` bound is wanted.
#[allow(async_fn_in_trait)]
pub trait Requester {
    /// Why the requester's side failed (a client that went away, a bad request body).
    type Fail;

    /// Appends the request head for the upstream, with as much of the body as rides with it.
    fn head(&mut self, out: &mut Vec<u8>);
    /// Whether body bytes remain to be sent after the head.
    fn body_follows(&self) -> bool {
        false
    }
    /// `Expect: 100-continue` with the body still to send: the upstream may answer first.
    fn expects_continue(&self) -> bool {
        false
    }
    /// Whether the whole request can be sent again (its body in hand, not streamed away; not
    /// an upgrade).
    fn repeatable(&self) -> bool {
        true
    }
    /// Whether its method is idempotent (RFC 9110 §9.2.2).
    fn idempotent(&self) -> bool {
        true
    }
    /// Streams the rest of the body to the upstream.
    async fn send_body(&mut self, _up: &mut UpStream) -> Result<(), BodyFailed<Self::Fail>> {
        Ok(())
    }
    /// An interim response (1xx other than 101), head bytes as received: pass it on or not.
    async fn interim(&mut self, _head: &[u8]) -> Result<(), Self::Fail> {
        Ok(())
    }
    /// The upstream said nothing within the Expect wait: tell the client to send its body.
    async fn go_ahead(&mut self) -> Result<(), Self::Fail> {
        Ok(())
    }
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
    /// When the request began: the first attempt's start, and where
    /// `proxy_next_upstream_timeout` counts from.
    pub started: Instant,
}

impl<'a> Settings<'a> {
    /// A location's settings, for a request with `method` begun at `started`.
    pub fn of(loc: &'a Location, method: Method, started: Instant) -> Settings<'a> {
        Settings {
            next: &loc.next_upstream,
            connect_timeout: loc.connect_timeout,
            send_timeout: loc.send_timeout,
            read_timeout: loc.read_timeout,
            max_header_size: loc.max_header_size,
            method,
            started,
        }
    }
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
    /// When the attempt that answered began (the request's start for a first attempt: the
    /// clock is not read again for it), when its connection was made (None: taken from the
    /// pool) and when its response head was complete.
    pub attempt_at: Instant,
    pub connected_at: Option<Instant>,
    pub header_at: Instant,
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
    let started = s.started;
    let mut tried = Tried::new();
    let mut attempts = 0u32;
    let mut last: Option<(Error, SocketAddr)> = None;
    // A server chosen while deciding whether to retry (so the balancer is asked once).
    let mut chosen: Option<usize> = None;
    // After a pooled connection turned out closed, the same server is tried on a new one,
    // uncounted: the pool may hold more such connections.
    let mut fresh = false;
    loop {
        let server = match chosen.take().or_else(|| group.pick(key, &tried)) {
            Some(i) => i,
            None => match wait_for_server(group, &tried).await {
                Ok(()) => continue,
                Err(error) => {
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
            if let Some(st) = group.stats(server) {
                st.attempt();
            }
        }
        let addr = group.servers[server].addr;
        let in_flight = InFlight::new(group, server);
        let t0 = if attempts > 1 || fresh {
            Instant::now()
        } else {
            started
        };
        let mut conn = match group.connect(server, s.connect_timeout, fresh).await {
            Ok(c) => c,
            Err(e) => {
                warn!(upstream = %group.name, server = %addr, "{e}");
                count_failure(group, server, e.fail_kind());
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
        let connected_at = (!conn.reused).then(Instant::now);
        if let Some(st) = group.stats(server) {
            st.connected(conn.reused);
        }
        let was_fresh = fresh;
        fresh = false;
        let (head, buf, body_sent) = match attempt(bufs, &mut conn, s, req).await {
            Ok(a) => a,
            Err(Stop::Requester(f)) => return Err(Failed::Requester(f)),
            Err(Stop::Upstream(e))
                if e.stale_connection()
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
                count_failure(group, server, e.fail_kind());
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
        let header_at = Instant::now();
        if let Some(st) = group.stats(server) {
            st.header_time.observe(header_at.duration_since(t0));
        }
        if NextUpstream::status_is_failure(head.status) && s.next.on & bit != 0 {
            count_failure(group, server, FailKind::Status);
            group.failed(server);
        } else {
            group.succeeded(server);
        }
        if bit != 0 && may_retry_after(s, req, bit, attempts, started) {
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
            attempt_at: t0,
            connected_at,
            header_at,
            in_flight,
        });
    }
}

fn count_failure(group: &Group, server: usize, kind: FailKind) {
    if let Some(st) = group.stats(server) {
        st.failed(kind);
    }
}

/// No server could be picked: when every one that could take the request is at `max_conns`,
/// waits in the queue for one to be released (Ok: ask the balancer again).
async fn wait_for_server(group: &Group, tried: &Tried) -> Result<(), Error> {
    match &group.queue {
        Some(q) if group.only_full(tried) => {
            if q.wait().await {
                Ok(())
            } else {
                Err(Error::QueueFull)
            }
        }
        _ => Err(Error::NoServer),
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
            let ready = within(EXPECT_WAIT, crate::net::Transport::readable(&conn.stream)).await;
            if ready.is_err() {
                // A silent upstream: tell the client to go on (RFC 9110 §10.1.1).
                req.go_ahead().await.map_err(Stop::Requester)?;
            } else {
                match read_answer(conn, ub, s, req, true).await? {
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
    match read_answer(conn, ub, s, req, false).await? {
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
    conn: &mut Pooled,
    mut ub: Vec<u8>,
    s: &Settings<'_>,
    req: &mut R,
    at_continue: bool,
) -> Result<(Option<ResponseHead>, Vec<u8>), Stop<R::Fail>> {
    // Bytes of this answer were received: a close is then a truncation.
    let mut got_any = !ub.is_empty();
    loop {
        if !ub.is_empty() {
            match parse_response_reusing(&ub, s.method, s.max_header_size, &mut conn.spans) {
                Ok(Some(h)) if is_interim(h.status) => {
                    req.interim(&ub[..h.head_len])
                        .await
                        .map_err(Stop::Requester)?;
                    ub.drain(..h.head_len);
                    if at_continue && h.status == 100 {
                        return Ok((None, ub));
                    }
                    continue;
                }
                Ok(Some(h)) => return Ok((Some(h), ub)),
                Ok(None) => {}
                Err(_) => return Err(Stop::Upstream(Error::Malformed)),
            }
        }
        if ub.capacity() - ub.len() < 1024 {
            ub.reserve(16 * 1024);
        }
        ub = match read_into(&mut conn.stream, ub, s.read_timeout).await {
            Ok((0, _)) => return Err(Stop::Upstream(closed(got_any))),
            Ok((_, nb)) => nb,
            Err(ReadErr::Timeout) => return Err(Stop::Upstream(Error::Timeout)),
            Err(ReadErr::Io(e)) => {
                let reset = e.kind() == std::io::ErrorKind::ConnectionReset;
                return Err(Stop::Upstream(closed(got_any || !reset)));
            }
        };
        got_any = true;
    }
}

/// A close (or failure) while reading an answer: before any byte of it, the connection was
/// closed early; after, the answer is truncated.
fn closed(got_any: bool) -> Error {
    if got_any {
        Error::Truncated
    } else {
        Error::ClosedEarly
    }
}

/// 1xx answers other than 101 come before the final one (RFC 9110 §15.2).
fn is_interim(status: u16) -> bool {
    (100..200).contains(&status) && status != 101
}

/// An active health check's request: `GET uri` on a new connection to `addr`, the final
/// response's status (interim ones skipped), all within `limit`. None: no valid answer.
pub async fn probe(
    addr: SocketAddr,
    uri: &str,
    limit: Duration,
    tls: Option<&super::GroupTls>,
) -> Option<u16> {
    let run = async {
        let tcp = TcpStream::connect_addr(addr).await.ok()?;
        let stream = match tls {
            None => UpStream::Plain(tcp),
            Some(t) => {
                let shake = crate::tls::upstream::connect(tcp, t.config.clone(), t.name.clone());
                UpStream::Tls(Box::new(shake.await.ok()?))
            }
        };
        let mut conn = Pooled {
            stream,
            reused: false,
            requests: 0,
            idle_since: Instant::now(),
            spans: Vec::new(),
        };
        let s = Settings {
            next: &NextUpstream::default(),
            connect_timeout: limit,
            send_timeout: limit,
            read_timeout: limit,
            max_header_size: 64 * 1024,
            method: Method::Get,
            started: Instant::now(),
        };
        let mut head = Vec::with_capacity(128 + uri.len());
        head.extend_from_slice(b"GET ");
        head.extend_from_slice(uri.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        head.extend_from_slice(addr.to_string().as_bytes());
        head.extend_from_slice(
            b"\r\nUser-Agent: ringway-health-check\r\nConnection: close\r\n\r\n",
        );
        write_all(&mut conn.stream, head, limit).await.ok()?;
        let answer = read_answer(&mut conn, Vec::with_capacity(4096), &s, &mut Probe, false).await;
        match answer {
            Ok((Some(h), _)) => Some(h.status),
            _ => None,
        }
    };
    within(limit, run).await.ok().flatten()
}

/// A health probe as the exchange sees it: a body-less GET whose interim answers go nowhere.
struct Probe;

impl Requester for Probe {
    type Fail = ();

    /// The probe writes its head itself, before the exchange's read.
    fn head(&mut self, _out: &mut Vec<u8>) {}
}
