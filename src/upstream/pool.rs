//! Idle keep-alive connections to one upstream server, for one shard only.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use super::conn::UpStream;

pub struct Pooled {
    pub stream: UpStream,
    /// Taken from the pool (a failure before any response byte may then be retried).
    pub reused: bool,
    /// Requests this connection has carried.
    pub requests: u64,
    pub idle_since: Instant,
    /// The field index of this connection's last response head, kept for the next one.
    pub spans: Vec<crate::http::HeaderSpan>,
}

pub struct Pool {
    idle: RefCell<Vec<Pooled>>,
    max_idle: usize,
    idle_timeout: Duration,
}

impl Pool {
    pub fn new(max_idle: usize, idle_timeout: Duration) -> Pool {
        Pool {
            idle: RefCell::new(Vec::new()),
            max_idle,
            idle_timeout,
        }
    }

    /// The most recently used live connection (LIFO keeps few connections hot). Connections the
    /// upstream closed, that hold stray bytes, or that sat idle too long, are dropped on the way.
    /// Every one is checked, however recently used: stray bytes (a backend writing past the end
    /// of its answer) would be read as the next request's answer, and no retry covers that.
    pub fn take(&self) -> Option<Pooled> {
        let mut idle = self.idle.borrow_mut();
        while let Some(mut c) = idle.pop() {
            if c.idle_since.elapsed() < self.idle_timeout && still_open(&c.stream) {
                c.reused = true;
                return Some(c);
            }
        }
        None
    }

    pub fn put(&self, mut conn: Pooled) {
        let mut idle = self.idle.borrow_mut();
        if idle.len() >= self.max_idle {
            // Keep the newest: drop the oldest idle one.
            if self.max_idle == 0 {
                return;
            }
            idle.remove(0);
        }
        conn.idle_since = Instant::now();
        idle.push(conn);
    }

    pub fn idle_count(&self) -> usize {
        self.idle.borrow().len()
    }
}

/// An idle upstream connection must have nothing to read: EOF means the upstream closed it,
/// and stray bytes mean it is out of step. One non-blocking peek tells both.
fn still_open(stream: &UpStream) -> bool {
    if stream.buffered() {
        return false;
    }
    let mut b = [0u8; 1];
    // SAFETY: recv on a valid fd into a 1-byte stack buffer.
    let n = unsafe {
        libc::recv(
            stream.raw_fd(),
            b.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock
}
