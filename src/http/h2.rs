//! HTTP/2 messages as the HTTP/1.1 heads the request path reads and writes (RFC 9113 §8.3 on
//! one side, RFC 9112 on the other). A stream's request becomes an HTTP/1.1 head that goes
//! through the same strict parser as any other request; the HTTP/1.1 response head the path
//! writes becomes the stream's HEADERS. Pure: no I/O.

use std::mem::MaybeUninit;

use http::header::{COOKIE, HOST, TE};
use http::{HeaderName, HeaderValue, StatusCode};

/// How the body of a translated request follows its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// The stream ended with its HEADERS: no body.
    None,
    /// `content-length` came with the request: the body's bytes follow as they are.
    Length,
    /// No length: the body follows chunked (`Transfer-Encoding: chunked` was added).
    Chunked,
}

/// A request that cannot be written as HTTP/1.1: the stream is answered 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub &'static str);

/// Writes `parts` as an HTTP/1.1 request head into `out`. `ended`: the stream ended with its
/// HEADERS (no DATA follows). `Host` comes from `:authority` (a `host` field that names
/// another authority is refused, RFC 9113 §8.3.1); cookies split over several fields are
/// joined with "; " (§8.2.3); `te: trailers` is dropped (nothing hop-by-hop goes upstream).
pub fn request_head(
    parts: &http::request::Parts,
    ended: bool,
    out: &mut Vec<u8>,
) -> Result<RequestBody, Refused> {
    let authority = parts.uri.authority().map(|a| a.as_str().as_bytes());
    let host_field = parts.headers.get(HOST).map(HeaderValue::as_bytes);
    if parts.headers.get_all(HOST).iter().count() > 1 {
        return Err(Refused("more than one host field"));
    }
    let host = match (authority, host_field) {
        (Some(a), Some(h)) if !a.eq_ignore_ascii_case(h) => {
            return Err(Refused("the host field differs from :authority"));
        }
        (Some(a), _) => Some(a),
        (None, h) => h,
    };
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    if parts.method == http::Method::CONNECT {
        out.extend_from_slice(authority.unwrap_or_default());
    } else {
        match parts.uri.path_and_query().map(|p| p.as_str()) {
            Some(p) if !p.is_empty() => out.extend_from_slice(p.as_bytes()),
            _ => return Err(Refused("an empty :path")),
        }
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let Some(h) = host {
        field(out, b"host", h);
    }
    let mut cookies = 0;
    let mut length = false;
    for (name, value) in &parts.headers {
        if *name == HOST || *name == TE {
            continue;
        }
        if *name == COOKIE {
            cookies += 1;
            continue;
        }
        if *name == http::header::CONTENT_LENGTH {
            length = true;
        }
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if cookies > 0 {
        out.extend_from_slice(b"cookie: ");
        for (i, c) in parts.headers.get_all(COOKIE).iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(c.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    let body = match (ended, length) {
        (true, _) => RequestBody::None,
        (false, true) => RequestBody::Length,
        (false, false) => {
            field(out, b"transfer-encoding", b"chunked");
            RequestBody::Chunked
        }
    };
    out.extend_from_slice(b"\r\n");
    Ok(body)
}

fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
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
    pub response: http::Response<()>,
    pub body: ResponseBody,
}

/// The most fields a response head ringway writes may carry.
const MAX_FIELDS: usize = 256;

/// Fields HTTP/2 forbids (RFC 9113 §8.2.2): their meaning is the connection's.
fn connection_specific(name: &[u8]) -> bool {
    [
        &b"connection"[..],
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}

/// Parses the HTTP/1.1 response head at the start of `b`: Ok(None) while incomplete.
/// `head_request`: the request was HEAD (no body follows whatever the fields say). The field
/// values are slices of `b` (no copy, no allocation per field).
pub fn response_head(
    b: &bytes::Bytes,
    head_request: bool,
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
    let status = StatusCode::from_u16(code).map_err(|_| "a bad status")?;
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    *response.headers_mut() = http::HeaderMap::with_capacity(parsed.headers.len());
    let mut length = None;
    let mut chunked = false;
    let headers = response.headers_mut();
    for f in parsed.headers.iter() {
        let name = f.name.as_bytes();
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = f.value.eq_ignore_ascii_case(b"chunked");
        }
        if connection_specific(name) {
            continue;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            length = std::str::from_utf8(f.value)
                .ok()
                .and_then(|v| v.parse().ok());
        }
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_maybe_shared(b.slice_ref(f.value)),
        ) else {
            return Err("a response field HTTP/2 cannot carry");
        };
        headers.append(n, v);
    }
    let body = if head_request || code < 200 || code == 204 || code == 304 {
        ResponseBody::None
    } else if chunked {
        ResponseBody::Chunked
    } else if let Some(n) = length {
        ResponseBody::Length(n)
    } else {
        ResponseBody::ToEnd
    };
    Ok(Some(ResponseHead {
        len,
        response,
        body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(req: http::Request<()>) -> http::request::Parts {
        req.into_parts().0
    }

    fn head(req: http::Request<()>, ended: bool) -> (String, RequestBody) {
        let mut out = Vec::new();
        let body = request_head(&parts(req), ended, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), body)
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
    fn response_head_drops_connection_fields() {
        let b = bytes::Bytes::from_static(b"HTTP/1.1 200 OK\r\nServer: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n");
        let h = response_head(&b, false).unwrap().unwrap();
        assert_eq!(&b[h.len..], b"5\r\n");
        assert_eq!(h.body, ResponseBody::Chunked);
        assert_eq!(h.response.headers().len(), 1);
        assert_eq!(h.response.headers()["server"], "x");
        let b =
            bytes::Bytes::from_static(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(
            response_head(&b, false).unwrap().unwrap().body,
            ResponseBody::None
        );
        let b = bytes::Bytes::from_static(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        let h = response_head(&b, false).unwrap().unwrap();
        assert_eq!(h.body, ResponseBody::Length(10));
        assert_eq!(
            response_head(&b, true).unwrap().unwrap().body,
            ResponseBody::None
        );
        let partial = bytes::Bytes::from_static(b"HTTP/1.1 200 OK\r\n");
        assert!(response_head(&partial, false).unwrap().is_none());
    }
}
