//! Strict chunked transfer coding (RFC 9112 §7.1): a streaming decoder that validates every byte
//! (hex sizes, extensions skipped, trailers read and dropped, CRLF enforced) and the encoder helpers.

use super::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes at `input[start..end]` (relative to the slice passed to `decode`).
    Data { start: usize, end: usize },
    /// Everything in the input was consumed (framing bytes only); feed more.
    NeedMore,
    /// The last chunk and the trailer section are complete: the message ends.
    Done,
}

/// Streaming decoder state. Feed it whatever arrived; it never needs to look back.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    _state: (),
}

impl ChunkedDecoder {
    /// `max_overhead`: cap on the bytes of one chunk-size line (with extensions) and of the
    /// whole trailer section; beyond it the body is malformed (400).
    pub fn new(max_overhead: usize) -> Self {
        let _ = max_overhead;
        todo!()
    }

    /// Decodes from the start of `input`; returns how many bytes were consumed and what was found.
    /// Call again with the unconsumed rest. Errors are `ParseError` with status 400 (or 502 on
    /// the response side, the caller's choice).
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Decoded), ParseError> {
        let _ = input;
        todo!()
    }

    /// True once `Done` was returned.
    pub fn is_done(&self) -> bool {
        todo!()
    }
}

/// Appends `"{len:x}\r\n"`.
pub fn write_chunk_header(len: usize, out: &mut Vec<u8>) {
    let _ = (len, out);
    todo!()
}

/// The final chunk with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
