//! One downstream connection's loop, and the phases of each request on it, in order:
//!
//! 1. wait for bytes (a read buffer held for at most a second of idleness, then the connection
//!    parks with none: `park`);
//! 2. parse the head (`head::read`);
//! 3. route it: server, rewrites, location (`route::route`);
//! 4. answers the rewrite phase gives (redirects, `return`, `internal`, the body size limit);
//! 5. access: limits, allow/deny, authentication (`access::check`);
//! 6. the upstream exchange, the response phase and the relay (`forward::forward`);
//! 7. the outcome record finished (`Outcome::finish`), then keep-alive or close.
//!
//! Errors from any phase become answers in one place (`answer::failure`).

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use monoio::io::{Canceller, Split};
use monoio::net::TcpStream;

use super::access::{self, Passed};
use super::answer::{self, Text};
use super::client::Client;
use super::context::{ConnSlot, Generation, ListenerRt, ShardCtx};
use super::error::Error;
use super::forward::{self, Failure};
use super::head;
use super::outcome::Outcome;
use super::request::{Request, max_forwards};
use super::route::{self, Routed};
use super::scratch::{self, Scratch};
use super::{guard, log_capture, park, tls, tunnel};
use crate::access::ConnGuard;
use crate::config::{Lingering, LingeringClose};
use crate::http::request::HeadLayout;
use crate::http::{BodyFraming, Method, RequestHead};
use crate::net::Transport;
use crate::route::Action;

/// What the connection does after a request.
pub enum Next {
    /// Keep the connection; the buffer holds the start of a pipelined request (or is empty).
    KeepAlive(Vec<u8>),
    Close,
    /// Close, reading on first: the client may still be sending (`lingering_close`). Boxed,
    /// as `Upgrade`: a rare path, and `Next` stays the size of a `Vec`.
    Linger(Box<Lingering>),
    /// A 101 was received: relay both ways (boxed: `Next` is returned through every phase, and
    /// small it moves in registers).
    Upgrade(Box<Upgraded>),
    /// An HTTP/2 connection preface (h2c with prior knowledge): the bytes read so far.
    Http2(Vec<u8>),
}

/// An upgraded exchange, for the tunnel.
pub struct Upgraded {
    pub up: crate::upstream::conn::UpStream,
    /// Bytes for the client: the 101 head and anything after it.
    pub to_client: Vec<u8>,
    /// Bytes the client already sent past its request.
    pub to_up: Vec<u8>,
    /// The `limit_conn` counts the request holds while the tunnel lasts.
    pub held: ConnGuard,
    /// How long the tunnel may carry nothing either way (the location's
    /// `proxy_read_timeout`).
    pub idle: std::time::Duration,
}

/// Serves one accepted connection; `slot` (from `ShardCtx::admit`) is held until it closes.
/// A TLS listener's connections go to `serve_tls` instead: two task types, each as small as its
/// own future (one task type for both held the larger of the two for every TLS connection).
pub async fn serve(slot: ConnSlot, stream: TcpStream, peer: SocketAddr, local: SocketAddr) {
    // TCP_NODELAY is inherited from the listener (Linux copies it to accepted sockets): no
    // setsockopt per connection.
    let conn = Conn::plain(peer, local);
    guard::catch_panic(serve_from(slot, stream, conn, 0, None), peer).await
}

/// Serves one connection accepted on a `listen … ssl` address.
pub async fn serve_tls(slot: ConnSlot, stream: TcpStream, peer: SocketAddr, local: SocketAddr) {
    guard::catch_panic(tls::serve(slot, stream, peer, local), peer).await
}

/// What a connection's loop starts with besides its stream.
pub struct Conn {
    pub client: Client,
    /// The server block the TLS handshake chose by SNI (its client-certificate rules applied).
    pub tls_server: Option<usize>,
    /// Bytes already read (a TLS client's early data).
    pub first: Vec<u8>,
}

