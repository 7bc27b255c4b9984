//! The request's journey: a downstream connection's loop (`connection`), the exchange with an
//! upstream (`forward`), the head sent upstream and its variables (`headers`), body relays by copy or splice (`body`), answers ringway writes itself
//! (`respond`) and upgraded tunnels (`tunnel`).

mod access;
mod body;

pub mod client;
pub(crate) mod connection;
pub mod context;

pub(crate) mod forward;
pub(crate) mod headers;

pub mod park;
pub(crate) mod respond;

mod timers;
mod tunnel;

pub use connection::serve;
pub use context::{ConnSlot, Drain, Generation, ListenerRt, Refused, SWEEP, ShardCtx};
