//! Shards: one OS thread per core, pinned, each with its own monoio runtime (io_uring, or the
//! epoll driver where io_uring is unavailable), its own SO_REUSEPORT listeners and its own copy
//! of the compiled config. The main thread only relays signals as messages: stop and reload.

mod listener;
mod worker;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tracing::{error, info};

use crate::config::Config;

/// A message from the main thread; rare by design (never per request).
pub enum Control {
    /// Stop accepting, finish in-flight requests, close idle connections, exit.
    Stop,
    /// Switch to this config for new requests.
    Reload(Arc<Config>),
}

struct ShardHandle {
    tx: mpsc::Sender<Control>,
    wake: UnixStream,
    thread: JoinHandle<()>,
}

pub struct Shards {
    shards: Vec<ShardHandle>,
}

impl Shards {
    /// Starts `workers` shards on `cfg`. Listeners are bound before this returns, so an address
    /// already in use is reported here.
    pub fn start(cfg: Arc<Config>, workers: usize) -> Result<Shards, String> {
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let mut shards = Vec::with_capacity(workers);
        for id in 0..workers {
            let (tx, rx) = mpsc::channel();
            let (wake, wake_rx) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
            let (ready_tx, ready_rx) = mpsc::channel();
            let core = cores.get(id % cores.len().max(1)).copied();
            let cfg = cfg.clone();
            let thread = std::thread::Builder::new()
                .name(format!("ringway-shard-{id}"))
                .spawn(move || {
                    if let Some(core) = core {
                        core_affinity::set_for_current(core);
                    }
                    worker::run(id, cfg, rx, wake_rx, ready_tx);
                })
                .map_err(|e| format!("cannot start shard thread: {e}"))?;
            // Each shard reports whether its listeners bound and its config compiled.
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    let _ = thread.join();
                    let started = Shards { shards };
                    started.stop();
                    return Err(e);
                }
                Err(_) => return Err(format!("shard {id} died while starting")),
            }
            shards.push(ShardHandle { tx, wake, thread });
        }
        Ok(Shards { shards })
    }

    fn send(&self, make: impl Fn() -> Control) {
        for s in &self.shards {
            if s.tx.send(make()).is_ok() {
                let _ = (&s.wake).write_all(b"!");
            }
        }
    }

    pub fn reload(&self, cfg: Arc<Config>) {
        info!("reloading configuration on {} shards", self.shards.len());
        self.send(|| Control::Reload(cfg.clone()));
    }

    /// Graceful stop: returns when every shard has drained (or hit its drain timeout).
    pub fn stop(self) {
        self.send(|| Control::Stop);
        for s in self.shards {
            if s.thread.join().is_err() {
                error!("a shard thread panicked");
            }
        }
    }
}
