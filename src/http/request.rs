//! Request head parsing: httparse plus RFC 9112 framing rules → a typed `RequestHead` or a typed
//! `ParseError` that knows its status (400/414/431/501/505).

use super::{HeaderSpan, ParseError, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Connect,
    Trace,
    Other,
}

impl Method {
    /// RFC 9110 §9.2.2: safe to retry on a fresh connection.
    pub fn is_idempotent(self) -> bool {
        matches!(
            self,
            Method::Get | Method::Head | Method::Put | Method::Delete | Method::Options | Method::Trace
        )
    }
}

/// How the request body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

#[derive(Debug, Clone)]
pub struct RequestHead {
    pub method: Method,
    pub method_span: Span,
    /// The request-target as sent (origin-form, or absolute-form for proxies).
    pub target: Span,
    pub version: Version,
    pub headers: Vec<HeaderSpan>,
    /// Bytes of the head including the final CRLFCRLF; the body (or next request) starts here.
    pub head_len: usize,
    pub body: BodyFraming,
    /// The single Host field value (or the authority of an absolute-form target).
    pub host: Option<Span>,
    /// Whether the client wants the connection kept after this exchange (version default +
    /// `Connection: close|keep-alive`).
    pub keep_alive: bool,
    pub expect_continue: bool,
    /// `Connection: upgrade` together with an `Upgrade` field.
    pub upgrade: bool,
}

pub struct Limits {
    /// Largest request line accepted (longer → 414).
    pub max_request_line: usize,
    /// Largest whole head accepted (larger → 431).
    pub max_head: usize,
    /// Most header fields accepted (more → 431).
    pub max_headers: usize,
}

/// Parses a request head from the start of `buf`. `Ok(None)`: incomplete, read more (unless
/// `buf.len()` already exceeds the limits, which is an error). Never panics on any input.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Option<RequestHead>, ParseError> {
    let _ = (buf, limits);
    todo!()
}
