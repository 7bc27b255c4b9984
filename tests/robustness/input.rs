//! What the client sends: valid requests of many shapes, optionally pipelined in pairs, then
//! optionally mutated byte-wise or structurally, and how the bytes go out and the client ends.

use super::rng::Rng;

/// One valid request as generated (before any mutation).
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The target exactly as sent.
    pub target: String,
    pub http10: bool,
    pub fields: Vec<(String, String)>,
    pub body: Body,
    /// `Connection: Upgrade` + `Upgrade: websocket`.
    pub upgrade: bool,
}

#[derive(Clone, Debug)]
pub enum Body {
    None,
    Length(Vec<u8>),
    /// The body and the chunk sizes it is cut into, with trailer fields.
    Chunked(Vec<u8>, Vec<usize>, Vec<(String, String)>),
}

impl Body {
    pub fn data(&self) -> &[u8] {
        match self {
            Body::None => &[],
            Body::Length(b) | Body::Chunked(b, _, _) => b,
        }
    }
}

impl Request {
    pub fn head(&self) -> Vec<u8> {
        let version = if self.http10 { "HTTP/1.0" } else { "HTTP/1.1" };
        let mut out = format!("{} {} {version}\r\n", self.method, self.target);
        for (n, v) in &self.fields {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    pub fn body_bytes(&self) -> Vec<u8> {
        match &self.body {
            Body::None => Vec::new(),
            Body::Length(b) => b.clone(),
            Body::Chunked(b, sizes, trailers) => {
                let mut out = Vec::new();
                let mut i = 0;
                let mut k = 0;
                while i < b.len() {
                    let n = sizes[k % sizes.len()].clamp(1, b.len() - i);
                    k += 1;
                    out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                    out.extend_from_slice(&b[i..i + n]);
                    out.extend_from_slice(b"\r\n");
                    i += n;
                }
                out.extend_from_slice(b"0\r\n");
                for (n, v) in trailers {
                    out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                out
            }
        }
    }

    /// The target an upstream must see with `proxy_pass http://backend;` (no URI part): the
    /// client's, as sent; for absolute-form only its path and query (RFC 9112 §3.2.2).
    pub fn forwarded_target(&self) -> String {
        if let Some(rest) = self.target.strip_prefix("http://") {
            match rest.find('/') {
                Some(i) => rest[i..].to_string(),
                None => "/".to_string(),
            }
        } else {
            self.target.clone()
        }
    }
}

/// How the client writes its bytes.
#[derive(Clone, Copy, Debug)]
pub enum Send {
    /// Everything in one write.
    AllAtOnce,
    /// The first request's head, a pause, then the rest (a client awaiting `100 Continue`).
    HeadThenRest { pause_ms: u64 },
    /// In pieces cut at these offsets, with a pause after each.
    Pieces { cuts: [usize; 2], pause_ms: u64 },
}

/// What the client does once its bytes are out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientEnd {
    /// Reads the responses (until all arrived, the connection closes or the deadline passes).
    Read,
    /// Half-closes (shutdown write), then reads.
    HalfCloseThenRead,
    /// Closes at once without reading.
    Close,
    /// Resets at once (SO_LINGER 0).
    Reset,
    /// Reads until the first bytes of an answer arrive, then closes (mid-response).
    CloseOnFirstBytes,
}

/// The client side of one case.
#[derive(Clone, Debug)]
pub struct ClientPlan {
    /// The requests as generated; `bytes` is them serialised, then mutated when `mutations` is
    /// not empty.
    pub requests: Vec<Request>,
    pub bytes: Vec<u8>,
    /// The first request's head length within `bytes` before mutation (for `HeadThenRest`).
    pub first_head_len: usize,
    pub mutations: Vec<String>,
    pub send: Send,
    pub end: ClientEnd,
}

impl ClientPlan {
    pub fn mutated(&self) -> bool {
        !self.mutations.is_empty()
    }
}

const TARGETS: &[&str] = &[
    "/",
    "/index.html",
    "/a/b/c?x=1&y=2",
    "/a%2Fb/%7Euser",
    "/%41%42%43",
    "/a%20b?q=%2F%3F",
    "/files/a+b;v=1",
    "/~user/",
    "/deep/er/and/deeper/still/",
    "/search?q=caf%C3%A9&page=2",
    "/api/v1/items/42",
    "/a?",
    "/a#frag",
    "/%25",
    "//double//slash",
    "/x.php?redirect=http://e.example/",
];

const METHODS: &[&str] = &[
    "GET", "GET", "GET", "HEAD", "POST", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH",
    "CONNECT", "PROPFIND",
];

const EXTRA_FIELDS: &[(&str, &str)] = &[
    ("User-Agent", "robust/1.0"),
    ("Accept", "*/*"),
    ("Accept-Encoding", "gzip, br"),
    ("Cookie", "a=b; c=d"),
    ("Cache-Control", "no-cache"),
    ("Connection", "keep-alive"),
    ("Connection", "close"),
    ("TE", "trailers"),
    ("Via", "1.1 edge"),
    ("Max-Forwards", "3"),
    ("X-Forwarded-For", "192.0.2.7"),
    ("Range", "bytes=0-10"),
    ("If-None-Match", "\"abc\""),
    ("Proxy-Connection", "keep-alive"),
    ("Keep-Alive", "timeout=5"),
    ("Authorization", "Basic dXNlcjpwYXNz"),
    ("Content-Type", "application/json"),
    ("X-Empty", ""),
];

fn body_len(rng: &mut Rng) -> usize {
    match rng.weighted(&[10, 40, 30, 12, 8]) {
        0 => 0,
        1 => rng.range(1, 100),
        2 => rng.range(100, 5000),
        3 => rng.range(5000, 40_000),
        _ => rng.range(40_000, 70_000),
    }
}

fn body_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let start = rng.byte();
    (0..n)
        .map(|i| b'a' + (start as usize + i * 7 + i / 13) as u8 % 26)
        .collect()
}

/// One valid request of a random shape.
pub fn request(rng: &mut Rng, first: bool) -> Request {
    let method = rng.pick(METHODS).to_string();
    let http10 = rng.chance(8);
    let mut target = rng.pick(TARGETS).to_string();
    if rng.chance(10) {
        target = format!("http://test.local{target}");
    } else if rng.chance(3) {
        let n = rng.range(500, 3000);
        target = format!("/long/{}", rng.letters(n));
    }
    if method == "OPTIONS" && rng.chance(30) {
        target = "*".into();
    }
    if method == "CONNECT" {
        target = "test.local:443".into();
    }
    let mut fields = Vec::new();
    if !http10 || rng.chance(50) {
        fields.push(("Host".to_string(), "test.local".to_string()));
    }
    for _ in 0..rng.below(5) {
        let (n, v) = rng.pick(EXTRA_FIELDS);
        if !fields.iter().any(|(f, _)| f.eq_ignore_ascii_case(n)) {
            fields.push((n.to_string(), v.to_string()));
        }
    }
    if rng.chance(10) {
        let n = rng.range(1, 4000);
        fields.push(("X-Pad".into(), rng.letters(n)));
    }
    let upgrade = method == "GET" && !http10 && rng.chance(12);
    if upgrade {
        fields.retain(|(n, _)| !n.eq_ignore_ascii_case("connection"));
        fields.push(("Connection".into(), "Upgrade".into()));
        fields.push(("Upgrade".into(), "websocket".into()));
        fields.push((
            "Sec-WebSocket-Key".into(),
            "dGhlIHNhbXBsZSBub25jZQ==".into(),
        ));
        fields.push(("Sec-WebSocket-Version".into(), "13".into()));
    }
    let wants_body = matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "PROPFIND");
    let body = if (wants_body && rng.chance(85)) || (!wants_body && rng.chance(12)) {
        let n = body_len(rng);
        let data = body_bytes(rng, n);
        if !http10 && rng.chance(35) {
            let sizes: Vec<usize> = (0..rng.range(1, 4))
                .map(|_| *rng.pick(&[1, 7, 100, 1000, 4096, 16384, 65536]))
                .collect();
            let trailers = if rng.chance(20) {
                vec![("X-Trailer".to_string(), "t1".to_string())]
            } else {
                Vec::new()
            };
            fields.push(("Transfer-Encoding".into(), "chunked".into()));
            Body::Chunked(data, sizes, trailers)
        } else {
            fields.push(("Content-Length".into(), data.len().to_string()));
            Body::Length(data)
        }
    } else {
        Body::None
    };
    // Expect on a body, and (the case that stops a shard) on a request without one.
    let expect = !http10 && rng.chance(if matches!(body, Body::None) { 8 } else { 30 });
    if expect {
        fields.push(("Expect".into(), "100-continue".into()));
    }
    // Shuffle the order of the fields a little (Host need not come first).
    if fields.len() > 1 && rng.chance(30) {
        let i = rng.below(fields.len());
        let j = rng.below(fields.len());
        fields.swap(i, j);
    }
    let _ = first;
    Request {
        method,
        target,
        http10,
        fields,
        body,
        upgrade,
    }
}

