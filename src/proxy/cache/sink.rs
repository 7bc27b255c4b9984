//! A client that takes every byte and keeps none: the relay writes to it when a body is only
//! stored (a HEAD sent upstream as GET, a background update), so the relay's framing and
//! fill code serves those too.

use std::future::Future;
use std::io;
use std::os::fd::{OwnedFd, RawFd};

use monoio::BufResult;
use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, CancelHandle, CancelableAsyncReadRent};

use crate::net::Transport;

pub struct Sink;

fn iovecs_len<T: IoVecBuf>(b: &T) -> usize {
    let (ptr, n) = (b.read_iovec_ptr(), b.read_iovec_len());
    if ptr.is_null() {
        return 0;
    }
    // SAFETY: IoVecBuf promises `n` valid iovecs at `ptr` while `b` lives.
    let v = unsafe { std::slice::from_raw_parts(ptr, n) };
    v.iter().map(|i| i.iov_len).sum()
}

impl AsyncWriteRent for Sink {
    fn write<T: IoBuf>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        let n = buf.bytes_init();
        async move { (Ok(n), buf) }
    }

    fn writev<T: IoVecBuf>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        let n = iovecs_len(&buf);
        async move { (Ok(n), buf) }
    }

    async fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncReadRent for Sink {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        (Ok(0), buf)
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        (Ok(0), buf)
    }
}

impl CancelableAsyncReadRent for Sink {
    async fn cancelable_read<T: IoBufMut>(
        &mut self,
        buf: T,
        _: CancelHandle,
    ) -> BufResult<usize, T> {
        (Ok(0), buf)
    }

    async fn cancelable_readv<T: IoVecBufMut>(
        &mut self,
        buf: T,
        _: CancelHandle,
    ) -> BufResult<usize, T> {
        (Ok(0), buf)
    }
}

impl Transport for Sink {
    const DISCARDS: bool = true;

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
