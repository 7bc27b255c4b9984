//! Body relays. Small bodies are copied through pooled buffers; a known-length remainder at or
//! above `SPLICE_MIN` moves socket → pipe → socket with splice, never entering user space.

use std::time::Duration;

use monoio::net::TcpStream;

use super::context::ShardCtx;
use super::io::{ReadErr, WriteErr, read_into, write_all, write_range};
use crate::http::ChunkedDecoder;
use crate::http::chunked::{LAST_CHUNK, write_chunk_header};
use crate::http::{Decoded, ParseError};

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

/// Moves exactly `n` bytes from `src` to `dst`.
pub async fn relay_exact(
    ctx: &ShardCtx,
    src: &mut TcpStream,
    dst: &mut TcpStream,
    n: u64,
    t: &Timeouts,
) -> Result<(), Fail> {
    if n == 0 {
        return Ok(());
    }
    if n >= ctx.splice_min {
        return splice_exact(&ctx.pipes, src, dst, n, t).await;
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
        buf = write_range(dst, b, 0, take, t.write)
            .await
            .map_err(dst_err)?;
        left -= take as u64;
    }
    ctx.bufs.put(buf);
    Ok(())
}

async fn splice_exact(
    pipes: &super::splice::PipePool,
    src: &mut TcpStream,
    dst: &mut TcpStream,
    n: u64,
    t: &Timeouts,
) -> Result<(), Fail> {
    use super::splice::SpliceErr;
    super::splice::relay_exact(pipes, src, dst, n, t.read, t.write)
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
pub async fn relay_to_eof(
    ctx: &ShardCtx,
    src: &mut TcpStream,
    dst: &mut TcpStream,
    chunked: bool,
    t: &Timeouts,
) -> Result<(), Fail> {
    let mut buf = ctx.bufs.get();
    let mut out = Vec::new();
    loop {
        buf.clear();
        let (got, b) = read_into(src, buf, t.read).await.map_err(src_err)?;
        buf = b;
        if got == 0 {
            break;
        }
        if chunked {
            out.clear();
            write_chunk_header(got, &mut out);
            out.extend_from_slice(&buf[..got]);
            out.extend_from_slice(b"\r\n");
            out = write_all(dst, out, t.write).await.map_err(dst_err)?;
        } else {
            buf = write_range(dst, buf, 0, got, t.write)
                .await
                .map_err(dst_err)?;
        }
    }
    if chunked {
        write_all(dst, LAST_CHUNK.to_vec(), t.write)
            .await
            .map_err(dst_err)?;
    }
    ctx.bufs.put(buf);
    Ok(())
}

/// Decodes a chunked body that starts at `buf[start..]`, reading the rest from `src`, and writes
/// it to `dst` re-encoded as chunked (`reencode`) or as plain bytes. Returns the buffer holding
/// only what followed the body (a pipelined request), and the decoded body size.
#[allow(clippy::too_many_arguments)]
pub async fn relay_chunked(
    src: &mut TcpStream,
    dst: &mut TcpStream,
    mut buf: Vec<u8>,
    start: usize,
    reencode: bool,
    max_size: u64,
    t: &Timeouts,
) -> Result<(Vec<u8>, u64), Fail> {
    let mut dec = ChunkedDecoder::default();
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut pos = start;
    let mut total: u64 = 0;
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
            out = write_all(dst, out, t.write).await.map_err(dst_err)?;
            out.clear();
        }
        if done {
            buf.drain(..pos);
            return Ok((buf, total));
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
