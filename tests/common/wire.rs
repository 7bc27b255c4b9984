//! A strict, independent reader of what a backend received: splits a connection's raw bytes into
//! requests the way the most literal RFC 9112 server would, and refuses anything another server
//! could frame differently (both or repeated framing fields, a coding other than a lone
//! `chunked`, bare CR/LF, obs-fold, chunk extensions, leftovers). The smuggling tests assert on
//! it rather than on the lenient backend parser.

use super::{Backend, show};

/// Every request the backend received, over all its connections, read strictly; panics on any
/// byte sequence a server could frame differently (an incomplete last request included).
#[track_caller]
pub fn received(b: &Backend) -> Vec<WireRequest> {
    let mut all = Vec::new();
    for i in 0..b.accepted() {
        let raw = b.raw(i);
        match split_requests(&raw) {
            Ok(reqs) => all.extend(reqs),
            Err(e) => panic!(
                "backend connection {i} received ambiguous bytes: {e}: {}",
                show(&raw)
            ),
        }
    }
    all
}

/// The bytes of backend connection `i`, if it was accepted and registered yet.
pub fn raw_of(b: &Backend, i: usize) -> Option<Vec<u8>> {
    let logs = b.state.raw.lock().unwrap();
    logs.get(i).map(|l| l.lock().unwrap().clone())
}

/// The targets of `received`, in order.
#[track_caller]
pub fn targets(b: &Backend) -> Vec<String> {
    received(b).into_iter().map(|r| r.target).collect()
}

/// One request as read off the wire.
#[derive(Debug, Clone)]
pub struct WireRequest {
    pub method: String,
    pub target: String,
    pub version: String,
    pub fields: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub chunked: bool,
}

impl WireRequest {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Splits all bytes received on one connection into requests; Err names the first ambiguity.
pub fn split_requests(raw: &[u8]) -> Result<Vec<WireRequest>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let (req, used) = one_request(&raw[pos..])
            .map_err(|e| format!("{e} (request {} at byte {pos})", out.len() + 1))?;
        out.push(req);
        pos += used;
    }
    Ok(out)
}

fn one_request(raw: &[u8]) -> Result<(WireRequest, usize), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("incomplete head")?;
    let head = &raw[..end + 2];
    for (i, &b) in head.iter().enumerate() {
        let ok = match b {
            b'\r' => head.get(i + 1) == Some(&b'\n'),
            b'\n' => i > 0 && head[i - 1] == b'\r',
            b'\t' => true,
            _ => b >= 0x20 && b != 0x7f,
        };
        if !ok {
            return Err(format!("byte {b:#x} at {i} of the head"));
        }
    }
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or("");
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(format!("request line {line:?}"));
    };
    if method.is_empty() || !method.bytes().all(is_tchar) || target.is_empty() {
        return Err(format!("request line {line:?}"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(format!("version {version:?}"));
    }
    let mut fields = Vec::new();
    for l in lines.filter(|l| !l.is_empty()) {
        let (n, v) = l.split_once(':').ok_or(format!("field line {l:?}"))?;
        if n.is_empty() || !n.bytes().all(is_tchar) {
            return Err(format!("field name {n:?} (obs-fold or whitespace?)"));
        }
        fields.push((n.to_string(), v.trim_matches([' ', '\t']).to_string()));
    }
    let named = |name: &str| -> Vec<&str> {
        fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let cl = named("content-length");
    let te = named("transfer-encoding");
    let head_len = end + 4;
    let mut req = WireRequest {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        fields: fields.clone(),
        body: Vec::new(),
        chunked: false,
    };
    match (&cl[..], &te[..]) {
        ([], []) => Ok((req, head_len)),
        ([n], []) => {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.len() > 15 {
                return Err(format!("Content-Length {n:?}"));
            }
            let n: usize = n.parse().map_err(|_| format!("Content-Length {n:?}"))?;
            let body = raw
                .get(head_len..head_len + n)
                .ok_or(format!("body shorter than Content-Length {n}"))?;
            req.body = body.to_vec();
            Ok((req, head_len + n))
        }
        ([], ["chunked"]) if version == "HTTP/1.1" => {
            let (body, used) = dechunk(&raw[head_len..])?;
            req.body = body;
            req.chunked = true;
            Ok((req, head_len + used))
        }
        _ => Err(format!(
            "ambiguous framing: Content-Length {cl:?}, Transfer-Encoding {te:?}"
        )),
    }
}

/// `*(HEXDIG+ CRLF data CRLF) 0 CRLF *(trailer CRLF) CRLF`, nothing else.
fn dechunk(raw: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let mut body = Vec::new();
    let mut pos = 0;
    let line = |pos: usize| -> Result<(&[u8], usize), String> {
        let rest = &raw[pos..];
        let lf = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("incomplete chunked body")?;
        Ok((&rest[..lf], pos + lf + 2))
    };
    loop {
        let (size, next) = line(pos)?;
        if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
            return Err(format!(
                "chunk-size line {:?}",
                String::from_utf8_lossy(size)
            ));
        }
        let n = usize::from_str_radix(std::str::from_utf8(size).unwrap_or("x"), 16)
            .map_err(|e| e.to_string())?;
        pos = next;
        if n == 0 {
            break;
        }
        let data = raw.get(pos..pos + n).ok_or("incomplete chunk")?;
        body.extend_from_slice(data);
        pos += n;
        if raw.get(pos..pos + 2) != Some(b"\r\n") {
            return Err("chunk data not followed by CRLF".into());
        }
        pos += 2;
    }
    loop {
        let (trailer, next) = line(pos)?;
        pos = next;
        if trailer.is_empty() {
            return Ok((body, pos));
        }
    }
}
