//! An upstream connection: plain TCP, or TLS for `proxy_pass https://`. One type so pools,
//! the exchange, the relays and the tunnel handle both; only plain connections splice.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use monoio::BufResult;
use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, CancelHandle, CancelableAsyncReadRent, Split};
use monoio::net::TcpStream;
use rustls::ClientConnection;

use crate::net::Transport;
use crate::tls::TlsStream;

pub enum UpStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<ClientConnection>>),
}

impl UpStream {
    /// The socket underneath (for the pool's liveness check).
    pub fn raw_fd(&self) -> RawFd {
        match self {
            UpStream::Plain(s) => s.as_raw_fd(),
            UpStream::Tls(t) => t.tcp().as_raw_fd(),
        }
    }

    /// Whether decrypted bytes wait in the TLS state (a pooled connection must have none).
    pub fn buffered(&self) -> bool {
        match self {
            UpStream::Plain(_) => false,
            UpStream::Tls(t) => !t.conn().wants_read(),
        }
    }
}

impl AsyncReadRent for UpStream {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpStream::Plain(s) => s.read(buf).await,
            UpStream::Tls(t) => t.read(buf).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpStream::Plain(s) => s.readv(buf).await,
            UpStream::Tls(t) => t.readv(buf).await,
        }
    }
}

impl CancelableAsyncReadRent for UpStream {
    async fn cancelable_read<T: IoBufMut>(
        &mut self,
        buf: T,
        c: CancelHandle,
    ) -> BufResult<usize, T> {
        match self {
            UpStream::Plain(s) => s.cancelable_read(buf, c).await,
            UpStream::Tls(t) => t.cancelable_read(buf, c).await,
        }
    }

    async fn cancelable_readv<T: IoVecBufMut>(
        &mut self,
        buf: T,
        c: CancelHandle,
    ) -> BufResult<usize, T> {
        match self {
            UpStream::Plain(s) => s.cancelable_readv(buf, c).await,
            UpStream::Tls(t) => t.cancelable_readv(buf, c).await,
        }
    }
}

impl AsyncWriteRent for UpStream {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpStream::Plain(s) => s.write(buf).await,
            UpStream::Tls(t) => t.write(buf).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            UpStream::Plain(s) => s.writev(buf).await,
            UpStream::Tls(t) => t.writev(buf).await,
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            UpStream::Plain(s) => s.flush().await,
            UpStream::Tls(t) => t.flush().await,
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            UpStream::Plain(s) => s.shutdown().await,
            UpStream::Tls(t) => t.shutdown().await,
        }
    }
}

impl Transport for UpStream {
    fn splice_fd(&self) -> Option<RawFd> {
        match self {
            UpStream::Plain(s) => s.splice_fd(),
            UpStream::Tls(t) => t.splice_fd(),
        }
    }

    async fn readable(&self) -> io::Result<()> {
        match self {
            UpStream::Plain(s) => Transport::readable(s).await,
            UpStream::Tls(t) => t.readable().await,
        }
    }

    async fn writable(&self) -> io::Result<()> {
        match self {
            UpStream::Plain(s) => Transport::writable(s).await,
            UpStream::Tls(t) => t.writable().await,
        }
    }

    fn park_fd(&self) -> Option<OwnedFd> {
        None
    }
}

// SAFETY: both variants are Split (see TlsStream's and monoio's TcpStream's).
unsafe impl Split for UpStream {}
