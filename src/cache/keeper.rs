//! A zone's keeper: one thread per zone, off the shards, that holds what nginx keeps in the
//! zone's shared memory: the index of keys (size on disk, last use, use count), the fill locks,
//! and the manager's and loader's work. Shards reach it by message only on a MISS that needs a
//! lock or a use count, after a fill, and with batched hit reports; a HIT never waits for it.
//!
//! - Loader: at start, walks the zone's directory in batches of `loader_files` (pausing
//!   `loader_sleep` between them, answering messages meanwhile), so readiness never waits for it.
//! - Manager: every `manager_sleep` (at least once a second), removes entries not used for
//!   `inactive`, then the least recently used ones while the zone is over `max_size`, under
//!   `min_free`, or over its key count.
//! - Locks: the first `Miss` asking for one fills; the others wait for its `Filled` or `Unlock`.
//!   A lock older than `proxy_cache_lock_age` lets one more request fetch.

use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use tracing::{info, warn};

use super::coded;
use super::entry::{self, DecodeError};
use super::key::{self, KeyHash};
use super::walk::Walk;
use super::zone::{Limits, ToKeeper, Verdict};

/// One key the zone knows of.
struct Node {
    /// Bytes on disk (0: counted uses, nothing stored yet).
    size: u64,
    /// Milliseconds since the keeper started (eviction order among entries of one second).
    last_use: u64,
    uses: u32,
    /// A Vary variant's entry (found again by purge through its key).
    variant: bool,
}

struct Lock {
    since: Instant,
    waiters: Vec<flume::Sender<Verdict>>,
}

struct Keeper {
    root: PathBuf,
    levels: Vec<u8>,
    limits: Limits,
    index: FxHashMap<KeyHash, Node>,
    locks: FxHashMap<KeyHash, Lock>,
    /// Bytes on disk over the index.
    total: u64,
    born: Instant,
}

pub fn spawn(
    root: PathBuf,
    levels: Vec<u8>,
    name: &str,
    limits: Limits,
    rx: flume::Receiver<ToKeeper>,
) -> Result<(), String> {
    let mut k = Keeper {
        root,
        levels,
        limits,
        index: FxHashMap::default(),
        locks: FxHashMap::default(),
        total: 0,
        born: Instant::now(),
    };
    std::thread::Builder::new()
        .name(format!("ringway-cache-{name}"))
        .spawn(move || k.run(&rx))
        .map(|_| ())
        .map_err(|e| format!("cannot start the cache keeper thread: {e}"))
}

impl Keeper {
    fn run(&mut self, rx: &flume::Receiver<ToKeeper>) {
        self.clear_temp();
        let mut walk = Some(Walk::new(&self.root, self.levels.len()));
        let mut next_manage = Instant::now() + self.tick(false);
        loop {
            // While loading, a batch of files between message checks; then the manager's rhythm.
            let wait = if let Some(w) = &mut walk {
                if !self.load_some(w) {
                    walk = None;
                    info!(
                        entries = self.index.len(),
                        bytes = self.total,
                        "cache loaded from {}",
                        self.root.display()
                    );
                }
                self.limits.loader_sleep
            } else {
                next_manage.saturating_duration_since(Instant::now())
            };
            match rx.recv_timeout(wait) {
                Ok(m) => {
                    self.handle(m);
                    while let Ok(m) = rx.try_recv() {
                        self.handle(m);
                    }
                }
                Err(flume::RecvTimeoutError::Timeout) => {}
                Err(flume::RecvTimeoutError::Disconnected) => return,
            }
            if Instant::now() >= next_manage {
                let more = self.manage();
                next_manage = Instant::now() + self.tick(more);
            }
        }
    }

    /// The pause before the manager's next iteration: `manager_sleep` while work is left,
    /// else a second.
    fn tick(&self, more: bool) -> Duration {
        if more {
            self.limits.manager_sleep
        } else {
            Duration::from_secs(1)
        }
    }

