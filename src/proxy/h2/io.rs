//! The `h2` crate's I/O (tokio's `AsyncRead`/`AsyncWrite`) over a ringway transport, with its
//! reads and writes as ring operations on owned buffers (docs/http2-spike.md chose this over
//! monoio's poll-io bridge: 0.26× against 0.61× nginx's CPU per stream).
//!
//! - One read in flight at most, into a pooled buffer; h2 takes bytes from it as it parses.
//! - Writes gather in one buffer while a write is in flight, so the frames of many streams
//!   leave in one operation; `poll_write` pushes back only when the buffer is full.
//! - Between requests (no stream served) a read waits for readability first and the buffer
//!   goes back to the pool as soon as h2 has taken its bytes; while streams are served, reads
//!   are submitted at once (one ring operation each).
//! - Idle (`park`): a read still in flight is cancelled, its buffer goes back to the pool, and
//!   the connection waits for readability holding no buffer (as `proxy::park` does for HTTP/1.1);
//!   a TLS stream lets go of rustls's record buffer too (`Transport::release_idle_buffers`).
//! - After the shutdown h2 asks for (its GOAWAY sent, then TLS's close_notify and the FIN), the
//!   read side stays open a while, discarding what the client still sends (`Lingering`).

use std::cell::{Cell, RefCell, UnsafeCell};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, ready};

use monoio::BufResult;
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, CancelableAsyncReadRent, Canceller,
    OwnedReadHalf, OwnedWriteHalf, Split, Splitable,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::net::Transport;
use crate::proxy::context::ShardCtx;

/// Bytes gathered before `poll_write` waits for the write in flight.
const WRITE_CAP: usize = 64 * 1024;
/// How long, and how many bytes, a shut connection's read side discards before it closes.
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;

type Op<T> = Pin<Box<dyn Future<Output = T>>>;
type ReadDone<S> = (OwnedReadHalf<S>, BufResult<usize, Vec<u8>>);
type WaitDone<S> = (OwnedReadHalf<S>, io::Result<()>);
type WriteDone<S> = (OwnedWriteHalf<S>, io::Result<()>, Vec<u8>);
/// Where the read half is: in a read in flight, in a wait for readability, or at hand.
type ReadSide<S> = (
    Option<Op<ReadDone<S>>>,
    Option<Op<WaitDone<S>>>,
    Option<OwnedReadHalf<S>>,
);

/// What the connection task tells its I/O: how many streams are being served, and when to go
/// idle (drop the read buffer).
#[derive(Default)]
pub struct Idle {
    parked: Cell<bool>,
    canceller: RefCell<Canceller>,
    /// Streams being served. With none, reads wait for readability first and the buffer goes
    /// back to the pool once h2 has taken its bytes: a connection between requests holds no
    /// read buffer (as an HTTP/1.1 connection after its first request).
    pub streams: Cell<usize>,
    /// Counts the connection task's polls of h2 (`conn::serve`): a flush waits for the next
    /// one, so the frames every stream queued meanwhile leave in one write.
    pub polls: Cell<u64>,
    /// What the connection task awaits once h2 is dropped, when the connection was shut down
    /// with the client's bytes still coming (see `Lingering`).
    pub linger: RefCell<Option<Lingering>>,
}

/// The read side of a connection h2 shut down (a GOAWAY after an error, say), discarding what
/// the client still sends, for at most `LINGER_TIME` and `LINGER_BYTES`. Closing at once with
/// its bytes unread would make the kernel answer with a reset, which can destroy the GOAWAY
/// before the client reads it: nginx's lingering close, which covers HTTP/2 since 1.19.1.
pub type Lingering = Pin<Box<dyn Future<Output = ()>>>;

impl Idle {
    /// Cancels the read in flight; until bytes come, the connection holds no read buffer.
    pub fn park(&self) {
        if self.parked.replace(true) {
            return;
        }
        let mut c = self.canceller.borrow_mut();
        // `cancel` hands back a fresh canceller for the next read.
        *c = std::mem::take(&mut *c).cancel();
    }

    pub fn is_parked(&self) -> bool {
        self.parked.get()
    }
}

pub struct H2Io<S: Transport + Split + 'static> {
    ctx: Rc<ShardCtx>,
    idle: Rc<Idle>,
    rd: Option<OwnedReadHalf<S>>,
    wr: Option<OwnedWriteHalf<S>>,
    reading: Option<Op<ReadDone<S>>>,
    waiting: Option<Op<WaitDone<S>>>,
    writing: Option<Op<WriteDone<S>>>,
    /// The stream both halves share, for `release_transport_buffers` (weak: the halves own it).
    stream: Weak<UnsafeCell<S>>,
    /// Bytes read and not yet taken by h2: `inbuf[inpos..]`.
    inbuf: Vec<u8>,
    inpos: usize,
    /// Bytes h2 wrote, for the next write.
    outbuf: Vec<u8>,
    /// A buffer back from a finished write, for the next `outbuf`.
    spare: Vec<u8>,
    eof: bool,
    /// The shutdown was sent.
    shut: bool,
    /// A flush h2 asked for during this poll of the connection (`Idle::polls`): the write
    /// starts at the next poll, which the flush asked for by waking the task.
    flush_at: Option<u64>,
}

