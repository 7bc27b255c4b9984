//! One HTTP/2 connection's task: the `h2` crate's server over `H2Io`, each accepted stream
//! served by a task of its own through the request path (`session::serve_stream`), and the
//! connection's life: idle (buffers dropped after `PARK_AFTER`), `keepalive_timeout` and
//! `keepalive_requests` (GOAWAY, as nginx 1.19.7+ applies them to HTTP/2), drain on reload or
//! upgrade (GOAWAY, streams in progress finish).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use monoio::io::Split;
use tracing::debug;

use super::io::{H2Io, Idle};
use super::stream::H2Stream;
use crate::config::http2::Http2Settings;
use crate::http::h2::{Refused, RequestBody, request_head};
use crate::http::h2_tunnel::{self, Expect};
use crate::http::request::HeadLayout;
use crate::net::Transport;
use crate::proxy::context::{ConnSlot, ShardCtx};
use crate::proxy::park::PARK_AFTER;
use crate::proxy::session::{self, Conn};
use crate::proxy::{guard, scratch};
use ring::rand::{SecureRandom, SystemRandom};

/// Streams the client may reset before we see them, per connection (h2's rapid-reset defence,
/// CVE-2023-44487): beyond it, GOAWAY(ENHANCE_YOUR_CALM).
const PENDING_RESETS: usize = 20;
/// Streams a misbehaving client may make us reset (malformed headers and the like) before the
/// connection is closed with ENHANCE_YOUR_CALM.
const LOCAL_RESETS: usize = 200;
/// Streams accepted then reset by the client while we served them, per connection, before the
/// connection is closed: a client that opens and cancels requests in a loop (the rapid reset
/// pattern that gets past the pending-reset count) costs an upstream request each.
const CANCELLED_STREAMS: u64 = 1_000;
/// Request body bytes a client may have in flight on one connection, all streams together
/// (h2's default is the protocol's 64 KiB, which throttles uploads to a window per round trip).
const CONNECTION_WINDOW: u32 = 1 << 20;
/// Stream blocks a shard keeps for reuse (about 8 KB each).
const MAX_SPARE_BLOCKS: usize = 64;
/// How long a connection with no stream waits for its GOAWAY to leave before it closes.
const GOAWAY_FLUSH: Duration = Duration::from_millis(100);
/// How long streams in progress may finish after a GOAWAY for drain or idleness.
const GOAWAY_GRACE: Duration = Duration::from_secs(30);

/// What the connection's settings are, read once from the listener's default server.
struct Limits {
    h2: Http2Settings,
    max_header: usize,
    handshake: Duration,
    keepalive: Duration,
    keepalive_requests: u64,
    send_timeout: Duration,
}

/// Serves an HTTP/2 connection (after ALPN `h2`, or an h2c preface already in `conn.first`):
/// the handshake here, then the connection's life in a task of its own (`run`), which holds
/// only what that needs. Awaited here, it would keep this future's arguments and the
/// handshake's state (1 KB) in every idle connection's task.
pub async fn serve<S: Transport + Split + 'static>(slot: ConnSlot, stream: S, conn: Conn) {
    let ctx = slot.ctx().clone();
    let Some(limits) = limits(&ctx, &conn) else {
        return;
    };
    let Conn {
        client,
        tls_server,
        first,
    } = conn;
    let io = H2Io::new(ctx.clone(), stream, first);
    let idle = io.idle();
    let Some(h2) = handshake(io, &limits, &client).await else {
        return;
    };
    let peer = client.peer;
    let conn = run(slot, ctx, limits, Rc::new(client), tls_server, idle, h2);
    monoio::spawn(guard::catch_panic(conn, peer));
}

