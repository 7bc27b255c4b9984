//! One request's exchange with an upstream: pick a server, take a pooled connection or dial,
//! send the rewritten head and the body, read the response head (passing 1xx through), send the
//! rewritten head and the body to the client, and give the connection back to the pool when the
//! exchange ended cleanly.

use std::time::{Duration, Instant};

use monoio::net::TcpStream;
use tracing::{debug, warn};

use super::body::{self, Fail, Timeouts};
use super::client::Client;
use super::connection::Next;
use super::context::{Generation, ShardCtx};
use super::headers::{add_headers, build_head, find_header, vars};
use super::io::{ReadErr, read_into, write_all, write_two};
use super::respond;
use crate::http::response::parse_response;
use crate::http::rewrite::{ResponseRewrite, write_response_head};
use crate::http::{BodyFraming, Method, RequestHead, ResponseFraming, ResponseHead, Version};
use crate::route::{Location, UriRewrite};
use crate::route::{NU_ERROR, NU_INVALID_HEADER, NU_NON_IDEMPOTENT, NU_TIMEOUT, NextUpstream};
use crate::upstream::{Error as UpstreamError, Group, Tried};

/// Bodies up to this size ride in the same write as their head.
const INLINE_BODY: usize = 16 * 1024;
/// How long to wait for an upstream's `100 Continue` before telling the client to send anyway.
const EXPECT_WAIT: Duration = Duration::from_secs(1);
pub(super) const VIA: &[u8] = b"1.1 ringway";
/// Most names a location can list before the per-request name table spills to the heap.
pub(super) const NAMES_ON_STACK: usize = 16;

pub struct Request<'a> {
    pub ctx: &'a ShardCtx,
    pub generation: &'a Generation,
    pub loc: &'a Location,
    pub client: &'a Client,
    pub head: &'a RequestHead,
    pub server_name: &'a [u8],
    /// Whether the client connection may stay open after this exchange.
    pub keep_alive: bool,
    /// The URI (with arguments) after `rewrite`, when it changed.
    pub uri: Option<&'a [u8]>,
    /// `rewrite … break` produced `uri`: it is sent as it is, ignoring `proxy_pass`'s URI part.
    pub uri_final: bool,
    /// Values of the `auth_request_set` variables (set by the access phase).
    pub user: &'a [Vec<u8>],
}

