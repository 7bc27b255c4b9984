//! The router compiled from the config model: server_name tables per listen address, location
//! matching in nginx's order, and per-location settings ready for the data path (templates
//! compiled, names lower-cased, upstreams resolved to indexes). Nothing here does I/O.

mod compile;
mod location;
pub mod rewrite;

mod vhost;

pub use crate::template::{Template, Vars};
pub use compile::{
    CompileError, Compiled, HostLookup, Lookups, Resolved, UpstreamServerSpec, UpstreamSpec,
    compile, compile_with,
};
pub use location::{
    Action, AddHeader, Location, LocationTable, NU_403, NU_404, NU_429, NU_500, NU_502, NU_503,
    NU_504, NU_ERROR, NU_INVALID_HEADER, NU_NON_IDEMPOTENT, NU_TIMEOUT, NextUpstream,
    ProxyRedirect, RedirectPattern, SetHeader, UriRewrite,
};
pub use rewrite::{Rewrite, Routed};
pub use vhost::{ServerRt, VirtualHosts, strip_port};
