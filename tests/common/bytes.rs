//! Heads, bodies and patterns: byte-exact bodies, chunked encoding, escaped display, and the
//! deadline-bounded reader both the backends and the client use.

use super::*;

/// Deterministic, non-repeating-looking bytes for byte-exact body checks.
pub fn pattern(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    let mut x: u32 = 0x1234_5678;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push((x as u8) ^ (i as u8));
    }
    v
}

/// Asserts two byte strings are equal without dumping megabytes on failure.
#[track_caller]
pub fn assert_bytes_eq(actual: &[u8], expected: &[u8], what: &str) {
    if actual == expected {
        return;
    }
    let first = actual
        .iter()
        .zip(expected.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    let lo = first.saturating_sub(16);
    let hi_a = (first + 32).min(actual.len());
    let hi_e = (first + 32).min(expected.len());
    panic!(
        "{what}: bodies differ: actual {} bytes, expected {} bytes, first difference at {first}\n  actual[{lo}..]:   {}\n  expected[{lo}..]: {}",
        actual.len(),
        expected.len(),
        show(&actual[lo.min(actual.len())..hi_a]),
        show(&expected[lo.min(expected.len())..hi_e])
    );
}

/// Sends `req` on a fresh connection to `rw`; asserts an answer with one of `statuses`, then a
/// closed connection. Returns the answer for further checks.
#[track_caller]
pub fn expect_rejected(rw: &Ringway, req: &[u8], statuses: &[u16], what: &str) -> Response {
    let mut c = rw.connect();
    // The proxy may close before reading everything: a failed write is fine, the answer counts.
    let _ = c.try_send(req);
    let r = match c.try_read_response(false, IO_TIMEOUT) {
        Ok(r) => r,
        Err(e) => panic!(
            "{what}: request {:?}: expected {statuses:?}, got no response: {e}",
            show(req)
        ),
    };
    assert!(
        statuses.contains(&r.status),
        "{what}: request {:?}: expected {statuses:?}, got {}",
        show(req),
        r.describe()
    );
    assert!(
        c.is_closed(),
        "{what}: request {:?}: connection stayed open after {}",
        show(req),
        r.status
    );
    r
}

/// Bytes as a readable escaped string (for messages).
pub fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(4000) {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    if b.len() > 4000 {
        s.push_str(&format!("...(+{} bytes)", b.len() - 4000));
    }
    s
}

/// Encodes `body` as chunked with chunk sizes cycling through `sizes`.
pub fn chunk(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 8 + 16);
    let mut i = 0;
    let mut k = 0;
    while i < body.len() {
        let n = sizes[k % sizes.len()].max(1).min(body.len() - i);
        k += 1;
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&body[i..i + n]);
        out.extend_from_slice(b"\r\n");
        i += n;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// Parsed header fields of a head: (name, value) with value trimmed.
pub(crate) fn parse_fields(lines: &str) -> Vec<(String, String)> {
    lines
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.to_string(), v.trim().to_string()))
        })
        .collect()
}

pub(crate) fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub(crate) fn headers_in<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// A source of bytes with a carry-over buffer and an overall deadline per operation.
pub(crate) struct Reader<'a> {
    pub(crate) stream: &'a mut TcpStream,
    pub(crate) buf: &'a mut Vec<u8>,
    pub(crate) log: Option<&'a Mutex<Vec<u8>>>,
    pub(crate) deadline: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    Data,
    Eof,
    Timeout,
    Reset,
}

impl Reader<'_> {
    pub(crate) fn fill(&mut self) -> Fill {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Fill::Timeout;
        }
        let _ = self
            .stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))));
        let mut tmp = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut tmp) {
                Ok(0) => return Fill::Eof,
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    if let Some(log) = self.log {
                        log.lock().unwrap().extend_from_slice(&tmp[..n]);
                    }
                    return Fill::Data;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Fill::Timeout;
                }
                Err(_) => return Fill::Reset,
            }
        }
    }

    /// Reads until the buffer holds a complete head; returns its length (CRLFCRLF included).
    pub(crate) fn head(&mut self) -> Result<usize, Fill> {
        loop {
            if let Some(i) = find(self.buf, b"\r\n\r\n") {
                return Ok(i + 4);
            }
            match self.fill() {
                Fill::Data => {}
                other => return Err(other),
            }
        }
    }

    /// Takes exactly n bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<Vec<u8>, (Vec<u8>, Fill)> {
        while self.buf.len() < n {
            match self.fill() {
                Fill::Data => {}
                other => return Err((std::mem::take(self.buf), other)),
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    pub(crate) fn line(&mut self) -> Result<Vec<u8>, Fill> {
        loop {
            if let Some(i) = find(self.buf, b"\r\n") {
                return Ok(self.buf.drain(..i + 2).collect());
            }
            match self.fill() {
                Fill::Data => {}
                other => return Err(other),
            }
        }
    }

    /// Decodes a chunked body. Returns (decoded, raw, trailers, end).
    pub(crate) fn chunked(&mut self) -> (Vec<u8>, Vec<u8>, Vec<u8>, Fill) {
        let mut body = Vec::new();
        let mut raw = Vec::new();
        loop {
            let line = match self.line() {
                Ok(l) => l,
                Err(f) => {
                    raw.append(self.buf);
                    return (body, raw, Vec::new(), f);
                }
            };
            raw.extend_from_slice(&line);
            let text = String::from_utf8_lossy(&line[..line.len() - 2]).to_string();
            let size_txt = text.split(';').next().unwrap().trim();
            let Ok(size) = usize::from_str_radix(size_txt, 16) else {
                // Not valid chunked framing: report what we have as a protocol violation.
                return (body, raw, Vec::new(), Fill::Reset);
            };
            if size == 0 {
                let mut trailers = Vec::new();
                loop {
                    match self.line() {
                        Ok(l) => {
                            raw.extend_from_slice(&l);
                            if l == b"\r\n" {
                                return (body, raw, trailers, Fill::Data);
                            }
                            trailers.extend_from_slice(&l);
                        }
                        Err(f) => return (body, raw, trailers, f),
                    }
                }
            }
            match self.take(size + 2) {
                Ok(d) => {
                    raw.extend_from_slice(&d);
                    if &d[size..] != b"\r\n" {
                        return (body, raw, Vec::new(), Fill::Reset);
                    }
                    body.extend_from_slice(&d[..size]);
                }
                Err((rest, f)) => {
                    raw.extend_from_slice(&rest);
                    body.extend_from_slice(&rest[..rest.len().min(size)]);
                    return (body, raw, Vec::new(), f);
                }
            }
        }
    }

    pub(crate) fn until_eof(&mut self) -> (Vec<u8>, Fill) {
        loop {
            match self.fill() {
                Fill::Data => {}
                other => return (std::mem::take(self.buf), other),
            }
        }
    }
}
