//! ringway's cache entry file (its own format, not nginx's binary one):
//!
//! ```text
//! fixed header  FIXED_LEN bytes, little-endian: magic, version, complete, flags, status, times,
//!               stale-* seconds, body_len; rewritten in place (`fixed_header`)
//! lengths       4 × u32: key, etag, vary, head; written once
//! key ‖ etag ‖ vary ‖ head ‖ body
//! ```
//!
//! An entry is written to a temporary file with `complete` = false and `body_len` = 0, the body
//! appended, then the fixed header rewritten with the real length and `complete` = true before
//! the rename into place. [`decode`] trusts nothing: any mismatch is [`DecodeError::Corrupt`]
//! (the runtime treats it as a miss and removes the file), never a panic, and it allocates
//! nothing.

use std::ops::Range;

/// The file's first bytes.
pub const MAGIC: [u8; 8] = *b"RWCACHE\0";
/// Bumped on any layout change: older files then read as corrupt (a miss), not misread.
pub const VERSION: u16 = 1;
/// The rewritable part of the header: everything [`fixed_header`] writes.
pub const FIXED_LEN: usize = 56;
/// The fixed header and the section lengths: what [`decode`] needs before anything else.
pub const HEADER_LEN: usize = FIXED_LEN + 16;
/// The most bytes before the body (header, key, ETag, vary, head). Larger lengths in a file are
/// corrupt, so a reader never buffers more than this; [`fits`] tells a writer beforehand.
pub const MAX_PREFIX_LEN: usize = 1 << 20;

const FLAG_LAST_MODIFIED: u8 = 1;

/// What the fixed header holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryMeta {
    /// Unix seconds the response was received (or last revalidated).
    pub created: i64,
    /// Unix seconds after which the entry is stale.
    pub valid_until: i64,
    /// The response's Last-Modified, for revalidation and If-Modified-Since.
    pub last_modified: Option<i64>,
    pub stale_while_revalidate: u32,
    pub stale_if_error: u32,
    pub status: u16,
    pub body_len: u64,
    /// Set only once the whole body is on disk; an entry without it is never served.
    pub complete: bool,
}

/// A decoded prefix: the sections as ranges into the bytes given to [`decode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub meta: EntryMeta,
    pub key: Range<usize>,
    pub etag: Range<usize>,
    pub vary: Range<usize>,
    pub head: Range<usize>,
    /// Where the body starts in the file.
    pub body_offset: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Read at least this many bytes from the file's start and decode again (never more than
    /// [`MAX_PREFIX_LEN`]).
    NeedMore(usize),
    /// Not an entry this ringway can serve; why, for the log.
    Corrupt(&'static str),
}

/// The rewritable header for `meta`: written at offset 0 once the body length is known, and to
/// refresh the times after a revalidation.
pub fn fixed_header(meta: &EntryMeta) -> [u8; FIXED_LEN] {
    let mut h = [0u8; FIXED_LEN];
    let mut w = Writer(&mut h[..]);
    w.put(&MAGIC);
    w.put(&VERSION.to_le_bytes());
    w.put(&[
        u8::from(meta.complete),
        if meta.last_modified.is_some() {
            FLAG_LAST_MODIFIED
        } else {
            0
        },
    ]);
    w.put(&meta.status.to_le_bytes());
    w.put(&[0, 0]);
    w.put(&meta.created.to_le_bytes());
    w.put(&meta.valid_until.to_le_bytes());
    w.put(&meta.last_modified.unwrap_or(0).to_le_bytes());
    w.put(&meta.stale_while_revalidate.to_le_bytes());
    w.put(&meta.stale_if_error.to_le_bytes());
    w.put(&meta.body_len.to_le_bytes());
    h
}

/// Whether sections of these sizes make an entry [`decode`] accepts (within
/// [`MAX_PREFIX_LEN`]). A writer checks before storing: a larger entry would only read back as
/// corrupt.
pub fn fits(key: &[u8], etag: &[u8], vary: &[u8], head: &[u8]) -> bool {
    prefix_len([key.len(), etag.len(), vary.len(), head.len()]).is_some()
}

/// Everything before the body: the header, the section lengths and the sections.
pub fn encode_prefix(
    meta: &EntryMeta,
    key: &[u8],
    etag: &[u8],
    vary: &[u8],
    head: &[u8],
) -> Vec<u8> {
    let sections = [key, etag, vary, head];
    let total = HEADER_LEN + sections.iter().map(|s| s.len()).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&fixed_header(meta));
    for s in sections {
        // Oversized sections (see `fits`) get a length that decodes as corrupt.
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
    }
    for s in sections {
        out.extend_from_slice(s);
    }
    out
}

