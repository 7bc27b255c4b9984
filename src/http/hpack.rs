//! The HPACK (RFC 7541) ringway writes for a response's fields itself: each field a literal
//! without indexing (§6.2.2), its name by the static table's index where it has one, nothing
//! Huffman-coded. No dynamic table is involved, so the connection's encoder (the `h2`
//! crate's, which still writes `:status`) stays in step with the client's decoder.
//!
//! Written straight from the HTTP/1.1 head's bytes, it skips building a header map and
//! running h2's general encoder (its table lookups, hashing and Huffman coding), which had
//! cost about 6,000 instructions of a small proxied response. nginx encodes its responses the
//! same way, with Huffman coding where it is shorter.

/// Appends `name: value` as a literal field without indexing. The name is lowercased (HTTP/2
/// field names are); a name that is not a token, or a value with a control character other
/// than HTAB, is refused, as `http`'s `HeaderName` and `HeaderValue` refuse them.
pub fn literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_NAME || !value_ok(value) {
        return Err("a response field HTTP/2 cannot carry");
    }
    out.reserve(name.len() + value.len() + 2 * MAX_INT_BYTES + 1);
    // A name the static table has is a token in whatever case it came: only the others are
    // checked and lowercased byte by byte.
    match static_name(name) {
        Some(i) => int(out, i, 4),
        None => {
            out.push(0x00);
            int(out, name.len(), 7);
            for &c in name {
                match TOKEN_LOWER[usize::from(c)] {
                    0 => return Err("a response field HTTP/2 cannot carry"),
                    l => out.push(l),
                }
            }
        }
    }
    int(out, value.len(), 7);
    out.extend_from_slice(value);
    Ok(())
}

/// The most bytes `int` writes for a length (a 64-bit value with a 4-bit prefix).
const MAX_INT_BYTES: usize = 11;

/// Whether every byte of `v` is one a field value may have: not a control character other
/// than HTAB, not DEL (obs-text is allowed). Eight bytes at a time: almost every value is
/// plain text, and a chunk with a byte below 0x20 or a DEL (a tab, say) is checked byte by
/// byte.
fn value_ok(v: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte below 0x20, or a DEL, somewhere in `x` (bytes of 0x80 and above never count).
    let suspect = |x: u64| {
        let below = x.wrapping_sub(0x20 * ONES) & !x & HIGH;
        let del = x ^ (0x7f * ONES);
        below | (del.wrapping_sub(ONES) & !del & HIGH) != 0
    };
    let byte_ok = |c: &u8| (*c >= b' ' && *c != 0x7f) || *c == b'\t';
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        if suspect(u64::from_le_bytes(w)) && !c.iter().all(byte_ok) {
            return false;
        }
    }
    let tail = chunks.remainder();
    if tail.is_empty() {
        return true;
    }
    // The last eight bytes as one word (overlapping the words checked) when there are eight;
    // else the tail padded with spaces (valid), byte by byte, as a copy of an unknown length
    // would be a call to memcpy.
    let (word, last) = match v.last_chunk::<8>() {
        Some(last) => (u64::from_le_bytes(*last), &last[..]),
        None => (
            tail.iter().enumerate().fold(0x20 * ONES, |w, (i, &c)| {
                (w & !(0xff << (8 * i))) | (u64::from(c) << (8 * i))
            }),
            tail,
        ),
    };
    !suspect(word) || last.iter().all(byte_ok)
}

/// `http`'s limit on a header name's length.
const MAX_NAME: usize = 1 << 16;

/// An integer with an N-bit prefix (RFC 7541 §5.1), the prefix's other bits 0 (as a literal
/// without indexing and a string without Huffman coding have them).
#[inline]
fn int(out: &mut Vec<u8>, mut v: usize, prefix: u32) {
    let max = (1usize << prefix) - 1;
    if v < max {
        out.push(v as u8);
        return;
    }
    out.push(max as u8);
    v -= max;
    while v >= 128 {
        out.push(0x80 | (v & 0x7f) as u8);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A token character lowercased, 0 for a byte a field name cannot have (RFC 9110 §5.1).
const TOKEN_LOWER: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        if super::util::TCHAR_TABLE[c] {
            t[c] = (c as u8).to_ascii_lowercase();
        }
        c += 1;
    }
    t
};

