//! Active health checks: one shard (shard 0) probes every server of each upstream that has a
//! `health_check`, and broadcasts each state change to all shards as a message. No shard reads
//! shared state on its request path: each applies the verdict to its own copy.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use tracing::warn;

use super::{Control, Peers};
use crate::config::HealthCheck;
use crate::proxy::{Generation, ShardCtx};
use crate::upstream::GroupTls;

thread_local! {
    /// Bumped by every `start`: loops of an earlier start end (a binary upgrade's rollback
    /// starts them again on the same generation, maybe before the paused ones have noticed).
    static STARTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Starts one probe loop per checked server of the current generation. The loops end when the
/// generation is replaced (a reload starts new ones), the shard drains, or `start` runs again.
pub fn start(ctx: &Rc<ShardCtx>, peers: &Arc<Peers>) {
    let epoch = STARTS.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    let generation = ctx.current();
    for group in &generation.upstreams {
        let Some(hc) = group.health_check() else {
            continue;
        };
        for s in &group.servers {
            // A group that cannot make its TLS settings has nothing to probe with: its
            // requests fail with the reason, logged where they do.
            let tls = match &group.tls {
                None => None,
                Some(Ok(t)) => Some(t.clone()),
                Some(Err(_)) => continue,
            };
            monoio::spawn(probe_loop(
                ctx.clone(),
                (Rc::as_ptr(&generation), epoch),
                group.name.clone(),
                s.addr,
                (hc.clone(), tls),
                peers.clone(),
            ));
        }
    }
}

async fn probe_loop(
    ctx: Rc<ShardCtx>,
    (generation, epoch): (*const Generation, u64),
    upstream: String,
    addr: SocketAddr,
    (hc, tls): (HealthCheck, Option<GroupTls>),
    peers: Arc<Peers>,
) {
    // Servers start up (nginx Plus without `mandatory`); `streak` counts probes that disagree
    // with the current verdict.
    let mut up = true;
    let mut streak = 0u32;
    loop {
        monoio::time::sleep(hc.interval).await;
        if ctx.drain.is_set()
            || !std::ptr::eq(Rc::as_ptr(&ctx.current()), generation)
            || STARTS.with(|n| n.get()) != epoch
        {
            return;
        }
        let ok = probe(addr, &hc, tls.as_ref()).await;
        if ok == up {
            streak = 0;
            continue;
        }
        streak += 1;
        let needed = if up { hc.fails } else { hc.passes };
        if streak >= needed {
            up = ok;
            streak = 0;
            if up {
                warn!(upstream = %upstream, server = %addr, "health check passed: server back in rotation");
            } else {
                warn!(upstream = %upstream, server = %addr, "health check failed: server taken out of rotation");
            }
            let name = upstream.clone();
            peers.broadcast(|| Control::Health {
                upstream: name.clone(),
                addr,
                up,
            });
        }
    }
}

/// One probe: `GET uri` over the upstream exchange's probe, a valid final status within
/// `timeout` in the expected range.
async fn probe(addr: SocketAddr, hc: &HealthCheck, tls: Option<&GroupTls>) -> bool {
    matches!(
        crate::upstream::exchange::probe(addr, &hc.uri, hc.timeout, tls).await,
        Some(status) if (hc.status_lo..=hc.status_hi).contains(&status)
    )
}

/// Applies a verdict from the probing shard to this shard's copy of the upstream.
pub fn apply(ctx: &ShardCtx, upstream: &str, addr: SocketAddr, up: bool) {
    let generation = ctx.current();
    for group in generation.upstreams.iter().filter(|g| g.name == upstream) {
        for s in group.servers.iter().filter(|s| s.addr == addr) {
            s.health.set_checked(up);
        }
    }
}
