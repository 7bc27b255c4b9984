//! One shard's counters by name. A new config generation (start, reload, new DNS answers) is
//! `adopt`ed: its locations, upstream servers and listeners get the counters already kept for
//! their names, new names get fresh ones, and names the generation dropped are forgotten (the
//! scrape no longer shows them; an old generation still serving requests counts into counters
//! nobody reads any more).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;

use super::counters::{ListenerStats, LocStats, UpstreamStats};
use crate::proxy::Generation;

#[derive(Default)]
pub struct Registry {
    /// (server name, location name).
    pub locations: RefCell<BTreeMap<(String, String), Rc<LocStats>>>,
    /// (group name, server address).
    pub upstreams: RefCell<BTreeMap<(String, SocketAddr), Rc<UpstreamStats>>>,
    pub listeners: RefCell<BTreeMap<SocketAddr, Rc<ListenerStats>>>,
}

/// Takes the entry for `key` from `old` (kept counters) or makes a fresh one, into `new`.
fn keep<K: Ord + Clone, T: Default>(
    old: &mut BTreeMap<K, Rc<T>>,
    new: &mut BTreeMap<K, Rc<T>>,
    key: K,
) -> Rc<T> {
    if let Some(s) = new.get(&key) {
        return s.clone();
    }
    let s = old.remove(&key).unwrap_or_default();
    new.insert(key, s.clone());
    s
}

impl Registry {
    /// Attaches counters to everything `g` counts in.
    pub fn adopt(&self, g: &Generation) {
        let mut old_locs = std::mem::take(&mut *self.locations.borrow_mut());
        let mut locs = BTreeMap::new();
        let mut old_lst = std::mem::take(&mut *self.listeners.borrow_mut());
        let mut lst = BTreeMap::new();
        for l in &g.listeners {
            keep(&mut old_lst, &mut lst, l.addr);
            for server in l.hosts.servers() {
                let name = String::from_utf8_lossy(&server.name).into_owned();
                for loc in server.locations.all() {
                    loc.stats.attach(|| {
                        keep(&mut old_locs, &mut locs, (name.clone(), loc.name.clone()))
                    });
                }
            }
        }
        *self.locations.borrow_mut() = locs;
        *self.listeners.borrow_mut() = lst;
        let mut old_up = std::mem::take(&mut *self.upstreams.borrow_mut());
        let mut up = BTreeMap::new();
        for group in &g.upstreams {
            for s in &group.servers {
                s.stats
                    .attach(|| keep(&mut old_up, &mut up, (group.name.clone(), s.addr)));
            }
        }
        *self.upstreams.borrow_mut() = up;
    }

    pub fn listener(&self, addr: SocketAddr) -> Option<Rc<ListenerStats>> {
        self.listeners.borrow().get(&addr).cloned()
    }
}
