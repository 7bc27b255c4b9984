//! Zero-copy relay: socket → pipe → socket with splice(2), bytes never entering user space.
//!
//! io_uring's own splice op is always handed to a kernel worker thread (splice cannot be tried
//! without blocking), which measured slower than calling splice here with non-blocking flags and
//! waiting for readiness through the ring: the shard does the work itself, with no thread hop.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::Transport;

/// Bytes a pooled pipe is asked to hold (F_SETPIPE_SZ); the kernel may grant less.
const PIPE_WANT: usize = 1024 * 1024;
const MAX_POOLED: usize = 64;

pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    cap: usize,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 fills two fds on success; we own them from here on.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh fds from pipe2.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl on our own pipe fd; a refusal keeps the default size.
        let got = unsafe {
            libc::fcntl(
                write.as_raw_fd(),
                libc::F_SETPIPE_SZ,
                PIPE_WANT as libc::c_int,
            )
        };
        // Past the per-user pipe budget the kernel refuses and the pipe may hold only a page or
        // two: use the size it really has.
        let got = if got > 0 {
            got
        } else {
            // SAFETY: fcntl on our own pipe fd.
            unsafe { libc::fcntl(write.as_raw_fd(), libc::F_GETPIPE_SZ) }
        };
        let cap = if got > 0 { got as usize } else { 4096 };
        Ok(Pipe { read, write, cap })
    }
}

#[derive(Default)]
pub struct PipePool {
    free: RefCell<Vec<Pipe>>,
}

impl PipePool {
    fn get(&self) -> io::Result<Pipe> {
        match self.free.borrow_mut().pop() {
            Some(p) => Ok(p),
            None => Pipe::new(),
        }
    }

    /// Only empty pipes come back: a relay that failed half-way drops its pipe.
    fn put(&self, p: Pipe) {
        let mut free = self.free.borrow_mut();
        if free.len() < MAX_POOLED {
            free.push(p);
        }
    }
}

#[derive(Debug)]
pub enum SpliceErr {
    SrcEof,
    Src,
    SrcTimeout,
    Dst,
    DstTimeout,
}

/// Sets O_NONBLOCK for the relay's duration (io_uring sockets are blocking fds) and restores
/// the flags after, so the ring's own operations keep their blocking-fd semantics.
pub(crate) struct NonBlocking {
    fd: RawFd,
    old: libc::c_int,
}

impl NonBlocking {
    pub(crate) fn set(fd: RawFd) -> io::Result<NonBlocking> {
        // SAFETY: fcntl on a socket fd owned by a live TcpStream.
        let old = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if old < 0 {
            return Err(io::Error::last_os_error());
        }
        if old & libc::O_NONBLOCK == 0 {
            // SAFETY: as above.
            unsafe { libc::fcntl(fd, libc::F_SETFL, old | libc::O_NONBLOCK) };
        }
        Ok(NonBlocking { fd, old })
    }
}

impl Drop for NonBlocking {
    fn drop(&mut self) {
        if self.old & libc::O_NONBLOCK == 0 {
            // SAFETY: restoring the flags read in `set` on the same fd.
            unsafe { libc::fcntl(self.fd, libc::F_SETFL, self.old) };
        }
    }
}

enum Step {
    Moved(usize),
    Eof,
    WouldBlock,
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<Step> {
    // SAFETY: splice between two fds we hold open, no offsets.
    let r = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if r > 0 {
        return Ok(Step::Moved(r as usize));
    }
    if r == 0 {
        return Ok(Step::Eof);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(Step::WouldBlock)
    } else {
        Err(e)
    }
}

/// Moves exactly `n` bytes from `src` to `dst`.
/// Both ends must be spliceable (`Transport::splice_fd`).
pub async fn relay_exact<S: Transport, D: Transport>(
    pipes: &PipePool,
    src: &mut S,
    dst: &mut D,
    n: u64,
    read_timeout: Duration,
    write_timeout: Duration,
) -> Result<(), SpliceErr> {
    let (Some(sfd), Some(dfd)) = (src.splice_fd(), dst.splice_fd()) else {
        return Err(SpliceErr::Src);
    };
    let pipe = pipes.get().map_err(|_| SpliceErr::Src)?;
    let _src_nb = NonBlocking::set(sfd).map_err(|_| SpliceErr::Src)?;
    let _dst_nb = NonBlocking::set(dfd).map_err(|_| SpliceErr::Dst)?;
    let (pr, pw) = (pipe.read.as_raw_fd(), pipe.write.as_raw_fd());
    let mut left = n;
    let mut in_pipe = 0usize;
    while left > 0 || in_pipe > 0 {
        let mut src_blocked = false;
        let mut dst_blocked = false;
        if left > 0 && in_pipe < pipe.cap {
            let want = (left.min((pipe.cap - in_pipe) as u64)) as usize;
            match splice(sfd, pw, want) {
                Ok(Step::Moved(k)) => {
                    in_pipe += k;
                    left -= k as u64;
                }
                Ok(Step::Eof) => return Err(SpliceErr::SrcEof),
                Ok(Step::WouldBlock) => src_blocked = true,
                Err(_) => return Err(SpliceErr::Src),
            }
        }
        if in_pipe > 0 {
            match splice(pr, dfd, in_pipe) {
                Ok(Step::Moved(k)) => in_pipe -= k,
                Ok(Step::Eof) => return Err(SpliceErr::Dst),
                Ok(Step::WouldBlock) => dst_blocked = true,
                Err(_) => return Err(SpliceErr::Dst),
            }
        }
        if left == 0 && in_pipe == 0 {
            break;
        }
        let stuck_in = left == 0 || src_blocked || in_pipe >= pipe.cap;
        let stuck_out = in_pipe == 0 || dst_blocked;
        if !(stuck_in && stuck_out) {
            continue;
        }
        // No progress either way: wait for the side that holds things up.
        if in_pipe > 0 && dst_blocked {
            match super::deadline::within(write_timeout, dst.writable()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(SpliceErr::Dst),
                Err(_) => return Err(SpliceErr::DstTimeout),
            }
        } else {
            match super::deadline::within(read_timeout, src.readable()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(SpliceErr::Src),
                Err(_) => return Err(SpliceErr::SrcTimeout),
            }
        }
    }
    pipes.put(pipe);
    Ok(())
}
