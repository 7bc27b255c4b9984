//! Request head parsing: httparse plus RFC 9112 framing rules → a typed `RequestHead` or a typed
//! `ParseError` that knows its status (400/414/501/505) and its cause. A head ringway wrote
//! itself (an HTTP/2 stream's) is checked through the layout its writer noted (`from_layout`).

use std::mem::MaybeUninit;

use super::util::{
    ConnectionTokens, TransferCodings, eq_nocase, find_byte, is_tchar, leading_empty_lines,
    list_has, merge_content_length, offset_in,
};
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
            Method::Get
                | Method::Head
                | Method::Put
                | Method::Delete
                | Method::Options
                | Method::Trace
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
    /// Connection lists options other than `keep-alive` and `upgrade`: the rewriter then checks
    /// every field against them (noted while parsing, so most requests skip that).
    pub connection_options: bool,
}

/// The size limits of a request head. The proxy fills them from `large_client_header_buffers
/// NUMBER SIZE` as nginx applies it: the request line and each field line must fit one buffer
/// (SIZE, CRLF included), the whole head all of them (NUMBER × SIZE); and nginx's `max_headers`
/// default for the count.
pub struct Limits {
    /// Largest request line accepted, its CRLF included (longer → 414).
    pub max_request_line: usize,
    /// Largest field line accepted, its CRLF included (longer → 400, as nginx's "Request Header
    /// Or Cookie Too Large").
    pub max_field_line: usize,
    /// Largest whole head accepted (larger → 400, as nginx).
    pub max_head: usize,
    /// Most header fields accepted (more → 400, as nginx's `max_headers`). Not a hidden cap:
    /// heads with more than `STACK_HEADERS` fields are indexed in a heap array, bounded only by
    /// this and by `max_head`.
    pub max_headers: usize,
}

impl Method {
    /// Maps a method token (case-sensitive, RFC 9110 §9.1: `get` is not `GET`).
    pub fn from_bytes(m: &[u8]) -> Method {
        match m {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"PATCH" => Method::Patch,
            b"CONNECT" => Method::Connect,
            b"TRACE" => Method::Trace,
            _ => Method::Other,
        }
    }
}

impl RequestHead {
    /// The path and query of the request-target: the target itself in origin-form; in
    /// absolute-form (`http://a.example/p?q`) the part after the authority (`/p?q`), which is
    /// empty or starts with `?` when the URI has no path (the origin-form is then `/` + it); the
    /// whole target for `*` and authority-form.
    pub fn path_and_query<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let target = self.target.get(buf);
        if target.first() == Some(&b'/') {
            return target;
        }
        match self.host {
            Some(h) if self.host_in_target() => &buf[h.end as usize..self.target.end as usize],
            _ => target,
        }
    }

    /// The host comes from an absolute-form target, not from the Host field (RFC 9112 §3.2.2:
    /// a proxy then ignores the Host field and uses the target's authority).
    pub fn host_in_target(&self) -> bool {
        self.host
            .is_some_and(|h| h.start >= self.target.start && h.end <= self.target.end)
    }
}

/// Header fields indexed in an on-stack httparse array: covers nearly every head. A head with
/// more fields is parsed again into a heap array (see `Limits::max_headers`).
pub const STACK_HEADERS: usize = 128;

/// nginx's `max_headers` default (nginx ≥ 1.29.8; Debian backports it): more fields → 400.
pub const DEFAULT_MAX_HEADERS: usize = 1000;

/// Fewest bytes a field line takes (`a:` and a line end): a head of `n` bytes holds at most
/// `n / MIN_FIELD_LINE` fields.
const MIN_FIELD_LINE: usize = 3;

/// A request line that overflows `max_request_line` while its method token is still longer than
/// this is answered 400 (a garbage method), not 414.
const MAX_METHOD_LEN: usize = 32;

