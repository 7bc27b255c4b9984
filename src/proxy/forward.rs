//! A proxied request, from the upstream exchange to the end of the relay: the exchange
//! (`upstream::exchange`, with the client's side in `requester`), the response phase
//! (`response::plan`), the body relay (`relay::response_body`), and the upstream connection
//! back to its pool when the exchange ended cleanly.

use tracing::warn;

use super::cache::Fetch;
use super::cache::fill::AfterHead;
use super::cache::status::{REVALIDATED, STALE};
use super::compress_relay::compressed_body;
use super::error::Error;
use super::outcome::UpstreamOutcome;
use super::relay::{self, Fail, Timeouts};
use super::request::{Request, find_header, vars};
use super::requester::ClientRequest;
use super::response;
use super::session::{Next, Upgraded};
use crate::http::{BodyFraming, Method};
use crate::net::Transport;
use crate::route::UriRewrite;
use crate::upstream::exchange::Settings;
use crate::upstream::{Failed, Group, exchange};

/// A failed request and its buffer, for the answer.
pub type Failure = (Error, Vec<u8>);

pub async fn forward<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    b: Vec<u8>,
    upstream: usize,
    uri: Option<&UriRewrite>,
    proxy_host: &[u8],
    mut cache: Option<&mut Fetch<'_>>,
) -> Result<Next, Failure> {
    let loc = r.loc;
    let head = r.head;
    let group = &r.generation.upstreams[upstream];
    if head.body == BodyFraming::Chunked && !chunked_prefix_ok(&b[head.head_len..]) {
        // Malformed framing already in hand: refused before any upstream hears of it.
        return Err((Error::BadBody(bad_chunk()), b));
    }
    if head.body == BodyFraming::Chunked && !loc.http11 {
        // HTTP/1.0 has no chunked coding (RFC 9112 §6.1): a 1.0 server would read the chunks
        // as the next request. The body is streamed, its length unknown: refuse it (411).
        return Err((Error::LengthRequired, b));
    }
    let mut key_buf = Vec::new();
    let key = balance_key(r, &b, group, &mut key_buf);
    let as_get = cache.as_ref().is_some_and(|f| f.as_get);
    let method = if as_get { Method::Get } else { head.method };
    let settings = Settings::of(loc, method, r.outcome.started);
    let mut req = ClientRequest::new(r, stream, &b, uri, proxy_host);
    if let Some(f) = cache.as_deref_mut() {
        f.extra_fields(&mut req.extra);
        req.as_get = as_get;
    }
    let exchanged = exchange(&r.ctx.bufs, group, key, &settings, &mut req).await;
    let (in_buf, after_body) = (req.in_buf, req.after_body.take());
    let answer = match exchanged {
        Ok(a) => a,
        Err(Failed::Requester(e)) => return Err((e, b)),
        Err(Failed::Upstream { error, addr }) => {
            if let Some(f) = cache.as_deref_mut()
                && f.stale_after_failure(&error)
            {
                warn!(upstream = %group.name, "answered from a stale cache entry: {error:?}");
                return Ok(f.serve_stale(r, stream, b, proxy_host, STALE).await);
            }
            r.outcome.upstream.set(Some(UpstreamOutcome {
                addr,
                status: 0,
                attempt_at: r.outcome.started,
                connected_at: None,
                header_at: None,
                done_at: None,
            }));
            return Err((Error::Upstream(error), b));
        }
    };
    r.outcome.upstream.set(Some(UpstreamOutcome {
        addr: Some(answer.addr),
        status: answer.head.status,
        attempt_at: answer.attempt_at,
        connected_at: answer.connected_at,
        header_at: Some(answer.header_at),
        done_at: None,
    }));
    // Bytes of the request consumed from `b` (the rest is a pipelined request).
    let consumed = head.head_len + if answer.body_sent { in_buf } else { 0 };
    let keep_client = r.keep_alive && (answer.body_sent || head.body == BodyFraming::None);
    if answer.head.status == 101 {
        if !head.upgrade {
            return Err((Error::UnaskedUpgrade, b));
        }
        let mut to_client = response::upgrade_head(r, &answer.head, &answer.buf);
        to_client.extend_from_slice(&answer.buf[answer.head.head_len..]);
        let to_up = b[consumed..].to_vec();
        r.outcome.status.set(101);
        return Ok(Next::Upgrade(Box::new(Upgraded {
            up: answer.conn.stream,
            to_client,
            to_up,
            held: Default::default(),
            idle: loc.read_timeout,
        })));
    }
    let mut tap = None;
    if let Some(f) = cache {
        match f.after_head(r, &b, &answer.head, &answer.buf) {
            AfterHead::Relay(fill) => tap = fill,
            AfterHead::Revalidated => {
                if answer.head.keep_alive && answer.buf.len() == answer.head.head_len {
                    let mut conn = answer.conn;
                    conn.spans = answer.head.headers;
                    group.release(answer.server, conn);
                }
                drop(answer.in_flight);
                return Ok(f.serve_stale(r, stream, b, proxy_host, REVALIDATED).await);
            }
            AfterHead::Stale => {
                drop(answer.in_flight);
                return Ok(f.serve_stale(r, stream, b, proxy_host, STALE).await);
            }
        }
    }
    let form = response::HeadForm::of::<S>();
    let mut plan = response::plan(
        r,
        &b,
        &answer.head,
        &answer.buf,
        keep_client,
        proxy_host,
        form,
    );
    if tap.is_some() {
        plan.splice = false;
    }
    let keep_client = plan.keep_client;
    let t = Timeouts {
        read: loc.read_timeout,
        write: loc.client_send_timeout,
    };
    let mut conn = answer.conn;
    r.outcome.status.set(answer.head.status);
    r.outcome.sent_head(&plan.head);
    let client_head_len = plan.head.len() as u64;
    let head_len = answer.head.head_len;
    // Compressing for a sink (a fill nobody reads) would be wasted work.
    let recode = plan.recode.filter(|_| !S::DISCARDS);
    let relayed = match recode {
        Some(rc) => {
            let c = &mut conn.stream;
            // Boxed: the request's future (reused per connection) keeps the plain relay's size.
            let body = compressed_body(
                r.ctx, stream, c, plan, rc, answer.buf, head_len, &t, &mut tap,
            );
            Box::pin(body)
                .await
                .map(|c| (c.relayed, Some(c.upstream_body)))
        }
        None => relay::response_body(
            r.ctx,
            stream,
            &mut conn.stream,
            plan,
            answer.buf,
            head_len,
            &t,
            &mut tap,
        )
        .await
        .map(|r| (r, None)),
    };
    r.outcome.upstream_done();
    let clean = match relayed {
        Ok((relayed, upstream_body)) => {
            r.outcome.add_sent(relayed.sent as usize);
            // The body bytes relayed came from the upstream after its head (counted by the
            // compressing relay, whose output differs).
            let body = upstream_body.unwrap_or(relayed.sent.saturating_sub(client_head_len));
            r.outcome.upstream_received.set(head_len as u64 + body);
            if let Some(fill) = tap {
                fill.complete();
            }
            relayed.upstream_clean
        }
        Err(e) => {
            let error = match e {
                Fail::SrcEof | Fail::SrcIo | Fail::SrcTimeout | Fail::Malformed(_) => {
                    warn!(upstream = %group.name, server = %answer.addr, "upstream failed in the middle of the response body: {e:?}");
                    Error::UpstreamCut
                }
                _ => Error::ClientGone,
            };
            return Err((error, b));
        }
    };
    if clean && answer.head.keep_alive && answer.body_sent {
        // The field index goes back with its connection, for its next answer.
        conn.spans = answer.head.headers;
        group.release(answer.server, conn);
    }
    drop(answer.in_flight);
    if !keep_client {
        r.ctx.bufs.put(b);
        return Ok(Next::Close);
    }
    Ok(Next::KeepAlive(match after_body {
        Some(rest) => {
            r.ctx.bufs.put(b);
            rest
        }
        None => super::answer::leftover(r.ctx, b, consumed),
    }))
}

/// The error a chunked body already known to be malformed is refused with.
fn bad_chunk() -> crate::http::ParseError {
    crate::http::ParseError::BadRequest("malformed chunked request body")
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

/// The balancer's key: the client address for ip_hash, the rendered `hash` key.
pub fn balance_key<'k>(r: &Request<'_>, b: &[u8], group: &Group, buf: &'k mut Vec<u8>) -> &'k [u8] {
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
