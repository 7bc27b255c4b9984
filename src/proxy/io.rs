//! Socket reads and writes with deadlines, on owned buffers (io_uring's model: the kernel holds
//! the buffer while the operation runs, so a timed-out operation keeps it).

use std::io;
use std::time::Duration;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

pub enum ReadErr {
    Timeout,
    Io(io::Error),
}

/// Reads into the spare capacity of `buf`, appending after its current length (monoio reads a
/// bare `Vec` from offset 0, hence the slice). Ok(0) is end of stream. On timeout or error the
/// buffer is gone with the operation; the caller closes anyway.
pub async fn read_into(
    s: &mut TcpStream,
    mut buf: Vec<u8>,
    limit: Duration,
) -> Result<(usize, Vec<u8>), ReadErr> {
    let len = buf.len();
    if buf.capacity() == len {
        buf.reserve(4096);
    }
    let cap = buf.capacity();
    match monoio::time::timeout(limit, s.read(buf.slice_mut(len..cap))).await {
        Ok((Ok(n), slice)) => Ok((n, slice.into_inner())),
        Ok((Err(e), _)) => Err(ReadErr::Io(e)),
        Err(_) => Err(ReadErr::Timeout),
    }
}

pub enum WriteErr {
    Timeout,
    /// The peer is gone (reset, broken pipe); nothing to do but close.
    Io,
}

/// Writes all of `buf`, returning it for reuse.
pub async fn write_all(
    s: &mut TcpStream,
    buf: Vec<u8>,
    limit: Duration,
) -> Result<Vec<u8>, WriteErr> {
    match monoio::time::timeout(limit, s.write_all(buf)).await {
        Ok((Ok(_), buf)) => Ok(buf),
        Ok((Err(_), _)) => Err(WriteErr::Io),
        Err(_) => Err(WriteErr::Timeout),
    }
}

/// Writes `buf[range]` without copying it out.
pub async fn write_range(
    s: &mut TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    limit: Duration,
) -> Result<Vec<u8>, WriteErr> {
    if start == end {
        return Ok(buf);
    }
    match monoio::time::timeout(limit, s.write_all(buf.slice(start..end))).await {
        Ok((Ok(_), slice)) => Ok(slice.into_inner()),
        Ok((Err(_), _)) => Err(WriteErr::Io),
        Err(_) => Err(WriteErr::Timeout),
    }
}
