//! A scrape: the shard that received it asks every shard (itself included, through its own
//! control loop) for a snapshot, waits for the replies without blocking its thread, and sums
//! them. A shard that does not answer within `ANSWER_WITHIN` is left out; the result says how
//! many were.

use std::time::{Duration, Instant};

use super::snapshot::{self, Snapshot};
use crate::proxy::ShardCtx;

/// How long a scrape waits for the shards' snapshots.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(1);

pub struct Gathered {
    pub total: Snapshot,
    /// Shards asked, and those that did not answer in time.
    pub shards: usize,
    pub missing: usize,
    /// How long gathering took.
    pub took: Duration,
}

pub async fn gather(ctx: &ShardCtx) -> Gathered {
    let t0 = Instant::now();
    let (tx, rx) = flume::unbounded();
    let asked = match ctx.metrics.asker() {
        Some(ask) => ask(tx),
        // Not wired to the other shards (a lone shard in unit tests): this one alone.
        None => {
            let _ = tx.send(snapshot::take(ctx));
            1
        }
    };
    let deadline = t0 + ANSWER_WITHIN;
    let mut got = Vec::with_capacity(asked);
    while got.len() < asked {
        let left = deadline.saturating_duration_since(Instant::now());
        match crate::net::deadline::within(left, rx.recv_async()).await {
            Ok(Ok(s)) => got.push(s),
            // Timed out, or every sender is gone (a shard stopped).
            _ => break,
        }
    }
    Gathered {
        total: snapshot::sum(&got),
        shards: asked,
        missing: asked - got.len(),
        took: t0.elapsed(),
    }
}
