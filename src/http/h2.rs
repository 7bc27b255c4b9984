//! HTTP/2 messages as the HTTP/1.1 heads the request path reads and writes (RFC 9113 §8.3 on
//! one side, RFC 9112 on the other). A stream's request becomes an HTTP/1.1 head, with the
//! layout the request path checks it through (the checks any request's head gets, without a
//! second parse: `request::from_layout`); the HTTP/1.1 response head the path
//! writes becomes the stream's HEADERS (a proxied response's head comes already in HTTP/2's
//! form: `http::h2_head`). Pure: no I/O.

use std::mem::MaybeUninit;

use http::header::{COOKIE, HOST, TE};
use http::{HeaderName, HeaderValue, StatusCode};

use super::request::HeadLayout;
use super::util::{eq_nocase, offset_in, trim_ows};
use super::{HeaderSpan, Span};

/// How the body of a translated request follows its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// The stream ended with its HEADERS: no body.
    None,
    /// `content-length` came with the request: the body's bytes follow as they are.
    Length,
    /// No length: the body follows chunked (`Transfer-Encoding: chunked` was added).
    Chunked,
    /// An extended CONNECT (RFC 8441): the head asks for an upgrade and has no body; the
    /// stream's DATA is the tunnel's, once the upgrade is answered.
    Tunnel,
}

/// A request that cannot be written as HTTP/1.1: the stream is answered 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub &'static str);

/// Writes `parts` as an HTTP/1.1 request head into `out`. `ended`: the stream ended with its
/// HEADERS (no DATA follows). `Host` comes from `:authority` (a `host` field that names
/// another authority is refused, RFC 9113 §8.3.1); cookies split over several fields are
/// joined with "; " (§8.2.3); `te: trailers` is dropped (nothing hop-by-hop goes upstream).
/// Also where the head's parts lie in `out`, for `request::from_layout`: the request path then
/// need not parse the lines it was just given.
pub fn request_head(
    parts: &http::request::Parts,
    ended: bool,
    out: &mut Vec<u8>,
) -> Result<(RequestBody, HeadLayout), Refused> {
    let authority = parts.uri.authority().map(|a| a.as_str().as_bytes());
    let host = host(parts)?;
    let method = written(out, parts.method.as_str().as_bytes());
    out.push(b' ');
    let target = if parts.method == http::Method::CONNECT {
        match authority {
            Some(a) if !a.is_empty() => written(out, a),
            // RFC 9113 §8.5: a CONNECT without one is malformed (and its line would be too).
            _ => return Err(Refused("a CONNECT without :authority")),
        }
    } else {
        match parts.uri.path_and_query().map(|p| p.as_str()) {
            Some(p) if !p.is_empty() => written(out, p.as_bytes()),
            _ => return Err(Refused("an empty :path")),
        }
    };
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut fields = Vec::with_capacity(parts.headers.len() + 1);
    let length = copy_fields(parts, host, out, &mut fields, |_| false);
    let body = match (ended, length) {
        (true, _) => RequestBody::None,
        (false, true) => RequestBody::Length,
        (false, false) => {
            fields.push(field(out, b"transfer-encoding", b"chunked"));
            RequestBody::Chunked
        }
    };
    out.extend_from_slice(b"\r\n");
    let layout = HeadLayout {
        method,
        target,
        fields,
    };
    Ok((body, layout))
}

/// Appends `bytes` to `out`: where they now lie.
fn written(out: &mut Vec<u8>, bytes: &[u8]) -> Span {
    let start = out.len();
    out.extend_from_slice(bytes);
    Span {
        start: start as u32,
        end: out.len() as u32,
    }
}

/// The request's authority: `:authority`, or the `host` field without one (a `host` field that
/// names another authority, or two of them, refused).
pub(super) fn host(parts: &http::request::Parts) -> Result<Option<&[u8]>, Refused> {
    let authority = parts.uri.authority().map(|a| a.as_str().as_bytes());
    // One pass over the few fields a request has: cheaper than two lookups by hash.
    let mut hosts = parts.headers.iter().filter(|(n, _)| **n == HOST);
    let host_field = hosts.next().map(|(_, v)| v.as_bytes());
    if hosts.next().is_some() {
        return Err(Refused("more than one host field"));
    }
    match (authority, host_field) {
        (Some(a), Some(h)) if !eq_nocase(a, h) => {
            Err(Refused("the host field differs from :authority"))
        }
        (Some(a), _) => Ok(Some(a)),
        (None, h) => Ok(h),
    }
}

