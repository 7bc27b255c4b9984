//! Response head parsing (upstream side) and the body framing rules of RFC 9112 §6.3.

use std::mem::MaybeUninit;

use super::request::MAX_HEADERS;
use super::util::{
    TransferCodings, find_byte, leading_empty_lines, list_items, merge_content_length, offset_in,
};
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
///
/// Framing (RFC 9112 §6.3): HEAD, 1xx (101 included), 204 and 304 → `None` whatever the fields
/// say (a bad Content-Length is still an error, since it may be forwarded); Transfer-Encoding with
/// a final `chunked` → `Chunked` (with Content-Length too: the connection is not reused); TE whose
/// final coding is not chunked → `Close`; a valid Content-Length → `Length`; else `Close`.
/// Errors (the proxy answers 502): invalid or conflicting Content-Length, `chunked` twice or
/// with parameters, another coding before chunked (ringway can only re-frame chunked), TE in an
/// HTTP/1.0 response, status outside 100–999, CTLs in field values, obs-fold, whitespace before a
/// colon. Bare LF line terminators are tolerated here (RFC 9112 §2.2 MAY): the head is rewritten.
pub fn parse_response(
    buf: &[u8],
    req_method: Method,
    max_head: usize,
) -> Result<Option<ResponseHead>, ParseError> {
    let mut storage = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let mut res = httparse::Response::new(&mut []);
    let head_len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut res,
        buf,
        &mut storage,
    ) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > max_head {
                Err(ParseError::HeadersTooLarge)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::HeadersTooLarge),
        Err(httparse::Error::Version) => {
            return Err(ParseError::BadRequest("invalid response version"));
        }
        Err(httparse::Error::Status) => return Err(ParseError::BadRequest("invalid status line")),
        Err(httparse::Error::NewLine) => return Err(ParseError::BadRequest("invalid line ending")),
        Err(httparse::Error::HeaderValue) => {
            return Err(ParseError::BadRequest("invalid character in field value"));
        }
        Err(_) => return Err(ParseError::BadRequest("invalid field line")),
    };
    if head_len > max_head || head_len > u32::MAX as usize {
        return Err(ParseError::HeadersTooLarge);
    }
    let (Some(minor), Some(status)) = (res.version, res.code) else {
        return Err(ParseError::BadRequest("invalid status line"));
    };
    if status < 100 {
        return Err(ParseError::BadRequest("invalid status code"));
    }
    let version = if minor == 1 {
        Version::Http11
    } else {
        Version::Http10
    };

    let fields = &*res.headers;
    let mut headers = Vec::with_capacity(fields.len());
    let mut content_length: Option<u64> = None;
    let mut te = TransferCodings::default();
    let (mut conn_close, mut conn_keep_alive) = (false, false);
    for f in fields {
        let name = f.name.as_bytes();
        headers.push(HeaderSpan {
            name: span(offset_in(buf, name), name.len()),
            value: span(offset_in(buf, f.value), f.value.len()),
        });
        match name.len() {
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for token in list_items(f.value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        conn_close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        conn_keep_alive = true;
                    }
                }
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                merge_content_length(&mut content_length, f.value)?;
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => te.add(f.value),
            _ => {}
        }
    }

    let mut keep_alive = match version {
        Version::Http11 => !conn_close,
        Version::Http10 => conn_keep_alive && !conn_close,
    };
    let no_body = req_method == Method::Head || status < 200 || status == 204 || status == 304;
    let framing = if no_body {
        ResponseFraming::None
    } else if te.present {
        if version == Version::Http10 {
            // RFC 9112 §6.1: the framing of an HTTP/1.0 message with TE is faulty.
            return Err(ParseError::BadRequest("Transfer-Encoding in an HTTP/1.0 response"));
        }
        if let Some(why) = te.error {
            return Err(ParseError::BadRequest(why));
        }
        if te.chunked_last {
            if te.other {
                return Err(ParseError::BadRequest("transfer coding other than chunked"));
            }
            if content_length.is_some() {
                // TE overrides CL (RFC 9112 §6.3), but such a peer is not to be trusted again.
                keep_alive = false;
            }
            ResponseFraming::Chunked
        } else {
            ResponseFraming::Close
        }
    } else if let Some(n) = content_length {
        ResponseFraming::Length(n)
    } else {
        ResponseFraming::Close
    };
    if framing == ResponseFraming::Close {
        keep_alive = false;
    }

    Ok(Some(ResponseHead {
        version,
        status,
        reason: reason_span(buf),
        headers,
        head_len,
        framing,
        keep_alive,
    }))
}

#[inline]
fn span(start: usize, len: usize) -> Span {
    Span {
        start: start as u32,
        end: (start + len) as u32,
    }
}

/// The reason phrase, found by hand: httparse hands out "" (not a slice of `buf`) when the phrase
/// holds obs-text. Only called on a complete, valid status line: `HTTP/1.x SSS[ reason]`.
fn reason_span(buf: &[u8]) -> Span {
    let line_start = leading_empty_lines(buf);
    let start = line_start + 12;
    match buf.get(start) {
        Some(b' ') => {
            let rest = &buf[start + 1..];
            let mut end = start + 1 + find_byte(rest, b'\n').unwrap_or(rest.len());
            if end > start + 1 && buf[end - 1] == b'\r' {
                end -= 1;
            }
            span(start + 1, end - start - 1)
        }
        _ => span(start.min(buf.len()), 0),
    }
}
