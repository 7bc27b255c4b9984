//! Pure HTTP/1.1: head parsing over httparse, framing rules, the chunked codec, hop-by-hop rules,
//! head writing and status pages. No I/O, no config files, no shards: everything here can be fuzzed
//! and benchmarked without a socket.

pub mod chunked;
pub mod error;
pub mod h2;
pub mod h2_head;
pub mod h2_tunnel;
pub mod hpack;
pub mod request;
pub mod response;
pub mod rewrite;
pub mod status;
pub mod uri;
pub(crate) mod util;

pub use chunked::{ChunkedDecoder, Decoded};
pub use error::ParseError;
pub use request::{BodyFraming, Method, RequestHead, Version};
pub use response::{ResponseFraming, ResponseHead};

/// A byte range into the buffer a head was parsed from. Heads keep offsets, not copies, so
/// parsing allocates nothing beyond the header index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    #[inline]
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.end as usize]
    }

    /// The span as a range of indexes, for a checked `get`.
    #[inline]
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One header field as offsets into the head buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderSpan {
    pub name: Span,
    pub value: Span,
}

/// All values of the field `name` (case-insensitive) among `fields` of the head in `b`, joined
/// with ", " into `out` (RFC 9110 §5.3). False when the field is absent.
pub fn join_field(fields: &[HeaderSpan], b: &[u8], name: &[u8], out: &mut Vec<u8>) -> bool {
    let mut found = false;
    for f in fields {
        if f.name.get(b).eq_ignore_ascii_case(name) {
            if found {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(f.value.get(b));
            found = true;
        }
    }
    found
}
