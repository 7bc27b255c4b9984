//! The streaming encoders: gzip (zlib-rs through flate2), brotli (the pure-Rust `brotli`
//! crate) and zstd (libzstd through the `zstd` crate). One lives only while a response is being
//! compressed, so its state (the windows and hash tables below) is held per response, never per
//! idle connection.
//!
//! Memory per response (measured with a counting allocator, any level): gzip ≈ 370 KiB with its
//! 32 KiB window, ≈ 250 KiB when a short known length shrinks the window (as nginx does).
//! Brotli, window 128–512 KiB (`lgwin` 17–19, the top being ngx_brotli's default
//! `brotli_window`): level 0 ≈ 0.7 MiB, 1 ≈ 1.7, 4 ≈ 3, 5 ≈ 1.1–3.2, 6 ≈ 2.1–4.2, 7 ≈ 8–10,
//! 8 ≈ 16–18.5, 9 ≈ 34, 10–11 ≈ 9.5 held and 26 at the end of the stream.
//! zstd (libzstd's own, window at most 512 KiB), body of unknown length: level 1 ≈ 1.3 MiB,
//! 3 ≈ 2.0, 6 ≈ 3.7, 9 ≈ 11, 19 ≈ 82; a known short length shrinks it (2 KB: 70–240 KiB).

use flate2::{Compress, FlushCompress, Status};
use zstd::zstd_safe::zstd_sys::ZSTD_EndDirective;
use zstd::zstd_safe::{CCtx, CParameter, InBuffer, OutBuffer};

use super::Coding;

/// Largest brotli window, as log2 bytes (512 KiB: ngx_brotli's default).
const BROTLI_MAX_LGWIN: u32 = 19;
/// Smallest brotli window: at 16 or less, levels 5–9 switch to a hasher whose tables take
/// 32 MiB (measured), where 17 costs 2 MiB at level 6.
const BROTLI_MIN_LGWIN: u32 = 17;
/// Smallest gzip window (zlib takes 9–15).
const MIN_BITS: u32 = 10;
/// Largest zstd window, as log2 bytes: 512 KiB, as brotli's. RFC 9659 allows a `zstd` content
/// coding up to 8 MiB, but on the fly the window is memory held per response: with its own
/// 2 MiB window level 3 held 3.5 MiB, capped 2.0 (measured, tests/compression/memory.rs).
const ZSTD_MAX_WINDOW_LOG: u32 = 19;

/// A coding that fails internally (never expected with in-memory output).
#[derive(Debug)]
pub struct EncodeError;

pub enum Encoder {
    Gzip(Box<Compress>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(Box<CCtx<'static>>),
}

/// The window (log2 bytes) for a body of `len` bytes, at most `max`: the smallest that holds
/// it, so a short body does not pay for a large window.
fn window_bits(len: Option<u64>, max: u32) -> u32 {
    match len {
        Some(n) => {
            let bits = 64 - n.max(1).leading_zeros();
            bits.clamp(MIN_BITS, max)
        }
        None => max,
    }
}

impl Encoder {
    /// An encoder for `coding` at `level`; `len`: the body's length when known. Fails only
    /// when libzstd cannot set up its state (memory).
    pub fn new(coding: Coding, level: u32, len: Option<u64>) -> Result<Encoder, EncodeError> {
        Ok(match coding {
            Coding::Gzip => {
                let bits = window_bits(len, 15) as u8;
                let level = flate2::Compression::new(level.clamp(1, 9));
                Encoder::Gzip(Box::new(Compress::new_gzip(level, bits)))
            }
            Coding::Brotli => {
                let lgwin = window_bits(len, BROTLI_MAX_LGWIN).max(BROTLI_MIN_LGWIN);
                Encoder::Brotli(Box::new(brotli::CompressorWriter::new(
                    Vec::new(),
                    4096,
                    level.min(11),
                    lgwin,
                )))
            }
            Coding::Zstd => Encoder::Zstd(Box::new(zstd_context(level, len)?)),
        })
    }

    /// Compresses `data`, appending whatever output is ready to `out`.
    pub fn write(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Encoder::Gzip(c) => deflate(c, data, out, FlushCompress::None),
            Encoder::Brotli(w) => {
                std::io::Write::write_all(w.as_mut(), data).map_err(|_| EncodeError)?;
                out.append(w.get_mut());
                Ok(())
            }
            Encoder::Zstd(c) => zstd_run(c, data, out, ZSTD_EndDirective::ZSTD_e_continue),
        }
    }

    /// Pushes out everything written so far (a sync flush): the client can decode it now.
    pub fn flush(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Encoder::Gzip(c) => deflate(c, &[], out, FlushCompress::Sync),
            Encoder::Brotli(w) => {
                std::io::Write::flush(w.as_mut()).map_err(|_| EncodeError)?;
                out.append(w.get_mut());
                Ok(())
            }
            Encoder::Zstd(c) => zstd_run(c, &[], out, ZSTD_EndDirective::ZSTD_e_flush),
        }
    }

