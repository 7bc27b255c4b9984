//! A downstream connection's loop: wait for bytes (a read buffer held for at most a second of
//! idleness, then the connection parks with none), read and parse the head, route it, answer it
//! (built-in response or forward), then keep-alive or close.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use monoio::io::Canceller;
use monoio::net::TcpStream;
use tracing::{debug, warn};

use super::access::{self, Gate};
use super::client::Client;
use super::context::{ConnSlot, Generation, ListenerRt, ShardCtx};
use super::forward::{self, Request};
use super::headers::{self, origin_form};
use super::io::{ReadErr, read_into, write_all};
use super::{park, respond, tunnel};
use crate::access::{ConnGuard, auth};
use crate::http::request::{Limits, parse_request};
use crate::http::uri::{escape_path, normalize_path};
use crate::http::{BodyFraming, Method, RequestHead};
use crate::route::{Action, Routed, Template, Vars, rewrite};

/// What the connection does after an exchange.
pub enum Next {
    /// Keep the connection; the buffer holds the start of a pipelined request (or is empty).
    KeepAlive(Vec<u8>),
    Close,
    /// A 101 was received: relay both ways. Carries the upstream, bytes for the client (the 101
    /// head and anything after it) and bytes the client already sent past its request, and the
    /// `limit_conn` counts the request holds while the tunnel lasts.
    Upgrade(TcpStream, Vec<u8>, Vec<u8>, ConnGuard),
}

/// Most header fields accepted in a request head: nginx's `max_headers` default (more → 400).
const MAX_HEADERS: usize = crate::http::request::DEFAULT_MAX_HEADERS;

/// Serves one accepted connection; `slot` (from `ShardCtx::admit`) is held until it closes.
pub async fn serve(slot: ConnSlot, stream: TcpStream, peer: SocketAddr, local: SocketAddr) {
    // TCP_NODELAY is inherited from the listener (Linux copies it to accepted sockets): no
    // setsockopt per connection.
    serve_from(slot, stream, peer, local, 0, None).await
}

/// Serves a parked connection that has bytes (or a close) to read again.
pub async fn resume(r: park::Resumed) {
    serve_from(
        r.slot,
        r.stream,
        r.peer,
        r.local,
        r.served,
        Some(r.deadline),
    )
    .await
}

