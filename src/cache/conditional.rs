//! Answering a request from a stored entry: nginx's not_modified filter (412, 304) then its range
//! filter (206, 416), ported from `ngx_http_not_modified_filter_module.c` and
//! `ngx_http_range_filter_module.c`. nginx applies both only to a 200 response, so the runtime
//! calls [`evaluate`] only for a stored 200 and sends any other status in full.

use super::{first_field, parse_http_date};

/// How to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the whole body.
    Full,
    /// 304 (RFC 9110 §15.4.5).
    NotModified,
    /// 412 (RFC 9110 §15.5.13).
    PreconditionFailed,
    /// 206 with the bytes `start..=end`.
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len` ([`content_range_unsatisfied`]).
    Unsatisfiable,
}

/// The answer to a request with `fields` (name/value pairs, names in any case) for an entry with
/// these validators and body length.
///
/// - If-Unmodified-Since (not after Last-Modified, or no Last-Modified) and If-Match (strong,
///   byte-wise as nginx compares) → 412, checked first.
/// - If-None-Match (weak comparison, `*`, lists) and If-Modified-Since (nginx's default
///   `if_modified_since exact`: equal to Last-Modified) → 304 when every one present says
///   "not modified". For a method other than GET and HEAD, If-Modified-Since is ignored and a
///   matching If-None-Match is 412 (RFC 9110 §13.1.2, §13.1.3), and Range is ignored (§14.2).
/// - `Range: bytes=` with one satisfiable range (`a-b`, `a-`, `-n`) → Partial, none satisfiable
///   → Unsatisfiable, a syntax error → Unsatisfiable (as nginx). Several satisfiable ranges →
///   Full: **ringway answers 200 to a multi-range request** (nginx would send multipart).
/// - If-Range (an ETag: equal byte for byte; else a date: equal to Last-Modified) gates Range.
/// - A range starting after `max_range_offset` → Full (the runtime's limit on where a 206 may
///   start, e.g. what of the body is on disk yet).
pub fn evaluate(
    fields: &[(&[u8], &[u8])],
    method_is_get_or_head: bool,
    etag: Option<&[u8]>,
    last_modified: Option<i64>,
    body_len: u64,
    max_range_offset: Option<u64>,
) -> Answer {
    if let Some(a) = preconditions(fields, method_is_get_or_head, etag, last_modified) {
        return a;
    }
    if !method_is_get_or_head {
        return Answer::Full;
    }
    match range(fields, etag, last_modified, body_len) {
        Answer::Partial { start, .. } if max_range_offset.is_some_and(|m| start > m) => {
            Answer::Full
        }
        a => a,
    }
}

/// `Content-Range` for a 206: `bytes start-end/len` (RFC 9110 §14.4).
pub fn content_range(start: u64, end: u64, len: u64) -> String {
    format!("bytes {start}-{end}/{len}")
}

/// `Content-Range` for a 416: `bytes */len`.
pub fn content_range_unsatisfied(len: u64) -> String {
    format!("bytes */{len}")
}

/// `ngx_http_not_modified_header_filter`: 412 or 304, or `None` to go on to the range filter.
fn preconditions(
    fields: &[(&[u8], &[u8])],
    get_or_head: bool,
    etag: Option<&[u8]>,
    lm: Option<i64>,
) -> Option<Answer> {
    if let Some(v) = first_field(fields, b"if-unmodified-since") {
        // ngx_http_test_if_unmodified: no Last-Modified or no date fails.
        let unmodified = matches!((parse_http_date(v), lm), (Some(d), Some(lm)) if d >= lm);
        if !unmodified {
            return Some(Answer::PreconditionFailed);
        }
    }
    if let Some(v) = first_field(fields, b"if-match")
        && !etag_listed(v, etag, false)
    {
        return Some(Answer::PreconditionFailed);
    }
    let ims = first_field(fields, b"if-modified-since");
    let inm = first_field(fields, b"if-none-match");
    if !get_or_head {
        let matched = inm.is_some_and(|v| etag_listed(v, etag, true));
        return matched.then_some(Answer::PreconditionFailed);
    }
    if ims.is_none() && inm.is_none() {
        return None;
    }
    // ngx_http_test_if_modified, `exact`: only the very date is "not modified".
    if let Some(v) = ims
        && (lm.is_none() || parse_http_date(v) != lm)
    {
        return None;
    }
    if let Some(v) = inm
        && !etag_listed(v, etag, true)
    {
        return None;
    }
    Some(Answer::NotModified)
}

/// `ngx_http_test_if_match`: whether `list` (`*` or a comma-separated list of entity tags) holds
/// `etag`. `weak` (If-None-Match) drops the `W/` prefixes before comparing (RFC 9110 §8.8.3.2);
/// otherwise the tags are compared byte for byte.
fn etag_listed(list: &[u8], etag: Option<&[u8]>, weak: bool) -> bool {
    if list == b"*" {
        return true;
    }
    let Some(mut etag) = etag else {
        return false;
    };
    if weak && etag.len() > 2 && etag.starts_with(b"W/") {
        etag = etag.get(2..).unwrap_or_default();
    }
    let mut s = list;
    while !s.is_empty() {
        if weak && s.len() > 2 && s.starts_with(b"W/") {
            s = s.get(2..).unwrap_or_default();
        }
        if etag.len() > s.len() {
            return false;
        }
        if let Some(rest) = s.strip_prefix(etag) {
            let rest = trim_start(rest, b" \t");
            if rest.is_empty() || rest.starts_with(b",") {
                return true;
            }
        }
        // Skip to the next element.
        let next = s.iter().position(|&b| b == b',').unwrap_or(s.len());
        s = trim_start(s.get(next..).unwrap_or_default(), b" \t,");
    }
    false
}

fn trim_start<'a>(mut s: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let [first, rest @ ..] = s
        && set.contains(first)
    {
        s = rest;
    }
    s
}

/// `ngx_http_range_header_filter` for a 200 of `len` bytes.
fn range(fields: &[(&[u8], &[u8])], etag: Option<&[u8]>, lm: Option<i64>, len: u64) -> Answer {
    let Some(spec) = first_field(fields, b"range") else {
        return Answer::Full;
    };
    let is_bytes = spec.len() >= 7
        && spec
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"bytes="));
    if !is_bytes {
        return Answer::Full;
    }
    if let Some(ir) = first_field(fields, b"if-range") {
        let fresh = if ir.len() >= 2 && ir.ends_with(b"\"") {
            etag == Some(ir)
        } else {
            lm.is_some() && parse_http_date(ir) == lm
        };
        if !fresh {
            return Answer::Full;
        }
    }
    parse_ranges(spec.get(6..).unwrap_or_default(), len)
}

/// `ngx_http_range_parse` over the ranges after `bytes=`: the first satisfiable range when it is
/// the only one; Full for several (ringway sends no multipart) and where nginx declines (a range
/// starting at 0 that selects nothing, i.e. an empty body); Unsatisfiable for a syntax error,
/// numbers past 2^63 - 1, or no satisfiable range.
fn parse_ranges(spec: &[u8], len: u64) -> Answer {
    let mut cur = Cursor { s: spec, p: 0 };
    let mut first = None;
    let mut count = 0usize;
    let mut size: u64 = 0;
    loop {
        let Some((start, end)) = one_range(&mut cur, len) else {
            return Answer::Unsatisfiable;
        };
        if start < end {
            size = match size.checked_add(end - start) {
                Some(s) if s <= i64::MAX as u64 => s,
                _ => return Answer::Unsatisfiable,
            };
            count += 1;
            first.get_or_insert((start, end));
        } else if start == 0 {
            return Answer::Full;
        }
        if cur.next() != b',' {
            break;
        }
    }
    match (count, first) {
        (1, Some((start, end))) => Answer::Partial {
            start,
            end: end - 1,
        },
        (0, _) => Answer::Unsatisfiable,
        _ => Answer::Full,
    }
}

/// One `a-b`, `a-` or `-n` as a half-open `start..end` clipped to `len`; `None` on a syntax
/// error. Leaves the cursor on the `,` or the end after it.
fn one_range(cur: &mut Cursor, len: u64) -> Option<(u64, u64)> {
    cur.spaces();
    if cur.peek() == b'-' {
        cur.p += 1;
        let n = cur.number()?;
        cur.list_end()?;
        return Some((len.saturating_sub(n), len));
    }
    let start = cur.number()?;
    cur.spaces();
    if cur.next() != b'-' {
        return None;
    }
    cur.spaces();
    if matches!(cur.peek(), b',' | 0) {
        return Some((start, len));
    }
    let last = cur.number()?;
    cur.list_end()?;
    Some((start, if last >= len { len } else { last + 1 }))
}

/// The range spec as nginx walks it: a C string, so the end reads as NUL.
struct Cursor<'a> {
    s: &'a [u8],
    p: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.p).copied().unwrap_or(0)
    }

    fn next(&mut self) -> u8 {
        let b = self.peek();
        self.p += 1;
        b
    }

    fn spaces(&mut self) {
        while self.peek() == b' ' {
            self.p += 1;
        }
    }

    /// One or more digits, at most `i64::MAX` (nginx's `off_t` cut-off).
    fn number(&mut self) -> Option<u64> {
        if !self.peek().is_ascii_digit() {
            return None;
        }
        let mut n: u64 = 0;
        while self.peek().is_ascii_digit() {
            n = n
                .checked_mul(10)?
                .checked_add(u64::from(self.next() - b'0'))
                .filter(|&n| n <= i64::MAX as u64)?;
        }
        Some(n)
    }

    /// Spaces, then a `,` or the end must follow a range.
    fn list_end(&mut self) -> Option<()> {
        self.spaces();
        matches!(self.peek(), b',' | 0).then_some(())
    }
}

#[cfg(test)]
#[path = "conditional_tests.rs"]
mod tests;
