//! The compressing body path: the upstream's body, in whatever framing it came (a length,
//! chunked, or up to the close), decoded, passed through the response's encoder and written to
//! the client as chunks (or as plain bytes up to the close, for an HTTP/1.0 client). The
//! encoder lives for this one response and is dropped at its end.
//!
//! Flushing: the encoder's output goes out as soon as it has any (zlib and brotli emit in
//! blocks, so writes stay large); after an upstream read that did not fill the buffer (the
//! upstream had nothing more queued: a streaming answer pausing), the encoder is flushed so the
//! client gets everything received so far, as nginx does with `proxy_buffering off`.

use super::context::ShardCtx;
use super::relay::{Fail, Relayed, Tap, Timeouts};
use super::request::Request;
use super::response::{Body, Plan};
use crate::compress::{Coding, Decision, Encoder, RequestView};
use crate::http::chunked::{LAST_CHUNK, write_chunk_header};
use crate::http::{ChunkedDecoder, Decoded, ResponseHead, Version};
use crate::net::Transport;
use crate::net::io::{ReadErr, read_into, write_all};

/// How a response's body is re-coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recode {
    pub coding: Coding,
    pub level: u32,
    /// Framed as chunks (HTTP/1.1 client); else up to the close.
    pub chunked: bool,
}

/// The location's compression decision for `resp` (none where compression is off).
pub fn decide(r: &Request<'_>, b: &[u8], resp: &ResponseHead, ub: &[u8]) -> Decision {
    match &r.loc.compress {
        None => Decision::default(),
        Some(p) => p.decide(
            &RequestView {
                headers: &r.head.headers,
                buf: b,
                http10: r.head.version == Version::Http10,
            },
            resp,
            ub,
        ),
    }
}

/// A compressed relay's result: the relay's, and the upstream body bytes read.
pub struct Compressed {
    pub relayed: Relayed,
    pub upstream_body: u64,
}

/// Where the upstream's body ends.
enum Source {
    Length(u64),
    Chunked(ChunkedDecoder),
    Eof,
}

impl Source {
    /// Feeds the body bytes of `input` to `sink`; returns the bytes consumed and whether the
    /// body is complete.
    fn take(
        &mut self,
        input: &[u8],
        sink: &mut impl FnMut(&[u8]) -> Result<(), Fail>,
    ) -> Result<(usize, bool), Fail> {
        match self {
            Source::Length(left) => {
                let n = (*left).min(input.len() as u64) as usize;
                sink(&input[..n])?;
                *left -= n as u64;
                Ok((n, *left == 0))
            }
            Source::Eof => {
                sink(input)?;
                Ok((input.len(), false))
            }
            Source::Chunked(dec) => {
                let mut pos = 0;
                while pos < input.len() {
                    let (used, what) = dec.decode(&input[pos..]).map_err(Fail::Malformed)?;
                    if let Decoded::Data { start, end } = what {
                        sink(&input[pos + start..pos + end])?;
                    }
                    pos += used;
                    if what == Decoded::Done {
                        return Ok((pos, true));
                    }
                    if used == 0 {
                        break;
                    }
                }
                Ok((pos, false))
            }
        }
    }
}

/// An encoder failure (never expected with in-memory output): the response is cut.
fn enc_err(_: crate::compress::encoder::EncodeError) -> Fail {
    Fail::SrcIo
}

/// Appends `out` to `wire` as one chunk (or as it is), leaving `out` empty.
pub(super) fn frame(out: &mut Vec<u8>, wire: &mut Vec<u8>, chunked: bool) {
    if out.is_empty() {
        return;
    }
    if chunked {
        write_chunk_header(out.len(), wire);
    }
    wire.extend_from_slice(out);
    if chunked {
        wire.extend_from_slice(b"\r\n");
    }
    out.clear();
}

/// Sends the client `plan.head` and the upstream's body compressed as `rc` says. `ub` holds
/// the upstream's head (`head_len` bytes) and whatever of the body came with it.
#[allow(clippy::too_many_arguments)]
pub async fn compressed_body<S: Transport, U: Transport>(
    ctx: &ShardCtx,
    client: &mut S,
    up: &mut U,
    plan: Plan,
    rc: Recode,
    ub: Vec<u8>,
    head_len: usize,
    t: &Timeouts,
    tap: &mut impl Tap,
) -> Result<Compressed, Fail> {
    let (mut src, len) = match plan.body {
        Body::None => (Source::Length(0), Some(0)),
        Body::Length(n) => (Source::Length(n), Some(n)),
        Body::Chunked { .. } => (Source::Chunked(ChunkedDecoder::default()), None),
        Body::ToEof { .. } => (Source::Eof, None),
    };
    let mut enc = Encoder::new(rc.coding, rc.level, len).map_err(enc_err)?;
    let mut wire = plan.head;
    let head_bytes = wire.len();
    let mut out = Vec::with_capacity(16 * 1024);
    let mut buf = ub;
    let mut pos = head_len;
    let mut sent = 0u64;
    let mut from_upstream = 0u64;
    // A read that did not fill the buffer: the upstream had nothing more queued (for the first
    // one, the head's read, likewise).
    let mut paused = buf.len() < buf.capacity();
    let mut closed = false;
    loop {
        let mut sink = |d: &[u8]| {
            tap.data(d);
            enc.write(d, &mut out).map_err(enc_err)
        };
        let (used, done) = src.take(&buf[pos..], &mut sink)?;
        pos += used;
        from_upstream += used as u64;
        if done {
            let clean = pos == buf.len() && !closed;
            enc.finish(&mut out).map_err(enc_err)?;
            frame(&mut out, &mut wire, rc.chunked);
            if rc.chunked {
                wire.extend_from_slice(LAST_CHUNK);
            }
            sent += wire.len() as u64;
            let wire = write_all(client, wire, t.write).await.map_err(dst)?;
            ctx.bufs.put(wire);
            ctx.bufs.put(buf);
            return Ok(Compressed {
                relayed: Relayed {
                    sent,
                    upstream_clean: clean,
                },
                upstream_body: from_upstream,
            });
        }
        if paused {
            enc.flush(&mut out).map_err(enc_err)?;
        }
        frame(&mut out, &mut wire, rc.chunked);
        // The head waits for the first output, unless the upstream paused: a streaming
        // answer's client then sees it at once.
        if !wire.is_empty() && (paused || sent > 0 || wire.len() > head_bytes) {
            sent += wire.len() as u64;
            wire = write_all(client, wire, t.write).await.map_err(dst)?;
            wire.clear();
        }
        // Partial chunk framing stays; read more after it.
        buf.drain(..pos);
        pos = 0;
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        let room = buf.capacity() - buf.len();
        let (got, b) = read_into(up, buf, t.read).await.map_err(|e| match e {
            ReadErr::Timeout => Fail::SrcTimeout,
            ReadErr::Io(_) => Fail::SrcIo,
        })?;
        buf = b;
        if got == 0 {
            if matches!(src, Source::Eof) {
                // The close ends the body: finish with nothing more to take.
                src = Source::Length(0);
                closed = true;
                continue;
            }
            return Err(Fail::SrcEof);
        }
        paused = got < room;
    }
}

fn dst(e: crate::net::io::WriteErr) -> Fail {
    match e {
        crate::net::io::WriteErr::Timeout => Fail::DstTimeout,
        crate::net::io::WriteErr::Io => Fail::DstIo,
    }
}
