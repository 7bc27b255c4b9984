//! A file range to a plain socket with sendfile(2): the page cache's pages go to the socket
//! without a copy through user space (a cached body on a plain connection). The socket is
//! non-blocking for the call's duration; a full socket buffer waits for writability.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::Transport;
use super::splice::NonBlocking;

#[derive(Debug)]
pub enum SendFileErr {
    /// The file ended before the range did (it changed under us).
    Short,
    Io,
    Timeout,
}

/// Sends `head`, then `n` bytes of `file` from `offset`, to `dst`, which must offer a splice
/// fd. The head goes with MSG_MORE, so it shares its segment with the body's start.
pub async fn send_file<D: Transport>(
    dst: &mut D,
    mut head: &[u8],
    file: &File,
    mut offset: u64,
    mut n: u64,
    write_timeout: Duration,
) -> Result<(), SendFileErr> {
    let Some(sock) = dst.splice_fd() else {
        return Err(SendFileErr::Io);
    };
    let _nb = NonBlocking::set(sock).map_err(|_| SendFileErr::Io)?;
    while !head.is_empty() {
        let flags = libc::MSG_MORE | libc::MSG_NOSIGNAL;
        // SAFETY: `head` is valid for its length; `sock` is open for the call.
        let rc = unsafe { libc::send(sock, head.as_ptr().cast(), head.len(), flags) };
        if rc > 0 {
            head = &head[rc as usize..];
            continue;
        }
        wait_or_fail(dst, write_timeout).await?;
    }
    while n > 0 {
        let mut off = offset as libc::off_t;
        let want = n.min(1 << 30) as usize;
        // SAFETY: both descriptors are open for the call; `off` is a valid out-pointer.
        let rc = unsafe { libc::sendfile(sock, file.as_raw_fd(), &mut off, want) };
        if rc > 0 {
            offset += rc as u64;
            n -= rc as u64;
            continue;
        }
        if rc == 0 {
            return Err(SendFileErr::Short);
        }
        wait_or_fail(dst, write_timeout).await?;
    }
    Ok(())
}

/// After a call that moved nothing: retry at once (EINTR), wait for room (EAGAIN), or fail.
async fn wait_or_fail<D: Transport>(dst: &D, limit: Duration) -> Result<(), SendFileErr> {
    match io::Error::last_os_error().kind() {
        io::ErrorKind::Interrupted => Ok(()),
        io::ErrorKind::WouldBlock => match super::deadline::within(limit, dst.writable()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(SendFileErr::Io),
            Err(_) => Err(SendFileErr::Timeout),
        },
        _ => Err(SendFileErr::Io),
    }
}
