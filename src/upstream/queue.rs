//! `queue N timeout=T`: when every usable server of a group is at its `max_conns`, a request
//! waits (in this shard) for one to finish instead of failing at once. Bounded: beyond N waiting
//! requests, or after T, the client gets 502.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::Duration;

pub struct Queue {
    pub limit: usize,
    pub timeout: Duration,
    waiting: Cell<usize>,
    /// Bumped each time a request to this group ends: waiters re-try the balancer.
    epoch: Cell<u64>,
    wakers: RefCell<Vec<Waker>>,
}

impl Queue {
    pub fn new(limit: usize, timeout: Duration) -> Queue {
        Queue {
            limit,
            timeout,
            waiting: Cell::new(0),
            epoch: Cell::new(0),
            wakers: RefCell::new(Vec::new()),
        }
    }

    /// A request to the group ended: every waiter gets to look again (at most `limit` of them).
    pub fn released(&self) {
        self.epoch.set(self.epoch.get() + 1);
        for w in self.wakers.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Waits for the next release. False when the queue is full or the wait timed out.
    pub async fn wait(&self) -> bool {
        if self.waiting.get() >= self.limit {
            return false;
        }
        self.waiting.set(self.waiting.get() + 1);
        let start = self.epoch.get();
        let released = poll_fn(|cx| {
            if self.epoch.get() != start {
                return Poll::Ready(());
            }
            self.wakers.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        });
        let ok = crate::net::deadline::within(self.timeout, released)
            .await
            .is_ok();
        self.waiting.set(self.waiting.get() - 1);
        ok
    }
}
