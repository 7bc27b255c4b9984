//! Head writing for both directions: hop-by-hop fields out (RFC 9110 §7.6.1), framing re-stated,
//! Via added (§7.6.3). The caller appends its configured fields and then the final CRLF.

use super::util::{eq_nocase, list_items, push_u64, u64_digits};
use super::{BodyFraming, HeaderSpan, RequestHead, ResponseFraming, ResponseHead, status};

/// Client fields whose names contain `_` are not forwarded (nginx's `underscores_in_headers off`
/// default): `Content_Length` or `Transfer_Encoding` must not reach a server that folds `_` into
/// `-`.
pub const DROP_UNDERSCORE_FIELDS: bool = true;

pub struct RequestRewrite<'a> {
    /// The method to send in place of the client's (a cache fetch sends a HEAD as GET).
    pub method: Option<&'a [u8]>,
    /// The request-target to send (already rewritten by the location's `proxy_pass` URI rule).
    pub target: &'a [u8],
    /// `proxy_http_version 1.1` (else 1.0).
    pub http11: bool,
    /// Ask the upstream to keep the connection (pooling); false → `Connection: close`.
    pub keep_alive: bool,
    /// Forward `Upgrade` and `Connection: upgrade` (WebSocket and friends).
    pub upgrade: bool,
    /// How the body will be sent: Length → Content-Length, Chunked → Transfer-Encoding: chunked.
    pub body: BodyFraming,
    /// Lower-case names the caller will set itself (configured `proxy_set_header`): the client's
    /// fields of these names are not copied.
    pub replace: &'a NameSet,
    /// Drop the client's `Max-Forwards` (the caller writes it, decremented).
    pub drop_max_forwards: bool,
    /// Value for a Via entry such as `1.1 ringway`; None turns Via off.
    pub via: Option<&'a [u8]>,
}

/// Writes request line and filtered client fields and framing fields (no final CRLF).
pub fn write_request_head(
    out: &mut Vec<u8>,
    head: &RequestHead,
    buf: &[u8],
    opts: &RequestRewrite<'_>,
) {
    out.extend_from_slice(opts.method.unwrap_or_else(|| head.method_span.get(buf)));
    out.push(b' ');
    out.extend_from_slice(opts.target);
    out.extend_from_slice(if opts.http11 {
        b" HTTP/1.1\r\n"
    } else {
        b" HTTP/1.0\r\n"
    });
    let check_options = head.connection_options;
    // An absolute-form target's authority replaces the Host field (the caller writes it).
    let drop_host = head.host_in_target();
    for h in &head.headers {
        let name = h.name.get(buf);
        if is_hop_by_hop(name, opts.upgrade)
            || opts.replace.contains(name)
            || (opts.drop_max_forwards && eq_nocase(name, b"max-forwards"))
            || (drop_host && eq_nocase(name, b"host"))
            || (DROP_UNDERSCORE_FIELDS && name.contains(&b'_'))
            || (check_options && connection_option(&head.headers, buf, name, opts.upgrade))
        {
            continue;
        }
        write_field(out, name, h.value.get(buf));
    }
    match opts.body {
        BodyFraming::Length(n) => write_content_length(out, n),
        BodyFraming::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        BodyFraming::None => {}
    }
    if opts.upgrade {
        out.extend_from_slice(b"Connection: upgrade\r\n");
    } else if !opts.keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if !opts.http11 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    write_via(out, opts.via);
}

pub struct ResponseRewrite<'a> {
    /// The client connection stays open after this response.
    pub keep_alive: bool,
    /// The client spoke HTTP/1.0 (keep-alive must then be stated explicitly).
    pub client_http10: bool,
    /// How ringway will frame the body for the client (may differ from upstream's: Close →
    /// Chunked for a kept-alive HTTP/1.1 client).
    pub framing: ResponseFraming,
    /// Lower-case names to drop (`proxy_hide_header`).
    pub hide: &'a NameSet,
    pub via: Option<&'a [u8]>,
    /// A 101 to an upgrade request: keep `Upgrade` and send `Connection: upgrade`.
    pub upgrade: bool,
    /// `proxy_redirect`: rewrites a redirect target (the `Location` value, the URL of a
    /// `Refresh`), writing the new one to `out` and returning true, or returning false to keep
    /// it as it came.
    pub redirect: Option<&'a RedirectFn<'a>>,
    /// A content coding applied on the way (compression) and `Vary: Accept-Encoding`.
    pub coding: HeadCoding,
}

