//! Answering from a cache entry: the request's conditions (304, 412) and Range (206, 416)
//! first, then the stored head through the same response phase an origin's head takes
//! (`response::plan`: header rules, `add_header`, keep-alive, compression), then the body from
//! the file, or where the location compresses from the stored compressed variant (`variant`,
//! else compressed on the way and stored: `compressed`): in the head's write when small and
//! already read, by sendfile on a plain connection, else read and written in pooled buffers
//! (TLS must see the bytes).

use super::super::answer::{self, Text, answered_extent, leftover};
use super::super::request::Request;
use super::super::response::{self, Body};
use super::super::session::Next;
use super::variant;
use crate::cache::coded::Primary;
use crate::cache::conditional::{self, Answer};
use crate::cache::entry::EntryMeta;
use crate::cache::store::{Found, read_full_at};
use crate::http::Method;
use crate::http::response::parse_response;
use crate::net::Transport;
use crate::net::io::write_all;

/// Bodies up to this size go in the head's write.
const INLINE: u64 = 16 * 1024;
/// Chunk of a body read from the file for a TLS connection.
const CHUNK: usize = 64 * 1024;

/// What answering needs of an entry, on disk or in a shard's memory (`hot`).
pub struct View<'e> {
    /// The entry's key, hash and file: what a compressed variant of it is tied to (`variant`).
    pub key: &'e [u8],
    pub primary: Primary,
    pub meta: &'e EntryMeta,
    pub etag: Option<&'e [u8]>,
    /// The stored head (status line, fields, blank line).
    pub head: &'e [u8],
    pub body: BodyAt<'e>,
}

pub enum BodyAt<'e> {
    /// All of it in memory.
    InHand(&'e [u8]),
    /// In the entry's file from this offset; what of its start the first read got.
    File {
        file: &'e std::fs::File,
        offset: u64,
        start: Option<&'e [u8]>,
    },
}

impl Found {
    pub fn view(&self) -> View<'_> {
        View {
            key: self.key(),
            primary: Primary {
                hash: self.hash,
                ino: self.ino,
            },
            meta: self.meta(),
            etag: self.etag(),
            head: self.head(),
            body: BodyAt::File {
                file: &self.file,
                offset: self.d.body_offset,
                start: self.body_in_hand(),
            },
        }
    }
}

pub async fn serve_entry<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    b: Vec<u8>,
    e: &Found,
    proxy_host: &[u8],
) -> Next {
    serve_view(r, stream, b, &e.view(), proxy_host).await
}

pub async fn serve_view<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    b: Vec<u8>,
    e: &View<'_>,
    proxy_host: &[u8],
) -> Next {
    let len = e.meta.body_len;
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
        e.etag,
        e.meta.last_modified,
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
        e.head,
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
    let form = response::HeadForm::of::<S>();
    let mut plan = response::plan(r, &b, &resp, &ub, keep, proxy_host, form);
    r.ctx.bufs.put(ub);
    r.outcome.status.set(resp.status);
    let body = match plan.body {
        Body::Length(_) if r.head.method != Method::Head && !not_modified => n,
        _ => 0,
    };
    // A whole body compressed: sent from its stored variant when there is one (its length
    // known), else compressed here and stored as that variant on the way.
    let whole = body > 0 && from == 0 && body == len;
    let stored = match plan.recode {
        Some(rc) if whole => variant::find(r, e, rc),
        _ => None,
    };
    if let Some(v) = &stored {
        variant::with_length(&mut plan.head, v.body_len());
    }
    r.outcome.sent_head(&plan.head);
    // Boxed: the request's future (reused per connection) keeps its size.
    let sent = match (plan.recode, stored) {
        (Some(_), Some(v)) => Box::pin(variant::send_stored(r, stream, plan.head, v)).await,
        (Some(rc), None) => {
            let fill = if whole {
                variant::start(r, e, rc)
            } else {
                None
            };
            let send = super::compressed::send_compressed(
                r, stream, plan.head, &e.body, from, body, rc, fill,
            );
            Box::pin(send).await
        }
        (None, _) => send(r, stream, plan.head, &e.body, from, body).await,
    };
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
pub(super) async fn send<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    mut head: Vec<u8>,
    body: &BodyAt<'_>,
    from: u64,
    n: u64,
) -> Option<u64> {
    let t = r.loc.client_send_timeout;
    let head_len = head.len() as u64;
    let s = usize::try_from(from).ok()?;
    let in_hand = match body {
        BodyAt::InHand(all) => Some(*all),
        BodyAt::File { start, .. } => *start,
    };
    if let Some(all) = in_hand
        && (n <= INLINE || matches!(body, BodyAt::InHand(_)))
    {
        head.extend_from_slice(all.get(s..s.checked_add(n as usize)?)?);
        let out = write_all(stream, head, t).await.ok()?;
        r.ctx.bufs.put(out);
        return Some(head_len + n);
    }
    let BodyAt::File { file, offset, .. } = body else {
        return None;
    };
    if n <= INLINE {
        let at = head.len();
        head.resize(at + n as usize, 0);
        let got = read_full_at(file, &mut head[at..], offset + from).ok()?;
        if got as u64 != n {
            return None;
        }
        let out = write_all(stream, head, t).await.ok()?;
        r.ctx.bufs.put(out);
        return Some(head_len + n);
    }
    let at = offset + from;
    if stream.splice_fd().is_some() {
        let sent = crate::net::sendfile::send_file(stream, &head, file, at, n, t).await;
        r.ctx.bufs.put(head);
        sent.ok()?;
    } else {
        let out = write_all(stream, head, t).await.ok()?;
        r.ctx.bufs.put(out);
        copy_from_file(r, stream, file, at, n).await?;
    }
    Some(head_len + n)
}

async fn copy_from_file<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    file: &std::fs::File,
    mut at: u64,
    mut n: u64,
) -> Option<()> {
    let mut buf = r.ctx.bufs.get();
    while n > 0 {
        let want = n.min(CHUNK as u64) as usize;
        buf.clear();
        buf.resize(want, 0);
        let got = read_full_at(file, &mut buf, at).ok()?;
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