/// The client side of a case: one request or a pipelined pair, maybe mutated.
pub fn plan(rng: &mut Rng) -> ClientPlan {
    let mut requests = vec![request(rng, true)];
    if rng.chance(18) && !requests[0].upgrade {
        let mut second = request(rng, false);
        // Mostly a plain GET behind the first.
        if rng.chance(60) {
            second = Request {
                method: "GET".into(),
                target: "/second".into(),
                http10: false,
                fields: vec![("Host".into(), "test.local".into())],
                body: Body::None,
                upgrade: false,
            };
        }
        requests.push(second);
    }
    let first_head_len = requests[0].head().len();
    let mut bytes = Vec::new();
    for r in &requests {
        bytes.extend_from_slice(&r.head());
        bytes.extend_from_slice(&r.body_bytes());
    }
    let mut mutations = Vec::new();
    if rng.chance(45) {
        for _ in 0..rng.range(1, 3) {
            mutations.push(mutate(rng, &mut bytes, first_head_len));
        }
    }
    let send = match rng.weighted(&[70, 15, 15]) {
        0 => Send::AllAtOnce,
        1 => Send::HeadThenRest {
            pause_ms: rng.range(10, 60) as u64,
        },
        _ => {
            let mut cuts = [rng.below(bytes.len() + 1), rng.below(bytes.len() + 1)];
            cuts.sort();
            Send::Pieces {
                cuts,
                pause_ms: rng.range(1, 25) as u64,
            }
        }
    };
    let end = match rng.weighted(&[80, 5, 5, 5, 5]) {
        0 => ClientEnd::Read,
        1 => ClientEnd::HalfCloseThenRead,
        2 => ClientEnd::Close,
        3 => ClientEnd::Reset,
        _ => ClientEnd::CloseOnFirstBytes,
    };
    ClientPlan {
        requests,
        bytes,
        first_head_len,
        mutations,
        send,
        end,
    }
}