/// Parses a request head from the start of `buf`. `Ok(None)`: incomplete, read more (unless
/// `buf.len()` already exceeds the limits, which is an error). Never panics on any input.
///
/// Choices on points the RFCs leave open (all in the strict direction):
/// - bare LF line terminators (RFC 9112 §2.2 MAY accept) → 400; leading empty lines (CRLF)
///   before the request-line are skipped and counted in `head_len`;
/// - `HTTP/1.x` with x ≥ 2 is processed as HTTP/1.1 (RFC 9110 §2.5 / §6.2); any other well-formed
///   `HTTP/d.d` (HTTP/2.0, HTTP/0.9, HTTP/9.9…) → 505; a malformed version → 400;
/// - Content-Length: `1*DIGIT`, leading zeros allowed (`00005` is 5, as in nginx); identical
///   repeated values (`5, 5`, two fields of `5`, or `5` and `005`) collapse to one; anything
///   else → 400;
/// - Transfer-Encoding: final coding not `chunked`, `chunked` twice, parameters on `chunked`,
///   both TE and CL, or TE in HTTP/1.0 → 400; another coding before a final `chunked` → 501;
/// - request-target: origin-form (`/…`), absolute-form (`http://` or `https://`, whose authority
///   becomes `host`), authority-form only with CONNECT, `*` only with OPTIONS; non-ASCII, `#`
///   (fragment), malformed `%XX` and `%00` → 400;
/// - Host: required on HTTP/1.1, exactly one field, `uri-host [ ":" port ]` without userinfo,
///   path, commas or spaces, non-empty → otherwise 400 (also when absolute-form overrides it);
///   `port = *DIGIT` of any value (`name:99999` is valid syntax: routing ignores the port);
/// - sizes (`Limits`): request line over one buffer → 414; a field line over one buffer, a head
///   over all of them, or more than `max_headers` fields → 400 (nginx's statuses).
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Option<RequestHead>, ParseError> {
    parse_request_inner(buf, limits, true)
}

fn parse_request_inner(
    buf: &[u8],
    limits: &Limits,
    patch_minor: bool,
) -> Result<Option<RequestHead>, ParseError> {
    let mut storage = [MaybeUninit::<httparse::Header<'_>>::uninit(); STACK_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(buf, &mut storage) {
        Ok(httparse::Status::Complete(len)) => parsed(buf, limits, &req, len),
        Ok(httparse::Status::Partial) => incomplete(buf, limits),
        Err(httparse::Error::TooManyHeaders) => parse_many_fields(buf, limits, patch_minor),
        Err(httparse::Error::Version) => version_error(buf, limits, patch_minor),
        Err(e) => Err(httparse_error(buf, e)),
    }
}

