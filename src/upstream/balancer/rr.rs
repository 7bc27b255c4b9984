//! Smooth weighted round-robin (nginx's default) and least_conn, which breaks its ties with the
//! same round-robin state. Each pick adds every considered server's weight to its current score,
//! takes the highest and subtracts the total of the considered servers from it. Backups are used
//! only when no primary can be picked; `down` servers are left out at construction.

use super::Member;
use crate::route::UpstreamSpec;

struct Peer {
    index: usize,
    weight: u32,
    current: i64,
}

/// The round-robin engine. Still usable alone (`new` + `pick`) for callers that have no health
/// or failover state yet.
pub struct SmoothWeighted {
    primaries: Vec<Peer>,
    backups: Vec<Peer>,
}

/// Marks a peer that `least_conn` found unusable in its first pass.
const SKIP: u64 = u64::MAX;

impl SmoothWeighted {
    pub fn new(spec: &UpstreamSpec) -> SmoothWeighted {
        SmoothWeighted::from_servers(&super::members_of(spec))
    }

    pub(super) fn from_servers(servers: &[Member]) -> SmoothWeighted {
        let mut primaries = Vec::new();
        let mut backups = Vec::new();
        for (index, s) in servers.iter().enumerate() {
            if s.down {
                continue;
            }
            let p = Peer {
                index,
                weight: s.weight.max(1),
                current: 0,
            };
            if s.backup {
                backups.push(p)
            } else {
                primaries.push(p)
            }
        }
        SmoothWeighted { primaries, backups }
    }

    /// Scratch slots `least_conn` needs (one per primary or backup, whichever is more).
    pub(super) fn scratch_len(&self) -> usize {
        self.primaries.len().max(self.backups.len())
    }

    /// Every non-down server is taken to be usable.
    pub fn pick(&mut self) -> Option<usize> {
        self.pick_where(|_| true)
    }

    /// Round-robin over the primaries `ok` accepts, else over the backups it accepts.
    pub(super) fn pick_where(&mut self, ok: impl Fn(usize) -> bool) -> Option<usize> {
        smooth(&mut self.primaries, |_, p| ok(p.index))
            .or_else(|| smooth(&mut self.backups, |_, p| ok(p.index)))
    }

    /// The accepted server with the fewest `active` per unit of weight; ties go to round-robin
    /// among the tied servers. Backups only when no primary is accepted.
    pub(super) fn least_conn(
        &mut self,
        ok: impl Fn(usize) -> bool,
        active: &dyn Fn(usize) -> u32,
        scratch: &mut [u64],
    ) -> Option<usize> {
        least_conn(&mut self.primaries, &ok, active, scratch)
            .or_else(|| least_conn(&mut self.backups, &ok, active, scratch))
    }
}

/// nginx's smooth weighted round-robin over the peers `ok(position, peer)` accepts.
fn smooth(peers: &mut [Peer], ok: impl Fn(usize, &Peer) -> bool) -> Option<usize> {
    let mut total = 0i64;
    let mut best: Option<(usize, i64)> = None;
    for (k, p) in peers.iter_mut().enumerate() {
        if !ok(k, p) {
            continue;
        }
        p.current += i64::from(p.weight);
        total += i64::from(p.weight);
        if best.is_none_or(|(_, c)| p.current > c) {
            best = Some((k, p.current));
        }
    }
    let (b, _) = best?;
    peers[b].current -= total;
    Some(peers[b].index)
}

fn least_conn(
    peers: &mut [Peer],
    ok: &impl Fn(usize) -> bool,
    active: &dyn Fn(usize) -> u32,
    scratch: &mut [u64],
) -> Option<usize> {
    let scratch = &mut scratch[..peers.len()];
    let mut best: Option<usize> = None;
    let mut many = false;
    for (k, p) in peers.iter().enumerate() {
        if !ok(p.index) {
            scratch[k] = SKIP;
            continue;
        }
        let a = u64::from(active(p.index));
        scratch[k] = a;
        match best {
            None => best = Some(k),
            Some(b) => {
                // a / w_k < a_b / w_b, without division.
                let lhs = a * u64::from(peers[b].weight);
                let rhs = scratch[b] * u64::from(p.weight);
                if lhs < rhs {
                    best = Some(k);
                    many = false;
                } else if lhs == rhs {
                    many = true;
                }
            }
        }
    }
    let b = best?;
    if !many {
        return Some(peers[b].index);
    }
    let (ba, bw) = (scratch[b], u64::from(peers[b].weight));
    // Only peers at or after the first best can tie with it.
    smooth(&mut peers[b..], |k, p| {
        let a = scratch[b + k];
        a != SKIP && a * bw == ba * u64::from(p.weight)
    })
}