    /// Ends the stream, appending the rest of the output (and the gzip trailer) to `out`.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Encoder::Gzip(mut c) => deflate(&mut c, &[], out, FlushCompress::Finish),
            Encoder::Brotli(w) => {
                out.extend_from_slice(&w.into_inner());
                Ok(())
            }
            Encoder::Zstd(mut c) => zstd_run(&mut c, &[], out, ZSTD_EndDirective::ZSTD_e_end),
        }
    }

    /// The bytes libzstd holds for this response (its context, window and tables); None for
    /// the other codings, whose memory Rust's allocator sees.
    pub fn zstd_state_bytes(&self) -> Option<usize> {
        match self {
            Encoder::Zstd(c) => Some(c.sizeof()),
            _ => None,
        }
    }
}

/// Runs deflate over `input` until it is consumed and (for a flush or finish) everything is out.
fn deflate(
    c: &mut Compress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    flush: FlushCompress,
) -> Result<(), EncodeError> {
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(16 * 1024);
        }
        let (in0, out0) = (c.total_in(), c.total_out());
        let status = c.compress_vec(input, out, flush).map_err(|_| EncodeError)?;
        let used = (c.total_in() - in0) as usize;
        input = input.get(used..).unwrap_or_default();
        let produced = c.total_out() - out0;
        if status == Status::StreamEnd {
            return Ok(());
        }
        let room_left = out.len() < out.capacity();
        // zlib's rule: output room left after a call means it did all it could with the input.
        if input.is_empty() && room_left && flush != FlushCompress::Finish {
            return Ok(());
        }
        if used == 0 && produced == 0 && room_left {
            if flush == FlushCompress::Finish && status == Status::BufError {
                return Err(EncodeError);
            }
            if flush != FlushCompress::Finish {
                return Ok(());
            }
        }
    }
}

/// libzstd's compression state for one frame at `level` (1–22). With the length known,
/// libzstd sizes its window and tables to it and writes it in the frame header (and a body that
/// ends short of it is an error, not a shorter frame); without, the level's own window. Either
/// way at most `ZSTD_MAX_WINDOW_LOG`. No checksum: TLS and TCP already check the bytes, and
/// zstd-nginx-module leaves it off too.
fn zstd_context(level: u32, len: Option<u64>) -> Result<CCtx<'static>, EncodeError> {
    let level = i32::try_from(level.clamp(1, 22)).map_err(|_| EncodeError)?;
    let mut c = CCtx::try_create().ok_or(EncodeError)?;
    let mut set = |p: CParameter| c.set_parameter(p).map(drop).map_err(|_| EncodeError);
    set(CParameter::CompressionLevel(level))?;
    set(CParameter::WindowLog(ZSTD_MAX_WINDOW_LOG))?;
    set(CParameter::ChecksumFlag(false))?;
    c.set_pledged_src_size(len).map_err(|_| EncodeError)?;
    Ok(c)
}