/// Positions of the line ends (`\r\n`) within the first head.
fn line_ends(bytes: &[u8], head_len: usize) -> Vec<usize> {
    let head_len = head_len.min(bytes.len());
    (0..head_len.saturating_sub(1))
        .filter(|&i| bytes[i] == b'\r' && bytes[i + 1] == b'\n')
        .collect()
}

const INTERESTING: &[u8] = b"\0\r\n \t:;,\"\\/%\x7f\x80\xff0aZ";

/// Applies one random mutation to `bytes`; returns what it did.
pub fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, head_len: usize) -> String {
    let len = bytes.len();
    // Most mutations aim at the head, where the parser is.
    let pos = |rng: &mut Rng| {
        if len == 0 {
            0
        } else if rng.chance(75) {
            rng.below(head_len.clamp(1, len))
        } else {
            rng.below(len)
        }
    };
    match rng.below(17) {
        0 if len > 0 => {
            let i = pos(rng);
            let bit = 1u8 << rng.below(8);
            bytes[i] ^= bit;
            format!("flip bit {bit:#x} at {i}")
        }
        1 => {
            let i = pos(rng);
            let n = rng.range(1, 3);
            let ins: Vec<u8> = (0..n)
                .map(|_| {
                    if rng.chance(70) {
                        *rng.pick(INTERESTING)
                    } else {
                        rng.byte()
                    }
                })
                .collect();
            bytes.splice(i..i, ins.iter().copied());
            format!("insert {ins:?} at {i}")
        }
        2 if len > 0 => {
            let i = pos(rng);
            let n = rng.range(1, 6).min(len - i);
            bytes.drain(i..i + n);
            format!("delete {n} at {i}")
        }
        3 => {
            // Duplicate a field line.
            let ends = line_ends(bytes, head_len);
            if ends.len() < 3 {
                return "no-op".into();
            }
            let k = rng.range(0, ends.len() - 3);
            let (a, b) = (ends[k] + 2, ends[k + 1] + 2);
            let line = bytes[a..b].to_vec();
            bytes.splice(b..b, line.iter().copied());
            format!("duplicate line {:?}", String::from_utf8_lossy(&line))
        }
        4 => {
            // Drop a field line.
            let ends = line_ends(bytes, head_len);
            if ends.len() < 3 {
                return "no-op".into();
            }
            let k = rng.range(0, ends.len() - 3);
            let (a, b) = (ends[k] + 2, ends[k + 1] + 2);
            let line: Vec<u8> = bytes.drain(a..b).collect();
            format!("drop line {:?}", String::from_utf8_lossy(&line))
        }
        5 | 6 => {
            // Bogus framing inserted after the request line.
            let bogus = *rng.pick(&[
                "Transfer-Encoding: chunked\r\n",
                "Content-Length: 5\r\n",
                "Content-Length: 5, 6\r\n",
                "Content-Length: -1\r\n",
                "Content-Length: +5\r\n",
                "Content-Length: 00005\r\n",
                "Content-Length: 99999999999999999999\r\n",
                "Content-Length: 1000000000\r\n",
                "Transfer-Encoding: gzip, chunked\r\n",
                "Transfer-Encoding: chunked, gzip\r\n",
                "Transfer-Encoding: identity\r\n",
                "Transfer-Encoding:\tchunked\r\n",
                "Transfer-Encoding : chunked\r\n",
                " Transfer-Encoding: chunked\r\n",
                "Expect: 100-continue\r\n",
                "Expect: something-else\r\n",
                "Upgrade: websocket\r\nConnection: upgrade\r\n",
                "Connection: close, upgrade\r\n",
                "Host: second.example\r\n",
                "Host: name:99999\r\n",
                "Host: bad host\r\n",
            ]);
            let at = line_ends(bytes, head_len).first().map_or(0, |e| e + 2);
            bytes.splice(at..at, bogus.bytes());
            format!("insert field {bogus:?}")
        }
        7 => {
            // A bad chunk size where a chunk size is.
            let Some(at) = find(bytes, b"\r\n\r\n").map(|i| i + 4) else {
                return "no-op".into();
            };
            let bad = *rng.pick(&[
                "zz\r\n",
                "-1\r\n",
                "fffffffffffffffff1\r\n",
                "5 ;x\r\n",
                "0x5\r\n",
                "\r\n",
                "5\n",
            ]);
            bytes.splice(at..at, bad.bytes());
            format!("insert {bad:?} after the head")
        }
        8 => {
            // A huge head: one long field, or very many.
            let at = line_ends(bytes, head_len).first().map_or(0, |e| e + 2);
            let ins = if rng.chance(60) {
                let n = *rng.pick(&[8_000, 16_300, 17_000, 33_000, 70_000]);
                format!("X-Huge: {}\r\n", "h".repeat(n))
            } else {
                let n = *rng.pick(&[101, 150, 1000]);
                (0..n).map(|i| format!("X-F{i}: v\r\n")).collect()
            };
            let n = ins.len();
            bytes.splice(at..at, ins.into_bytes());
            format!("insert {n} bytes of fields")
        }
        9 => {
            // Bare LF instead of CRLF: one line end or all of the head's.
            let ends = line_ends(bytes, head_len);
            if ends.is_empty() {
                return "no-op".into();
            }
            if rng.chance(50) {
                for &e in ends.iter().rev() {
                    bytes.remove(e);
                }
                "bare LF for every line end of the head".into()
            } else {
                let e = *rng.pick(&ends);
                bytes.remove(e);
                format!("bare LF at {e}")
            }
        }
        10 if len > 1 => {
            let at = rng.range(1, len - 1);
            bytes.truncate(at);
            format!("truncate to {at}")
        }
        11 => {
            // The request line: method, version, spacing.
            let (from, to) = *rng.pick(&[
                (" HTTP/1.1\r\n", " HTTP/1.2\r\n"),
                (" HTTP/1.1\r\n", " HTTP/2.0\r\n"),
                (" HTTP/1.1\r\n", " http/1.1\r\n"),
                (" HTTP/1.1\r\n", "  HTTP/1.1\r\n"),
                (" HTTP/1.1\r\n", " HTTP/1.1 \r\n"),
                (" HTTP/1.1\r\n", "\r\n"),
                (" /", " /\u{e9}"),
                (" /", " /a b/"),
                (" /", " /\x7f"),
                ("GET ", "get "),
                ("GET ", "G(T "),
                ("POST ", "POST  "),
                (" /", " ../"),
                (" /", " /../../"),
            ]);
            match find(bytes, from.as_bytes()) {
                Some(i) if i < head_len => {
                    bytes.splice(i..i + from.len(), to.bytes());
                    format!("replace {from:?} by {to:?}")
                }
                _ => "no-op".into(),
            }
        }
        12 => {
            // obs-fold or whitespace before a colon in some field line.
            let ends = line_ends(bytes, head_len);
            if ends.len() < 2 {
                return "no-op".into();
            }
            let e = ends[rng.below(ends.len() - 1)] + 2;
            if rng.chance(50) {
                bytes.splice(e..e, b"X-Folded: a\r\n continued\r\n".iter().copied());
                "obs-fold".into()
            } else {
                bytes.splice(e..e, b"X-Space : a\r\n".iter().copied());
                "whitespace before a colon".into()
            }
        }
        13 if len > 2 => {
            let i = pos(rng).min(len - 2);
            bytes.swap(i, i + 1);
            format!("swap bytes at {i}")
        }
        14 => {
            // Garbage or a copy of the request behind it.
            if rng.chance(50) {
                let g: Vec<u8> = (0..rng.range(1, 40)).map(|_| rng.byte()).collect();
                bytes.extend_from_slice(&g);
                format!("append {} garbage bytes", g.len())
            } else {
                let copy = bytes.clone();
                bytes.extend_from_slice(&copy);
                "append a copy".into()
            }
        }
        15 => {
            // Replace a byte of the head by a control or high byte.
            if len == 0 {
                return "no-op".into();
            }
            let i = pos(rng);
            let b = *rng.pick(&[0u8, 1, 0x0b, 0x0c, b'\r', 0x1b, 0x7f, 0x80, 0xc3, 0xff]);
            bytes[i] = b;
            format!("byte {b:#x} at {i}")
        }
        _ => {
            // Change a digit of Content-Length or a chunk size (framing off by some bytes).
            let Some(i) = find_ci(bytes, b"content-length:") else {
                return "no-op".into();
            };
            let mut j = i + 15;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            if j < bytes.len() && bytes[j].is_ascii_digit() {
                let d = b'0' + rng.below(10) as u8;
                bytes[j] = d;
                format!("Content-Length's first digit to {}", d as char)
            } else {
                "no-op".into()
            }
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}
