//! The access step between route and rewrite (see ARCHITECTURE.md), nginx's preaccess and
//! access phases: who the client is and whether it may go on. A request may be answered here.
//! Each file compiles its part of a location's settings once per config generation and answers
//! per request without parsing; state is per shard.
//!
//! - `realip`: `set_real_ip_from`, `real_ip_header`, `real_ip_recursive` (ngx_http_realip_module):
//!   the effective client address other steps key on.
//! - `limit_conn`: requests in progress per key, then `limit_req`: request rate per key, leaky
//!   bucket; their zones, per shard, and how a shard takes its share (`zones.rs`, `table.rs`).
//! - `rules`: `allow` / `deny` (ngx_http_access_module).
//! - `auth`, `auth_basic`, `htpasswd`, `auth_request`: authentication.

pub mod auth_basic;
pub mod auth_request;

pub mod limit_conn;
pub mod limit_req;
mod log;
pub mod realip;
pub mod rules;
mod table;
#[cfg(test)]
mod tests;
pub mod zones;

pub use limit_conn::{ConnGuard, ConnRule};
pub use limit_req::{ReqRule, Verdict};
pub use table::Table;
pub use zones::{LocationLimits, Share, ZoneSpec, Zones};
