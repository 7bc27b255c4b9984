//! Strict chunked transfer coding (RFC 9112 §7.1): a streaming decoder that validates every byte
//! (hex sizes, extensions skipped, trailers read and dropped, CRLF enforced) and the encoder helpers.
//!
//! Grammar enforced (no leniency: every deviation is a 400, which is what keeps a proxy from
//! disagreeing with the next hop about where a body ends):
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size   = 1*HEXDIG                       ; leading zeros allowed, value ≤ 2^62
//! last-chunk   = 1*("0") [ chunk-ext ] CRLF
//! chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
//! ext-val      = token / quoted-string
//! trailer-section = *( field-name ":" OWS field-value OWS CRLF )
//! ```
//!
//! Bare LF and bare CR are errors everywhere; whitespace after the size is allowed only when a `;`
//! follows (BWS), so `5 \r\n` is rejected.

use super::ParseError;
use super::util::{is_tchar, push_hex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes at `input[start..end]` (relative to the slice passed to `decode`).
    Data { start: usize, end: usize },
    /// Everything in the input was consumed (framing bytes only); feed more.
    NeedMore,
    /// The last chunk and the trailer section are complete: the message ends.
    Done,
}

/// Largest chunk size accepted (2^62): far beyond any real body, far from u64 overflow.
const MAX_CHUNK_SIZE: u64 = 1 << 62;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Start of a chunk-size line: a HEXDIG must come.
    SizeStart,
    /// Inside the hex digits.
    Size,
    /// SP/HTAB after the size: only more BWS or `;` may follow.
    SizeBws,
    /// After `;`: BWS or the first byte of an extension name.
    ExtPreName,
    ExtName,
    /// BWS after an extension name: `=` or `;` must follow.
    ExtPostName,
    /// After `=`: BWS, a token or a quoted-string.
    ExtPreValue,
    ExtToken,
    ExtQuoted,
    ExtQuotedEscape,
    /// Right after the closing DQUOTE: `;`, BWS or CR.
    ExtAfterQuoted,
    /// BWS after a value: only `;` may follow.
    ExtPostValue,
    /// CR of the chunk-size line seen, LF must follow.
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// Start of a trailer field line, or of the final CRLF.
    TrailerStart,
    TrailerName,
    TrailerValue,
    /// CR at the end of a trailer field line seen.
    TrailerLf,
    /// CR of the final empty line seen.
    FinalLf,
    Done,
    Failed,
}

/// Largest chunk-size line accepted, its extensions and CRLF included: 8 KiB. Longer → 400 (502
/// from an upstream). nginx sets none (it skips extensions byte by byte); no client sends
/// kilobytes of chunk extensions.
pub const MAX_SIZE_LINE: usize = 8 * 1024;

/// Largest trailer section accepted: every trailer field line with its CRLF and the final CRLF,
/// 1 MiB in all; no limit on one field line within it. Larger → 400 (502 from an upstream).
///
/// nginx (1.22 to 1.31) sets no limit at all: its chunked parser reads a request's trailer
/// fields and drops them byte by byte, as ringway's decoder does (trailers are never buffered,
/// nor forwarded). The bound is there only so that a trailer section that never ends fails
/// instead of holding the connection: it is far above any trailer a client sends, and above any
/// field a request head may carry (one `large_client_header_buffers` buffer, 8 KiB by default),
/// so a field that would pass in the head passes in the trailers too.
pub const MAX_TRAILER_SECTION: usize = 1024 * 1024;

/// Streaming decoder state. Feed it whatever arrived; it never needs to look back.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Size being parsed, then the bytes of chunk-data still expected.
    remaining: u64,
    /// Bytes of the current chunk-size line, or of the whole trailer section.
    overhead: usize,
    max_size_line: usize,
    max_trailers: usize,
    error: &'static str,
}

/// The proxy's decoder: `MAX_SIZE_LINE` and `MAX_TRAILER_SECTION`.
impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::with_limits(MAX_SIZE_LINE, MAX_TRAILER_SECTION)
    }
}

impl ChunkedDecoder {
    /// `max_overhead`: cap on the bytes of one chunk-size line (with extensions) and of the
    /// whole trailer section alike; beyond it the body is malformed (400).
    pub fn new(max_overhead: usize) -> Self {
        ChunkedDecoder::with_limits(max_overhead, max_overhead)
    }

