//! One HTTP/2 stream as the `Transport` the request path reads and writes: the same phases
//! serve it as an HTTP/1.1 connection with one request on it.
//!
//! - Reads give the request body (DATA frames, as they come, re-chunked when the request had no
//!   length), and release flow-control window as the path takes them: a slow upstream holds the
//!   client's window closed, never a buffer of ours.
//! - Writes take the HTTP/1.1 response the path writes: its head becomes HEADERS
//!   (`http::h2::response_head`), its body (by length, chunked or to the end) DATA frames of at
//!   most `http2_chunk_size`, each sent only when the client's window has room for it.
//! - An extended CONNECT (RFC 8441) is the exception: its upstream's 101 becomes a 200 and
//!   the stream a tunnel, whose halves (`Inbound`, `Outbound`) `h2::tunnel` relays
//!   separately.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use monoio::BufResult;
use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, CancelHandle, CancelableAsyncReadRent};

use crate::http::chunked::{ChunkedDecoder, Decoded};
use crate::http::h2::{HeadFields, RequestBody, ResponseBody, ResponseHead, Want, response_head};
use crate::http::h2_tunnel::{Expect, accepted};
use crate::net::Transport;
use tracing::warn;

/// The most bytes of response head held before it must be complete.
const MAX_HEAD: usize = 64 * 1024;

/// Where the response stands.
enum Out {
    /// Gathering the head's bytes.
    Head(Vec<u8>),
    /// Body bytes left by Content-Length.
    Length(u64),
    Chunked(ChunkedDecoder),
    /// Until `shutdown` or the end of the request.
    ToEnd,
    /// A tunnel's bytes, until `shutdown` or the end of the relay.
    Tunnel,
    /// END_STREAM sent (or the stream reset).
    Done,
}

/// The stream's sending side, shared with its task's reset watch (`Sender::poll_reset`).
#[derive(Default)]
pub struct Sender {
    respond: Option<SendResponse<Bytes>>,
    send: Option<SendStream<Bytes>>,
}

impl Sender {
    /// Ready once the client resets the stream.
    pub fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let polled = match (self.send.as_mut(), self.respond.as_mut()) {
            (Some(s), _) => s.poll_reset(cx),
            (None, Some(r)) => r.poll_reset(cx),
            (None, None) => return Poll::Pending,
        };
        match polled {
            Poll::Ready(Ok(_)) => Poll::Ready(()),
            // The stream or connection failed: nothing will be sent either.
            Poll::Ready(Err(_)) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}

pub struct H2Stream {
    inbound: Inbound,
    outbound: Outbound,
}

/// The request's side: its DATA, read by the path (or, in a tunnel, by the relay).
pub struct Inbound {
    recv: RecvStream,
    body: RequestBody,
    /// Request body bytes framed for the path, not yet read: `staged[at..]`.
    staged: Vec<u8>,
    at: usize,
    body_done: bool,
}

/// The response's side: HEADERS and DATA, from the bytes the path (or the relay) writes.
pub struct Outbound {
    tx: Rc<RefCell<Sender>>,
    out: Out,
    head_request: bool,
    chunk: usize,
    /// An extended CONNECT's expectations, until its upgrade is answered.
    tunnel: Option<Expect>,
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

fn broken(e: h2::Error) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, e)
}

impl H2Stream {
    /// `tunnel`: the request is an extended CONNECT (its `body` is `RequestBody::Tunnel`).
    pub fn new(
        recv: RecvStream,
        body: RequestBody,
        respond: SendResponse<Bytes>,
        head_request: bool,
        chunk: usize,
        tunnel: Option<Expect>,
    ) -> H2Stream {
        H2Stream {
            inbound: Inbound {
                recv,
                body,
                staged: Vec::new(),
                at: 0,
                body_done: body == RequestBody::None,
            },
            outbound: Outbound {
                tx: Rc::new(RefCell::new(Sender {
                    respond: Some(respond),
                    send: None,
                })),
                out: Out::Head(Vec::new()),
                head_request,
                chunk: chunk.max(1),
                tunnel,
            },
        }
    }

    pub fn sender(&self) -> Rc<RefCell<Sender>> {
        self.outbound.tx.clone()
    }

    pub fn finish(&mut self) {
        self.outbound.finish();
    }

    /// Whether the response opened a tunnel (a 101 to an extended CONNECT, sent as 200).
    pub fn is_tunnel(&self) -> bool {
        matches!(self.outbound.out, Out::Tunnel)
    }

    /// The stream's two sides, to relay each on its own.
    pub fn into_halves(self) -> (Inbound, Outbound) {
        (self.inbound, self.outbound)
    }
}

