//! Spike: the `h2` crate over monoio's poll-io bridge, with writes corked: h2 flushes after
//! every accepted stream, so frames are held until the read side would block (or 64 KiB wait),
//! then written in one go, as a completion-based writer would batch them.
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use monoio::io::poll_io::{AsyncRead, AsyncWrite, ReadBuf};
use monoio::io::IntoPollIo;
use monoio::net::tcp::stream_poll::TcpStreamPoll;

const CORK_LIMIT: usize = 64 * 1024;

struct Corked {
    io: TcpStreamPoll,
    out: Vec<u8>,
    sent: usize,
    read_idle: bool,
}

impl Corked {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.out.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.out[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.out.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Corked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending => {
                this.read_idle = true;
                // Nothing more to read now: the batch is complete, send it.
                if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                    return Poll::Ready(Err(e));
                }
                Poll::Pending
            }
            ready => {
                this.read_idle = false;
                ready
            }
        }
    }
}

impl AsyncWrite for Corked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.out.len() >= CORK_LIMIT {
            ready!(this.poll_drain(cx))?;
        }
        this.out.extend_from_slice(src);
        Poll::Ready(Ok(src.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Only once the read side would block (h2 has taken every ready frame) or the batch
        // is large: a flush during a burst of streams waits for the next.
        if this.read_idle || this.out.len() >= CORK_LIMIT {
            return this.poll_drain(cx);
        }
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

async fn serve(stream: monoio::net::TcpStream) {
    let Ok(io) = stream.into_poll_io() else {
        return;
    };
    let io = Corked {
        io,
        out: Vec::with_capacity(16 * 1024),
        sent: 0,
        read_idle: false,
    };
    h2spike::answer_streams(io, "h2spike-cork").await;
}

fn main() {
    h2spike::run(8085, serve);
}
