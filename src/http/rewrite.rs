//! Head writing for both directions: hop-by-hop fields out (RFC 9110 §7.6.1), framing re-stated,
//! Via added (§7.6.3). The caller appends its configured fields and then the final CRLF.

use super::{BodyFraming, RequestHead, ResponseFraming, ResponseHead};

pub struct RequestRewrite<'a> {
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
    pub replace: &'a [&'a [u8]],
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
    let _ = (out, head, buf, opts);
    todo!()
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
    pub hide: &'a [&'a [u8]],
    pub via: Option<&'a [u8]>,
    /// A 101 to an upgrade request: keep `Upgrade` and send `Connection: upgrade`.
    pub upgrade: bool,
}

/// Writes status line (always `HTTP/1.1`), filtered upstream fields, framing and Connection
/// fields (no final CRLF).
pub fn write_response_head(
    out: &mut Vec<u8>,
    head: &ResponseHead,
    buf: &[u8],
    opts: &ResponseRewrite<'_>,
) {
    let _ = (out, head, buf, opts);
    todo!()
}
