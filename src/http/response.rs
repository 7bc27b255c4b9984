//! Response head parsing (upstream side) and the body framing rules of RFC 9112 §6.3.

use super::{HeaderSpan, ParseError, Span, request::Method, request::Version};

/// How the upstream's response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// HEAD, 1xx, 204, 304: no body whatever the fields say.
    None,
    Length(u64),
    Chunked,
    /// Read until the upstream closes.
    Close,
}

#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: Span,
    pub headers: Vec<HeaderSpan>,
    pub head_len: usize,
    pub framing: ResponseFraming,
    /// The upstream may keep the connection after this response.
    pub keep_alive: bool,
}

/// Parses a response head. `req_method` decides HEAD's no-body rule. `Ok(None)`: incomplete.
pub fn parse_response(
    buf: &[u8],
    req_method: Method,
    max_head: usize,
) -> Result<Option<ResponseHead>, ParseError> {
    let _ = (buf, req_method, max_head);
    todo!()
}