impl Outbound {
    /// Ends the stream after the request path is done with it: END_STREAM for a body that ran
    /// to its end, RST_STREAM for a response cut short or never begun.
    pub fn finish(&mut self) {
        let mut tx = self.tx.borrow_mut();
        match std::mem::replace(&mut self.out, Out::Done) {
            Out::Done => {}
            Out::ToEnd | Out::Tunnel => {
                if let Some(s) = tx.send.as_mut() {
                    let _ = s.send_data(Bytes::new(), true);
                }
            }
            Out::Head(_) => {
                if let Some(r) = tx.respond.as_mut() {
                    r.send_reset(Reason::INTERNAL_ERROR);
                }
            }
            Out::Length(_) | Out::Chunked(_) => {
                if let Some(s) = tx.send.as_mut() {
                    s.send_reset(Reason::INTERNAL_ERROR);
                }
            }
        }
    }

    /// Takes response bytes the path wrote.
    async fn take(&mut self, data: &[u8]) -> io::Result<()> {
        if let Out::Head(head) = &mut self.out {
            head.extend_from_slice(data);
            return self.head().await;
        }
        self.body(data).await
    }

    /// Sends the response head once its bytes are complete, then any body bytes after it.
    async fn head(&mut self) -> io::Result<()> {
        loop {
            let Out::Head(bytes) = &mut self.out else {
                return Ok(());
            };
            // The head's bytes become the fields' storage (no copy per field).
            let all = Bytes::from(std::mem::take(bytes));
            // A tunnel's answer is looked at (its accept checked); any other final head's
            // fields go out as ringway's own HPACK.
            let want = match self.tunnel {
                Some(_) => Want::Map,
                None => Want::Encoded,
            };
            let parsed = response_head(&all, self.head_request, want).map_err(invalid)?;
            let Some(h) = parsed else {
                if all.len() > MAX_HEAD {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "response head too large",
                    ));
                }
                self.out = Out::Head(all.into());
                return Ok(());
            };
            let rest = Bytes::slice(&all, h.len..);
            let status = h.status;
            if self.tunnel.is_some() {
                if status == http::StatusCode::SWITCHING_PROTOCOLS {
                    let response = h.into_response().ok_or_else(|| invalid("no fields"))?;
                    return self.open_tunnel(response, &rest).await;
                }
                if status.is_success() {
                    // It would tell the client its tunnel is open.
                    return self.refuse_tunnel(format!("a {status} to an upgrade, not a 101"));
                }
            }
            if status.is_informational() {
                // 100 Continue goes out as an interim HEADERS; the final head follows.
                if status == http::StatusCode::CONTINUE {
                    // Rare: read again as a map, for h2's interim HEADERS.
                    let interim = response_head(&all, self.head_request, Want::Map)
                        .map_err(invalid)?
                        .and_then(ResponseHead::into_response)
                        .ok_or_else(|| invalid("no fields"))?;
                    self.informational(interim)?;
                }
                self.out = Out::Head(rest.to_vec());
                continue;
            }
            let body = h.body;
            let end = matches!(body, ResponseBody::None | ResponseBody::Length(0));
            match h.fields {
                HeadFields::Encoded(block) => self.send_encoded(status, block, end)?,
                HeadFields::Map(_) => {
                    let response = h.into_response().ok_or_else(|| invalid("no fields"))?;
                    self.send_head(response, end)?;
                }
            }
            self.out = match body {
                _ if end => Out::Done,
                ResponseBody::Length(n) => Out::Length(n),
                ResponseBody::Chunked => Out::Chunked(ChunkedDecoder::default()),
                _ => Out::ToEnd,
            };
            return self.body(&rest).await;
        }
    }

    /// An extended CONNECT's 101: HTTP/2 says 200 (RFC 8441 §5), without the fields that
    /// belong to HTTP/1.1's handshake, and the stream becomes a tunnel.
    async fn open_tunnel(
        &mut self,
        mut response: http::Response<()>,
        rest: &[u8],
    ) -> io::Result<()> {
        let Some(expect) = self.tunnel.take() else {
            return Ok(());
        };
        if !accepted(&expect, response.headers()) {
            return self
                .refuse_tunnel("a 101 without the Sec-WebSocket-Accept its key asks".into());
        }
        response
            .headers_mut()
            .remove(http::header::SEC_WEBSOCKET_ACCEPT);
        *response.status_mut() = http::StatusCode::OK;
        self.send_head(response, false)?;
        self.out = Out::Tunnel;
        self.body(rest).await
    }

    /// An upgrade the upstream did not answer as the client asked: 502 to the client, and
    /// the path's write fails (the exchange ends there, its upstream connection closed).
    fn refuse_tunnel(&mut self, why: String) -> io::Result<()> {
        warn!("HTTP/2 extended CONNECT answered 502: the response was {why}");
        let mut bad = http::Response::new(());
        *bad.status_mut() = http::StatusCode::BAD_GATEWAY;
        self.send_head(bad, true)?;
        self.out = Out::Done;
        Err(io::Error::new(io::ErrorKind::InvalidData, why))
    }

    fn informational(&mut self, response: http::Response<()>) -> io::Result<()> {
        let mut tx = self.tx.borrow_mut();
        let respond = tx.respond.as_mut().ok_or(io::ErrorKind::BrokenPipe)?;
        respond.send_informational(response).map_err(broken)
    }

    /// HEADERS whose fields are already HPACK (`http::hpack`), END_STREAM when no body follows.
    fn send_encoded(
        &mut self,
        status: http::StatusCode,
        block: Bytes,
        end: bool,
    ) -> io::Result<()> {
        let mut tx = self.tx.borrow_mut();
        let respond = tx.respond.as_mut().ok_or(io::ErrorKind::BrokenPipe)?;
        let send = respond
            .send_response_encoded(status, block, end)
            .map_err(broken)?;
        tx.send = Some(send);
        Ok(())
    }

    /// HEADERS, with END_STREAM when no body follows.
    fn send_head(&mut self, response: http::Response<()>, end: bool) -> io::Result<()> {
        let mut tx = self.tx.borrow_mut();
        let respond = tx.respond.as_mut().ok_or(io::ErrorKind::BrokenPipe)?;
        let send = respond.send_response(response, end).map_err(broken)?;
        tx.send = Some(send);
        Ok(())
    }

    /// Body bytes, unframed from HTTP/1.1 and sent as DATA.
    async fn body(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match &mut self.out {
                Out::Head(_) => return Ok(()),
                Out::Done => return Ok(()),
                Out::ToEnd | Out::Tunnel => return self.send_data(data, false).await,
                Out::Length(left) => {
                    let n = (*left).min(data.len() as u64) as usize;
                    *left -= n as u64;
                    let end = *left == 0;
                    if end {
                        self.out = Out::Done;
                    }
                    return self.send_data(&data[..n], end).await;
                }
                Out::Chunked(dec) => {
                    let (used, what) = dec
                        .decode(data)
                        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk"))?;
                    let piece = &data[..used];
                    data = &data[used..];
                    match what {
                        Decoded::Data { start, end } => {
                            self.send_data(&piece[start..end], false).await?
                        }
                        Decoded::NeedMore => {}
                        Decoded::Done => {
                            self.out = Out::Done;
                            return self.send_data(&[], true).await;
                        }
                    }
                    if used == 0 {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// Sends `data` in pieces of at most `chunk` bytes, each once the client's window (and
    /// h2's send buffer) has room: a stalled client stops the path's writes here.
    async fn send_data(&mut self, mut data: &[u8], end: bool) -> io::Result<()> {
        let gone = || io::Error::from(io::ErrorKind::BrokenPipe);
        if data.is_empty() {
            if !end {
                return Ok(());
            }
            let mut tx = self.tx.borrow_mut();
            let send = tx.send.as_mut().ok_or_else(gone)?;
            return send.send_data(Bytes::new(), true).map_err(broken);
        }
        while !data.is_empty() {
            let want = data.len().min(self.chunk);
            let mut room = {
                let mut tx = self.tx.borrow_mut();
                let send = tx.send.as_mut().ok_or_else(gone)?;
                send.reserve_capacity(want);
                send.capacity()
            };
            while room == 0 {
                let polled = poll_fn(|cx| match self.tx.borrow_mut().send.as_mut() {
                    Some(s) => s.poll_capacity(cx),
                    None => Poll::Ready(None),
                })
                .await;
                match polled {
                    Some(Ok(n)) => room = n,
                    Some(Err(e)) => return Err(broken(e)),
                    None => return Err(gone()),
                }
            }
            let n = room.min(want);
            let last = end && n == data.len();
            let mut tx = self.tx.borrow_mut();
            let send = tx.send.as_mut().ok_or_else(gone)?;
            send.send_data(Bytes::copy_from_slice(&data[..n]), last)
                .map_err(broken)?;
            data = &data[n..];
        }
        Ok(())
    }
}

impl Inbound {
    /// The next request body bytes, framed as the translated head announced.
    async fn stage(&mut self) -> io::Result<()> {
        self.staged.clear();
        self.at = 0;
        match poll_fn(|cx| self.recv.poll_data(cx)).await {
            Some(Ok(data)) => {
                // The window reopens as the path takes the bytes.
                let _ = self.recv.flow_control().release_capacity(data.len());
                if self.body == RequestBody::Chunked {
                    if data.is_empty() {
                        return Ok(());
                    }
                    crate::http::util::push_hex(&mut self.staged, data.len() as u64);
                    self.staged.extend_from_slice(b"\r\n");
                    self.staged.extend_from_slice(&data);
                    self.staged.extend_from_slice(b"\r\n");
                } else {
                    self.staged.extend_from_slice(&data);
                }
            }
            None => {
                self.body_done = true;
                if self.body == RequestBody::Chunked {
                    self.staged.extend_from_slice(b"0\r\n\r\n");
                }
            }
            Some(Err(e)) => return Err(broken(e)),
        }
        Ok(())
    }
}

fn spare<T: IoBufMut>(buf: &mut T) -> &mut [u8] {
    // SAFETY: monoio's contract: write_ptr is valid for bytes_total bytes.
    unsafe { std::slice::from_raw_parts_mut(buf.write_ptr(), buf.bytes_total()) }
}

impl AsyncReadRent for Inbound {
    async fn read<T: IoBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        while self.at == self.staged.len() {
            if self.body_done {
                return (Ok(0), buf);
            }
            if let Err(e) = self.stage().await {
                return (Err(e), buf);
            }
        }
        let dst = spare(&mut buf);
        let n = dst.len().min(self.staged.len() - self.at);
        dst[..n].copy_from_slice(&self.staged[self.at..self.at + n]);
        self.at += n;
        // SAFETY: n bytes were written above.
        unsafe { buf.set_init(n) };
        (Ok(n), buf)
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        // The request path reads into plain buffers only.
        (Err(io::ErrorKind::Unsupported.into()), buf)
    }
}

impl AsyncReadRent for H2Stream {
    fn read<T: IoBufMut>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        self.inbound.read(buf)
    }

    fn readv<T: IoVecBufMut>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        self.inbound.readv(buf)
    }
}

