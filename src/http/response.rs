//! Response head parsing (upstream side) and the body framing rules of RFC 9112 §6.3.

use std::mem::MaybeUninit;

use super::request::STACK_HEADERS;
use super::util::{
    ConnectionTokens, TransferCodings, eq_nocase, find_byte, leading_empty_lines,
    merge_content_length, offset_in,
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
    /// Connection lists options other than `keep-alive` and `upgrade` (see `RequestHead`'s).
    pub connection_options: bool,
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
    parse_response_reusing(buf, req_method, max_head, &mut Vec::new())
}

/// As `parse_response`, with the field index built in `spare`'s allocation (taken once the
/// head is complete; left on `Ok(None)`): a connection's answers reuse one, with no allocation
/// each.
pub fn parse_response_reusing(
    buf: &[u8],
    req_method: Method,
    max_head: usize,
    spare: &mut Vec<HeaderSpan>,
) -> Result<Option<ResponseHead>, ParseError> {
    let mut storage = [MaybeUninit::<httparse::Header<'_>>::uninit(); STACK_HEADERS];
    match parse_in(&mut storage, buf, req_method, max_head, spare) {
        Err(None) => many_fields(buf, req_method, max_head, spare),
        Err(Some(e)) => Err(e),
        Ok(h) => Ok(h),
    }
}

/// Parses with `storage` for the field index. Err(None): more fields than it holds.
#[inline(always)]
fn parse_in<'b>(
    storage: &mut [MaybeUninit<httparse::Header<'b>>],
    buf: &'b [u8],
    req_method: Method,
    max_head: usize,
    spare: &mut Vec<HeaderSpan>,
) -> Result<Option<ResponseHead>, Option<ParseError>> {
    let mut res = httparse::Response::new(&mut []);
    match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, buf, storage)
    {
        Ok(httparse::Status::Complete(len)) => {
            typed(buf, &res, len, req_method, max_head, spare).map_err(Some)
        }
        Err(httparse::Error::TooManyHeaders) => Err(None),
        other => not_parsed(buf, max_head, other).map_err(Some),
    }
}

