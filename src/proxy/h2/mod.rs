//! HTTP/2 downstream (RFC 9113), with the `h2` crate: `conn` runs a connection and spawns a
//! task per stream; `stream` presents each stream to the request path as a `Transport` that
//! carries one HTTP/1.1 request and its response (`crate::http::h2` translates the heads), so
//! both framings share one request path; `io` gives h2 ring I/O on owned buffers; `tunnel`
//! relays an extended CONNECT's stream (WebSocket over HTTP/2) after its upgrade.

mod conn;
mod io;
mod stream;
mod tunnel;

pub use conn::serve;

/// The client connection preface (RFC 9113 §3.4): how an h2c client with prior knowledge
/// starts.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