/// More fields than `STACK_HEADERS`: parses again into a heap array as large as the limits allow
/// (`max_headers`, and as many as `max_head` bytes can hold), one more to tell "too many".
#[cold]
#[inline(never)]
fn parse_many_fields(
    buf: &[u8],
    limits: &Limits,
    patch_minor: bool,
) -> Result<Option<RequestHead>, ParseError> {
    let cap = most_fields(limits).saturating_add(1);
    let mut storage = vec![MaybeUninit::<httparse::Header<'_>>::uninit(); cap];
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(buf, &mut storage) {
        Ok(httparse::Status::Complete(len)) => parsed(buf, limits, &req, len),
        Ok(httparse::Status::Partial) => incomplete(buf, limits),
        // More fields than allowed, or than `max_head` bytes can hold (then the head cannot
        // fit, whatever comes next). A line over its limit comes first, as nginx meets it first.
        Err(httparse::Error::TooManyHeaders) => {
            Err(long_line(buf, limits).unwrap_or_else(|| too_many_fields(limits)))
        }
        Err(httparse::Error::Version) => version_error(buf, limits, patch_minor),
        Err(e) => Err(httparse_error(buf, e)),
    }
}

/// The most fields a head may have: `max_headers`, and no more than `max_head` bytes can hold.
fn most_fields(limits: &Limits) -> usize {
    limits.max_headers.min(limits.max_head / MIN_FIELD_LINE)
}

/// More fields than `max_headers`, or than `max_head` bytes can hold (then the head cannot fit,
/// whatever comes next): the answer for a head of more than `STACK_HEADERS` fields.
fn too_many_fields(limits: &Limits) -> ParseError {
    let by_bytes = limits.max_head / MIN_FIELD_LINE;
    ParseError::HeadersTooLarge(if limits.max_headers >= by_bytes {
        HEAD_TOO_LARGE
    } else {
        TOO_MANY_FIELDS
    })
}

const HEAD_TOO_LARGE: &str = "head larger than all header buffers together";
const FIELD_TOO_LONG: &str = "field line longer than one header buffer";
const TOO_MANY_FIELDS: &str = "more header fields than max_headers";

/// The checks and the typed head, once httparse found a complete head of `head_len` bytes.
#[inline(always)]
fn parsed(
    buf: &[u8],
    limits: &Limits,
    req: &httparse::Request<'_, '_>,
    head_len: usize,
) -> Result<Option<RequestHead>, ParseError> {
    let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(ParseError::BadRequest("invalid request line"));
    };

    // Limits first: a head we will not process is not worth validating.
    let method_start = offset_in(buf, method.as_bytes());
    let target_start = offset_in(buf, path.as_bytes());
    let target_end = target_start + path.len();
    let fields = &*req.headers;
    let name_starts = fields.iter().map(|f| offset_in(buf, f.name.as_bytes()));
    check_lines(buf, limits, name_starts, method_start, target_end, head_len)?;
    check_totals(limits, fields.len(), head_len)?;

    let version = if minor == 1 {
        Version::Http11
    } else {
        Version::Http10
    };
    let mut headers = Vec::with_capacity(fields.len());
    let mut facts = FieldFacts::default();
    for f in fields {
        let name = f.name.as_bytes();
        let value_span = span(offset_in(buf, f.value), f.value.len());
        headers.push(HeaderSpan {
            name: span(offset_in(buf, name), name.len()),
            value: value_span,
        });
        facts.note(name, f.value, value_span)?;
    }

    if !crlf_line_endings(buf, method_start, &headers, head_len) {
        return Err(ParseError::BadRequest("line not terminated by CRLF"));
    }
    let line = RequestLine {
        method: Method::from_bytes(method.as_bytes()),
        method_span: span(method_start, method.len()),
        target: span(target_start, path.len()),
        version,
    };
    facts.into_head(buf, line, headers, head_len).map(Some)
}

/// Where the parts of a request head lie in its buffer, as the code that wrote the head knows
/// them (`http::h2::request_head`): `from_layout` checks such a head without parsing it again.
#[derive(Debug, Default)]
pub struct HeadLayout {
    pub method: Span,
    pub target: Span,
    pub fields: Vec<HeaderSpan>,
}

/// An HTTP/1.1 request head that ringway wrote itself into `buf` (the head, nothing after it),
/// laid out as `layout` says: the checks `parse_request` makes of what a head means (sizes,
/// framing, Host, the target), not those of its syntax. The writer wrote one `name: value` line
/// per field, each ended by CRLF, from a method, a target, names and values the `http` crate
/// validated; a head that reads the same through `parse_request` gives the same answer
/// (a unit test and the `request_head` fuzz target compare them).
pub fn from_layout(
    buf: &[u8],
    limits: &Limits,
    layout: HeadLayout,
) -> Result<RequestHead, ParseError> {
    let HeadLayout {
        method,
        target,
        fields,
    } = layout;
    let head_len = buf.len();
    // A field line runs from its name to the next one's (its value's span leaves out the
    // whitespace at the line's end).
    let name_starts = fields.iter().map(|f| f.name.start as usize);
    let (method_start, target_end) = (method.start as usize, target.end as usize);
    check_lines(buf, limits, name_starts, method_start, target_end, head_len)?;
    // As `parse_many_fields` answers a head of many fields, before looking at its size.
    if fields.len() > STACK_HEADERS && fields.len() > most_fields(limits) {
        return Err(too_many_fields(limits));
    }
    check_totals(limits, fields.len(), head_len)?;
    let (Some(method_bytes), Some(_)) = (buf.get(method.range()), buf.get(target.range())) else {
        return Err(ParseError::BadRequest("invalid request line"));
    };
    let mut facts = FieldFacts::default();
    for f in &fields {
        let (Some(name), Some(value)) = (buf.get(f.name.range()), buf.get(f.value.range())) else {
            return Err(ParseError::BadRequest("invalid header field"));
        };
        facts.note(name, value, f.value)?;
    }
    let line = RequestLine {
        method: Method::from_bytes(method_bytes),
        method_span: method,
        target,
        version: Version::Http11,
    };
    facts.into_head(buf, line, fields, head_len)
}

