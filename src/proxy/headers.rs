//! Header work for a proxied request: the request head sent upstream (`build_head`), the
//! `add_header` fields on the client's response, and the variables their templates read.

use crate::http::rewrite::{RequestRewrite, write_request_head};
use crate::http::{Method, RequestHead};
use crate::route::{UriRewrite, Vars};

use super::forward::{NAMES_ON_STACK, Request, VIA};

/// The request head for the upstream: rewritten target, hop-by-hop fields out, the location's
/// `proxy_set_header` fields (rendered from their compiled templates), final CRLF.
pub(crate) fn build_head(
    r: &Request<'_>,
    b: &[u8],
    uri: Option<&UriRewrite>,
    proxy_host: &[u8],
    out: &mut Vec<u8>,
) {
    let head = r.head;
    let origin = r.uri.unwrap_or_else(|| origin_form(head.target.get(b)));
    let uri = if r.uri_final { None } else { uri };
    let mut rewritten: Vec<u8>;
    let target: &[u8] = match uri {
        Some(u) if origin.len() >= u.strip => {
            rewritten = Vec::with_capacity(origin.len() + u.replacement.len());
            rewritten.extend_from_slice(&u.replacement);
            rewritten.extend_from_slice(&origin[u.strip..]);
            &rewritten
        }
        _ if origin.first() == Some(&b'?') => {
            rewritten = Vec::with_capacity(origin.len() + 1);
            rewritten.push(b'/');
            rewritten.extend_from_slice(origin);
            &rewritten
        }
        _ => origin,
    };
    // RFC 9110 §7.6.2: OPTIONS and TRACE carry a hop count that each proxy decrements.
    let max_forwards = match head.method {
        Method::Options | Method::Trace => max_forwards(head, b),
        _ => None,
    };
    let mut names: [&[u8]; NAMES_ON_STACK + 1] = [&[]; NAMES_ON_STACK + 1];
    let replace_vec: Vec<&[u8]>;
    let replace: &[&[u8]] = if r.loc.replace.len() <= NAMES_ON_STACK {
        for (i, n) in r.loc.replace.iter().enumerate() {
            names[i] = n;
        }
        let mut len = r.loc.replace.len();
        if max_forwards.is_some() {
            names[len] = b"max-forwards";
            len += 1;
        }
        &names[..len]
    } else {
        replace_vec = r
            .loc
            .replace
            .iter()
            .map(|n| &n[..])
            .chain(max_forwards.map(|_| &b"max-forwards"[..]))
            .collect();
        &replace_vec
    };
    let body = head.body;
    write_request_head(
        out,
        head,
        b,
        &RequestRewrite {
            target,
            http11: r.loc.http11,
            keep_alive: !head.upgrade,
            upgrade: head.upgrade,
            body,
            replace,
            via: r.loc.via.then_some(VIA),
        },
    );
    if let Some(n) = max_forwards {
        out.extend_from_slice(b"Max-Forwards: ");
        crate::http::util::push_u64(out, n.saturating_sub(1));
        out.extend_from_slice(b"\r\n");
    }
    if (head.host.is_none() || head.host_in_target())
        && !r.loc.replace.iter().any(|n| &n[..] == b"host")
    {
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
        if out.len() == value_at {
            // nginx: a field whose value renders empty is not sent.
            out.truncate(mark);
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
}

pub(super) fn add_headers(
    r: &Request<'_>,
    b: &[u8],
    proxy_host: &[u8],
    status: u16,
    out: &mut Vec<u8>,
) {
    if r.loc.add_headers.is_empty() {
        return;
    }
    // nginx adds them only to these statuses unless `always`.
    let ok = matches!(
        status,
        200 | 201 | 204 | 206 | 301 | 302 | 303 | 304 | 307 | 308
    );
    let header = |name: &[u8], out: &mut Vec<u8>| find_header(r.head, b, name, out);
    let vars = vars(r, b, proxy_host, &header);
    for h in &r.loc.add_headers {
        if ok || h.always {
            out.extend_from_slice(&h.name);
            out.extend_from_slice(b": ");
            h.value.render(&vars, out);
            out.extend_from_slice(b"\r\n");
        }
    }
}

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
        scheme: b"http",
        request_uri: origin_form(r.head.target.get(b)),
        method: r.head.method_span.get(b),
        server_name: r.server_name,
        server_port: r.client.local.port(),
        header,
        proxy_host,
        uri: r.uri.unwrap_or_else(|| origin_form(r.head.target.get(b))),
        captures: None,
        user: r.user,
        auth_response: None,
    }
}

/// `$host`: the Host field without its port, lower-cased by nginx; ringway passes it as sent
/// minus the port.
pub fn host_of<'b>(head: &RequestHead, b: &'b [u8]) -> &'b [u8] {
    crate::route::strip_port(head.host.map(|s| s.get(b)).unwrap_or(b""))
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