pub async fn forward(
    r: &Request<'_>,
    stream: &mut TcpStream,
    b: Vec<u8>,
    upstream: usize,
    uri: Option<&UriRewrite>,
    proxy_host: &[u8],
) -> Next {
    let loc = r.loc;
    let head = r.head;
    let group = &r.generation.upstreams[upstream];
    let avail = b.len() - head.head_len;
    let (body_in_buf, in_buf) = match head.body {
        BodyFraming::None => (true, 0),
        BodyFraming::Length(n) => (n <= avail as u64, (n.min(avail as u64)) as usize),
        BodyFraming::Chunked => (false, 0),
    };
    // A request may be sent again on a fresh connection only if nothing of it is lost: the body
    // is still in our buffer and repeating it is harmless.
    let retryable = head.method.is_idempotent() && body_in_buf && !head.upgrade;
    let inline = body_in_buf && in_buf <= INLINE_BODY && !head.expect_continue;
    // Upstream writes wait up to proxy_send_timeout, client writes up to send_timeout.
    let send_t = loc.send_timeout;
    let client_t = loc.client_send_timeout;

    let mut out = r.ctx.bufs.get();
    let next = &loc.next_upstream;
    let started = Instant::now();
    // Servers tried for this request; a failed attempt moves on only while this allows it.
    let mut tried = Tried::new();
    let mut attempts = 0u32;
    let mut last_status = 502;
    // A server chosen while deciding whether to retry (so the balancer is asked once).
    let mut chosen: Option<usize> = None;
    // After a reused connection failed, the retry dials anew: the pool may hold more stale ones.
    let mut fresh = false;
    let mut ub;
    // For a chunked upload: what followed the body in the last read (a pipelined request).
    let mut after_body: Option<Vec<u8>> = None;
    if head.body == BodyFraming::Chunked && !chunked_prefix_ok(&b[head.head_len..]) {
        // Malformed framing already in hand: refuse before any upstream hears of it.
        fail(r, stream, &b, 400).await;
        return Next::Close;
    }
    if head.body == BodyFraming::Chunked && !loc.http11 {
        // HTTP/1.0 has no chunked coding (RFC 9112 §6.1): a 1.0 server would read the chunks as
        // the next request. The body is streamed, its length unknown: refuse it (411).
        fail(r, stream, &b, 411).await;
        return Next::Close;
    }
    let mut key_buf = Vec::new();
    let key = balance_key(r, &b, group, &mut key_buf);
    // May the request go to another server after a failure of kind `bit`? `sent`: the
    // upstream may have acted on it (then only idempotent requests, or `non_idempotent`).
    let may_retry = |bit: u16, sent: bool, attempts: u32| {
        next.on & bit != 0
            // A body already streamed cannot be sent again; one not yet read from the client
            // still can, when nothing went upstream (a refused connect).
            && (body_in_buf || !sent)
            && !head.upgrade
            && (!sent || head.method.is_idempotent() || next.on & NU_NON_IDEMPOTENT != 0)
            && (next.tries == 0 || attempts < next.tries)
            && (next.timeout.is_zero() || started.elapsed() < next.timeout)
    };
    let (server, _in_flight, mut up, resp, body_sent) = loop {
        let server = match chosen.take() {
            Some(s) => s,
            None => match group.pick(key, &tried) {
                Some(s) => s,
                // Every server that could take it is at max_conns: wait in the queue.
                None if group.only_full(&tried)
                    && let Some(q) = &group.queue =>
                {
                    if q.wait().await {
                        continue;
                    }
                    warn!(upstream = %group.name, "queue full or timed out waiting for a server under max_conns");
                    fail(r, stream, &b, 502).await;
                    return Next::Close;
                }
                None if attempts == 0 => {
                    warn!(upstream = %group.name, "no live upstreams");
                    fail(r, stream, &b, 502).await;
                    return Next::Close;
                }
                None => {
                    fail(r, stream, &b, last_status).await;
                    return Next::Close;
                }
            },
        };
        if !fresh {
            tried.insert(server);
            attempts += 1;
        }
        let in_flight = InFlight::new(group, server);
        let mut up = match group.connect(server, loc.connect_timeout, fresh).await {
            Ok(c) => c,
            Err(e) => {
                warn!(upstream = %group.name, server = %group.servers[server].addr, "{e}");
                group.failed(server);
                last_status = e.status();
                fresh = false;
                let bit = if matches!(e, UpstreamError::ConnectTimeout) {
                    NU_TIMEOUT
                } else {
                    NU_ERROR
                };
                if may_retry(bit, false, attempts) {
                    continue;
                }
                fail(r, stream, &b, last_status).await;
                return Next::Close;
            }
        };
        let was_fresh = fresh;
        fresh = false;
        out.clear();
        build_head(r, &b, uri, proxy_host, &mut out);
        if inline {
            out.extend_from_slice(&b[head.head_len..head.head_len + in_buf]);
        }
        out = match write_all(&mut up.stream, out, send_t).await {
            Ok(o) => o,
            Err(_) if up.reused && retryable && !was_fresh => {
                out = r.ctx.bufs.get();
                fresh = true;
                chosen = Some(server);
                continue;
            }
            Err(_) => {
                warn!(upstream = %group.name, server = %group.servers[server].addr, "sending the request head failed");
                group.failed(server);
                out = r.ctx.bufs.get();
                if may_retry(NU_ERROR, true, attempts) {
                    continue;
                }
                fail(r, stream, &b, 502).await;
                return Next::Close;
            }
        };
        // Expect: 100-continue with the body still at the client: let the upstream decide first.
        let mut skip_body = false;
        let mut resp_ready = None;
        ub = r.ctx.bufs.get();
        if head.expect_continue && !inline && head.body != BodyFraming::None {
            let readable = super::deadline::within(EXPECT_WAIT, up.stream.readable(false)).await;
            if readable.is_err() {
                // Silent upstream: tell the client to go on (RFC 9110 §10.1.1).
                if !send_raw(stream, b"HTTP/1.1 100 Continue\r\n\r\n", client_t).await {
                    return Next::Close;
                }
            } else {
                match read_head(r, stream, &mut up.stream, ub, loc.read_timeout).await {
                    Ok((h, nb)) => {
                        ub = nb;
                        // The 1xx it sent was passed on; a final answer means: no body.
                        if let Some(h) = h {
                            skip_body = true;
                            resp_ready = Some(h);
                        }
                    }
                    Err(e) => {
                        group.failed(server);
                        return upstream_failed(r, stream, &b, group, server, e).await;
                    }
                }
            }
        }
        let mut body_sent = head.body == BodyFraming::None || inline;
        if !skip_body && !inline {
            match send_body(r, stream, &mut up.stream, &b, in_buf).await {
                Ok(rest) => {
                    body_sent = true;
                    after_body = rest;
                }
                Err(next) => return next,
            }
        }
        let resp = match resp_ready {
            Some(h) => h,
            None => match read_head(r, stream, &mut up.stream, ub, loc.read_timeout).await {
                Ok((Some(h), nb)) => {
                    ub = nb;
                    h
                }
                Ok((None, _)) => unreachable_interim(),
                Err(HeadErr::ClosedEarly) if up.reused && retryable && !was_fresh => {
                    // A pooled connection the upstream had just closed: nothing was answered.
                    // Not the server's fault: retry it on a new connection, uncounted.
                    out = r.ctx.bufs.get();
                    fresh = true;
                    chosen = Some(server);
                    continue;
                }
                Err(HeadErr::ClientGone) => return Next::Close,
                Err(e) => {
                    group.failed(server);
                    let bit = match e {
                        HeadErr::Timeout => NU_TIMEOUT,
                        HeadErr::Malformed => NU_INVALID_HEADER,
                        _ => NU_ERROR,
                    };
                    last_status = if matches!(e, HeadErr::Timeout) {
                        504
                    } else {
                        502
                    };
                    if after_body.is_none() && may_retry(bit, true, attempts) {
                        warn!(upstream = %group.name, server = %group.servers[server].addr, "{}; trying the next server", e.what());
                        out = r.ctx.bufs.get();
                        continue;
                    }
                    return upstream_failed(r, stream, &b, group, server, e).await;
                }
            },
        };
        // nginx: a listed 5xx/429 counts against max_fails; 403/404 never do.
        let bit = status_bit_or_zero(resp.status);
        if NextUpstream::status_is_failure(resp.status) && next.on & bit != 0 {
            group.failed(server);
        } else {
            group.succeeded(server);
        }
        if bit != 0 && after_body.is_none() && may_retry(bit, true, attempts) {
            // Only when another server can take it: otherwise this answer is the client's.
            if let Some(s) = group.pick(key, &tried) {
                warn!(upstream = %group.name, server = %group.servers[server].addr, status = resp.status, "trying the next server");
                chosen = Some(s);
                r.ctx.bufs.put(ub);
                out = r.ctx.bufs.get();
                continue;
            }
        }
        break (server, in_flight, up, resp, body_sent);
    };
    r.ctx.bufs.put(out);

    // Bytes of the request consumed from `b` (the rest is a pipelined request).
    let consumed = head.head_len + if body_sent { in_buf } else { 0 };
    let mut keep_client = r.keep_alive && (body_sent || head.body == BodyFraming::None);

    if resp.status == 101 {
        if !head.upgrade {
            warn!(upstream = %group.name, "101 to a request that asked for no upgrade");
            fail(r, stream, &b, 502).await;
            return Next::Close;
        }
        let mut hb = Vec::with_capacity(512);
        write_response_head(
            &mut hb,
            &resp,
            &ub,
            &ResponseRewrite {
                keep_alive: true,
                client_http10: false,
                framing: ResponseFraming::None,
                hide: &[],
                via: loc.via.then_some(VIA),
                upgrade: true,
            },
        );
        hb.extend_from_slice(b"\r\n");
        hb.extend_from_slice(&ub[resp.head_len..]);
        let client_rest = b[consumed..].to_vec();
        return Next::Upgrade(up.stream, hb, client_rest, Default::default());
    }

    let client_http10 = head.version == Version::Http10;
    let framing = match resp.framing {
        ResponseFraming::None => ResponseFraming::None,
        ResponseFraming::Length(n) => ResponseFraming::Length(n),
        ResponseFraming::Chunked if client_http10 => ResponseFraming::Close,
        ResponseFraming::Chunked => ResponseFraming::Chunked,
        ResponseFraming::Close if keep_client && !client_http10 => ResponseFraming::Chunked,
        ResponseFraming::Close => ResponseFraming::Close,
    };
    if framing == ResponseFraming::Close {
        keep_client = false;
    }
    let mut hb = r.ctx.bufs.get();
    let mut names: [&[u8]; NAMES_ON_STACK] = [&[]; NAMES_ON_STACK];
    let hide_vec: Vec<&[u8]>;
    let hide: &[&[u8]] = if loc.hide.len() <= NAMES_ON_STACK {
        for (i, n) in loc.hide.iter().enumerate() {
            names[i] = n;
        }
        &names[..loc.hide.len()]
    } else {
        hide_vec = loc.hide.iter().map(|n| &n[..]).collect();
        &hide_vec
    };
    write_response_head(
        &mut hb,
        &resp,
        &ub,
        &ResponseRewrite {
            keep_alive: keep_client,
            client_http10,
            framing,
            hide,
            via: loc.via.then_some(VIA),
            upgrade: false,
        },
    );
    if !resp
        .headers
        .iter()
        .any(|h| h.name.get(&ub).eq_ignore_ascii_case(b"date"))
    {
        hb.extend_from_slice(b"Date: ");
        hb.extend_from_slice(&*r.ctx.date.borrow());
        hb.extend_from_slice(b"\r\n");
    }
    add_headers(r, &b, proxy_host, resp.status, &mut hb);
    hb.extend_from_slice(b"\r\n");

    let t = Timeouts {
        read: loc.read_timeout,
        write: client_t,
    };
    let avail = ub.len() - resp.head_len;
    let mut up_clean = resp.keep_alive && body_sent;
    let result: Result<(), Fail> = match (resp.framing, framing) {
        (ResponseFraming::None, _) => {
            up_clean &= avail == 0;
            write_all(stream, hb, client_t)
                .await
                .map(drop)
                .map_err(|_| Fail::DstIo)
        }
        (ResponseFraming::Length(n), _) => {
            let now = (n.min(avail as u64)) as usize;
            up_clean &= avail as u64 <= n;
            if now <= INLINE_BODY {
                hb.extend_from_slice(&ub[resp.head_len..resp.head_len + now]);
                send_then(r.ctx, stream, &mut up.stream, hb, n - now as u64, &t).await
            } else {
                match write_two(stream, hb, ub, resp.head_len, resp.head_len + now, client_t).await
                {
                    Ok((_, nb)) => {
                        ub = nb;
                        body::relay_exact(r.ctx, &mut up.stream, stream, n - now as u64, &t).await
                    }
                    Err(_) => {
                        ub = Vec::new();
                        Err(Fail::DstIo)
                    }
                }
            }
        }
        (ResponseFraming::Chunked, out_framing) => match write_all(stream, hb, client_t).await {
            Ok(_) => {
                let reencode = out_framing == ResponseFraming::Chunked;
                let start = resp.head_len;
                match body::relay_chunked(&mut up.stream, stream, ub, start, reencode, 0, &t).await
                {
                    Ok((rest, _)) => {
                        up_clean &= rest.is_empty();
                        ub = rest;
                        Ok(())
                    }
                    Err(e) => {
                        ub = Vec::new();
                        Err(e)
                    }
                }
            }
            Err(_) => Err(Fail::DstIo),
        },
        (ResponseFraming::Close, out_framing) => {
            up_clean = false;
            let chunked = out_framing == ResponseFraming::Chunked;
            if avail > 0 {
                if chunked {
                    crate::http::chunked::write_chunk_header(avail, &mut hb);
                    hb.extend_from_slice(&ub[resp.head_len..]);
                    hb.extend_from_slice(b"\r\n");
                } else {
                    hb.extend_from_slice(&ub[resp.head_len..]);
                }
            }
            match write_all(stream, hb, client_t).await {
                Ok(_) => body::relay_to_eof(r.ctx, &mut up.stream, stream, chunked, &t).await,
                Err(_) => Err(Fail::DstIo),
            }
        }
    };
    r.ctx.bufs.put(ub);
    if let Err(e) = result {
        if matches!(
            e,
            Fail::SrcEof | Fail::SrcIo | Fail::SrcTimeout | Fail::Malformed(_)
        ) {
            warn!(upstream = %group.name, "upstream failed in the middle of the response body: {e:?}");
        }
        // The client has a partial response: closing is the only honest signal left.
        return Next::Close;
    }
    if up_clean {
        group.release(server, up);
    }
    if keep_client {
        match after_body {
            Some(rest) => {
                r.ctx.bufs.put(b);
                Next::KeepAlive(rest)
            }
            None => Next::KeepAlive(leftover(r.ctx, b, consumed)),
        }
    } else {
        Next::Close
    }
}

