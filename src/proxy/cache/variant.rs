//! Compressed variants on the request path (`crate::cache::coded` says what they are): a HIT
//! whose whole body is compressed is sent from the variant's file as it is (sendfile on a plain
//! connection, like an identity HIT, with its `Content-Length`) when one tied to the entry in
//! hand is stored; else the HIT compresses the entry's body (`compressed`) and stores the
//! output as that variant on the way, through the same temporary-file-and-rename fill as any
//! entry, so a client gone, a disk full or a failed encoder leaves nothing behind.
//!
//! Filled on the first compressed HIT, not on the MISS (docs/cache.md says why). Any number of
//! shards may fill the same variant at once: each writes a whole file and the last rename
//! wins; nothing is shared but the files.

use tracing::warn;

use super::super::compress_relay::Recode;
use super::super::request::Request;
use super::serve::{BodyAt, View, send};
use crate::cache::KeyHash;
use crate::cache::coded;
use crate::cache::entry::{self, EntryMeta};
use crate::cache::store::{Fill, Found, Lookup, open};
use crate::cache::zone::{ToKeeper, Zone};
use crate::net::Transport;

/// The stored `rc` variant of `e`, when there is one tied to `e` as it is now. A missing,
/// damaged or outdated one (the entry refilled or revalidated since, another level) is None:
/// the HIT compresses again and replaces it.
pub fn find(r: &Request<'_>, e: &View<'_>, rc: Recode) -> Option<Box<Found>> {
    let c = r.loc.cache.as_ref()?;
    let token = rc.coding.token();
    let at = coded::hash(&e.primary.hash, token);
    let Lookup::Found(v) = open(&c.zone, &at) else {
        return None;
    };
    if v.key() != e.key || !coded::is_tie(v.vary(), token, rc.level, &e.primary, e.meta) {
        return None;
    }
    c.zone.touch(at);
    Some(v)
}

/// Sends `head` and the variant's body as stored; the bytes written, None when the client or
/// the file failed.
pub async fn send_stored<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    head: Vec<u8>,
    v: Box<Found>,
) -> Option<u64> {
    let body = BodyAt::File {
        file: &v.file,
        offset: v.d.body_offset,
        start: v.body_in_hand(),
    };
    send(r, stream, head, &body, 0, v.body_len()).await
}

/// The head the compressing path built (chunked, or up to the close for HTTP/1.0), re-framed
/// for a body of `n` bytes: `Transfer-Encoding: chunked` (ringway's own line, after the status
/// line, never a value: values hold no CRLF) becomes `Content-Length`.
pub fn with_length(head: &mut Vec<u8>, n: u64) {
    if crate::http::h2_head::is_record(head) {
        return crate::http::h2_head::set_length(head, n);
    }
    const CHUNKED: &[u8] = b"\r\nTransfer-Encoding: chunked\r\n";
    if let Some(at) = head.windows(CHUNKED.len()).position(|w| w == CHUNKED) {
        head.drain(at + 2..at + CHUNKED.len());
    }
    // The head ends with its blank line: the field goes before it.
    if head.ends_with(b"\r\n\r\n") {
        head.truncate(head.len() - 2);
    }
    head.extend_from_slice(b"Content-Length: ");
    crate::http::util::push_u64(head, n);
    head.extend_from_slice(b"\r\n\r\n");
}

/// The `rc` variant of `e` being written by the HIT that compresses it.
pub struct VariantFill {
    fill: Fill,
    zone: std::sync::Arc<Zone>,
    hash: KeyHash,
}

/// Starts storing the `rc` variant of `e` (None when the location has no cache or the file
/// cannot be made: the HIT is compressed all the same).
pub fn start(r: &Request<'_>, e: &View<'_>, rc: Recode) -> Option<VariantFill> {
    let c = r.loc.cache.as_ref()?;
    let token = rc.coding.token();
    let hash = coded::hash(&e.primary.hash, token);
    let tie = coded::tie(token, rc.level, &e.primary, e.meta);
    if !entry::fits(e.key, b"", &tie, b"") {
        return None;
    }
    let meta = EntryMeta {
        body_len: 0,
        complete: false,
        ..*e.meta
    };
    match Fill::start(&c.zone, &hash, meta, e.key, b"", &tie, b"") {
        Ok(fill) => Some(VariantFill {
            fill,
            zone: c.zone.clone(),
            hash,
        }),
        Err(err) => {
            warn!(zone = %c.zone.name, "compressed cache variant not started: {err}");
            None
        }
    }
}

impl VariantFill {
    /// The next compressed bytes.
    pub fn data(&mut self, bytes: &[u8]) {
        self.fill.data(bytes);
    }

    /// The compressed body is complete: the variant becomes visible to every shard, and the
    /// keeper counts it (`max_size`, `inactive`, purge).
    pub fn complete(self) {
        let VariantFill { fill, zone, hash } = self;
        if let Some(size) = fill.finish() {
            zone.send(ToKeeper::Filled {
                hash,
                size,
                variant: true,
                unlock: hash,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_length;

    #[test]
    fn chunked_becomes_a_length() {
        let mut h = b"HTTP/1.1 200 OK\r\nX-A: Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nDate: x\r\n\r\n".to_vec();
        with_length(&mut h, 33159);
        assert_eq!(
            String::from_utf8(h).unwrap(),
            "HTTP/1.1 200 OK\r\nX-A: Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\nDate: x\r\nContent-Length: 33159\r\n\r\n"
        );
        // HTTP/1.0: up to the close before, now with its length.
        let mut h = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        with_length(&mut h, 7);
        assert_eq!(
            String::from_utf8(h).unwrap(),
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 7\r\n\r\n"
        );
    }
}