/// The request line's parts, as found.
struct RequestLine {
    method: Method,
    method_span: Span,
    target: Span,
    version: Version,
}

/// What a head's fields say of its framing, its host and its connection, noted field by field.
#[derive(Default)]
struct FieldFacts<'a> {
    host_value: Option<&'a [u8]>,
    host_span: Option<Span>,
    host_count: u32,
    content_length: Option<u64>,
    te: TransferCodings,
    conn: ConnectionTokens,
    has_upgrade: bool,
    expect_continue: bool,
}

impl<'a> FieldFacts<'a> {
    #[inline(always)]
    fn note(&mut self, name: &[u8], value: &'a [u8], value_span: Span) -> Result<(), ParseError> {
        match name.len() {
            4 if eq_nocase(name, b"host") => {
                self.host_count += 1;
                self.host_value = Some(value);
                self.host_span = Some(value_span);
            }
            6 if eq_nocase(name, b"expect") => {
                self.expect_continue |= list_has(value, b"100-continue");
            }
            7 if eq_nocase(name, b"upgrade") => self.has_upgrade = true,
            10 if eq_nocase(name, b"connection") => self.conn.add(value),
            14 if eq_nocase(name, b"content-length") => {
                merge_content_length(&mut self.content_length, value)?;
            }
            17 if eq_nocase(name, b"transfer-encoding") => self.te.add(value),
            _ => {}
        }
        Ok(())
    }

    /// The framing, Host and target checks, then the typed head.
    #[inline(always)]
    fn into_head(
        self,
        buf: &[u8],
        line: RequestLine,
        headers: Vec<HeaderSpan>,
        head_len: usize,
    ) -> Result<RequestHead, ParseError> {
        let version = line.version;
        let body = body_framing(&self.te, self.content_length, version)?;
        check_host(self.host_count, self.host_value, version)?;
        let (target_start, target_end) = (line.target.start as usize, line.target.end as usize);
        let mut host = self.host_span;
        if let Some(authority) = check_target(buf, line.method, target_start, target_end)? {
            host = Some(authority);
        }
        let http11 = version == Version::Http11;
        Ok(RequestHead {
            method: line.method,
            method_span: line.method_span,
            target: line.target,
            version,
            headers,
            head_len,
            body,
            host,
            keep_alive: self.conn.persistent(http11),
            // RFC 9110 §10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
            expect_continue: http11 && self.expect_continue,
            // RFC 9110 §7.8: Upgrade in an HTTP/1.0 request is ignored.
            upgrade: http11 && self.conn.upgrade && self.has_upgrade,
            connection_options: self.conn.other,
        })
    }
}

/// The size limits of lines: the request line and each field line (from its name, at
/// `name_starts`, to the next one's) within one buffer. Checked first, as nginx meets them.
#[inline(always)]
fn check_lines(
    buf: &[u8],
    limits: &Limits,
    name_starts: impl Iterator<Item = usize>,
    method_start: usize,
    target_end: usize,
    head_len: usize,
) -> Result<(), ParseError> {
    // request-line = method SP request-target SP HTTP-version (8 bytes), then CRLF
    if (target_end + 11).saturating_sub(method_start) > limits.max_request_line {
        return Err(line_too_long(buf.get(method_start..).unwrap_or_default()));
    }
    // A field line can only be too long in a head longer than one buffer.
    if head_len.saturating_sub(method_start) > limits.max_field_line
        && let Some(e) = long_field_line(name_starts, head_len, limits.max_field_line)
    {
        return Err(e);
    }
    Ok(())
}

/// The size limits of the whole head: within all the buffers, its field count within
/// `max_headers`.
#[inline(always)]
fn check_totals(limits: &Limits, fields: usize, head_len: usize) -> Result<(), ParseError> {
    if head_len > limits.max_head || head_len > u32::MAX as usize {
        return Err(ParseError::HeadersTooLarge(HEAD_TOO_LARGE));
    }
    if fields > limits.max_headers {
        return Err(ParseError::HeadersTooLarge(TOO_MANY_FIELDS));
    }
    Ok(())
}

