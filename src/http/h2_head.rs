//! A response head the request path writes straight in HTTP/2's form, for an HTTP/2 stream:
//! its status, its body's framing and its fields as HPACK literals (`http::hpack`), in a
//! record the stream (`proxy::h2::stream`) sends as HEADERS without reading any text. Writing
//! the head as HTTP/1.1 lines and reading them back cost about 2,000 instructions of a small
//! proxied response.
//!
//! The record goes down the same byte path as an HTTP/1.1 head would, body bytes after it,
//! so the relays need not know which form they carry. It starts with a NUL, which no
//! HTTP/1.1 head can: `response_head` tells the two apart by the first byte.
//!
//! Layout: `[0]` NUL; `[1..5]` the record's length (u32, little-endian); `[5..7]` the status
//! (u16); `[7]` flags (`CHUNKED`, `LENGTH`); `[8..16]` the Content-Length (u64, when
//! `LENGTH`); then the HPACK block.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::h2::{HeadFields, ResponseHead, Want, body_of, carried};
use super::hpack;
use super::rewrite::HeadOut;

const MARK: u8 = 0;
const HEADER: usize = 16;
/// The body follows chunked in the path's bytes (as `Transfer-Encoding: chunked` says).
const CHUNKED: u8 = 1;
/// A Content-Length was among the fields.
const LENGTH: u8 = 2;

/// Whether `b` starts with a record (else it is HTTP/1.1 text).
pub fn is_record(b: &[u8]) -> bool {
    b.first() == Some(&MARK)
}

/// Writes a response head as a record (`HeadOut` for `http::rewrite::write_response_head`).
pub struct Encoder {
    out: Vec<u8>,
    status: u16,
    length: Option<u64>,
    chunked: bool,
    /// A field HTTP/2 cannot carry was written: there is no record.
    refused: bool,
    /// For values written by a closure (`field_with`): HPACK states a value's length first.
    scratch: Vec<u8>,
}

impl Encoder {
    /// Writes into `out` (emptied first).
    pub fn new(mut out: Vec<u8>) -> Encoder {
        out.clear();
        out.resize(HEADER, 0);
        Encoder {
            out,
            status: 0,
            length: None,
            chunked: false,
            refused: false,
            scratch: Vec::new(),
        }
    }

    /// The record; or, when a field could not go into HTTP/2 (a control character in a
    /// value, a name that is not a token), the buffer back, for the head to be written as
    /// text: the stream then refuses that text as it always has.
    pub fn finish(self) -> Result<Vec<u8>, Vec<u8>> {
        let mut out = self.out;
        let Ok(len) = u32::try_from(out.len()) else {
            return Err(out);
        };
        if self.refused {
            return Err(out);
        }
        out[0] = MARK;
        out[1..5].copy_from_slice(&len.to_le_bytes());
        out[5..7].copy_from_slice(&self.status.to_le_bytes());
        let mut flags = 0;
        if self.chunked {
            flags |= CHUNKED;
        }
        if self.length.is_some() {
            flags |= LENGTH;
        }
        out[7] = flags;
        out[8..16].copy_from_slice(&self.length.unwrap_or(0).to_le_bytes());
        Ok(out)
    }
}

impl HeadOut for Encoder {
    fn status_line(&mut self, code: u16, _reason: &[u8]) {
        self.status = code;
    }

    fn field(&mut self, name: &[u8], value: &[u8]) {
        if carried(name, value, &mut self.length, &mut self.chunked)
            && hpack::literal(&mut self.out, name, value).is_err()
        {
            self.refused = true;
        }
    }

    fn field_with(&mut self, name: &[u8], value: impl FnOnce(&mut Vec<u8>) -> bool) -> bool {
        let mut v = std::mem::take(&mut self.scratch);
        v.clear();
        let written = value(&mut v);
        if written {
            self.field(name, &v);
        }
        self.scratch = v;
        written
    }
}

/// A record's head (`len` its whole length, the body after it), or None while incomplete.
pub fn read(
    b: &Bytes,
    head_request: bool,
    want: Want,
) -> Result<Option<ResponseHead>, &'static str> {
    let (Some(header), Some(len)) = (b.get(..HEADER), stated_len(b)) else {
        return Ok(None);
    };
    if len < HEADER {
        return Err("a head record too short");
    }
    if b.len() < len {
        return Ok(None);
    }
    let status = StatusCode::from_u16(u16::from_le_bytes([header[5], header[6]]))
        .map_err(|_| "a bad status")?;
    let flags = header[7];
    let length = (flags & LENGTH != 0).then(|| {
        let mut n = [0u8; 8];
        n.copy_from_slice(&header[8..16]);
        u64::from_le_bytes(n)
    });
    let block = b.slice(HEADER..len);
    let fields = match want {
        Want::Encoded => HeadFields::Encoded(block),
        Want::Map => HeadFields::Map(as_map(&block)?),
    };
    Ok(Some(ResponseHead {
        len,
        status,
        fields,
        body: body_of(status, head_request, flags & CHUNKED != 0, length),
    }))
}

