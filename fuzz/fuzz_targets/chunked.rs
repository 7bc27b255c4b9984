//! The chunked decoder. Three checks per input:
//! 1. the input decoded in one piece and the same input fed in pieces cut at fuzzer-chosen
//!    points agree exactly (body bytes, bytes consumed, success or failure);
//! 2. the decoder's contract holds (NeedMore consumes all, Data lies inside what was consumed,
//!    nothing past the end of the message is consumed);
//! 3. the fuzzer's bytes taken as a body, chunked by ringway's encoder in sizes it chooses, decode
//!    back to themselves, and bytes after the last chunk (a pipelined request) are left alone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringway::http::chunked::{
    ChunkedDecoder, Decoded, LAST_CHUNK, MAX_SIZE_LINE, MAX_TRAILER_SECTION, write_chunk_header,
};
use ringway_fuzz::{cuts_from, show};

/// Caps on a chunk-size line and on the trailer section, as the proxy sets them.
const PROXY: (usize, usize) = (MAX_SIZE_LINE, MAX_TRAILER_SECTION);

#[derive(Debug, PartialEq)]
enum Outcome {
    Done { body: Vec<u8>, consumed: usize },
    Incomplete { body: Vec<u8> },
    Failed { body: Vec<u8> },
}

/// Feeds `input` as it becomes available at each of `cuts` (and at its end), re-feeding what was
/// not consumed, as the proxy's body relay does.
fn decode(input: &[u8], cuts: &[usize], (size_line, trailers): (usize, usize)) -> Outcome {
    let mut dec = ChunkedDecoder::with_limits(size_line, trailers);
    let mut body = Vec::new();
    let mut pos = 0;
    for avail in cuts.iter().copied().chain([input.len()]) {
        loop {
            let piece = &input[pos..avail];
            let (n, what) = match dec.decode(piece) {
                Ok(r) => r,
                Err(e) => {
                    assert_eq!(e.status(), 400);
                    // A failed decoder stays failed.
                    assert!(dec.decode(b"0\r\n\r\n").is_err());
                    return Outcome::Failed { body };
                }
            };
            assert!(n <= piece.len(), "consumed {n} of {}", piece.len());
            match what {
                Decoded::Data { start, end } => {
                    assert!(start < end && end <= n, "data {start}..{end} of {n}");
                    body.extend_from_slice(&piece[start..end]);
                    pos += n;
                }
                Decoded::NeedMore => {
                    assert_eq!(n, piece.len(), "NeedMore left bytes unconsumed");
                    pos += n;
                    break;
                }
                Decoded::Done => {
                    pos += n;
                    assert!(dec.is_done());
                    assert_eq!(dec.decode(b"junk").ok(), Some((0, Decoded::Done)));
                    return Outcome::Done {
                        body,
                        consumed: pos,
                    };
                }
            }
        }
    }
    Outcome::Incomplete { body }
}

fuzz_target!(|data: &[u8]| {
    let Some((&n_cuts, rest)) = data.split_first() else {
        return;
    };
    let n_cuts = usize::from(n_cuts % 16);
    let (seed, input) = rest.split_at((n_cuts * 2).min(rest.len()));
    let cuts = cuts_from(seed, input.len());

    // 1 and 2: one piece against many, with the proxy's cap and with a tiny one.
    for max in [PROXY, (8, 8), (8, 64)] {
        let whole = decode(input, &[], max);
        let split = decode(input, &cuts, max);
        let bytewise: Vec<usize> = (1..input.len().min(512)).collect();
        let bytes = decode(input, &bytewise, max);
        assert_eq!(whole, split, "cuts {cuts:?} of {}", show(input));
        assert_eq!(whole, bytes, "byte by byte: {}", show(input));
        if let Outcome::Done { body, consumed } = &whole {
            assert!(body.len() < *consumed);
        }
    }

    // 3: encoder round trip, with a pipelined request behind it.
    let mut encoded = Vec::new();
    let mut sizes = seed.iter().map(|&b| usize::from(b) + 1).cycle();
    let mut at = 0;
    while at < input.len() {
        let n = sizes.next().unwrap_or(input.len()).min(input.len() - at);
        write_chunk_header(n, &mut encoded);
        encoded.extend_from_slice(&input[at..at + n]);
        encoded.extend_from_slice(b"\r\n");
        at += n;
    }
    encoded.extend_from_slice(LAST_CHUNK);
    let end = encoded.len();
    encoded.extend_from_slice(b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    let cuts = cuts_from(seed, encoded.len());
    let want = Outcome::Done {
        body: input.to_vec(),
        consumed: end,
    };
    assert_eq!(decode(&encoded, &[], PROXY), want, "{}", show(&encoded));
    assert_eq!(decode(&encoded, &cuts, PROXY), want, "{}", show(&encoded));
});
