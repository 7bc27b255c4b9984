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

/// Sends `n` bytes of `file` from `offset` to `dst`, which must offer a splice fd.
pub async fn send_file<D: Transport>(
    dst: &mut D,
    file: &File,
    mut offset: u64,
    mut n: u64,
    write_timeout: Duration,
) -> Result<(), SendFileErr> {
    let Some(sock) = dst.splice_fd() else {
        return Err(SendFileErr::Io);
    };
    let _nb = NonBlocking::set(sock).map_err(|_| SendFileErr::Io)?;
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
        match io::Error::last_os_error().kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => {
                match super::deadline::within(write_timeout, dst.writable()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err(SendFileErr::Io),
                    Err(_) => return Err(SendFileErr::Timeout),
                }
            }
            _ => return Err(SendFileErr::Io),
        }
    }
    Ok(())
}
