//! Idle keep-alive connections to one upstream server, for one shard only.

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

/// Idle time from which a pooled connection is checked for a close by the upstream.
const PEEK_AFTER: Duration = Duration::from_millis(100);

pub struct Pooled {
    pub stream: TcpStream,
    /// Taken from the pool (a failure before any response byte may then be retried).
    pub reused: bool,
    /// Requests this connection has carried.
    pub requests: u64,
    pub idle_since: Instant,
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
    /// upstream closed, or that sat idle too long, are dropped on the way.
    /// `must_check`: the request cannot be retried if the connection turns out dead (a POST),
    /// so it is checked however recently it was used.
    pub fn take(&self, must_check: bool) -> Option<Pooled> {
        let mut idle = self.idle.borrow_mut();
        while let Some(mut c) = idle.pop() {
            let idle_for = c.idle_since.elapsed();
            // A connection back from a request moments ago is far from any upstream idle
            // timeout: skip the peek syscall there when a retry covers the rare race.
            let recent = idle_for < PEEK_AFTER && !must_check;
            if idle_for < self.idle_timeout && (recent || still_open(&c.stream)) {
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
fn still_open(stream: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    // SAFETY: recv on a valid fd into a 1-byte stack buffer.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            b.as_mut_ptr().cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock
}
