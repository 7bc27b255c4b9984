//! Answers ringway makes itself: error pages (the one place errors become answers), `return`
//! texts and redirects, and OPTIONS addressed to ringway. Each carries `Date` (RFC 9110 §6.6.1)
//! and is counted in the request's outcome.

use std::time::Duration;

use tracing::debug;

use super::context::ShardCtx;
use super::error::{Error, Party};
use super::outcome::Outcome;
use super::request::{Request, find_header, vars};
use super::session::Next;
use crate::http::request::RequestHead;
use crate::http::rewrite::HeadOut;
use crate::http::{BodyFraming, Method, status};
use crate::net::Transport;
use crate::net::io::write_all;
use crate::route::AddHeader;
use crate::template::{Template, Vars};

/// The body (or redirect target) of a `return`-like answer.
pub enum Text<'a> {
    Template(&'a Template),
    Rendered(&'a [u8]),
}

/// Answers `e` (when an answer can still be sent) and says what the connection does next.
/// `r` is the routed request, None when the request failed before routing; `limit` is the
/// client send timeout in force.
pub async fn failure<S: Transport>(
    ctx: &ShardCtx,
    stream: &mut S,
    r: Option<&Request<'_>>,
    b: Vec<u8>,
    e: Error,
    limit: Duration,
    outcome: &Outcome,
) -> Next {
    outcome.failed.set(Some(e.party()));
    // A client that went quiet or away is not read on after the close (nginx closes those at
    // once): lingering is for clients still sending.
    if matches!(
        e,
        Error::HeadTimeout | Error::BodyTimeout | Error::ClientGone
    ) {
        outcome.lingering.set(Some(crate::config::Lingering {
            close: crate::config::LingeringClose::Off,
            ..Default::default()
        }));
    }
    match e.party() {
        Party::Client => debug!(peer = ?r.map(|r| r.client.peer), "{e}"),
        // Logged where found, with the detail the error does not carry: the exchange names the
        // server, the route phase the URI of a rewrite cycle, access the auth URI.
        Party::Upstream | Party::Ringway => {}
    }
    let Some(code) = e.status() else {
        ctx.bufs.put(b);
        return Next::Close;
    };
    // A refusal leaves the connection usable when the request's body is already read: a
    // browser retries with credentials on it.
    let (consumed, keep) = match (r, &e) {
        (Some(r), Error::Refused { .. }) => answered_extent(r, &b),
        _ => (0, false),
    };
    let mut extra = match e {
        Error::Refused { extra, .. } => extra,
        _ => Vec::new(),
    };
    let head_only = r.map_or(outcome.head_method.get(), |r| r.head.method == Method::Head);
    if let Some(r) = r
        && r.loc.add_headers.iter().any(|h| h.always)
    {
        let header = |name: &[u8], out: &mut Vec<u8>| find_header(r.head, &b, name, out);
        let vars = vars(r, &b, b"", &header);
        render_add_headers(&r.loc.add_headers, code, &vars, &mut extra);
    }
    let mut out = Vec::with_capacity(256 + extra.len());
    status::write_error(&mut out, code, !keep, head_only);
    insert_fields(&mut out, &ctx.date.borrow()[..], &extra);
    if !send(stream, out, limit, outcome, code).await || !keep {
        ctx.bufs.put(b);
        return Next::Close;
    }
    Next::KeepAlive(leftover(ctx, b, consumed))
}

/// `return CODE TEXT|URL`, `rewrite` redirects and 404s ringway answers for a routed request.
pub async fn text<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    b: Vec<u8>,
    code: u16,
    text: Text<'_>,
) -> Next {
    let head = r.head;
    let (consumed, keep) = answered_extent(r, &b);
    let mut out = r.ctx.bufs.get();
    {
        let header = |name: &[u8], out: &mut Vec<u8>| find_header(head, &b, name, out);
        let vars = vars(r, &b, b"", &header);
        let mut rendered = Vec::new();
        let text = match text {
            Text::Template(t) => {
                t.render(&vars, &mut rendered);
                &rendered[..]
            }
            Text::Rendered(t) => t,
        };
        let date = r.ctx.date.borrow();
        write_return(
            &mut out,
            &Return {
                code,
                text,
                date: &date[..],
                add: &r.loc.add_headers,
                keep_alive: keep,
                head_only: head.method == Method::Head,
            },
            &vars,
        );
    }
    if !keep {
        stream.closes_after_next_write();
    }
    if !send(stream, out, r.loc.client_send_timeout, r.outcome, code).await || !keep {
        r.ctx.bufs.put(b);
        return Next::Close;
    }
    Next::KeepAlive(leftover(r.ctx, b, consumed))
}

/// OPTIONS with `Max-Forwards: 0` is answered here, as its final recipient (RFC 9110 §7.6.2),
/// with the methods ringway forwards.
pub async fn options_here<S: Transport>(r: &Request<'_>, stream: &mut S, b: Vec<u8>) -> Next {
    let (consumed, keep) = answered_extent(r, &b);
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nDate: ");
    out.extend_from_slice(&r.ctx.date.borrow()[..]);
    out.extend_from_slice(
        b"\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\nContent-Length: 0\r\n",
    );
    if !keep {
        out.extend_from_slice(b"Connection: close\r\n");
        stream.closes_after_next_write();
    }
    out.extend_from_slice(b"\r\n");
    if !send(stream, out, r.loc.client_send_timeout, r.outcome, 200).await || !keep {
        r.ctx.bufs.put(b);
        return Next::Close;
    }
    Next::KeepAlive(leftover(r.ctx, b, consumed))
}

