//! The normalized request path that locations are matched against (nginx's `$uri`): percent
//! escapes decoded, repeated slashes merged, `.` and `..` segments resolved. Matching the raw
//! path instead would let `/x/../admin/` or `/%61dmin/` slip past a `location ^~ /admin/`.

use std::borrow::Cow;

/// Normalizes a path (no query). Errors (400): a bad `%` escape, an encoded NUL, or `..` above
/// the root.
pub fn normalize_path(raw: &[u8]) -> Result<Cow<'_, [u8]>, &'static str> {
    if !needs_work(raw) {
        return Ok(Cow::Borrowed(raw));
    }
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c == b'%' {
            let (Some(h), Some(l)) = (raw.get(i + 1).and_then(hex), raw.get(i + 2).and_then(hex))
            else {
                return Err("bad percent escape in the path");
            };
            let v = h << 4 | l;
            if v == 0 {
                return Err("encoded NUL in the path");
            }
            decoded.push(v);
            i += 3;
        } else {
            decoded.push(c);
            i += 1;
        }
    }
    let mut out: Vec<u8> = Vec::with_capacity(decoded.len());
    for seg in decoded.split(|&c| c == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                let cut = out
                    .iter()
                    .rposition(|&c| c == b'/')
                    .ok_or("\"..\" above the root")?;
                out.truncate(cut);
            }
            s => {
                out.push(b'/');
                out.extend_from_slice(s);
            }
        }
    }
    // A trailing slash (or a trailing `.`/`..`, which names a directory) is kept.
    let last = decoded.rsplit(|&c| c == b'/').next().unwrap_or(b"");
    if out.is_empty() || decoded.ends_with(b"/") || last == b"." || last == b".." {
        out.push(b'/');
    }
    Ok(Cow::Owned(out))
}

fn needs_work(p: &[u8]) -> bool {
    p.first() != Some(&b'/') || p.windows(2).any(|w| w == b"//" || w == b"/.") || p.contains(&b'%')
}

fn hex(c: &u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes what may not stand raw in a request-target path (RFC 3986 pchar and `/`).
pub fn escape_path(path: &[u8], out: &mut Vec<u8>) {
    for &c in path {
        let raw = c.is_ascii_alphanumeric()
            || matches!(
                c,
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
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'/'
            );
        if raw {
            out.push(c);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.extend_from_slice(&[b'%', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> String {
        String::from_utf8(normalize_path(p.as_bytes()).unwrap().into_owned()).unwrap()
    }

    #[test]
    fn normalizes_like_nginx() {
        assert!(matches!(normalize_path(b"/a/b"), Ok(Cow::Borrowed(_))));
        assert_eq!(n("/x/../admin/"), "/admin/");
        assert_eq!(n("/%61dmin/"), "/admin/");
        assert_eq!(n("//admin/"), "/admin/");
        assert_eq!(n("/./admin/x"), "/admin/x");
        assert_eq!(n("/a/b/.."), "/a/");
        assert_eq!(n("/a/./"), "/a/");
        assert_eq!(n("/a%20b"), "/a b");
        assert_eq!(n("/"), "/");
        assert!(normalize_path(b"/../x").is_err());
        assert!(normalize_path(b"/a%2").is_err());
        assert!(normalize_path(b"/a%zz").is_err());
        assert!(normalize_path(b"/a%00b").is_err());
    }

    #[test]
    fn escapes_what_a_target_cannot_hold() {
        let mut out = Vec::new();
        escape_path(b"/a b/%?#\xff", &mut out);
        assert_eq!(out, b"/a%20b/%25%3F%23%FF");
    }
}
