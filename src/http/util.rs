//! Small byte-level helpers shared by the parsers and writers: character classes, list splitting,
//! Content-Length and Transfer-Encoding field analysis, and allocation-free number formatting.

use super::ParseError;

/// `tchar` of RFC 9110 §5.6.2 (a `const` too, for tables built from it at compile time).
pub(crate) const TCHAR_TABLE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

static TCHAR: [bool; 256] = TCHAR_TABLE;

#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

#[inline]
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

#[inline]
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ows(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_ows(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Non-empty elements of a comma-separated list field (RFC 9110 §5.6.1), OWS trimmed.
/// Empty elements are skipped, as recipients must.
#[inline]
pub(crate) fn list_items(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Whether a comma-separated token list (e.g. Connection) holds `token` (ASCII case-insensitive).
#[inline]
pub(crate) fn list_has(v: &[u8], token: &[u8]) -> bool {
    list_items(v).any(|e| eq_nocase(e, token))
}

/// Offset of `sub` inside `base` (both must come from the same allocation; clamped for safety).
#[inline]
pub(crate) fn offset_in(base: &[u8], sub: &[u8]) -> usize {
    (sub.as_ptr() as usize)
        .wrapping_sub(base.as_ptr() as usize)
        .min(base.len())
}

/// Index of the first `needle` in `hay`.
#[inline]
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// ASCII case-insensitive equality (`eq_ignore_ascii_case`), eight bytes at a time: field names
/// are compared with known names several times per message, most of them 10 to 20 bytes long.
/// The lengths are compared inline: most comparisons end there.
#[inline(always)]
pub(crate) fn eq_nocase(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && same_len_eq_nocase(a, b)
}

#[inline]
fn same_len_eq_nocase(a: &[u8], b: &[u8]) -> bool {
    match (a.last_chunk::<8>(), b.last_chunk::<8>()) {
        (Some(a_last), Some(b_last)) => {
            let (a_words, _) = a.as_chunks::<8>();
            let (b_words, _) = b.as_chunks::<8>();
            a_words
                .iter()
                .zip(b_words)
                .all(|(x, y)| lower8(x) == lower8(y))
                && lower8(a_last) == lower8(b_last)
        }
        _ => a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y)),
    }
}

/// Eight bytes with `A`..=`Z` lowered. Per byte, bit 7 of `ge_a` says "at least `A`" and of
/// `gt_z` "past `Z`" (the sums of 7-bit values never carry into the next byte); a non-ASCII
/// byte is left as it is.
#[inline]
fn lower8(w: &[u8; 8]) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let w = u64::from_le_bytes(*w);
    let low7 = w & !HIGH;
    let ge_a = low7 + 0x3f3f_3f3f_3f3f_3f3f;
    let gt_z = low7 + 0x2525_2525_2525_2525;
    let upper = ge_a & !gt_z & !w & HIGH;
    w | (upper >> 2)
}

/// Bytes of leading empty lines (CR LF or bare LF, as httparse skips them).
#[inline]
pub(crate) fn leading_empty_lines(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// Parses a Content-Length field value: `1*DIGIT` (RFC 9110 §8.6), leading zeros included
/// (`00005` is 5, as nginx reads it; the proxy re-states the value it read, so the next hop sees
/// `5`), or a comma-separated list of the same value (§8.6 lets a recipient collapse `5, 5` to
/// `5`). Rejects signs, inner spaces, empty elements, differing values and numbers that overflow
/// u64.
pub(crate) fn parse_content_length(v: &[u8]) -> Result<u64, ParseError> {
    let mut value: Option<u64> = None;
    for elem in v.split(|&b| b == b',') {
        let elem = trim_ows(elem);
        if elem.is_empty() {
            return Err(ParseError::BadRequest("empty Content-Length value"));
        }
        let mut n: u64 = 0;
        for &b in elem {
            if !b.is_ascii_digit() {
                return Err(ParseError::BadRequest("invalid Content-Length value"));
            }
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(b - b'0')))
                .ok_or(ParseError::BadRequest("Content-Length value too large"))?;
        }
        match value {
            Some(prev) if prev != n => {
                return Err(ParseError::BadRequest(
                    "differing values in one Content-Length field",
                ));
            }
            _ => value = Some(n),
        }
    }
    value.ok_or(ParseError::BadRequest("empty Content-Length value"))
}

/// Folds one Content-Length field into the running value: every field must agree.
#[inline]
pub(crate) fn merge_content_length(acc: &mut Option<u64>, v: &[u8]) -> Result<(), ParseError> {
    let n = parse_content_length(v)?;
    match *acc {
        Some(prev) if prev != n => Err(ParseError::BadRequest(
            "Content-Length fields with differing values",
        )),
        _ => {
            *acc = Some(n);
            Ok(())
        }
    }
}

