//! The counters one shard keeps: plain `Cell`s, bumped on the request path without atomics or
//! locks, read only when a scrape asks for a snapshot. A leaf: it knows nothing else of ringway.

use std::cell::{Cell, OnceCell};
use std::rc::Rc;
use std::time::Duration;

/// A compiled item's counters, attached once the shard's registry knows it (a reload's new
/// generation gets the same counters for the same name).
#[derive(Debug)]
pub struct Slot<T>(OnceCell<Rc<T>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot(OnceCell::new())
    }
}

impl<T> Slot<T> {
    pub fn get(&self) -> Option<&Rc<T>> {
        self.0.get()
    }

    /// Attaches `stats` unless counters are attached already.
    pub fn attach(&self, stats: impl FnOnce() -> Rc<T>) {
        self.0.get_or_init(stats);
    }
}

/// Histogram bucket bounds, in microseconds (0.5 ms … 10 s; +Inf is implied). A proxy's
/// answers from a nearby upstream take well under 5 ms (Prometheus's default first bound),
/// so the finer first buckets keep a p50 or p99 of such traffic readable.
pub const BUCKETS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// Bucket counts (the last one: above every bound) and the sum of the observations.
#[derive(Default, Debug)]
pub struct Histogram {
    counts: [Cell<u64>; BUCKETS_US.len() + 1],
    sum_us: Cell<u64>,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        let i = BUCKETS_US.partition_point(|&b| b < us);
        bump(&self.counts[i]);
        self.sum_us.set(self.sum_us.get().saturating_add(us));
    }

    pub fn read(&self) -> HistogramSnap {
        HistogramSnap {
            counts: std::array::from_fn(|i| self.counts[i].get()),
            sum_us: self.sum_us.get(),
        }
    }
}

/// A histogram's values as sent between shards: counts per bucket (not cumulative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistogramSnap {
    pub counts: [u64; BUCKETS_US.len() + 1],
    pub sum_us: u64,
}

impl HistogramSnap {
    pub fn add(&mut self, o: &HistogramSnap) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
        self.sum_us += o.sum_us;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The `q` quantile (0..1) estimated from the buckets, in seconds: the upper bound of the
    /// bucket it falls in (the largest bound for the +Inf bucket). None without observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let us = BUCKETS_US
                    .get(i)
                    .copied()
                    .unwrap_or(BUCKETS_US[BUCKETS_US.len() - 1]);
                return Some(us as f64 / 1e6);
            }
        }
        None
    }
}

pub fn bump(c: &Cell<u64>) {
    c.set(c.get().wrapping_add(1));
}

pub fn add(c: &Cell<u64>, n: u64) {
    c.set(c.get().wrapping_add(n));
}

/// Status classes counted per location: 1xx … 5xx, and requests that got no status (the
/// connection closed first).
pub const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

fn class_of(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100 - 1),
        _ => 5,
    }
}

/// One (server name, location) pair's counters.
#[derive(Default, Debug)]
pub struct LocStats {
    pub by_class: [Cell<u64>; CLASSES.len()],
    pub received: Cell<u64>,
    pub sent: Cell<u64>,
    pub duration: Histogram,
}

impl LocStats {
    pub fn count(&self, status: u16, received: u64, sent: u64, took: Duration) {
        bump(&self.by_class[class_of(status)]);
        add(&self.received, received);
        add(&self.sent, sent);
        self.duration.observe(took);
    }