fn unreachable_interim() -> ! {
    // read_head only returns None from the Expect wait, which is not this call.
    unreachable!("read_head returns a final response here")
}

/// Writes `hb` (head plus any inline body), then relays the remaining `n` body bytes.
async fn send_then(
    ctx: &ShardCtx,
    client: &mut TcpStream,
    up: &mut TcpStream,
    hb: Vec<u8>,
    n: u64,
    t: &Timeouts,
) -> Result<(), Fail> {
    let hb = write_all(client, hb, t.write)
        .await
        .map_err(|_| Fail::DstIo)?;
    ctx.bufs.put(hb);
    body::relay_exact(ctx, up, client, n, t).await
}

/// For an answer ringway makes itself: how many buffered bytes the request takes (head and,
/// when already read, its body) and whether the connection can stay open after the answer (a
/// body still at the client is not read: the connection closes instead).
pub fn answered_extent(r: &Request<'_>, b: &[u8]) -> (usize, bool) {
    let head = r.head;
    let avail = b.len() - head.head_len;
    let (consumed, body_done) = match head.body {
        BodyFraming::None => (head.head_len, true),
        BodyFraming::Length(n) if n <= avail as u64 => (head.head_len + n as usize, true),
        _ => (b.len(), false),
    };
    (consumed, r.keep_alive && body_done)
}

