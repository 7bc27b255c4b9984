//! Invariant checks shared by the fuzz targets. Every check panics (a crash libFuzzer keeps) with
//! the input shown, so a failure reads without a debugger.

use ringway::http::request::{
    DEFAULT_MAX_HEADERS, Limits, RequestHead, from_layout, parse_request,
};
use ringway::http::response::{ResponseFraming, ResponseHead};
use ringway::http::{BodyFraming, HeaderSpan, Method, Span};

/// The proxy's default limits (`large_client_header_buffers 4 8k`: 8 KiB request line and
/// field line, 32 KiB head; nginx's `max_headers` 1000).
pub const DEFAULT_LIMITS: Limits = Limits {
    max_request_line: 8192,
    max_field_line: 8192,
    max_head: 32768,
    max_headers: DEFAULT_MAX_HEADERS,
};

/// Limits a fuzzer can reach quickly: small enough that inputs cross them often.
pub const SMALL_LIMITS: Limits = Limits {
    max_request_line: 48,
    max_field_line: 40,
    max_head: 160,
    max_headers: 6,
};

/// Limits wide enough for any head the rewriter can produce from a fuzzer input.
pub const REPARSE_LIMITS: Limits = Limits {
    max_request_line: 1 << 20,
    max_field_line: 1 << 20,
    max_head: 1 << 20,
    max_headers: 1 << 16,
};

pub fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// A span lies inside `buf[..head_len]` and is well-formed.
#[track_caller]
pub fn check_span(s: Span, head_len: usize, buf: &[u8], what: &str) {
    assert!(
        s.start <= s.end && s.end as usize <= head_len && head_len <= buf.len(),
        "{what} span {s:?} outside the head (head_len {head_len}): {}",
        show(buf)
    );
}

/// The field names of a head equal to `name` (ASCII case-insensitive).
pub fn fields<'a>(
    headers: &'a [HeaderSpan],
    buf: &'a [u8],
    name: &'a [u8],
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |h| h.name.get(buf).eq_ignore_ascii_case(name))
        .map(move |h| h.value.get(buf))
}

/// Strict `1*DIGIT` (with `n, n` lists), the way the framing must have read it.
pub fn content_length_value(v: &[u8]) -> Option<u64> {
    let mut out = None;
    for e in v.split(|&b| b == b',') {
        let e = e.trim_ascii();
        if e.is_empty() || !e.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n: u64 = std::str::from_utf8(e).ok()?.parse().ok()?;
        if out.is_some_and(|p| p != n) {
            return None;
        }
        out = Some(n);
    }
    out
}

/// Everything a parsed request head must satisfy, whatever the input.
pub fn check_request_head(buf: &[u8], h: &RequestHead, limits: &Limits) {
    let hl = h.head_len;
    assert!(hl <= buf.len() && hl >= 4, "head_len {hl}: {}", show(buf));
    assert!(hl <= limits.max_head, "head over the limit: {}", show(buf));
    assert_eq!(
        &buf[hl - 4..hl],
        b"\r\n\r\n",
        "head not ended by CRLFCRLF: {}",
        show(buf)
    );
    assert!(h.headers.len() <= limits.max_headers);
    // Every line fits one header buffer, its CRLF included (the final empty line aside).
    let mut lines = buf[..hl - 2]
        .split_inclusive(|&b| b == b'\n')
        .skip_while(|l| *l == b"\r\n");
    if let Some(line) = lines.next() {
        assert!(
            line.len() <= limits.max_request_line,
            "request line over the limit: {}",
            show(buf)
        );
    }
    for line in lines {
        assert!(
            line.len() <= limits.max_field_line,
            "field line over the limit: {}",
            show(buf)
        );
    }
    check_span(h.method_span, hl, buf, "method");
    check_span(h.target, hl, buf, "target");
    if let Some(host) = h.host {
        check_span(host, hl, buf, "host");
        assert!(host.start < host.end, "empty host accepted: {}", show(buf));
    }
    for f in &h.headers {
        check_span(f.name, hl, buf, "field name");
        check_span(f.value, hl, buf, "field value");
        let name = f.name.get(buf);
        assert!(!name.is_empty(), "empty field name: {}", show(buf));
        for &b in f.value.get(buf) {
            assert!(
                b == b'\t' || b >= 0x20 && b != 0x7f,
                "control byte {b:#x} in an accepted field value: {}",
                show(buf)
            );
        }
    }
    assert_eq!(
        Method::from_bytes(h.method_span.get(buf)),
        h.method,
        "method kind: {}",
        show(buf)
    );
    assert!(!h.target.get(buf).is_empty(), "empty target: {}", show(buf));

    // Framing must be unambiguous and agree with the fields.
    let te: Vec<&[u8]> = fields(&h.headers, buf, b"transfer-encoding").collect();
    let cl: Vec<&[u8]> = fields(&h.headers, buf, b"content-length").collect();
    match h.body {
        BodyFraming::Chunked => {
            assert!(
                !te.is_empty() && cl.is_empty(),
                "chunked with CL: {}",
                show(buf)
            );
            let last = te
                .iter()
                .flat_map(|v| v.split(|&b| b == b','))
                .map(<[u8]>::trim_ascii)
                .rfind(|e| !e.is_empty());
            assert!(
                last.is_some_and(|l| l.eq_ignore_ascii_case(b"chunked")),
                "chunked framing whose last coding is not chunked: {}",
                show(buf)
            );
        }
        BodyFraming::Length(n) => {
            assert!(te.is_empty(), "length framing with TE: {}", show(buf));
            for v in &cl {
                assert_eq!(
                    content_length_value(v),
                    Some(n),
                    "Content-Length field disagrees with framing: {}",
                    show(buf)
                );
            }
        }
        BodyFraming::None => assert!(
            te.is_empty() && cl.is_empty(),
            "no body but framing fields: {}",
            show(buf)
        ),
    }
    assert!(
        fields(&h.headers, buf, b"host").count() <= 1,
        "two Host fields accepted: {}",
        show(buf)
    );
}

