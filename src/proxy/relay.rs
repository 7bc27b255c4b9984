//! Body relays, both ways: a known length, chunked (decoded, and re-encoded or not), or up to
//! the end of the stream. A known-length remainder at or above `SPLICE_MIN` moves socket → pipe
//! → socket with splice when both transports allow it (plain TCP), never entering user space;
//! the rest is copied through pooled buffers.

use std::time::Duration;

use super::context::ShardCtx;
use super::response::{Body, Plan};
use crate::http::ChunkedDecoder;
use crate::http::chunked::{LAST_CHUNK, write_chunk_header};
use crate::http::{Decoded, ParseError};
use crate::net::Transport;
use crate::net::io::{ReadErr, WriteErr, read_into, write_all, write_range, write_two};

/// Remaining body length from which splice beats copying (measured: see loadtest/README.md).
/// `RINGWAY_SPLICE_MIN` overrides it at start, for measuring the crossover on other hosts.
pub const SPLICE_MIN: u64 = 32 * 1024;

/// The threshold in force: `RINGWAY_SPLICE_MIN` (bytes; 0 = always splice), else `SPLICE_MIN`.
pub fn splice_min_from_env() -> u64 {
    std::env::var("RINGWAY_SPLICE_MIN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SPLICE_MIN)
}

/// Why a relay stopped early; the side matters for what the client is told.
#[derive(Debug)]
pub enum Fail {
    /// The source closed before the body was complete.
    SrcEof,
    SrcIo,
    SrcTimeout,
    DstIo,
    DstTimeout,
    /// Bad chunked framing from the source.
    Malformed(ParseError),
    /// A chunked request body went past `client_max_body_size`.
    TooLarge,
}

fn src_err(e: ReadErr) -> Fail {
    match e {
        ReadErr::Timeout => Fail::SrcTimeout,
        ReadErr::Io(_) => Fail::SrcIo,
    }
}

fn dst_err(e: WriteErr) -> Fail {
    match e {
        WriteErr::Timeout => Fail::DstTimeout,
        WriteErr::Io => Fail::DstIo,
    }
}

pub struct Timeouts {
    pub read: Duration,
    pub write: Duration,
}

/// Bodies up to this size ride in the same write as their head (both ways).
pub const INLINE_BODY: usize = 16 * 1024;

/// Sees a response body's bytes as they pass, decoded (a cache fill). The relay never splices
/// a body something taps.
pub trait Tap {
    fn data(&mut self, bytes: &[u8]);
    fn wants(&self) -> bool;
}

/// No tap: the relay may splice.
pub struct NoTap;

impl Tap for NoTap {
    fn data(&mut self, _: &[u8]) {}
    fn wants(&self) -> bool {
        false
    }
}

/// A response body relayed in full.
pub struct Relayed {
    /// Bytes written to the client, head included.
    pub sent: u64,
    /// The upstream connection is exactly at the end of the response: no stray bytes read,
    /// nothing left unread. (Whether it may be kept is also the response's and request's say.)
    pub upstream_clean: bool,
}

/// Sends the client its response head (`plan`) and relays the body from `up` as the plan says.
/// `ub` holds the upstream's head (`head_len` bytes) and whatever of the body came with it.
#[allow(clippy::too_many_arguments)]
pub async fn response_body<S: Transport, U: Transport>(
    ctx: &ShardCtx,
    client: &mut S,
    up: &mut U,
    plan: Plan,
    ub: Vec<u8>,
    head_len: usize,
    t: &Timeouts,
    tap: &mut impl Tap,
) -> Result<Relayed, Fail> {
    let mut hb = plan.head;
    let head_bytes = hb.len() as u64;
    let avail = ub.len() - head_len;
    // The whole response in this first write, and the connection closes after it.
    let whole_now = match plan.body {
        Body::None => true,
        Body::Length(n) => n <= avail as u64 && (n as usize) <= INLINE_BODY,
        _ => false,
    };
    if whole_now && !plan.keep_client {
        client.closes_after_next_write();
    }
    match plan.body {
        Body::None => {
            let hb = write_all(client, hb, t.write).await.map_err(dst_err)?;
            ctx.bufs.put(hb);
            ctx.bufs.put(ub);
            Ok(Relayed {
                sent: head_bytes,
                upstream_clean: avail == 0,
            })
        }
        Body::Length(n) => {
            let now = (n.min(avail as u64)) as usize;
            let body_at = head_len..head_len + now;
            tap.data(&ub[body_at.clone()]);
            let (hb, ub) = if now <= INLINE_BODY {
                hb.extend_from_slice(&ub[body_at]);
                (write_all(client, hb, t.write).await.map_err(dst_err)?, ub)
            } else {
                write_two(client, hb, ub, body_at.start, body_at.end, t.write)
                    .await
                    .map_err(dst_err)?
            };
            ctx.bufs.put(hb);
            ctx.bufs.put(ub);
            let stray = relay_exact(ctx, up, client, n - now as u64, plan.splice, t, tap).await?;
            Ok(Relayed {
                sent: head_bytes + n,
                upstream_clean: avail as u64 <= n && stray.is_none(),
            })
        }
        Body::Chunked { reencode } => {
            let hb = write_all(client, hb, t.write).await.map_err(dst_err)?;
            ctx.bufs.put(hb);
            let (rest, written) =
                relay_chunked(up, client, ub, head_len, reencode, 0, t, tap).await?;
            let clean = rest.is_empty();
            ctx.bufs.put(rest);
            Ok(Relayed {
                sent: head_bytes + written,
                upstream_clean: clean,
            })
        }
        Body::ToEof { chunked } => {
            tap.data(&ub[head_len..]);
            if avail > 0 {
                if chunked {
                    crate::http::chunked::write_chunk_header(avail, &mut hb);
                    hb.extend_from_slice(&ub[head_len..]);
                    hb.extend_from_slice(b"\r\n");
                } else {
                    hb.extend_from_slice(&ub[head_len..]);
                }
            }
            ctx.bufs.put(ub);
            let first = hb.len() as u64;
            let hb = write_all(client, hb, t.write).await.map_err(dst_err)?;
            ctx.bufs.put(hb);
            let written = relay_to_eof(ctx, up, client, chunked, t, tap).await?;
            Ok(Relayed {
                sent: first + written,
                upstream_clean: false,
            })
        }
    }
}

/// Moves exactly `n` bytes from `src` to `dst`, by splice when `splice` allows it and the
/// remainder is long enough. Bytes read past them (the start of a pipelined request, or stray
/// bytes of an upstream out of step) come back, never dropped.
pub async fn relay_exact<S: Transport, D: Transport>(
    ctx: &ShardCtx,
    src: &mut S,
    dst: &mut D,
    n: u64,
    splice: bool,
    t: &Timeouts,
    tap: &mut impl Tap,
) -> Result<Option<Vec<u8>>, Fail> {
    if n == 0 {
        return Ok(None);
    }
    if splice
        && !tap.wants()
        && n >= ctx.splice_min
        && src.splice_fd().is_some()
        && dst.splice_fd().is_some()
    {
        return splice_exact(&ctx.pipes, src, dst, n, t)
            .await
            .map(|()| None);
    }
    let mut buf = ctx.bufs.get();
    let mut left = n;
    while left > 0 {
        buf.clear();
        let (got, b) = read_into(src, buf, t.read).await.map_err(src_err)?;
        if got == 0 {
            return Err(Fail::SrcEof);
        }
        let take = (got as u64).min(left) as usize;
        tap.data(&b[..take]);
        buf = write_range(dst, b, 0, take, t.write)
            .await
            .map_err(dst_err)?;
        left -= take as u64;
        if take < got {
            buf.drain(..take);
            return Ok(Some(buf));
        }
    }
    ctx.bufs.put(buf);
    Ok(None)
}

async fn splice_exact<S: Transport, D: Transport>(
    pipes: &crate::net::splice::PipePool,
    src: &mut S,
    dst: &mut D,
    n: u64,
    t: &Timeouts,
) -> Result<(), Fail> {
    use crate::net::splice::SpliceErr;
    crate::net::splice::relay_exact(pipes, src, dst, n, t.read, t.write)
        .await
        .map_err(|e| match e {
            SpliceErr::SrcEof => Fail::SrcEof,
            SpliceErr::Src => Fail::SrcIo,
            SpliceErr::SrcTimeout => Fail::SrcTimeout,
            SpliceErr::Dst => Fail::DstIo,
            SpliceErr::DstTimeout => Fail::DstTimeout,
        })
}

/// Relays until `src` closes. With `chunked`, each read becomes one chunk and the body is ended
/// with the last chunk (a close-delimited upstream body to a kept-alive HTTP/1.1 client).
/// Returns the bytes written.
pub async fn relay_to_eof<S: Transport, D: Transport>(
    ctx: &ShardCtx,
    src: &mut S,
    dst: &mut D,
    chunked: bool,
    t: &Timeouts,
    tap: &mut impl Tap,
) -> Result<u64, Fail> {
    let mut written = 0u64;
    let mut buf = ctx.bufs.get();
    let mut out = Vec::new();
    loop {
        buf.clear();
        let (got, b) = read_into(src, buf, t.read).await.map_err(src_err)?;
        buf = b;
        if got == 0 {
            break;
        }
        tap.data(&buf[..got]);
        if chunked {
            out.clear();
            write_chunk_header(got, &mut out);
            out.extend_from_slice(&buf[..got]);
            out.extend_from_slice(b"\r\n");
            written += out.len() as u64;
            out = write_all(dst, out, t.write).await.map_err(dst_err)?;
        } else {
            written += got as u64;
            buf = write_range(dst, buf, 0, got, t.write)
                .await
                .map_err(dst_err)?;
        }
    }
    if chunked {
        written += LAST_CHUNK.len() as u64;
        write_all(dst, LAST_CHUNK.to_vec(), t.write)
            .await
            .map_err(dst_err)?;
    }
    ctx.bufs.put(buf);
    Ok(written)
}

/// Decodes a chunked body that starts at `buf[start..]`, reading the rest from `src`, and writes
/// it to `dst` re-encoded as chunked (`reencode`) or as plain bytes. Returns the buffer holding
/// only what followed the body (a pipelined request), and the bytes written.
#[allow(clippy::too_many_arguments)]
pub async fn relay_chunked<S: Transport, D: Transport>(
    src: &mut S,
    dst: &mut D,
    mut buf: Vec<u8>,
    start: usize,
    reencode: bool,
    max_size: u64,
    t: &Timeouts,
    tap: &mut impl Tap,
) -> Result<(Vec<u8>, u64), Fail> {
    let mut dec = ChunkedDecoder::default();
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut pos = start;
    let mut total: u64 = 0;
    let mut written: u64 = 0;
    loop {
        // Decode everything in hand.
        let mut done = false;
        while pos < buf.len() {
            let (used, what) = dec.decode(&buf[pos..]).map_err(Fail::Malformed)?;
            match what {
                Decoded::Data { start: s, end: e } => {
                    total += (e - s) as u64;
                    if max_size > 0 && total > max_size {
                        return Err(Fail::TooLarge);
                    }
                    tap.data(&buf[pos + s..pos + e]);
                    if reencode {
                        write_chunk_header(e - s, &mut out);
                    }
                    out.extend_from_slice(&buf[pos + s..pos + e]);
                    if reencode {
                        out.extend_from_slice(b"\r\n");
                    }
                }
                Decoded::NeedMore => {}
                Decoded::Done => done = true,
            }
            pos += used;
            if done {
                break;
            }
            if used == 0 {
                break;
            }
        }
        if done && reencode {
            out.extend_from_slice(LAST_CHUNK);
        }
        if !out.is_empty() {
            written += out.len() as u64;
            out = write_all(dst, out, t.write).await.map_err(dst_err)?;
            out.clear();
        }
        if done {
            buf.drain(..pos);
            return Ok((buf, written));
        }
        // Keep any partial framing bytes, read more after them.
        buf.drain(..pos);
        pos = 0;
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        let (got, b) = read_into(src, buf, t.read).await.map_err(src_err)?;
        if got == 0 {
            return Err(Fail::SrcEof);
        }
        buf = b;
    }
}
