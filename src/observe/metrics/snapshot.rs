//! A shard's counters copied out (plain data, sent between threads), and the sum of every
//! shard's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use super::counters::{ListenerCounts, LocCounts, UpstreamCounts};
use crate::proxy::ShardCtx;

/// What one shard reports to a scrape.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub conns: Conns,
    pub locations: BTreeMap<(String, String), LocCounts>,
    pub upstreams: BTreeMap<(String, SocketAddr), UpstreamState>,
    pub listeners: BTreeMap<SocketAddr, ListenerCounts>,
    /// (zone, "req" | "conn") → requests refused.
    pub zones: BTreeMap<(String, &'static str), u64>,
}

/// stub_status's connection figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conns {
    pub active: u64,
    pub reading: u64,
    pub writing: u64,
    /// Accepted connections, refused ones included (nginx's accepts).
    pub accepts: u64,
    /// Accepted and served (nginx's handled).
    pub handled: u64,
    pub requests: u64,
}

impl Conns {
    fn add(&mut self, o: &Conns) {
        self.active += o.active;
        self.reading += o.reading;
        self.writing += o.writing;
        self.accepts += o.accepts;
        self.handled += o.handled;
        self.requests += o.requests;
    }

    /// Idle connections (stub_status's Waiting).
    pub fn waiting(&self) -> u64 {
        self.active.saturating_sub(self.reading + self.writing)
    }
}

/// One upstream server: counters, and its state as the shards see it.
#[derive(Clone, Copy, Debug, Default)]
pub struct UpstreamState {
    pub counts: UpstreamCounts,
    /// Idle keep-alive connections in the shards' pools.
    pub idle_pool: u64,
    /// Requests in flight to it.
    pub in_flight: u64,
    /// Shards where passive health (`max_fails`/`fail_timeout`) has it out.
    pub passive_down: u64,
    /// Shards where the active health check has it down.
    pub check_down: u64,
    /// Shards that reported it.
    pub shards: u64,
    /// `down` in the config: never used.
    pub disabled: bool,
    /// `backup`: used only when the others are out.
    pub backup: bool,
}

impl UpstreamState {
    fn add(&mut self, o: &UpstreamState) {
        self.counts.add(&o.counts);
        self.idle_pool += o.idle_pool;
        self.in_flight += o.in_flight;
        self.passive_down += o.passive_down;
        self.check_down += o.check_down;
        self.shards += o.shards;
        self.disabled |= o.disabled;
        self.backup |= o.backup;
    }

    /// "disabled" (`down` in the config), "down" (the health check says so, or passive health
    /// took it out on every shard), "failing" (passive health took it out on some shards) or
    /// "up".
    pub fn state(&self) -> &'static str {
        if self.disabled {
            "disabled"
        } else if self.check_down > 0 || (self.shards > 0 && self.passive_down >= self.shards) {
            "down"
        } else if self.passive_down > 0 {
            "failing"
        } else {
            "up"
        }
    }
}

/// Copies this shard's counters and states (called by its control loop).
pub fn take(ctx: &ShardCtx) -> Snapshot {
    let m = &ctx.metrics;
    let reg = &m.registry;
    let generation = ctx.current();
    let mut s = Snapshot::default();
    for (k, v) in reg.locations.borrow().iter() {
        s.locations.insert(k.clone(), v.read());
    }
    let parked = ctx.parking.parked_by_listener();
    let mut accepted = 0;
    let mut refused = 0;
    for (addr, v) in reg.listeners.borrow().iter() {
        accepted += v.accepted.get();
        refused += v.refused.get();
        let c = ListenerCounts {
            accepted: v.accepted.get(),
            active: v.active.get(),
            parked: parked.get(addr).copied().unwrap_or(0),
            refused: v.refused.get(),
            tls_handshakes: v.tls_handshakes.get(),
            tls_failures: v.tls_failures.get(),
        };
        s.listeners.insert(*addr, c);
    }
    let now = Instant::now();
    for g in &generation.upstreams {
        for srv in &g.servers {
            let counts = srv.stats.get().map(|c| c.read()).unwrap_or_default();
            let state = UpstreamState {
                counts,
                idle_pool: srv.pool.idle_count() as u64,
                in_flight: u64::from(srv.health.active()),
                passive_down: u64::from(srv.health.checked_up() && !srv.health.up(now)),
                check_down: u64::from(!srv.health.checked_up()),
                shards: 1,
                disabled: srv.marked_down,
                backup: srv.backup,
            };
            s.upstreams
                .entry((g.name.clone(), srv.addr))
                .or_default()
                .add(&state);
        }
    }
    for (zone, kind, n) in generation.zones.refusals() {
        *s.zones.entry((zone.to_string(), kind)).or_default() += n;
    }
    s.conns = Conns {
        active: ctx.connections.get() as u64,
        reading: m.reading.get(),
        writing: m.writing.get(),
        accepts: accepted + refused,
        handled: accepted,
        // As nginx counts them: those in progress (this scrape's own included) too.
        requests: m.requests.get() + m.writing.get(),
    };
    s
}

/// The sum of every shard's snapshot. Group states add up per shard (the same server is one
/// entry per group on every shard).
pub fn sum(all: &[Snapshot]) -> Snapshot {
    let mut t = Snapshot::default();
    for s in all {
        t.conns.add(&s.conns);
        for (k, v) in &s.locations {
            t.locations.entry(k.clone()).or_default().add(v);
        }
        for (k, v) in &s.upstreams {
            t.upstreams.entry(k.clone()).or_default().add(v);
        }
        for (k, v) in &s.listeners {
            t.listeners.entry(*k).or_default().add(v);
        }
        for (k, v) in &s.zones {
            *t.zones.entry(k.clone()).or_default() += v;
        }
    }
    t
}