impl Conn {
    pub fn plain(peer: SocketAddr, local: SocketAddr) -> Conn {
        Conn {
            client: Client::new(peer, local, None),
            tls_server: None,
            first: Vec::new(),
        }
    }
}

/// Serves a parked connection that has bytes (or a close) to read again.
pub async fn resume(r: park::Resumed) {
    let peer = r.peer;
    let mut conn = Conn::plain(r.peer, r.local);
    // The same connection: the same `$connection`.
    conn.client.serial = r.serial;
    let conn = serve_from(r.slot, r.stream, conn, r.served, Some(r.deadline));
    guard::catch_panic(conn, peer).await
}

pub(super) async fn serve_from<S: Transport + Split + 'static>(
    mut slot: ConnSlot,
    mut stream: S,
    conn: Conn,
    mut served: u64,
    // The idle wait's end when resuming a parked connection.
    mut idle_until: Option<Instant>,
) {
    let ctx: Rc<ShardCtx> = slot.ctx().clone();
    let Conn {
        client,
        tls_server,
        first: mut pending,
    } = conn;
    let (peer, local) = (client.peer, client.local);
    // One per connection, not per direct read (it is an Rc and a set it keeps reusing).
    let mut canceller = Canceller::new();
    // When the current idle wait ends (set when it starts, kept across a failed park).
    // A first request's head must be complete within client_header_timeout of the accept (as
    // nginx times it), not of its first byte.
    let mut head_by: Option<Instant> = None;
    // False once this idle wait found that the transport keeps state beyond its socket (TLS):
    // it waits on in its task, having let go of what it could. Each idle wait tries again.
    let mut parkable = true;
    // The block each request's future runs in, kept while the connection is busy.
    let mut scratch: Option<Scratch> = None;
    // Set when the connection closes while its client may still be sending.
    let mut lingering = None;
    loop {
        // Bytes left over from the previous request: this one was pipelined (`$pipe`).
        let pipelined = served > 0 && !pending.is_empty();
        if pending.is_empty() {
            // Draining: a request already on its way is still served (see `linger`).
            let draining = ctx.drain.is_set();
            if draining && !super::linger::request_arrives(&stream).await {
                break;
            }
            // Idle: wait (a kept-alive connection holds a read buffer for at most PARK_AFTER),
            // then park with none.
            // The timeouts are the current config's; the request itself is served by whatever
            // config is current once its bytes arrive (a reload while idle applies to the next
            // request).
            let generation = ctx.current();
            let Some(lst) = generation.listener(local) else {
                break;
            };
            let idle = if served == 0 {
                lst.defaults.client_header_timeout
            } else {
                lst.defaults.keepalive_timeout
            };
            // A deferred accept (TCP_DEFER_ACCEPT) brings the first bytes with the connection.
            let bytes_likely = served >= 2 || (served == 0 && lst.deferred);
            drop(generation);
            let now = Instant::now();
            let deadline = *idle_until.get_or_insert(now + idle);
            let park_at = now + park::PARK_AFTER;
            let parks = parkable && park_at < deadline && ctx.parking.is_open();
            let until = if parks { park_at } else { deadline };
            // A connection that has been reused (two requests or more) reads at once: measured
            // ~8% less CPU per small keep-alive request. So does a new one from a deferred
            // accept, its request already there: one ring operation instead of a readiness wait
            // and a read. Others wait for readability first and hold no buffer: other new
            // connections (reading at once saved nothing there, and a connect flood would pin
            // buffers) and those after one request (often done: a burst of them would pin a
            // touched buffer page each, measured 611 against 378 bytes per idle connection).
            // At most READ_FIRST_MAX read at once per shard.
            let woke = if draining {
                Some(true)
            } else if S::READ_FIRST
                && bytes_likely
                && ctx.reading.get() < READ_FIRST_MAX
                && READ_FIRST.with(|r| *r)
            {
                read_first(&ctx, &mut stream, &mut pending, &mut canceller, until).await
            } else {
                // Not busy: nothing held while waiting.
                scratch = None;
                monoio::select! {
                    r = stream.readable() => Some(r.is_ok()),
                    _ = ctx.drain.wait_until(until) => None,
                }
            };
            match woke {
                Some(true) => {}
                Some(false) => break,
                None if ctx.drain.is_set() => continue,
                None if !parks => break,
                None => match stream.park_fd() {
                    Some(fd) => match ctx.parking.park(
                        slot,
                        fd,
                        peer,
                        local,
                        (served, client.serial),
                        deadline,
                    ) {
                        Ok(()) => return,
                        // Not parked (out of descriptors, say): wait on in this task, to the
                        // same deadline.
                        Err(sl) => {
                            slot = sl;
                            continue;
                        }
                    },
                    None => {
                        // Idle for PARK_AFTER and staying in this task: what it need not hold
                        // goes now.
                        stream.release_idle_buffers();
                        parkable = false;
                        continue;
                    }
                },
            }
            if served == 0 {
                head_by = Some(deadline);
            }
            idle_until = None;
            parkable = true;
        }
        // The per-request work runs in a future on the heap, so that the connection's future
        // (all an idle connection holds) keeps only the idle wait and a few fields.
        let arrives = Arriving {
            head_by: head_by.take(),
            tls_server,
            pipelined,
            layout: None,
        };
        let request = one_request(
            &ctx,
            &mut stream,
            &client,
            &mut pending,
            &mut served,
            arrives,
        );
        let next = scratch::run_in(&mut scratch, request).await;
        // Only the first request can have come in early data.
        if let Some(t) = &client.tls {
            t.early_data.set(false);
        }
        match next {
            Next::KeepAlive(_) => {}
            Next::Close => break,
            Next::Linger(l) => {
                lingering = Some(l);
                break;
            }
            Next::Http2(first) => {
                let mut conn = Conn {
                    client,
                    tls_server,
                    first,
                };
                conn.client.http2 = true;
                // The HTTP/1.1 request block is not needed again.
                drop(scratch.take());
                // Boxed: an HTTP/1.1 connection's future keeps its own size.
                Box::pin(super::h2::serve(slot, stream, conn)).await;
                return;
            }
            Next::Upgrade(u) => {
                let Upgraded {
                    up,
                    to_client,
                    to_up,
                    held: _held,
                    idle,
                } = *u;
                let limit = ctx
                    .current()
                    .listener(local)
                    .map_or(std::time::Duration::from_secs(60), |l| {
                        l.defaults.client_send_timeout
                    });
                Box::pin(tunnel::run(stream, up, to_client, to_up, limit, idle)).await;
                return;
            }
        }
    }
    if !pending.is_empty() {
        ctx.bufs.put(pending);
    }
    // A TLS connection ends with close_notify (nginx's SSL_shutdown), within the send timeout.
    if client.tls.is_some() {
        let limit = ctx
            .current()
            .listener(local)
            .map_or(std::time::Duration::from_secs(60), |l| {
                l.defaults.client_send_timeout
            });
        let _ = crate::net::deadline::within(limit, stream.close_notify()).await;
    }
    if let Some(l) = lingering {
        super::linger::after_answer(&ctx, &stream, *l).await;
    }
}

