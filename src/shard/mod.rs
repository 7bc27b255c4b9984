//! Shards: one OS thread per core, pinned, each with its own monoio runtime (io_uring, or the
//! epoll driver where io_uring is unavailable), its own SO_REUSEPORT listeners and its own copy
//! of the compiled config. The main thread only relays signals as messages: stop and reload.
//! A helper thread re-resolves upstream `resolve` servers and sends the shards new addresses.

mod health;
mod listener;
mod resolver;
mod worker;

pub use worker::set_memory_release;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tracing::{error, info};

use crate::config::Config;
use crate::route::Resolved;

/// A message from the main thread; rare by design (never per request).
pub enum Control {
    /// Stop accepting, finish in-flight requests, close idle connections, exit.
    Stop,
    /// Switch to this config for new requests, with these DNS answers for its `resolve` servers
    /// (None: keep the shard's current ones).
    Reload(Arc<Config>, Option<Arc<Resolved>>),
    /// DNS answers changed: recompile the current config with them.
    Resolved(Arc<Resolved>),
    /// The active health check's verdict on one server changed.
    Health {
        upstream: String,
        addr: std::net::SocketAddr,
        up: bool,
    },
}

/// How to reach one shard: a channel for the message and a socket write to wake its loop.
pub struct Peer {
    tx: mpsc::Sender<Control>,
    wake: UnixStream,
}

/// Every shard's address, shared read-only: the main thread uses it for stop and reload, the
/// health-checking shard for state changes.
pub struct Peers(Vec<Peer>);

impl Peers {
    pub fn broadcast(&self, make: impl Fn() -> Control) {
        for p in &self.0 {
            if p.tx.send(make()).is_ok() {
                let _ = (&p.wake).write_all(b"!");
            }
        }
    }
}

pub struct Shards {
    peers: Arc<Peers>,
    threads: Vec<JoinHandle<()>>,
    resolver: Option<resolver::Handle>,
}

impl Shards {
    /// Starts `workers` shards on `cfg`. Listeners are bound before this returns, so an address
    /// already in use is reported here.
    pub fn start(cfg: Arc<Config>, workers: usize) -> Result<Shards, String> {
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let mut peers = Vec::with_capacity(workers);
        let mut ends = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = mpsc::channel();
            let (wake, wake_rx) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
            peers.push(Peer { tx, wake });
            ends.push((rx, wake_rx));
        }
        let peers = Arc::new(Peers(peers));
        // The first DNS lookups, before any shard serves a request.
        let (names, resolved) = resolver::initial(&cfg);
        let mut threads = Vec::with_capacity(workers);
        for (id, (rx, wake_rx)) in ends.into_iter().enumerate() {
            let (ready_tx, ready_rx) = mpsc::channel();
            let core = cores.get(id % cores.len().max(1)).copied();
            let cfg = cfg.clone();
            let resolved = resolved.clone();
            let shard_peers = peers.clone();
            let thread = std::thread::Builder::new()
                .name(format!("ringway-shard-{id}"))
                .spawn(move || {
                    if let Some(core) = core {
                        core_affinity::set_for_current(core);
                    }
                    worker::run(id, cfg, resolved, rx, wake_rx, ready_tx, shard_peers);
                })
                .map_err(|e| format!("cannot start shard thread: {e}"))?;
            // Each shard reports whether its listeners bound and its config compiled.
            match ready_rx.recv() {
                Ok(Ok(())) => threads.push(thread),
                Ok(Err(e)) => {
                    let _ = thread.join();
                    let started = Shards {
                        peers: peers.clone(),
                        threads,
                        resolver: None,
                    };
                    started.stop();
                    return Err(e);
                }
                Err(_) => return Err(format!("shard {id} died while starting")),
            }
        }
        let resolver = resolver::spawn(cfg, names, peers.clone());
        Ok(Shards {
            peers,
            threads,
            resolver,
        })
    }

    pub fn reload(&self, cfg: Arc<Config>) {
        info!("reloading configuration on {} shards", self.threads.len());
        // The resolver thread looks up names new to the config, then hands both to the shards.
        if let Some(r) = &self.resolver
            && r.reload(cfg.clone())
        {
            return;
        }
        self.peers.broadcast(|| Control::Reload(cfg.clone(), None));
    }

    /// Graceful stop: returns when every shard has drained (or hit its drain timeout).
    pub fn stop(self) {
        if let Some(r) = &self.resolver {
            r.stop();
        }
        // Shards not started (a failed start) never read their channel: their sends just fail.
        self.peers.broadcast(|| Control::Stop);
        for t in self.threads {
            if t.join().is_err() {
                error!("a shard thread panicked");
            }
        }
    }
}
