//! ringway: an HTTP/1.1 reverse proxy on io_uring, one shard per core.

pub mod access;
pub mod acme;
pub mod cache;
pub mod compress;
pub mod config;
pub mod http;
pub mod net;
pub mod observe;
pub mod proxy;
pub mod route;
pub mod shard;
pub mod template;
pub mod tls;
pub mod upstream;
