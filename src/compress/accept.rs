//! `Accept-Encoding` (RFC 9110 §12.5.3): the q-values a client gives gzip, br and zstd.

/// Weights in thousandths (q=1 → 1000); None: the coding is not named (nor `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcceptEncoding {
    pub gzip: Option<u16>,
    pub br: Option<u16>,
    pub zstd: Option<u16>,
}

/// Reads the q-values of `gzip` (or `x-gzip`), `br` and `zstd`; `*` stands for whichever is
/// not named.
/// A malformed q-value counts as 0 (refused): a client that garbles it gets identity.
pub fn parse_accept_encoding(v: &[u8]) -> AcceptEncoding {
    let mut gzip = None;
    let mut br = None;
    let mut zstd = None;
    let mut star = None;
    for item in v.split(|&c| c == b',') {
        let mut parts = item.split(|&c| c == b';');
        let token = trim(parts.next().unwrap_or_default());
        let mut q = 1000;
        for p in parts {
            let p = trim(p);
            if p.len() >= 2 && p[..2].eq_ignore_ascii_case(b"q=") {
                q = qvalue(trim(&p[2..])).unwrap_or(0);
            }
        }
        let slot = if token.eq_ignore_ascii_case(b"gzip") || token.eq_ignore_ascii_case(b"x-gzip") {
            &mut gzip
        } else if token.eq_ignore_ascii_case(b"br") {
            &mut br
        } else if token.eq_ignore_ascii_case(b"zstd") {
            &mut zstd
        } else if token == b"*" {
            &mut star
        } else {
            continue;
        };
        // A coding named twice: its highest weight.
        *slot = Some(slot.map_or(q, |old: u16| old.max(q)));
    }
    AcceptEncoding {
        gzip: gzip.or(star),
        br: br.or(star),
        zstd: zstd.or(star),
    }
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

/// `0`, `0.5`, `1`, `1.000` (RFC 9110 §12.4.2) → thousandths.
fn qvalue(s: &[u8]) -> Option<u16> {
    let (int, frac) = match s.iter().position(|&c| c == b'.') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[][..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}
