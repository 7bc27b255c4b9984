//! A TLS connection as a `Transport`: rustls's state machine over a monoio `TcpStream`, for
//! clients (`ServerConnection`) and upstreams (`ClientConnection`) alike.
//!
//! Records move through buffers borrowed from the shard's record pool (`records`) only while
//! bytes are in flight: an idle connection holds rustls's state and nothing else of ours.
//! Copies, as rustls's buffered API makes them: ciphertext from the socket buffer into rustls,
//! plaintext out of rustls into the caller's buffer; on the way out, plaintext into a record
//! (the encryption's own copy) and the record into the socket buffer.

use std::future::Future;
use std::io::{self, Read, Write};
use std::ops::DerefMut;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use monoio::BufResult;
use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, CancelHandle, CancelableAsyncReadRent, Split};
use monoio::net::TcpStream;
use rustls::{ConnectionCommon, SideData};

use super::records;
use crate::net::Transport;

pub struct TlsStream<C> {
    pub(super) io: TcpStream,
    /// Boxed: rustls's connection is 1.2 KB, and the stream sits in every connection task's
    /// state; out of line, the task's allocation drops a size class (measured in docs/tls.md).
    pub(super) conn: Box<C>,
    /// Ciphertext read from the socket that rustls could not take yet (its plaintext buffer was
    /// full); empty (no allocation) otherwise.
    rest: Vec<u8>,
    /// The peer closed its side (end of stream or close_notify).
    eof: bool,
    /// close_notify goes with the next write that rustls takes whole (see
    /// `Transport::closes_after_next_write`).
    close_after_write: bool,
}

impl<C, D> TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    pub fn new(io: TcpStream, conn: C) -> TlsStream<C> {
        TlsStream {
            io,
            conn: Box::new(conn),
            rest: Vec::new(),
            eof: false,
            close_after_write: false,
        }
    }

    pub fn conn(&self) -> &C {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut C {
        &mut self.conn
    }

    pub fn tcp(&self) -> &TcpStream {
        &self.io
    }

    /// Sends whatever records rustls has queued (handshake messages, alerts, application data)
    /// straight from rustls's buffers: a non-blocking `sendmsg` per batch, waiting for
    /// writability when the socket is full. Copying the records into a buffer of ours for the
    /// ring first cost as much as the encryption (perf: 15% of a 1 MiB download's CPU).
    pub async fn flush_records(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            let mut now = SendNow(self.io.as_raw_fd());
            match self.conn.write_tls(&mut now) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.io.writable(false).await?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Drives the handshake to its end (either side): sends each flight, reads the peer's.
    /// `after_flight` runs after every exchange (the server takes early data there).
    ///
    /// A TLS 1.3 server has only its session tickets left to send once the client's Finished
    /// came; they wait for the first answer and go in its write (one send, one segment fewer
    /// per new connection). A client needs them only after its first answer; one that never
    /// sends a request never gets them.
    pub async fn handshake(
        &mut self,
        server: bool,
        mut after_flight: impl FnMut(&mut Self),
    ) -> io::Result<()> {
        loop {
            if self.conn.is_handshaking() || !self.tickets_may_wait(server) {
                self.flush_records().await?;
            }
            after_flight(self);
            if !self.conn.is_handshaking() {
                return Ok(());
            }
            match self.read_records(None).await {
                Ok(true) => {}
                Ok(false) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Err(e) => {
                    // A TLS failure queued its alert.
                    let _ = self.flush_records().await;
                    return Err(e);
                }
            }
        }
    }

    /// After the handshake, what is queued may wait for the first answer: a TLS 1.3 server's
    /// tickets (a client or a TLS 1.2 server still has its Finished to send).
    fn tickets_may_wait(&self, server: bool) -> bool {
        server && self.conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
    }

    /// Feeds `bytes` to rustls and processes them; what it cannot take now is kept for later.
    /// An error is a TLS failure: its alert is queued and sent by the caller's flush.
    fn feed(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.conn.read_tls(&mut bytes) {
                // close_notify came: nothing after it is read.
                Ok(0) => return Ok(()),
                Ok(_) => {}
                // Plaintext buffer full: the reader must drain first.
                Err(e) if e.kind() == io::ErrorKind::Other => break,
                Err(e) => return Err(e),
            }
            if let Err(e) = self.conn.process_new_packets() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
        if !bytes.is_empty() {
            self.rest.extend_from_slice(bytes);
        }
        Ok(())
    }

    /// Feeds ciphertext kept from an earlier read, if any.
    fn feed_rest(&mut self) -> io::Result<()> {
        if self.rest.is_empty() {
            return Ok(());
        }
        let rest = std::mem::take(&mut self.rest);
        self.feed(&rest)
    }

    /// Reads ciphertext from the socket into rustls. Ok(false): the peer closed.
    async fn read_records(&mut self, cancel: Option<CancelHandle>) -> io::Result<bool> {
        let buf = records::get();
        let (res, buf) = match cancel {
            Some(c) => self.io.cancelable_read(buf, c).await,
            None => self.io.read(buf).await,
        };
        let n = match res {
            Ok(n) => n,
            Err(e) => {
                records::put(buf);
                return Err(e);
            }
        };
        let fed = if n == 0 {
            self.eof = true;
            let _ = self.conn.read_tls(&mut io::empty());
            self.conn
                .process_new_packets()
                .map(|_| ())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        } else {
            self.feed(&buf[..n])
        };
        records::put(buf);
        fed.map(|()| n > 0)
    }

    /// Plaintext into `dst` once rustls has some: reads records as needed.
    async fn read_plain(
        &mut self,
        dst: &mut [u8],
        cancel: Option<CancelHandle>,
    ) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(dst) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: most clients do; an end of stream all the same
                // (HTTP framing tells a cut body).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if !self.rest.is_empty() {
                if let Err(e) = self.feed_rest() {
                    let _ = self.flush_records().await;
                    return Err(e);
                }
                continue;
            }
            if self.eof {
                return Ok(0);
            }
            match self.read_records(cancel.clone()).await {
                Ok(_) => {}
                Err(e) => {
                    // A TLS failure queued its alert.
                    let _ = self.flush_records().await;
                    return Err(e);
                }
            }
        }
    }

    /// Whether plaintext (or the peer's close) is ready without reading the socket.
    fn plain_ready(&self) -> bool {
        !self.conn.wants_read() || !self.rest.is_empty() || self.eof
    }

    /// Sends close_notify (best effort: the peer may be gone).
    pub async fn close_notify(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush_records().await;
    }
}

