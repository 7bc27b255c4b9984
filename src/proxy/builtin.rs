//! Answers ringway makes from its own counters: `ringway_metrics` (Prometheus text),
//! `stub_status` (nginx's text) and `ringway_status` (the live page, and its JSON view with
//! `?json` or `Accept: application/json`). They run after the access phase like any content
//! handler, so allow/deny and auth_basic protect them.

use super::answer::{self, Text, answered_extent, leftover, render_add_headers};
use super::request::{Request, find_header, vars};
use super::session::Next;
use crate::config::Builtin;
use crate::http::Method;
use crate::net::Transport;
use crate::net::io::write_all;
use crate::observe::metrics::{encode, page, process, scrape, stub};

pub async fn answer<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    b: Vec<u8>,
    what: Builtin,
) -> Next {
    if !matches!(r.head.method, Method::Get | Method::Head) {
        return answer::text(r, stream, b, 405, Text::Rendered(b"")).await;
    }
    let mut body = String::new();
    let content_type = match what {
        Builtin::StatusPage if !wants_json(r, &b) => {
            body.push_str(page::HTML);
            "text/html; charset=utf-8"
        }
        _ => {
            let g = scrape::gather(r.ctx).await;
            let facts = process::facts();
            match what {
                Builtin::Metrics => {
                    encode::encode(&g, &facts, &mut body);
                    encode::CONTENT_TYPE
                }
                Builtin::StubStatus => {
                    stub::render(&g.total.conns, &mut body);
                    "text/plain"
                }
                Builtin::StatusPage => {
                    page::json(&g, &facts, &mut body);
                    "application/json"
                }
            }
        }
    };
    let (consumed, keep) = answered_extent(r, &b);
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nDate: ");
    out.extend_from_slice(&r.ctx.date.borrow()[..]);
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(content_type.as_bytes());
    out.extend_from_slice(b"\r\nContent-Length: ");
    crate::http::util::push_u64(&mut out, body.len() as u64);
    // Counters change every moment: no cache keeps a copy.
    out.extend_from_slice(b"\r\nCache-Control: no-store\r\n");
    {
        let header = |name: &[u8], o: &mut Vec<u8>| find_header(r.head, &b, name, o);
        let vars = vars(r, &b, b"", &header);
        render_add_headers(&r.loc.add_headers, 200, &vars, &mut out);
    }
    if !keep {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if r.head.method != Method::Head {
        out.extend_from_slice(body.as_bytes());
    }
    let n = out.len();
    r.outcome.status.set(200);
    match write_all(stream, out, r.loc.client_send_timeout).await {
        Ok(_) => r.outcome.add_sent(n),
        Err(_) => {
            r.ctx.bufs.put(b);
            return Next::Close;
        }
    }
    if !keep {
        r.ctx.bufs.put(b);
        return Next::Close;
    }
    Next::KeepAlive(leftover(r.ctx, b, consumed))
}

/// The status page's JSON view: `?json` in the query, or `Accept: application/json`.
fn wants_json(r: &Request<'_>, b: &[u8]) -> bool {
    let uri = r.request_uri(b);
    let query = uri
        .iter()
        .position(|&c| c == b'?')
        .map_or(&b""[..], |i| &uri[i + 1..]);
    if query
        .split(|&c| c == b'&')
        .any(|p| p == b"json" || p.starts_with(b"json="))
    {
        return true;
    }
    let mut accept = Vec::new();
    find_header(r.head, b, b"accept", &mut accept)
        && accept
            .windows(16)
            .any(|w| w.eq_ignore_ascii_case(b"application/json"))
}