/// The buffer with the consumed request removed; whatever follows is a pipelined request.
pub fn leftover(ctx: &ShardCtx, mut b: Vec<u8>, consumed: usize) -> Vec<u8> {
    if consumed >= b.len() {
        ctx.bufs.put(b);
        return Vec::new();
    }
    b.drain(..consumed);
    b
}

async fn send_raw(s: &mut TcpStream, bytes: &[u8], t: Duration) -> bool {
    write_all(s, bytes.to_vec(), t).await.is_ok()
}

/// Whether the chunked body bytes already received decode without error (complete or not).
fn chunked_prefix_ok(mut bytes: &[u8]) -> bool {
    let mut dec = crate::http::ChunkedDecoder::default();
    while !bytes.is_empty() {
        match dec.decode(bytes) {
            Ok((_, crate::http::Decoded::Done)) => return true,
            Ok((0, _)) => return true,
            Ok((n, _)) => bytes = &bytes[n..],
            Err(_) => return false,
        }
    }
    true
}

/// Sends the part of the request body that was not inlined with the head. For a chunked body,
/// returns the bytes read past its end (the start of a pipelined request).
async fn send_body(
    r: &Request<'_>,
    client: &mut TcpStream,
    up: &mut TcpStream,
    b: &[u8],
    in_buf: usize,
) -> Result<Option<Vec<u8>>, Next> {
    let head = r.head;
    let loc = r.loc;
    let t = Timeouts {
        read: loc.client_body_timeout,
        write: loc.send_timeout,
    };
    let res = match head.body {
        BodyFraming::None => Ok(None),
        BodyFraming::Length(n) => {
            let first = b[head.head_len..head.head_len + in_buf].to_vec();
            match write_all(up, first, t.write).await {
                Ok(_) => body::relay_exact(r.ctx, client, up, n - in_buf as u64, &t)
                    .await
                    .map(|()| None),
                Err(_) => Err(Fail::DstIo),
            }
        }
        BodyFraming::Chunked => {
            let mut buf = r.ctx.bufs.get();
            buf.extend_from_slice(&b[head.head_len..]);
            body::relay_chunked(client, up, buf, 0, true, loc.client_max_body_size, &t)
                .await
                .map(|(rest, _)| Some(rest))
        }
    };
    match res {
        Ok(rest) => Ok(rest),
        Err(Fail::TooLarge) => {
            fail(r, client, b, 413).await;
            Err(Next::Close)
        }
        Err(Fail::Malformed(e)) => {
            debug!("bad chunked request body: {e}");
            fail(r, client, b, 400).await;
            Err(Next::Close)
        }
        Err(Fail::SrcTimeout) => {
            fail(r, client, b, 408).await;
            Err(Next::Close)
        }
        Err(Fail::SrcEof | Fail::SrcIo) => Err(Next::Close),
        Err(Fail::DstIo | Fail::DstTimeout) => {
            warn!("upstream failed while receiving the request body");
            fail(r, client, b, 502).await;
            Err(Next::Close)
        }
    }
}

