//! Load balancing within one upstream group, per shard (`&mut self`, nothing shared), with
//! nginx's semantics: round-robin (smooth weighted), least_conn, ip_hash, hash [consistent] and
//! random [two least_conn]. Servers keep their spec index. Backups are considered only when no
//! primary may take the request; `down` servers never. Every method that cannot place a request
//! (all its candidates unusable or tried) falls back to round-robin, which moves on to backups.
//! `pick` does not allocate: everything is sized in `new`, the consistent ring included.

mod hash;
mod rr;
mod tried;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;

use crate::config::BalanceMethod;
use crate::route::UpstreamSpec;

pub use rr::SmoothWeighted;
pub use tried::Tried;

/// What one pick knows about the request and the servers' state.
pub struct Pick<'a> {
    /// ip_hash: the client address bytes (4 for IPv4, of which nginx hashes the first three;
    /// 16 for IPv6; empty for other clients). hash: the rendered key. Ignored by other methods.
    pub key: &'a [u8],
    /// Servers this request already tried (failover): never picked again.
    pub tried: &'a Tried,
    /// Server `i` may take traffic now (max_fails/fail_timeout, health checks, max_conns).
    pub usable: &'a dyn Fn(usize) -> bool,
    /// Requests this shard has in flight to server `i` (least_conn, random two).
    pub active: &'a dyn Fn(usize) -> u32,
}

pub struct Balancer {
    method: Method,
    rr: SmoothWeighted,
    table: hash::Table,
    ring: Option<hash::Ring>,
    scratch: Vec<u64>,
    rng: rng::Rng,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    RoundRobin,
    LeastConn,
    IpHash,
    Hash,
    Consistent,
    Random,
    RandomTwo,
}

/// What the balancer needs of one server.
struct Member {
    addr: SocketAddr,
    weight: u32,
    backup: bool,
    down: bool,
}

fn members_of(spec: &UpstreamSpec) -> Vec<Member> {
    spec.servers
        .iter()
        .map(|s| Member {
            addr: s.addr,
            weight: s.weight,
            backup: s.backup,
            down: s.down,
        })
        .collect()
}

impl Balancer {
    pub fn new(spec: &UpstreamSpec, method: BalanceMethod) -> Balancer {
        Balancer::from_members(&members_of(spec), method)
    }

    fn from_members(members: &[Member], method: BalanceMethod) -> Balancer {
        let method = match method {
            BalanceMethod::RoundRobin => Method::RoundRobin,
            BalanceMethod::LeastConn => Method::LeastConn,
            BalanceMethod::IpHash => Method::IpHash,
            BalanceMethod::Hash { consistent: false } => Method::Hash,
            BalanceMethod::Hash { consistent: true } => Method::Consistent,
            BalanceMethod::Random { two: false, .. } => Method::Random,
            // `random two` compares by least_conn whether or not it is spelled out.
            BalanceMethod::Random { two: true, .. } => Method::RandomTwo,
        };
        let rr = SmoothWeighted::from_servers(members);
        let table = hash::Table::new(members);
        let ring = (method == Method::Consistent).then(|| hash::Ring::new(members, &table));
        let scratch = vec![0; rr.scratch_len()];
        let rng = rng::Rng::seeded(scratch.as_ptr() as u64);
        Balancer {
            method,
            rr,
            table,
            ring,
            scratch,
            rng,
        }
    }

    /// The server for this request, or `None` when no server may take it.
    pub fn pick(&mut self, p: &Pick<'_>) -> Option<usize> {
        let ok = |i: usize| !p.tried.contains(i) && (p.usable)(i);
        let found = match self.method {
            Method::RoundRobin => return self.rr.pick_where(ok),
            Method::LeastConn => return self.rr.least_conn(ok, p.active, &mut self.scratch),
            Method::IpHash => self.table.ip_hash(p.key, &ok),
            Method::Hash => self.table.hash(p.key, &ok),
            Method::Consistent => match &mut self.ring {
                Some(ring) => ring.find(&self.table, p.key, &ok),
                None => None,
            },
            Method::Random => self.table.random(&mut self.rng, &ok),
            Method::RandomTwo => self.table.random_two(&mut self.rng, &ok, p.active),
        };
        found.or_else(|| self.rr.pick_where(ok))
    }
}

mod rng {
    use std::sync::atomic::{AtomicU64, Ordering};

    /// wyrand: tiny, fast, good enough to spread load.
    pub(super) struct Rng(u64);

    static BALANCERS: AtomicU64 = AtomicU64::new(0);

    impl Rng {
        /// Seeded from `salt`, a process-wide count of balancers and the clock, so shards (and
        /// groups) do not draw in lockstep.
        pub(super) fn seeded(salt: u64) -> Rng {
            let n = BALANCERS.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            let mut r = Rng(salt ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos);
            r.next();
            r
        }

        pub(super) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
            let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
            ((t >> 64) as u64) ^ (t as u64)
        }

        /// Uniform in `0..n` (`n > 0`), by multiply-shift.
        pub(super) fn below(&mut self, n: u64) -> u64 {
            ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
        }
    }
}