/// The connection after its handshake: streams accepted and served, idleness, limits, drain.
async fn run<S: Transport + Split + 'static>(
    slot: ConnSlot,
    ctx: Rc<ShardCtx>,
    limits: Limits,
    client: Rc<crate::proxy::client::Client>,
    tls_server: Option<usize>,
    idle: Rc<Idle>,
    mut h2: Box<h2::server::Connection<H2Io<S>, Bytes>>,
) {
    let state = Rc::new(Streams {
        active: idle.clone(),
        cancelled: Cell::new(0),
    });
    let mut served: u64 = 0;
    let mut idle_from = Instant::now();
    let mut closing: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let until = match closing {
            // Checked every PARK_AFTER: a connection with no stream left closes then.
            Some(by) => by.min(now + PARK_AFTER),
            None if state.active() > 0 => now + PARK_AFTER,
            None if idle.is_parked() => idle_from + limits.keepalive,
            None => idle_from + PARK_AFTER,
        };
        let accept = std::future::poll_fn(|cx| {
            idle.polls.set(idle.polls.get().wrapping_add(1));
            h2.poll_accept(cx)
        });
        // Once closing, the drain (already set, or not to be waited for) is no longer a
        // reason to wake: only the grace period's end is.
        let wake = async {
            if closing.is_some() {
                // Boxed: inline, monoio's timer (640 bytes, 128-byte aligned) would be part of
                // every idle connection's task.
                Box::pin(monoio::time::sleep_until(until.into())).await;
            } else {
                ctx.drain.wait_until(until).await;
            }
        };
        let got = monoio::select! {
            r = accept => Some(r),
            _ = wake => None,
        };
        match got {
            Some(Some(Ok((req, respond)))) => {
                served += 1;
                idle.streams.set(idle.streams.get() + 1);
                let job = Job {
                    ctx: ctx.clone(),
                    client: client.clone(),
                    tls_server,
                    served,
                    chunk: limits.h2.chunk_size,
                    send_timeout: limits.send_timeout,
                    state: state.clone(),
                };
                monoio::spawn(guard::catch_panic(job.run(req, respond), client.peer));
                if served >= limits.keepalive_requests && closing.is_none() {
                    h2.graceful_shutdown();
                    closing = Some(Instant::now() + GOAWAY_GRACE);
                }
                if state.cancelled.get() > CANCELLED_STREAMS {
                    debug!(peer = %client.peer, "HTTP/2 client reset too many streams");
                    h2.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                }
            }
            Some(Some(Err(e))) => {
                debug!(peer = %client.peer, "HTTP/2 connection error: {e}");
                break;
            }
            Some(None) => break,
            None => {
                let now = Instant::now();
                // After a GOAWAY, a connection with no stream left closes without waiting for
                // the client (which may never answer h2's closing PING), one with streams
                // when they end or the grace period does.
                if closing.is_some_and(|by| now >= by || state.active() == 0) {
                    // What the last streams queued (and the GOAWAY) still goes out.
                    let closed = std::future::poll_fn(|cx| h2.poll_closed(cx));
                    let _ = crate::net::deadline::within(GOAWAY_FLUSH, closed).await;
                    break;
                }
                if ctx.drain.is_set() && closing.is_none() {
                    h2.graceful_shutdown();
                    let grace = if state.active() > 0 {
                        GOAWAY_GRACE
                    } else {
                        GOAWAY_FLUSH
                    };
                    closing = Some(now + grace);
                    continue;
                }
                if state.active() > 0 || closing.is_some() {
                    idle_from = now;
                    continue;
                }
                if idle.is_parked() && now >= idle_from + limits.keepalive {
                    h2.graceful_shutdown();
                    closing = Some(now + GOAWAY_FLUSH);
                } else if now >= idle_from + PARK_AFTER {
                    idle.park();
                    // h2's own read, write and HPACK buffers (28 KB) go too: an idle
                    // connection keeps only its state (vendor/h2/RINGWAY-PATCH.md).
                    h2.release_idle_buffers();
                }
            }
        }
    }
    // The streams still running hold the connection's shared state, not its socket: dropping
    // `h2` here ends them with the connection.
    drop(h2);
    // A connection shut with the client still sending discards its bytes a while first.
    let lingering = idle.linger.borrow_mut().take();
    if let Some(lingering) = lingering {
        lingering.await;
    }
    let _ = &slot;
}

/// The connection preface and SETTINGS exchange, within the header timeout. The connection
/// comes boxed, and the handshake's state in a box of its own: the task of every idle
/// connection keeps neither inline (measured: its future went from 5.6 KB to 2.3 KB over TLS).
async fn handshake<S: Transport + Split + 'static>(
    io: H2Io<S>,
    limits: &Limits,
    client: &crate::proxy::client::Client,
) -> Option<Box<h2::server::Connection<H2Io<S>, Bytes>>> {
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(limits.h2.max_concurrent_streams)
        .initial_window_size(limits.h2.body_preread_size)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_header_list_size(u32::try_from(limits.max_header).unwrap_or(u32::MAX))
        .max_send_buffer_size(limits.h2.chunk_size.max(16 * 1024) * 4)
        .max_pending_accept_reset_streams(PENDING_RESETS)
        .max_local_error_reset_streams(Some(LOCAL_RESETS))
        // SETTINGS_ENABLE_CONNECT_PROTOCOL: WebSocket over HTTP/2 (RFC 8441).
        .enable_connect_protocol();
    let handshake = Box::pin(builder.handshake::<_, Bytes>(io));
    match crate::net::deadline::within(limits.handshake, handshake).await {
        Ok(Ok(h2)) => Some(Box::new(h2)),
        Ok(Err(e)) => {
            debug!(peer = %client.peer, "HTTP/2 handshake failed: {e}");
            None
        }
        Err(_) => None,
    }
}

