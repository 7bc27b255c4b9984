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
        match self {
            ParseError::BadRequest(_) => 400,
            ParseError::UriTooLong => 414,
            ParseError::HeadersTooLarge => 431,
            ParseError::NotImplemented(_) => 501,
            ParseError::VersionNotSupported => 505,
        }
    }

    /// The standard reason phrase of `status()` (not the log text).
    pub fn reason(&self) -> &'static str {
        super::status::reason(self.status())
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::BadRequest(why) | ParseError::NotImplemented(why) => {
                write!(f, "{} {}: {}", self.status(), self.reason(), why)
            }
            _ => write!(f, "{} {}", self.status(), self.reason()),
        }
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
            (
                ParseError::HeadersTooLarge,
                431,
                "Request Header Fields Too Large",
            ),
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
        }
    }

    #[test]
    fn display() {
        assert_eq!(
            ParseError::BadRequest("bad host").to_string(),
            "400 Bad Request: bad host"
        );
        assert_eq!(ParseError::UriTooLong.to_string(), "414 URI Too Long");
    }
}