/// Counts a request in flight to a server (least_conn, max_conns) until the exchange ends.
pub(crate) struct InFlight<'a>(&'a Group, usize);

impl<'a> InFlight<'a> {
    pub(crate) fn new(g: &'a Group, i: usize) -> InFlight<'a> {
        g.servers[i].health.begin();
        InFlight(g, i)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.released(self.1);
    }
}

fn status_bit_or_zero(status: u16) -> u16 {
    NextUpstream::status_bit(status).unwrap_or(0)
}

/// The balancer's key: the client address for ip_hash, the rendered `hash` key.
pub(crate) fn balance_key<'k>(
    r: &Request<'_>,
    b: &[u8],
    group: &Group,
    buf: &'k mut Vec<u8>,
) -> &'k [u8] {
    use crate::config::BalanceMethod;
    match group.method() {
        BalanceMethod::IpHash => {
            match r.client.addr {
                std::net::IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
                std::net::IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
            }
            buf
        }
        BalanceMethod::Hash { .. } => {
            if let Some(t) = group.hash_key() {
                let header = |name: &[u8], out: &mut Vec<u8>| find_header(r.head, b, name, out);
                let v = vars(r, b, b"", &header);
                t.render(&v, buf);
            }
            buf
        }
        _ => &[],
    }
}