/// Writes `host`, then the request's fields but those `skip` names (and `host` and `te`), with
/// the cookies joined into one field, each line's place noted in `spans`. True when a
/// `content-length` was among them.
pub(super) fn copy_fields(
    parts: &http::request::Parts,
    host: Option<&[u8]>,
    out: &mut Vec<u8>,
    spans: &mut Vec<HeaderSpan>,
    skip: impl Fn(&HeaderName) -> bool,
) -> bool {
    if let Some(h) = host {
        spans.push(field(out, b"host", h));
    }
    let mut cookies = 0;
    let mut length = false;
    for (name, value) in &parts.headers {
        if *name == HOST || *name == TE || skip(name) {
            continue;
        }
        if *name == COOKIE {
            cookies += 1;
            continue;
        }
        length |= *name == http::header::CONTENT_LENGTH;
        spans.push(field(out, name.as_str().as_bytes(), value.as_bytes()));
    }
    if cookies > 0 {
        let name = written(out, b"cookie");
        out.extend_from_slice(b": ");
        let start = out.len();
        for (i, c) in parts.headers.get_all(COOKIE).iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(c.as_bytes());
        }
        let value = value_span(out, start);
        out.extend_from_slice(b"\r\n");
        spans.push(HeaderSpan { name, value });
    }
    length
}

/// Writes one `name: value` line; where its name and value lie.
pub(super) fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) -> HeaderSpan {
    let name = written(out, name);
    out.extend_from_slice(b": ");
    let start = out.len();
    out.extend_from_slice(value);
    let value = value_span(out, start);
    out.extend_from_slice(b"\r\n");
    HeaderSpan { name, value }
}

/// The value written to `out` from `start`, without the whitespace at its ends: as an HTTP/1.1
/// parser reads the line (RFC 9112 §5.1), so the head means what a parse of it would.
fn value_span(out: &[u8], start: usize) -> Span {
    let value = trim_ows(&out[start..]);
    let at = offset_in(out, value);
    Span {
        start: at as u32,
        end: (at + value.len()) as u32,
    }
}

/// How the body after a translated response head is framed in the HTTP/1.1 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseBody {
    /// No body follows (1xx, 204, 304, or an answer to HEAD).
    None,
    Length(u64),
    Chunked,
    /// Until the writer shuts the stream.
    ToEnd,
}

/// A response head parsed from the path's HTTP/1.1 bytes.
pub struct ResponseHead {
    /// Bytes of the HTTP/1.1 head (the body starts after them).
    pub len: usize,
    pub status: StatusCode,
    pub fields: HeadFields,
    pub body: ResponseBody,
}

/// What a translated head's fields become, as `Want` asked.
pub enum HeadFields {
    /// A header map, for `h2`'s own encoder.
    Map(http::HeaderMap),
    /// HPACK literals (`http::hpack`), for `SendResponse::send_response_encoded`: no map is
    /// built and h2's encoder has nothing to do but `:status`.
    Encoded(bytes::Bytes),
}

/// How a head's fields are wanted: encoded for a final response, as a map where ringway
/// still looks at them (an interim response, an upgrade's answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Map,
    Encoded,
}

impl ResponseHead {
    /// The head as an `http::Response` (fields read as a map only).
    pub fn into_response(self) -> Option<http::Response<()>> {
        let HeadFields::Map(fields) = self.fields else {
            return None;
        };
        let mut response = http::Response::new(());
        *response.status_mut() = self.status;
        *response.headers_mut() = fields;
        Some(response)
    }
}

/// The most fields a response head ringway writes may carry.
const MAX_FIELDS: usize = 256;

/// Fields HTTP/2 forbids (RFC 9113 §8.2.2): their meaning is the connection's. By length
/// first: most fields are none of them, and that takes one comparison.
fn connection_specific(name: &[u8]) -> bool {
    let forbidden: &[u8] = match name.len() {
        7 => b"upgrade",
        10 if name[0].eq_ignore_ascii_case(&b'c') => b"connection",
        10 => b"keep-alive",
        16 => b"proxy-connection",
        17 => b"transfer-encoding",
        _ => return false,
    };
    eq_nocase(name, forbidden)
}

