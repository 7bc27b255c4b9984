//! Status pages ringway answers itself: errors and `return` responses.

/// Standard reason phrase for a status code ("Bad Gateway"); "Unknown" for unregistered codes.
pub fn reason(code: u16) -> &'static str {
    let _ = code;
    todo!()
}

/// Writes a complete response: status line, `Content-Type: text/plain`, Content-Length, a
/// `Connection: close` field when `close`, and a short body such as "502 Bad Gateway\n".
/// `head_only` (a HEAD request) keeps the Content-Length but omits the body.
pub fn write_error(out: &mut Vec<u8>, code: u16, close: bool, head_only: bool) {
    let _ = (out, code, close, head_only);
    todo!()
}
