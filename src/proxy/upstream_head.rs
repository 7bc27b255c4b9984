//! The request head sent upstream: the target nginx would send, hop-by-hop fields out, the
//! location's `proxy_set_header` fields rendered from their compiled templates, final CRLF.

use super::request::{Request, find_header, max_forwards, vars};
use crate::http::Method;
use crate::http::rewrite::{RequestRewrite, write_request_head};
use crate::route::UriRewrite;

/// `Via` value when `proxy_via` (ringway's) is on.
pub const VIA: &[u8] = b"1.1 ringway";

/// The request-target for the upstream, as nginx chooses it:
/// - `proxy_pass` without a URI part and the URI not rewritten: the client's target as sent
///   (so `%2F` stays `%2F`: the application sees what the client asked for);
/// - a URI part: the matched location prefix of the normalized (or rewritten) URI replaced by
///   it;
/// - a rewritten URI (without a URI part, or after `rewrite … break`): that URI.
pub fn target<'a>(
    r: &'a Request<'_>,
    b: &'a [u8],
    uri: Option<&UriRewrite>,
    out: &'a mut Vec<u8>,
) -> &'a [u8] {
    let uri = if r.uri_final { None } else { uri };
    let base: &[u8] = match uri {
        Some(_) => r.uri.or(r.normalized).unwrap_or_else(|| r.request_uri(b)),
        None => r.uri.unwrap_or_else(|| r.request_uri(b)),
    };
    match uri {
        Some(u) if base.len() >= u.strip => {
            out.extend_from_slice(&u.replacement);
            out.extend_from_slice(&base[u.strip..]);
            out
        }
        // `http://host?q` (RFC 9112 §3.2.1) and a rewrite to `?args`: the path is `/`.
        _ if base.first() == Some(&b'?') => {
            out.push(b'/');
            out.extend_from_slice(base);
            out
        }
        _ => base,
    }
}

/// What a cache fetch changes in the upstream request.
#[derive(Default, Clone, Copy)]
pub struct CacheFetch<'a> {
    /// Field lines to add (the validators of a stale entry).
    pub extra: &'a [u8],
    /// A HEAD goes as GET (`proxy_cache_convert_head`).
    pub as_get: bool,
}

/// Appends the upstream request head to `out`.
pub fn build(
    r: &Request<'_>,
    b: &[u8],
    uri: Option<&UriRewrite>,
    proxy_host: &[u8],
    cache: CacheFetch<'_>,
    out: &mut Vec<u8>,
) {
    let head = r.head;
    let mut target_buf = Vec::new();
    let target = target(r, b, uri, &mut target_buf);
    // RFC 9110 §7.6.2: OPTIONS and TRACE carry a hop count that each proxy decrements.
    let max_forwards = match head.method {
        Method::Options | Method::Trace => max_forwards(head, b),
        _ => None,
    };
    write_request_head(
        out,
        head,
        b,
        &RequestRewrite {
            method: cache.as_get.then_some(&b"GET"[..]),
            target,
            http11: r.loc.http11,
            keep_alive: !head.upgrade,
            upgrade: head.upgrade,
            body: head.body,
            replace: &r.loc.replace,
            drop_max_forwards: max_forwards.is_some(),
            via: r.loc.via.then_some(VIA),
        },
    );
    if let Some(n) = max_forwards {
        out.extend_from_slice(b"Max-Forwards: ");
        crate::http::util::push_u64(out, n.saturating_sub(1));
        out.extend_from_slice(b"\r\n");
    }
    if (head.host.is_none() || head.host_in_target()) && !r.loc.replace.contains(b"host") {
        // An HTTP/1.0 client may omit Host; the upstream request is HTTP/1.1, which requires
        // one: send `$proxy_host`, as nginx does. An absolute-form target's authority replaces
        // the client's Host field (RFC 9112 §3.2.2; the rewriter dropped that field), so the
        // upstream sees the host ringway routed by.
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(head.host.map_or(proxy_host, |h| h.get(b)));
        out.extend_from_slice(b"\r\n");
    }
    let header = |name: &[u8], out: &mut Vec<u8>| find_header(head, b, name, out);
    let vars = vars(r, b, proxy_host, &header);
    for h in &r.loc.set_headers {
        let mark = out.len();
        out.extend_from_slice(&h.name);
        out.extend_from_slice(b": ");
        let value_at = out.len();
        h.value.render(&vars, out);
        // A value with line breaks (`$ssl_client_cert`, `$ssl_client_raw_cert`) would split the
        // field: each becomes a space, as RFC 9112 §5.2 has recipients treat a fold.
        unfold(&mut out[value_at..]);
        if out.len() == value_at {
            // nginx: a field whose value renders empty is not sent.
            out.truncate(mark);
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(cache.extra);
    // RFC 8470 §5.1: a request that came in TLS early data goes on with `Early-Data: 1`
    // (unless the client's own field already says so, or proxy_set_header decides).
    if r.client.tls.as_ref().is_some_and(|t| t.early_data.get())
        && !r.loc.replace.contains(b"early-data")
        && !find_header(head, b, b"early-data", &mut Vec::new())
    {
        out.extend_from_slice(b"Early-Data: 1\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Replaces CR and LF in a rendered field value with spaces.
pub fn unfold(value: &mut [u8]) {
    for c in value {
        if *c == b'\r' || *c == b'\n' {
            *c = b' ';
        }
    }
}