/// Parses the HTTP/1.1 response head at the start of `b`: Ok(None) while incomplete.
/// `head_request`: the request was HEAD (no body follows whatever the fields say). The field
/// values are slices of `b` (no copy, no allocation per field).
///
/// The heads ringway writes itself (`Name: value` lines, one space after the colon, CRLF) are
/// split line by line with memchr, cheaper than httparse's general parse; anything else in
/// them (and a head not complete yet) goes to httparse. Either way every name and value is checked
/// by `HeaderName::from_bytes` and `HeaderValue::from_maybe_shared`.
pub fn response_head(
    b: &bytes::Bytes,
    head_request: bool,
    want: Want,
) -> Result<Option<ResponseHead>, &'static str> {
    if super::h2_head::is_record(b) {
        return super::h2_head::read(b, head_request, want);
    }
    text_head(b, head_request, want)
}

/// `response_head` for a head in HTTP/1.1's text.
fn text_head(
    b: &bytes::Bytes,
    head_request: bool,
    want: Want,
) -> Result<Option<ResponseHead>, &'static str> {
    match own_head(b, head_request, want) {
        Some(head) => head.map(Some),
        None => parsed_head(b, head_request, want),
    }
}

/// `response_head` by httparse: any head HTTP/1.1 allows.
fn parsed_head(
    b: &bytes::Bytes,
    head_request: bool,
    want: Want,
) -> Result<Option<ResponseHead>, &'static str> {
    // Left uninitialised: filling 256 empty fields (8 KiB) cost more than parsing the head.
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    let mut parsed = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut parsed,
        b,
        &mut fields,
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err("a response head that does not parse"),
    };
    let code = parsed.code.ok_or("no status")?;
    let mut head = Translated::new(code, parsed.headers.len(), want)?;
    for f in parsed.headers.iter() {
        head.field(b, f.name.as_bytes(), f.value)?;
    }
    Ok(Some(head.finish(len, head_request)))
}

/// The most fields `own_head` splits: a head with more goes to httparse.
const OWN_FIELDS: usize = 32;

/// For the fuzz target `response_head`: the line splitter's and httparse's readings of `b`
/// (status, head length, framing and fields, or partial / error), each with its fields as a
/// map and as HPACK literals read back, which must all be the same. `b` is also read as a
/// record of `http::h2_head` (its first byte made a NUL), which must not panic.
#[cfg(fuzzing)]
pub fn both_readings(b: &[u8]) -> (String, String) {
    let mut record = b.to_vec();
    if let Some(first) = record.first_mut() {
        *first = 0;
        for w in [Want::Map, Want::Encoded] {
            let read = super::h2_head::read(&record.clone().into(), b.len() % 3 == 0, w);
            if let Ok(Some(h)) = read {
                assert!(h.len <= record.len(), "a record longer than its bytes");
            }
        }
    }
    let b = bytes::Bytes::copy_from_slice(b);
    let head_request = b.len() % 2 == 1;
    let split = [Want::Map, Want::Encoded].map(|w| reading(text_head(&b, head_request, w)));
    let parsed = [Want::Map, Want::Encoded].map(|w| reading(parsed_head(&b, head_request, w)));
    (split.join(" | "), parsed.join(" | "))
}

/// What a translated head comes to (status, head length, framing, fields), to compare the
/// readings. Fields are listed by name (a map groups a name's values).
#[cfg(any(test, fuzzing))]
fn reading(h: Result<Option<ResponseHead>, &'static str>) -> String {
    match h {
        Ok(Some(h)) => {
            let mut fields: Vec<(Vec<u8>, Vec<u8>)> = match &h.fields {
                HeadFields::Map(m) => m
                    .iter()
                    .map(|(n, v)| (n.as_str().as_bytes().to_vec(), v.as_bytes().to_vec()))
                    .collect(),
                HeadFields::Encoded(e) => match crate::http::hpack::read_literals(e) {
                    Some(f) => f,
                    None => return "unreadable HPACK".into(),
                },
            };
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            format!("{} {:?} {:?} {:?}", h.len, h.body, h.status, fields)
        }
        Ok(None) => "partial".into(),
        Err(_) => "error".into(),
    }
}