/// Most kept-alive connections of a shard waiting in a direct read at once; beyond it they wait
/// for readability with no buffer. Covers the client concurrency of busy shards (the 512-client
/// load test) while a burst of idle connections pins at most this many buffers.
const READ_FIRST_MAX: usize = 512;

thread_local! {
    /// `RINGWAY_READ_FIRST=0` turns the direct read off (for A/B measurements): connections
    /// then wait for readability first and take a buffer only when bytes are there.
    static READ_FIRST: bool = std::env::var("RINGWAY_READ_FIRST").as_deref() != Ok("0");
}

/// A kept-alive connection's wait for its next request: a read is submitted at once (one io_uring
/// operation instead of a readiness wait and then a read), into a pooled buffer held until
/// bytes come or `until` passes (at most `PARK_AFTER`: the idle connection then parks and the
/// buffer goes back). Some(true): bytes are in `pending`; Some(false): closed or failed;
/// None: timer.
async fn read_first<S: Transport>(
    ctx: &ShardCtx,
    stream: &mut S,
    pending: &mut Vec<u8>,
    canceller: &mut Canceller,
    until: Instant,
) -> Option<bool> {
    struct Reading<'a>(&'a ShardCtx);
    impl Drop for Reading<'_> {
        fn drop(&mut self) {
            self.0.reading.set(self.0.reading.get() - 1);
        }
    }
    ctx.reading.set(ctx.reading.get() + 1);
    let _reading = Reading(ctx);
    let mut read = std::pin::pin!(stream.cancelable_read(ctx.bufs.get(), canceller.handle()));
    let done = monoio::select! {
        r = &mut read => Some(r),
        _ = ctx.drain.wait_until(until) => None,
    };
    // On the timer the read is cancelled and still awaited: bytes it took must be served,
    // never dropped with the buffer.
    let (res, buf) = match done {
        Some(r) => r,
        None => {
            // A cancelled canceller stays cancelled: the connection gets a fresh one.
            *canceller = std::mem::take(canceller).cancel();
            read.await
        }
    };
    match res {
        Ok(n) if n > 0 => {
            *pending = buf;
            Some(true)
        }
        Ok(_) => {
            ctx.bufs.put(buf);
            Some(false)
        }
        Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => {
            ctx.bufs.put(buf);
            None
        }
        Err(_) => {
            ctx.bufs.put(buf);
            Some(false)
        }
    }
}

