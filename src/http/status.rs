//! Status pages ringway answers itself: errors and `return` responses.

use super::util::push_u64;

/// Standard reason phrase for a status code ("Bad Gateway"); "Unknown" for unregistered codes.
pub fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "Unknown",
    }
}

/// 1xx, 204 and 304 responses never carry content (RFC 9110 §6.4.1), and 1xx/204 must not carry
/// Content-Length either (§8.6).
#[inline]
pub fn has_no_content(code: u16) -> bool {
    code < 200 || code == 204 || code == 304
}

/// Writes a complete response: status line, `Content-Type: text/plain`, Content-Length, a
/// `Connection: close` field when `close`, and a short body such as "502 Bad Gateway\n".
/// `head_only` (a HEAD request) keeps the Content-Length but omits the body.
///
/// For codes that cannot carry content (1xx, 204, 304) only the status line and the
/// Connection field are written.
pub fn write_error(out: &mut Vec<u8>, code: u16, close: bool, head_only: bool) {
    let reason = reason(code);
    out.extend_from_slice(b"HTTP/1.1 ");
    push_u64(out, u64::from(code));
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    let no_content = has_no_content(code);
    // Body: "<code> <reason>\n"; its length is digits + 1 + reason + 1.
    let digits = if code >= 10000 {
        5
    } else if code >= 1000 {
        4
    } else if code >= 100 {
        3
    } else if code >= 10 {
        2
    } else {
        1
    };
    if !no_content {
        out.extend_from_slice(b"Content-Type: text/plain\r\nContent-Length: ");
        push_u64(out, (digits + 1 + reason.len() + 1) as u64);
        out.extend_from_slice(b"\r\n");
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !no_content && !head_only {
        push_u64(out, u64::from(code));
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        assert_eq!(reason(200), "OK");
        assert_eq!(reason(404), "Not Found");
        assert_eq!(reason(413), "Content Too Large");
        assert_eq!(reason(429), "Too Many Requests");
        assert_eq!(reason(431), "Request Header Fields Too Large");
        assert_eq!(reason(451), "Unavailable For Legal Reasons");
        assert_eq!(reason(502), "Bad Gateway");
        assert_eq!(reason(505), "HTTP Version Not Supported");
        assert_eq!(reason(0), "Unknown");
        assert_eq!(reason(299), "Unknown");
        assert_eq!(reason(999), "Unknown");
    }

    #[test]
    fn every_registered_code_has_a_phrase() {
        for code in [
            100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302,
            303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411,
            412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451,
            500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
        ] {
            assert_ne!(reason(code), "Unknown", "{code}");
        }
    }

    fn page(code: u16, close: bool, head_only: bool) -> String {
        let mut out = Vec::new();
        write_error(&mut out, code, close, head_only);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn error_page() {
        assert_eq!(
            page(502, false, false),
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\n502 Bad Gateway\n"
        );
        assert_eq!(
            page(400, true, false),
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 16\r\nConnection: close\r\n\r\n400 Bad Request\n"
        );
        assert_eq!(
            page(404, false, true),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\n"
        );
        assert_eq!(
            page(599, true, false),
            "HTTP/1.1 599 Unknown\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\n599 Unknown\n"
        );
    }

    #[test]
    fn content_length_matches_body() {
        for code in [
            200u16, 301, 400, 404, 413, 414, 431, 500, 502, 503, 504, 599, 1000,
        ] {
            let mut out = Vec::new();
            write_error(&mut out, code, false, false);
            let text = String::from_utf8(out).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            let cl: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(cl, body.len(), "{code}");
        }
    }

    #[test]
    fn no_content_codes() {
        assert_eq!(page(204, false, false), "HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(
            page(304, true, false),
            "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(page(100, false, false), "HTTP/1.1 100 Continue\r\n\r\n");
    }
}