impl<S: Transport + Split + 'static> H2Io<S> {
    /// `first`: bytes already read from the connection (the preface, with an h2c sniff).
    pub fn new(ctx: Rc<ShardCtx>, stream: S, first: Vec<u8>) -> H2Io<S> {
        let (rd, wr) = stream.into_split();
        H2Io {
            stream: Rc::downgrade(&rd.0),
            ctx,
            idle: Rc::default(),
            rd: Some(rd),
            wr: Some(wr),
            reading: None,
            waiting: None,
            writing: None,
            inbuf: first,
            inpos: 0,
            outbuf: Vec::new(),
            spare: Vec::new(),
            eof: false,
            shut: false,
            flush_at: None,
        }
    }

    pub fn idle(&self) -> Rc<Idle> {
        self.idle.clone()
    }

    /// Starts a read into the read buffer (a pooled one when none is held).
    fn start_read(&mut self) {
        let Some(mut rd) = self.rd.take() else {
            return;
        };
        let mut buf = std::mem::take(&mut self.inbuf);
        if buf.capacity() == 0 {
            buf = self.ctx.bufs.get();
        }
        buf.clear();
        self.inpos = 0;
        let handle = self.idle.canceller.borrow().handle();
        self.reading = Some(Box::pin(async move {
            let r = rd.cancelable_read(buf, handle).await;
            (rd, r)
        }));
    }

    /// The read buffer back to the pool (nothing in it is left to take).
    fn release_buffer(&mut self) {
        let buf = std::mem::take(&mut self.inbuf);
        if buf.capacity() > 0 {
            self.ctx.bufs.put(buf);
        }
        self.inpos = 0;
    }

    /// Parked: the transport lets go of what it holds only to move bytes (TLS: rustls's record
    /// buffer), once no write is in flight. Idempotent (an empty buffer is left as it is), so a
    /// parked connection's rare wake-ups may call it again.
    fn release_transport_buffers(&mut self) {
        if self.writing.is_some() {
            return;
        }
        if let Some(cell) = self.stream.upgrade() {
            // SAFETY: called from the connection's task between its awaits, with no write in
            // flight and the read half only waiting for readability: the stream's state is
            // not in use (the same contract `Split` gives the halves).
            unsafe { (*cell.get()).release_idle_buffers() };
        }
    }

    /// Waits for readability with no buffer held.
    fn start_wait(&mut self) {
        let Some(rd) = self.rd.take() else {
            return;
        };
        self.release_buffer();
        self.waiting = Some(Box::pin(async move {
            // SAFETY: the read half's stream; only its read side is used, as `Split` allows.
            let s = unsafe { &*rd.0.get() };
            let r = s.readable().await;
            (rd, r)
        }));
    }

    /// A written buffer, kept for the next write while streams are served; an idle connection
    /// (or one past a burst that grew it) lets it go.
    fn keep_spare(&mut self, mut buf: Vec<u8>) {
        if self.idle.streams.get() > 0 && buf.capacity() <= 2 * WRITE_CAP {
            buf.clear();
            self.spare = buf;
        }
    }

    /// Drives the write in flight and starts the next with what gathered; Ready once nothing
    /// is left to write.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(op) = self.writing.as_mut() {
                let (wr, res, buf) = ready!(op.as_mut().poll(cx));
                self.writing = None;
                self.wr = Some(wr);
                self.keep_spare(buf);
                res?;
            }
            if self.outbuf.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let Some(mut wr) = self.wr.take() else {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            };
            let buf = std::mem::replace(&mut self.outbuf, std::mem::take(&mut self.spare));
            self.writing = Some(Box::pin(async move {
                let (res, buf) = wr.write_all(buf).await;
                (wr, res.map(|_| ()), buf)
            }));
        }
    }
}

impl<S: Transport + Split + 'static> Drop for H2Io<S> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.inbuf);
        if buf.capacity() > 0 && self.reading.is_none() {
            self.ctx.bufs.put(buf);
        }
        if self.shut && !self.eof {
            let side = (self.reading.take(), self.waiting.take(), self.rd.take());
            let lingering: Lingering = Box::pin(linger(self.ctx.clone(), side));
            *self.idle.linger.borrow_mut() = Some(lingering);
        }
    }
}