pub(super) async fn send<S: Transport>(
    stream: &mut S,
    out: Vec<u8>,
    limit: Duration,
    outcome: &Outcome,
    code: u16,
) -> bool {
    let n = out.len();
    outcome.status.set(code);
    // The head ends at the blank line; the rest is the body.
    let head_len = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(n, |i| i + 4);
    match write_all(stream, out, limit).await {
        Ok(buf) => {
            outcome.add_sent(n);
            outcome.sent_head(&buf[..head_len.min(buf.len())]);
            true
        }
        Err(_) => false,
    }
}

/// Puts `Date` and the `extra` header lines before the blank line that ends `out`'s head.
fn insert_fields(out: &mut Vec<u8>, date: &[u8], extra: &[u8]) {
    let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
        return;
    };
    let mut fields = Vec::with_capacity(8 + date.len() + extra.len());
    fields.extend_from_slice(b"Date: ");
    fields.extend_from_slice(date);
    fields.extend_from_slice(b"\r\n");
    fields.extend_from_slice(extra);
    out.splice(end + 2..end + 2, fields);
}

/// For an answer ringway makes itself: how many buffered bytes the request takes (head and,
/// when already read, its body) and whether the connection can stay open after the answer (a
/// body still at the client is not read: the connection closes instead).
pub fn answered_extent(r: &Request<'_>, b: &[u8]) -> (usize, bool) {
    let (consumed, body_done) = request_extent(r.head, b);
    (consumed, r.keep_alive && body_done)
}

/// How many buffered bytes a request takes (its head and, when already read, its body), and
/// whether its body is all there (else it is still at the client).
pub fn request_extent(head: &RequestHead, b: &[u8]) -> (usize, bool) {
    let avail = b.len() - head.head_len;
    match head.body {
        BodyFraming::None => (head.head_len, true),
        BodyFraming::Length(n) if n <= avail as u64 => (head.head_len + n as usize, true),
        _ => (b.len(), false),
    }
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

/// Statuses nginx adds `add_header` fields to (all of them with `always`).
pub fn add_header_applies(status: u16, always: bool) -> bool {
    always
        || matches!(
            status,
            200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308
        )
}

/// Renders the location's `add_header` fields that apply to `status`.
pub fn render_add_headers(add: &[AddHeader], status: u16, vars: &Vars<'_>, out: &mut impl HeadOut) {
    for h in add {
        if add_header_applies(status, h.always) {
            out.field_with(&h.name, |v| {
                let at = v.len();
                h.value.render(vars, v);
                super::upstream_head::unfold(&mut v[at..]);
                true
            });
        }
    }
}

/// nginx's `absolute_redirect on`: a relative Location becomes
/// `http://$host[:port]/…` (the port when it is not 80).
fn absolute_location(location: &[u8], vars: &Vars<'_>, out: &mut Vec<u8>) {
    if location.first() == Some(&b'/') {
        out.extend_from_slice(vars.scheme);
        out.extend_from_slice(b"://");
        if vars.host.is_empty() {
            out.extend_from_slice(vars.server_name);
        } else {
            out.extend(vars.host.iter().map(u8::to_ascii_lowercase));
        }
        // The scheme's own port is left out (nginx's `port_in_redirect` rule).
        let default_port = if vars.tls.is_some() { 443 } else { 80 };
        if vars.server_port != default_port {
            out.push(b':');
            crate::http::util::push_u64(out, vars.server_port as u64);
        }
    }
    out.extend_from_slice(location);
}

/// A `return`-like answer.
pub struct Return<'a> {
    pub code: u16,
    /// The body, or the redirect target of a 301/302/303/307/308.
    pub text: &'a [u8],
    pub date: &'a [u8],
    pub add: &'a [AddHeader],
    pub keep_alive: bool,
    pub head_only: bool,
}

/// nginx's `return CODE TEXT` / `return CODE URL` (and `rewrite` redirects, with `text`
/// already rendered).
pub fn write_return(out: &mut Vec<u8>, a: &Return<'_>, vars: &Vars<'_>) {
    let code = a.code;
    let redirect = matches!(code, 301 | 302 | 303 | 307 | 308);
    out.extend_from_slice(b"HTTP/1.1 ");
    crate::http::util::push_u64(out, code as u64);
    out.push(b' ');
    out.extend_from_slice(status::reason(code).as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(a.date);
    out.extend_from_slice(b"\r\n");
    let mut body: Vec<u8> = Vec::new();
    if redirect && !a.text.is_empty() {
        out.extend_from_slice(b"Location: ");
        absolute_location(a.text, vars, out);
        out.extend_from_slice(b"\r\n");
    } else {
        body.extend_from_slice(a.text);
    }
    if body.is_empty() && (code >= 400 || redirect) {
        // nginx sends a small page for these; a plain line is enough.
        crate::http::util::push_u64(&mut body, code as u64);
        body.push(b' ');
        body.extend_from_slice(status::reason(code).as_bytes());
        body.push(b'\n');
    }
    let no_body = status::has_no_content(code);
    if !no_body {
        out.extend_from_slice(b"Content-Type: text/plain\r\nContent-Length: ");
        crate::http::util::push_u64(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    render_add_headers(a.add, code, vars, out);
    if !a.keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !a.head_only && !no_body {
        out.extend_from_slice(&body);
    }
}