/// A socket written with `send`/`sendmsg` that never blocks (`MSG_DONTWAIT`, whatever the
/// descriptor's mode) and never raises SIGPIPE.
struct SendNow(RawFd);

const SEND_FLAGS: libc::c_int = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;

impl Write for SendNow {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: send(2) on an open socket from a valid slice.
        let n = unsafe { libc::send(self.0, buf.as_ptr().cast(), buf.len(), SEND_FLAGS) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        // IoSlice is ABI-compatible with iovec on Unix.
        let n = bufs.len().min(libc::UIO_MAXIOV as usize);
        // SAFETY: a zeroed msghdr is valid (no name, no control data).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = n as _;
        // SAFETY: sendmsg(2) on an open socket; the iovecs point into live slices.
        let sent = unsafe { libc::sendmsg(self.0, &msg, SEND_FLAGS) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sent as usize)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The caller's buffer as a slice of its spare capacity, filled in place.
fn spare<T: IoBufMut>(buf: &mut T) -> &mut [u8] {
    // SAFETY: monoio's contract: write_ptr is valid for bytes_total bytes.
    unsafe { std::slice::from_raw_parts_mut(buf.write_ptr(), buf.bytes_total()) }
}

impl<C, D> AsyncReadRent for TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    async fn read<T: IoBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        let res = self.read_plain(spare(&mut buf), None).await;
        if let Ok(n) = res {
            // SAFETY: n bytes were written by the read above.
            unsafe { buf.set_init(n) };
        }
        (res, buf)
    }

    async fn readv<T: IoVecBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        // The first iovec only: callers use plain reads.
        let n = buf.write_iovec_len();
        if n == 0 {
            return (Ok(0), buf);
        }
        // SAFETY: the iovec array is valid for write_iovec_len entries.
        let iov = unsafe { *buf.write_iovec_ptr() };
        // SAFETY: the iovec describes writable memory the buffer owns.
        let dst = unsafe { std::slice::from_raw_parts_mut(iov.iov_base as *mut u8, iov.iov_len) };
        let res = self.read_plain(dst, None).await;
        if let Ok(n) = res {
            // SAFETY: n bytes were written into the first iovec.
            unsafe { buf.set_init(n) };
        }
        (res, buf)
    }
}

