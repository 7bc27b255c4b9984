//! A shard's TLS state: each server's rustls config with this shard's session store and the
//! ticket keys in force. Rebuilt (never patched) when a reload or a key rotation arrives.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::{NoServerSessionStorage, ProducesTickets, StoresServerSessions};

use super::Loaded;
use super::sessions::ShardSessions;
use super::site::Site;
use super::tickets::{TicketKeys, Ticketer};

pub struct ShardTls {
    loaded: Arc<Loaded>,
    configs: Vec<Option<Arc<ServerConfig>>>,
}

impl ShardTls {
    pub fn new(
        loaded: Arc<Loaded>,
        sessions: &Arc<ShardSessions>,
        generated: &Arc<TicketKeys>,
    ) -> ShardTls {
        let cache = loaded
            .sites
            .iter()
            .flatten()
            .map(|s| s.cache)
            .max()
            .unwrap_or(0);
        sessions.set_capacity(cache);
        let configs = loaded
            .sites
            .iter()
            .map(|site| {
                let site = site.as_ref()?;
                let store: Arc<dyn StoresServerSessions> = if site.cache > 0 {
                    sessions.clone()
                } else {
                    Arc::new(NoServerSessionStorage {})
                };
                let ticketer: Arc<dyn ProducesTickets> = Arc::new(Ticketer {
                    keys: if site.tickets {
                        site.ticket_keys
                            .clone()
                            .unwrap_or_else(|| generated.clone())
                    } else {
                        Arc::new(TicketKeys::new(Vec::new()))
                    },
                    lifetime: site.session_timeout,
                });
                // The site's settings plus this shard's session store and ticket keys.
                let mut config = site.base.clone();
                config.session_storage = store;
                config.ticketer = ticketer;
                Some(Arc::new(config))
            })
            .collect();
        ShardTls { loaded, configs }
    }

    /// The settings of config server `index`'s site (no config handed out).
    pub fn rules(&self, index: usize) -> Option<&Site> {
        self.loaded.sites.get(index)?.as_deref()
    }

    /// The site of config server `index` and its config on this shard.
    pub fn site(&self, index: usize) -> Option<(&Site, Arc<ServerConfig>)> {
        let site = self.loaded.sites.get(index)?.as_ref()?;
        let config = self.configs.get(index)?.clone()?;
        Some((site, config))
    }
}