impl CancelableAsyncReadRent for H2Stream {
    fn cancelable_read<T: IoBufMut>(
        &mut self,
        buf: T,
        _: CancelHandle,
    ) -> impl Future<Output = BufResult<usize, T>> {
        self.inbound.read(buf)
    }

    fn cancelable_readv<T: IoVecBufMut>(
        &mut self,
        buf: T,
        _: CancelHandle,
    ) -> impl Future<Output = BufResult<usize, T>> {
        self.inbound.readv(buf)
    }
}

impl AsyncWriteRent for Outbound {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        // SAFETY: monoio's contract: read_ptr is valid for bytes_init bytes.
        let src = unsafe { std::slice::from_raw_parts(buf.read_ptr(), buf.bytes_init()) };
        match self.take(src).await {
            Ok(()) => (Ok(src.len()), buf),
            Err(e) => (Err(e), buf),
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        let (ptr, n) = (buf.read_iovec_ptr(), buf.read_iovec_len());
        if ptr.is_null() || n == 0 {
            return (Ok(0), buf);
        }
        // SAFETY: the iovec array is valid for read_iovec_len entries.
        let iovs = unsafe { std::slice::from_raw_parts(ptr, n) };
        let mut total = 0;
        for iov in iovs {
            // SAFETY: each iovec describes initialised memory the buffer owns.
            let src = unsafe { std::slice::from_raw_parts(iov.iov_base as *const u8, iov.iov_len) };
            if let Err(e) = self.take(src).await {
                return (Err(e), buf);
            }
            total += src.len();
        }
        (Ok(total), buf)
    }

    async fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        if matches!(self.out, Out::ToEnd | Out::Tunnel) {
            self.finish();
        }
        Ok(())
    }
}

impl AsyncWriteRent for H2Stream {
    fn write<T: IoBuf>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        self.outbound.write(buf)
    }

    fn writev<T: IoVecBuf>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        self.outbound.writev(buf)
    }

    fn flush(&mut self) -> impl Future<Output = io::Result<()>> {
        self.outbound.flush()
    }

    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> {
        self.outbound.shutdown()
    }
}

impl Transport for H2Stream {
    const HTTP2_HEADS: bool = true;

    /// Frames must be built around the bytes: never spliced.
    fn splice_fd(&self) -> Option<RawFd> {
        None
    }

    async fn readable(&self) -> io::Result<()> {
        Ok(())
    }

    async fn writable(&self) -> io::Result<()> {
        Ok(())
    }

    fn park_fd(&self) -> Option<OwnedFd> {
        None
    }
}
