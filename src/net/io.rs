//! Socket reads and writes with deadlines, on owned buffers (io_uring's model: the kernel holds
//! the buffer while the operation runs, so a timed-out operation keeps it).

use std::io;
use std::time::Duration;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

use super::deadline::within;

pub enum ReadErr {
    Timeout,
    Io(io::Error),
}

/// Reads into the spare capacity of `buf`, appending after its current length (monoio reads a
/// bare `Vec` from offset 0, hence the slice). Ok(0) is end of stream. On timeout or error the
/// buffer is gone with the operation; the caller closes anyway.
pub async fn read_into<S: AsyncReadRent>(
    s: &mut S,
    mut buf: Vec<u8>,
    limit: Duration,
) -> Result<(usize, Vec<u8>), ReadErr> {
    let len = buf.len();
    if buf.capacity() == len {
        buf.reserve(4096);
    }
    let cap = buf.capacity();
    match within(limit, s.read(buf.slice_mut(len..cap))).await {
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
pub async fn write_all<S: AsyncWriteRent>(
    s: &mut S,
    buf: Vec<u8>,
    limit: Duration,
) -> Result<Vec<u8>, WriteErr> {
    match within(limit, s.write_all(buf)).await {
        Ok((Ok(_), buf)) => Ok(buf),
        Ok((Err(_), _)) => Err(WriteErr::Io),
        Err(_) => Err(WriteErr::Timeout),
    }
}

/// Writes `buf[range]` without copying it out.
pub async fn write_range<S: AsyncWriteRent>(
    s: &mut S,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    limit: Duration,
) -> Result<Vec<u8>, WriteErr> {
    if start == end {
        return Ok(buf);
    }
    match within(limit, s.write_all(buf.slice(start..end))).await {
        Ok((Ok(_), slice)) => Ok(slice.into_inner()),
        Ok((Err(_), _)) => Err(WriteErr::Io),
        Err(_) => Err(WriteErr::Timeout),
    }
}

/// `head` and `body[start..end]` as one writev: the kernel builds full-size TCP segments from
/// both, where two writes would send the head in a segment of its own.
struct TwoBufs {
    head: Vec<u8>,
    body: Vec<u8>,
    // Boxed so the iovecs stay put while the ring holds a pointer to them.
    iov: Box<[libc::iovec; 2]>,
}

// SAFETY: the iovecs point into `head` and `body`, heap storage owned by this value and left
// untouched while the runtime holds it; the boxed array itself does not move either.
unsafe impl monoio::buf::IoVecBuf for TwoBufs {
    fn read_iovec_ptr(&self) -> *const libc::iovec {
        self.iov.as_ptr()
    }
    fn read_iovec_len(&self) -> usize {
        2
    }
}

/// Writes `head` then `body[start..end]`, in one system call when the socket takes it all.
/// Returns both buffers for reuse.
pub async fn write_two<S: AsyncWriteRent>(
    s: &mut S,
    head: Vec<u8>,
    body: Vec<u8>,
    start: usize,
    end: usize,
    limit: Duration,
) -> Result<(Vec<u8>, Vec<u8>), WriteErr> {
    if start >= end || end > body.len() {
        let end = end.min(body.len()).max(start);
        let head = write_all(s, head, limit).await?;
        let body = write_range(s, body, start, end, limit).await?;
        return Ok((head, body));
    }
    let iov = Box::new([
        libc::iovec {
            iov_base: head.as_ptr() as *mut libc::c_void,
            iov_len: head.len(),
        },
        libc::iovec {
            // SAFETY: start < end <= body.len(), so the offset stays inside the allocation.
            iov_base: unsafe { body.as_ptr().add(start) } as *mut libc::c_void,
            iov_len: end - start,
        },
    ]);
    let bufs = TwoBufs { head, body, iov };
    let (sent, bufs) = match within(limit, s.writev(bufs)).await {
        Ok((Ok(n), b)) => (n, b),
        Ok((Err(_), _)) => return Err(WriteErr::Io),
        Err(_) => return Err(WriteErr::Timeout),
    };
    // A short write (the socket's buffer filled): finish each part with plain writes.
    let TwoBufs { head, body, .. } = bufs;
    let hl = head.len();
    let head = if sent < hl {
        write_range(s, head, sent, hl, limit).await?
    } else {
        head
    };
    let from = start + sent.saturating_sub(hl);
    let body = write_range(s, body, from.min(end), end, limit).await?;
    Ok((head, body))
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    use monoio::net::TcpStream;

    use super::write_two;

    /// The bytes on the wire are the head then exactly the body's range, also when the socket
    /// takes only part of them at a time (tiny buffers and a slow reader force short writes).
    fn head_then_body_range(legacy: bool) {
        let head: Vec<u8> = b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n".to_vec();
        let body: Vec<u8> = (0..310_000u32).map(|i| (i % 251) as u8).collect();
        let (start, end) = (7_000, 307_000);
        let head_len = head.len();
        let mut want = head.clone();
        want.extend_from_slice(&body[start..end]);

        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let want_len = want.len();
        let reader = std::thread::spawn(move || {
            let (mut s, _) = std_listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut got = Vec::new();
            let mut chunk = [0u8; 4096];
            // Up to the expected length: monoio closes sockets with a ring operation that a
            // finished block_on never submits, so no end of stream would come.
            while got.len() < want_len {
                match s.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                    Err(e) => panic!("read: {e}"),
                }
                // Slow reader: the writer's socket fills and its writes come back short.
                std::thread::sleep(Duration::from_micros(200));
            }
            got
        });

        let job = async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            // SAFETY: the fd belongs to `s`, alive for this borrow.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(s.as_raw_fd()) };
            socket2::SockRef::from(&fd)
                .set_send_buffer_size(4096)
                .unwrap();
            let r = write_two(&mut s, head, body, start, end, Duration::from_secs(20)).await;
            r.ok().unwrap()
        };
        // ringway falls back to epoll where io_uring is unavailable: both drivers must do it.
        let (head_back, body_back) = if legacy {
            monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .enable_timer()
                .build()
                .unwrap()
                .block_on(job)
        } else {
            monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .enable_timer()
                .build()
                .unwrap()
                .block_on(job)
        };
        let got = reader.join().unwrap();
        assert_eq!(got.len(), want.len());
        assert!(got == want, "bytes differ from head + body[start..end]");
        // Both buffers come back whole for reuse.
        assert_eq!(head_back.len(), head_len);
        assert_eq!(body_back.len(), 310_000);
    }

    #[test]
    fn write_two_sends_head_then_the_body_range_through_short_writes_io_uring() {
        head_then_body_range(false);
    }

    #[test]
    fn write_two_sends_head_then_the_body_range_through_short_writes_epoll() {
        head_then_body_range(true);
    }
}