    /// Caps on one chunk-size line (with extensions and CRLF) and on the whole trailer section
    /// (its final CRLF included).
    pub fn with_limits(max_size_line: usize, max_trailers: usize) -> Self {
        ChunkedDecoder {
            state: State::SizeStart,
            remaining: 0,
            overhead: 0,
            max_size_line,
            max_trailers,
            error: "",
        }
    }

    #[cold]
    fn fail(&mut self, why: &'static str) -> Result<(usize, Decoded), ParseError> {
        self.state = State::Failed;
        self.error = why;
        Err(ParseError::BadRequest(why))
    }

    /// Decodes from the start of `input`; returns how many bytes were consumed and what was found.
    /// Call again with the unconsumed rest. Errors are `ParseError` with status 400 (or 502 on
    /// the response side, the caller's choice).
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Decoded), ParseError> {
        let mut i = 0;
        loop {
            // Chunk data first: the hot path, handed out in place.
            if self.state == State::Data {
                let avail = input.len() - i;
                if avail == 0 {
                    return Ok((i, Decoded::NeedMore));
                }
                let n = if self.remaining < avail as u64 {
                    self.remaining as usize
                } else {
                    avail
                };
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                return Ok((
                    i + n,
                    Decoded::Data {
                        start: i,
                        end: i + n,
                    },
                ));
            }
            match self.state {
                State::Done => return Ok((i, Decoded::Done)),
                State::Failed => return Err(ParseError::BadRequest(self.error)),
                _ => {}
            }
            let Some(&b) = input.get(i) else {
                return Ok((i, Decoded::NeedMore));
            };
            i += 1;
            match self.state {
                State::SizeStart
                | State::Size
                | State::SizeBws
                | State::ExtPreName
                | State::ExtName
                | State::ExtPostName
                | State::ExtPreValue
                | State::ExtToken
                | State::ExtQuoted
                | State::ExtQuotedEscape
                | State::ExtAfterQuoted
                | State::ExtPostValue
                | State::SizeLf => {
                    self.overhead += 1;
                    if self.overhead > self.max_size_line {
                        return self.fail("chunk-size line too long");
                    }
                    if let Err(why) = self.size_line_byte(b) {
                        return self.fail(why);
                    }
                }
                State::DataCr => {
                    if b != b'\r' {
                        return self.fail("chunk data not followed by CRLF");
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return self.fail("chunk data not followed by CRLF");
                    }
                    self.state = State::SizeStart;
                    self.overhead = 0;
                }
                State::TrailerStart
                | State::TrailerName
                | State::TrailerValue
                | State::TrailerLf
                | State::FinalLf => {
                    self.overhead += 1;
                    if self.overhead > self.max_trailers {
                        return self.fail("trailer section too large");
                    }
                    match self.trailer_byte(b) {
                        Err(why) => return self.fail(why),
                        Ok(true) => return Ok((i, Decoded::Done)),
                        Ok(false) => {}
                    }
                }
                // Handled above: never here.
                State::Data | State::Done | State::Failed => {
                    return self.fail("chunked decoder state");
                }
            }
        }
    }

    /// One byte of a chunk-size line (size, extensions, CRLF).
    #[inline]
    fn size_line_byte(&mut self, b: u8) -> Result<(), &'static str> {
        match self.state {
            State::SizeStart | State::Size => {
                if let Some(d) = hex_val(b) {
                    if self.remaining > MAX_CHUNK_SIZE >> 4 {
                        return Err("chunk size too large");
                    }
                    self.remaining = (self.remaining << 4) | u64::from(d);
                    if self.remaining > MAX_CHUNK_SIZE {
                        return Err("chunk size too large");
                    }
                    self.state = State::Size;
                } else if self.state == State::SizeStart {
                    return Err("invalid chunk size");
                } else {
                    match b {
                        b'\r' => self.state = State::SizeLf,
                        b';' => self.state = State::ExtPreName,
                        b' ' | b'\t' => self.state = State::SizeBws,
                        _ => return Err("invalid chunk size"),
                    }
                }
            }
            State::SizeBws => match b {
                b' ' | b'\t' => {}
                b';' => self.state = State::ExtPreName,
                _ => return Err("invalid whitespace after chunk size"),
            },
            State::ExtPreName => match b {
                b' ' | b'\t' => {}
                _ if is_tchar(b) => self.state = State::ExtName,
                _ => return Err("invalid chunk extension"),
            },
            State::ExtName => match b {
                _ if is_tchar(b) => {}
                b'=' => self.state = State::ExtPreValue,
                b';' => self.state = State::ExtPreName,
                b' ' | b'\t' => self.state = State::ExtPostName,
                b'\r' => self.state = State::SizeLf,
                _ => return Err("invalid chunk extension"),
            },
            State::ExtPostName => match b {
                b' ' | b'\t' => {}
                b'=' => self.state = State::ExtPreValue,
                b';' => self.state = State::ExtPreName,
                _ => return Err("invalid chunk extension"),
            },
            State::ExtPreValue => match b {
                b' ' | b'\t' => {}
                b'"' => self.state = State::ExtQuoted,
                _ if is_tchar(b) => self.state = State::ExtToken,
                _ => return Err("invalid chunk extension value"),
            },
            State::ExtToken => match b {
                _ if is_tchar(b) => {}
                b';' => self.state = State::ExtPreName,
                b' ' | b'\t' => self.state = State::ExtPostValue,
                b'\r' => self.state = State::SizeLf,
                _ => return Err("invalid chunk extension value"),
            },
            State::ExtQuoted => match b {
                b'"' => self.state = State::ExtAfterQuoted,
                b'\\' => self.state = State::ExtQuotedEscape,
                // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
                b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff => {}
                _ => return Err("invalid quoted chunk extension"),
            },
            State::ExtQuotedEscape => match b {
                b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => self.state = State::ExtQuoted,
                _ => return Err("invalid quoted chunk extension"),
            },
            State::ExtAfterQuoted => match b {
                b';' => self.state = State::ExtPreName,
                b' ' | b'\t' => self.state = State::ExtPostValue,
                b'\r' => self.state = State::SizeLf,
                _ => return Err("invalid chunk extension"),
            },
            State::ExtPostValue => match b {
                b' ' | b'\t' => {}
                b';' => self.state = State::ExtPreName,
                _ => return Err("invalid chunk extension"),
            },
            State::SizeLf => {
                if b != b'\n' {
                    return Err("chunk-size line not ended by CRLF");
                }
                self.overhead = 0;
                self.state = if self.remaining == 0 {
                    State::TrailerStart
                } else {
                    State::Data
                };
            }
            _ => return Err("chunked decoder state"),
        }
        Ok(())
    }

    /// One byte of the trailer section. `Ok(true)`: the body is complete.
    #[inline]
    fn trailer_byte(&mut self, b: u8) -> Result<bool, &'static str> {
        match self.state {
            State::TrailerStart => match b {
                b'\r' => self.state = State::FinalLf,
                _ if is_tchar(b) => self.state = State::TrailerName,
                _ => return Err("invalid trailer field"),
            },
            State::TrailerName => match b {
                _ if is_tchar(b) => {}
                b':' => self.state = State::TrailerValue,
                _ => return Err("invalid trailer field name"),
            },
            State::TrailerValue => match b {
                b'\r' => self.state = State::TrailerLf,
                b'\t' | 0x20..=0x7e | 0x80..=0xff => {}
                _ => return Err("invalid trailer field value"),
            },
            State::TrailerLf => {
                if b != b'\n' {
                    return Err("trailer field not ended by CRLF");
                }
                self.state = State::TrailerStart;
            }
            State::FinalLf => {
                if b != b'\n' {
                    return Err("chunked body not ended by CRLF");
                }
                self.state = State::Done;
                return Ok(true);
            }
            _ => return Err("chunked decoder state"),
        }
        Ok(false)
    }

    /// True once `Done` was returned.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }
}

