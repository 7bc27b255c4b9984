//! The request's journey: a downstream connection's loop (`connection`), the exchange with an
//! upstream (`forward`), body relays by copy or splice (`body`), answers ringway writes itself
//! (`respond`) and upgraded tunnels (`tunnel`).

mod access;
mod body;
pub mod buffers;
mod connection;
pub mod context;
mod forward;
mod io;
mod respond;
mod splice;
mod timers;
mod tunnel;

pub use connection::serve;
pub use context::{Drain, Generation, ListenerRt, SWEEP, ShardCtx};
