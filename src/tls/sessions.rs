//! `ssl_session_cache`: TLS 1.2 session IDs and TLS 1.3 stateful tickets (when tickets are off)
//! that resume on whatever shard the kernel hands the reconnecting client.
//!
//! Nothing is shared: each shard keeps its own copy of every session. A shard that stores a
//! session sends it to every other shard (a channel per shard); a shard asked for a session
//! first takes what its channel holds. A client can only resume after its first handshake has
//! finished, which is after the store and its sends: the copy is always there in time. The cost
//! is one message per full handshake per other shard, and each shard's memory holds every
//! session (bounded by the cache size, oldest dropped first).
//!
//! rustls wants a `Sync` store; each shard's store is touched by that shard only, so its
//! mutex is never contended.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use rustls::server::StoresServerSessions;

type Entry = (Arc<[u8]>, Arc<[u8]>);

/// One shard's end of the mesh: its inbox and every other shard's.
pub struct MeshEnd {
    inbox: Receiver<Entry>,
    peers: Vec<Sender<Entry>>,
}

/// `n` connected ends, one per shard.
pub fn mesh(n: usize) -> Vec<MeshEnd> {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| channel()).unzip();
    rxs.into_iter()
        .enumerate()
        .map(|(i, inbox)| MeshEnd {
            inbox,
            peers: txs
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, t)| t.clone())
                .collect(),
        })
        .collect()
}

struct Local {
    map: HashMap<Arc<[u8]>, Arc<[u8]>>,
    order: VecDeque<Arc<[u8]>>,
    cap: usize,
    inbox: Receiver<Entry>,
}

impl Local {
    fn insert(&mut self, key: Arc<[u8]>, value: Arc<[u8]>) {
        if self.cap == 0 {
            return;
        }
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        while self.map.len() > self.cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }

    fn take_inbox(&mut self) {
        while let Ok((k, v)) = self.inbox.try_recv() {
            self.insert(k, v);
        }
    }
}

/// One shard's session store.
pub struct ShardSessions {
    local: Mutex<Local>,
    peers: Vec<Sender<Entry>>,
}

impl fmt::Debug for ShardSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShardSessions")
    }
}

impl ShardSessions {
    /// `cap`: sessions kept (0: none stored, nginx's `ssl_session_cache none`).
    pub fn new(end: MeshEnd, cap: usize) -> ShardSessions {
        ShardSessions {
            local: Mutex::new(Local {
                map: HashMap::new(),
                order: VecDeque::new(),
                cap,
                inbox: end.inbox,
            }),
            peers: end.peers,
        }
    }

    /// A reload may change the size.
    pub fn set_capacity(&self, cap: usize) {
        if let Ok(mut l) = self.local.lock() {
            l.cap = cap;
            if cap == 0 {
                l.map.clear();
                l.order.clear();
            }
        }
    }
}

impl StoresServerSessions for ShardSessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let Ok(mut l) = self.local.lock() else {
            return false;
        };
        if l.cap == 0 {
            return false;
        }
        let (key, value): Entry = (key.into(), value.into());
        l.insert(key.clone(), value.clone());
        for p in &self.peers {
            // A peer that stopped simply misses it.
            let _ = p.send((key.clone(), value.clone()));
        }
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut l = self.local.lock().ok()?;
        l.take_inbox();
        l.map.get(key).map(|v| v.to_vec())
    }

    /// TLS 1.3 tickets are single use where they are taken; copies on other shards stay
    /// (resuming twice is harmless without early data, which needs tickets anyway).
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut l = self.local.lock().ok()?;
        l.take_inbox();
        l.map.remove(key).map(|v| v.to_vec())
    }

    fn can_cache(&self) -> bool {
        self.local.lock().map(|l| l.cap > 0).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_stored_on_one_shard_resumes_on_another() {
        let mut ends = mesh(3).into_iter();
        let a = ShardSessions::new(ends.next().unwrap(), 10);
        let b = ShardSessions::new(ends.next().unwrap(), 10);
        let c = ShardSessions::new(ends.next().unwrap(), 10);
        assert!(a.put(b"id1".to_vec(), b"state".to_vec()));
        assert_eq!(b.get(b"id1").unwrap(), b"state");
        assert_eq!(c.take(b"id1").unwrap(), b"state");
        assert!(c.get(b"id1").is_none(), "taken where it was used");
        assert_eq!(a.get(b"id1").unwrap(), b"state");
    }

    #[test]
    fn oldest_dropped_past_capacity_and_none_stores_nothing() {
        let mut ends = mesh(2).into_iter();
        let a = ShardSessions::new(ends.next().unwrap(), 2);
        let b = ShardSessions::new(ends.next().unwrap(), 0);
        for i in 0..3u8 {
            a.put(vec![i], vec![i]);
        }
        assert!(a.get(&[0]).is_none());
        assert!(a.get(&[2]).is_some());
        assert!(!b.put(vec![9], vec![9]));
        assert!(b.get(&[1]).is_none());
    }
}
