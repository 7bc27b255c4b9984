//! Compressed variants of an entry (`gzip`, `brotli`, `zstd` in a caching location): the body
//! of a HIT compressed once and stored as an entry file of its own, next to the entry it was
//! made from (the "primary"), so later HITs for clients accepting that coding send the file as
//! it is.
//!
//! - Where: under [`hash`], the MD5 of the primary's hash and the coding, in the zone's usual
//!   levels layout; the keeper derives it too, to drop a primary's variants with it.
//! - What: an ordinary entry file (same format, so the loader, the manager's `inactive` and
//!   `max_size`, and purge count it like any entry): the primary's key (purge by key finds it),
//!   the compressed body, and as its vary section a [`tie`] to the primary.
//! - The tie: the coding, the level, the primary's hash, its file's inode and its fixed header
//!   (times, status, body length). A variant is served only while its tie equals the one the
//!   primary in hand gives: a refill (new file), a revalidation (new times), an expiry (no HIT)
//!   or another `*_comp_level` all make it a miss, and the HIT compresses and stores it again.

use md5::{Digest, Md5};

use super::entry::{EntryMeta, fixed_header};
use super::key::KeyHash;

/// The `Content-Encoding` tokens a variant may hold (every coding `compress::Coding` makes).
pub const TOKENS: [&[u8]; 3] = [b"gzip", b"br", b"zstd"];

/// Starts every tie: no Vary record starts with a line feed (its names come first), so a tie is
/// never read as one.
const TIE_TAG: &[u8] = b"\ncontent-coding:";

/// The hash the `token` variant of the primary stored under `primary` lives under.
pub fn hash(primary: &KeyHash, token: &[u8]) -> KeyHash {
    let mut md5 = Md5::new();
    md5.update(primary.0);
    md5.update(TIE_TAG);
    md5.update(token);
    KeyHash(md5.finalize().into())
}

/// The primary entry a variant is made from, as a HIT found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Primary {
    pub hash: KeyHash,
    /// Its file's inode: a refill renames a new file into place.
    pub ino: u64,
}

/// The vary section of the `token` variant at `level` of `primary`, whose header says `meta`.
pub fn tie(token: &[u8], level: u32, primary: &Primary, meta: &EntryMeta) -> Vec<u8> {
    let header = fixed_header(meta);
    let mut out = Vec::with_capacity(TIE_TAG.len() + token.len() + 4 + 16 + 8 + header.len());
    out.extend_from_slice(TIE_TAG);
    out.extend_from_slice(token);
    out.extend_from_slice(&level.to_le_bytes());
    out.extend_from_slice(&primary.hash.0);
    out.extend_from_slice(&primary.ino.to_le_bytes());
    out.extend_from_slice(&header);
    out
}

/// Whether `section` (a variant's vary section) is the [`tie`] these give; compared in place,
/// as every compressed HIT asks.
pub fn is_tie(
    section: &[u8],
    token: &[u8],
    level: u32,
    primary: &Primary,
    meta: &EntryMeta,
) -> bool {
    let parts: [&[u8]; 6] = [
        TIE_TAG,
        token,
        &level.to_le_bytes(),
        &primary.hash.0,
        &primary.ino.to_le_bytes(),
        &fixed_header(meta),
    ];
    let mut rest = section;
    for part in parts {
        match rest.strip_prefix(part) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> EntryMeta {
        EntryMeta {
            created: 1_700_000_000,
            valid_until: 1_700_000_600,
            last_modified: None,
            stale_while_revalidate: 0,
            stale_if_error: 0,
            status: 200,
            body_len: 100_000,
            complete: true,
        }
    }

    #[test]
    fn each_coding_has_its_own_hash() {
        let p = KeyHash::of(b"http://a/x");
        let (g, b) = (hash(&p, b"gzip"), hash(&p, b"br"));
        assert_ne!(g, b);
        assert_ne!(g, p);
        assert_ne!(g, hash(&KeyHash::of(b"http://a/y"), b"gzip"));
        // Never a Vary variant's hash: those hash "name:value\r\n" lines after the main hash.
        assert_ne!(g, p.variant(b"content-coding:gzip"));
    }

    #[test]
    fn tie_changes_with_everything_it_ties() {
        let p = Primary {
            hash: KeyHash::of(b"k"),
            ino: 7,
        };
        let m = meta();
        let t = tie(b"gzip", 6, &p, &m);
        assert_eq!(t, tie(b"gzip", 6, &p, &m));
        assert!(is_tie(&t, b"gzip", 6, &p, &m));
        assert!(!is_tie(&t, b"br", 6, &p, &m));
        assert!(!is_tie(&t[..t.len() - 1], b"gzip", 6, &p, &m));
        assert!(!is_tie(&[&t[..], b"x"].concat(), b"gzip", 6, &p, &m));
        assert_ne!(t, tie(b"br", 6, &p, &m));
        assert_ne!(t, tie(b"gzip", 5, &p, &m));
        assert_ne!(t, tie(b"gzip", 6, &Primary { ino: 8, ..p }, &m));
        let refreshed = EntryMeta {
            valid_until: m.valid_until + 60,
            ..m
        };
        assert_ne!(t, tie(b"gzip", 6, &p, &refreshed));
        assert!(!is_tie(&t, b"gzip", 6, &p, &refreshed));
        let refilled = EntryMeta {
            body_len: 99_999,
            ..m
        };
        assert_ne!(t, tie(b"gzip", 6, &p, &refilled));
        // Read as a vary section, it has no names: never matched as a Vary record.
        assert_eq!(
            super::super::entry::split_vary(&t).map(|(n, _)| n),
            Some(&b""[..])
        );
    }
}
