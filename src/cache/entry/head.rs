//! The response head an entry keeps: the upstream's, without what described the upstream
//! connection and its framing, since a hit is sent on another connection with its own.

use crate::http::util::list_has;
use std::mem::MaybeUninit;

/// The head to store from an upstream response head (status line, fields, empty line): the
/// status line re-stated, every end-to-end field line kept in order as `Name: value`, and the
/// hop-by-hop fields (RFC 9110 §7.6.1: Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
/// Upgrade, Transfer-Encoding, and any named in Connection) and Content-Length dropped: the
/// runtime states the framing from the stored body length. `None` when `head` is not one
/// complete response head (httparse's rules), so nothing unparsed is ever stored.
pub fn strip_framing(head: &[u8]) -> Option<Vec<u8>> {
    // A field line takes at least 3 bytes, so this bounds the field count by the input.
    let mut storage = vec![MaybeUninit::<httparse::Header<'_>>::uninit(); head.len() / 3 + 1];
    let mut res = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, head, &mut storage)
        .ok()?;
    if parsed.is_partial() {
        return None;
    }
    let (version, code) = (res.version?, res.code?);
    let mut out = Vec::with_capacity(head.len());
    out.extend_from_slice(format!("HTTP/1.{version} {code:03} ").as_bytes());
    out.extend_from_slice(res.reason.unwrap_or_default().as_bytes());
    out.extend_from_slice(b"\r\n");
    let connection: Vec<&[u8]> = res
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .map(|h| h.value)
        .collect();
    for h in res.headers.iter() {
        let name = h.name.as_bytes();
        if is_framing(name) || connection.iter().any(|c| list_has(c, name)) {
            continue;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Some(out)
}

/// Hop-by-hop fields (RFC 9110 §7.6.1) and Content-Length.
fn is_framing(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 8] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"upgrade",
        b"transfer-encoding",
        b"content-length",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_framing_removed() {
        let raw = b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\
Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\n\
content-length: 5\r\nETag: \"a\"\r\nTE: trailers\r\nTrailer: X\r\nUpgrade: h2c\r\n\
Proxy-Connection: close\r\nSet-Cookie: a=b\r\nx-hop: 2\r\n\r\n";
        assert_eq!(
            strip_framing(raw).unwrap(),
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nETag: \"a\"\r\nSet-Cookie: a=b\r\n\r\n"
                .to_vec()
        );
    }

    #[test]
    fn status_line_restated() {
        assert_eq!(
            strip_framing(b"HTTP/1.0 404 \r\nA:b\r\n\r\n").unwrap(),
            b"HTTP/1.0 404 \r\nA: b\r\n\r\n".to_vec()
        );
    }

    #[test]
    fn body_bytes_after_the_head_ignored() {
        assert_eq!(
            strip_framing(b"HTTP/1.1 204 No Content\r\n\r\nxyz").unwrap(),
            b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()
        );
    }

    #[test]
    fn not_a_head() {
        assert_eq!(strip_framing(b"HTTP/1.1 200 OK\r\nA: b\r\n"), None);
        assert_eq!(strip_framing(b"garbage\r\n\r\n"), None);
        assert_eq!(strip_framing(b""), None);
    }
}