/// The settings an HTTP/2 connection on this listener runs with.
fn limits(ctx: &ShardCtx, conn: &Conn) -> Option<Limits> {
    let generation = ctx.current();
    let lst = generation.listener(conn.client.local)?;
    let d = &lst.defaults;
    Some(Limits {
        h2: d.http2,
        max_header: d.max_header_size,
        handshake: d.client_header_timeout,
        keepalive: d.keepalive_timeout,
        keepalive_requests: d.keepalive_requests.max(1),
        send_timeout: d.client_send_timeout,
    })
}

/// What a connection's stream tasks share with it.
struct Streams {
    /// Streams being served (kept where the connection's I/O reads it).
    active: Rc<Idle>,
    /// Streams the client reset while we served them.
    cancelled: Cell<u64>,
}

impl Streams {
    fn active(&self) -> usize {
        self.active.streams.get()
    }
}

/// One accepted stream and what serving it needs.
struct Job {
    ctx: Rc<ShardCtx>,
    client: Rc<crate::proxy::client::Client>,
    tls_server: Option<usize>,
    served: u64,
    chunk: usize,
    send_timeout: Duration,
    state: Rc<Streams>,
}

impl Job {
    async fn run(
        self,
        req: http::Request<h2::RecvStream>,
        mut respond: h2::server::SendResponse<Bytes>,
    ) {
        let _active = Active(self.state.clone());
        let (parts, recv) = req.into_parts();
        let mut head = self.ctx.bufs.get();
        let (body, tunnel, layout) = match translate(&parts, &recv, &mut head) {
            Ok(t) => t,
            Err(refused) => {
                debug!(peer = %self.client.peer, "HTTP/2 request refused: {}", refused.0);
                self.ctx.bufs.put(head);
                let mut bad = http::Response::new(());
                *bad.status_mut() = http::StatusCode::BAD_REQUEST;
                let _ = respond.send_response(bad, true);
                return;
            }
        };
        let head_request = parts.method == http::Method::HEAD;
        let mut stream = H2Stream::new(recv, body, respond, head_request, self.chunk, tunnel);
        let tx = stream.sender();
        let mut block = self.ctx.stream_blocks.borrow_mut().pop();
        let served = scratch::run_in(
            &mut block,
            session::serve_stream(
                &self.ctx,
                &mut stream,
                &self.client,
                head,
                layout,
                self.served,
                self.tls_server,
            ),
        );
        // A stream the client resets while it is served ends its work at once (its upstream
        // request is dropped), and is counted against the connection.
        let reset = std::future::poll_fn(|cx| tx.borrow_mut().poll_reset(cx));
        let mut upgraded = None;
        monoio::select! {
            u = served => upgraded = u,
            _ = reset => {
                self.state.cancelled.set(self.state.cancelled.get() + 1);
            }
        }
        if let Some(b) = block {
            let mut blocks = self.ctx.stream_blocks.borrow_mut();
            if blocks.len() < MAX_SPARE_BLOCKS {
                blocks.push(b);
            }
        }
        match upgraded {
            // Boxed: inline, the tunnel's state would be part of every stream's task.
            Some(u) => Box::pin(super::tunnel::run(stream, *u, self.send_timeout)).await,
            None => stream.finish(),
        }
    }
}

/// The stream's request as an HTTP/1.1 head in `out`: how its body follows, for an extended
/// CONNECT (RFC 8441) what its upgrade's answer must carry, and else where the head's parts lie.
fn translate(
    parts: &http::request::Parts,
    recv: &h2::RecvStream,
    out: &mut Vec<u8>,
) -> Result<(RequestBody, Option<Expect>, Option<HeadLayout>), Refused> {
    // h2 lets `:protocol` come only with CONNECT, and only as SETTINGS allowed it.
    let Some(protocol) = parts.extensions.get::<h2::ext::Protocol>() else {
        let (body, layout) = request_head(parts, recv.is_end_stream(), out)?;
        return Ok((body, None, Some(layout)));
    };
    let mut nonce = [0u8; 16];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| Refused("no random bytes for a WebSocket key"))?;
    let expect = h2_tunnel::request_head(parts, protocol.as_ref(), nonce, out)?;
    Ok((RequestBody::Tunnel, Some(expect), None))
}

/// Counts a stream as active while it is served.
struct Active(Rc<Streams>);

impl Drop for Active {
    fn drop(&mut self) {
        let n = &self.0.active.streams;
        n.set(n.get().saturating_sub(1));
    }
}
