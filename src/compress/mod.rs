//! Response compression as ngx_http_gzip_module, ngx_brotli and zstd-nginx-module configure
//! it: the location's compiled policy, the per-response decision (eligibility,
//! `Accept-Encoding` negotiation, `gzip_proxied`, `gzip_disable`, `gzip_http_version`), and the
//! streaming encoders. Pure: the relay that feeds the encoders is `proxy::compress_relay`.

mod accept;
pub mod encoder;
mod policy;

#[cfg(test)]
mod tests;

pub use accept::{AcceptEncoding, parse_accept_encoding};
pub use encoder::Encoder;
pub use policy::{Decision, Policy, RequestView};

/// A content coding ringway produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Brotli,
    Zstd,
}

impl Coding {
    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static [u8] {
        match self {
            Coding::Gzip => b"gzip",
            Coding::Brotli => b"br",
            Coding::Zstd => b"zstd",
        }
    }
}
