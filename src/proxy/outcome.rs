//! The outcome record of one request: what happened to it, filled in by the phases as they run
//! and finished exactly once when the request is done, refused-before-routing requests (400,
//! 408, 414, 431) included. The access log and the metrics of a later issue read this record
//! and nothing else of the request path; `finish` hands it to the access log
//! (`observe::log::request_done`) and to the `ringway::request` debug log target
//! (`RINGWAY_LOG=ringway::request=debug`).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::debug;

use super::error::Party;

pub struct Outcome {
    pub started: Instant,
    /// The status sent to the client (0: none was, the connection just closed).
    pub status: Cell<u16>,
    /// Bytes of the request read from the client: head and body.
    pub received: Cell<u64>,
    /// Bytes written to the client: heads and bodies (interim answers included).
    pub sent: Cell<u64>,
    /// The upstream exchange, when the request went upstream.
    pub upstream: Cell<Option<UpstreamOutcome>>,
    /// Who failed, when the request failed.
    pub failed: Cell<Option<Party>>,
    /// What the cache did with the request (MISS, HIT, …): filled by the cache phase to come.
    pub cache_status: Cell<Option<&'static str>>,
    /// The request is a HEAD (known even when its head did not parse): answers carry no body.
    pub head_method: Cell<bool>,
    /// The counters of the location that answered (set once routed; metrics).
    pub location_stats: Cell<Option<std::rc::Rc<crate::observe::metrics::counters::LocStats>>>,
    /// The `lingering_*` settings of the location that answered (set once routed).
    pub lingering: Cell<Option<crate::config::Lingering>>,
    /// Bytes of response heads among `sent` (`$body_bytes_sent` is the rest).
    pub head_sent: Cell<u64>,
    /// Bytes the upstream's response brought (`$upstream_bytes_received`): head and body.
    pub upstream_received: Cell<u64>,
    /// `$connection`: the connection's serial number (unique in the process).
    pub connection: Cell<u64>,
    /// `$connection_requests`: requests on the connection, this one included.
    pub connection_requests: Cell<u64>,
    /// `$pipe`: the request's bytes came with the previous request's.
    pub pipelined: Cell<bool>,
    /// The request line of a head that did not parse (`$request` of a refused request).
    pub bad_request_line: RefCell<Option<Box<[u8]>>>,
    /// What the access log captured when the request was routed (None: nothing to log).
    pub log: RefCell<Option<crate::observe::log::Capture>>,
}

/// The last upstream attempt of a request. Its times are kept as instants (the clock is read
/// once per event), turned into durations only when the record is read.
#[derive(Clone, Copy, Debug)]
pub struct UpstreamOutcome {
    pub addr: Option<SocketAddr>,
    /// The response status (0: no response head).
    pub status: u16,
    /// When the attempt began, its connection was made (None: pooled), its response head was
    /// complete (None: it never was) and the response was relayed (set by `upstream_done`).
    pub attempt_at: Instant,
    pub connected_at: Option<Instant>,
    pub header_at: Option<Instant>,
    pub done_at: Option<Instant>,
}

impl UpstreamOutcome {
    /// `$upstream_connect_time`: zero for a pooled connection.
    pub fn connect_time(&self) -> Duration {
        self.connected_at
            .map_or(Duration::ZERO, |t| t.duration_since(self.attempt_at))
    }

    /// `$upstream_header_time`.
    pub fn header_time(&self) -> Option<Duration> {
        self.header_at.map(|t| t.duration_since(self.attempt_at))
    }

    /// `$upstream_response_time`.
    pub fn response_time(&self) -> Option<Duration> {
        self.done_at.map(|t| t.duration_since(self.attempt_at))
    }
}

impl Outcome {
    pub fn start() -> Outcome {
        Outcome {
            started: Instant::now(),
            status: Cell::new(0),
            received: Cell::new(0),
            sent: Cell::new(0),
            upstream: Cell::new(None),
            failed: Cell::new(None),
            cache_status: Cell::new(None),
            head_method: Cell::new(false),
            location_stats: Cell::new(None),
            lingering: Cell::new(None),
            head_sent: Cell::new(0),
            upstream_received: Cell::new(0),
            connection: Cell::new(0),
            connection_requests: Cell::new(0),
            pipelined: Cell::new(false),
            bad_request_line: RefCell::new(None),
            log: RefCell::new(None),
        }
    }

    /// `$status`: the status sent, or nginx's 499 when the client went away before any answer.
    pub fn log_status(&self) -> u16 {
        match (self.status.get(), self.failed.get()) {
            (0, Some(Party::Client)) => 499,
            (s, _) => s,
        }
    }

    /// A response head was sent to the client (counted in `sent` by the caller): its length
    /// for `$body_bytes_sent`, its fields for `$sent_http_*`.
    pub fn sent_head(&self, head: &[u8]) {
        self.head_sent.set(self.head_sent.get() + head.len() as u64);
        crate::observe::log::response_head(self, head);
    }

    pub fn add_sent(&self, n: usize) {
        self.sent.set(self.sent.get() + n as u64);
    }

    pub fn add_received(&self, n: u64) {
        self.received.set(self.received.get() + n);
    }

    /// Marks the upstream response relayed (or abandoned) now.
    pub fn upstream_done(&self) {
        if let Some(mut u) = self.upstream.get() {
            u.done_at = Some(Instant::now());
            self.upstream.set(Some(u));
        }
    }

    /// `$request_time`: to the end of the upstream's response when there was one (the request
    /// ends with it), else to now.
    pub fn request_time(&self) -> Duration {
        let end = self.upstream.get().and_then(|u| u.done_at);
        end.unwrap_or_else(Instant::now)
            .duration_since(self.started)
    }

    /// The request is done: hands the record on. Consumes it, so it is finished once.
    pub fn finish(self) {
        crate::observe::log::request_done(&self);
        let up = self.upstream.get();
        debug!(
            target: "ringway::request",
            status = self.status.get(),
            received = self.received.get(),
            sent = self.sent.get(),
            upstream = ?up.and_then(|u| u.addr),
            upstream_status = up.map_or(0, |u| u.status),
            upstream_connect_us = up.map_or(0, |u| u.connect_time().as_micros() as u64),
            upstream_header_us = up.and_then(|u| u.header_time()).map_or(0, |d| d.as_micros() as u64),
            upstream_response_us = up.and_then(|u| u.response_time()).map_or(0, |d| d.as_micros() as u64),
            failed = ?self.failed.get(),
            request_time_us = self.request_time().as_micros() as u64,
            "request done"
        );
    }
}