#[inline]
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends `"{len:x}\r\n"`.
pub fn write_chunk_header(len: usize, out: &mut Vec<u8>) {
    push_hex(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

/// The final chunk with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 4096;

    /// Decodes `input` fed in one piece; returns (body, bytes consumed) or the error.
    fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize), ParseError> {
        decode_split(input, &[])
    }

    /// Feeds `input` in pieces cut at `cuts` (ascending offsets), re-feeding unconsumed bytes as
    /// a real caller would, and stops at Done.
    fn decode_split(input: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, usize), ParseError> {
        let mut dec = ChunkedDecoder::new(MAX);
        let mut body = Vec::new();
        let mut pos = 0; // consumed so far
        let mut bounds: Vec<usize> = cuts.to_vec();
        bounds.push(input.len());
        for &avail_end in &bounds {
            loop {
                let chunk = &input[pos..avail_end];
                let (n, what) = dec.decode(chunk)?;
                assert!(n <= chunk.len());
                match what {
                    Decoded::Data { start, end } => {
                        assert!(start < end && end <= n);
                        body.extend_from_slice(&chunk[start..end]);
                        pos += n;
                    }
                    Decoded::NeedMore => {
                        assert_eq!(n, chunk.len(), "NeedMore must consume everything");
                        pos += n;
                        break;
                    }
                    Decoded::Done => {
                        pos += n;
                        assert!(dec.is_done());
                        return Ok((body, pos));
                    }
                }
            }
        }
        Err(ParseError::BadRequest("incomplete"))
    }

    fn ok(input: &[u8]) -> Vec<u8> {
        let (body, used) = decode_all(input).unwrap_or_else(|e| {
            panic!("{:?}: {e:?}", String::from_utf8_lossy(input));
        });
        assert_eq!(used, input.len(), "{:?}", String::from_utf8_lossy(input));
        body
    }

    fn bad(input: &[u8]) {
        match decode_all(input) {
            Err(ParseError::BadRequest(why)) => assert_ne!(why, "incomplete"),
            other => panic!("{:?} accepted: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn incomplete(input: &[u8]) {
        assert_eq!(decode_all(input), Err(ParseError::BadRequest("incomplete")));
    }

    #[test]
    fn simple_bodies() {
        assert_eq!(ok(b"5\r\nhello\r\n0\r\n\r\n"), b"hello");
        assert_eq!(
            ok(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            b"hello world"
        );
        assert_eq!(ok(b"0\r\n\r\n"), b"");
        assert_eq!(ok(LAST_CHUNK), b"");
    }

    #[test]
    fn hex_sizes() {
        assert_eq!(ok(b"A\r\nhelloworld\r\n0\r\n\r\n"), b"helloworld");
        assert_eq!(ok(b"a\r\nhelloworld\r\n0\r\n\r\n"), b"helloworld");
        assert_eq!(ok(b"000a\r\nhelloworld\r\n000\r\n\r\n"), b"helloworld");
        let big = vec![b'x'; 0x1F];
        let mut msg = b"1F\r\n".to_vec();
        msg.extend_from_slice(&big);
        msg.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(ok(&msg), big);
    }

    #[test]
    fn extensions() {
        assert_eq!(ok(b"5;ext=value\r\nhello\r\n0\r\n\r\n"), b"hello");
        assert_eq!(ok(b"5;ext\r\nhello\r\n0;last\r\n\r\n"), b"hello");
        assert_eq!(ok(b"5;a=1;b;c=\"q;\\\"x\"\r\nhello\r\n0\r\n\r\n"), b"hello");
        assert_eq!(ok(b"5 ;a = 1 ; b\r\nhello\r\n0\r\n\r\n"), b"hello");
        assert_eq!(ok(b"5\t;\ta\r\nhello\r\n0\r\n\r\n"), b"hello");
        assert_eq!(ok(b"5;a=\"\"\r\nhello\r\n0\r\n\r\n"), b"hello");
    }

    #[test]
    fn bad_extensions() {
        bad(b"5;\r\nhello\r\n0\r\n\r\n"); // bare semicolon
        bad(b"5;bad[=x\r\nhello\r\n0\r\n\r\n");
        bad(b"5;a=\r\nhello\r\n0\r\n\r\n");
        bad(b"5;a=b c\r\nhello\r\n0\r\n\r\n");
        bad(b"5;a=b \r\nhello\r\n0\r\n\r\n"); // trailing whitespace not followed by ';'
        bad(b"5;a \r\nhello\r\n0\r\n\r\n");
        bad(b"5;a=\"unterminated\r\nhello\r\n0\r\n\r\n");
        bad(b"5;\x00ext\r\nhello\r\n0\r\n\r\n");
        bad(b"5;a\x00\r\nhello\r\n0\r\n\r\n");
        bad(b"5;a\rX\r\nhello\r\n0\r\n\r\n"); // bare CR in extension
        bad(b"5;a\nhello\r\n0\r\n\r\n"); // bare LF after extension
        bad(b"5;\nhello\r\n0\r\n\r\n");
        bad(b"5;a=\"x\"y\r\nhello\r\n0\r\n\r\n");
        bad(b"5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n");
    }

    #[test]
    fn extension_length_is_bounded() {
        let mut msg = b"5;a=".to_vec();
        msg.extend(std::iter::repeat_n(b'x', 64 * 1024));
        msg.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        bad(&msg);
        // Under the cap is fine.
        let mut msg = b"5;a=".to_vec();
        msg.extend(std::iter::repeat_n(b'x', MAX - 10));
        msg.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        assert_eq!(ok(&msg), b"hello");
        // Many leading zeros count too.
        let mut msg = vec![b'0'; MAX + 1];
        msg.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
        bad(&msg);
    }

    #[test]
    fn bad_sizes() {
        bad(b"\r\nhello\r\n0\r\n\r\n"); // empty size
        bad(b"0x5\r\nhello\r\n0\r\n\r\n");
        bad(b"+5\r\nhello\r\n0\r\n\r\n");
        bad(b"-1\r\nhello\r\n0\r\n\r\n");
        bad(b"1_0\r\nhello world!!!!!\r\n0\r\n\r\n");
        bad(b" 5\r\nhello\r\n0\r\n\r\n"); // leading space
        bad(b"5 \r\nhello\r\n0\r\n\r\n"); // trailing space without ';'
        bad(b"5\t\r\nhello\r\n0\r\n\r\n");
        bad(b"g\r\nhello\r\n0\r\n\r\n");
        bad(b"+0\r\n\r\nX");
        bad(b"5\rhello\r\n0\r\n\r\n"); // bare CR terminator
        bad(b"5\nhello\r\n0\r\n\r\n"); // bare LF terminator
        bad(b"5\r\rhello\r\n0\r\n\r\n");
    }

    #[test]
    fn size_overflow() {
        bad(b"FFFFFFFFFFFFFFFFFF\r\n");
        bad(b"10000000000000000\r\n"); // 2^64
        bad(b"4000000000000001\r\n"); // 2^62 + 1
        // 2^62 itself is accepted as a size (the data just never fully arrives here).
        incomplete(b"4000000000000000\r\nabc");
        // Leading zeros do not count towards overflow.
        assert_eq!(ok(b"00000000000000000000001\r\nx\r\n0\r\n\r\n"), b"x");
    }

    #[test]
    fn data_crlf_enforced() {
        bad(b"5\r\nhello0\r\n\r\n"); // missing CRLF after data
        bad(b"5\r\nhello!!\r\n0\r\n\r\n"); // chunk spill
        bad(b"5\r\nhello\n0\r\n\r\n"); // bare LF after data
        bad(b"5\r\nhello\r0\r\n\r\n"); // bare CR after data
        bad(b"5\r\nhello\r\r\n0\r\n\r\n");
    }

    #[test]
    fn trailers() {
        assert_eq!(ok(b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n"), b"hello");
        assert_eq!(
            ok(b"5\r\nhello\r\n0\r\nA: 1\r\nB:2\r\nC:\r\n\r\n"),
            b"hello"
        );
        assert_eq!(ok(b"0\r\nContent-Length: 50\r\n\r\n"), b""); // dropped, never used
        bad(b"5\r\nhello\r\n0\r\n\n"); // bare LF final line
        bad(b"5\r\nhello\r\n0\r\nX: a\n\r\n"); // bare LF in trailer
        bad(b"5\r\nhello\r\n0\r\nX: a\r\n continued\r\n\r\n"); // obs-fold
        bad(b"5\r\nhello\r\n0\r\nX : a\r\n\r\n"); // space before colon
        bad(b"5\r\nhello\r\n0\r\nNoColon\r\n\r\n");
        bad(b"5\r\nhello\r\n0\r\n: v\r\n\r\n");
        bad(b"5\r\nhello\r\n0\r\nX: a\x00b\r\n\r\n");
        bad(b"5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n");
        bad(b"5\r\nhello\r\n0\r\n\rX");
    }

    #[test]
    fn trailer_section_is_bounded() {
        let mut msg = b"0\r\n".to_vec();
        for i in 0..1000 {
            msg.extend_from_slice(format!("X-{i}: value\r\n").as_bytes());
        }
        msg.extend_from_slice(b"\r\n");
        bad(&msg);
    }

    /// Feeds `input` to the proxy's decoder (`Default`) in one piece: Ok(body) at Done.
    fn proxy_decode(input: &[u8]) -> Result<Vec<u8>, ParseError> {
        let mut dec = ChunkedDecoder::default();
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            match dec.decode(&input[pos..])? {
                (n, Decoded::Data { start, end }) => {
                    body.extend_from_slice(&input[pos + start..pos + end]);
                    pos += n;
                }
                (_, Decoded::NeedMore) => return Err(ParseError::BadRequest("incomplete")),
                (_, Decoded::Done) => return Ok(body),
            }
        }
    }

    fn with_trailers(fields: &[(String, usize)]) -> Vec<u8> {
        let mut msg = b"5\r\nhello\r\n0\r\n".to_vec();
        for (name, len) in fields {
            msg.extend_from_slice(format!("{name}: {}\r\n", "t".repeat(*len)).as_bytes());
        }
        msg.extend_from_slice(b"\r\n");
        msg
    }

    #[test]
    fn proxy_limits_take_header_sized_trailer_fields() {
        // A 9,000-byte field (refused before), and fields as large as any a head may carry.
        for len in [9_000, 64 * 1024, 512 * 1024] {
            let msg = with_trailers(&[("X-Trailer".into(), len)]);
            assert_eq!(proxy_decode(&msg).unwrap(), b"hello", "{len}");
        }
        // Many fields, up to the documented 1 MiB section.
        let fields: Vec<(String, usize)> =
            (0..100).map(|i| (format!("X-{i:02}"), 10_000)).collect();
        let msg = with_trailers(&fields);
        assert!(msg.len() - 15 < MAX_TRAILER_SECTION);
        assert_eq!(proxy_decode(&msg).unwrap(), b"hello");
    }

    #[test]
    fn proxy_trailer_section_limit_is_exact() {
        // The section is everything after the last chunk's line: "X: " + value + CRLF + CRLF.
        let value = MAX_TRAILER_SECTION - 3 - 2 - 2;
        let msg = with_trailers(&[("X".into(), value)]);
        assert_eq!(proxy_decode(&msg).unwrap(), b"hello");
        let msg = with_trailers(&[("X".into(), value + 1)]);
        assert_eq!(
            proxy_decode(&msg),
            Err(ParseError::BadRequest("trailer section too large"))
        );
        // A size line keeps its own, smaller cap.
        let mut msg =
            format!("5;x={}\r\nhello\r\n0\r\n\r\n", "e".repeat(MAX_SIZE_LINE)).into_bytes();
        assert_eq!(
            proxy_decode(&msg),
            Err(ParseError::BadRequest("chunk-size line too long"))
        );
        msg = format!(
            "5;x={}\r\nhello\r\n0\r\n\r\n",
            "e".repeat(MAX_SIZE_LINE - 7)
        )
        .into_bytes();
        assert_eq!(proxy_decode(&msg).unwrap(), b"hello");
    }

    #[test]
    fn incomplete_bodies() {
        incomplete(b"");
        incomplete(b"5");
        incomplete(b"5\r\nhel");
        incomplete(b"5\r\nhello\r\n"); // no last chunk
        incomplete(b"5\r\nhello\r\n0\r\n");
        incomplete(b"5\r\nhello\r\n0\r\nX: 1\r\n");
    }

    #[test]
    fn stops_at_end_of_body() {
        let msg = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let (body, used) = decode_all(msg).unwrap();
        assert_eq!(body, b"abc");
        assert_eq!(&msg[used..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn done_is_sticky() {
        let mut dec = ChunkedDecoder::new(MAX);
        assert!(!dec.is_done());
        assert_eq!(dec.decode(b"0\r\n\r\nrest").unwrap(), (5, Decoded::Done));
        assert!(dec.is_done());
        assert_eq!(dec.decode(b"rest").unwrap(), (0, Decoded::Done));
        assert_eq!(dec.decode(b"").unwrap(), (0, Decoded::Done));
    }

    #[test]
    fn errors_are_sticky() {
        let mut dec = ChunkedDecoder::new(MAX);
        assert!(dec.decode(b"z").is_err());
        assert!(dec.decode(b"0\r\n\r\n").is_err());
        assert!(!dec.is_done());
    }

    #[test]
    fn one_data_piece_per_call() {
        let mut dec = ChunkedDecoder::new(MAX);
        let msg = b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n";
        assert_eq!(
            dec.decode(msg).unwrap(),
            (5, Decoded::Data { start: 3, end: 5 })
        );
        assert_eq!(
            dec.decode(&msg[5..]).unwrap(),
            (8, Decoded::Data { start: 5, end: 8 })
        );
        assert_eq!(dec.decode(&msg[13..]).unwrap(), (7, Decoded::Done));
    }

    #[test]
    fn need_more_consumes_framing() {
        let mut dec = ChunkedDecoder::new(MAX);
        assert_eq!(dec.decode(b"1").unwrap(), (1, Decoded::NeedMore));
        assert_eq!(dec.decode(b"0\r").unwrap(), (2, Decoded::NeedMore));
        assert_eq!(dec.decode(b"\n").unwrap(), (1, Decoded::NeedMore));
        assert_eq!(
            dec.decode(b"0123456789abcdef").unwrap(),
            (16, Decoded::Data { start: 0, end: 16 })
        );
        assert_eq!(dec.decode(b"").unwrap(), (0, Decoded::NeedMore));
        assert_eq!(dec.decode(b"\r\n0\r\n\r\n").unwrap(), (7, Decoded::Done));
    }

    const SAMPLES: &[&[u8]] = &[
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        b"000a;x=\"a;b\\\"c\" ; y\r\n0123456789\r\n1\r\n!\r\n0;end\r\nTrailer-A: v\r\nB:\r\n\r\n",
        b"0\r\n\r\n",
        b"1\r\nx\r\n1\r\ny\r\n1\r\nz\r\n0\r\n\r\n",
        b"10\r\n0123456789ABCDEF\r\n0\r\nX-Sum:\tabc \r\n\r\n",
    ];

    #[test]
    fn every_split_point_gives_the_same_body() {
        for sample in SAMPLES {
            let (whole, used) = decode_all(sample).unwrap();
            assert_eq!(used, sample.len());
            for cut in 0..=sample.len() {
                let (body, used) = decode_split(sample, &[cut]).unwrap();
                assert_eq!(
                    body,
                    whole,
                    "cut at {cut} of {:?}",
                    String::from_utf8_lossy(sample)
                );
                assert_eq!(used, sample.len());
            }
            for a in 0..=sample.len() {
                for b in a..=sample.len() {
                    let (body, _) = decode_split(sample, &[a, b]).unwrap();
                    assert_eq!(body, whole);
                }
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        for sample in SAMPLES {
            let cuts: Vec<usize> = (1..sample.len()).collect();
            let (body, used) = decode_split(sample, &cuts).unwrap();
            assert_eq!(body, decode_all(sample).unwrap().0);
            assert_eq!(used, sample.len());
        }
        // Errors are found byte by byte too.
        let cuts: Vec<usize> = (1..12).collect();
        assert!(decode_split(b"5\r\nhello\r\r\n0\r\n\r\n", &cuts).is_err());
    }

    #[test]
    fn never_panics_on_garbage() {
        // A cheap deterministic fuzz: every byte value at every position of a valid body.
        let base = SAMPLES[1];
        for pos in 0..base.len() {
            for v in 0..=255u8 {
                let mut m = base.to_vec();
                m[pos] = v;
                let _ = decode_all(&m);
                let _ = decode_split(&m, &[pos]);
            }
        }
    }

    #[test]
    fn encoder() {
        let mut out = Vec::new();
        write_chunk_header(0, &mut out);
        write_chunk_header(10, &mut out);
        write_chunk_header(4096, &mut out);
        write_chunk_header(0xdead_beef, &mut out);
        assert_eq!(out, b"0\r\na\r\n1000\r\ndeadbeef\r\n");
        // Round trip through the decoder.
        let mut msg = Vec::new();
        write_chunk_header(5, &mut msg);
        msg.extend_from_slice(b"hello\r\n");
        msg.extend_from_slice(LAST_CHUNK);
        assert_eq!(ok(&msg), b"hello");
    }
}