/// What is known of a request before its head is read.
struct Arriving {
    /// When the head must be complete (a new connection's), else the timeout from now.
    head_by: Option<Instant>,
    /// The server whose rules the TLS handshake applied (see `tls::check_server`).
    tls_server: Option<usize>,
    /// The request came in the same read as the one before it.
    pipelined: bool,
    /// Where its head's parts lie, when ringway wrote the head itself (an HTTP/2 stream's).
    layout: Option<HeadLayout>,
}

/// Reads and answers one request (its bytes may already be in `pending`); what follows it in
/// the buffer, if anything, is left in `pending`. Its outcome record is finished here, whatever
/// path it took.
async fn one_request<S: Transport>(
    ctx: &ShardCtx,
    stream: &mut S,
    client: &Client,
    pending: &mut Vec<u8>,
    served: &mut u64,
    arrives: Arriving,
) -> Next {
    let Arriving {
        head_by,
        tls_server,
        pipelined,
        layout,
    } = arrives;
    let generation = ctx.current();
    let Some(lst) = generation.listener(client.local) else {
        // The listen address left the config on reload: close instead of serving it.
        return Next::Close;
    };
    let mut b = if pending.is_empty() {
        ctx.bufs.get()
    } else {
        std::mem::take(pending)
    };
    if *served == 0 && lst.http2 && client.tls.is_none() && !client.http2 {
        let limit = head_by.map_or(lst.defaults.client_header_timeout, |t| {
            t.saturating_duration_since(Instant::now())
        });
        match sniff_preface(stream, b, limit).await {
            Sniffed::Http2(b) => return Next::Http2(b),
            Sniffed::Http1(nb) => b = nb,
            Sniffed::Gone => return Next::Close,
        }
    }
    let outcome = Outcome::start();
    let mut phase = ctx.metrics.reading();
    outcome.connection.set(client.serial);
    outcome.pipelined.set(pipelined);
    outcome.connection_requests.set(*served + 1);
    let next = match head::read(ctx, stream, b, lst, head_by, layout, &outcome).await {
        Ok((head, mut b)) => {
            if client.http2 {
                as_http2_line(&head, &mut b);
            }
            phase.writing();
            *served += 1;
            outcome.add_received(head.head_len as u64);
            outcome.head_method.set(head.method == Method::Head);
            let at = Arrival {
                ctx,
                generation: &generation,
                lst,
                client,
                served: *served,
                outcome: &outcome,
                tls_server,
            };
            let next = serve_request(&at, stream, &head, b).await;
            let lingering = outcome.lingering.get().unwrap_or(lst.defaults.lingering);
            lingering_close(next, lingering, head.body != BodyFraming::None)
        }
        // A connection that closes (or times out) having sent nothing made no request.
        Err(Error::ClientGone | Error::HeadTimeout) if outcome.received.get() == 0 => {
            return Next::Close;
        }
        Err(e) => {
            let limit = lst.defaults.client_send_timeout;
            let next = answer::failure(ctx, stream, None, Vec::new(), e, limit, &outcome).await;
            // A refused head: the rest of the request may still be on its way.
            let lingering = outcome.lingering.get().unwrap_or(lst.defaults.lingering);
            lingering_close(next, lingering, true)
        }
    };
    drop(phase);
    crate::observe::metrics::request_done(&ctx.metrics, &outcome, &lst.defaults);
    log_capture::unrouted(&outcome, &generation, lst, client, None);
    outcome.finish();
    match next {
        Next::KeepAlive(rest) => {
            *pending = rest;
            Next::KeepAlive(Vec::new())
        }
        other => other,
    }
}

