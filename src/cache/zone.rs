//! A cache zone at run time: its settings, read-only and shared by every shard, and the channel
//! to its keeper thread (`keeper`). A request reads entries straight from their files, so a HIT
//! sends no message; only a MISS that needs a fill lock or a use count asks the keeper, and hits
//! are reported to it in batches (for `inactive` and eviction order).
//!
//! Zones are made on first use by a config compile and kept for the life of the process
//! (`zone_for`), so a reload that keeps a zone keeps its keeper, its index and its locks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::key::KeyHash;
use crate::config::cache::CacheZone;

/// What a shard tells a zone's keeper.
pub enum ToKeeper {
    /// A request found no fresh entry. The keeper counts the use and answers with a
    /// [`Verdict`] on `reply`; when it says `Wait`, a later `Ready` or `Retry` follows there.
    Miss {
        hash: KeyHash,
        min_uses: u32,
        /// Only one request at a time may fetch this key (`proxy_cache_lock`, or an update that
        /// others answer from the stale entry meanwhile); `age` is `proxy_cache_lock_age`.
        exclusive: Option<Duration>,
        reply: flume::Sender<Verdict>,
    },
    /// An entry was written under `hash` (or refreshed by a revalidation): `size` bytes on
    /// disk. The lock on `unlock` (the key's own hash; `hash` differs for a Vary variant) ends,
    /// and its waiters look again.
    Filled {
        hash: KeyHash,
        size: u64,
        variant: bool,
        unlock: KeyHash,
    },
    /// A fill that held the lock ended without an entry.
    Unlock(KeyHash),
    /// Entries served since the last report.
    Touched(Vec<KeyHash>),
    /// `proxy_cache_purge`: one key's entries (with its Vary variants), or every key starting
    /// with `prefix`. The reply is the number of entries removed.
    Purge {
        key: Vec<u8>,
        prefix: bool,
        reply: flume::Sender<usize>,
    },
    /// A reload changed the zone's limits.
    Limits(Limits),
}

/// The keeper's answer to a `Miss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Fetch and store the response (holding the lock, when one was asked for).
    Fill,
    /// Fetch, but do not store: the key has not been asked for `min_uses` times yet.
    Pass,
    /// Another request is fetching this key: wait for `Ready` or `Retry`.
    Wait,
    /// The awaited fill stored the entry: look again.
    Ready,
    /// The awaited fill ended without an entry: ask again.
    Retry,
}

/// What the manager enforces; a reload may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_size: Option<u64>,
    pub min_free: Option<u64>,
    pub inactive: Duration,
    /// Most keys the index holds (`keys_zone` SIZE as nginx counts it).
    pub max_keys: usize,
    pub manager_files: usize,
    pub manager_sleep: Duration,
    pub manager_threshold: Duration,
    pub loader_files: usize,
    pub loader_sleep: Duration,
    pub loader_threshold: Duration,
}

pub struct Zone {
    pub name: String,
    pub root: PathBuf,
    pub levels: Vec<u8>,
    keeper: flume::Sender<ToKeeper>,
    /// Unique temporary file names across shards.
    temp_seq: AtomicU64,
}

/// nginx's count: one key node per 128 bytes of `keys_zone`, about 8,000 per megabyte.
const BYTES_PER_KEY: u64 = 128;

impl Limits {
    fn of(z: &CacheZone) -> Limits {
        Limits {
            max_size: z.max_size,
            min_free: z.min_free,
            inactive: z.inactive,
            max_keys: (z.keys_size / BYTES_PER_KEY).max(1) as usize,
            manager_files: (z.manager.files as usize).max(1),
            manager_sleep: z.manager.sleep,
            manager_threshold: z.manager.threshold,
            loader_files: (z.loader.files as usize).max(1),
            loader_sleep: z.loader.sleep,
            loader_threshold: z.loader.threshold,
        }
    }
}

impl Zone {
    pub fn send(&self, m: ToKeeper) {
        // The keeper outlives every zone handle; a send fails only while the process exits.
        let _ = self.keeper.send(m);
    }

    /// A temporary file name no other fill uses.
    pub fn temp_path(&self) -> PathBuf {
        let n = self.temp_seq.fetch_add(1, Ordering::Relaxed);
        super::key::temp_path(&self.root, u64::from(std::process::id()) << 40 | n)
    }

    /// Records that this shard served `hash`; reported to the keeper in batches.
    pub fn touch(self: &Arc<Zone>, hash: KeyHash) {
        TOUCHED.with(|t| {
            let mut t = t.borrow_mut();
            let now = Instant::now();
            let e = t
                .entry(Arc::as_ptr(self) as usize)
                .or_insert_with(|| (self.clone(), Vec::new(), now));
            e.1.push(hash);
            if e.1.len() >= TOUCH_BATCH || now.duration_since(e.2) >= TOUCH_EVERY {
                e.2 = now;
                let batch = std::mem::take(&mut e.1);
                e.0.send(ToKeeper::Touched(batch));
            }
        });
    }
}

const TOUCH_BATCH: usize = 256;
const TOUCH_EVERY: Duration = Duration::from_secs(1);

type TouchBatch = (Arc<Zone>, Vec<KeyHash>, Instant);

thread_local! {
    /// Per shard: hits not yet reported, by zone.
    static TOUCHED: RefCell<HashMap<usize, TouchBatch>> = RefCell::new(HashMap::new());
}

/// The zones made so far, by name and path. Only config compiles (start, reload) read or write
/// this; requests hold their zone's `Arc`.
static ZONES: Mutex<Vec<Arc<Zone>>> = Mutex::new(Vec::new());

/// The running zone for `z`: the same one across reloads while its name and path stay, else a
/// new one with its own keeper thread (which loads the index from disk in the background).
pub fn zone_for(z: &CacheZone) -> Result<Arc<Zone>, String> {
    let mut zones = ZONES
        .lock()
        .map_err(|_| "cache zone registry poisoned".to_string())?;
    let limits = Limits::of(z);
    if let Some(found) = zones.iter().find(|k| k.name == z.name && k.root == z.path) {
        if found.levels != z.levels {
            // nginx refuses this too: the entries on disk are laid out by the old levels.
            return Err(format!(
                "cache \"{}\" had previously different levels (a restart is needed)",
                z.name
            ));
        }
        found.send(ToKeeper::Limits(limits));
        return Ok(found.clone());
    }
    std::fs::create_dir_all(z.path.join(super::key::TEMP_DIR))
        .map_err(|e| format!("cache zone \"{}\": {}: {e}", z.name, z.path.display()))?;
    let (tx, rx) = flume::unbounded();
    let zone = Arc::new(Zone {
        name: z.name.clone(),
        root: z.path.clone(),
        levels: z.levels.clone(),
        keeper: tx,
        temp_seq: AtomicU64::new(0),
    });
    super::keeper::spawn(
        zone.root.clone(),
        zone.levels.clone(),
        &zone.name,
        limits,
        rx,
    )?;
    zones.push(zone.clone());
    Ok(zone)
}
