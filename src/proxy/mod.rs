//! A request's path through ringway, one phase per file, in the order a request meets them
//! (`docs/request-lifecycle.md` walks through it):
//!
//! - `session`: a connection's loop (`h2` for HTTP/2: a task per stream, each through the same
//!   phases) (idle waits, parking, keep-alive) and the sequence of
//!   phases for each request on it; `guard` keeps a panic to its own connection;
//! - `head`: parse — bytes to a typed request head, or a typed error;
//! - `route`: server, rewrites, location;
//! - `access`: limits, allow/deny, authentication (`subrequest` for `auth_request`);
//! - `forward`: the upstream exchange (`upstream::exchange`, the client's side in
//!   `requester`, the head sent in `upstream_head`), then
//! - `response`: the response phase (header rules, framing, the relay's plan), and
//! - `relay`: the body to the client, spliced or copied; `tunnel` after an upgrade;
//! - `answer`: answers ringway makes itself, and where errors (`error`) become answers;
//! - `outcome`: the per-request record the phases fill and the session finishes.
//!
//! `request` holds the record the phases after routing share; `context` the shard's state.

mod access;
mod acme;
mod answer;
mod builtin;
pub(crate) mod cache;
pub mod client;
mod compress_relay;
pub mod context;
mod error;
mod forward;
mod guard;
mod h2;
mod head;
mod linger;
mod log_capture;
pub mod outcome;
pub mod park;
mod relay;
mod request;
mod requester;
mod response;
mod route;
pub(crate) mod scratch;
mod session;
mod subrequest;
mod timers;
mod tls;
mod tunnel;
mod upstream_head;

pub use context::{ConnSlot, Drain, Generation, ListenerRt, Refused, SWEEP, ShardCtx};
pub use error::{Error, Party};
pub use outcome::Outcome;
pub use session::{serve, serve_tls};