/// A close after a request reads on first (nginx's `lingering_close`): `on` when the client
/// may still be sending (`may_send`: it declared a body, or its head was refused), `always`
/// whenever ringway closes.
fn lingering_close(next: Next, lingering: Lingering, may_send: bool) -> Next {
    match (next, lingering.close) {
        (Next::Close, LingeringClose::Always) => Next::Linger(Box::new(lingering)),
        (Next::Close, LingeringClose::On) if may_send => Next::Linger(Box::new(lingering)),
        (next, _) => next,
    }
}

/// What a plain connection with `http2 on` starts with.
enum Sniffed {
    /// The HTTP/2 preface: the bytes read so far (the preface and what came after it).
    Http2(Vec<u8>),
    /// Anything else: an HTTP/1.1 request begins in the bytes.
    Http1(Vec<u8>),
    Gone,
}

/// Reads until the first bytes tell an HTTP/2 preface (RFC 9113 §3.4) from an HTTP/1.1
/// request: one byte does for every real method; only a prefix of the preface reads on.
async fn sniff_preface<S: Transport>(
    stream: &mut S,
    mut b: Vec<u8>,
    limit: std::time::Duration,
) -> Sniffed {
    use super::h2::PREFACE;
    loop {
        let n = b.len().min(PREFACE.len());
        if n > 0 && b[..n] != PREFACE[..n] {
            return Sniffed::Http1(b);
        }
        if n == PREFACE.len() {
            return Sniffed::Http2(b);
        }
        match crate::net::io::read_into(stream, b, limit).await {
            Ok((0, _)) | Err(_) => return Sniffed::Gone,
            Ok((_, nb)) => b = nb,
        }
    }
}

/// An HTTP/2 stream's request line reads `HTTP/2.0` in logs (`$request`), as nginx writes it;
/// the head was translated to HTTP/1.1 for the parser.
fn as_http2_line(head: &RequestHead, b: &mut [u8]) {
    let at = head.target.end as usize + 1;
    if let Some(v) = b.get_mut(at..at + 8)
        && v == b"HTTP/1.1"
    {
        v.copy_from_slice(b"HTTP/2.0");
    }
}

