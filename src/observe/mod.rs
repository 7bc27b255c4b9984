//! What ringway tells about itself: per-shard counters and their exposition (`metrics`).

pub mod metrics;
