//! Reading on around a close, so that a client's bytes on their way are not met by a reset:
//! an idle connection when its shard drains (graceful stop, or a binary upgrade's SIGWINCH),
//! and nginx's lingering close after an answer.
//!
//! Draining:
//! nginx closes idle connections at once. A client in a tight keep-alive loop, or one that has
//! just connected, is then often already sending its request: the close cuts it (a reset, or an
//! empty answer) though the request was never read. ringway gives such a connection a short
//! while for bytes on their way; a request that comes is served with `Connection: close` (the
//! drain is set), one that does not closes the connection as before.

use std::io;
use std::time::{Duration, Instant};

use super::context::ShardCtx;
use crate::config::Lingering;
use crate::net::transport::Transport;

/// How long an idle connection of a draining shard waits for a request already on its way.
pub const DRAIN_LINGER: Duration = Duration::from_millis(500);

/// Whether bytes (or the client's close) arrive within `DRAIN_LINGER`.
pub async fn request_arrives<S: Transport>(stream: &S) -> bool {
    monoio::select! {
        r = stream.readable() => r.is_ok(),
        _ = monoio::time::sleep(DRAIN_LINGER) => false,
    }
}

/// Bytes read per call while lingering (discarded).
const DISCARD_BUF: usize = 16 * 1024;

/// Reads per readiness wait, so that a client sending fast cannot hold the shard.
const READS_PER_WAKE: usize = 16;

/// nginx's lingering close: ringway has answered and closes, but the client may still be
/// sending (a request body ringway did not read, say). A socket closed with bytes unread, or
/// with more arriving, makes the kernel answer with a reset: the client's next write fails
/// (many clients then give up without reading the answer) and, on a real network, answer bytes
/// not yet delivered are lost. So the write side is shut first (the client sees the answer
/// end), then what arrives is read and thrown away until the client closes, `timeout` passes
/// with nothing, `time` passes in all, or the shard drains.
pub async fn after_answer<S: Transport>(ctx: &ShardCtx, stream: &S, lingering: Lingering) {
    let Some(fd) = stream.socket_fd() else {
        return;
    };
    // SAFETY: shutdown(2) on the connection's socket, open while `stream` lives.
    unsafe { libc::shutdown(fd, libc::SHUT_WR) };
    // None: a time too far to count, which never ends the wait.
    let end = Instant::now().checked_add(lingering.time);
    let mut buf = vec![0u8; DISCARD_BUF];
    loop {
        let now = Instant::now();
        let left = end.map_or(lingering.timeout, |end| end.saturating_duration_since(now));
        if left.is_zero() {
            return;
        }
        let ready = match now.checked_add(left.min(lingering.timeout)) {
            Some(until) => monoio::select! {
                r = stream.socket_readable() => r.is_ok(),
                _ = ctx.drain.wait_until(until) => false,
            },
            None => monoio::select! {
                r = stream.socket_readable() => r.is_ok(),
                _ = ctx.drain.wait() => false,
            },
        };
        if !ready {
            return;
        }
        for _ in 0..READS_PER_WAKE {
            // SAFETY: recv(2) into `buf`, which is valid for its length; never blocks.
            let n =
                unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if n > 0 {
                continue;
            }
            if n == 0 {
                // The client closed its side: nothing more comes.
                return;
            }
            match io::Error::last_os_error().kind() {
                io::ErrorKind::WouldBlock => break,
                io::ErrorKind::Interrupted => {}
                _ => return,
            }
        }
    }
}