impl<C, D> CancelableAsyncReadRent for TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    async fn cancelable_read<T: IoBufMut>(
        &mut self,
        mut buf: T,
        c: CancelHandle,
    ) -> BufResult<usize, T> {
        let res = self.read_plain(spare(&mut buf), Some(c)).await;
        if let Ok(n) = res {
            // SAFETY: n bytes were written by the read above.
            unsafe { buf.set_init(n) };
        }
        (res, buf)
    }

    fn cancelable_readv<T: IoVecBufMut>(
        &mut self,
        buf: T,
        _c: CancelHandle,
    ) -> impl Future<Output = BufResult<usize, T>> {
        self.readv(buf)
    }
}

impl<C, D> TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    /// Encrypts as much of `src` as rustls takes (its send buffer limit) and sends the records.
    async fn write_plain(&mut self, src: &[u8]) -> io::Result<usize> {
        if src.is_empty() {
            return Ok(0);
        }
        let n = self.conn.writer().write(src)?;
        if self.close_after_write && n == src.len() {
            self.close_after_write = false;
            self.conn.send_close_notify();
        }
        self.flush_records().await?;
        Ok(n)
    }
}

impl<C, D> AsyncWriteRent for TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        // SAFETY: monoio's contract: read_ptr is valid for bytes_init bytes.
        let src = unsafe { std::slice::from_raw_parts(buf.read_ptr(), buf.bytes_init()) };
        let res = self.write_plain(src).await;
        (res, buf)
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        let mut total = 0;
        // SAFETY: the iovec array is valid for read_iovec_len entries.
        let iovs =
            unsafe { std::slice::from_raw_parts(buf.read_iovec_ptr(), buf.read_iovec_len()) };
        for iov in iovs {
            // SAFETY: each iovec describes initialised memory the buffer owns.
            let src = unsafe { std::slice::from_raw_parts(iov.iov_base as *const u8, iov.iov_len) };
            match self.write_plain(src).await {
                Ok(n) => {
                    total += n;
                    if n < src.len() {
                        break;
                    }
                }
                Err(e) if total == 0 => return (Err(e), buf),
                Err(_) => break,
            }
        }
        (Ok(total), buf)
    }

    fn flush(&mut self) -> impl Future<Output = io::Result<()>> {
        self.flush_records()
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        self.close_notify().await;
        self.io.shutdown().await
    }
}

impl<C, D> Transport for TlsStream<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    D: SideData,
{
    /// A TLS read in flight holds a record buffer besides the caller's, and the wait's state
    /// would sit in every idle connection's task: TLS connections wait for readability.
    const READ_FIRST: bool = false;

    /// Bytes through TLS must be encrypted: never spliced.
    fn splice_fd(&self) -> Option<RawFd> {
        None
    }

    fn readable(&self) -> impl Future<Output = io::Result<()>> {
        let ready = self.plain_ready();
        let io = &self.io;
        async move {
            if ready {
                return Ok(());
            }
            io.readable(false).await.map(|_| ())
        }
    }

    async fn writable(&self) -> io::Result<()> {
        self.io.writable(false).await.map(|_| ())
    }

    /// rustls's state lives in the task: a TLS connection waits there instead of parking.
    fn park_fd(&self) -> Option<OwnedFd> {
        None
    }

    /// rustls keeps 4 KiB for received records once anything was read (4 KB of the ~11 KB an
    /// idle TLS connection held); a patch of ours lets it go while no record is partly read.
    fn release_idle_buffers(&mut self) {
        self.conn.release_idle_buffers();
    }

    fn close_notify(&mut self) -> impl Future<Output = ()> {
        TlsStream::close_notify(self)
    }

    fn closes_after_next_write(&mut self) {
        self.close_after_write = true;
    }

    fn socket_fd(&self) -> Option<RawFd> {
        Some(self.io.as_raw_fd())
    }

    fn socket_readable(&self) -> impl Future<Output = io::Result<()>> {
        let io = &self.io;
        async move { io.readable(false).await.map(|_| ()) }
    }
}

// SAFETY: as monoio's own TcpStream: the halves run on one thread and interleave only at await
// points. The read side never writes records except after a TLS failure (its alert), and
// touches rustls only between awaits; the write side likewise.
unsafe impl<C> Split for TlsStream<C> {}
