//! Per-shard server health: passive (`max_fails` failures within `fail_timeout` take a server
//! out for `fail_timeout`, nginx's meaning), the active checks' verdict (set by message from
//! the probing shard, never read from shared memory), and in-flight counts for `least_conn` and
//! `max_conns`.

use std::cell::Cell;
use std::time::{Duration, Instant};

pub struct Health {
    max_fails: u32,
    fail_timeout: Duration,
    max_conns: u32,
    fails: Cell<u32>,
    window_start: Cell<Option<Instant>>,
    down_until: Cell<Option<Instant>>,
    /// Marked down by the active health check.
    check_down: Cell<bool>,
    /// Requests this shard has in flight to the server.
    active: Cell<u32>,
}

impl Health {
    pub fn new(max_fails: u32, fail_timeout: Duration, max_conns: u32) -> Health {
        Health {
            max_fails,
            fail_timeout,
            max_conns,
            fails: Cell::new(0),
            window_start: Cell::new(None),
            down_until: Cell::new(None),
            check_down: Cell::new(false),
            active: Cell::new(0),
        }
    }

    /// Up (passively and actively) and under `max_conns`.
    pub fn usable(&self, now: Instant) -> bool {
        self.up(now) && (self.max_conns == 0 || self.active.get() < self.max_conns)
    }

    /// Up, whatever its connection count.
    pub fn up(&self, now: Instant) -> bool {
        !self.check_down.get() && self.down_until.get().is_none_or(|t| now >= t)
    }

    /// Full because of `max_conns` (a queue may wait for it).
    pub fn full(&self) -> bool {
        self.max_conns > 0 && self.active.get() >= self.max_conns
    }

    pub fn active(&self) -> u32 {
        self.active.get()
    }

    pub fn begin(&self) {
        self.active.set(self.active.get() + 1);
    }

    pub fn end(&self) {
        self.active.set(self.active.get().saturating_sub(1));
    }

    /// Counts a failed attempt. Returns true when this failure took the server out.
    pub fn failed(&self, now: Instant) -> bool {
        if self.max_fails == 0 {
            return false;
        }
        let fresh = self
            .window_start
            .get()
            .is_none_or(|s| now.duration_since(s) >= self.fail_timeout);
        if fresh {
            self.window_start.set(Some(now));
            self.fails.set(0);
        }
        self.fails.set(self.fails.get() + 1);
        if self.fails.get() >= self.max_fails {
            self.fails.set(0);
            self.window_start.set(None);
            self.down_until.set(Some(now + self.fail_timeout));
            return true;
        }
        false
    }

    /// A successful exchange clears the failure count (nginx does the same).
    pub fn succeeded(&self) {
        self.fails.set(0);
        self.window_start.set(None);
        self.down_until.set(None);
    }

    pub fn set_checked(&self, up: bool) {
        self.check_down.set(!up);
        if up {
            self.down_until.set(None);
            self.fails.set(0);
        }
    }

    pub fn checked_up(&self) -> bool {
        !self.check_down.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_fails_within_fail_timeout_takes_a_server_out_for_fail_timeout() {
        let h = Health::new(2, Duration::from_secs(10), 0);
        let t0 = Instant::now();
        assert!(!h.failed(t0));
        assert!(h.usable(t0));
        assert!(h.failed(t0 + Duration::from_secs(1)));
        assert!(!h.usable(t0 + Duration::from_secs(2)));
        assert!(h.usable(t0 + Duration::from_secs(12)));
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let h = Health::new(2, Duration::from_secs(10), 0);
        let t0 = Instant::now();
        assert!(!h.failed(t0));
        assert!(!h.failed(t0 + Duration::from_secs(11)));
        assert!(h.usable(t0 + Duration::from_secs(11)));
    }

    #[test]
    fn max_fails_zero_never_marks_down_and_max_conns_limits() {
        let h = Health::new(0, Duration::from_secs(10), 1);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(!h.failed(t0));
        }
        assert!(h.usable(t0));
        h.begin();
        assert!(!h.usable(t0) && h.full() && h.up(t0));
        h.end();
        assert!(h.usable(t0));
    }

    #[test]
    fn active_check_verdict_overrides() {
        let h = Health::new(1, Duration::from_secs(10), 0);
        let t0 = Instant::now();
        h.set_checked(false);
        assert!(!h.usable(t0));
        h.set_checked(true);
        assert!(h.usable(t0));
    }
}