/// Runs libzstd over `input` until it is consumed and (for a flush or the end) everything is
/// out, appending the output to `out`.
fn zstd_run(
    c: &mut CCtx<'static>,
    input: &[u8],
    out: &mut Vec<u8>,
    op: ZSTD_EndDirective,
) -> Result<(), EncodeError> {
    let mut inb = InBuffer::around(input);
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(16 * 1024);
        }
        let at = out.len();
        let left = c
            .compress_stream2(&mut OutBuffer::around_pos(out, at), &mut inb, op)
            .map_err(|_| EncodeError)?;
        let consumed = inb.pos() == input.len();
        // Continue: done once the input is in; flush and end: once nothing is left to write.
        if consumed && (left == 0 || op == ZSTD_EndDirective::ZSTD_e_continue) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn roundtrip(coding: Coding, level: u32, len: Option<u64>, parts: &[&[u8]]) -> Vec<u8> {
        let mut e = Encoder::new(coding, level, len).unwrap();
        let mut out = Vec::new();
        for p in parts {
            e.write(p, &mut out).unwrap();
            e.flush(&mut out).unwrap();
        }
        e.finish(&mut out).unwrap();
        let mut plain = Vec::new();
        match coding {
            Coding::Gzip => flate2::read::GzDecoder::new(&out[..])
                .read_to_end(&mut plain)
                .unwrap(),
            Coding::Brotli => brotli::Decompressor::new(&out[..], 4096)
                .read_to_end(&mut plain)
                .unwrap(),
            Coding::Zstd => zstd::stream::read::Decoder::new(&out[..])
                .unwrap()
                .read_to_end(&mut plain)
                .unwrap(),
        };
        plain
    }

    #[test]
    fn every_coding_round_trips_with_flushes() {
        let big: Vec<u8> = (0..300_000u32)
            .map(|i| (i % 251) as u8 ^ (i >> 9) as u8)
            .collect();
        for coding in [Coding::Gzip, Coding::Brotli, Coding::Zstd] {
            for level in [1, 6, 9] {
                let parts: Vec<&[u8]> = vec![b"hello ", b"", &big[..70_000], &big[70_000..]];
                let want: Vec<u8> = parts.concat();
                assert_eq!(roundtrip(coding, level, None, &parts), want);
                assert_eq!(roundtrip(coding, level, Some(6), &[b"hello!"]), b"hello!");
            }
        }
        assert_eq!(roundtrip(Coding::Gzip, 1, Some(0), &[]), b"");
        assert_eq!(roundtrip(Coding::Brotli, 0, None, &[b"x"]), b"x");
        assert_eq!(roundtrip(Coding::Zstd, 1, Some(0), &[]), b"");
        assert_eq!(roundtrip(Coding::Zstd, 22, None, &[b"x"]), b"x");
    }

    #[test]
    fn zstd_frames_say_their_length_and_keep_to_512_kib_windows() {
        for (level, len) in [(1, Some(5u64)), (19, None), (22, None), (22, Some(100_000))] {
            let mut e = Encoder::new(Coding::Zstd, level, len).unwrap();
            let mut out = Vec::new();
            e.write(b"hello", &mut out).unwrap();
            if len != Some(5) {
                e.write(&[7u8; 99_995], &mut out).unwrap();
            }
            e.finish(&mut out).unwrap();
            let size = zstd::zstd_safe::get_frame_content_size(&out).unwrap();
            assert_eq!(size, len, "level {level}");
            // A decoder limited to ringway's window reads every frame.
            let mut d = zstd::stream::read::Decoder::new(&out[..]).unwrap();
            d.window_log_max(ZSTD_MAX_WINDOW_LOG).unwrap();
            let mut plain = Vec::new();
            d.read_to_end(&mut plain).unwrap();
            assert_eq!(&plain[..5], b"hello", "level {level}");
        }
        // A body shorter than its announced length is an error, not a truncated frame.
        let mut e = Encoder::new(Coding::Zstd, 3, Some(10)).unwrap();
        let mut out = Vec::new();
        e.write(b"short", &mut out).unwrap();
        assert!(e.finish(&mut out).is_err());
    }

    #[test]
    fn window_fits_the_known_length() {
        assert_eq!(window_bits(Some(100), 15), 10);
        assert_eq!(window_bits(Some(5000), 15), 13);
        assert_eq!(window_bits(Some(1 << 40), 15), 15);
        assert_eq!(window_bits(None, 19), 19);
        assert_eq!(window_bits(Some(100), 19).max(BROTLI_MIN_LGWIN), 17);
    }
}