async fn serve_from(
    mut slot: ConnSlot,
    mut stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    mut served: u64,
    // The idle wait's end when resuming a parked connection.
    mut idle_until: Option<Instant>,
) {
    let ctx: Rc<ShardCtx> = slot.ctx().clone();
    let client = Client::new(peer, local);
    let mut pending: Vec<u8> = Vec::new();
    // One per connection, not per direct read (it is an Rc and a set it keeps reusing).
    let mut canceller = Canceller::new();
    // When the current idle wait ends (set when it starts, kept across a failed park).
    // A first request's head must be complete within client_header_timeout of the accept (as
    // nginx times it), not of its first byte.
    let mut head_by: Option<Instant> = None;
    loop {
        if pending.is_empty() {
            if ctx.drain.is_set() {
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
            let parks = park_at < deadline && ctx.parking.is_open();
            let until = if parks { park_at } else { deadline };
            // A connection that has been reused (two requests or more) reads at once: measured
            // ~8% less CPU per small keep-alive request. So does a new one from a deferred
            // accept, its request already there: one ring operation instead of a readiness wait
            // and a read. Others wait for readability first and hold no buffer: other new
            // connections (reading at once saved nothing there, and a connect flood would pin
            // buffers) and those after one request (often done: a burst of them would pin a
            // touched buffer page each, measured 611 against 378 bytes per idle connection).
            // At most READ_FIRST_MAX read at once per shard.
            let woke =
                if bytes_likely && ctx.reading.get() < READ_FIRST_MAX && READ_FIRST.with(|r| *r) {
                    read_first(&ctx, &mut stream, &mut pending, &mut canceller, until).await
                } else {
                    monoio::select! {
                        r = stream.readable(false) => Some(r.is_ok()),
                        _ = ctx.drain.wait_until(until) => None,
                    }
                };
            match woke {
                Some(true) => {}
                Some(false) => break,
                None if !parks || ctx.drain.is_set() => break,
                None => match ctx
                    .parking
                    .park(slot, stream, peer, local, served, deadline)
                {
                    Ok(()) => return,
                    // Not parked (out of descriptors, say): wait on in this task, to the same
                    // deadline.
                    Err((sl, s)) => {
                        slot = sl;
                        stream = s;
                        continue;
                    }
                },
            }
            if served == 0 {
                head_by = Some(deadline);
            }
            idle_until = None;
        }
        // The per-request work runs in its own boxed future, so that the connection's future
        // (all an idle connection holds) keeps only the idle wait and a few fields.
        match Box::pin(one_request(
            &ctx,
            &mut stream,
            &client,
            &mut pending,
            &mut served,
            head_by.take(),
        ))
        .await
        {
            Next::KeepAlive(_) => {}
            Next::Close => break,
            Next::Upgrade(up, to_client, to_up, _held) => {
                let limit = defaults_send_timeout(&ctx, local);
                Box::pin(tunnel::run(stream, up, to_client, to_up, limit)).await;
                return;
            }
        }
    }
    if !pending.is_empty() {
        ctx.bufs.put(pending);
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
async fn read_first(
    ctx: &ShardCtx,
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    canceller: &mut Canceller,
    until: Instant,
) -> Option<bool> {
    use monoio::io::CancelableAsyncReadRent;
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

/// Reads, routes and answers one request (the bytes may already be in `pending`). What follows
/// it in the buffer, if anything, is left in `pending`.
async fn one_request(
    ctx: &ShardCtx,
    stream: &mut TcpStream,
    client: &Client,
    pending: &mut Vec<u8>,
    served: &mut u64,
    head_by: Option<Instant>,
) -> Next {
    let generation = ctx.current();
    let Some(lst) = generation.listener(client.local) else {
        // The listen address left the config on reload: close instead of serving it.
        return Next::Close;
    };
    let b = if pending.is_empty() {
        ctx.bufs.get()
    } else {
        std::mem::take(pending)
    };
    let Some((head, b)) = read_head(ctx, stream, b, lst, head_by).await else {
        return Next::Close;
    };
    *served += 1;
    match handle(ctx, &generation, lst, client, stream, b, &head, *served).await {
        Next::KeepAlive(rest) => {
            *pending = rest;
            Next::KeepAlive(Vec::new())
        }
        other => other,
    }
}

fn defaults_send_timeout(ctx: &ShardCtx, local: SocketAddr) -> std::time::Duration {
    ctx.current()
        .listener(local)
        .map(|l| l.defaults.client_send_timeout)
        .unwrap_or(std::time::Duration::from_secs(60))
}

/// Reads until a complete head parses. On a bad head the client gets its status and the
/// connection closes (None); a client that goes quiet mid-head gets 408.
async fn read_head(
    ctx: &ShardCtx,
    stream: &mut TcpStream,
    mut b: Vec<u8>,
    lst: &ListenerRt,
    head_by: Option<Instant>,
) -> Option<(RequestHead, Vec<u8>)> {
    let d = &lst.defaults;
    let limits = Limits {
        max_request_line: d.max_request_line,
        max_field_line: d.max_request_line,
        max_head: d.max_header_size,
        max_headers: MAX_HEADERS,
    };
    let deadline = head_by.unwrap_or_else(|| Instant::now() + d.client_header_timeout);
    loop {
        if !b.is_empty() {
            match parse_request(&b, &limits) {
                Ok(Some(h)) => return Some((h, b)),
                Ok(None) => {}
                Err(e) => {
                    debug!(peer = %stream.peer_addr().ok()?, "bad request: {e}");
                    respond::error(stream, e.status(), true, false, b"", d.client_send_timeout)
                        .await;
                    ctx.bufs.put(b);
                    return None;
                }
            }
        }
        if b.capacity() - b.len() < 1024 {
            b.reserve(d.max_header_size.max(4096));
        }
        let had = !b.is_empty();
        let left = deadline.saturating_duration_since(Instant::now());
        match read_into(stream, b, left).await {
            Ok((0, nb)) => {
                ctx.bufs.put(nb);
                return None;
            }
            Ok((_, nb)) => b = nb,
            Err(ReadErr::Timeout) => {
                if had {
                    respond::error(stream, 408, true, false, b"", d.client_send_timeout).await;
                }
                return None;
            }
            Err(ReadErr::Io(_)) => return None,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    ctx: &ShardCtx,
    generation: &Generation,
    lst: &ListenerRt,
    client: &Client,
    stream: &mut TcpStream,
    b: Vec<u8>,
    head: &RequestHead,
    served: u64,
) -> Next {
    let host = head.host.map(|s| s.get(&b)).unwrap_or(b"");
    let Some(server) = lst.hosts.find(host) else {
        return Next::Close;
    };
    // nginx applies the server's realip settings before the rewrite phase and, when they did
    // not apply, the location's after it.
    let server_realip = server.locations.fallback().and_then(|l| l.realip.as_ref());
    let real: Client;
    let mut client = client;
    let mut real_done = false;
    if let Some(c) = client.real(server_realip, head, &b) {
        real = c;
        client = &real;
        real_done = true;
    }
    let target = head.target.get(&b);
    let origin = origin_form(target);
    if head.method == Method::Connect {
        // A reverse proxy opens no tunnels to arbitrary authorities.
        respond::error(
            stream,
            405,
            true,
            false,
            b"",
            lst.defaults.client_send_timeout,
        )
        .await;
        return Next::Close;
    }
    let path = match origin.iter().position(|&c| c == b'?') {
        // `OPTIONS *` (and an empty absolute-form path) is routed as `/`.
        _ if origin.first() != Some(&b'/') => b"/",
        Some(0) => b"/",
        Some(i) => &origin[..i],
        None => origin,
    };
    let head_only = head.method == Method::Head;
    // Locations match the normalized path; when normalizing changed it, the upstream gets the
    // normalized form too, so it serves exactly what was routed.
    let norm = match normalize_path(path) {
        Ok(p) => p,
        Err(why) => {
            debug!("bad request path: {why}");
            respond::error(
                stream,
                400,
                true,
                head_only,
                b"",
                lst.defaults.client_send_timeout,
            )
            .await;
            return Next::Close;
        }
    };
    let path: &[u8] = &norm;
    let normalized: Option<Vec<u8>> = match &norm {
        Cow::Borrowed(_) => None,
        Cow::Owned(p) => {
            let mut u = Vec::with_capacity(origin.len() + 8);
            escape_path(p, &mut u);
            if let Some(q) = origin.iter().position(|&c| c == b'?') {
                u.extend_from_slice(&origin[q..]);
            }
            Some(u)
        }
    };
    let origin: &[u8] = normalized.as_deref().unwrap_or(origin);
    let mut rewritten: Option<Vec<u8>> = normalized.clone();
    let mut redirect: Option<(u16, Vec<u8>)> = None;
    let mut uri_final = false;
    // A URI changed by `rewrite` is an internal redirect: it may reach `internal` locations.
    let mut rewritten_by_rule = false;
    let loc = if server.has_rewrites {
        let header = |name: &[u8], out: &mut Vec<u8>| headers::find_header(head, &b, name, out);
        let vars = Vars {
            host: headers::host_of(head, &b),
            remote_addr: client.ip.as_bytes(),
            remote_ip: client.addr,
            realip_remote_addr: client.peer_ip.as_bytes(),
            remote_port: client.port,
            scheme: b"http",
            request_uri: origin,
            method: head.method_span.get(&b),
            server_name: &server.name,
            server_port: client.local.port(),
            header: &header,
            proxy_host: b"",
            uri: origin,
            captures: None,
            user: &[],
            auth_response: None,
        };
        match rewrite::route(server, origin, &vars) {
            Some(Routed::Location { loc, uri, broke }) => {
                rewritten_by_rule = uri.is_some();
                rewritten = uri;
                uri_final = broke;
                loc
            }
            Some(Routed::Redirect { code, location }) => {
                redirect = Some((code, location));
                match server.locations.fallback() {
                    Some(l) => l,
                    None => return Next::Close,
                }
            }
            Some(Routed::Loop) => {
                warn!(
                    "rewrite or internal redirection cycle for {}",
                    String::from_utf8_lossy(origin)
                );
                respond::error(
                    stream,
                    500,
                    true,
                    head_only,
                    b"",
                    lst.defaults.client_send_timeout,
                )
                .await;
                return Next::Close;
            }
            None => return Next::Close,
        }
    } else {
        match server.locations.find(path) {
            Some(loc) => loc,
            None => return Next::Close,
        }
    };
    // The access phase follows the rewrite phase: a `return` (or a redirect) answers before
    // realip at location level and allow/deny are consulted, as in nginx.
    let checked = redirect.is_none() && !matches!(loc.action, Action::Return { .. });
    let real_loc: Client;
    if checked
        && !real_done
        && let Some(c) = client.real(loc.realip.as_ref(), head, &b)
    {
        real_loc = c;
        client = &real_loc;
    }
    let keep_alive = head.keep_alive && !ctx.drain.is_set() && served < loc.keepalive_requests;
    let r = Request {
        ctx,
        generation,
        loc,
        client,
        head,
        server_name: &server.name,
        keep_alive,
        uri: rewritten.as_deref(),
        uri_final,
        user: &[],
    };
    if let Some((code, location)) = redirect {
        return answer(&r, stream, b, code, Text::Rendered(&location)).await;
    }
    if loc.internal && !rewritten_by_rule {
        return answer(&r, stream, b, 404, Text::Rendered(b"")).await;
    }
    if let BodyFraming::Length(n) = head.body
        && loc.client_max_body_size > 0
        && n > loc.client_max_body_size
    {
        forward::fail(&r, stream, &b, 413).await;
        return Next::Close;
    }
    // Preaccess (limit_conn, limit_req) comes after the rewrite phase and the Content-Length
    // check, as in nginx: a location that `return`s is answered before any limit applies.
    let (held, b) = if loc.limits.is_empty() || matches!(loc.action, Action::Return { .. }) {
        (ConnGuard::default(), b)
    } else {
        match access::check(&r, b).await {
            Gate::Pass(held, b) => (held, b),
            Gate::Refuse(code, b) => return answer(&r, stream, b, code, Text::Rendered(b"")).await,
        }
    };
    if checked && !loc.access.allows(client.addr) {
        debug!(client = %client.addr, location = %loc.name, "access forbidden by rule");
        forward::fail(&r, stream, &b, 403).await;
        return Next::Close;
    }
    // Authentication, after allow/deny as in nginx (`satisfy all`).
    let user_vars;
    let (r, b) = if checked && auth::needed(&r) {
        match auth::check(&r, server, stream, b).await {
            Ok((vars, b)) => {
                user_vars = vars;
                (
                    Request {
                        user: &user_vars,
                        ..r
                    },
                    b,
                )
            }
            Err(next) => return next,
        }
    } else {
        (r, b)
    };
    if let Action::Proxy { .. } = loc.action
        && matches!(head.method, Method::Options | Method::Trace)
        && headers::max_forwards(head, &b) == Some(0)
    {
        return answer_hop_limit(&r, stream, b).await;
    }
    match &loc.action {
        Action::Proxy {
            upstream,
            uri,
            proxy_host,
        } => match forward::forward(&r, stream, b, *upstream, uri.as_ref(), proxy_host).await {
            Next::Upgrade(up, to_client, to_up, _) => Next::Upgrade(up, to_client, to_up, held),
            next => next,
        },
        Action::Return { code, text } => answer(&r, stream, b, *code, Text::Template(text)).await,
        Action::NotFound => answer(&r, stream, b, 404, Text::Rendered(b"")).await,
    }
}

/// A response ringway makes itself. A request body is skipped when it is already in the
/// buffer; otherwise the connection closes after the answer instead of reading it.
/// The body (or redirect target) of an answer ringway makes itself.
enum Text<'a> {
    Template(&'a Template),
    Rendered(&'a [u8]),
}

async fn answer(
    r: &Request<'_>,
    stream: &mut TcpStream,
    b: Vec<u8>,
    code: u16,
    text: Text<'_>,
) -> Next {
    let head = r.head;
    let (consumed, keep) = forward::answered_extent(r, &b);
    let mut out = r.ctx.bufs.get();
    {
        let header = |name: &[u8], out: &mut Vec<u8>| headers::find_header(head, &b, name, out);
        let vars = headers::vars(r, &b, b"", &header);
        let mut rendered = Vec::new();
        let text = match text {
            Text::Template(t) => {
                t.render(&vars, &mut rendered);
                &rendered[..]
            }
            Text::Rendered(t) => t,
        };
        respond::write_return(
            &mut out,
            code,
            text,
            &vars,
            &r.loc.add_headers,
            keep,
            head.method == Method::Head,
        );
    }
    match write_all(stream, out, r.loc.client_send_timeout).await {
        Ok(o) => r.ctx.bufs.put(o),
        Err(_) => return Next::Close,
    }
    if !keep {
        return Next::Close;
    }
    Next::KeepAlive(forward::leftover(r.ctx, b, consumed))
}

/// OPTIONS or TRACE with `Max-Forwards: 0` is answered here, as the final recipient
/// (RFC 9110 §7.6.2): OPTIONS with the methods ringway forwards, TRACE with the request
/// echoed back as `message/http` (§9.3.8).
async fn answer_hop_limit(r: &Request<'_>, stream: &mut TcpStream, b: Vec<u8>) -> Next {
    let head = r.head;
    let mut out = Vec::with_capacity(256 + head.head_len);
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    if head.method == Method::Options {
        out.extend_from_slice(
            b"Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH\r\nContent-Length: 0\r\n",
        );
    } else {
        out.extend_from_slice(b"Content-Type: message/http\r\nContent-Length: ");
        crate::http::util::push_u64(&mut out, head.head_len as u64);
        out.extend_from_slice(b"\r\n");
    }
    let keep = r.keep_alive && head.body == BodyFraming::None;
    if !keep {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if head.method == Method::Trace {
        out.extend_from_slice(&b[..head.head_len]);
    }
    if write_all(stream, out, r.loc.client_send_timeout)
        .await
        .is_err()
        || !keep
    {
        return Next::Close;
    }
    Next::KeepAlive(forward::leftover(r.ctx, b, head.head_len))
}
