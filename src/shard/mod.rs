//! Shards: one OS thread per core, pinned, each with its own monoio runtime (io_uring, or the
//! epoll driver where io_uring is unavailable), its own SO_REUSEPORT listeners and its own copy
//! of the compiled config. The main thread only relays signals as messages: stop and reload.
//! A helper thread re-resolves upstream `resolve` servers and sends the shards new addresses.

mod health;
pub mod inherit;
mod listener;
pub mod notify;
mod resolver;
mod tickets;
pub mod upgrade;
mod worker;

pub use listener::{ensure_new_addresses_unused, listen_addrs};
pub use worker::set_memory_release;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use tracing::{error, info};

use crate::config::Config;
use crate::route::{Lookups, Resolved};
pub use resolver::SystemLookup;

/// Set when a shard thread ended by a panic: the process is stopping with an error.
static SHARD_DIED: AtomicBool = AtomicBool::new(false);

/// Whether a shard thread has died. Its listener would otherwise go on accepting connections
/// that nobody serves, so the whole process stops with an error (exit status 1) and the service
/// manager restarts it: simpler and safer than rebuilding one shard's runtime, listeners and
/// state in place, and a panic outside a connection's task is a bug to fix, not a routine
/// event. (A panic inside one is caught there: `proxy::guard`.)
pub fn died() -> bool {
    SHARD_DIED.load(Ordering::SeqCst)
}

/// Lives as long as a shard thread; a panic unwinding through it marks the shard dead and asks
/// the process to stop (SIGTERM, the fast stop the main thread already handles).
struct Watch(usize);

impl Drop for Watch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            SHARD_DIED.store(true, Ordering::SeqCst);
            error!(
                "shard {} died (a panic outside any connection's task); stopping ringway with an \
                 error so that its service manager restarts it",
                self.0
            );
            // SAFETY: plain syscall signalling this process.
            unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
        }
    }
}

/// A message from the main thread; rare by design (never per request).
pub enum Control {
    /// Stop accepting and exit. `fast` (SIGTERM, SIGINT): close every connection now, cutting
    /// in-flight requests. Otherwise (SIGQUIT): finish in-flight requests, close idle
    /// connections, exit when drained or at `worker_shutdown_timeout`.
    Stop { fast: bool },
    /// Switch to this config for new requests, with these DNS answers for its `resolve` servers
    /// (None: keep the shard's current ones).
    /// The config's other hostnames come resolved (`Lookups`): a shard never blocks on DNS.
    Reload(
        Arc<Config>,
        Option<Arc<Resolved>>,
        Arc<Lookups>,
        Arc<crate::tls::Loaded>,
    ),
    /// New session ticket keys (ringway's own, rotated on a schedule).
    TicketKeys(Arc<crate::tls::tickets::TicketKeys>),
    /// DNS answers changed: recompile the current config with them.
    Resolved(Arc<Resolved>),
    /// Binary upgrade (SIGUSR2): reply with this shard's id and a duplicate of each of its
    /// listening sockets, for the new process to inherit.
    Listeners(mpsc::Sender<(usize, Vec<std::os::fd::OwnedFd>)>),
    /// Binary upgrade (SIGWINCH): stop accepting and drain the connections, keeping the
    /// listening sockets open (the new process accepts on them; a rollback resumes).
    Pause,
    /// Accept again on the kept sockets (SIGHUP during an upgrade, or the new process ended).
    Resume,
    /// The active health check's verdict on one server changed.
    Health {
        upstream: String,
        addr: std::net::SocketAddr,
        up: bool,
    },
    /// A metrics scrape on some shard: reply with this shard's snapshot.
    Scrape(flume::Sender<crate::observe::metrics::Snapshot>),
    /// `-s reopen` (SIGUSR1): fresh descriptors for the access log files, by path. A shard
    /// writes what it holds to the old ones, then switches.
    ReopenLogs(Arc<crate::observe::files::Reopened>),
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
    tickets: Option<tickets::Handle>,
}

