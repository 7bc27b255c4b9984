//! The upstream layer's one error type: what went wrong with a server, the status a client gets
//! for it, the `proxy_next_upstream` condition it falls under, and whether the server may have
//! acted on the request (which decides whether sending it elsewhere is safe).

use crate::observe::metrics::counters::FailKind;
use crate::route::{NU_ERROR, NU_INVALID_HEADER, NU_TIMEOUT};

#[derive(Debug)]
pub enum Error {
    /// No server can take the request: all down, or all tried.
    NoServer,
    /// Every usable server is at `max_conns`, and the queue is full or its wait timed out.
    QueueFull,
    Connect(std::io::Error),
    ConnectTimeout,
    /// The TLS handshake with the server failed (its certificate did not verify, no common
    /// protocol...): nothing of the request was sent.
    Tls(String),
    /// Writing the request head or body to the server failed.
    Send,
    /// The server closed or reset the connection before sending a byte of its answer.
    ClosedEarly,
    /// It closed or failed in the middle of the response head.
    Truncated,
    /// `proxy_read_timeout` (or `proxy_send_timeout`) passed.
    Timeout,
    /// The response head is not valid HTTP/1.x.
    Malformed,
}

impl Error {
    /// What the client is answered.
    pub fn status(&self) -> u16 {
        match self {
            Error::ConnectTimeout | Error::Timeout => 504,
            _ => 502,
        }
    }

    /// The `proxy_next_upstream` condition (`NU_*` bit) this failure is.
    pub fn condition(&self) -> u16 {
        match self {
            Error::ConnectTimeout | Error::Timeout => NU_TIMEOUT,
            Error::Malformed => NU_INVALID_HEADER,
            _ => NU_ERROR,
        }
    }

    /// Whether the server may have received the request (and acted on it): then only a request
    /// safe to repeat may go to another server.
    pub fn reached_server(&self) -> bool {
        !matches!(
            self,
            Error::NoServer
                | Error::QueueFull
                | Error::Connect(_)
                | Error::ConnectTimeout
                | Error::Tls(_)
        )
    }

    /// The kind the metrics count this failure under.
    pub fn fail_kind(&self) -> FailKind {
        match self {
            Error::Connect(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                FailKind::ConnectRefused
            }
            // NoServer and QueueFull name no server: never counted per server.
            Error::Connect(_) | Error::NoServer | Error::QueueFull => FailKind::ConnectError,
            Error::ConnectTimeout => FailKind::ConnectTimeout,
            Error::Tls(_) => FailKind::Tls,
            Error::Send => FailKind::Send,
            Error::ClosedEarly => FailKind::ClosedEarly,
            Error::Truncated => FailKind::Truncated,
            Error::Timeout => FailKind::ReadTimeout,
            Error::Malformed => FailKind::BadResponse,
        }
    }

    /// What a connection taken from the pool shows when it went bad while idle, no fault of
    /// the request's: closed by the server (nothing answered), or holding bytes the server wrote
    /// past its last answer (read as a malformed head). Such a request is sent again on a new
    /// connection when that is safe.
    pub fn stale_connection(&self) -> bool {
        matches!(self, Error::Send | Error::ClosedEarly | Error::Malformed)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NoServer => f.write_str("no live upstreams"),
            Error::QueueFull => {
                f.write_str("queue full or timed out waiting for a server under max_conns")
            }
            Error::Connect(e) => write!(f, "connect failed: {e}"),
            Error::ConnectTimeout => f.write_str("connect timed out"),
            Error::Tls(why) => write!(f, "TLS handshake with the upstream failed: {why}"),
            Error::Send => f.write_str("sending the request failed"),
            Error::ClosedEarly => f.write_str("upstream closed the connection before answering"),
            Error::Truncated => {
                f.write_str("upstream closed the connection in the middle of the response head")
            }
            Error::Timeout => f.write_str("upstream timed out"),
            Error::Malformed => f.write_str("upstream sent an invalid response head"),
        }
    }
}
