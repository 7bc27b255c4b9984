//! Entries on disk: finding one (`open`), writing one (`Fill`: a temporary file renamed into
//! place once complete, so no shard ever opens a partial entry), and refreshing one's times
//! after a revalidation (`refresh`). Plain blocking file calls: entries are read from and
//! written to the page cache, which costs microseconds, as nginx's workers do.
//!
//! An entry that cannot be read, is cut short, or was written by something else is a MISS.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;

use tracing::warn;

use super::entry::{self, DecodeError, Decoded, EntryMeta};
use super::key::{self, KeyHash};
use super::zone::Zone;

/// What the first read takes: the entry's head and, for small bodies, the body too.
const FIRST_READ: usize = 16 * 1024;
/// Past this body size the body goes by sendfile: the first read takes only the head.
const SMALL_BODY: u64 = 64 * 1024;
const HEAD_READ: usize = 4096;

/// An entry found on disk, its start read.
pub struct Found {
    pub file: File,
    /// The hash it was found under, and its file's inode (what a compressed variant is tied to:
    /// `coded`).
    pub hash: KeyHash,
    pub ino: u64,
    /// The file's first bytes: the prefix, and the body's start when it fit.
    pub bytes: Vec<u8>,
    pub d: Decoded,
    pub file_len: u64,
}

impl Found {
    pub fn meta(&self) -> &EntryMeta {
        &self.d.meta
    }

    fn part(&self, r: &std::ops::Range<usize>) -> &[u8] {
        self.bytes.get(r.clone()).unwrap_or(&[])
    }

    pub fn key(&self) -> &[u8] {
        self.part(&self.d.key)
    }

    pub fn etag(&self) -> Option<&[u8]> {
        Some(self.part(&self.d.etag)).filter(|e| !e.is_empty())
    }

    /// The Vary names and the request values the entry was stored for.
    pub fn vary(&self) -> &[u8] {
        self.part(&self.d.vary)
    }

    /// The stored response head (status line and fields, framing fields removed).
    pub fn head(&self) -> &[u8] {
        self.part(&self.d.head)
    }

    pub fn body_len(&self) -> u64 {
        self.d.meta.body_len
    }

    /// The body, when the first read held all of it.
    pub fn body_in_hand(&self) -> Option<&[u8]> {
        let start = usize::try_from(self.d.body_offset).ok()?;
        let end = start.checked_add(usize::try_from(self.body_len()).ok()?)?;
        self.bytes.get(start..end)
    }
}

pub enum Lookup {
    Found(Box<Found>),
    Missing,
}

/// Opens the entry stored under `hash`, if there is a readable one.
pub fn open(zone: &Zone, hash: &KeyHash) -> Lookup {
    let path = key::entry_path(&zone.root, &zone.levels, hash);
    match read_entry(&path, hash) {
        Ok(Some(f)) => Lookup::Found(Box::new(f)),
        Ok(None) => Lookup::Missing,
        Err(why) => {
            warn!(zone = %zone.name, "cache entry {} ignored: {why}", path.display());
            Lookup::Missing
        }
    }
}

fn read_entry(path: &std::path::Path, hash: &KeyHash) -> Result<Option<Found>, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let md = file.metadata().map_err(|e| e.to_string())?;
    let (file_len, ino) = (md.len(), md.ino());
    let first = if file_len > SMALL_BODY {
        HEAD_READ
    } else {
        FIRST_READ
    };
    let want = usize::try_from(file_len).unwrap_or(usize::MAX).min(first);
    let mut bytes = vec![0u8; want];
    let got = read_full_at(&file, &mut bytes, 0).map_err(|e| e.to_string())?;
    bytes.truncate(got);
    let d = match entry::decode(&bytes, file_len) {
        Ok(d) => d,
        Err(DecodeError::NeedMore(n)) if n <= entry::MAX_PREFIX_LEN => {
            bytes.resize(n, 0);
            let got = read_full_at(&file, &mut bytes, 0).map_err(|e| e.to_string())?;
            bytes.truncate(got);
            entry::decode(&bytes, file_len).map_err(|e| format!("{e:?}"))?
        }
        Err(e) => return Err(format!("{e:?}")),
    };
    Ok(Some(Found {
        file,
        hash: *hash,
        ino,
        bytes,
        d,
        file_len,
    }))
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
pub fn read_full_at(f: &File, buf: &mut [u8], mut at: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read_at(&mut buf[got..], at) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                at += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Rewrites a stored entry's fixed header (new times after a 304 from the origin).
pub fn refresh(zone: &Zone, hash: &KeyHash, meta: &EntryMeta) -> io::Result<()> {
    let path = key::entry_path(&zone.root, &zone.levels, hash);
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all_at(&entry::fixed_header(meta), 0)
}

/// An entry being written: body bytes arrive through `data`, `finish` makes it visible.
/// Dropped unfinished (the origin failed, the client went away, the disk filled), it leaves
/// nothing behind.
pub struct Fill {
    file: Option<io::BufWriter<File>>,
    temp: PathBuf,
    dest: PathBuf,
    meta: EntryMeta,
    prefix_len: u64,
    body: u64,
}

const WRITE_BUFFER: usize = 64 * 1024;

impl Fill {
    pub fn start(
        zone: &Zone,
        hash: &KeyHash,
        meta: EntryMeta,
        key: &[u8],
        etag: &[u8],
        vary: &[u8],
        head: &[u8],
    ) -> io::Result<Fill> {
        let temp = zone.temp_path();
        let dest = key::entry_path(&zone.root, &zone.levels, hash);
        let prefix = entry::encode_prefix(&meta, key, etag, vary, head);
        let file = match File::create(&temp) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The temporary folder was removed under us (an operator emptying the cache):
                // made again, once.
                if let Some(dir) = temp.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                File::create(&temp)?
            }
            other => other?,
        };
        let mut fill = Fill {
            file: Some(io::BufWriter::with_capacity(WRITE_BUFFER, file)),
            temp,
            dest,
            meta,
            prefix_len: prefix.len() as u64,
            body: 0,
        };
        fill.write(&prefix);
        if fill.file.is_none() {
            return Err(io::Error::other("cannot write the entry's head"));
        }
        Ok(fill)
    }

    /// Whether the fill still goes on (a write error ends it, the response goes on uncached).
    pub fn alive(&self) -> bool {
        self.file.is_some()
    }

    /// The next body bytes.
    pub fn data(&mut self, bytes: &[u8]) {
        self.body += bytes.len() as u64;
        self.write(bytes);
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(w) = &mut self.file
            && let Err(e) = w.write_all(bytes)
        {
            warn!("cache fill of {} abandoned: {e}", self.dest.display());
            self.file = None;
        }
    }

    /// Completes the entry, its body `self.body` bytes long; returns its size on disk.
    pub fn finish(mut self) -> Option<u64> {
        let w = self.file.take()?;
        self.meta.body_len = self.body;
        self.meta.complete = true;
        let done = (|| -> io::Result<()> {
            let f = w.into_inner().map_err(|e| e.into_error())?;
            f.write_all_at(&entry::fixed_header(&self.meta), 0)?;
            if let Some(dir) = self.dest.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::rename(&self.temp, &self.dest)
        })();
        match done {
            Ok(()) => Some(self.prefix_len + self.body),
            Err(e) => {
                warn!("cache entry {} not stored: {e}", self.dest.display());
                let _ = std::fs::remove_file(&self.temp);
                None
            }
        }
    }
}

impl Drop for Fill {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