/// Serves one HTTP/2 stream's request (`head`, translated to HTTP/1.1) through the phases
/// an HTTP/1.1 request takes; `served`: the stream's number on its connection. An upgrade
/// (an extended CONNECT the upstream answered with 101) comes back for the stream's tunnel.
pub(super) async fn serve_stream<S: Transport>(
    ctx: &ShardCtx,
    stream: &mut S,
    client: &Client,
    head: Vec<u8>,
    layout: Option<HeadLayout>,
    served: u64,
    tls_server: Option<usize>,
) -> Option<Box<Upgraded>> {
    let mut pending = head;
    let mut before = served.saturating_sub(1);
    let arrives = Arriving {
        head_by: None,
        tls_server,
        pipelined: false,
        layout,
    };
    let next = one_request(ctx, stream, client, &mut pending, &mut before, arrives).await;
    if pending.capacity() > 0 {
        ctx.bufs.put(pending);
    }
    match next {
        Next::Upgrade(u) => Some(u),
        _ => None,
    }
}

/// A request no server or location took (or its TLS name did not fit): logged with the
/// listener's default server's access logs, then answered with the error.
async fn refuse_unrouted<S: Transport>(
    at: &Arrival<'_>,
    stream: &mut S,
    head: &RequestHead,
    b: Vec<u8>,
    e: Error,
) -> Next {
    let limit = at.lst.defaults.client_send_timeout;
    at.log_unrouted(head, &b);
    answer::failure(at.ctx, stream, None, b, e, limit, at.outcome).await
}

/// What a request arrives with: its shard, config generation, listener, client and outcome.
struct Arrival<'a> {
    ctx: &'a ShardCtx,
    generation: &'a Generation,
    lst: &'a ListenerRt,
    client: &'a Client,
    /// Requests on this connection, this one included.
    served: u64,
    outcome: &'a Outcome,
    /// The server whose rules the TLS handshake applied (see `tls::check_server`).
    tls_server: Option<usize>,
}

impl Arrival<'_> {
    /// Logs a request no server or location took with the listener's default server's logs.
    fn log_unrouted(&self, head: &RequestHead, b: &[u8]) {
        let (o, g, l, c) = (self.outcome, self.generation, self.lst, self.client);
        log_capture::unrouted(o, g, l, c, Some((head, b)));
    }
}

/// Routes a parsed request and runs the phases after routing.
async fn serve_request<S: Transport>(
    at: &Arrival<'_>,
    stream: &mut S,
    head: &RequestHead,
    b: Vec<u8>,
) -> Next {
    #[cfg(debug_assertions)]
    guard::fault_hook(head.target.get(&b));
    // ACME HTTP-01 answers come before routing and anything the operator's config says (a
    // server that redirects everything to https://, or has no location for the path, must not
    // swallow them).
    if let Some(key_auth) = super::acme::challenge(head, &b) {
        at.log_unrouted(head, &b);
        let keep = head.keep_alive && !at.ctx.drain.is_set();
        let limit = at.lst.defaults.client_send_timeout;
        let how = super::acme::How {
            keep,
            limit,
            outcome: at.outcome,
        };
        return super::acme::answer(at.ctx, stream, head, b, key_auth, how).await;
    }
    // nginx applies the server's realip settings before the rewrite phase and, when they did
    // not apply, the location's after it (not for answers the rewrite phase gives). The
    // clients stay where they are made: a `Client` is big enough that moving it costs.
    let mut server_client: Option<Client> = None;
    let mut loc_client: Option<Client> = None;
    let routed = match route::server(at.lst, head, &b).and_then(|server| {
        let realip = server.locations.fallback().and_then(|l| l.realip.as_ref());
        if realip.is_some() {
            server_client = at.client.real(realip, head, &b);
        }
        route::route(
            server,
            server_client.as_ref().unwrap_or(at.client),
            head,
            &b,
        )
    }) {
        Ok(r) => r,
        Err(e) => return refuse_unrouted(at, stream, head, b, e).await,
    };
    if let Some(shake) = at.tls_server
        && let Err(e) = tls::check_server(at.ctx, at.client, shake, routed.server.index)
    {
        return refuse_unrouted(at, stream, head, b, e).await;
    }
    let loc = routed.loc;
    crate::observe::metrics::routed(at.outcome, loc);
    at.outcome.lingering.set(Some(loc.lingering));
    let answered_early = routed.redirect.is_some() || matches!(loc.action, Action::Return { .. });
    if server_client.is_none() && !answered_early && loc.realip.is_some() {
        loc_client = at.client.real(loc.realip.as_ref(), head, &b);
    }
    let client = loc_client
        .as_ref()
        .or(server_client.as_ref())
        .unwrap_or(at.client);
    let keep_alive =
        head.keep_alive && !at.ctx.drain.is_set() && at.served < loc.keepalive_requests;
    let mut user: Vec<Vec<u8>> = Vec::new();
    let mut r = Request {
        ctx: at.ctx,
        generation: at.generation,
        server: routed.server,
        loc,
        client,
        head,
        keep_alive,
        normalized: routed.normalized.as_deref(),
        uri: routed.uri.as_deref(),
        uri_final: routed.uri_final,
        user: &[],
        outcome: at.outcome,
    };
    log_capture::routed(&r, &b);
    match after_routing(&mut r, &routed, stream, b, &mut user).await {
        Ok(next) => next,
        Err((e, b)) => {
            let limit = loc.client_send_timeout;
            answer::failure(at.ctx, stream, Some(&r), b, e, limit, at.outcome).await
        }
    }
}