/// More fields than `STACK_HEADERS`: parsed again into a heap array as large as `max_head`
/// bytes of fields can need (nginx has no count limit on upstream fields, only the size).
#[cold]
#[inline(never)]
fn many_fields(
    buf: &[u8],
    req_method: Method,
    max_head: usize,
    spare: &mut Vec<HeaderSpan>,
) -> Result<Option<ResponseHead>, ParseError> {
    // A field line is at least 3 bytes (`a:` CRLF is 4).
    let mut storage = vec![MaybeUninit::<httparse::Header<'_>>::uninit(); max_head / 3 + 1];
    parse_in(&mut storage, buf, req_method, max_head, spare)
        .map_err(|e| e.unwrap_or(ParseError::HeadersTooLarge("response head too large")))
}

/// What an incomplete or failed parse means: Ok(None) when more bytes may complete it.
fn not_parsed(
    buf: &[u8],
    max_head: usize,
    r: Result<httparse::Status<usize>, httparse::Error>,
) -> Result<Option<ResponseHead>, ParseError> {
    Err(match r {
        Ok(httparse::Status::Partial) if buf.len() <= max_head => return Ok(None),
        Ok(_) | Err(httparse::Error::TooManyHeaders) => {
            ParseError::HeadersTooLarge("response head too large")
        }
        Err(httparse::Error::Version) => ParseError::BadRequest("invalid response version"),
        Err(httparse::Error::Status) => ParseError::BadRequest("invalid status line"),
        Err(httparse::Error::NewLine) => ParseError::BadRequest("invalid line ending"),
        Err(httparse::Error::HeaderValue) => {
            ParseError::BadRequest("invalid character in field value")
        }
        Err(_) => ParseError::BadRequest("invalid field line"),
    })
}

/// The checks and the typed head, once httparse found a complete head of `head_len` bytes.
#[inline(always)]
fn typed(
    buf: &[u8],
    res: &httparse::Response<'_, '_>,
    head_len: usize,
    req_method: Method,
    max_head: usize,
    spare: &mut Vec<HeaderSpan>,
) -> Result<Option<ResponseHead>, ParseError> {
    if head_len > max_head || head_len > u32::MAX as usize {
        return Err(ParseError::HeadersTooLarge("response head too large"));
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
    let mut headers = std::mem::take(spare);
    headers.clear();
    headers.reserve(fields.len());
    let mut content_length: Option<u64> = None;
    let mut te = TransferCodings::default();
    let mut conn = ConnectionTokens::default();
    for f in fields {
        let name = f.name.as_bytes();
        headers.push(HeaderSpan {
            name: span(offset_in(buf, name), name.len()),
            value: span(offset_in(buf, f.value), f.value.len()),
        });
        match name.len() {
            10 if eq_nocase(name, b"connection") => conn.add(f.value),
            14 if eq_nocase(name, b"content-length") => {
                merge_content_length(&mut content_length, f.value)?;
            }
            17 if eq_nocase(name, b"transfer-encoding") => te.add(f.value),
            _ => {}
        }
    }

    let mut keep_alive = conn.persistent(version == Version::Http11);
    let no_body = req_method == Method::Head || status < 200 || status == 204 || status == 304;
    let framing = if no_body {
        ResponseFraming::None
    } else if te.present {
        if version == Version::Http10 {
            // RFC 9112 §6.1: the framing of an HTTP/1.0 message with TE is faulty.
            return Err(ParseError::BadRequest(
                "Transfer-Encoding in an HTTP/1.0 response",
            ));
        }
        if let Some(why) = te.error {
            return Err(ParseError::BadRequest(why));
        }
        if te.chunked_count > 1 {
            return Err(ParseError::BadRequest("chunked applied more than once"));
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
        connection_options: conn.other,
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

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 16384;

    fn parse(s: &[u8]) -> Result<Option<ResponseHead>, ParseError> {
        parse_response(s, Method::Get, MAX)
    }

    #[track_caller]
    fn ok_for(s: &[u8], m: Method) -> ResponseHead {
        match parse_response(s, m, MAX) {
            Ok(Some(h)) => h,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(s)),
        }
    }

    #[track_caller]
    fn ok(s: &[u8]) -> ResponseHead {
        ok_for(s, Method::Get)
    }

    #[track_caller]
    fn bad(s: &[u8]) {
        match parse(s) {
            Err(ParseError::BadRequest(_)) => {}
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(s)),
        }
    }

    fn resp(status_line: &str, fields: &str) -> Vec<u8> {
        format!("{status_line}\r\n{fields}\r\n").into_bytes()
    }

    #[test]
    fn simple() {
        let buf = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
        let h = ok(buf);
        assert_eq!(h.version, Version::Http11);
        assert_eq!(h.status, 200);
        assert_eq!(h.reason.get(buf), b"OK");
        assert_eq!(h.head_len, buf.len() - 5);
        assert_eq!(h.framing, ResponseFraming::Length(5));
        assert!(h.keep_alive);
        assert_eq!(h.headers.len(), 2);
        assert_eq!(h.headers[0].name.get(buf), b"Content-Type");
        assert_eq!(h.headers[0].value.get(buf), b"text/plain");
        assert_eq!(h.headers[1].value.get(buf), b"5");
    }

    #[test]
    fn reason_phrases() {
        let buf = b"HTTP/1.1 404 Not  Found \r\nContent-Length: 0\r\n\r\n";
        assert_eq!(ok(buf).reason.get(buf), b"Not  Found ");
        let buf = b"HTTP/1.1 200 \xc3\xa7a va\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(ok(buf).reason.get(buf), b"\xc3\xa7a va");
        let buf = b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(ok(buf).reason.get(buf), b"");
        let buf = b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n";
        assert_eq!(ok(buf).reason.get(buf), b"");
        let buf = b"\r\nHTTP/1.1 201 Created\nContent-Length: 0\n\n";
        let h = ok(buf);
        assert_eq!(h.reason.get(buf), b"Created");
        assert_eq!(h.head_len, buf.len());
    }

    #[test]
    fn no_body_statuses() {
        for status in [
            "100 Continue",
            "101 Switching Protocols",
            "103 Early Hints",
            "204 No Content",
            "304 Not Modified",
        ] {
            let buf = resp(
                &format!("HTTP/1.1 {status}"),
                "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n",
            );
            assert_eq!(ok(&buf).framing, ResponseFraming::None, "{status}");
        }
        let buf = resp("HTTP/1.1 200 OK", "Content-Length: 10\r\n");
        assert_eq!(ok_for(&buf, Method::Head).framing, ResponseFraming::None);
        let buf = resp("HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\n");
        assert_eq!(ok_for(&buf, Method::Head).framing, ResponseFraming::None);
        // A HEAD response without length information is still reusable.
        let buf = resp("HTTP/1.1 200 OK", "");
        let h = ok_for(&buf, Method::Head);
        assert_eq!(h.framing, ResponseFraming::None);
        assert!(h.keep_alive);
        // But its Content-Length must still be valid: it is forwarded.
        let buf = resp("HTTP/1.1 304 Not Modified", "Content-Length: abc\r\n");
        bad(&buf);
    }

    #[test]
    fn framing() {
        let h = ok(&resp("HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\n"));
        assert_eq!(h.framing, ResponseFraming::Chunked);
        assert!(h.keep_alive);
        let h = ok(&resp(
            "HTTP/1.1 200 OK",
            "Transfer-Encoding: Chunked\r\nContent-Length: 5\r\n",
        ));
        assert_eq!(h.framing, ResponseFraming::Chunked);
        assert!(!h.keep_alive);
        let h = ok(&resp(
            "HTTP/1.1 200 OK",
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        ));
        assert_eq!(h.framing, ResponseFraming::Chunked);
        assert!(!h.keep_alive);
        let h = ok(&resp("HTTP/1.1 200 OK", "Transfer-Encoding: gzip\r\n"));
        assert_eq!(h.framing, ResponseFraming::Close);
        assert!(!h.keep_alive);
        let h = ok(&resp(
            "HTTP/1.1 200 OK",
            "Transfer-Encoding: chunked, gzip\r\nContent-Length: 5\r\n",
        ));
        assert_eq!(h.framing, ResponseFraming::Close);
        assert!(!h.keep_alive);
        let h = ok(&resp("HTTP/1.1 200 OK", ""));
        assert_eq!(h.framing, ResponseFraming::Close);
        assert!(!h.keep_alive);
        let h = ok(&resp("HTTP/1.1 200 OK", "Content-Length: 0\r\n"));
        assert_eq!(h.framing, ResponseFraming::Length(0));
        let h = ok(&resp(
            "HTTP/1.1 200 OK",
            "Content-Length: 7, 7\r\ncontent-length: 7\r\n",
        ));
        assert_eq!(h.framing, ResponseFraming::Length(7));
    }

    #[test]
    fn framing_errors() {
        bad(&resp(
            "HTTP/1.1 200 OK",
            "Transfer-Encoding: gzip, chunked\r\n",
        ));
        bad(&resp(
            "HTTP/1.1 200 OK",
            "Transfer-Encoding: chunked, chunked\r\n",
        ));
        bad(&resp(
            "HTTP/1.1 200 OK",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        ));
        bad(&resp(
            "HTTP/1.1 200 OK",
            "Transfer-Encoding: chunked;x=y\r\n",
        ));
        bad(&resp("HTTP/1.0 200 OK", "Transfer-Encoding: chunked\r\n"));
        for v in [
            "abc",
            "+5",
            "-1",
            "5, 6",
            "",
            "0x10",
            "99999999999999999999",
        ] {
            bad(&resp(
                "HTTP/1.1 200 OK",
                &format!("Content-Length: {v}\r\n"),
            ));
        }
        bad(&resp(
            "HTTP/1.1 200 OK",
            "Content-Length: 5\r\nContent-Length: 6\r\n",
        ));
    }

    #[test]
    fn keep_alive_rules() {
        let cases: [(&str, &str, bool); 7] = [
            ("1.1", "", true),
            ("1.1", "Connection: close\r\n", false),
            ("1.1", "Connection: foo\r\nConnection: Close\r\n", false),
            ("1.0", "", false),
            ("1.0", "Connection: keep-alive\r\n", true),
            ("1.0", "Connection: Keep-Alive, close\r\n", false),
            ("1.1", "Connection: keep-alive\r\n", true),
        ];
        for (v, fields, want) in cases {
            let buf = format!("HTTP/{v} 200 OK\r\nContent-Length: 1\r\n{fields}\r\nx");
            assert_eq!(ok(buf.as_bytes()).keep_alive, want, "{v} {fields:?}");
        }
        let h = ok(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(h.framing, ResponseFraming::Close);
        assert!(!h.keep_alive);
    }

    #[test]
    fn status_line_errors() {
        bad(b"HTTP/1.1 099 Weird\r\n\r\n");
        bad(b"HTTP/1.1 000 Zero\r\n\r\n");
        bad(b"HTTP/1.1 1000 Big\r\n\r\n");
        bad(b"HTTP/1.1 20 OK\r\n\r\n");
        bad(b"HTTP/1.1 abc OK\r\n\r\n");
        bad(b"HTTP/2.0 200 OK\r\n\r\n");
        bad(b"http/1.1 200 OK\r\n\r\n");
        bad(b"HTTP/1.1  200 OK\r\n\r\n");
        bad(b"HTTP/1.1 200 O\x00K\r\n\r\n");
        assert_eq!(ok(b"HTTP/1.1 999 Custom\r\n\r\n").status, 999);
    }

    #[test]
    fn field_errors() {
        bad(b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"); // obs-fold
        bad(b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n");
        bad(b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n");
        bad(b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n");
        bad(b"HTTP/1.1 200 OK\r\nX: a\x7fb\r\n\r\n");
        bad(b"HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n");
    }

    #[test]
    fn incremental() {
        let buf = b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 3\r\n\r\nabc";
        let head_len = buf.len() - 3;
        for end in 0..head_len {
            assert!(matches!(parse(&buf[..end]), Ok(None)), "{end}");
        }
        for end in head_len..=buf.len() {
            assert_eq!(ok(&buf[..end]).head_len, head_len);
        }
    }

    #[test]
    fn too_large() {
        let buf = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(100));
        assert_eq!(
            parse_response(buf.as_bytes(), Method::Get, 64).unwrap_err(),
            ParseError::HeadersTooLarge("response head too large")
        );
        let partial = &buf.as_bytes()[..80];
        assert_eq!(
            parse_response(partial, Method::Get, 64).unwrap_err(),
            ParseError::HeadersTooLarge("response head too large")
        );
        assert!(
            parse_response(&partial[..60], Method::Get, 64)
                .unwrap()
                .is_none()
        );
        let mut many = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..200 {
            many.push_str(&format!("X-{i}: v\r\n"));
        }
        many.push_str("\r\n");
        // No count limit (nginx has none on upstream fields): only the size bounds them.
        let h = parse_response(many.as_bytes(), Method::Get, 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(h.headers.len(), 200);
        assert_eq!(h.headers[199].name.get(many.as_bytes()), b"X-199");
        assert_eq!(
            parse_response(many.as_bytes(), Method::Get, 1500).unwrap_err(),
            ParseError::HeadersTooLarge("response head too large")
        );
    }

    #[test]
    fn never_panics() {
        let base: &[u8] = b"\r\nHTTP/1.1 200 \xffK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\nContent-Length: 12\r\n\r\n";
        for pos in 0..base.len() {
            for v in 0..=255u8 {
                let mut m = base.to_vec();
                m[pos] = v;
                for method in [Method::Get, Method::Head] {
                    if let Ok(Some(h)) = parse_response(&m, method, 90) {
                        assert!(h.reason.start <= h.reason.end);
                        assert!(h.reason.end as usize <= h.head_len);
                        for f in &h.headers {
                            assert!(f.value.end as usize <= h.head_len);
                        }
                    }
                }
            }
            let _ = parse(&base[..pos]);
        }
    }
}
