//! What a connection's byte stream is, as the request path sees it: plain TCP today, TLS next.
//! Reads and writes go through monoio's owned-buffer traits; the rest is what the path needs
//! beyond them: readiness waits, whether bytes may be spliced as they are (never through TLS,
//! which must see them), and whether an idle connection can be parked as a bare descriptor.

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use monoio::io::{AsyncReadRent, AsyncWriteRent, CancelableAsyncReadRent};
use monoio::net::TcpStream;

pub trait Transport: AsyncReadRent + AsyncWriteRent + CancelableAsyncReadRent {
    /// Whether a kept-alive connection may wait in a read at once (holding a buffer) rather
    /// than for readability (see `proxy::session`).
    const READ_FIRST: bool = true;
    /// Nobody reads what is written (a cache fill's sink): work that only shapes the bytes for
    /// a reader (compression) is skipped.
    const DISCARDS: bool = false;
    /// The stream sends a response head as HTTP/2's HEADERS: the response phase writes it in
    /// that form (`http::h2_head`) rather than as HTTP/1.1 text the stream would read back.
    const HTTP2_HEADS: bool = false;

    /// The socket when bytes may move between it and a pipe unchanged (splice(2)).
    fn splice_fd(&self) -> Option<RawFd>;
    /// Resolves when bytes (or a close) can be read without waiting.
    fn readable(&self) -> impl Future<Output = io::Result<()>>;
    /// Resolves when the socket can take more bytes.
    fn writable(&self) -> impl Future<Output = io::Result<()>>;
    /// A duplicate of the socket for parking an idle connection, when the transport keeps no
    /// state beyond the socket itself; None keeps the connection in its task.
    fn park_fd(&self) -> Option<OwnedFd>;
    /// The connection has been idle a while and stays in its task (it cannot park): let go of
    /// buffers that only move bytes (TLS: rustls's buffer of received records).
    fn release_idle_buffers(&mut self) {}
    /// Before the connection is dropped: TLS sends its close_notify (plain TCP has nothing to
    /// say). Best effort; the caller bounds how long it may take.
    fn close_notify(&mut self) -> impl Future<Output = ()> {
        async {}
    }
    /// The next write completes the last response and the connection closes after it: TLS
    /// queues its close_notify behind those bytes, so both leave in one send (one syscall and
    /// one segment fewer per closing TLS connection); `close_notify` then has nothing to send.
    fn closes_after_next_write(&mut self) {}
    /// The client's socket itself, for a lingering close (None: not a socket of ours).
    fn socket_fd(&self) -> Option<RawFd> {
        None
    }
    /// Resolves when the socket itself has bytes (or a close), whatever the transport holds.
    fn socket_readable(&self) -> impl Future<Output = io::Result<()>> {
        self.readable()
    }
}

impl Transport for TcpStream {
    fn splice_fd(&self) -> Option<RawFd> {
        Some(self.as_raw_fd())
    }

    fn socket_fd(&self) -> Option<RawFd> {
        Some(self.as_raw_fd())
    }

    fn readable(&self) -> impl Future<Output = io::Result<()>> {
        TcpStream::readable(self, false)
    }

    fn writable(&self) -> impl Future<Output = io::Result<()>> {
        TcpStream::writable(self, false)
    }

    fn park_fd(&self) -> Option<OwnedFd> {
        // SAFETY: plain syscall on an open descriptor; the result is checked before use.
        let raw = unsafe { libc::fcntl(self.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw) })
    }
}
