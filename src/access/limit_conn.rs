//! `limit_conn`: requests in progress per key (what nginx counts for HTTP/1), per shard. A
//! request holds a `ConnGuard` from the check until it is done; dropping it (on every path,
//! errors and upgraded tunnels included) releases the count.

use std::cell::RefCell;
use std::rc::Rc;

use super::log;
use super::table::Table;
use super::zones::{LocationLimits, Zones};
use crate::template::{Template, Vars};

/// nginx refuses `limit_conn` keys longer than this (and does not limit the request).
const MAX_KEY: usize = 255;
/// Counts held without allocating; a location with more `limit_conn`s spills to the heap.
const INLINE: usize = 4;

pub struct ConnZone {
    pub name: Box<str>,
    pub key_text: String,
    pub key: Template,
    /// Pins count the requests in progress per key.
    pub table: Rc<RefCell<Table<()>>>,
    /// Requests this shard refused for the zone (metrics; kept with the table).
    pub refused: Rc<std::cell::Cell<u64>>,
}

/// One `limit_conn ZONE N` line (N as configured; each shard applies its share).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnRule {
    pub zone: usize,
    pub max: u32,
}

type Held = (Rc<RefCell<Table<()>>>, u32);

/// The counts one request holds; released on drop.
#[derive(Default)]
pub struct ConnGuard {
    inline: [Option<Held>; INLINE],
    more: Vec<Held>,
}

impl ConnGuard {
    fn hold(&mut self, h: Held) {
        match self.inline.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(h),
            None => self.more.push(h),
        }
    }

    fn release_all(&mut self) {
        for (t, i) in self.inline.iter_mut().filter_map(Option::take) {
            t.borrow_mut().unpin(i);
        }
        for (t, i) in self.more.drain(..) {
            t.borrow_mut().unpin(i);
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        // Most requests hold nothing (no limit_conn): counts fill from the first slot.
        if self.inline[0].is_some() {
            self.release_all();
        }
    }
}

/// Counts the request in every `limit_conn` zone of the location. None: refused (answer with
/// `limit_conn_status`); nothing stays counted.
pub fn acquire(l: &LocationLimits, zones: &Zones, vars: &Vars<'_>) -> Option<ConnGuard> {
    let mut guard = ConnGuard::default();
    let mut key = zones.key.borrow_mut();
    for rule in l.conn.iter() {
        let Some(z) = zones.conn.get(rule.zone) else {
            continue;
        };
        key.clear();
        z.key.render(vars, &mut key);
        if key.is_empty() {
            continue;
        }
        if key.len() > MAX_KEY {
            tracing::error!(
                "the value of the \"{}\" key is more than {MAX_KEY} bytes: not limited",
                z.key_text
            );
            continue;
        }
        let mut t = z.table.borrow_mut();
        let entry = t.entry(&key);
        let refused = match entry {
            Some((i, _)) if t.pins(i) < zones.share.count(rule.max) => {
                t.pin(i);
                drop(t);
                guard.hold((z.table.clone(), i));
                continue;
            }
            Some(_) => true,
            // The zone is full of keys with requests in progress.
            None => false,
        };
        drop(t);
        if refused {
            log::event(
                l.conn_level,
                false,
                format_args!(
                    "limiting connections{} by zone \"{}\", client: {}",
                    if l.conn_dry_run { ", dry run" } else { "" },
                    z.name,
                    String::from_utf8_lossy(vars.remote_addr)
                ),
            );
        } else {
            tracing::error!("limit_conn zone \"{}\" is full", z.name);
        }
        guard.release_all();
        if !l.conn_dry_run {
            z.refused.set(z.refused.get() + 1);
        }
        return l.conn_dry_run.then_some(guard);
    }
    Some(guard)
}
