//! The parse phase: read until a whole request head parses, within `client_header_timeout`.
//! A bad head is a typed error (400, 414, 431, 501, 505) the session answers; a client that goes
//! quiet in the middle of its head gets 408; one that closes or never spoke gets nothing.

use std::time::Instant;

use super::context::{ListenerRt, ShardCtx};
use super::error::Error;
use super::outcome::Outcome;
use crate::http::RequestHead;
use crate::http::request::{HeadLayout, Limits, from_layout, parse_request};
use crate::net::Transport;
use crate::net::io::{ReadErr, read_into};

/// Most header fields accepted in a request head: nginx's `max_headers` default (1000); the
/// byte limits bound the head long before it in practice.
const MAX_HEADERS: usize = crate::http::request::DEFAULT_MAX_HEADERS;

/// Reads the head into `b` (which may already hold its start). `head_by`: when the head must be
/// complete (a new connection's accept time plus the timeout), else now plus the timeout.
/// `layout`: `b` holds a whole head ringway wrote itself, laid out so (an HTTP/2 stream's),
/// checked without being parsed again.
pub async fn read<S: Transport>(
    ctx: &ShardCtx,
    stream: &mut S,
    mut b: Vec<u8>,
    lst: &ListenerRt,
    head_by: Option<Instant>,
    mut layout: Option<HeadLayout>,
    outcome: &Outcome,
) -> Result<(RequestHead, Vec<u8>), Error> {
    let d = &lst.defaults;
    let limits = Limits {
        max_request_line: d.max_request_line,
        // One `large_client_header_buffers` buffer holds the request line or one field line.
        max_field_line: d.max_request_line,
        max_head: d.max_header_size,
        max_headers: MAX_HEADERS,
    };
    let deadline = head_by.unwrap_or_else(|| Instant::now() + d.client_header_timeout);
    loop {
        if !b.is_empty() {
            let parsed = match layout.take() {
                Some(l) => from_layout(&b, &limits, l).map(Some),
                None => parse_request(&b, &limits),
            };
            match parsed {
                Ok(Some(h)) => return Ok((h, b)),
                Ok(None) => {}
                Err(e) => {
                    outcome.add_received(b.len() as u64);
                    let line = b
                        .iter()
                        .position(|&c| c != b'\r' && c != b'\n')
                        .unwrap_or(0);
                    outcome.head_method.set(b[line..].starts_with(b"HEAD "));
                    let first = crate::observe::log::request_line(&b);
                    *outcome.bad_request_line.borrow_mut() = Some(first.into());
                    ctx.bufs.put(b);
                    return Err(Error::Parse(e));
                }
            }
        }
        if b.capacity() - b.len() < 1024 {
            b.reserve(d.max_header_size.max(4096));
        }
        let had = !b.is_empty();
        // The buffer is gone if this read fails: a complete request line is kept for the
        // access log first (only heads arriving in pieces get here, once each).
        if had && outcome.bad_request_line.borrow().is_none() && b.contains(&b'\n') {
            let first = crate::observe::log::request_line(&b);
            *outcome.bad_request_line.borrow_mut() = Some(first.into());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let len = b.len() as u64;
        let (error, b) = match read_into(stream, b, left).await {
            Ok((0, nb)) => (Error::ClientGone, Some(nb)),
            Ok((_, nb)) => {
                b = nb;
                continue;
            }
            Err(ReadErr::Timeout) if had => (Error::HeadTimeout, None),
            Err(_) => (Error::ClientGone, None),
        };
        // What was read of an unfinished head counts as received (0: no request at all).
        outcome.add_received(len);
        if let Some(b) = b {
            if len > 0 && outcome.bad_request_line.borrow().is_none() {
                let first = crate::observe::log::request_line(&b);
                *outcome.bad_request_line.borrow_mut() = Some(first.into());
            }
            ctx.bufs.put(b);
        }
        return Err(error);
    }
}
