//! The HTTP-01 answer (RFC 8555 §8.3): `GET /.well-known/acme-challenge/TOKEN` for a token the
//! ACME thread has published gets the key authorization, before any location of the config.
//! Other tokens fall through to the config (an operator's own webroot challenges keep working).

use super::answer::{answered_extent, leftover, send};
use super::request::{Request, origin_form};
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

pub async fn answer<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    b: Vec<u8>,
    key_auth: String,
) -> Next {
    let (consumed, keep) = answered_extent(r, &b);
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nDate: ");
    out.extend_from_slice(&r.ctx.date.borrow()[..]);
    out.extend_from_slice(b"\r\nContent-Type: application/octet-stream\r\nContent-Length: ");
    out.extend_from_slice(key_auth.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    if !keep {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if r.head.method != Method::Head {
        out.extend_from_slice(key_auth.as_bytes());
    }
    if !send(stream, out, r.loc.client_send_timeout, r.outcome, 200).await || !keep {
        r.ctx.bufs.put(b);
        return Next::Close;
    }
    Next::KeepAlive(leftover(r.ctx, b, consumed))
}
