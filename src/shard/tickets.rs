//! The thread that rotates ringway's own session ticket keys (servers without
//! `ssl_session_ticket_key` files) and hands each new set to every shard. The key sets live here,
//! off the shards, so they survive reloads: a reload changes certificates, never the keys that
//! open tickets clients already hold.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use tracing::error;

use super::{Control, Peers};
use crate::tls::tickets::Rotation;

enum Msg {
    Period(Duration),
    Stop,
}

pub struct Handle {
    tx: mpsc::Sender<Msg>,
}

impl Handle {
    pub fn set_period(&self, period: Duration) {
        let _ = self.tx.send(Msg::Period(period));
    }

    pub fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

pub fn spawn(mut rotation: Rotation, period: Duration, peers: Arc<Peers>) -> Option<Handle> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("ringway-tickets".into())
        .spawn(move || {
            let mut period = period;
            loop {
                match rx.recv_timeout(period) {
                    Ok(Msg::Period(p)) => period = p,
                    Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                    Err(RecvTimeoutError::Timeout) => {
                        match rotation.rotate().and_then(|()| rotation.keys()) {
                            Ok(keys) => {
                                let keys = Arc::new(keys);
                                peers.broadcast(|| Control::TicketKeys(keys.clone()));
                            }
                            Err(e) => error!("session ticket keys not rotated: {e}"),
                        }
                    }
                }
            }
        });
    match spawned {
        Ok(_) => Some(Handle { tx }),
        Err(e) => {
            error!("cannot start the ticket key thread: {e}; keys will not rotate");
            None
        }
    }
}