/// The static table's index for a field name in any case (RFC 7541 Appendix A), pseudo-headers
/// aside. By length first: one jump, then a comparison or two (`same_name`).
fn static_name(n: &[u8]) -> Option<usize> {
    let candidates: &[(&[u8], usize)] = match n.len() {
        3 => &[(b"age", 21), (b"via", 60)],
        4 => &[
            (b"date", 33),
            (b"etag", 34),
            (b"from", 37),
            (b"host", 38),
            (b"link", 45),
            (b"vary", 59),
        ],
        5 => &[(b"allow", 22), (b"range", 50)],
        6 => &[
            (b"accept", 19),
            (b"cookie", 32),
            (b"expect", 35),
            (b"server", 54),
        ],
        7 => &[(b"expires", 36), (b"referer", 51), (b"refresh", 52)],
        8 => &[(b"if-match", 39), (b"if-range", 42), (b"location", 46)],
        10 => &[(b"set-cookie", 55), (b"user-agent", 58)],
        11 => &[(b"retry-after", 53)],
        12 => &[(b"content-type", 31), (b"max-forwards", 47)],
        13 => &[
            (b"accept-ranges", 18),
            (b"authorization", 23),
            (b"cache-control", 24),
            (b"content-range", 30),
            (b"if-none-match", 41),
            (b"last-modified", 44),
        ],
        14 => &[(b"accept-charset", 15), (b"content-length", 28)],
        15 => &[(b"accept-encoding", 16), (b"accept-language", 17)],
        16 => &[
            (b"content-encoding", 26),
            (b"content-language", 27),
            (b"content-location", 29),
            (b"www-authenticate", 61),
        ],
        17 => &[(b"if-modified-since", 40), (b"transfer-encoding", 57)],
        18 => &[(b"proxy-authenticate", 48)],
        19 => &[
            (b"content-disposition", 25),
            (b"if-unmodified-since", 43),
            (b"proxy-authorization", 49),
        ],
        25 => &[(b"strict-transport-security", 56)],
        27 => &[(b"access-control-allow-origin", 20)],
        _ => return None,
    };
    candidates
        .iter()
        .find(|(name, _)| same_name(n, name))
        .map(|&(_, i)| i)
}

/// Whether `n` is `lower` (the same length; lowercase letters and `-`, as the static table's
/// names are) up to the case of its letters: `util::eq_nocase` narrowed to such a needle, one
/// OR per word instead of lowering both (it measured 300 instructions fewer per HTTP/2
/// response than `eq_nocase` here). Eight bytes at a time where there are eight: a
/// byte matches a letter when it equals it with bit 0x20 set, and `-` exactly (the mask sets
/// bit 0x20 only where `lower` has a letter, bit 0x40 shifted down).
#[inline]
fn same_name(n: &[u8], lower: &[u8]) -> bool {
    fn word_eq(w: &[u8; 8], l: &[u8; 8]) -> bool {
        let (w, l) = (u64::from_le_bytes(*w), u64::from_le_bytes(*l));
        w | ((l & 0x4040_4040_4040_4040) >> 1) == l
    }
    if n.len() != lower.len() {
        return false;
    }
    match (n.last_chunk::<8>(), lower.last_chunk::<8>()) {
        (Some(n_last), Some(l_last)) => {
            let (n_words, _) = n.as_chunks::<8>();
            let (l_words, _) = lower.as_chunks::<8>();
            n_words.iter().zip(l_words).all(|(a, b)| word_eq(a, b)) && word_eq(n_last, l_last)
        }
        _ => n
            .iter()
            .zip(lower)
            .all(|(&c, &l)| c | ((l & 0x40) >> 1) == l),
    }
}

/// Reads back what `literal` writes: (name, value) pairs, names from the static table by
/// index. For the logs' `$sent_http_*` of a head in HTTP/2's form (`http::h2_head`), tests and
/// the fuzz target (a real client's decoder is what the integration tests use); None on
/// anything else.
pub fn read_literals(mut b: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    fn int(b: &mut &[u8], prefix: u32) -> Option<usize> {
        let max = (1usize << prefix) - 1;
        let (&first, rest) = b.split_first()?;
        *b = rest;
        let mut v = usize::from(first) & max;
        if v < max {
            return Some(v);
        }
        let mut shift = 0;
        loop {
            let (&c, rest) = b.split_first()?;
            *b = rest;
            v += usize::from(c & 0x7f) << shift;
            shift += 7;
            if c & 0x80 == 0 || shift > 28 {
                return (c & 0x80 == 0).then_some(v);
            }
        }
    }
    fn string(b: &mut &[u8]) -> Option<Vec<u8>> {
        if b.first()? & 0x80 != 0 {
            return None; // Huffman: never written
        }
        let n = int(b, 7)?;
        let (s, rest) = b.split_at_checked(n)?;
        *b = rest;
        Some(s.to_vec())
    }
    let mut fields = Vec::new();
    while let Some(&first) = b.first() {
        if first & 0xf0 != 0 {
            return None;
        }
        let name = match int(&mut b, 4)? {
            0 => string(&mut b)?,
            i => STATIC_NAMES.get(i.checked_sub(15)?)?.as_bytes().to_vec(),
        };
        fields.push((name, string(&mut b)?));
    }
    Some(fields)
}