/// What the Transfer-Encoding fields of a message say, in order across all its TE fields.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TransferCodings {
    /// At least one Transfer-Encoding field was seen.
    pub present: bool,
    /// The last coding seen is `chunked`.
    pub chunked_last: bool,
    /// How many times `chunked` was listed (more than once is an error, RFC 9112 §6.1).
    pub chunked_count: u32,
    /// A coding other than `chunked` was seen.
    pub other: bool,
    /// A syntax error: not a token, or parameters on `chunked`.
    pub error: Option<&'static str>,
}

impl TransferCodings {
    pub fn add(&mut self, v: &[u8]) {
        self.present = true;
        for elem in list_items(v) {
            // transfer-coding = token *( OWS ";" OWS transfer-parameter )
            let name_len = elem.iter().take_while(|&&b| is_tchar(b)).count();
            let (name, params) = elem.split_at(name_len);
            let params = trim_ows(params);
            if name.is_empty() || (!params.is_empty() && params[0] != b';') {
                self.error.get_or_insert("invalid transfer-coding");
                self.chunked_last = false;
                continue;
            }
            if eq_nocase(name, b"chunked") {
                if !params.is_empty() {
                    // RFC 9112 §7: chunked defines no parameters; treat them as an error.
                    self.error.get_or_insert("parameters on chunked");
                }
                self.chunked_count += 1;
                self.chunked_last = true;
            } else {
                self.chunked_last = false;
                self.other = true;
            }
        }
    }
}

/// Appends the decimal digits of `n` without allocating.
#[inline]
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    let mut tmp = [0u8; 20];
    out.extend_from_slice(u64_digits(n, &mut tmp));
}

/// The decimal digits of `n`, written at the end of `tmp`.
#[inline]
pub(crate) fn u64_digits(mut n: u64, tmp: &mut [u8; 20]) -> &[u8] {
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &tmp[i..]
}