/// The body's framing (RFC 9112 §6.1, §6.3).
#[inline(always)]
fn body_framing(
    te: &TransferCodings,
    content_length: Option<u64>,
    version: Version,
) -> Result<BodyFraming, ParseError> {
    Ok(if te.present {
        if version == Version::Http10 {
            return Err(ParseError::BadRequest(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        if let Some(why) = te.error {
            return Err(ParseError::BadRequest(why));
        }
        if te.chunked_count > 1 {
            return Err(ParseError::BadRequest("chunked applied more than once"));
        }
        if !te.chunked_last {
            return Err(ParseError::BadRequest(
                "final transfer coding is not chunked",
            ));
        }
        if content_length.is_some() {
            return Err(ParseError::BadRequest(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        if te.other {
            return Err(ParseError::NotImplemented(
                "transfer coding other than chunked",
            ));
        }
        BodyFraming::Chunked
    } else if let Some(n) = content_length {
        BodyFraming::Length(n)
    } else {
        BodyFraming::None
    })
}

/// Host (RFC 9112 §3.2): one, valid, and present in HTTP/1.1.
#[inline(always)]
fn check_host(
    host_count: u32,
    host_value: Option<&[u8]>,
    version: Version,
) -> Result<(), ParseError> {
    if host_count > 1 {
        return Err(ParseError::BadRequest("duplicate Host field"));
    }
    match host_value {
        Some(v) if !valid_authority(v, false) => {
            return Err(ParseError::BadRequest("invalid Host field"));
        }
        None if version == Version::Http11 => {
            return Err(ParseError::BadRequest("missing Host field"));
        }
        _ => {}
    }
    Ok(())
}

/// The request-target's form (RFC 9112 §3.2); an absolute-form target's authority, which then
/// stands for the Host field.
#[inline(always)]
fn check_target(
    buf: &[u8],
    method_kind: Method,
    target_start: usize,
    target_end: usize,
) -> Result<Option<Span>, ParseError> {
    let Some(target) = buf.get(target_start..target_end).filter(|t| !t.is_empty()) else {
        return Err(ParseError::BadRequest("invalid request-target"));
    };
    if method_kind == Method::Connect {
        if !valid_authority(target, true) {
            return Err(ParseError::BadRequest(
                "CONNECT needs an authority-form target",
            ));
        }
    } else if target[0] == b'/' {
        valid_path_query(target)?;
    } else if target == b"*" {
        if method_kind != Method::Options {
            return Err(ParseError::BadRequest(
                "asterisk-form target outside OPTIONS",
            ));
        }
    } else {
        let (start, end) = absolute_form_authority(target)?;
        return Ok(Some(span(target_start + start, end - start)));
    }
    Ok(None)
}

#[inline]
fn span(start: usize, len: usize) -> Span {
    Span {
        start: start as u32,
        end: (start + len) as u32,
    }
}

/// Whether a field line is longer than `max` (CRLF included): a line runs from its name (at
/// `starts`) to the next field's name, the last one to the empty line that ends the head.
fn long_field_line(
    mut starts: impl Iterator<Item = usize>,
    head_len: usize,
    max: usize,
) -> Option<ParseError> {
    let mut prev = starts.next()?;
    for start in starts.chain([head_len.saturating_sub(2)]) {
        if start.saturating_sub(prev) > max {
            return Some(ParseError::HeadersTooLarge(FIELD_TOO_LONG));
        }
        prev = start;
    }
    None
}

/// The head is incomplete: fine unless it already overflows a limit.
fn incomplete(buf: &[u8], limits: &Limits) -> Result<Option<RequestHead>, ParseError> {
    let shortest_line = limits.max_request_line.min(limits.max_field_line);
    if buf.len().saturating_add(2) <= shortest_line && buf.len() <= limits.max_head {
        return Ok(None);
    }
    if let Some(e) = long_line(buf, limits) {
        return Err(e);
    }
    if buf.len() > limits.max_head {
        return Err(ParseError::HeadersTooLarge(HEAD_TOO_LARGE));
    }
    Ok(None)
}

/// The first line of the head in `buf` that is longer than one header buffer, the last one
/// perhaps still incomplete: the request line (414, see `line_too_long`), then each field line
/// (400), in the order nginx meets them. A line's CRLF counts; a final CR may be the end of a
/// line of exactly the allowed length whose LF is still on its way; leading empty lines do not
/// count (as for a complete head).
fn long_line(buf: &[u8], limits: &Limits) -> Option<ParseError> {
    let mut rest = &buf[leading_empty_lines(buf)..];
    let mut request_line = true;
    loop {
        let (line, next) = match find_byte(rest, b'\n') {
            Some(lf) => (&rest[..lf], Some(&rest[lf + 1..])),
            None => (rest, None),
        };
        let content = line.strip_suffix(b"\r").unwrap_or(line);
        let max = if request_line {
            limits.max_request_line
        } else {
            limits.max_field_line
        };
        if content.len().saturating_add(2) > max {
            return Some(if request_line {
                line_too_long(rest)
            } else {
                ParseError::HeadersTooLarge(FIELD_TOO_LONG)
            });
        }
        match next {
            // The empty line ends the head: what follows is a body.
            Some(_) if content.is_empty() && !request_line => return None,
            Some(next) => rest = next,
            None => return None,
        }
        request_line = false;
    }
}

/// The cause of an httparse error, found by looking at the line it stopped on (the error path
/// only: httparse says which kind of error, not where).
#[cold]
#[inline(never)]
fn httparse_error(buf: &[u8], e: httparse::Error) -> ParseError {
    let why = match e {
        httparse::Error::Version => "invalid HTTP version",
        httparse::Error::HeaderName | httparse::Error::HeaderValue | httparse::Error::NewLine => {
            diagnose_head(buf).unwrap_or(match e {
                httparse::Error::HeaderName => "invalid field name",
                httparse::Error::HeaderValue => "invalid character in field value",
                _ => "invalid line ending",
            })
        }
        _ => diagnose_head(buf).unwrap_or("invalid request line"),
    };
    ParseError::BadRequest(why)
}

/// The first defect in the request line or a field line of `buf`, in words.
fn diagnose_head(buf: &[u8]) -> Option<&'static str> {
    let mut rest = &buf[leading_empty_lines(buf)..];
    let (line, next) = split_line(rest);
    if let Some(why) = diagnose_request_line(line) {
        return Some(why);
    }
    rest = next?;
    loop {
        let (line, next) = split_line(rest);
        if line.is_empty() || line == b"\r" {
            return None;
        }
        if let Some(why) = diagnose_field_line(line, next.is_some()) {
            return Some(why);
        }
        rest = next?;
    }
}

/// A line up to its LF (excluded), and what follows the LF (None: no LF yet).
fn split_line(b: &[u8]) -> (&[u8], Option<&[u8]>) {
    match find_byte(b, b'\n') {
        Some(lf) => (&b[..lf], Some(&b[lf + 1..])),
        None => (b, None),
    }
}

fn diagnose_request_line(line: &[u8]) -> Option<&'static str> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.contains(&b'\r') {
        return Some("bare CR in request line");
    }
    let method_len = line.iter().take_while(|&&b| is_tchar(b)).count();
    match line.get(method_len) {
        _ if method_len == 0 => return Some("invalid method token"),
        Some(b' ') | None => {}
        Some(b'\t') => return Some("whitespace other than one SP in request line"),
        Some(_) => return Some("invalid method token"),
    }
    let rest = line.get(method_len + 1..).unwrap_or_default();
    if rest.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Some("whitespace other than one SP in request line");
    }
    let target_len = rest.iter().take_while(|&&b| b > b' ' && b != 0x7f).count();
    match rest.get(target_len) {
        Some(b' ') if rest.get(target_len + 1) == Some(&b' ') => {
            Some("whitespace other than one SP in request line")
        }
        Some(b' ') | None => None,
        Some(b'\t') => Some("whitespace other than one SP in request line"),
        Some(_) => Some("invalid character in request-target"),
    }
}

fn diagnose_field_line(line: &[u8], ended: bool) -> Option<&'static str> {
    let content = line.strip_suffix(b"\r").unwrap_or(line);
    if content.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Some("obs-fold in field line (a line starting with whitespace)");
    }
    let name_len = content.iter().take_while(|&&b| is_tchar(b)).count();
    match content.get(name_len) {
        Some(b':') if name_len == 0 => return Some("empty field name"),
        Some(b':') => {}
        Some(b' ' | b'\t') => return Some("whitespace between field name and colon"),
        Some(b'\r') => return Some("bare CR in field line"),
        Some(_) => return Some("invalid character in field name"),
        None if ended => return Some("field line without a colon"),
        None => return None,
    }
    for &b in &content[name_len + 1..] {
        match b {
            b'\r' => return Some("bare CR in field line"),
            b'\t' | 0x20..=0x7e | 0x80..=0xff => {}
            _ => return Some("invalid character in field value"),
        }
    }
    None
}