/// Parsing stops at the head: the bytes after it never change the answer, and every strict
/// prefix of a complete head is "incomplete" (what the connection loop relies on when a head
/// arrives in pieces).
pub fn check_request_incremental(buf: &[u8], h: &RequestHead, limits: &Limits) {
    let hl = h.head_len;
    let again = parse_request(&buf[..hl], limits);
    match &again {
        Ok(Some(h2)) => assert_eq!(
            (h2.head_len, h2.body, h2.target, h2.host, h2.keep_alive),
            (hl, h.body, h.target, h.host, h.keep_alive),
            "head alone parses differently: {}",
            show(buf)
        ),
        other => panic!("head alone gives {other:?}: {}", show(buf)),
    }
    // Every prefix for short heads, a spread of them for long ones.
    let step = (hl / 64).max(1);
    for cut in (0..hl).step_by(step).chain(hl.saturating_sub(3)..hl) {
        match parse_request(&buf[..cut], limits) {
            Ok(None) => {}
            other => panic!(
                "prefix of {cut} bytes of a valid head gives {other:?}: {}",
                show(buf)
            ),
        }
    }
}

/// Everything a parsed response head must satisfy.
pub fn check_response_head(buf: &[u8], h: &ResponseHead, method: Method, max_head: usize) {
    let hl = h.head_len;
    assert!(
        hl <= buf.len() && hl <= max_head,
        "head_len {hl}: {}",
        show(buf)
    );
    assert!(
        (100..=999).contains(&h.status),
        "status {}: {}",
        h.status,
        show(buf)
    );
    check_span(h.reason, hl, buf, "reason");
    for &b in h.reason.get(buf) {
        assert!(
            b == b'\t' || b >= 0x20 && b != 0x7f,
            "control byte {b:#x} in the reason: {}",
            show(buf)
        );
    }
    for f in &h.headers {
        check_span(f.name, hl, buf, "field name");
        check_span(f.value, hl, buf, "field value");
        assert!(!f.name.get(buf).is_empty());
        for &b in f.value.get(buf) {
            assert!(
                b == b'\t' || b >= 0x20 && b != 0x7f,
                "control byte {b:#x} in an accepted field value: {}",
                show(buf)
            );
        }
    }
    let no_body = method == Method::Head || h.status < 200 || h.status == 204 || h.status == 304;
    let te = fields(&h.headers, buf, b"transfer-encoding").count();
    let cl: Vec<&[u8]> = fields(&h.headers, buf, b"content-length").collect();
    match h.framing {
        ResponseFraming::None => assert!(no_body, "no body for {}: {}", h.status, show(buf)),
        ResponseFraming::Length(n) => {
            assert!(!no_body && te == 0, "length framing: {}", show(buf));
            for v in &cl {
                assert_eq!(content_length_value(v), Some(n), "CL: {}", show(buf));
            }
        }
        ResponseFraming::Chunked => {
            assert!(!no_body && te > 0, "chunked framing: {}", show(buf));
            assert!(
                cl.is_empty() || !h.keep_alive,
                "TE+CL kept alive: {}",
                show(buf)
            );
        }
        ResponseFraming::Close => {
            assert!(!no_body && !h.keep_alive, "close framing: {}", show(buf));
        }
    }
}

/// Cuts `data` at positions drawn from `seed` bytes: ascending offsets into `0..=len`.
pub fn cuts_from(seed: &[u8], len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = seed
        .chunks(2)
        .map(|c| {
            let v = usize::from(c[0]) << 8 | usize::from(*c.get(1).unwrap_or(&0));
            if len == 0 { 0 } else { v % (len + 1) }
        })
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// `data` read as an HTTP/2 request (a first line `METHOD URI`, then `name:value` lines; what
/// the `http` crate refuses, as `h2` would, is left out), translated to an HTTP/1.1 head: read
/// through the layout the translation noted, it gives what a parse of the same bytes gives.
pub fn check_h2_translation(data: &[u8]) {
    let mut lines = data.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let mut words = first.splitn(2, |&b| b == b' ');
    let (Some(method), Some(uri)) = (words.next(), words.next()) else {
        return;
    };
    let Ok(req) = http::Request::builder().method(method).uri(uri).body(()) else {
        return;
    };
    let (mut parts, ()) = req.into_parts();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = http::HeaderName::from_bytes(&line[..colon]);
        let value = http::HeaderValue::from_bytes(&line[colon + 1..]);
        if let (Ok(n), Ok(v)) = (name, value) {
            parts.headers.append(n, v);
        }
    }
    let ended = data.len() % 2 == 0;
    for limits in [&DEFAULT_LIMITS, &SMALL_LIMITS] {
        let mut out = Vec::new();
        let Ok((_, layout)) = ringway::http::h2::request_head(&parts, ended, &mut out) else {
            return;
        };
        let by_layout = format!("{:?}", from_layout(&out, limits, layout).map(Some));
        let by_parse = format!("{:?}", parse_request(&out, limits));
        assert_eq!(by_layout, by_parse, "{}", show(&out));
    }
}
