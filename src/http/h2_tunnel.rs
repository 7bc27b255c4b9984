//! HTTP/2's extended CONNECT (RFC 8441: WebSocket over HTTP/2) as the HTTP/1.1 upgrade request
//! the request path and the upstream know, and the upstream's 101 back as HTTP/2's 200.
//!
//! A stream with `:method CONNECT` and `:protocol P` becomes `GET :path` with `Upgrade: P` and
//! `Connection: upgrade`. HTTP/2 WebSocket has no `Sec-WebSocket-Key` (RFC 8441 §5), but an
//! HTTP/1.1 upstream needs one: ringway makes one up per stream and checks the upstream's
//! `Sec-WebSocket-Accept` against it, as a WebSocket client would. Pure: no I/O.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::header::{CONTENT_LENGTH, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY};
use sha1::{Digest, Sha1};

use super::h2::{Refused, copy_fields, field, host};
use super::util::is_tchar;

/// RFC 6455 §1.3: what a server appends to the key before hashing it.
const WEBSOCKET_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What a translated extended CONNECT expects of its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// `Sec-WebSocket-Accept` the upstream's 101 must carry (WebSocket only).
    pub accept: Option<String>,
}

/// Writes the extended CONNECT `parts` (its `:protocol` is `protocol`) as an HTTP/1.1 upgrade
/// request head into `out`. `nonce`: 16 random bytes, the WebSocket key's.
pub fn request_head(
    parts: &http::request::Parts,
    protocol: &[u8],
    nonce: [u8; 16],
    out: &mut Vec<u8>,
) -> Result<Expect, Refused> {
    if !upgrade_token(protocol) {
        return Err(Refused("a :protocol that is not an upgrade token"));
    }
    // The stream's DATA is the tunnel's: a length would describe nothing.
    if parts.headers.contains_key(CONTENT_LENGTH) {
        return Err(Refused("content-length on an extended CONNECT"));
    }
    let host = host(parts)?;
    let path = match parts.uri.path_and_query().map(|p| p.as_str()) {
        Some(p) if !p.is_empty() => p,
        _ => return Err(Refused("an empty :path")),
    };
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    // A key the client sent is not the one the upstream will answer: ours replaces it.
    // (content-length was refused above.)
    // The head is parsed again like an HTTP/1.1 one (a rare request): its layout is not kept.
    copy_fields(parts, host, out, &mut Vec::new(), |name| {
        *name == SEC_WEBSOCKET_KEY
    });
    field(out, b"upgrade", protocol);
    field(out, b"connection", b"upgrade");
    let websocket = protocol.eq_ignore_ascii_case(b"websocket");
    let accept = websocket.then(|| {
        let key = B64.encode(nonce);
        field(out, SEC_WEBSOCKET_KEY.as_str().as_bytes(), key.as_bytes());
        accept_for(&key)
    });
    out.extend_from_slice(b"\r\n");
    Ok(Expect { accept })
}

/// The `Sec-WebSocket-Accept` a server answers `key` with (RFC 6455 §4.2.2).
pub fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(WEBSOCKET_GUID);
    B64.encode(h.finalize())
}

/// Whether the upstream's 101 `headers` answer what `expect` asked.
pub fn accepted(expect: &Expect, headers: &http::HeaderMap) -> bool {
    let Some(want) = &expect.accept else {
        return true;
    };
    let mut got = headers.get_all(SEC_WEBSOCKET_ACCEPT).iter();
    matches!((got.next(), got.next()), (Some(v), None) if v.as_bytes() == want.as_bytes())
}