/// A request line over the limit: 414, unless its method token alone is absurdly long (garbage
/// rather than a long URI: 400).
fn line_too_long(line: &[u8]) -> ParseError {
    let method_len = find_byte(line, b' ').unwrap_or(line.len());
    if method_len > MAX_METHOD_LEN {
        ParseError::BadRequest("method too long")
    } else {
        ParseError::UriTooLong
    }
}

/// Whether `v` is a prefix of `HTTP/` DIGIT `.` DIGIT.
fn version_prefix(v: &[u8]) -> bool {
    v.len() <= 8
        && v.iter().enumerate().all(|(i, &b)| match i {
            0..=4 => b == b"HTTP/"[i],
            5 | 7 => b.is_ascii_digit(),
            _ => b == b'.',
        })
}

/// httparse only knows HTTP/1.0 and HTTP/1.1: sort out the other versions.
fn version_error(
    buf: &[u8],
    limits: &Limits,
    patch_minor: bool,
) -> Result<Option<RequestHead>, ParseError> {
    let rl_start = leading_empty_lines(buf);
    let rest = &buf[rl_start..];
    let (line, complete) = match find_byte(rest, b'\n') {
        Some(lf) => match rest[..lf].strip_suffix(b"\r") {
            Some(line) => (line, true),
            None => return Err(ParseError::BadRequest("line not terminated by CRLF")),
        },
        None => (rest.strip_suffix(b"\r").unwrap_or(rest), false),
    };
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(m), Some(t), Some(v)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ParseError::BadRequest("invalid request line"));
    };
    if !complete {
        // Wait for the end of the line only while it can still become a valid version.
        return if version_prefix(v) {
            incomplete(buf, limits)
        } else {
            Err(ParseError::BadRequest("invalid HTTP version"))
        };
    }
    if v.len() != 8 || !version_prefix(v) {
        return Err(ParseError::BadRequest("invalid HTTP version"));
    }
    if v[5] != b'1' {
        return Err(ParseError::VersionNotSupported);
    }
    if !patch_minor {
        return Err(ParseError::BadRequest("invalid HTTP version"));
    }
    // HTTP/1.x, x ≥ 2: RFC 9110 §2.5 says to process it as the highest 1.x we implement. Parse a
    // copy whose minor digit reads 1; the layout is identical so the spans hold for `buf`.
    let vpos = rl_start + m.len() + 1 + t.len() + 1;
    let len = buf
        .len()
        .min(limits.max_head.saturating_add(1))
        .max(vpos + 8);
    let mut copy = buf[..len].to_vec();
    copy[vpos + 7] = b'1';
    parse_request_inner(&copy, limits, false)
}