const STATIC_NAMES: [&str; 47] = [
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "accept",
    "access-control-allow-origin",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-range",
    "content-type",
    "cookie",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "link",
    "location",
    "max-forwards",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "refresh",
    "retry-after",
    "server",
    "set-cookie",
    "strict-transport-security",
    "transfer-encoding",
    "user-agent",
    "vary",
    "via",
    "www-authenticate",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_static_table_and_the_reader_agree() {
        for (i, name) in STATIC_NAMES.iter().enumerate() {
            assert_eq!(static_name(name.as_bytes()), Some(i + 15), "{name}");
            let upper = name.to_ascii_uppercase();
            assert_eq!(static_name(upper.as_bytes()), Some(i + 15), "{upper}");
            // A byte that differs from a letter only in bit 0x20 other than its other case,
            // or a `-` turned into a CR (which differs from it in that bit), is no match.
            for at in 0..name.len() {
                let mut near = name.as_bytes().to_vec();
                near[at] ^= if near[at] == b'-' { 0x20 } else { 0x01 };
                assert_eq!(
                    static_name(&near),
                    None,
                    "{:?}",
                    String::from_utf8_lossy(&near)
                );
            }
        }
    }

    #[test]
    fn names_are_lowercased_and_checked_and_values_checked() {
        let mut out = Vec::new();
        literal(&mut out, b"X-Rule", b"applied; twelve+ bytes").unwrap();
        literal(&mut out, b"CONTENT-LENGTH", b"24").unwrap();
        let back = read_literals(&out).unwrap();
        assert_eq!(back[0].0, b"x-rule");
        assert_eq!(back[1], (b"content-length".to_vec(), b"24".to_vec()));
        for bad in [&b"Content-Lengt\r"[..], b"x rule", b"", b"conte(t-type"] {
            assert!(literal(&mut Vec::new(), bad, b"v").is_err(), "{bad:?}");
        }
        // A control character anywhere in a value: in a whole word, in the overlapping last
        // word, in a short value.
        for len in [1usize, 5, 8, 9, 15, 16, 23] {
            for at in 0..len {
                let mut v = vec![b'a'; len];
                v[at] = 0x01;
                assert!(!value_ok(&v), "len {len} at {at}");
                v[at] = b'\t';
                assert!(value_ok(&v), "len {len} at {at}");
                v[at] = 0x7f;
                assert!(!value_ok(&v), "len {len} at {at}");
            }
        }
    }

    #[test]
    fn rfc_7541_c_2_2s_literal_without_indexing() {
        // C.2.2: ":path: /sample/path", name index 4: 04 0c "/sample/path".
        let mut out = Vec::new();
        int(&mut out, 4, 4);
        int(&mut out, 12, 7);
        out.extend_from_slice(b"/sample/path");
        assert_eq!(out[..2], [0x04, 0x0c]);
        // C.1.2: 1337 with a 5-bit prefix is 1f 9a 0a.
        let mut n = Vec::new();
        int(&mut n, 1337, 5);
        assert_eq!(n, [0x1f, 0x9a, 0x0a]);
    }

    #[test]
    fn fields_are_written_as_literals_and_read_back() {
        let mut out = Vec::new();
        literal(&mut out, b"Content-Type", b"text/plain").unwrap();
        literal(&mut out, b"X-Custom-Thing", b"a\tb").unwrap();
        literal(&mut out, b"Set-Cookie", b"").unwrap();
        let long = "v".repeat(300);
        literal(&mut out, b"WWW-Authenticate", long.as_bytes()).unwrap();
        // content-type is index 31: 0f 10 (31 - 15), then the value's length.
        assert_eq!(out[..3], [0x0f, 0x10, 10]);
        let back = read_literals(&out).unwrap();
        let text: Vec<(String, String)> = back
            .into_iter()
            .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(
            text,
            [
                ("content-type".into(), "text/plain".into()),
                ("x-custom-thing".into(), "a\tb".into()),
                ("set-cookie".into(), String::new()),
                ("www-authenticate".into(), long),
            ]
        );
    }

    #[test]
    fn the_word_check_agrees_with_http_on_every_byte_anywhere() {
        for len in 1..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    assert_eq!(
                        value_ok(&v),
                        http::HeaderValue::from_bytes(&v).is_ok(),
                        "{b:#x} at {at} of {len}"
                    );
                }
            }
        }
        assert!(value_ok(b""));
    }

    #[test]
    fn what_http_refuses_is_refused() {
        for (name, value) in [
            (&b""[..], &b"v"[..]),
            (b"bad name", b"v"),
            (b"bad:name", b"v"),
            (b"n\x80", b"v"),
            (b"name", b"a\rb"),
            (b"name", b"a\nb"),
            (b"name", b"a\x7fb"),
            (b"name", b"\x00"),
        ] {
            let mut out = Vec::new();
            assert!(
                literal(&mut out, name, value).is_err(),
                "{name:?} {value:?}"
            );
            assert!(
                !(http::HeaderName::from_bytes(name).is_ok()
                    && http::HeaderValue::from_bytes(value).is_ok())
            );
        }
        // obs-text is a value byte HTTP allows.
        assert!(literal(&mut Vec::new(), b"name", b"caf\xe9").is_ok());
        let long_name = vec![b'n'; 100];
        let mut out = Vec::new();
        literal(&mut out, &long_name, b"v").unwrap();
        assert_eq!(read_literals(&out).unwrap()[0].0, long_name);
    }
}