/// Appends the lowercase hex digits of `n` without allocating.
#[inline]
pub(crate) fn push_hex(out: &mut Vec<u8>, mut n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = HEX[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq_nocase_agrees_with_the_bytewise_comparison() {
        // Every byte value against its own case change and against its neighbours, at every
        // place of strings of every length up to 20 (the word path from 8 bytes on).
        let mut compared = 0;
        for len in 1..=20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let base: Vec<u8> = (0..len).map(|i| b"Content-Length-Xyz_9"[i]).collect();
                    let mut x = base.clone();
                    x[at] = b;
                    for other in [b ^ 0x20, b.wrapping_add(1), b.wrapping_sub(1), b ^ 0x80, b] {
                        let mut y = base.clone();
                        y[at] = other;
                        assert_eq!(eq_nocase(&x, &y), x.eq_ignore_ascii_case(&y), "{x:?} {y:?}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(!eq_nocase(b"content-length", b"content-lengt"));
        assert!(eq_nocase(b"CONTENT-LENGTH", b"content-length"));
        assert!(!eq_nocase(b"content_length", b"content-length"));
        assert!(eq_nocase(b"", b""));
        assert!(compared > 200_000);
    }

    #[test]
    fn tchar_table() {
        for b in b"abcXYZ019!#$%&'*+-.^_`|~" {
            assert!(is_tchar(*b), "{}", *b as char);
        }
        for b in b" \t\"(),/:;<=>?@[\\]{}\x7f\x00\x80" {
            assert!(!is_tchar(*b), "{b:#x}");
        }
    }

    #[test]
    fn trims_and_lists() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
        let items: Vec<&[u8]> = list_items(b" ,a, b ,,\tc\t, ").collect();
        assert_eq!(items, vec![&b"a"[..], b"b", b"c"]);
        assert!(list_has(b"keep-alive, Upgrade", b"upgrade"));
        assert!(!list_has(b"keep-alive, Upgradex", b"upgrade"));
    }

    #[test]
    fn content_length_values() {
        assert_eq!(parse_content_length(b"0"), Ok(0));
        assert_eq!(parse_content_length(b"42"), Ok(42));
        assert_eq!(parse_content_length(b"5, 5"), Ok(5));
        assert_eq!(parse_content_length(b"5,5,5"), Ok(5));
        assert_eq!(parse_content_length(b"18446744073709551615"), Ok(u64::MAX));
        // Leading zeros are digits like any other (nginx reads them the same way).
        assert_eq!(parse_content_length(b"00005"), Ok(5));
        assert_eq!(parse_content_length(b"000"), Ok(0));
        assert_eq!(parse_content_length(b"00005, 5"), Ok(5));
        assert_eq!(
            parse_content_length(b"000000000000000000000000018446744073709551615"),
            Ok(u64::MAX)
        );
        for bad in [
            &b""[..],
            b" ",
            b"5, 6",
            b"5,",
            b",5",
            b"+5",
            b"-5",
            b"-0",
            b"0x5",
            b"0o5",
            b"1_0",
            b"1 0",
            b"abc",
            b"5a",
            b"005, 6",
            b"0 0",
            b"18446744073709551616",
            b"99999999999999999999",
        ] {
            assert!(
                parse_content_length(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut acc = None;
        merge_content_length(&mut acc, b"7").unwrap();
        merge_content_length(&mut acc, b"007").unwrap();
        assert_eq!(acc, Some(7));
        assert_eq!(
            merge_content_length(&mut acc, b"8"),
            Err(ParseError::BadRequest(
                "Content-Length fields with differing values"
            ))
        );
        assert_eq!(
            parse_content_length(b"5x"),
            Err(ParseError::BadRequest("invalid Content-Length value"))
        );
        assert_eq!(
            parse_content_length(b"99999999999999999999"),
            Err(ParseError::BadRequest("Content-Length value too large"))
        );
    }

    fn te(values: &[&[u8]]) -> TransferCodings {
        let mut t = TransferCodings::default();
        for v in values {
            t.add(v);
        }
        t
    }

    #[test]
    fn transfer_codings() {
        let t = te(&[b"chunked"]);
        assert!(t.present && t.chunked_last && t.chunked_count == 1 && !t.other);
        assert!(t.error.is_none());
        let t = te(&[b"Chunked"]);
        assert!(t.chunked_last && t.error.is_none());
        let t = te(&[b"gzip, chunked"]);
        assert!(t.chunked_last && t.other && t.error.is_none());
        let t = te(&[b"gzip", b"chunked"]);
        assert!(t.chunked_last && t.other && t.error.is_none());
        let t = te(&[b", chunked,"]);
        assert!(t.chunked_last && t.error.is_none());
        let t = te(&[b"chunked, gzip"]);
        assert!(!t.chunked_last && t.other && t.error.is_none());
        let t = te(&[b"chunked", b"identity"]);
        assert!(!t.chunked_last && t.other);
        let t = te(&[b"chunked, chunked"]);
        assert!(t.chunked_last && t.chunked_count == 2);
        let t = te(&[b"chunked", b"chunked"]);
        assert!(t.chunked_count == 2);
        let t = te(&[b"gzip"]);
        assert!(!t.chunked_last && t.other && t.error.is_none());
        let t = te(&[b""]);
        assert!(t.present && !t.chunked_last && t.chunked_count == 0 && t.error.is_none());
        let t = te(&[b"chunked;a=b"]);
        assert!(t.error.is_some());
        let t = te(&[b"\"chunked\""]);
        assert!(t.error.is_some() && !t.chunked_last);
        let t = te(&[b"chun ked"]);
        assert!(t.error.is_some());
        let t = te(&[b"gzip;q=1, chunked"]);
        assert!(t.chunked_last && t.other && t.error.is_none());
    }

    #[test]
    fn connection_tokens_whole_or_listed() {
        let tokens = |values: &[&[u8]]| {
            let mut t = ConnectionTokens::default();
            for v in values {
                t.add(v);
            }
            (t.close, t.keep_alive, t.upgrade, t.other)
        };
        assert_eq!(tokens(&[b"keep-alive"]), (false, true, false, false));
        assert_eq!(tokens(&[b"Keep-Alive"]), (false, true, false, false));
        assert_eq!(tokens(&[b"CLOSE"]), (true, false, false, true));
        // `close` is an option of its own too: it marks `other`, listed or not.
        assert_eq!(tokens(&[b"close, x-opt"]), (true, false, false, true));
        assert_eq!(
            tokens(&[b"keep-alive, Upgrade"]),
            (false, true, true, false)
        );
        assert_eq!(tokens(&[b"keep-alivex"]), (false, false, false, true));
        assert_eq!(tokens(&[b"keep-alive", b"te"]), (false, true, false, true));
    }

    #[test]
    fn numbers() {
        let mut out = Vec::new();
        for n in [0u64, 7, 10, 99, 12345, u64::MAX] {
            out.clear();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
            out.clear();
            push_hex(&mut out, n);
            assert_eq!(out, format!("{n:x}").as_bytes());
        }
    }
}

/// The Connection field's tokens a head parser acts on (several fields may add to it).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ConnectionTokens {
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
    /// An option other than `keep-alive` and `upgrade` (whose fields are hop-by-hop anyway):
    /// the fields it names must be dropped when forwarding (RFC 9110 §7.6.1).
    pub other: bool,
}

impl ConnectionTokens {
    pub(crate) fn add(&mut self, value: &[u8]) {
        // Most fields are one of these two, as a whole: no list to split.
        if eq_nocase(value, b"keep-alive") {
            self.keep_alive = true;
            return;
        }
        if eq_nocase(value, b"close") {
            // An option like any other besides: a field named `Close` is hop-by-hop.
            self.close = true;
            self.other = true;
            return;
        }
        for token in list_items(value) {
            if eq_nocase(token, b"close") {
                self.close = true;
            } else if eq_nocase(token, b"keep-alive") {
                self.keep_alive = true;
                continue;
            } else if eq_nocase(token, b"upgrade") {
                self.upgrade = true;
                continue;
            }
            self.other = true;
        }
    }

    /// Whether the connection persists after this message (RFC 9112 §9.3).
    pub(crate) fn persistent(&self, http11: bool) -> bool {
        !self.close && (http11 || self.keep_alive)
    }
}
