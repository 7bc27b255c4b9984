//! Every upstream framing compressed, for HTTP/1.1 and HTTP/1.0 clients, and a long streamed
//! body whose parts reach the client as the upstream sends them.

use std::io::Write as _;
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;

#[test]
fn chunked_and_close_delimited_upstreams() {
    let o = Origin::start();
    o.set(
        "/chunked.txt",
        Reply::ok(text(100_000))
            .header("Content-Type", "text/plain")
            .chunked(),
    );
    let rw = Ringway::start(&conf(o.addr, ZSTD));
    for ae in ["gzip", "br", "zstd"] {
        let r = get(&rw, "/chunked.txt", ae);
        assert_eq!(r.header("content-encoding"), Some(ae));
        assert_eq!(decoded(&r), text(100_000), "{ae}");
    }
    // Kept alive: a second request on the same connection after a compressed answer.
    let mut c = Client::connect(rw.addr);
    for _ in 0..2 {
        c.send(b"GET /chunked.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n");
        let r = c.read_response();
        assert_eq!(decoded(&r), text(100_000));
    }
    // Close-delimited.
    let mut raw =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n".to_vec();
    raw.extend_from_slice(&text(70_000));
    let b = fixed_backend_then_close(&raw);
    let rw = Ringway::start(&conf(b.addr, ""));
    let r = get(&rw, "/", "gzip");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(decoded(&r), text(70_000));
}

#[test]
fn an_upstream_cut_mid_body_cuts_the_compressed_answer() {
    let o = Origin::start();
    let body = text(200_000);
    o.set(
        "/cut.txt",
        Reply::ok(&body)
            .header("Content-Type", "text/plain")
            .fault(Fault::CutBody(90_000)),
    );
    o.set(
        "/cutc.txt",
        Reply::ok(&body)
            .header("Content-Type", "text/plain")
            .fault(Fault::CutChunked(90_000)),
    );
    o.set(
        "/page.txt",
        Reply::ok(text(3000)).header("Content-Type", "text/plain"),
    );
    let rw = Ringway::start(&conf(o.addr, ""));
    for path in ["/cut.txt", "/cutc.txt"] {
        let mut c = Client::connect(rw.addr);
        c.send(
            format!("GET {path} HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n").as_bytes(),
        );
        let r = c.try_read_response(false, IO_TIMEOUT).expect("a head");
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        // No last chunk: the client knows the body is incomplete.
        assert_ne!(r.end, End::Complete, "{path}");
    }
    // The shard still serves.
    assert_eq!(decoded(&get(&rw, "/page.txt", "gzip")), text(3000));
}

#[test]
fn http10_clients() {
    let o = Origin::start();
    o.set(
        "/page.txt",
        Reply::ok(text(30_000)).header("Content-Type", "text/plain"),
    );
    o.set(
        "/chunked.txt",
        Reply::ok(text(30_000))
            .header("Content-Type", "text/plain")
            .chunked(),
    );
    let extra = format!(
        "location /v10/ {{ gzip_http_version 1.0; proxy_pass http://{}/; }}",
        o.addr
    );
    let rw = Ringway::start(&conf(o.addr, &extra));
    let http10 = |path: &str| {
        let mut c = Client::connect(rw.addr);
        c.send(
            format!("GET {path} HTTP/1.0\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n").as_bytes(),
        );
        c.read_response()
    };
    // gzip_http_version 1.1 (the default): an HTTP/1.0 request is not compressed.
    let r = http10("/page.txt");
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body, text(30_000));
    // 1.0: compressed, delimited by the close (no length, no chunks for HTTP/1.0).
    for path in ["/v10/page.txt", "/v10/chunked.txt"] {
        let r = http10(path);
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{}", r.head);
        assert!(
            !r.has("content-length") && !r.has("transfer-encoding"),
            "{}",
            r.head
        );
        assert!(r.says_close(), "{}", r.head);
        assert_eq!(decoded(&r), text(30_000), "{path}");
    }
}

/// A streamed answer: the first part reaches the client, decodable, while the upstream waits;
/// then 4 MiB more in many chunks.
#[test]
fn streamed_body_is_flushed_as_it_comes() {
    let first = text(5_000);
    let rest = text(4 << 20);
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = std::sync::Mutex::new(go_rx);
    let (first2, rest2) = (first.clone(), rest.clone());
    let b = Backend::start(move |c| {
        if c.read_request().is_none() {
            return;
        }
        let mut out =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec();
        out.extend_from_slice(&chunk(&first2, &[first2.len()])[..]);
        out.truncate(out.len() - 5); // not the last chunk yet
        c.write(&out);
        let _ = c.stream.flush();
        let _ = go_rx.lock().unwrap().recv_timeout(Duration::from_secs(5));
        c.write(&chunk(&rest2, &[8192]));
    });
    let rw = Ringway::start(&conf(b.addr, ZSTD));
    for ae in ["gzip", "br", "zstd"] {
        let mut s = TcpStream::connect(rw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: {ae}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        // Read until the first part decodes, while the upstream still holds the rest.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        loop {
            assert!(
                Instant::now() < deadline,
                "{ae}: the first part never arrived whole"
            );
            let mut buf = [0u8; 16384];
            let n = std::io::Read::read(&mut s, &mut buf).unwrap();
            assert!(n > 0, "{ae}: closed early");
            got.extend_from_slice(&buf[..n]);
            if let Some(plain) = decode_prefix(&got, ae)
                && plain.len() >= first.len()
            {
                assert_eq!(plain, first);
                break;
            }
        }
        go_tx.send(()).unwrap();
        let mut all = got;
        std::io::Read::read_to_end(&mut s, &mut all).unwrap();
        let at = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body = dechunk(&all[at..]);
        let plain = match ae {
            "gzip" => gunzip(&body),
            "br" => unbrotli(&body),
            _ => unzstd(&body),
        };
        assert_eq!(plain.len(), first.len() + rest.len(), "{ae}");
        assert!(
            plain[..first.len()] == first[..] && plain[first.len()..] == rest[..],
            "{ae}"
        );
    }
}

/// The complete chunks' payload of a chunked body prefix.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let Ok(n) = usize::from_str_radix(std::str::from_utf8(&b[..i]).unwrap_or("x"), 16) else {
            break;
        };
        if n == 0 || b.len() < i + 2 + n + 2 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
    out
}

/// What the response received so far (head included) decodes to, when its head is complete.
fn decode_prefix(raw: &[u8], ae: &str) -> Option<Vec<u8>> {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let body = dechunk(&raw[at..]);
    let mut out = Vec::new();
    if ae == "gzip" {
        let mut d = flate2::write::GzDecoder::new(Vec::new());
        d.write_all(&body).ok()?;
        d.flush().ok()?;
        out = d.get_ref().clone();
    } else {
        // Reads what the bytes so far decode to (the stream's end is not there yet).
        let mut d: Box<dyn std::io::Read + '_> = if ae == "br" {
            Box::new(brotli::Decompressor::new(&body[..], 4096))
        } else {
            Box::new(zstd::stream::read::Decoder::new(&body[..]).ok()?)
        };
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut d, &mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }
    Some(out)
}