/// RFC 9112 §2.2: every line of the head ends with CRLF (httparse also takes a bare LF).
/// Checks the empty lines before the request-line, the terminator before every field line, and
/// the final two.
fn crlf_line_endings(buf: &[u8], rl_start: usize, headers: &[HeaderSpan], head_len: usize) -> bool {
    let Some(lead) = buf.get(..rl_start) else {
        return false;
    };
    if lead.len() % 2 != 0 || !lead.chunks_exact(2).all(|p| p == b"\r\n") {
        return false;
    }
    for h in headers {
        let s = h.name.start as usize;
        if s < 2 || buf.get(s - 2..s) != Some(&b"\r\n"[..]) {
            return false;
        }
    }
    head_len >= 4 && buf.get(head_len - 4..head_len) == Some(&b"\r\n\r\n"[..])
}

#[inline]
fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// `is_reg_name_byte` of every byte value.
const REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_reg_name_byte(b as u8);
        b += 1;
    }
    table
};

/// unreserved / sub-delims of RFC 3986, without the comma (a Host list is never one host).
#[inline]
const fn is_reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b';'
                | b'='
        )
}

/// `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): no userinfo, path or whitespace;
/// the host must not be empty; `port = *DIGIT`, of any length and value (`name:99999` and
/// `name:0080` are valid syntax, as nginx up to 1.29.3 and the one installed here accept them;
/// nginx ≥ 1.29.4 refuses ports above 65535). Routing ignores the port. `port_required` for
/// CONNECT.
fn valid_authority(v: &[u8], port_required: bool) -> bool {
    let (host_ok, port) = if v.first() == Some(&b'[') {
        let Some(close) = find_byte(v, b']') else {
            return false;
        };
        let inner = &v[1..close];
        let ok = !inner.is_empty()
            && if inner[0] == b'v' || inner[0] == b'V' {
                // IPvFuture
                inner[1..].iter().all(|&b| is_reg_name_byte(b) || b == b':')
            } else {
                inner.iter().all(|&b| is_hex(b) || b == b':' || b == b'.')
            };
        match &v[close + 1..] {
            [] => (ok, None),
            [b':', port @ ..] => (ok, Some(port)),
            _ => return false,
        }
    } else {
        // One pass to the port's colon, a byte's class read from a table.
        let hex_at = |i: usize| v.get(i).is_some_and(|&b| is_hex(b));
        let mut i = 0;
        let end = loop {
            match v.get(i) {
                None => break v.len(),
                Some(&b) if REG_NAME[b as usize] => i += 1,
                Some(b':') => break i,
                // Hex digits are never the colon: a whole escape lies in the host.
                Some(b'%') if hex_at(i + 1) && hex_at(i + 2) => i += 3,
                Some(_) => return false,
            }
        };
        (end > 0, v.get(end + 1..))
    };
    if !host_ok {
        return false;
    }
    match port {
        None | Some([]) => !port_required,
        Some(p) => p.iter().all(u8::is_ascii_digit),
    }
}