/// A record's fields as a map (rare: an answer to an extended CONNECT that is not its 101).
fn as_map(block: &[u8]) -> Result<HeaderMap, &'static str> {
    let fields = hpack::read_literals(block).ok_or("an unreadable head record")?;
    let mut map = HeaderMap::with_capacity(fields.len());
    for (name, value) in fields {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(&name),
            HeaderValue::from_bytes(&value),
        ) else {
            return Err("a response field HTTP/2 cannot carry");
        };
        map.append(n, v);
    }
    Ok(map)
}

/// A record's fields, (name, value) pairs (for the logs' `$sent_http_*`); None for text.
pub fn fields(head: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if !is_record(head) {
        return None;
    }
    hpack::read_literals(head.get(HEADER..stated_len(head)?)?)
}

/// The record's length as its header states it (None before the header is whole).
fn stated_len(b: &[u8]) -> Option<usize> {
    let len: [u8; 4] = b.get(1..5)?.try_into().ok()?;
    (b.len() >= HEADER).then_some(u32::from_le_bytes(len) as usize)
}

/// Gives a record whose body was to follow chunked a Content-Length of `n` instead (a stored
/// compressed variant, whose length is known): `cache::variant::with_length` for records.
pub fn set_length(record: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let digits = super::util::u64_digits(n, &mut digits);
    if record.len() < HEADER || hpack::literal(record, b"content-length", digits).is_err() {
        return;
    }
    let len = record.len() as u32;
    record[1..5].copy_from_slice(&len.to_le_bytes());
    record[7] = (record[7] & !CHUNKED) | LENGTH;
    record[8..16].copy_from_slice(&n.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(f: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        f(&mut e);
        e.finish().unwrap()
    }

    #[test]
    fn a_record_reads_back_with_its_status_framing_and_fields() {
        let rec = encoded(|e| {
            e.status_line(200, b"OK");
            e.field(b"Server", b"nginx");
            e.field(b"Content-Length", b"24");
            e.field(b"Connection", b"keep-alive");
            e.field_with(b"ETag", |v| {
                v.extend_from_slice(b"W/\"x\"");
                true
            });
            assert!(!e.field_with(b"Location", |_| false));
        });
        assert!(is_record(&rec));
        let mut b = rec.clone();
        b.extend_from_slice(b"the body");
        let h = read(&Bytes::from(b), false, Want::Encoded)
            .unwrap()
            .unwrap();
        assert_eq!(h.len, rec.len());
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.body, super::super::h2::ResponseBody::Length(24));
        let HeadFields::Encoded(block) = &h.fields else {
            panic!("a map")
        };
        let fields = hpack::read_literals(block).unwrap();
        let names: Vec<&[u8]> = fields.iter().map(|(n, _)| &n[..]).collect();
        assert_eq!(names, [&b"server"[..], b"content-length", b"etag"]);
        assert_eq!(fields, fields_of(&rec));
    }

    fn fields_of(rec: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        fields(rec).unwrap()
    }

    #[test]
    fn chunked_framing_and_a_head_request() {
        let rec = encoded(|e| {
            e.status_line(404, b"");
            e.field(b"Transfer-Encoding", b"chunked");
        });
        let b = Bytes::from(rec.clone());
        let chunked = read(&b, false, Want::Map).unwrap().unwrap();
        assert_eq!(chunked.body, super::super::h2::ResponseBody::Chunked);
        assert!(matches!(chunked.fields, HeadFields::Map(ref m) if m.is_empty()));
        let head = read(&b, true, Want::Encoded).unwrap().unwrap();
        assert_eq!(head.body, super::super::h2::ResponseBody::None);
        let mut with_length = rec;
        set_length(&mut with_length, 7);
        let h = read(&Bytes::from(with_length), false, Want::Encoded)
            .unwrap()
            .unwrap();
        assert_eq!(h.body, super::super::h2::ResponseBody::Length(7));
    }

    #[test]
    fn a_field_http2_cannot_carry_gives_no_record() {
        let mut e = Encoder::new(Vec::new());
        e.status_line(200, b"OK");
        e.field(b"X-Bad", b"a\x01b");
        assert!(e.finish().is_err());
    }

    #[test]
    fn an_incomplete_or_short_record() {
        let rec = encoded(|e| e.status_line(204, b""));
        let b = Bytes::from(rec[..rec.len() - 1].to_vec());
        assert!(read(&b, false, Want::Encoded).unwrap().is_none());
        let mut short = rec.clone();
        short[1..5].copy_from_slice(&3u32.to_le_bytes());
        assert!(read(&Bytes::from(short), false, Want::Encoded).is_err());
        let mut bad_status = rec;
        bad_status[5..7].copy_from_slice(&7u16.to_le_bytes());
        assert!(read(&Bytes::from(bad_status), false, Want::Encoded).is_err());
    }
}
