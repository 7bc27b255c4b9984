//! The access step, between routing and the upstream request (nginx's preaccess and access
//! phases): a request may be answered here. Per-shard state only.
//!
//! - `limit_conn`: requests in progress per key (`limit_conn.rs`), then
//! - `limit_req`: request rate per key, leaky bucket (`limit_req.rs`);
//! - their zones, per shard, and how a shard takes its share (`zones.rs`, `table.rs`).

mod addr;
pub mod limit_conn;
pub mod limit_req;
mod log;
mod table;
#[cfg(test)]
mod tests;
pub mod zones;

pub use addr::BinaryAddr;
pub use limit_conn::{ConnGuard, ConnRule};
pub use limit_req::{ReqRule, Verdict};
pub use table::Table;
pub use zones::{LocationLimits, Share, ZoneSpec, Zones};