/// Reads and discards until the client closes, an error, or the bounds (`Lingering`).
async fn linger<S: Transport + Split + 'static>(ctx: Rc<ShardCtx>, side: ReadSide<S>) {
    let discard = async move {
        let mut rd = match side {
            (Some(read), _, _) => {
                let (rd, (res, buf)) = read.await;
                ctx.bufs.put(buf);
                if !matches!(res, Ok(n) if n > 0) {
                    return;
                }
                rd
            }
            (None, Some(wait), _) => match wait.await {
                (rd, Ok(())) => rd,
                (_, Err(_)) => return,
            },
            (None, None, Some(rd)) => rd,
            (None, None, None) => return,
        };
        tracing::debug!("HTTP/2 connection shut: discarding what the client still sends");
        let mut buf = ctx.bufs.get();
        let mut total = 0;
        while total < LINGER_BYTES {
            buf.clear();
            let (res, b) = rd.read(buf).await;
            buf = b;
            match res {
                Ok(n) if n > 0 => total += n,
                _ => break,
            }
        }
        ctx.bufs.put(buf);
    };
    let _ = crate::net::deadline::within(LINGER_TIME, discard).await;
}

impl<S: Transport + Split + 'static> AsyncRead for H2Io<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.inpos < this.inbuf.len() {
                let n = out.remaining().min(this.inbuf.len() - this.inpos);
                out.put_slice(&this.inbuf[this.inpos..this.inpos + n]);
                this.inpos += n;
                if this.inpos == this.inbuf.len() && this.idle.streams.get() == 0 {
                    this.release_buffer();
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            if this.waiting.is_some() && this.idle.parked.get() {
                this.release_transport_buffers();
            }
            if let Some(op) = this.waiting.as_mut() {
                let (rd, res) = ready!(op.as_mut().poll(cx));
                this.waiting = None;
                this.rd = Some(rd);
                this.idle.parked.set(false);
                // Bytes are there: this read completes at once.
                if res.is_err() {
                    this.eof = true;
                    continue;
                }
                this.start_read();
                continue;
            }
            if let Some(op) = this.reading.as_mut() {
                let (rd, (res, buf)) = ready!(op.as_mut().poll(cx));
                this.reading = None;
                this.rd = Some(rd);
                this.inbuf = buf;
                this.inpos = 0;
                match res {
                    Ok(0) => this.eof = true,
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => {
                        this.inbuf.clear();
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
                continue;
            }
            if this.idle.parked.get() || this.idle.streams.get() == 0 {
                this.start_wait();
            } else {
                this.start_read();
            }
        }
    }
}

impl<S: Transport + Split + 'static> AsyncWrite for H2Io<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.outbuf.len() >= WRITE_CAP {
            // Starts the write of what gathered (or finishes the one in flight).
            if let Poll::Ready(Err(e)) = this.poll_send(cx) {
                return Poll::Ready(Err(e));
            }
            if this.outbuf.len() >= WRITE_CAP {
                return Poll::Pending;
            }
        }
        let n = data.len().min(WRITE_CAP * 2 - this.outbuf.len());
        this.outbuf.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    /// h2 flushes after every DATA frame it writes out of line (16 KiB at most): writing then
    /// would make one write (and, over TLS, one sendmsg) per frame. Instead the write starts
    /// at the task's next poll, after every ready stream has queued its frames; a full buffer
    /// or a write in flight that has not finished are the only reasons to say Pending.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(op) = this.writing.as_mut() {
            match op.as_mut().poll(cx) {
                Poll::Pending if this.outbuf.len() < WRITE_CAP => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
                Poll::Ready((wr, res, buf)) => {
                    this.writing = None;
                    this.wr = Some(wr);
                    this.keep_spare(buf);
                    res?;
                }
            }
        }
        if this.outbuf.is_empty() {
            this.flush_at = None;
            return Poll::Ready(Ok(()));
        }
        let now = this.idle.polls.get();
        match this.flush_at {
            Some(at) if at != now => {}
            Some(_) if this.outbuf.len() < WRITE_CAP => return Poll::Ready(Ok(())),
            None if this.outbuf.len() < WRITE_CAP => {
                this.flush_at = Some(now);
                cx.waker().wake_by_ref();
                return Poll::Ready(Ok(()));
            }
            _ => {}
        }
        this.flush_at = None;
        this.poll_send(cx)
    }

    /// After h2's last frames (GOAWAY): TLS's close_notify, then the TCP shutdown.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        if this.shut {
            return Poll::Ready(Ok(()));
        }
        let Some(mut wr) = this.wr.take() else {
            return Poll::Ready(Ok(()));
        };
        this.shut = true;
        this.writing = Some(Box::pin(async move {
            let res = wr.shutdown().await;
            (wr, res, Vec::new())
        }));
        this.poll_send(cx)
    }
}