/// `protocol-name ["/" protocol-version]`, both tokens (RFC 9110 §7.8): what `Upgrade` may
/// carry, so that nothing else reaches the upstream's head.
fn upgrade_token(p: &[u8]) -> bool {
    let token = |t: &[u8]| !t.is_empty() && t.iter().all(|&c| is_tchar(c));
    match p.iter().position(|&c| c == b'/') {
        Some(i) => token(&p[..i]) && token(&p[i + 1..]),
        None => token(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(req: http::Request<()>) -> http::request::Parts {
        req.into_parts().0
    }

    fn connect(path: &str) -> http::request::Builder {
        http::Request::builder()
            .method("CONNECT")
            .uri(format!("https://chat.example{path}"))
    }

    #[test]
    fn websocket_connect_becomes_an_upgrade_with_a_key_of_its_own() {
        let req = connect("/ws?room=1")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "chat")
            .header("sec-websocket-key", "the client's")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .body(())
            .unwrap();
        let mut out = Vec::new();
        let e = request_head(&parts(req), b"websocket", [7; 16], &mut out).unwrap();
        let key = B64.encode([7u8; 16]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "GET /ws?room=1 HTTP/1.1\r\nhost: chat.example\r\nsec-websocket-version: 13\r\n\
                 sec-websocket-protocol: chat\r\ncookie: a=1; b=2\r\nupgrade: websocket\r\n\
                 connection: upgrade\r\nsec-websocket-key: {key}\r\n\r\n"
            )
        );
        assert_eq!(e.accept, Some(accept_for(&key)));
    }

    const LIMITS: crate::http::request::Limits = crate::http::request::Limits {
        max_request_line: 8192,
        max_field_line: 8192,
        max_head: 32768,
        max_headers: 100,
    };

    #[test]
    fn the_head_parses_as_an_upgrade_request() {
        let req = connect("/ws").body(()).unwrap();
        let mut out = Vec::new();
        request_head(&parts(req), b"websocket", [1; 16], &mut out).unwrap();
        let head = crate::http::request::parse_request(&out, &LIMITS)
            .unwrap()
            .unwrap();
        assert!(head.upgrade);
        assert_eq!(head.method, crate::http::Method::Get);
        assert_eq!(head.head_len, out.len());
    }

    #[test]
    fn no_protocol_byte_gets_anything_else_into_the_head() {
        // Every byte, in the middle, at either end and alone: refused, or one whole upgrade
        // head whose `upgrade` field is the protocol and nothing more.
        for b in 0..=255u8 {
            for p in [vec![b'w', b, b's'], vec![b, b'w'], vec![b'w', b], vec![b]] {
                let req = connect("/ws").body(()).unwrap();
                let mut out = Vec::new();
                if request_head(&parts(req), &p, [1; 16], &mut out).is_err() {
                    continue;
                }
                let head = crate::http::request::parse_request(&out, &LIMITS)
                    .unwrap()
                    .unwrap();
                assert!(head.upgrade, "{p:?}");
                assert_eq!(head.head_len, out.len(), "{p:?}");
                let upgrades: Vec<_> = head
                    .headers
                    .iter()
                    .filter(|h| h.name.get(&out).eq_ignore_ascii_case(b"upgrade"))
                    .map(|h| h.value.get(&out))
                    .collect();
                assert_eq!(upgrades, [&p[..]]);
                // host, upgrade, connection (a key only for "websocket", never made here).
                assert_eq!(head.headers.len(), 3, "{p:?}");
            }
        }
    }

    #[test]
    fn the_accept_is_rfc_6455s() {
        // RFC 6455 §1.3's example.
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn another_protocol_gets_no_key() {
        let req = connect("/udp").body(()).unwrap();
        let mut out = Vec::new();
        let e = request_head(&parts(req), b"connect-udp", [0; 16], &mut out).unwrap();
        let head = String::from_utf8(out).unwrap();
        assert!(head.contains("upgrade: connect-udp\r\n"), "{head}");
        assert!(!head.contains("sec-websocket-key"), "{head}");
        assert_eq!(e.accept, None);
        let any = http::HeaderMap::new();
        assert!(accepted(&e, &any));
    }

    #[test]
    fn what_cannot_be_an_upgrade_is_refused() {
        for bad in [
            &b""[..],
            b"web socket",
            b"ws\r\nx-injected: 1",
            b"a/",
            b"/b",
            b"a/b/c",
        ] {
            let req = connect("/ws").body(()).unwrap();
            assert!(
                request_head(&parts(req), bad, [0; 16], &mut Vec::new()).is_err(),
                "{bad:?}"
            );
        }
        let req = connect("/ws").body(()).unwrap();
        assert!(request_head(&parts(req), b"websocket/13", [0; 16], &mut Vec::new()).is_ok());
        let req = connect("/ws")
            .header("content-length", "5")
            .body(())
            .unwrap();
        assert!(request_head(&parts(req), b"websocket", [0; 16], &mut Vec::new()).is_err());
    }

    #[test]
    fn only_the_matching_accept_is_accepted() {
        let e = Expect {
            accept: Some(accept_for("k")),
        };
        let mut h = http::HeaderMap::new();
        assert!(!accepted(&e, &h));
        h.insert(SEC_WEBSOCKET_ACCEPT, accept_for("other").parse().unwrap());
        assert!(!accepted(&e, &h));
        h.insert(SEC_WEBSOCKET_ACCEPT, accept_for("k").parse().unwrap());
        assert!(accepted(&e, &h));
        h.append(SEC_WEBSOCKET_ACCEPT, accept_for("k").parse().unwrap());
        assert!(!accepted(&e, &h), "two accepts");
    }
}