/// Path and query of an origin-form (or the tail of an absolute-form) target: visible ASCII
/// without `#`; `%` must start a `%XX` escape other than `%00`.
fn valid_path_query(t: &[u8]) -> Result<(), ParseError> {
    let mut i = 0;
    while i < t.len() {
        match t[i] {
            b'%' => {
                let (Some(&h), Some(&l)) = (t.get(i + 1), t.get(i + 2)) else {
                    return Err(ParseError::BadRequest("invalid percent-encoding in target"));
                };
                if !is_hex(h) || !is_hex(l) {
                    return Err(ParseError::BadRequest("invalid percent-encoding in target"));
                }
                if h == b'0' && l == b'0' {
                    return Err(ParseError::BadRequest("%00 in request-target"));
                }
                i += 3;
            }
            b'#' => return Err(ParseError::BadRequest("fragment in request-target")),
            0x21..=0x7e => i += 1,
            _ => return Err(ParseError::BadRequest("invalid byte in request-target")),
        }
    }
    Ok(())
}

/// Validates an absolute-form target (`http://authority/path?query`, RFC 9112 §3.2.2) and returns
/// the authority's range inside it.
fn absolute_form_authority(t: &[u8]) -> Result<(usize, usize), ParseError> {
    let Some(scheme_len) = find_byte(t, b':') else {
        return Err(ParseError::BadRequest("invalid request-target"));
    };
    let scheme = &t[..scheme_len];
    if !eq_nocase(scheme, b"http") && !eq_nocase(scheme, b"https") {
        return Err(ParseError::BadRequest("invalid request-target"));
    }
    if t.get(scheme_len + 1..scheme_len + 3) != Some(&b"//"[..]) {
        return Err(ParseError::BadRequest("invalid request-target"));
    }
    let start = scheme_len + 3;
    let end = t[start..]
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .map_or(t.len(), |p| start + p);
    // RFC 9110 §4.2.1: empty host is invalid; §4.2.4: userinfo is treated as an error.
    if !valid_authority(&t[start..end], false) {
        return Err(ParseError::BadRequest(
            "invalid authority in request-target",
        ));
    }
    valid_path_query(&t[end..])?;
    Ok((start, end))
}

#[cfg(test)]
mod tests;