enum HeadErr {
    /// The upstream closed or reset before sending a byte.
    ClosedEarly,
    /// It closed or failed in the middle of the head.
    Truncated,
    Timeout,
    Malformed,
    /// Passing a 1xx on to the client failed.
    ClientGone,
}

/// Reads the upstream's response head, passing 1xx interim responses (not 101) to the client.
/// Returns Ok(None) only when called for the Expect wait and a 100 was relayed.
async fn read_head(
    r: &Request<'_>,
    client: &mut TcpStream,
    up: &mut TcpStream,
    mut ub: Vec<u8>,
    limit: Duration,
) -> Result<(Option<ResponseHead>, Vec<u8>), HeadErr> {
    let mut got_any = false;
    loop {
        if !ub.is_empty() {
            match parse_response(&ub, r.head.method, r.loc.max_header_size) {
                Ok(Some(h)) if (100..200).contains(&h.status) && h.status != 101 => {
                    if r.head.version == Version::Http11 {
                        // Interim responses carry no hop-by-hop framing: pass them as they are.
                        let interim = ub[..h.head_len].to_vec();
                        if write_all(client, interim, r.loc.client_send_timeout)
                            .await
                            .is_err()
                        {
                            return Err(HeadErr::ClientGone);
                        }
                    }
                    ub.drain(..h.head_len);
                    if h.status == 100 && r.head.expect_continue {
                        return Ok((None, ub));
                    }
                    continue;
                }
                Ok(Some(h)) => return Ok((Some(h), ub)),
                Ok(None) => {}
                Err(_) => return Err(HeadErr::Malformed),
            }
        }
        if ub.capacity() - ub.len() < 1024 {
            ub.reserve(16 * 1024);
        }
        match read_into(up, ub, limit).await {
            Ok((0, _)) if !got_any => return Err(HeadErr::ClosedEarly),
            Ok((0, _)) => return Err(HeadErr::Truncated),
            Ok((_, nb)) => {
                got_any = true;
                ub = nb;
            }
            Err(ReadErr::Timeout) => return Err(HeadErr::Timeout),
            Err(ReadErr::Io(e)) if !got_any && e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Err(HeadErr::ClosedEarly);
            }
            Err(ReadErr::Io(_)) => return Err(HeadErr::Truncated),
        }
    }
}