/// What compression changes in a response head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadCoding {
    /// The body is re-coded with this `Content-Encoding` token: a strong ETag becomes weak
    /// (the bytes differ) and `Accept-Ranges` goes (ranges of the coded body are not offered).
    pub content_encoding: Option<&'static [u8]>,
    /// Add `Vary: Accept-Encoding` (unless the upstream's Vary already lists it, or `*`).
    pub vary: bool,
}

/// `ResponseRewrite::redirect`'s rewriter: (value, out) → rewritten.
pub type RedirectFn<'a> = dyn Fn(&[u8], &mut Vec<u8>) -> bool + 'a;

/// Where a response head goes, field by field: HTTP/1.1 text (`Vec<u8>`: the status line,
/// then `Name: value` lines), or HTTP/2's fields (`http::h2_head::Encoder`, which leaves out
/// the connection's fields HTTP/2 does not carry).
pub trait HeadOut {
    fn status_line(&mut self, code: u16, reason: &[u8]);
    fn field(&mut self, name: &[u8], value: &[u8]);
    /// A field whose value `value` appends to the buffer it is given; false from `value`: no
    /// field after all (nothing is written).
    fn field_with(&mut self, name: &[u8], value: impl FnOnce(&mut Vec<u8>) -> bool) -> bool;
}

impl HeadOut for Vec<u8> {
    fn status_line(&mut self, code: u16, reason: &[u8]) {
        self.extend_from_slice(b"HTTP/1.1 ");
        push_u64(self, u64::from(code));
        self.push(b' ');
        self.extend_from_slice(reason);
        self.extend_from_slice(b"\r\n");
    }

    #[inline]
    fn field(&mut self, name: &[u8], value: &[u8]) {
        write_field(self, name, value);
    }

    fn field_with(&mut self, name: &[u8], value: impl FnOnce(&mut Vec<u8>) -> bool) -> bool {
        let mark = self.len();
        self.extend_from_slice(name);
        self.extend_from_slice(b": ");
        if !value(self) {
            self.truncate(mark);
            return false;
        }
        self.extend_from_slice(b"\r\n");
        true
    }
}

/// Writes status line (`HTTP/1.1` in text), filtered upstream fields, framing and Connection
/// fields (no final CRLF).
pub fn write_response_head(
    out: &mut impl HeadOut,
    head: &ResponseHead,
    buf: &[u8],
    opts: &ResponseRewrite<'_>,
) {
    let reason = head.reason.get(buf);
    let reason = if reason.is_empty() {
        status::reason(head.status).as_bytes()
    } else {
        reason
    };
    out.status_line(head.status, reason);
    // A HEAD or 304 response keeps the Content-Length of the representation (RFC 9110 §8.6);
    // 1xx and 204 must not carry one.
    let keep_length =
        opts.framing == ResponseFraming::None && head.status >= 200 && head.status != 204;
    let check_options = head.connection_options;
    // Repeated Content-Length fields (the parser checked they agree) go out once.
    let mut length_sent = false;
    for h in &head.headers {
        let name = h.name.get(buf);
        let is_length = eq_nocase(name, b"content-length");
        if (is_length && (!keep_length || length_sent))
            || (!is_length && is_hop_by_hop(name, opts.upgrade))
            || opts.hide.contains(name)
            || (check_options && connection_option(&head.headers, buf, name, opts.upgrade))
        {
            continue;
        }
        length_sent |= is_length;
        let value = h.value.get(buf);
        if opts.coding != HeadCoding::default() && write_coded(out, name, value, &opts.coding) {
            continue;
        }
        // `location` and `refresh`: their lengths rule out every other field at once.
        if let Some(redirect) = opts.redirect
            && matches!(name.len(), 7 | 8)
            && write_redirect(out, name, value, redirect)
        {
            continue;
        }
        out.field(name, value);
    }
    if let Some(token) = opts.coding.content_encoding {
        out.field(b"Content-Encoding", token);
    }
    if opts.coding.vary && !varies_on_encoding(head, buf) {
        out.field(b"Vary", b"Accept-Encoding");
    }
    match opts.framing {
        ResponseFraming::Length(n) => write_content_length(out, n),
        ResponseFraming::Chunked => out.field(b"Transfer-Encoding", b"chunked"),
        ResponseFraming::None | ResponseFraming::Close => {}
    }
    if opts.upgrade {
        out.field(b"Connection", b"upgrade");
    } else if !opts.keep_alive {
        out.field(b"Connection", b"close");
    } else if opts.client_http10 {
        out.field(b"Connection", b"keep-alive");
    }
    if let Some(v) = opts.via {
        out.field(b"Via", v);
    }
}

