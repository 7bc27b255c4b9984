//! The HTTP layer's one error type; each variant knows the status a client gets and carries its
//! cause (which line or field, and what was wrong with it) for the log.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Malformed message or framing conflict: 400 and close. The text is the cause.
    BadRequest(&'static str),
    /// Request line longer than one header buffer: 414 (as nginx).
    UriTooLong,
    /// A field line longer than one header buffer, a head larger than all of them, or more
    /// fields than allowed: 400, as nginx answers all three ("Request Header Or Cookie Too
    /// Large"). The text is the cause.
    HeadersTooLarge(&'static str),
    /// A Transfer-Encoding other than a final `chunked`: 501 per RFC 9112 §6.1 (or 400).
    NotImplemented(&'static str),
    /// HTTP major version we do not speak: 505.
    VersionNotSupported,
}

impl ParseError {
    pub fn status(&self) -> u16 {
        match self {
            ParseError::BadRequest(_) | ParseError::HeadersTooLarge(_) => 400,
            ParseError::UriTooLong => 414,
            ParseError::NotImplemented(_) => 501,
            ParseError::VersionNotSupported => 505,
        }
    }

    /// The standard reason phrase of `status()` (not the cause).
    pub fn reason(&self) -> &'static str {
        super::status::reason(self.status())
    }

    /// What was wrong, for the log: `invalid Content-Length value`, `obs-fold in field line`…
    pub fn cause(&self) -> &'static str {
        match self {
            ParseError::BadRequest(why)
            | ParseError::HeadersTooLarge(why)
            | ParseError::NotImplemented(why) => why,
            ParseError::UriTooLong => "request line longer than one header buffer",
            ParseError::VersionNotSupported => "HTTP major version other than 1",
        }
    }
}

/// `400 Bad Request: invalid Content-Length value`: status, reason and cause.
impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status(), self.reason(), self.cause())
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_reasons() {
        let cases = [
            (ParseError::BadRequest("x"), 400, "Bad Request"),
            (ParseError::UriTooLong, 414, "URI Too Long"),
            (ParseError::HeadersTooLarge("x"), 400, "Bad Request"),
            (ParseError::NotImplemented("gzip"), 501, "Not Implemented"),
            (
                ParseError::VersionNotSupported,
                505,
                "HTTP Version Not Supported",
            ),
        ];
        for (e, code, reason) in cases {
            assert_eq!(e.status(), code);
            assert_eq!(e.reason(), reason);
            assert!(!e.cause().is_empty(), "{e:?}");
        }
    }

    #[test]
    fn display_carries_the_cause() {
        assert_eq!(
            ParseError::BadRequest("more than one Host field").to_string(),
            "400 Bad Request: more than one Host field"
        );
        assert_eq!(
            ParseError::UriTooLong.to_string(),
            "414 URI Too Long: request line longer than one header buffer"
        );
        assert_eq!(
            ParseError::HeadersTooLarge("field line longer than one header buffer").to_string(),
            "400 Bad Request: field line longer than one header buffer"
        );
        assert_eq!(
            ParseError::VersionNotSupported.to_string(),
            "505 HTTP Version Not Supported: HTTP major version other than 1"
        );
    }
}