impl HeadErr {
    fn what(&self) -> &'static str {
        match self {
            HeadErr::ClosedEarly => "upstream closed the connection before answering",
            HeadErr::Truncated => {
                "upstream closed the connection in the middle of the response head"
            }
            HeadErr::Timeout => "upstream timed out",
            HeadErr::Malformed => "upstream sent an invalid response head",
            HeadErr::ClientGone => "client gone",
        }
    }
}

async fn upstream_failed(
    r: &Request<'_>,
    client: &mut TcpStream,
    b: &[u8],
    group: &Group,
    server: usize,
    e: HeadErr,
) -> Next {
    let (code, what) = match e {
        HeadErr::ClosedEarly => (502, "upstream closed the connection before answering"),
        HeadErr::Truncated => (
            502,
            "upstream closed the connection in the middle of the response head",
        ),
        HeadErr::Timeout => (504, "upstream timed out"),
        HeadErr::Malformed => (502, "upstream sent an invalid response head"),
        HeadErr::ClientGone => return Next::Close,
    };
    warn!(upstream = %group.name, server = %group.servers[server].addr, "{what}");
    fail(r, client, b, code).await;
    Next::Close
}

/// An error page for this request, with the location's `add_header … always` fields; the
/// connection closes after it.
pub async fn fail(r: &Request<'_>, client: &mut TcpStream, b: &[u8], code: u16) {
    let mut extra = Vec::new();
    if r.loc.add_headers.iter().any(|h| h.always) {
        let header = |name: &[u8], out: &mut Vec<u8>| find_header(r.head, b, name, out);
        let vars = vars(r, b, b"", &header);
        respond::render_add_headers(&r.loc.add_headers, code, &vars, &mut extra);
    }
    let head_only = r.head.method == Method::Head;
    respond::error(
        client,
        code,
        true,
        head_only,
        &extra,
        r.loc.client_send_timeout,
    )
    .await;
}
