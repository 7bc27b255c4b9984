//! The HTTP-01 answer (RFC 8555 §8.3): `GET /.well-known/acme-challenge/TOKEN` for a token the
//! ACME thread has published gets the key authorization, before routing and before anything
//! the config says. Other tokens fall through to the config (an operator's own webroot
//! challenges keep working).

use std::time::Duration;

use super::answer::{leftover, request_extent, send};
use super::context::ShardCtx;
use super::outcome::Outcome;
use super::request::origin_form;
use super::session::Next;
use crate::http::Method;
use crate::http::request::RequestHead;
use crate::net::Transport;

/// The key authorization for this request, when it asks for a pending challenge.
pub fn challenge(head: &RequestHead, b: &[u8]) -> Option<String> {
    let target = origin_form(head.target.get(b));
    // One comparison for every ordinary request; the table is read only for this prefix.
    if !target.starts_with(crate::acme::challenge::PREFIX) {
        return None;
    }
    if !matches!(head.method, Method::Get | Method::Head) {
        return None;
    }
    crate::acme::challenge::answer(target)
}

/// How the answer goes out: whether the connection may stay open, the send timeout, and the
/// request's outcome record.
pub struct How<'a> {
    pub keep: bool,
    pub limit: Duration,
    pub outcome: &'a Outcome,
}

pub async fn answer<S: Transport>(
    ctx: &ShardCtx,
    stream: &mut S,
    head: &RequestHead,
    b: Vec<u8>,
    key_auth: String,
    how: How<'_>,
) -> Next {
    // A body still at the client is not read: the connection closes instead.
    let (consumed, body_done) = request_extent(head, &b);
    let keep = how.keep && body_done;
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nDate: ");
    out.extend_from_slice(&ctx.date.borrow()[..]);
    out.extend_from_slice(b"\r\nContent-Type: application/octet-stream\r\nContent-Length: ");
    crate::http::util::push_u64(&mut out, key_auth.len() as u64);
    out.extend_from_slice(b"\r\n");
    if !keep {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if head.method != Method::Head {
        out.extend_from_slice(key_auth.as_bytes());
    }
    if !send(stream, out, how.limit, how.outcome, 200).await || !keep {
        ctx.bufs.put(b);
        return Next::Close;
    }
    Next::KeepAlive(leftover(ctx, b, consumed))
}
