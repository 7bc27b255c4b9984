//! The request record every phase after routing reads: the parsed head and the buffer it points
//! into, the client, the routed server and location, and what earlier phases decided (the
//! rewritten URI, the `auth_request_set` variables); plus the variables templates read from it.

use super::client::Client;
use super::context::{Generation, ShardCtx};
use super::outcome::Outcome;
use crate::http::RequestHead;
use crate::route::{Location, ServerRt};
use crate::template::Vars;

pub struct Request<'a> {
    pub ctx: &'a ShardCtx,
    pub generation: &'a Generation,
    pub server: &'a ServerRt,
    pub loc: &'a Location,
    pub client: &'a Client,
    pub head: &'a RequestHead,
    /// Whether the client connection may stay open after this request.
    pub keep_alive: bool,
    /// The path and arguments locations were matched with, when normalizing (`..`, `//`,
    /// `%XX`) changed the target: `$uri`, and the base of a `proxy_pass` URI part.
    pub normalized: Option<&'a [u8]>,
    /// The URI (with arguments) after `rewrite`, when it changed.
    pub uri: Option<&'a [u8]>,
    /// `rewrite … break` produced `uri`: it is sent as it is, ignoring `proxy_pass`'s URI part.
    pub uri_final: bool,
    /// Values of the `auth_request_set` variables (set by the access phase).
    pub user: &'a [Vec<u8>],
    pub outcome: &'a Outcome,
}

impl Request<'_> {
    /// The target as the client sent it, in origin-form.
    pub fn request_uri<'b>(&self, b: &'b [u8]) -> &'b [u8] {
        origin_form(self.head.target.get(b))
    }

    /// `$uri` with its arguments: rewritten, else normalized, else as sent.
    pub fn current_uri<'b>(&'b self, b: &'b [u8]) -> &'b [u8] {
        self.uri
            .or(self.normalized)
            .unwrap_or_else(|| self.request_uri(b))
    }
}

/// The variables of `r` for its templates; `header` looks up request fields.
pub fn vars<'a>(
    r: &'a Request<'_>,
    b: &'a [u8],
    proxy_host: &'a [u8],
    header: &'a dyn Fn(&[u8], &mut Vec<u8>) -> bool,
) -> Vars<'a> {
    Vars {
        host: host_of(r.head, b),
        remote_addr: r.client.ip.as_bytes(),
        remote_ip: r.client.addr,
        realip_remote_addr: r.client.peer_ip.as_bytes(),
        remote_port: r.client.port,
        scheme: r.client.scheme(),
        request_uri: r.request_uri(b),
        method: r.head.method_span.get(b),
        server_name: &r.server.name,
        server_port: r.client.local.port(),
        header,
        proxy_host,
        uri: r.current_uri(b),
        captures: None,
        user: r.user,
        auth_response: None,
        tls: r.client.tls.as_deref(),
        cache_status: r.outcome.cache_status.get().unwrap_or("").as_bytes(),
    }
}

/// `$host`'s source: the Host field (or the absolute-form target's authority) without its port
/// and without a trailing dot; templates lower-case it, as nginx does.
pub fn host_of<'b>(head: &RequestHead, b: &'b [u8]) -> &'b [u8] {
    let host = crate::route::strip_port(head.host.map(|s| s.get(b)).unwrap_or(b""));
    host.strip_suffix(b".").unwrap_or(host)
}

/// All values of a field, joined with ", ". `name` is lower-case.
pub fn find_header(head: &RequestHead, b: &[u8], name: &[u8], out: &mut Vec<u8>) -> bool {
    crate::http::join_field(&head.headers, b, name, out)
}

/// The path-and-query of a target: absolute-form `http://host/p?q` becomes `/p?q`.
pub fn origin_form(target: &[u8]) -> &[u8] {
    if target.first() == Some(&b'/') {
        return target;
    }
    if let Some(i) = target.windows(3).position(|w| w == b"://") {
        let rest = &target[i + 3..];
        return match rest.iter().position(|&c| c == b'/' || c == b'?') {
            // `http://host?q` has an empty path: the caller sends `/?q` (RFC 9112 §3.2.1).
            Some(j) => &rest[j..],
            None => b"/",
        };
    }
    target
}

/// The request's Max-Forwards value (RFC 9110 §7.6.2), when present and a valid number.
pub fn max_forwards(head: &RequestHead, b: &[u8]) -> Option<u64> {
    let h = head
        .headers
        .iter()
        .find(|h| h.name.get(b).eq_ignore_ascii_case(b"max-forwards"))?;
    let v = h.value.get(b);
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Limits, parse_request};

    fn head(raw: &[u8]) -> RequestHead {
        let limits = Limits {
            max_request_line: 8192,
            max_field_line: 8192,
            max_head: 16384,
            max_headers: 100,
        };
        parse_request(raw, &limits).unwrap().unwrap()
    }

    #[test]
    fn host_drops_port_and_trailing_dot() {
        for (raw, want) in [
            (
                &b"GET / HTTP/1.1\r\nHost: Example.COM.:8080\r\n\r\n"[..],
                &b"Example.COM"[..],
            ),
            (b"GET / HTTP/1.1\r\nHost: a.example.\r\n\r\n", b"a.example"),
            (b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", b"[::1]"),
            (b"GET / HTTP/1.0\r\n\r\n", b""),
        ] {
            assert_eq!(
                host_of(&head(raw), raw),
                want,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