impl Shards {
    /// Starts `workers` shards on `cfg`, whose hostnames the caller looked up (`lookups`, see
    /// `SystemLookup`). Listeners are bound before this returns, so an address already in use
    /// is reported here.
    pub fn start(
        cfg: Arc<Config>,
        lookups: Arc<Lookups>,
        tls: Arc<crate::tls::Loaded>,
        workers: usize,
    ) -> Result<Shards, String> {
        // A binary upgrade's new process: the old one's listening sockets, for the shards.
        inherit::adopt_from_env();
        listener::ensure_new_addresses_unused(&cfg, &inherit::held_addrs())?;
        crate::observe::metrics::process::started();
        // Session caches kept in step between shards, and ringway's own ticket keys.
        let mut meshes = crate::tls::sessions::mesh(workers).into_iter();
        let rotation = crate::tls::tickets::Rotation::start()?;
        let first_keys = Arc::new(rotation.keys()?);
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
            let lookups = lookups.clone();
            let shard_peers = peers.clone();
            let tls_start = worker::TlsStart {
                loaded: tls.clone(),
                mesh: meshes.next().ok_or("session mesh")?,
                keys: first_keys.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("ringway-shard-{id}"))
                .spawn(move || {
                    if let Some(core) = core {
                        core_affinity::set_for_current(core);
                    }
                    let dns = worker::Dns { resolved, lookups };
                    worker::run(id, cfg, dns, tls_start, rx, wake_rx, ready_tx, shard_peers);
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
                        tickets: None,
                    };
                    started.stop();
                    return Err(e);
                }
                Err(_) => return Err(format!("shard {id} died while starting")),
            }
        }
        inherit::close_unclaimed();
        let resolver = resolver::spawn(cfg, names, peers.clone());
        let tickets = tickets::spawn(rotation, tls.rotation_period(), peers.clone());
        Ok(Shards {
            peers,
            threads,
            resolver,
            tickets,
        })
    }

    /// Hands a new config, its hostnames already looked up, to every shard.
    pub fn reload(&self, cfg: Arc<Config>, lookups: Arc<Lookups>, tls: Arc<crate::tls::Loaded>) {
        info!("reloading configuration on {} shards", self.threads.len());
        if let Some(t) = &self.tickets {
            t.set_period(tls.rotation_period());
        }
        // The resolver thread looks up names new to the config, then hands both to the shards.
        if let Some(r) = &self.resolver
            && r.reload(cfg.clone(), lookups.clone(), tls.clone())
        {
            return;
        }
        self.peers
            .broadcast(|| Control::Reload(cfg.clone(), None, lookups.clone(), tls.clone()));
    }

    /// Hands every shard freshly opened access log files (`-s reopen`).
    pub fn reopen_logs(&self, fresh: crate::observe::files::Reopened) {
        let fresh = Arc::new(fresh);
        self.peers.broadcast(|| Control::ReopenLogs(fresh.clone()));
    }

    /// Tells every shard to stop (see [`Control::Stop`]) and returns at once. A fast stop sent
    /// after a graceful one cuts the drain short.
    pub fn begin_stop(&self, fast: bool) {
        if let Some(r) = &self.resolver {
            r.stop();
        }
        if let Some(t) = &self.tickets {
            t.stop();
        }
        // Shards not started (a failed start) never read their channel: their sends just fail.
        self.peers.broadcast(|| Control::Stop { fast });
    }

    /// Whether every shard thread has ended (after `begin_stop`).
    pub fn finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Waits for every shard thread to end.
    pub fn join(self) {
        for t in self.threads {
            if t.join().is_err() {
                error!("a shard thread panicked");
            }
        }
    }

    /// Graceful stop: returns when every shard has drained (or hit its drain timeout).
    pub fn stop(self) {
        self.begin_stop(false);
        self.join();
    }
}