/// `response_head` for a head in the form ringway writes, or None (httparse decides then).
fn own_head(
    b: &bytes::Bytes,
    head_request: bool,
    want: Want,
) -> Option<Result<ResponseHead, &'static str>> {
    let rest = b
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| b.strip_prefix(b"HTTP/1.0 "))?;
    let eol = memchr::memchr(b'\n', rest)?;
    let status = rest[..eol].strip_suffix(b"\r")?;
    let (code, reason) = status.split_at_checked(3)?;
    let reason_ok = reason.is_empty()
        || (reason[0] == b' '
            && reason
                .iter()
                .all(|&c| c == b'\t' || (c >= b' ' && c != 0x7f)));
    if !code.iter().all(u8::is_ascii_digit) || !reason_ok {
        return None;
    }
    let code = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let mut fields: [(&[u8], &[u8]); OWN_FIELDS] = [(&[], &[]); OWN_FIELDS];
    let mut count = 0;
    let mut at = b.len() - rest.len() + eol + 1;
    let len = loop {
        let line_end = at + memchr::memchr(b'\n', &b[at..])?;
        let line = b[at..line_end].strip_suffix(b"\r")?;
        if line.is_empty() {
            break line_end + 1;
        }
        let colon = memchr::memchr(b':', line)?;
        let (name, value) = (&line[..colon], line[colon + 1..].strip_prefix(b" ")?);
        // Whitespace httparse would trim, a folded line, an empty name: left to httparse. So is
        // a field HTTP/2 drops (`Connection` and the like) whose value has a byte httparse
        // refuses: dropped unread, it would otherwise pass where httparse fails the head.
        let blank = |c: Option<&u8>| matches!(c, Some(b' ' | b'\t'));
        let refused = |v: &[u8]| v.iter().any(|&c| (c < b' ' && c != b'\t') || c == 0x7f);
        if name.is_empty()
            || blank(value.first())
            || blank(value.last())
            || count == OWN_FIELDS
            || (connection_specific(name) && refused(value))
        {
            return None;
        }
        fields[count] = (name, value);
        count += 1;
        at = line_end + 1;
    };
    let translate = || {
        let mut head = Translated::new(code, count, want)?;
        for (name, value) in &fields[..count] {
            head.field(b, name, value)?;
        }
        Ok(head.finish(len, head_request))
    };
    Some(translate())
}

/// Whether HTTP/2 carries a response field: not the connection's own (RFC 9113 §8.2.2).
/// Notes the framing the HTTP/1.1 head states: `Transfer-Encoding: chunked` (dropped) in
/// `chunked`, `Content-Length` (kept) in `length`.
pub(super) fn carried(
    name: &[u8],
    value: &[u8],
    length: &mut Option<u64>,
    chunked: &mut bool,
) -> bool {
    if connection_specific(name) {
        if eq_nocase(name, b"transfer-encoding") {
            *chunked = eq_nocase(value, b"chunked");
        }
        return false;
    }
    if name.len() == 14 && eq_nocase(name, b"content-length") {
        *length = digits_value(value);
    }
    true
}

/// A Content-Length's value: ASCII digits only, within u64. The heads read here are ringway's
/// own (one value, as the response phase re-states it), so `util::parse_content_length`'s
/// list handling is not needed: it measured 160 instructions more per HTTP/2 response.
fn digits_value(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &c| {
        c.is_ascii_digit()
            .then_some(())
            .and_then(|_| n.checked_mul(10)?.checked_add(u64::from(c - b'0')))
    })
}

/// How the body after a head is framed in the path's bytes, from what the head said.
pub(super) fn body_of(
    status: StatusCode,
    head_request: bool,
    chunked: bool,
    length: Option<u64>,
) -> ResponseBody {
    let code = status.as_u16();
    if head_request || code < 200 || code == 204 || code == 304 {
        ResponseBody::None
    } else if chunked {
        ResponseBody::Chunked
    } else if let Some(n) = length {
        ResponseBody::Length(n)
    } else {
        ResponseBody::ToEnd
    }
}

/// A response head being translated into HTTP/2's fields.
struct Translated {
    status: StatusCode,
    fields: Fields,
    length: Option<u64>,
    chunked: bool,
}

enum Fields {
    Map(http::HeaderMap),
    Encoded(Vec<u8>),
}

