//! Answers ringway writes itself: error pages and `return` responses.

use std::time::Duration;

use monoio::net::TcpStream;

use crate::net::io::write_all;
use crate::http::status;
use crate::route::{AddHeader, Vars};

/// Sends an error page; the caller closes afterwards when `close` is set. `extra` holds
/// complete header lines (`add_header … always`) to add.
pub async fn error(
    s: &mut TcpStream,
    code: u16,
    close: bool,
    head_only: bool,
    extra: &[u8],
    limit: Duration,
) -> bool {
    let mut out = Vec::with_capacity(192 + extra.len());
    status::write_error(&mut out, code, close, head_only);
    if !extra.is_empty()
        && let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n")
    {
        out.splice(end + 2..end + 2, extra.iter().copied());
    }
    write_all(s, out, limit).await.is_ok()
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
pub fn render_add_headers(add: &[AddHeader], status: u16, vars: &Vars<'_>, out: &mut Vec<u8>) {
    for h in add {
        if add_header_applies(status, h.always) {
            out.extend_from_slice(&h.name);
            out.extend_from_slice(b": ");
            h.value.render(vars, out);
            out.extend_from_slice(b"\r\n");
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
        if vars.server_port != 80 {
            out.push(b':');
            crate::http::util::push_u64(out, vars.server_port as u64);
        }
    }
    out.extend_from_slice(location);
}

/// nginx's `return CODE TEXT` / `return CODE URL` (and `rewrite` redirects, with `text`
/// already rendered).
pub fn write_return(
    out: &mut Vec<u8>,
    code: u16,
    text: &[u8],
    vars: &Vars<'_>,
    add: &[AddHeader],
    keep_alive: bool,
    head_only: bool,
) {
    let redirect = matches!(code, 301 | 302 | 303 | 307 | 308);
    out.extend_from_slice(b"HTTP/1.1 ");
    crate::http::util::push_u64(out, code as u64);
    out.push(b' ');
    out.extend_from_slice(status::reason(code).as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut body: Vec<u8> = Vec::new();
    if redirect && !text.is_empty() {
        out.extend_from_slice(b"Location: ");
        absolute_location(text, vars, out);
        out.extend_from_slice(b"\r\n");
    } else {
        body.extend_from_slice(text);
    }
    if body.is_empty() && (code >= 400 || redirect) {
        // nginx sends a small page for these; a plain line is enough.
        crate::http::util::push_u64(&mut body, code as u64);
        body.push(b' ');
        body.extend_from_slice(status::reason(code).as_bytes());
        body.push(b'\n');
    }
    let no_body = code < 200 || code == 204 || code == 304;
    if !no_body {
        out.extend_from_slice(b"Content-Type: text/plain\r\nContent-Length: ");
        crate::http::util::push_u64(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    render_add_headers(add, code, vars, out);
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only && !no_body {
        out.extend_from_slice(&body);
    }
}
