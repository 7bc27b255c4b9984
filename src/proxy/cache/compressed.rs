//! A cache HIT the location compresses, with no stored variant for it (`variant`): the entry
//! holds the identity body (what the upstream sent), so it is compressed on the way out, read
//! from memory or the entry's file in pieces, and the output, when the whole body is sent,
//! stored as the variant the next HITs send as it is.

use super::super::compress_relay::{Recode, frame};
use super::super::request::Request;
use super::serve::BodyAt;
use super::variant::VariantFill;
use crate::cache::store::read_full_at;
use crate::compress::Encoder;
use crate::http::chunked::LAST_CHUNK;
use crate::net::Transport;
use crate::net::io::write_all;

/// Uncompressed bytes taken per step.
const PIECE: usize = 64 * 1024;
/// Compressed bytes gathered before a write.
const WRITE_AT: usize = 16 * 1024;

/// Writes `head` and `n` body bytes from `from`, compressed as `rc` says, the compressed bytes
/// also to `fill`; the bytes written, or None when the client or the file failed (the
/// connection must close; the fill, dropped, leaves nothing).
#[allow(clippy::too_many_arguments)]
pub async fn send_compressed<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    head: Vec<u8>,
    body: &BodyAt<'_>,
    from: u64,
    n: u64,
    rc: Recode,
    mut fill: Option<VariantFill>,
) -> Option<u64> {
    let t = r.loc.client_send_timeout;
    let mut enc = Encoder::new(rc.coding, rc.level, Some(n)).ok()?;
    let mut wire = head;
    let mut out = Vec::with_capacity(WRITE_AT);
    let mut piece = r.ctx.bufs.get();
    let mut sent = 0u64;
    let (mut at, mut left) = (from, n);
    while left > 0 {
        let want = left.min(PIECE as u64) as usize;
        let bytes: &[u8] = match body {
            BodyAt::InHand(all) => {
                let s = usize::try_from(at).ok()?;
                all.get(s..s.checked_add(want)?)?
            }
            BodyAt::File { file, offset, .. } => {
                piece.clear();
                piece.resize(want, 0);
                if read_full_at(file, &mut piece, offset + at).ok()? != want {
                    return None;
                }
                &piece
            }
        };
        enc.write(bytes, &mut out).ok()?;
        if let Some(f) = &mut fill {
            f.data(&out);
        }
        at += want as u64;
        left -= want as u64;
        frame(&mut out, &mut wire, rc.chunked);
        if wire.len() >= WRITE_AT {
            sent += wire.len() as u64;
            wire = write_all(stream, wire, t).await.ok()?;
            wire.clear();
        }
    }
    r.ctx.bufs.put(piece);
    enc.finish(&mut out).ok()?;
    if let Some(mut f) = fill {
        f.data(&out);
        f.complete();
    }
    frame(&mut out, &mut wire, rc.chunked);
    if rc.chunked {
        wire.extend_from_slice(LAST_CHUNK);
    }
    sent += wire.len() as u64;
    let wire = write_all(stream, wire, t).await.ok()?;
    r.ctx.bufs.put(wire);
    Some(sent)
}
