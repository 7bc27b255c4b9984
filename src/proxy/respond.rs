//! Answers ringway writes itself: error pages and `return` responses.

use std::time::Duration;

use monoio::net::TcpStream;

use super::io::write_all;
use crate::http::status;
use crate::route::{Template, Vars};

/// Sends an error page; the caller closes afterwards when `close` is set.
pub async fn error(
    s: &mut TcpStream,
    code: u16,
    close: bool,
    head_only: bool,
    limit: Duration,
) -> bool {
    let mut out = Vec::with_capacity(192);
    status::write_error(&mut out, code, close, head_only);
    write_all(s, out, limit).await.is_ok()
}

/// nginx's `return CODE TEXT` / `return CODE URL`.
pub fn write_return(
    out: &mut Vec<u8>,
    code: u16,
    text: &Template,
    vars: &Vars<'_>,
    keep_alive: bool,
    head_only: bool,
) {
    let mut body = Vec::new();
    text.render(vars, &mut body);
    let redirect = matches!(code, 301 | 302 | 303 | 307 | 308);
    out.extend_from_slice(b"HTTP/1.1 ");
    crate::route::template::push_num(out, code as u64);
    out.push(b' ');
    out.extend_from_slice(status::reason(code).as_bytes());
    out.extend_from_slice(b"\r\n");
    if redirect && !body.is_empty() {
        out.extend_from_slice(b"Location: ");
        out.extend_from_slice(&body);
        out.extend_from_slice(b"\r\n");
        // nginx sends a small HTML page with redirects; a plain line is enough.
        body.clear();
        body.extend_from_slice(code.to_string().as_bytes());
        body.push(b' ');
        body.extend_from_slice(status::reason(code).as_bytes());
        body.push(b'\n');
    } else if body.is_empty() && code >= 400 {
        body.extend_from_slice(code.to_string().as_bytes());
        body.push(b' ');
        body.extend_from_slice(status::reason(code).as_bytes());
        body.push(b'\n');
    }
    let no_body = code < 200 || code == 204 || code == 304;
    if !no_body {
        out.extend_from_slice(b"Content-Type: text/plain\r\nContent-Length: ");
        crate::route::template::push_num(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only && !no_body {
        out.extend_from_slice(&body);
    }
}

/// A redirect from `rewrite … redirect|permanent` (or an external replacement).
pub fn write_redirect(out: &mut Vec<u8>, code: u16, location: &[u8], head_only: bool) {
    let body = format!("{code} {}\n", status::reason(code));
    out.extend_from_slice(b"HTTP/1.1 ");
    crate::route::template::push_num(out, code as u64);
    out.push(b' ');
    out.extend_from_slice(status::reason(code).as_bytes());
    out.extend_from_slice(b"\r\nLocation: ");
    out.extend_from_slice(location);
    out.extend_from_slice(b"\r\nContent-Type: text/plain\r\nContent-Length: ");
    crate::route::template::push_num(out, body.len() as u64);
    out.extend_from_slice(b"\r\n\r\n");
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
}
