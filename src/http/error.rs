//! The HTTP layer's one error type; each variant knows the status a client gets.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Malformed message or framing conflict: 400 and close. The text goes to the log.
    BadRequest(&'static str),
    /// Request line longer than allowed: 414.
    UriTooLong,
    /// Head larger than allowed (or too many fields): 431.
    HeadersTooLarge,
    /// A Transfer-Encoding other than a final `chunked`: 501 per RFC 9112 §6.1 (or 400).
    NotImplemented(&'static str),
    /// HTTP major version we do not speak: 505.
    VersionNotSupported,
}

impl ParseError {
    pub fn status(&self) -> u16 {
        todo!()
    }
    pub fn reason(&self) -> &'static str {
        todo!()
    }
}
