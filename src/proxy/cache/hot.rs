//! A shard's memory copies of the small entries it served lately, so a hot object's HIT costs
//! one `fstat` instead of open, fstat, read and close. The file stays the truth: a copy is used
//! only while its file is the one it was read from (same inode, size and modification time,
//! still linked), so a purge, an eviction, a refill by another shard, a revalidation or a
//! damaged file is seen at the next request. A copy checks its file through a descriptor it
//! keeps open (a removed file, or one replaced by a rename, has no links left): no path walk,
//! which was half of a small HIT's `statx`. Descriptors come from a budget shared by every
//! shard (an eighth of the open-files limit, at most 4,096), taken and given back only when a
//! copy is made or dropped; past it a copy checks its path. A removed file's blocks stay
//! allocated while a copy holds it, which the copies' byte bound limits. Per shard, bounded;
//! nothing shared on a HIT.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustc_hash::FxHashMap;

use super::serve::{BodyAt, View};
use crate::cache::KeyHash;
use crate::cache::coded::Primary;
use crate::cache::entry::EntryMeta;
use crate::cache::key::entry_path;
use crate::cache::store::{Found, read_full_at};
use crate::cache::zone::Zone;

/// Bodies up to this size are kept.
const MAX_BODY: u64 = 64 * 1024;
/// What one shard keeps in all.
const MAX_BYTES: usize = 8 << 20;

#[derive(Default)]
pub struct Hot {
    map: RefCell<FxHashMap<KeyHash, Rc<HotEntry>>>,
    bytes: Cell<usize>,
}

/// Which file a copy was read from.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FileId {
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_ns: i64,
}

impl FileId {
    fn of(m: &std::fs::Metadata) -> FileId {
        FileId {
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_ns: m.mtime_nsec(),
        }
    }
}

/// Descriptors held by the copies of every shard.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// How many descriptors the copies may hold in all.
fn held_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let limit = usize::try_from(crate::shard::upgrade::open_file_limit()).unwrap_or(0);
        (limit / 8).min(4096)
    })
}

/// An entry's file held open, so its copy can check it without a path walk.
struct Held(File);

impl Held {
    /// A second descriptor of `f`, when the budget has room.
    fn of(f: &File) -> Option<Held> {
        if HELD.fetch_add(1, Ordering::Relaxed) >= held_budget() {
            HELD.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        match f.try_clone() {
            Ok(dup) => Some(Held(dup)),
            Err(_) => {
                HELD.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The file's identity now; None once it has no name left (removed, or replaced by a
    /// rename over it).
    fn current(&self) -> Option<FileId> {
        let m = self.0.metadata().ok()?;
        (m.nlink() > 0).then(|| FileId::of(&m))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        HELD.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct HotEntry {
    zone: usize,
    hash: KeyHash,
    key: Box<[u8]>,
    pub vary: Box<[u8]>,
    etag: Option<Box<[u8]>>,
    pub meta: EntryMeta,
    head: Box<[u8]>,
    body: Box<[u8]>,
    path: PathBuf,
    id: FileId,
    held: Option<Held>,
}

impl HotEntry {
    fn bytes(&self) -> usize {
        self.key.len() + self.vary.len() + self.head.len() + self.body.len() + 128
    }

    pub fn view(&self) -> View<'_> {
        View {
            key: &self.key,
            primary: Primary {
                hash: self.hash,
                ino: self.id.ino,
            },
            meta: &self.meta,
            etag: self.etag.as_deref(),
            head: &self.head,
            body: BodyAt::InHand(&self.body),
        }
    }
}

fn zone_id(z: &Zone) -> usize {
    z as *const Zone as usize
}

impl Hot {
    /// The copy of `key`'s entry, if this shard has one and its file has not changed.
    pub fn get(&self, zone: &Zone, hash: &KeyHash, key: &[u8]) -> Option<Rc<HotEntry>> {
        let e = self.map.borrow().get(hash)?.clone();
        if e.zone != zone_id(zone) || *e.key != *key {
            return None;
        }
        let now = match &e.held {
            Some(h) => h.current(),
            None => std::fs::metadata(&e.path).ok().map(|m| FileId::of(&m)),
        };
        if now != Some(e.id) {
            self.forget(hash);
            return None;
        }
        Some(e)
    }

    /// Keeps a copy of the entry `f`, found under `hash`, when it is small.
    pub fn keep(&self, zone: &Zone, hash: &KeyHash, f: &Found) {
        let len = f.body_len();
        if len > MAX_BODY {
            return;
        }
        let Ok(m) = f.file.metadata() else { return };
        let body: Box<[u8]> = match f.body_in_hand() {
            Some(b) => b.into(),
            None => {
                let mut b = vec![0u8; len as usize];
                match read_full_at(&f.file, &mut b, f.d.body_offset) {
                    Ok(n) if n as u64 == len => b.into(),
                    _ => return,
                }
            }
        };
        let e = Rc::new(HotEntry {
            zone: zone_id(zone),
            hash: *hash,
            key: f.key().into(),
            vary: f.vary().into(),
            etag: f.etag().map(Into::into),
            meta: *f.meta(),
            head: f.head().into(),
            body,
            path: entry_path(&zone.root, &zone.levels, hash),
            id: FileId::of(&m),
            held: Held::of(&f.file),
        });
        self.make_room(e.bytes());
        self.bytes.set(self.bytes.get() + e.bytes());
        if let Some(old) = self.map.borrow_mut().insert(*hash, e) {
            self.bytes.set(self.bytes.get() - old.bytes());
        }
    }

    pub fn forget(&self, hash: &KeyHash) {
        if let Some(old) = self.map.borrow_mut().remove(hash) {
            self.bytes.set(self.bytes.get() - old.bytes());
        }
    }

    /// Drops copies (in the map's order, which is arbitrary) until `more` bytes fit.
    fn make_room(&self, more: usize) {
        if self.bytes.get() + more <= MAX_BYTES {
            return;
        }
        let mut map = self.map.borrow_mut();
        let victims: Vec<KeyHash> = map.keys().take(map.len() / 8 + 1).copied().collect();
        for h in victims {
            if let Some(old) = map.remove(&h) {
                self.bytes.set(self.bytes.get() - old.bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_now(path: &std::path::Path) -> FileId {
        FileId::of(&std::fs::metadata(path).unwrap())
    }

    /// What a copy's check relies on: a held descriptor sees a rename over its file, a removal
    /// and a rewrite in place, as a check of the path does.
    #[test]
    fn a_held_file_sees_it_was_replaced_removed_or_rewritten() {
        let dir = std::env::temp_dir().join(format!("ringway-hot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("entry");
        let other = dir.join("entry.tmp");

        std::fs::write(&path, b"first").unwrap();
        let held = Held::of(&File::open(&path).unwrap()).unwrap();
        assert!(held.current() == Some(id_now(&path)), "unchanged");
        std::fs::write(&other, b"second").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(held.current().is_none(), "replaced by a rename");
        drop(held);

        let held = Held::of(&File::open(&path).unwrap()).unwrap();
        let before = held.current().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, b"THIRD!").unwrap();
        let after = held.current().unwrap();
        assert!(
            after == id_now(&path) && after != before,
            "rewritten in place"
        );

        std::fs::remove_file(&path).unwrap();
        assert!(held.current().is_none(), "removed");
        drop(held);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