    fn now(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    fn handle(&mut self, m: ToKeeper) {
        match m {
            ToKeeper::Miss {
                hash,
                min_uses,
                exclusive,
                reply,
            } => {
                let v = self.miss(hash, min_uses, exclusive, &reply);
                let _ = reply.send(v);
            }
            ToKeeper::Filled {
                hash,
                size,
                variant,
                unlock,
            } => {
                let now = self.now();
                let node = self.index.entry(hash).or_insert(Node {
                    size: 0,
                    last_use: now,
                    uses: 1,
                    variant,
                });
                self.total = self.total - node.size + size;
                node.size = size;
                node.last_use = now;
                self.release(unlock, Verdict::Ready);
            }
            ToKeeper::Unlock(hash) => self.release(hash, Verdict::Retry),
            ToKeeper::Touched(hashes) => {
                let now = self.now();
                for h in hashes {
                    if let Some(n) = self.index.get_mut(&h) {
                        n.last_use = now;
                    }
                }
            }
            ToKeeper::Purge { key, prefix, reply } => {
                let _ = reply.send(self.purge(&key, prefix));
            }
            ToKeeper::Limits(l) => self.limits = l,
        }
    }

    fn miss(
        &mut self,
        hash: KeyHash,
        min_uses: u32,
        exclusive: Option<Duration>,
        reply: &flume::Sender<Verdict>,
    ) -> Verdict {
        let now = self.now();
        let node = self.index.entry(hash).or_insert(Node {
            size: 0,
            last_use: now,
            uses: 0,
            variant: false,
        });
        node.uses = node.uses.saturating_add(1);
        node.last_use = now;
        if node.uses < min_uses {
            return Verdict::Pass;
        }
        let Some(age) = exclusive else {
            return Verdict::Fill;
        };
        match self.locks.entry(hash) {
            Entry::Vacant(v) => {
                v.insert(Lock {
                    since: Instant::now(),
                    waiters: Vec::new(),
                });
                Verdict::Fill
            }
            Entry::Occupied(mut o) => {
                let lock = o.get_mut();
                if lock.since.elapsed() >= age {
                    // proxy_cache_lock_age: the fill is taking too long; one more may go.
                    lock.since = Instant::now();
                    Verdict::Fill
                } else {
                    lock.waiters.push(reply.clone());
                    Verdict::Wait
                }
            }
        }
    }

    fn release(&mut self, hash: KeyHash, v: Verdict) {
        if let Some(lock) = self.locks.remove(&hash) {
            for w in lock.waiters {
                let _ = w.send(v);
            }
        }
    }

    /// Files left in the temporary directory by a process that stopped mid-fill.
    fn clear_temp(&self) {
        let dir = self.root.join(key::TEMP_DIR);
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// One loader iteration: up to `loader_files` files, or `loader_threshold` of time. False
    /// once the walk is over.
    fn load_some(&mut self, walk: &mut Walk) -> bool {
        let start = Instant::now();
        let mut n = 0;
        for path in walk.by_ref() {
            self.load(&path);
            n += 1;
            if n >= self.limits.loader_files || start.elapsed() >= self.limits.loader_threshold {
                return true;
            }
        }
        false
    }

    fn load(&mut self, path: &Path) {
        let now = self.now();
        {
            match read_prefix(path) {
                Some((hash, size, variant)) => {
                    if let Some(old) = self.index.insert(
                        hash,
                        Node {
                            size,
                            last_use: now,
                            uses: 1,
                            variant,
                        },
                    ) {
                        self.total -= old.size;
                    }
                    self.total += size;
                }
                None => {
                    // Not an entry ringway can read (corrupt, truncated, foreign): a request
                    // would treat it as a MISS; the loader clears it away.
                    warn!("cache: removing unreadable entry {}", path.display());
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }

    /// One manager iteration, nginx's way: removes entries past `inactive`, then the least
    /// recently used while over the limits, at most `manager_files` of them or for
    /// `manager_threshold`. Returns whether work is left (the next iteration comes after
    /// `manager_sleep` then, else after a second).
    fn manage(&mut self) -> bool {
        let start = Instant::now();
        let mut removed = 0usize;
        let spent = |removed: usize, limits: &Limits| {
            removed >= limits.manager_files || start.elapsed() >= limits.manager_threshold
        };
        let now = self.now();
        let inactive = self.limits.inactive.as_millis() as u64;
        let stale: Vec<KeyHash> = self
            .index
            .iter()
            .filter(|(h, n)| {
                now.saturating_sub(n.last_use) >= inactive && !self.locks.contains_key(h)
            })
            .map(|(h, _)| *h)
            .collect();
        for h in stale {
            if spent(removed, &self.limits) {
                return true;
            }
            self.remove(h);
            removed += 1;
        }
        if !self.over_limits() {
            return false;
        }
        let mut order: Vec<(u64, KeyHash)> = self
            .index
            .iter()
            .filter(|(h, _)| !self.locks.contains_key(h))
            .map(|(h, n)| (n.last_use, *h))
            .collect();
        order.sort_unstable_by_key(|(t, _)| *t);
        for (_, h) in order {
            if !self.over_limits() {
                return false;
            }
            if spent(removed, &self.limits) {
                return true;
            }
            self.remove(h);
            removed += 1;
        }
        self.over_limits()
    }

    fn over_limits(&self) -> bool {
        self.limits.max_size.is_some_and(|m| self.total > m)
            || self.index.len() > self.limits.max_keys
            || self
                .limits
                .min_free
                .is_some_and(|m| free_bytes(&self.root).is_some_and(|f| f < m))
    }

    /// Removes the entry under `h` and its compressed variants (`coded`), which serve no one
    /// without it.
    fn remove(&mut self, h: KeyHash) {
        self.remove_one(h);
        for token in coded::TOKENS {
            self.remove_one(coded::hash(&h, token));
        }
    }

    fn remove_one(&mut self, h: KeyHash) {
        if let Some(n) = self.index.remove(&h) {
            self.total -= n.size;
            if n.size > 0 {
                let _ = std::fs::remove_file(key::entry_path(&self.root, &self.levels, &h));
            }
        }
    }

    /// Removes the entries whose key is `key` (or starts with it): the key's own hash, and every
    /// stored entry whose file says it holds that key (Vary variants, compressed variants, and
    /// prefix matches).
    fn purge(&mut self, k: &[u8], prefix: bool) -> usize {
        let mut gone = 0;
        if !prefix {
            let h = KeyHash::of(k);
            if self.index.get(&h).is_some_and(|n| n.size > 0)
                || key::entry_path(&self.root, &self.levels, &h).exists()
            {
                gone += usize::from(
                    std::fs::remove_file(key::entry_path(&self.root, &self.levels, &h)).is_ok(),
                );
            }
            if let Some(n) = self.index.remove(&h) {
                self.total -= n.size;
            }
            // Its compressed variants, known or not yet (a fill not yet reported, the loader
            // not done): they are not counted as removed entries.
            for token in coded::TOKENS {
                let c = coded::hash(&h, token);
                let _ = std::fs::remove_file(key::entry_path(&self.root, &self.levels, &c));
                if let Some(n) = self.index.remove(&c) {
                    self.total -= n.size;
                }
            }
        }
        let candidates: Vec<KeyHash> = self
            .index
            .iter()
            .filter(|(_, n)| n.size > 0 && (prefix || n.variant))
            .map(|(h, _)| *h)
            .collect();
        for h in candidates {
            let path = key::entry_path(&self.root, &self.levels, &h);
            let Some(stored) = stored_key(&path) else {
                continue;
            };
            let hit = if prefix {
                stored.starts_with(k)
            } else {
                stored == k
            };
            if hit {
                gone += usize::from(std::fs::remove_file(&path).is_ok());
                if let Some(n) = self.index.remove(&h) {
                    self.total -= n.size;
                }
            }
        }
        gone
    }
}

/// How much of an entry's start is read to know it.
const PREFIX_READ: usize = 4096;

/// An entry file's hash (from its name), size, and whether it is a Vary variant; None when the
/// file is no entry ringway wrote or it is truncated.
fn read_prefix(path: &Path) -> Option<(KeyHash, u64, bool)> {
    let hash = KeyHash::from_hex(path.file_name()?.as_encoded_bytes())?;
    let (d, len) = decode_file(path)?;
    Some((hash, len, d.0))
}

fn stored_key(path: &Path) -> Option<Vec<u8>> {
    decode_file(path).map(|(d, _)| d.1)
}

/// (variant, key) of the entry at `path`, and the file's length.
fn decode_file(path: &Path) -> Option<((bool, Vec<u8>), u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut buf = vec![0u8; PREFIX_READ];
    let mut got = 0;
    loop {
        let n = f.read(&mut buf[got..]).ok()?;
        got += n;
        if n == 0 || got == buf.len() {
            break;
        }
    }
    buf.truncate(got);
    let d = match entry::decode(&buf, len) {
        Ok(d) => d,
        Err(DecodeError::NeedMore(n)) if n <= entry::MAX_PREFIX_LEN => {
            buf.resize(n, 0);
            let mut f = std::fs::File::open(path).ok()?;
            f.read_exact(&mut buf).ok()?;
            entry::decode(&buf, len).ok()?
        }
        Err(_) => return None,
    };
    let variant = !buf.get(d.vary.clone())?.is_empty();
    Some(((variant, buf.get(d.key.clone())?.to_vec()), len))
}

fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `s` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some(s.f_bavail as u64 * s.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keeper(root: &Path) -> Keeper {
        let limits = Limits {
            max_size: None,
            min_free: None,
            inactive: Duration::from_secs(600),
            max_keys: 1000,
            manager_files: 100,
            manager_sleep: Duration::from_millis(50),
            manager_threshold: Duration::from_millis(200),
            loader_files: 100,
            loader_sleep: Duration::from_millis(50),
            loader_threshold: Duration::from_millis(200),
        };
        Keeper {
            root: root.to_path_buf(),
            levels: vec![1, 2],
            limits,
            index: FxHashMap::default(),
            locks: FxHashMap::default(),
            total: 0,
            born: Instant::now(),
        }
    }

    /// A file under `h` (its bytes do not matter here), indexed with `size`.
    fn put(k: &mut Keeper, h: KeyHash, size: u64, indexed: bool) -> PathBuf {
        let path = key::entry_path(&k.root, &k.levels, &h);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, vec![0u8; size as usize]).unwrap();
        if indexed {
            k.index.insert(
                h,
                Node {
                    size,
                    last_use: 0,
                    uses: 1,
                    variant: false,
                },
            );
            k.total += size;
        }
        path
    }

    fn temp_root(tag: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "ringway-keeper-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        root
    }

    #[test]
    fn removing_an_entry_removes_its_compressed_variants() {
        let root = temp_root("remove");
        let mut k = keeper(&root);
        let h = KeyHash::of(b"http://a/x");
        let other = KeyHash::of(b"http://a/y");
        let files = [
            put(&mut k, h, 100, true),
            put(&mut k, coded::hash(&h, b"gzip"), 30, true),
            put(&mut k, coded::hash(&h, b"br"), 25, true),
        ];
        let kept = put(&mut k, other, 10, true);
        // Eviction (LRU, inactive) removes the entry by its hash.
        k.remove(h);
        assert!(files.iter().all(|f| !f.exists()));
        assert!(kept.exists());
        assert_eq!((k.index.len(), k.total), (1, 10));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn purging_a_key_removes_variants_not_yet_indexed() {
        let root = temp_root("purge");
        let mut k = keeper(&root);
        let h = KeyHash::of(b"http://a/x");
        let entry = put(&mut k, h, 100, true);
        // A variant whose `Filled` the keeper has not had yet: on disk, not in the index.
        let gz = put(&mut k, coded::hash(&h, b"gzip"), 30, false);
        assert_eq!(k.purge(b"http://a/x", false), 1);
        assert!(!entry.exists() && !gz.exists());
        assert_eq!((k.index.len(), k.total), (0, 0));
        let _ = std::fs::remove_dir_all(&root);
    }
}
