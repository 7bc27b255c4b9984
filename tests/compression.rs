//! Response compression (`gzip*`, `brotli*`, `zstd*`), end to end: the real binary in front of scripted
//! origins, real clients (curl `--compressed`, raw requests with chosen `Accept-Encoding`), and
//! every compressed body decompressed here and compared with the origin's bytes.
//! Modules: `negotiation` (q-values, types, lengths, statuses, HEAD, 304, Range, fields),
//! `framing` (chunked and close-delimited upstreams, HTTP/1.0 clients, a large streamed body,
//! flushing), `cache` (HITs compressed per client from the one identity entry), `variants` (the
//! compressed variants stored in the cache, sent as they are), `memory` (what one response's
//! encoder allocates, counted by this binary's allocator).

mod common;

#[path = "compression/cache.rs"]
mod cache;
#[path = "compression/framing.rs"]
mod framing;
#[path = "compression/memory.rs"]
mod memory;
#[path = "compression/negotiation.rs"]
mod negotiation;
#[path = "compression/variants.rs"]
mod variants;

use std::io::Read;
use std::net::SocketAddr;

use common::*;

#[global_allocator]
static ALLOC: memory::Counting = memory::Counting;

/// A compressible text body of `n` bytes (words and numbers, as a page would have).
pub fn text(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 64);
    let mut i = 0u64;
    while out.len() < n {
        out.extend_from_slice(
            format!("<p>line {i}: the quick brown fox {}</p>\n", i * 7919 % 1000).as_bytes(),
        );
        i += 1;
    }
    out.truncate(n);
    out
}

pub fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("not gzip ({e}): {}", show(&b[..b.len().min(64)])));
    out
}

pub fn unbrotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(b, 4096)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("not brotli ({e}): {}", show(&b[..b.len().min(64)])));
    out
}

pub fn unzstd(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(b)
        .and_then(|mut d| d.read_to_end(&mut out))
        .unwrap_or_else(|e| panic!("not zstd ({e}): {}", show(&b[..b.len().min(64)])));
    out
}

/// `zstd` on for text/plain, for the `extra` of `conf` (in a server, beside the http block's
/// gzip and brotli).
pub const ZSTD: &str = "zstd on; zstd_types text/plain;";

/// The body as the client meant to read it: decoded per its `Content-Encoding`.
pub fn decoded(r: &Response) -> Vec<u8> {
    match r.header("content-encoding") {
        None => r.body.clone(),
        Some("gzip") => gunzip(&r.body),
        Some("br") => unbrotli(&r.body),
        Some("zstd") => unzstd(&r.body),
        Some(other) => panic!("unexpected coding {other}"),
    }
}

/// The http block every test starts from: gzip for text/plain and JSON, brotli for text/plain,
/// `gzip_vary on`; `extra` goes into the server.
pub fn conf(origin: SocketAddr, extra: &str) -> String {
    format!(
        "http {{
    gzip on;
    gzip_types text/plain application/json;
    gzip_vary on;
    brotli on;
    brotli_types text/plain;
    server {{
        listen {LISTEN};
        location / {{ proxy_pass http://{origin}; }}
        {extra}
    }}
}}
"
    )
}

/// `GET path` (or another method) on a fresh connection with the given extra fields.
pub fn request(rw: &Ringway, method: &str, path: &str, fields: &str) -> Response {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
    let mut c = Client::connect(rw.addr);
    c.send(req.as_bytes());
    if method == "HEAD" {
        c.read_head_response()
    } else {
        c.read_response()
    }
}

/// `GET path` with `Accept-Encoding: ae` (none when empty).
pub fn get(rw: &Ringway, path: &str, ae: &str) -> Response {
    let f = if ae.is_empty() {
        String::new()
    } else {
        format!("Accept-Encoding: {ae}\r\n")
    };
    request(rw, "GET", path, &f)
}
