//! Answering from a cache entry: the request's conditions (304, 412) and Range (206, 416)
//! first, then the stored head through the same response phase an origin's head takes
//! (`response::plan`: header rules, `add_header`, keep-alive), then the body from the file:
//! in the head's write when small and already read, by sendfile on a plain connection, else
//! read and written in pooled buffers (TLS must see the bytes).

use super::super::answer::{self, Text, answered_extent, leftover};
use super::super::request::Request;
use super::super::response::{self, Body};
use super::super::session::Next;
use crate::cache::conditional::{self, Answer};
use crate::cache::store::{Found, read_full_at};
use crate::http::Method;
use crate::http::response::parse_response;
use crate::net::Transport;
use crate::net::io::write_all;

/// Bodies up to this size go in the head's write.
const INLINE: u64 = 16 * 1024;
/// Chunk of a body read from the file for a TLS connection.
const CHUNK: usize = 64 * 1024;

pub async fn serve_entry<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    b: Vec<u8>,
    e: &Found,
    proxy_host: &[u8],
) -> Next {
    let len = e.body_len();
    let fields: Vec<(&[u8], &[u8])> = r
        .head
        .headers
        .iter()
        .map(|h| (h.name.get(&b), h.value.get(&b)))
        .collect();
    let get_or_head = matches!(r.head.method, Method::Get | Method::Head);
    let verdict = conditional::evaluate(
        &fields,
        get_or_head,
        e.etag(),
        e.meta().last_modified,
        len,
        r.loc.cache.as_ref().and_then(|c| c.max_range_offset),
    );
    let (status_line, range) = match verdict {
        Answer::Full => (None, None),
        Answer::NotModified => (Some(&b"HTTP/1.1 304 Not Modified\r\n"[..]), None),
        Answer::Partial { start, end } => (
            Some(&b"HTTP/1.1 206 Partial Content\r\n"[..]),
            Some((start, end)),
        ),
        Answer::PreconditionFailed => {
            return answer::text(r, stream, b, 412, Text::Rendered(b"")).await;
        }
        Answer::Unsatisfiable => {
            return answer::text(r, stream, b, 416, Text::Rendered(b"")).await;
        }
    };
    let not_modified = matches!(verdict, Answer::NotModified);
    let (from, n) = match range {
        Some((s, end)) => (s, end - s + 1),
        None => (0, len),
    };
    // The stored head, its status changed and its framing given, read as an origin's head.
    let mut ub = r.ctx.bufs.get();
    compose_head(
        &mut ub,
        e.head(),
        status_line,
        range.map(|(s, end)| (s, end, len)),
        (!not_modified).then_some(n),
    );
    let method = if r.head.method == Method::Head {
        Method::Head
    } else {
        Method::Get
    };
    let resp = match parse_response(&ub, method, ub.len()) {
        Ok(Some(h)) => h,
        _ => {
            // An entry whose head no longer parses: answered as a failure, never served.
            r.ctx.bufs.put(ub);
            return answer::text(r, stream, b, 500, Text::Rendered(b"")).await;
        }
    };
    let (consumed, keep) = answered_extent(r, &b);
    let plan = response::plan(r, &b, &resp, &ub, keep, proxy_host);
    r.ctx.bufs.put(ub);
    r.outcome.status.set(resp.status);
    let body = match plan.body {
        Body::Length(_) if r.head.method != Method::Head && !not_modified => n,
        _ => 0,
    };
    let sent = send(r, stream, plan.head, e, from, body).await;
    match sent {
        Some(bytes) => r.outcome.add_sent(bytes as usize),
        None => {
            r.ctx.bufs.put(b);
            return Next::Close;
        }
    }
    if !plan.keep_client {
        r.ctx.bufs.put(b);
        return Next::Close;
    }
    Next::KeepAlive(leftover(r.ctx, b, consumed))
}

/// The head an origin would have sent: `status_line` in place of the stored one, and the
/// framing for what is sent.
fn compose_head(
    out: &mut Vec<u8>,
    stored: &[u8],
    status_line: Option<&[u8]>,
    range: Option<(u64, u64, u64)>,
    length: Option<u64>,
) {
    let fields_at = stored
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(stored.len(), |i| i + 2);
    match status_line {
        Some(line) => out.extend_from_slice(line),
        None => out.extend_from_slice(&stored[..fields_at]),
    }
    // The stored fields end with the blank line.
    let fields = &stored[fields_at..];
    let fields = fields.strip_suffix(b"\r\n").unwrap_or(fields);
    out.extend_from_slice(fields);
    if let Some((s, e, len)) = range {
        out.extend_from_slice(b"Content-Range: ");
        out.extend_from_slice(conditional::content_range(s, e, len).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(n) = length {
        out.extend_from_slice(b"Content-Length: ");
        crate::http::util::push_u64(out, n);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes the head and `n` body bytes from `from`; returns the bytes written, None when the
/// client could not take them (or the file failed: the connection must close).
async fn send<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    mut head: Vec<u8>,
    e: &Found,
    from: u64,
    n: u64,
) -> Option<u64> {
    let t = r.loc.client_send_timeout;
    let head_len = head.len() as u64;
    if n <= INLINE {
        match e.body_in_hand() {
            Some(body) => {
                let s = usize::try_from(from).ok()?;
                head.extend_from_slice(body.get(s..s + n as usize)?);
            }
            None => {
                let at = head.len();
                head.resize(at + n as usize, 0);
                let got = read_full_at(&e.file, &mut head[at..], e.d.body_offset + from).ok()?;
                if got as u64 != n {
                    return None;
                }
            }
        }
        let out = write_all(stream, head, t).await.ok()?;
        r.ctx.bufs.put(out);
        return Some(head_len + n);
    }
    let out = write_all(stream, head, t).await.ok()?;
    r.ctx.bufs.put(out);
    let at = e.d.body_offset + from;
    if stream.splice_fd().is_some() {
        crate::net::sendfile::send_file(stream, &e.file, at, n, t)
            .await
            .ok()?;
    } else {
        copy_from_file(r, stream, e, at, n).await?;
    }
    Some(head_len + n)
}

async fn copy_from_file<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    e: &Found,
    mut at: u64,
    mut n: u64,
) -> Option<()> {
    let mut buf = r.ctx.bufs.get();
    while n > 0 {
        let want = n.min(CHUNK as u64) as usize;
        buf.clear();
        buf.resize(want, 0);
        let got = read_full_at(&e.file, &mut buf, at).ok()?;
        if got != want {
            return None;
        }
        buf = write_all(stream, buf, r.loc.client_send_timeout)
            .await
            .ok()?;
        at += want as u64;
        n -= want as u64;
    }
    r.ctx.bufs.put(buf);
    Some(())
}