    pub fn read(&self) -> LocCounts {
        LocCounts {
            by_class: std::array::from_fn(|i| self.by_class[i].get()),
            received: self.received.get(),
            sent: self.sent.get(),
            duration: self.duration.read(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocCounts {
    pub by_class: [u64; CLASSES.len()],
    pub received: u64,
    pub sent: u64,
    pub duration: HistogramSnap,
}

impl LocCounts {
    pub fn add(&mut self, o: &LocCounts) {
        for (a, b) in self.by_class.iter_mut().zip(o.by_class) {
            *a += b;
        }
        self.received += o.received;
        self.sent += o.sent;
        self.duration.add(&o.duration);
    }

    pub fn requests(&self) -> u64 {
        self.by_class.iter().sum()
    }
}

/// Why an attempt on an upstream server failed (the upstream layer's errors, grouped as an
/// operator reads them), or counted as failed (a listed 5xx/429 under `proxy_next_upstream`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailKind {
    ConnectRefused,
    ConnectError,
    ConnectTimeout,
    Tls,
    Send,
    ClosedEarly,
    Truncated,
    ReadTimeout,
    BadResponse,
    Status,
}

impl FailKind {
    pub const ALL: [FailKind; 10] = [
        FailKind::ConnectRefused,
        FailKind::ConnectError,
        FailKind::ConnectTimeout,
        FailKind::Tls,
        FailKind::Send,
        FailKind::ClosedEarly,
        FailKind::Truncated,
        FailKind::ReadTimeout,
        FailKind::BadResponse,
        FailKind::Status,
    ];

    pub fn label(self) -> &'static str {
        match self {
            FailKind::ConnectRefused => "connect_refused",
            FailKind::ConnectError => "connect_error",
            FailKind::ConnectTimeout => "connect_timeout",
            FailKind::Tls => "tls",
            FailKind::Send => "send",
            FailKind::ClosedEarly => "closed_early",
            FailKind::Truncated => "truncated",
            FailKind::ReadTimeout => "read_timeout",
            FailKind::BadResponse => "bad_response",
            FailKind::Status => "status",
        }
    }
}

pub const FAIL_KINDS: usize = FailKind::ALL.len();

/// One upstream server's counters (group name + address), kept across reloads.
#[derive(Default, Debug)]
pub struct UpstreamStats {
    /// Attempts sent to the server (a retried request counts once per server tried).
    pub requests: Cell<u64>,
    pub failures: [Cell<u64>; FAIL_KINDS],
    pub new_conns: Cell<u64>,
    pub reused_conns: Cell<u64>,
    /// Attempt start to complete response head (`$upstream_header_time`).
    pub header_time: Histogram,
}

impl UpstreamStats {
    pub fn attempt(&self) {
        bump(&self.requests);
    }

    /// The attempt has its connection: from the pool, or new.
    pub fn connected(&self, reused: bool) {
        bump(if reused {
            &self.reused_conns
        } else {
            &self.new_conns
        });
    }

    pub fn failed(&self, kind: FailKind) {
        bump(&self.failures[kind as usize]);
    }

    pub fn read(&self) -> UpstreamCounts {
        UpstreamCounts {
            requests: self.requests.get(),
            failures: std::array::from_fn(|i| self.failures[i].get()),
            new_conns: self.new_conns.get(),
            reused_conns: self.reused_conns.get(),
            header_time: self.header_time.read(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpstreamCounts {
    pub requests: u64,
    pub failures: [u64; FAIL_KINDS],
    pub new_conns: u64,
    pub reused_conns: u64,
    pub header_time: HistogramSnap,
}

impl UpstreamCounts {
    pub fn add(&mut self, o: &UpstreamCounts) {
        self.requests += o.requests;
        for (a, b) in self.failures.iter_mut().zip(o.failures) {
            *a += b;
        }
        self.new_conns += o.new_conns;
        self.reused_conns += o.reused_conns;
        self.header_time.add(&o.header_time);
    }
}

/// One listen address's counters.
#[derive(Default, Debug)]
pub struct ListenerStats {
    pub accepted: Cell<u64>,
    /// Open connections accepted here (a `ConnSlot` holds one).
    pub active: Cell<u64>,
    /// Closed at once: `worker_connections` / `max_connections` full.
    pub refused: Cell<u64>,
    pub tls_handshakes: Cell<u64>,
    pub tls_failures: Cell<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerCounts {
    pub accepted: u64,
    pub active: u64,
    pub parked: u64,
    pub refused: u64,
    pub tls_handshakes: u64,
    pub tls_failures: u64,
}

impl ListenerCounts {
    pub fn add(&mut self, o: &ListenerCounts) {
        self.accepted += o.accepted;
        self.active += o.active;
        self.parked += o.parked;
        self.refused += o.refused;
        self.tls_handshakes += o.tls_handshakes;
        self.tls_failures += o.tls_failures;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_take_their_upper_bound_inclusive() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_micros(501));
        h.observe(Duration::from_secs(20));
        let s = h.read();
        assert_eq!(s.counts[0], 1);
        assert_eq!(s.counts[1], 1);
        assert_eq!(s.counts[BUCKETS_US.len()], 1);
        assert_eq!(s.count(), 3);
        assert_eq!(s.sum_us, 20_001_001);
    }

    #[test]
    fn quantiles_come_from_bucket_bounds() {
        let h = Histogram::default();
        for _ in 0..99 {
            h.observe(Duration::from_millis(3));
        }
        h.observe(Duration::from_millis(700));
        let s = h.read();
        assert_eq!(s.quantile(0.5), Some(0.005));
        assert_eq!(s.quantile(0.99), Some(0.005));
        assert_eq!(s.quantile(1.0), Some(1.0));
        assert_eq!(HistogramSnap::default().quantile(0.5), None);
    }

    #[test]
    fn statuses_fall_in_their_class() {
        assert_eq!(class_of(101), 0);
        assert_eq!(class_of(204), 1);
        assert_eq!(class_of(308), 2);
        assert_eq!(class_of(499), 3);
        assert_eq!(class_of(503), 4);
        assert_eq!(class_of(0), 5);
    }
}