/// The phases after routing: the rewrite phase's answers, access, then the location's action.
/// `user` receives the `auth_request_set` values `r` then refers to.
async fn after_routing<'u, S: Transport>(
    r: &mut Request<'u>,
    routed: &Routed<'_>,
    stream: &mut S,
    b: Vec<u8>,
    user: &'u mut Vec<Vec<u8>>,
) -> Result<Next, Failure> {
    let loc = r.loc;
    if let Some((code, location)) = &routed.redirect {
        return Ok(answer::text(r, stream, b, *code, Text::Rendered(location)).await);
    }
    if loc.internal && !routed.rewritten {
        return Ok(answer::text(r, stream, b, 404, Text::Rendered(b"")).await);
    }
    if let BodyFraming::Length(n) = r.head.body
        && loc.client_max_body_size > 0
        && n > loc.client_max_body_size
    {
        return Err((Error::BodyTooLarge, b));
    }
    // `return` belongs to the rewrite phase: it answers before any access check, as in nginx.
    if let Action::Return { code, text } = &loc.action {
        return Ok(answer::text(r, stream, b, *code, Text::Template(text)).await);
    }
    // Most locations check nothing: no phase to enter then.
    let (held, b) = if access::needed(loc) {
        let (passed, b) = access::check(r, b).await?;
        let Passed { held, user: values } = passed;
        *user = values;
        let user: &'u Vec<Vec<u8>> = user;
        r.user = user;
        (held, b)
    } else {
        (ConnGuard::default(), b)
    };
    let r = &*r;
    match &loc.action {
        Action::Proxy { .. }
            if r.head.method == Method::Options && max_forwards(r.head, &b) == Some(0) =>
        {
            Ok(answer::options_here(r, stream, b).await)
        }
        Action::Proxy {
            upstream,
            uri,
            proxy_host,
        } => {
            let next = match &loc.cache {
                // Boxed: inline, the cache phase's state (4.3 KB) would be part of every
                // request's future, which is moved (copied whole) into its block per request.
                Some(c) => {
                    let cached =
                        super::cache::proxy(r, stream, b, *upstream, uri.as_ref(), proxy_host, c);
                    Box::pin(cached).await
                }
                None => {
                    forward::forward(r, stream, b, *upstream, uri.as_ref(), proxy_host, None).await
                }
            };
            match next? {
                Next::Upgrade(mut u) => {
                    u.held = held;
                    Ok(Next::Upgrade(u))
                }
                next => Ok(next),
            }
        }
        Action::Builtin(what) => Ok(super::builtin::answer(r, stream, b, *what).await),
        Action::Return { .. } | Action::NotFound => {
            Ok(answer::text(r, stream, b, 404, Text::Rendered(b"")).await)
        }
    }
}
