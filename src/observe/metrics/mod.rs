//! Metrics: counters each shard keeps for itself (`counters`, no atomics on the request path),
//! snapshots of them taken by each shard's control loop when a scrape asks (`snapshot`), summed
//! by the shard that received the scrape, and answered as Prometheus text (`encode`), nginx's
//! `stub_status` text (`stub`) or the live status page and its JSON view (`page`).
//!
//! Layers: `counters` is a leaf (plain `Cell`s and the `Slot` that hangs them on compiled
//! locations and upstream servers), used from `route` and `upstream`; the rest sits above
//! `proxy`, beside `shard`: it reads shard contexts and outcome records.
//!
//! Counters are kept by name (server name + location, upstream group + address, listen address)
//! in a per-shard registry: a reload that keeps a name keeps its counters.

pub mod counters;
pub mod encode;
pub mod page;
pub mod process;
pub mod registry;
pub mod scrape;
pub mod snapshot;
pub mod stub;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

pub use counters::{FailKind, ListenerStats, LocStats, Slot, UpstreamStats};
pub use snapshot::Snapshot;

use crate::proxy::Outcome;
use crate::route::Location;

/// Asks every shard for a snapshot (the replies go to the sender); returns how many were asked.
pub type Asker = Box<dyn Fn(flume::Sender<Snapshot>) -> usize>;

/// One shard's metrics state, in its `ShardCtx`.
#[derive(Default)]
pub struct ShardMetrics {
    pub registry: registry::Registry,
    /// Connections reading a request head / with a request past its head (stub_status's
    /// Reading and Writing).
    pub reading: Cell<u64>,
    pub writing: Cell<u64>,
    /// Requests finished (stub_status's requests).
    pub requests: Cell<u64>,
    asker: RefCell<Option<Asker>>,
}

impl ShardMetrics {
    /// How a scrape reaches the other shards (set once the shard is running).
    pub fn set_asker(&self, a: Asker) {
        *self.asker.borrow_mut() = Some(a);
    }

    /// The way to the other shards, when set.
    pub fn asker(&self) -> Option<std::cell::Ref<'_, Asker>> {
        std::cell::Ref::filter_map(self.asker.borrow(), Option::as_ref).ok()
    }

    /// A request's head is being read, until `Phase::writing` or the drop.
    pub fn reading(&self) -> Phase<'_> {
        counters::bump(&self.reading);
        Phase {
            m: self,
            writing: false,
        }
    }
}

/// Counts one request in stub_status's Reading, then Writing; dropping it ends the count.
pub struct Phase<'a> {
    m: &'a ShardMetrics,
    writing: bool,
}

impl Phase<'_> {
    /// The head is read: the request is now being served.
    pub fn writing(&mut self) {
        if !self.writing {
            self.writing = true;
            self.m.reading.set(self.m.reading.get().saturating_sub(1));
            counters::bump(&self.m.writing);
        }
    }
}

impl Drop for Phase<'_> {
    fn drop(&mut self) {
        let c = if self.writing {
            &self.m.writing
        } else {
            &self.m.reading
        };
        c.set(c.get().saturating_sub(1));
    }
}

/// One open connection counted in its listener's active connections until dropped.
pub struct Active(Rc<ListenerStats>);

impl Active {
    /// Counts a connection accepted on the listener of `stats`.
    pub fn accepted(stats: Rc<ListenerStats>) -> Active {
        counters::bump(&stats.accepted);
        counters::bump(&stats.active);
        Active(stats)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        let a = &self.0.active;
        a.set(a.get().saturating_sub(1));
    }
}

/// A connection refused at accept (worker_connections / max_connections full).
pub fn refused(m: &ShardMetrics, addr: std::net::SocketAddr) {
    if let Some(l) = m.registry.listener(addr) {
        counters::bump(&l.refused);
    }
}

/// A TLS handshake on `addr` ended: completed (`ok`) or failed (a lookup by address: a
/// handshake costs far more).
pub fn handshake(m: &ShardMetrics, addr: std::net::SocketAddr, ok: bool) {
    if let Some(l) = m.registry.listener(addr) {
        counters::bump(if ok {
            &l.tls_handshakes
        } else {
            &l.tls_failures
        });
    }
}

/// The request hook, called once per finished request (refused-before-routing ones included)
/// with its outcome record; `unrouted` is the listener's default location, which counts the
/// requests that were never routed (400, 408, 414, 431...).
pub fn request_done(m: &ShardMetrics, o: &Outcome, unrouted: &Location) {
    counters::bump(&m.requests);
    let routed = o.location_stats.take();
    let stats = routed.as_deref().or(unrouted.stats.get().map(|s| &**s));
    if let Some(s) = stats {
        s.count(
            o.status.get(),
            o.received.get(),
            o.sent.get(),
            o.request_time(),
        );
    }
}

/// The counters a routed request is counted in.
pub fn routed(o: &Outcome, loc: &Location) {
    o.location_stats.set(loc.stats.get().cloned());
}