impl Translated {
    fn new(code: u16, fields: usize, want: Want) -> Result<Translated, &'static str> {
        let status = StatusCode::from_u16(code).map_err(|_| "a bad status")?;
        let fields = match want {
            Want::Map => Fields::Map(http::HeaderMap::with_capacity(fields)),
            // About 30 bytes a field, most of it the value.
            Want::Encoded => Fields::Encoded(Vec::with_capacity(fields * 32)),
        };
        Ok(Translated {
            status,
            fields,
            length: None,
            chunked: false,
        })
    }

    /// One field of the head (`name` and `value` are slices of `b`).
    fn field(&mut self, b: &bytes::Bytes, name: &[u8], value: &[u8]) -> Result<(), &'static str> {
        if !carried(name, value, &mut self.length, &mut self.chunked) {
            return Ok(());
        }
        match &mut self.fields {
            Fields::Encoded(out) => crate::http::hpack::literal(out, name, value),
            Fields::Map(map) => {
                let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(name),
                    HeaderValue::from_maybe_shared(b.slice_ref(value)),
                ) else {
                    return Err("a response field HTTP/2 cannot carry");
                };
                map.append(n, v);
                Ok(())
            }
        }
    }

    fn finish(self, len: usize, head_request: bool) -> ResponseHead {
        let body = body_of(self.status, head_request, self.chunked, self.length);
        ResponseHead {
            len,
            status: self.status,
            fields: match self.fields {
                Fields::Map(m) => HeadFields::Map(m),
                Fields::Encoded(e) => HeadFields::Encoded(e.into()),
            },
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Limits, from_layout, parse_request};

    fn parts(req: http::Request<()>) -> http::request::Parts {
        req.into_parts().0
    }

    fn head(req: http::Request<()>, ended: bool) -> (String, RequestBody) {
        let mut out = Vec::new();
        let (body, _) = request_head(&parts(req), ended, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), body)
    }

    /// The head the translation wrote, read through its layout and parsed as text: the same
    /// head or the same error (field by field, as `Debug` shows them).
    fn layout_reads_as_parse(req: http::Request<()>, ended: bool, limits: &Limits) -> String {
        let mut out = Vec::new();
        let Ok((_, layout)) = request_head(&parts(req), ended, &mut out) else {
            return "refused".into();
        };
        let by_layout = format!("{:?}", from_layout(&out, limits, layout).map(Some));
        let by_parse = format!("{:?}", parse_request(&out, limits));
        assert_eq!(by_layout, by_parse, "{}", String::from_utf8_lossy(&out));
        by_layout
    }

    const ROOMY: Limits = Limits {
        max_request_line: 8192,
        max_field_line: 8192,
        max_head: 32768,
        max_headers: 100,
    };

    #[test]
    fn a_written_head_reads_through_its_layout_as_its_parse_does() {
        let r = || http::Request::builder().uri("https://example.com/a?b=1");
        let cases: Vec<(http::Request<()>, bool)> = vec![
            (r().header("accept", "*/*").body(()).unwrap(), true),
            (
                r().header("cookie", "a=1")
                    .header("cookie", " b=2 ")
                    .body(())
                    .unwrap(),
                true,
            ),
            (
                r().method("POST")
                    .header("content-length", "3")
                    .body(())
                    .unwrap(),
                false,
            ),
            (
                r().method("POST")
                    .header("content-length", "x")
                    .body(())
                    .unwrap(),
                false,
            ),
            (
                r().method("POST")
                    .header("content-length", "3")
                    .header("content-length", "4")
                    .body(())
                    .unwrap(),
                false,
            ),
            (
                r().method("POST")
                    .header("content-length", "3, 3")
                    .body(())
                    .unwrap(),
                false,
            ),
            (r().method("PUT").body(()).unwrap(), false),
            (
                r().header("x-pad", "  both ends \t")
                    .header("x-empty", "")
                    .body(())
                    .unwrap(),
                true,
            ),
            (
                r().header("expect", "100-continue").body(()).unwrap(),
                false,
            ),
            (r().header("connection", "close").body(()).unwrap(), true),
            (r().method("HEAD").body(()).unwrap(), true),
            (
                r().method("OPTIONS")
                    .uri("*")
                    .header("host", "a")
                    .body(())
                    .unwrap(),
                true,
            ),
            (r().uri("/no-host").body(()).unwrap(), true),
            (r().uri("/bad%zz").body(()).unwrap(), true),
            (r().uri("/nul%00").body(()).unwrap(), true),
            (r().uri("/x").header("host", "a%2").body(()).unwrap(), true),
            (r().uri("/x").header("host", "a b").body(()).unwrap(), true),
            (r().uri("https://[::1]:8443/").body(()).unwrap(), true),
            (
                r().method("CONNECT")
                    .uri("example.com:443")
                    .body(())
                    .unwrap(),
                false,
            ),
            (
                r().method("CONNECT").uri("example.com").body(()).unwrap(),
                false,
            ),
            (r().method("BREW").body(()).unwrap(), true),
        ];
        // A CONNECT without an authority would be written with an empty target: refused.
        let mut connect = http::Request::new(());
        *connect.method_mut() = http::Method::CONNECT;
        assert_eq!(
            layout_reads_as_parse(connect, false, &ROOMY),
            "refused",
            "an empty CONNECT target"
        );
        for (req, ended) in cases {
            layout_reads_as_parse(req, ended, &ROOMY);
        }
    }

    #[test]
    fn a_written_head_meets_the_size_limits_as_its_parse_does() {
        let tight = Limits {
            max_request_line: 40,
            max_field_line: 30,
            max_head: 120,
            max_headers: 4,
        };
        let r = || http::Request::builder().uri("https://example.com/a");
        let long = "x".repeat(40);
        let cases = [
            r().body(()).unwrap(),
            r().uri(format!("https://example.com/{long}"))
                .body(())
                .unwrap(),
            r().method(&*long.to_uppercase()).body(()).unwrap(),
            r().header("x-long", &long).body(()).unwrap(),
            r().header("a", "1")
                .header("b", "2")
                .header("c", "3")
                .header("d", "4")
                .body(())
                .unwrap(),
            r().header("a", &long[..25])
                .header("b", &long[..25])
                .header("c", &long[..25])
                .body(())
                .unwrap(),
        ];
        let answers: Vec<String> = cases
            .into_iter()
            .map(|req| layout_reads_as_parse(req, true, &tight))
            .collect();
        // Each limit was met (the answers differ), not only the first.
        assert!(answers[0].starts_with("Ok("), "{}", answers[0]);
        assert!(answers[1].contains("UriTooLong"), "{}", answers[1]);
        assert!(answers[2].contains("method too long"), "{}", answers[2]);
        assert!(answers[3].contains("field line longer"), "{}", answers[3]);
        assert!(answers[4].contains("more header fields"), "{}", answers[4]);
        assert!(answers[5].contains("head larger"), "{}", answers[5]);
    }

    #[test]
    fn request_becomes_http11_head() {
        let req = http::Request::builder()
            .method("GET")
            .uri("https://example.com/a?b=1")
            .header("accept", "*/*")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let (h, body) = head(req, true);
        assert_eq!(
            h,
            "GET /a?b=1 HTTP/1.1\r\nhost: example.com\r\naccept: */*\r\ncookie: a=1; b=2\r\n\r\n"
        );
        assert_eq!(body, RequestBody::None);
    }

    #[test]
    fn body_without_length_is_chunked() {
        let req = http::Request::builder()
            .method("POST")
            .uri("http://a/")
            .body(())
            .unwrap();
        let (h, body) = head(req, false);
        assert!(h.ends_with("transfer-encoding: chunked\r\n\r\n"), "{h}");
        assert_eq!(body, RequestBody::Chunked);
        let req = http::Request::builder()
            .method("POST")
            .uri("http://a/")
            .header("content-length", "3")
            .body(())
            .unwrap();
        assert_eq!(head(req, false).1, RequestBody::Length);
    }

    #[test]
    fn host_must_match_authority() {
        let req = http::Request::builder()
            .uri("http://a/")
            .header("host", "b")
            .body(())
            .unwrap();
        let mut out = Vec::new();
        assert!(request_head(&parts(req), true, &mut out).is_err());
        let req = http::Request::builder()
            .uri("/x")
            .header("host", "b")
            .body(())
            .unwrap();
        let (h, _) = head(req, true);
        assert!(h.starts_with("GET /x HTTP/1.1\r\nhost: b\r\n"), "{h}");
    }

    #[test]
    fn own_heads_split_as_httparse_parses_them() {
        let heads: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nServer: ringway\r\nContent-Length: 5\r\nETag: \"a\"\r\n\r\nhello",
            b"HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\n\r\n",
            b"HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n5\r\n",
            b"HTTP/1.1 204 No Content\r\nX-Empty: \r\nUpgrade: h2c\r\nProxy-Connection: x\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
            b"HTTP/1.1 101 Switching\r\nX: y\r\n\r\n",
            // Incomplete: partial, from either.
            b"HTTP/1.1 200 OK\r\nServer: x\r\n",
            b"HTTP/1.1 200 OK\r\nServer: x",
            // Forms ringway does not write: httparse decides.
            b"HTTP/1.1 200 OK\r\nServer:x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nServer:  x \r\n\r\n",
            b"HTTP/1.1 200 OK\nServer: x\n\n",
            b"HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n",
            b"HTTP/2.0 200 OK\r\n\r\n",
            // Refused by both.
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",
            b"HTTP/1.1 20x OK\r\n\r\n",
            b"HTTP/1.1 099 Low\r\n\r\n",
            b"HTTP/1.1 200 O\x7fK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n: empty\r\n\r\n",
            // Found by the fuzz target: a dropped field's bad byte must fail the head too.
            b"HTTP/1.1 200 OK\r\nConnection: cl\0ose\r\nX: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nKeep-Alive: a\x7fb\r\n\r\n",
        ];
        for &h in heads {
            let b = bytes::Bytes::copy_from_slice(h);
            for head_request in [false, true] {
                // Split or parsed, as a map or as HPACK: one reading.
                let map = reading(parsed_head(&b, head_request, Want::Map));
                for want in [Want::Map, Want::Encoded] {
                    for r in [
                        response_head(&b, head_request, want),
                        parsed_head(&b, head_request, want),
                    ] {
                        assert_eq!(reading(r), map, "{}", String::from_utf8_lossy(h));
                    }
                }
            }
        }
        let b = bytes::Bytes::copy_from_slice(heads[0]);
        assert!(
            own_head(&b, false, Want::Encoded).is_some(),
            "the form ringway writes is split"
        );
        let many: String = (0..OWN_FIELDS + 1)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect();
        let b = bytes::Bytes::from(format!("HTTP/1.1 200 OK\r\n{many}\r\n"));
        assert!(own_head(&b, false, Want::Map).is_none());
        let h = response_head(&b, false, Want::Map).unwrap().unwrap();
        assert_eq!(h.into_response().unwrap().headers().len(), OWN_FIELDS + 1);
    }

    #[test]
    fn response_head_drops_connection_fields() {
        let b = bytes::Bytes::from_static(b"HTTP/1.1 200 OK\r\nServer: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n");
        let h = response_head(&b, false, Want::Map).unwrap().unwrap();
        assert_eq!(&b[h.len..], b"5\r\n");
        assert_eq!(h.body, ResponseBody::Chunked);
        let response = h.into_response().unwrap();
        assert_eq!(response.headers().len(), 1);
        assert_eq!(response.headers()["server"], "x");
        let h = response_head(&b, false, Want::Encoded).unwrap().unwrap();
        let HeadFields::Encoded(block) = h.fields else {
            panic!("asked for HPACK")
        };
        // server is the static table's 54: 0f 27, then "x".
        assert_eq!(&block[..], [0x0f, 0x27, 1, b'x']);
        let b =
            bytes::Bytes::from_static(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(
            response_head(&b, false, Want::Encoded)
                .unwrap()
                .unwrap()
                .body,
            ResponseBody::None
        );
        let b = bytes::Bytes::from_static(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        let h = response_head(&b, false, Want::Encoded).unwrap().unwrap();
        assert_eq!(h.body, ResponseBody::Length(10));
        assert_eq!(
            response_head(&b, true, Want::Encoded)
                .unwrap()
                .unwrap()
                .body,
            ResponseBody::None
        );
        let partial = bytes::Bytes::from_static(b"HTTP/1.1 200 OK\r\n");
        assert!(
            response_head(&partial, false, Want::Encoded)
                .unwrap()
                .is_none()
        );
    }
}
