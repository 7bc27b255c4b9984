//! TLS with rustls: certificates and server rules read from the config (`site`, `certs`), SNI
//! and the handshake (`handshake`), the transport every later phase reads and writes through
//! (`stream`), session resumption on any shard (`sessions`, `tickets`), and the connection's
//! variables (`facts`, `client_cert`). Knows nothing of HTTP.
//!
//! What is shared between shards is read-only (`Loaded`, ticket key sets); what changes (the
//! session caches) is per shard and kept in step by messages.

mod acme_alpn;
pub mod certs;
mod client_cert;
pub mod facts;
pub mod handshake;
mod random;
pub mod records;
pub mod sessions;
pub mod shard;
pub mod site;
pub mod stream;
pub mod tickets;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use crate::config::tls::ProxyTls;
use crate::config::{Action, Config, Location};

pub use handshake::{Failed, Handshaken};
pub use shard::ShardTls;
pub use stream::TlsStream;

/// Every server block's TLS site (by config index; None for servers without TLS), read on the
/// main thread at start and reload and shared read-only by the shards.
#[derive(Default)]
pub struct Loaded {
    pub sites: Vec<Option<Arc<site::Site>>>,
    /// Each distinct `proxy_ssl_*` combination of the locations that `proxy_pass https://`.
    pub upstream: Vec<Arc<upstream::UpstreamTls>>,
}

impl Loaded {
    /// Reads every certificate, key and file the config's TLS servers name. An error names the
    /// file and the directive; on reload it keeps the running config (and certificates).
    pub fn load(cfg: &Config) -> Result<Loaded, String> {
        let mut sites = Vec::with_capacity(cfg.servers.len());
        for (i, s) in cfg.servers.iter().enumerate() {
            if !s.listen.iter().any(|l| l.ssl) {
                sites.push(None);
                continue;
            }
            let acme = cfg.acme.certificates.iter().find(|c| c.server == i);
            sites.push(Some(Arc::new(site::Site::load(&s.tls, acme)?)));
        }
        let mut upstream: Vec<Arc<upstream::UpstreamTls>> = Vec::new();
        for p in https_settings(cfg) {
            if !upstream.iter().any(|u| u.settings == *p) {
                upstream.push(Arc::new(upstream::UpstreamTls::load(p)?));
            }
        }
        Ok(Loaded { sites, upstream })
    }

    /// The client settings for `p` (read at load), as this shard's copy.
    pub fn client_for(&self, p: &ProxyTls) -> Option<Arc<rustls::ClientConfig>> {
        self.upstream
            .iter()
            .find(|u| u.settings == *p)
            .map(|u| u.for_shard())
    }

    /// How often ringway's own ticket keys rotate: the shortest `ssl_session_timeout` among
    /// servers using them (a ticket stays openable for two periods), at least a minute.
    pub fn rotation_period(&self) -> Duration {
        self.sites
            .iter()
            .flatten()
            .filter(|s| s.tickets && s.ticket_keys.is_none())
            .map(|s| s.session_timeout)
            .min()
            .unwrap_or(Duration::from_secs(300))
            .max(Duration::from_secs(60))
    }
}

/// The `proxy_ssl_*` settings of every location that proxies to `https://`.
fn https_settings(cfg: &Config) -> Vec<&ProxyTls> {
    fn walk<'a>(locs: &'a [Location], out: &mut Vec<&'a ProxyTls>) {
        for l in locs {
            if let Action::Proxy(p) = &l.action
                && p.tls
            {
                out.push(&l.settings.proxy_ssl);
            }
            walk(&l.locations, out);
        }
    }
    let mut out = Vec::new();
    for s in &cfg.servers {
        walk(&s.locations, &mut out);
    }
    out
}