/// A field compression changes: `ETag` weakened, `Accept-Ranges` dropped. True when the field
/// was handled here (written or dropped).
#[inline(never)]
fn write_coded(out: &mut impl HeadOut, name: &[u8], value: &[u8], c: &HeadCoding) -> bool {
    if c.content_encoding.is_none() {
        return false;
    }
    if eq_nocase(name, b"accept-ranges") {
        return true;
    }
    if eq_nocase(name, b"etag") && !value.starts_with(b"W/") {
        return out.field_with(name, |v| {
            v.extend_from_slice(b"W/");
            v.extend_from_slice(value);
            true
        });
    }
    false
}

/// The upstream's Vary already covers Accept-Encoding (or is `*`).
fn varies_on_encoding(head: &ResponseHead, buf: &[u8]) -> bool {
    head.headers.iter().any(|h| {
        eq_nocase(h.name.get(buf), b"vary")
            && list_items(h.value.get(buf)).any(|t| t == b"*" || eq_nocase(t, b"accept-encoding"))
    })
}

/// Hop-by-hop fields (RFC 9110 §7.6.1) plus the framing fields, which ringway re-states.
/// `Upgrade` survives when `upgrade` (the caller forwards an upgrade).
#[inline]
fn is_hop_by_hop(name: &[u8], upgrade: bool) -> bool {
    match name.len() {
        2 => eq_nocase(name, b"te"),
        7 => eq_nocase(name, b"trailer") || (!upgrade && eq_nocase(name, b"upgrade")),
        10 => eq_nocase(name, b"connection") || eq_nocase(name, b"keep-alive"),
        14 => eq_nocase(name, b"content-length"),
        16 => eq_nocase(name, b"proxy-connection"),
        17 => eq_nocase(name, b"transfer-encoding"),
        _ => false,
    }
}

/// Lower-case field names (`proxy_set_header`'s, `proxy_hide_header`'s) with a mask of their
/// lengths: a field of a length no name has (most of them) is ruled out by one test, before
/// any name is compared.
#[derive(Debug, Clone, Default)]
pub struct NameSet {
    names: Vec<Box<[u8]>>,
    lengths: u64,
}

/// The empty set.
pub static NO_NAMES: NameSet = NameSet {
    names: Vec::new(),
    lengths: 0,
};

impl NameSet {
    /// The set of `names`, lowered.
    pub fn new<N: AsRef<[u8]>>(names: impl IntoIterator<Item = N>) -> NameSet {
        let mut set = NameSet::default();
        for n in names {
            let lower = n.as_ref().to_ascii_lowercase();
            set.lengths |= length_bit(lower.len());
            set.names.push(lower.into());
        }
        set
    }

    /// `name` is in the set, whatever the case of its letters.
    #[inline]
    pub fn contains(&self, name: &[u8]) -> bool {
        self.lengths & length_bit(name.len()) != 0 && self.names.iter().any(|n| eq_nocase(n, name))
    }
}

/// A name length's bit in `NameSet::lengths` (63 and longer share the last).
#[inline]
fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

/// `name` is listed as a connection option in one of the message's Connection fields, and so is
/// hop-by-hop (RFC 9110 §7.6.1). With `upgrade`, the `upgrade` option does not remove Upgrade.
/// `Connection: host` never removes Host: an HTTP/1.1 request without one is invalid upstream.
#[inline]
fn connection_option(headers: &[HeaderSpan], buf: &[u8], name: &[u8], upgrade: bool) -> bool {
    if (upgrade && eq_nocase(name, b"upgrade")) || eq_nocase(name, b"host") {
        return false;
    }
    headers.iter().any(|h| {
        eq_nocase(h.name.get(buf), b"connection")
            && list_items(h.value.get(buf)).any(|t| eq_nocase(t, name))
    })
}