/// Reads the prefix of an entry file of `file_len` bytes from `prefix` (the file's first bytes;
/// more than the prefix is fine).
pub fn decode(prefix: &[u8], file_len: u64) -> Result<Decoded, DecodeError> {
    use DecodeError::{Corrupt, NeedMore};
    if file_len < HEADER_LEN as u64 {
        return Err(Corrupt("shorter than an entry header"));
    }
    let mut r = Reader(prefix.get(..HEADER_LEN).ok_or(NeedMore(HEADER_LEN))?);
    if r.take::<8>() != MAGIC {
        return Err(Corrupt("not a ringway cache entry"));
    }
    if u16::from_le_bytes(r.take()) != VERSION {
        return Err(Corrupt("another entry format version"));
    }
    let [complete, flags] = r.take();
    match complete {
        1 => {}
        0 => return Err(Corrupt("incomplete entry")),
        _ => return Err(Corrupt("bad complete marker")),
    }
    let status = u16::from_le_bytes(r.take());
    if !(100..=999).contains(&status) {
        return Err(Corrupt("bad status"));
    }
    if flags & !FLAG_LAST_MODIFIED != 0 || r.take::<2>() != [0, 0] {
        return Err(Corrupt("reserved bits set"));
    }
    let created = i64::from_le_bytes(r.take());
    let valid_until = i64::from_le_bytes(r.take());
    let lm = i64::from_le_bytes(r.take());
    let last_modified = match (flags & FLAG_LAST_MODIFIED != 0, lm) {
        (true, t) => Some(t),
        (false, 0) => None,
        (false, _) => return Err(Corrupt("Last-Modified without its flag")),
    };
    let meta = EntryMeta {
        created,
        valid_until,
        last_modified,
        stale_while_revalidate: u32::from_le_bytes(r.take()),
        stale_if_error: u32::from_le_bytes(r.take()),
        status,
        body_len: u64::from_le_bytes(r.take()),
        complete: true,
    };
    let lens = [(); 4].map(|()| u32::from_le_bytes(r.take()) as usize);
    let body_offset = prefix_len(lens).ok_or(Corrupt("section lengths too large"))?;
    if (body_offset as u64).checked_add(meta.body_len) != Some(file_len) {
        return Err(Corrupt("file length does not match the header"));
    }
    if prefix.len() < body_offset {
        return Err(NeedMore(body_offset));
    }
    let [key, etag, vary, head] = ranges(lens);
    Ok(Decoded {
        meta,
        key,
        etag,
        vary,
        head,
        body_offset: body_offset as u64,
    })
}

/// The vary section: the names (as `policy::Storable::Yes::vary`), a line feed, and the
/// request's values (`policy::vary_values`), so a later request's variant can be computed and
/// compared.
pub fn encode_vary(names: &[u8], values: &[u8]) -> Vec<u8> {
    [names, b"\n", values].concat()
}

/// The names and values of a vary section; `None` for an empty section (no Vary) or one
/// without the separator.
pub fn split_vary(section: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = section.iter().position(|&b| b == b'\n')?;
    Some((section.get(..at)?, section.get(at + 1..)?))
}

/// The prefix length for these section lengths, if within [`MAX_PREFIX_LEN`].
fn prefix_len(lens: [usize; 4]) -> Option<usize> {
    let total = lens
        .iter()
        .try_fold(HEADER_LEN, |acc, &l| acc.checked_add(l))?;
    (total <= MAX_PREFIX_LEN).then_some(total)
}

/// The sections' ranges, back to back after the header (lengths already checked).
fn ranges(lens: [usize; 4]) -> [Range<usize>; 4] {
    let mut at = HEADER_LEN;
    lens.map(|l| {
        let r = at..at + l;
        at += l;
        r
    })
}

/// Reads fixed-size fields from a slice known to hold them all (else zeros: never a panic).
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some((head, rest)) = self.0.split_at_checked(N) {
            out.copy_from_slice(head);
            self.0 = rest;
        }
        out
    }
}

/// Writes fields into a slice sized for them all (extra bytes are dropped: never a panic).
struct Writer<'a>(&'a mut [u8]);

impl Writer<'_> {
    fn put(&mut self, b: &[u8]) {
        let buf = std::mem::take(&mut self.0);
        let n = b.len().min(buf.len());
        let (head, rest) = buf.split_at_mut(n);
        head.copy_from_slice(&b[..n]);
        self.0 = rest;
    }
}

mod head;
pub use head::strip_framing;

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
