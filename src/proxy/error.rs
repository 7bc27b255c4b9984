//! The proxy layer's one error type. Each error knows who failed (the client, an upstream,
//! ringway), the status the client gets (none once an answer has begun or the client is gone),
//! and whether the request could be sent again safely. Errors become answers in one place:
//! `answer::failure`.

use crate::http::ParseError;
use crate::upstream;

/// Who failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Client,
    Upstream,
    Ringway,
}

#[derive(Debug)]
pub enum Error {
    /// A head that does not parse: 400, 414, 431, 501 or 505.
    Parse(ParseError),
    /// The client went quiet in the middle of its head: 408.
    HeadTimeout,
    /// A path that cannot be normalized (`..` above the root, an encoded NUL): 400.
    BadPath(&'static str),
    /// CONNECT or TRACE, which a reverse proxy does not serve: 405.
    MethodNotAllowed,
    /// The request body came too slowly (408), grew past `client_max_body_size` (413), or had
    /// bad chunked framing (400).
    BodyTimeout,
    BodyTooLarge,
    BadBody(ParseError),
    /// A chunked body for an upstream spoken to in HTTP/1.0: 411.
    LengthRequired,
    /// No location matches (a server without `location /`): 404.
    NoLocation,
    /// The access phase said no: allow/deny (403), limit_conn/limit_req (their status),
    /// authentication (401 with its challenge in `extra`, 403). The answer keeps the
    /// connection open when the request's body is already read.
    Refused {
        status: u16,
        extra: Vec<u8>,
    },
    /// The client closed, reset or stopped reading: nothing to answer.
    ClientGone,
    /// An upstream failed before its response head was complete.
    Upstream(upstream::Error),
    /// An upstream failed after its answer began to reach the client: closing is all that is
    /// left to signal it.
    UpstreamCut,
    /// An upstream switched protocols (101) without being asked to: 502.
    UnaskedUpgrade,
    /// Host selects a server that verifies client certificates, but SNI chose another: 421.
    Misdirected,
    /// The server's `ssl_verify_client` refuses the connection's certificate (or its lack):
    /// 400, as nginx answers.
    ClientCert(&'static str),
    /// `rewrite` cycles went past nginx's limit of 10: 500.
    RewriteCycle,
    /// The `auth_request` subrequest failed or answered something else than 2xx/401/403: 500.
    AuthFailed,
}

impl Error {
    /// The status the client is answered with; None: no answer can be sent.
    pub fn status(&self) -> Option<u16> {
        Some(match self {
            Error::Parse(e) => e.status(),
            Error::HeadTimeout | Error::BodyTimeout => 408,
            Error::BadPath(_) | Error::BadBody(_) => 400,
            Error::MethodNotAllowed => 405,
            Error::Misdirected => 421,
            Error::ClientCert(_) => 400,
            Error::BodyTooLarge => 413,
            Error::LengthRequired => 411,
            Error::NoLocation => 404,
            Error::Refused { status, .. } => *status,
            Error::Upstream(e) => e.status(),
            Error::UnaskedUpgrade => 502,
            Error::RewriteCycle | Error::AuthFailed => 500,
            Error::ClientGone | Error::UpstreamCut => return None,
        })
    }

    pub fn party(&self) -> Party {
        match self {
            Error::Upstream(_) | Error::UpstreamCut | Error::UnaskedUpgrade => Party::Upstream,
            Error::RewriteCycle | Error::AuthFailed => Party::Ringway,
            _ => Party::Client,
        }
    }

    /// Whether the request may be sent again without risk: no upstream can have acted on it.
    pub fn retry_safe(&self) -> bool {
        match self {
            Error::Upstream(e) => !e.reached_server(),
            Error::UpstreamCut | Error::UnaskedUpgrade | Error::ClientGone => false,
            _ => true,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Parse(e) => write!(f, "bad request: {e}"),
            Error::HeadTimeout => f.write_str("client timed out sending its request head"),
            Error::BadPath(why) => write!(f, "bad request path: {why}"),
            Error::MethodNotAllowed => f.write_str("method not allowed"),
            Error::BodyTimeout => f.write_str("client timed out sending its request body"),
            Error::BodyTooLarge => f.write_str("request body larger than client_max_body_size"),
            Error::BadBody(e) => write!(f, "bad chunked request body: {e}"),
            Error::LengthRequired => {
                f.write_str("chunked request body for an HTTP/1.0 upstream (411)")
            }
            Error::NoLocation => f.write_str("no location matches"),
            Error::Refused { status, .. } => write!(f, "refused with {status}"),
            Error::ClientGone => f.write_str("client gone"),
            Error::Upstream(e) => e.fmt(f),
            Error::UpstreamCut => f.write_str("upstream failed in the middle of the response"),
            Error::UnaskedUpgrade => f.write_str("101 to a request that asked for no upgrade"),
            Error::RewriteCycle => f.write_str("rewrite or internal redirection cycle"),
            Error::AuthFailed => f.write_str("auth request failed"),
            Error::Misdirected => f.write_str(
                "misdirected request: Host selects a server that verifies client certificates, \
                 SNI chose another",
            ),
            Error::ClientCert(why) => f.write_str(why),
        }
    }
}