/// A `Location` field, or the URL of a `Refresh` field (`5; url=/next`), passed through
/// `redirect`; true when it rewrote the field (and wrote it).
#[inline(never)]
fn write_redirect(
    out: &mut impl HeadOut,
    name: &[u8],
    value: &[u8],
    redirect: &dyn Fn(&[u8], &mut Vec<u8>) -> bool,
) -> bool {
    let prefix = if eq_nocase(name, b"location") {
        0
    } else if eq_nocase(name, b"refresh") {
        match value.windows(4).position(|w| eq_nocase(w, b"url=")) {
            Some(i) => i + 4,
            None => return false,
        }
    } else {
        return false;
    };
    out.field_with(name, |v| {
        v.extend_from_slice(&value[..prefix]);
        redirect(&value[prefix..], v)
    })
}

#[inline]
fn write_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[inline]
fn write_content_length(out: &mut impl HeadOut, n: u64) {
    let mut digits = [0u8; 20];
    out.field(b"Content-Length", u64_digits(n, &mut digits));
}

/// RFC 9110 §7.6.3: received Via fields were copied as they came; ours goes last.
#[inline]
fn write_via(out: &mut Vec<u8>, via: Option<&[u8]>) {
    if let Some(v) = via {
        write_field(out, b"Via", v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Limits, Method, parse_request};
    use crate::http::response::parse_response;

    const LIMITS: Limits = Limits {
        max_request_line: 8192,
        max_field_line: 8192,
        max_head: 16384,
        max_headers: 100,
    };

    fn opts<'a>(target: &'a [u8]) -> RequestRewrite<'a> {
        RequestRewrite {
            method: None,
            target,
            http11: true,
            keep_alive: true,
            upgrade: false,
            body: BodyFraming::None,
            replace: &NO_NAMES,
            drop_max_forwards: false,
            via: None,
        }
    }

    fn req(raw: &[u8], o: &RequestRewrite<'_>) -> String {
        let head = parse_request(raw, &LIMITS).unwrap().unwrap();
        let mut out = Vec::new();
        write_request_head(&mut out, &head, raw, o);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn request_basic() {
        let raw = b"GET /a?b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nVia: 1.0 fred\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n";
        let replace = NameSet::new(["host", "x-forwarded-for"]);
        let o = RequestRewrite {
            method: None,
            replace: &replace,
            via: Some(b"1.1 ringway"),
            ..opts(b"/up/a?b")
        };
        assert_eq!(
            req(raw, &o),
            "GET /up/a?b HTTP/1.1\r\nUser-Agent: t\r\nAccept: */*\r\nVia: 1.0 fred\r\nVia: 1.1 ringway\r\n"
        );
        // Without replacements or Via, every end-to-end field goes through unchanged.
        assert_eq!(
            req(raw, &opts(b"/a?b")),
            "GET /a?b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\nVia: 1.0 fred\r\nX-Forwarded-For: 1.2.3.4\r\n"
        );
    }

    #[test]
    fn request_connection_options_removed() {
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Foo\r\nX-Foo: secret\r\nX-Bar: kept\r\nconnection: x-baz\r\nX-BAZ: gone\r\n\r\n";
        let o = RequestRewrite {
            method: None,
            keep_alive: false,
            ..opts(b"/")
        };
        assert_eq!(
            req(raw, &o),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Bar: kept\r\nConnection: close\r\n"
        );
    }

    #[test]
    fn request_hop_by_hop_removed() {
        let raw = b"POST /p HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\nProxy-Connection: keep-alive\r\nKeep-Alive: 300\r\nUpgrade: websocket\r\nX-Real: 1\r\n\r\n";
        let o = RequestRewrite {
            method: None,
            body: BodyFraming::Chunked,
            ..opts(b"/p")
        };
        assert_eq!(
            req(raw, &o),
            "POST /p HTTP/1.1\r\nHost: a\r\nX-Real: 1\r\nTransfer-Encoding: chunked\r\n"
        );
        // A buffered chunked body is re-framed with a length.
        let o = RequestRewrite {
            method: None,
            body: BodyFraming::Length(11),
            ..opts(b"/p")
        };
        assert_eq!(
            req(raw, &o),
            "POST /p HTTP/1.1\r\nHost: a\r\nX-Real: 1\r\nContent-Length: 11\r\n"
        );
    }

    #[test]
    fn request_framing_restated() {
        let raw = b"POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 5, 5\r\nContent-Type: text/plain\r\n\r\nhello";
        let o = RequestRewrite {
            method: None,
            body: BodyFraming::Length(5),
            ..opts(b"/")
        };
        assert_eq!(
            req(raw, &o),
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
        );
        let raw = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
        let o = RequestRewrite {
            method: None,
            body: BodyFraming::Length(0),
            ..opts(b"/")
        };
        assert_eq!(
            req(raw, &o),
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
        );
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(req(raw, &opts(b"/")), "GET / HTTP/1.1\r\nHost: a\r\n");
    }

    #[test]
    fn request_versions_and_connection() {
        let raw = b"GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n";
        let o = RequestRewrite {
            method: None,
            http11: false,
            ..opts(b"/")
        };
        assert_eq!(
            req(raw, &o),
            "GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n"
        );
        let o = RequestRewrite {
            method: None,
            http11: false,
            keep_alive: false,
            ..opts(b"/")
        };
        assert_eq!(
            req(raw, &o),
            "GET / HTTP/1.0\r\nHost: a\r\nConnection: close\r\n"
        );
        let o = RequestRewrite {
            method: None,
            keep_alive: false,
            ..opts(b"/")
        };
        assert_eq!(
            req(raw, &o),
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
        );
    }

    #[test]
    fn request_upgrade() {
        let raw = b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let o = RequestRewrite {
            method: None,
            upgrade: true,
            via: Some(b"1.1 ringway"),
            ..opts(b"/ws")
        };
        assert_eq!(
            req(raw, &o),
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\nConnection: upgrade\r\nVia: 1.1 ringway\r\n"
        );
        assert_eq!(
            req(raw, &opts(b"/ws")),
            "GET /ws HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n"
        );
    }

    #[test]
    fn request_underscore_fields_dropped() {
        let raw = b"POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 99\r\nTransfer_Encoding: chunked\r\nX-Ok: 1\r\nContent-Length: 2\r\n\r\nhi";
        let o = RequestRewrite {
            method: None,
            body: BodyFraming::Length(2),
            ..opts(b"/")
        };
        assert_eq!(
            req(raw, &o),
            "POST / HTTP/1.1\r\nHost: a\r\nX-Ok: 1\r\nContent-Length: 2\r\n"
        );
    }

    #[test]
    fn request_connection_option_never_drops_host() {
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Host, X-A\r\nX-A: 1\r\n\r\n";
        assert_eq!(req(raw, &opts(b"/")), "GET / HTTP/1.1\r\nHost: a\r\n");
    }

    #[test]
    fn request_absolute_form_drops_host_field() {
        // RFC 9112 §3.2.2: the target's authority wins; the caller writes it as Host.
        let raw = b"GET http://other.test/p HTTP/1.1\r\nHost: x\r\nX: y\r\n\r\n";
        assert_eq!(req(raw, &opts(b"/p")), "GET /p HTTP/1.1\r\nX: y\r\n");
    }

    #[test]
    fn request_method_preserved() {
        let raw = b"PROPFIND /d HTTP/1.1\r\nHost: a\r\nDepth: 1\r\n\r\n";
        assert_eq!(
            req(raw, &opts(b"/d")),
            "PROPFIND /d HTTP/1.1\r\nHost: a\r\nDepth: 1\r\n"
        );
    }

    fn ropts(framing: ResponseFraming) -> ResponseRewrite<'static> {
        ResponseRewrite {
            keep_alive: true,
            client_http10: false,
            framing,
            hide: &NO_NAMES,
            via: None,
            upgrade: false,
            redirect: None,
            coding: Default::default(),
        }
    }

    fn res(raw: &[u8], method: Method, o: &ResponseRewrite<'_>) -> String {
        let head = parse_response(raw, method, 16384).unwrap().unwrap();
        let mut out = Vec::new();
        write_response_head(&mut out, &head, raw, o);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn response_coded_weakens_etag_and_states_the_coding() {
        let raw = b"HTTP/1.1 200 OK\r\nETag: \"a\"\r\nAccept-Ranges: bytes\r\nContent-Length: 5\r\nVary: Cookie\r\n\r\n";
        let o = ResponseRewrite {
            coding: HeadCoding {
                content_encoding: Some(b"br"),
                vary: true,
            },
            ..ropts(ResponseFraming::Chunked)
        };
        assert_eq!(
            res(raw, Method::Get, &o),
            "HTTP/1.1 200 OK\r\nETag: W/\"a\"\r\nVary: Cookie\r\nContent-Encoding: br\r\nVary: Accept-Encoding\r\nTransfer-Encoding: chunked\r\n"
        );
        // A weak ETag stays; an upstream Vary that covers Accept-Encoding is not repeated.
        let raw = b"HTTP/1.1 200 OK\r\nETag: W/\"a\"\r\nVary: accept-encoding, Cookie\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &o),
            "HTTP/1.1 200 OK\r\nETag: W/\"a\"\r\nVary: accept-encoding, Cookie\r\nContent-Encoding: br\r\nTransfer-Encoding: chunked\r\n"
        );
        // Vary alone (an eligible answer not compressed): the ETag and Accept-Ranges stay.
        let o = ResponseRewrite {
            coding: HeadCoding {
                content_encoding: None,
                vary: true,
            },
            ..ropts(ResponseFraming::Length(5))
        };
        let raw =
            b"HTTP/1.1 200 OK\r\nETag: \"a\"\r\nAccept-Ranges: bytes\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &o),
            "HTTP/1.1 200 OK\r\nETag: \"a\"\r\nAccept-Ranges: bytes\r\nVary: Accept-Encoding\r\nContent-Length: 5\r\n"
        );
    }

    #[test]
    fn response_basic() {
        let raw = b"HTTP/1.1 200 OK\r\nServer: up\r\nContent-Length: 5\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nVia: 1.1 other\r\nX-Internal: 1\r\n\r\nhello";
        let hide = NameSet::new(["x-internal"]);
        let o = ResponseRewrite {
            hide: &hide,
            via: Some(b"1.1 ringway"),
            ..ropts(ResponseFraming::Length(5))
        };
        assert_eq!(
            res(raw, Method::Get, &o),
            "HTTP/1.1 200 OK\r\nServer: up\r\nVia: 1.1 other\r\nContent-Length: 5\r\nVia: 1.1 ringway\r\n"
        );
    }

    #[test]
    fn response_chunked_and_close() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nContent-Type: a/b\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &ropts(ResponseFraming::Chunked)),
            "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nTransfer-Encoding: chunked\r\n"
        );
        // A close-delimited upstream body re-chunked for a kept-alive client.
        let raw = b"HTTP/1.0 200 OK\r\nContent-Type: a/b\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &ropts(ResponseFraming::Chunked)),
            "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nTransfer-Encoding: chunked\r\n"
        );
        // Or sent as is, closing the client connection.
        let o = ResponseRewrite {
            keep_alive: false,
            ..ropts(ResponseFraming::Close)
        };
        assert_eq!(
            res(raw, Method::Get, &o),
            "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nConnection: close\r\n"
        );
    }

    #[test]
    fn response_no_body_keeps_length() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nETag: \"x\"\r\n\r\n";
        assert_eq!(
            res(raw, Method::Head, &ropts(ResponseFraming::None)),
            "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nETag: \"x\"\r\n"
        );
        let raw = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &ropts(ResponseFraming::None)),
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n"
        );
        // Found by fuzzing: a repeated Content-Length went out twice.
        let raw =
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\nX: y\r\ncontent-length: 7\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &ropts(ResponseFraming::None)),
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\nX: y\r\n"
        );
        let raw = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nX: y\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &ropts(ResponseFraming::None)),
            "HTTP/1.1 204 No Content\r\nX: y\r\n"
        );
        let raw = b"HTTP/1.1 100 Continue\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &ropts(ResponseFraming::None)),
            "HTTP/1.1 100 Continue\r\n"
        );
    }

    #[test]
    fn response_connection_fields() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nX-Keep: 2\r\n\r\n";
        let o = ResponseRewrite {
            keep_alive: false,
            ..ropts(ResponseFraming::Length(0))
        };
        assert_eq!(
            res(raw, Method::Get, &o),
            "HTTP/1.1 200 OK\r\nX-Keep: 2\r\nContent-Length: 0\r\nConnection: close\r\n"
        );
        let o = ResponseRewrite {
            client_http10: true,
            ..ropts(ResponseFraming::Length(0))
        };
        assert_eq!(
            res(raw, Method::Get, &o),
            "HTTP/1.1 200 OK\r\nX-Keep: 2\r\nContent-Length: 0\r\nConnection: keep-alive\r\n"
        );
    }

    #[test]
    fn connection_options_noted_while_parsing() {
        // Only options beyond keep-alive and upgrade make the rewriter check each field.
        for (conn, noted) in [
            ("keep-alive", false),
            ("Keep-Alive, Upgrade", false),
            ("close", true),
            ("keep-alive, X-Hop", true),
        ] {
            let raw = format!("HTTP/1.1 200 OK\r\nConnection: {conn}\r\nContent-Length: 0\r\n\r\n");
            let head = parse_response(raw.as_bytes(), Method::Get, 16384)
                .unwrap()
                .unwrap();
            assert_eq!(head.connection_options, noted, "response, {conn}");
            let raw = format!("GET / HTTP/1.1\r\nHost: a\r\nConnection: {conn}\r\n\r\n");
            let head = parse_request(raw.as_bytes(), &LIMITS).unwrap().unwrap();
            assert_eq!(head.connection_options, noted, "request, {conn}");
        }
        // An option in a second Connection field still removes the field it names.
        let raw = b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nX-Hop: 1\r\nconnection: x-hop\r\nX-Keep: 2\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &ropts(ResponseFraming::Length(0))),
            "HTTP/1.1 200 OK\r\nX-Keep: 2\r\nContent-Length: 0\r\n"
        );
    }

    #[test]
    fn response_upgrade() {
        let raw = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc\r\n\r\n";
        let o = ResponseRewrite {
            upgrade: true,
            ..ropts(ResponseFraming::None)
        };
        assert_eq!(
            res(raw, Method::Get, &o),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: abc\r\nConnection: upgrade\r\n"
        );
        assert_eq!(
            res(raw, Method::Get, &ropts(ResponseFraming::None)),
            "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: abc\r\n"
        );
    }

    #[test]
    fn response_reason() {
        let raw = b"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &ropts(ResponseFraming::Length(0))),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
        );
        let raw = b"HTTP/1.0 200 Fine Thanks\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &ropts(ResponseFraming::Length(0))),
            "HTTP/1.1 200 Fine Thanks\r\nContent-Length: 0\r\n"
        );
        let raw = b"HTTP/1.1 599\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &ropts(ResponseFraming::Close)),
            "HTTP/1.1 599 Unknown\r\n"
        );
    }

    #[test]
    fn a_name_set_rules_out_by_length_then_compares_names() {
        let long = "x-".repeat(40);
        let set = NameSet::new(["X-Powered-By", "server", long.as_str()]);
        assert!(set.contains(b"x-powered-by"));
        assert!(set.contains(b"SERVER"));
        assert!(set.contains(long.to_uppercase().as_bytes()));
        // Same length as a name, another name.
        assert!(!set.contains(b"x-powered-bz"));
        assert!(!set.contains(b"serve"));
        // 63 and longer share a length bit: the names still decide.
        assert!(!set.contains("y".repeat(80).as_bytes()));
        assert!(!NO_NAMES.contains(b"server"));
    }

    #[test]
    fn response_hide_is_case_insensitive() {
        let raw =
            b"HTTP/1.1 200 OK\r\nX-Powered-By: php\r\nSERVER: up\r\nContent-Length: 0\r\n\r\n";
        let hide = NameSet::new(["x-powered-by", "server"]);
        let o = ResponseRewrite {
            hide: &hide,
            ..ropts(ResponseFraming::Length(0))
        };
        assert_eq!(
            res(raw, Method::Get, &o),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
        );
    }

    #[test]
    fn redirect_rewrites_location_and_refresh_urls() {
        let raw = b"HTTP/1.1 302 Found\r\nLocation: http://app/x\r\nRefresh: 5; URL=http://app/y\r\nX-Other: http://app/z\r\nContent-Length: 0\r\n\r\n";
        let f = |v: &[u8], out: &mut Vec<u8>| match v.strip_prefix(b"http://app/") {
            Some(rest) => {
                out.push(b'/');
                out.extend_from_slice(rest);
                true
            }
            None => false,
        };
        let o = ResponseRewrite {
            redirect: Some(&f),
            ..ropts(ResponseFraming::Length(0))
        };
        assert_eq!(
            res(raw, Method::Get, &o),
            "HTTP/1.1 302 Found\r\nLocation: /x\r\nRefresh: 5; URL=/y\r\nX-Other: http://app/z\r\nContent-Length: 0\r\n"
        );
        let raw = b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/x\r\nRefresh: 5\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            res(raw, Method::Get, &o),
            "HTTP/1.1 302 Found\r\nLocation: http://elsewhere/x\r\nRefresh: 5\r\nContent-Length: 0\r\n"
        );
    }
}
