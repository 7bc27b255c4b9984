//! Request and response bodies: Content-Length, chunked, close-delimited; re-framing; HEAD, 204
//! and 304; 1xx pass-through and Expect: 100-continue; large bodies byte-exact (splice path).

mod common;

use std::time::{Duration, Instant};

use common::*;

const BIG_LOC: &str = "client_max_body_size 64m;";

#[test]
fn small_content_length_upload() {
    let b = body_echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (mut c, r) = exchange(
        rw.addr,
        b"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello world");
    let req = &b.requests()[0];
    assert_eq!(
        req.headers_named("content-length"),
        vec!["11"],
        "{}",
        req.head
    );
    assert_bytes_eq(
        &req.raw[req.raw.len() - 11..],
        b"hello world",
        "raw body at backend",
    );
    assert_closed_or_reusable(&mut c, &r, 200);
}

#[test]
fn body_arriving_after_head_in_pieces() {
    let b = body_echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n\r\n");
    c.send_in_pieces(b"abcdefghijklmnopqrstuvwxyz", 5, Duration::from_millis(20));
    let r = c.read_response();
    assert_eq!(r.body, b"abcdefghijklmnopqrstuvwxyz");
}

#[test]
fn zero_length_body_and_no_body() {
    let b = body_echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"POST /zero HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /none HTTP/1.1\r\nHost: x\r\n\r\n");
    let r1 = c.read_response();
    let r2 = c.read_response();
    assert_eq!((r1.status, r2.status), (200, 200));
    let got = b.requests();
    assert_eq!(got.len(), 2);
    assert!(got[0].body.is_empty() && got[1].body.is_empty());
    assert!(
        !got[1].has("content-length") && !got[1].has("transfer-encoding"),
        "{}",
        got[1].head
    );
}

#[test]
fn chunked_upload_small_pieces() {
    let b = body_echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    let body = pattern(5000);
    let mut req =
        b"POST /chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    req.extend_from_slice(&chunk(&body, &[1, 7, 300, 4096]));
    c.send_in_pieces(&req, 97, Duration::from_millis(1));
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_bytes_eq(&r.body, &body, "echoed chunked upload");
    assert_bytes_eq(&b.requests()[0].body, &body, "chunked upload at backend");
}

#[test]
fn chunked_upload_with_trailers() {
    let b = body_echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.body, b"wikipedia");
    let req = &b.requests()[0];
    assert!(
        req.raw.ends_with(b"\r\n\r\n"),
        "forwarded chunked body must be properly terminated: {}",
        show(&req.raw)
    );
}

#[test]
fn large_content_length_upload_byte_exact() {
    let b = Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let n = req.body.len().to_string();
            if !c.respond(200, n.as_bytes()) {
                return;
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, BIG_LOC));
    let body = pattern(3 * 1024 * 1024 + 17);
    let mut c = rw.connect();
    let mut req = format!(
        "PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    c.send(&req);
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.body_str(), body.len().to_string());
    assert_bytes_eq(&b.requests()[0].body, &body, "3 MiB upload at backend");
    // And the connection goes on.
    c.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
}

#[test]
fn large_chunked_upload_byte_exact() {
    let b = Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let n = req.body.len().to_string();
            if !c.respond(200, n.as_bytes()) {
                return;
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, BIG_LOC));
    let body = pattern(2 * 1024 * 1024 + 5);
    let mut c = rw.connect();
    let mut req =
        b"POST /bigchunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    req.extend_from_slice(&chunk(&body, &[65536, 100_000, 3, 8192, 200_000]));
    c.send(&req);
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_bytes_eq(
        &b.requests()[0].body,
        &body,
        "2 MiB chunked upload at backend",
    );
}

#[test]
fn upload_over_client_max_body_size_gets_413() {
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, "client_max_body_size 1k;"));
    let mut c = rw.connect();
    let mut req = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n".to_vec();
    req.extend_from_slice(&pattern(2048));
    let _ = c.try_send(&req);
    assert_status_and_close(&mut c, 413, "2 KiB body over a 1k limit");
    b.assert_untouched("413");
}

/// A backend that answers each request with `head` followed by `body` (raw), then keeps or
/// closes the connection.
fn download_backend(head: String, body: Vec<u8>, close_after: bool) -> Backend {
    Backend::start(move |c| {
        while c.read_request().is_some() {
            let mut out = head.clone().into_bytes();
            out.extend_from_slice(&body);
            if !c.write(&out) || close_after {
                return;
            }
        }
    })
}

#[test]
fn large_content_length_download_byte_exact() {
    let body = pattern(4 * 1024 * 1024 + 3);
    let b = download_backend(
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()),
        body.clone(),
        false,
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    for _ in 0..2 {
        c.send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.framing, Framing::Length(body.len()), "{}", r.head);
        assert_bytes_eq(&r.body, &body, "4 MiB download");
    }
    assert_eq!(
        b.accepted(),
        1,
        "the upstream connection should be reused after a spliced body"
    );
}

#[test]
fn large_chunked_download_byte_exact() {
    let body = pattern(2 * 1024 * 1024 + 1);
    let b = download_backend(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
        chunk(&body, &[70_000, 1, 4096, 300_000]),
        false,
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    for _ in 0..2 {
        c.send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.framing, Framing::Chunked, "{}", r.head);
        assert_bytes_eq(&r.body, &body, "2 MiB chunked download");
    }
}

#[test]
fn close_delimited_download_is_rechunked_for_keep_alive_client() {
    let body = pattern(2 * 1024 * 1024 + 9);
    let b = download_backend(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n".into(),
        body.clone(),
        true,
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"GET /eof HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c
        .try_read_response(false, Duration::from_secs(10))
        .expect("response");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.framing,
        Framing::Chunked,
        "close-delimited upstream body to a keep-alive HTTP/1.1 client should be chunked: {}",
        r.head
    );
    assert_eq!(r.end, End::Complete, "{}", r.describe());
    assert_bytes_eq(&r.body, &body, "re-chunked close-delimited download");
    // The client connection survives the re-framed response.
    c.send(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
    let r2 = c
        .try_read_response(false, Duration::from_secs(10))
        .expect("second response");
    assert_eq!(r2.status, 200);
    assert_bytes_eq(&r2.body, &body, "second re-chunked download");
    assert_eq!(b.accepted(), 2);
}

#[test]
fn close_delimited_download_small() {
    let b = download_backend(
        "HTTP/1.1 200 OK\r\n\r\n".into(),
        b"until the end".to_vec(),
        true,
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (mut c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.body, b"until the end");
    assert_closed_or_reusable(&mut c, &r, 200);
}

#[test]
fn close_delimited_download_to_closing_client() {
    // Client says Connection: close: close-delimited is fine too; body must be intact.
    let b = download_backend("HTTP/1.0 200 OK\r\n\r\n".into(), pattern(300_000), true);
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let r = c.read_response();
    assert_bytes_eq(
        &r.body,
        &pattern(300_000),
        "close-delimited to closing client",
    );
    assert!(c.is_closed());
}

#[test]
fn chunked_upstream_to_http10_client_is_close_delimited() {
    let body = pattern(300_000);
    let b = download_backend(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
        chunk(&body, &[1000, 65536, 7]),
        false,
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"GET /ten HTTP/1.0\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert!(
        !r.has("transfer-encoding"),
        "no chunked to an HTTP/1.0 client: {}",
        r.head
    );
    assert_eq!(r.framing, Framing::Close, "{}", r.head);
    assert_bytes_eq(&r.body, &body, "chunked → close-delimited for HTTP/1.0");
}

#[test]
fn chunked_upstream_with_extensions_and_trailers() {
    let b = download_backend(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n".to_vec(),
        false,
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    for _ in 0..2 {
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.body, b"abcde", "{}", r.describe());
    }
}

#[test]
fn head_response_has_no_body() {
    let b = Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let out: &[u8] = if req.method == "HEAD" {
                b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"
            };
            if !c.write(out) {
                return;
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_head_response();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some("1234"),
        "HEAD keeps the representation's length: {}",
        r.head
    );
    // If ringway sent body bytes (or waited for 1234), the next exchange breaks.
    c.send(b"GET /g HTTP/1.1\r\nHost: x\r\n\r\n");
    let r2 = c.read_response();
    assert_eq!(r2.status, 200);
    assert_eq!(r2.body, b"body");
}

#[test]
fn head_response_with_chunked_field_has_no_body() {
    let b = Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let out: &[u8] = if req.method == "HEAD" {
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"
            };
            if !c.write(out) {
                return;
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_head_response();
    assert_eq!(r.status, 200);
    c.send(b"GET /g HTTP/1.1\r\nHost: x\r\n\r\n");
    let r2 = c.read_response();
    assert_eq!(r2.body, b"body", "{}", r2.describe());
}

#[test]
fn no_content_and_not_modified_have_no_body() {
    let b = Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let out: &[u8] = match req.target.as_str() {
                "/204" => b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
                "/304" => b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 50\r\n\r\n",
                _ => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            };
            if !c.write(out) {
                return;
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 204);
    assert!(
        !r.has("transfer-encoding"),
        "204 must not be chunked: {}",
        r.head
    );
    assert!(
        !r.has("content-length") || r.header("content-length") == Some("0"),
        "{}",
        r.head
    );
    c.send(b"GET /304 HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"x\"\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 304);
    assert!(
        !r.has("transfer-encoding"),
        "304 must not be chunked: {}",
        r.head
    );
    c.send(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.status,
        200,
        "stray body bytes after 204/304? {}",
        r.describe()
    );
    assert_eq!(r.body, b"ok");
    assert_eq!(
        b.accepted(),
        1,
        "the upstream connection is reusable after 204 and 304"
    );
}

#[test]
fn interim_103_passes_through() {
    let b = fixed_backend(
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let r1 = c.read_response();
    assert_eq!(r1.status, 103, "{}", r1.describe());
    assert_eq!(r1.header("link"), Some("</style.css>; rel=preload"));
    let r2 = c.read_response();
    assert_eq!(r2.status, 200);
    assert_eq!(r2.body, b"final");
    assert_closed_or_reusable(&mut c, &r2, 200);
}

/// Reads the head, sends 100 if `send_100` and the request asked for it, then reads the body and
/// echoes it.
fn expect_backend(send_100: bool) -> Backend {
    Backend::start(move |c| {
        while let Some(mut req) = c.read_head() {
            let expects = req
                .header("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
            if send_100 && expects && !c.write(b"HTTP/1.1 100 Continue\r\n\r\n") {
                return;
            }
            let ok = c.read_body(&mut req);
            c.record(&req);
            if !ok || !c.respond(200, &req.body) {
                return;
            }
        }
    })
}

fn expect_continue_exchange(b: &Backend) {
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n");
    let t0 = Instant::now();
    let r = c
        .try_read_response(false, Duration::from_secs(4))
        .unwrap_or_else(|e| panic!("no 100 Continue before the body was sent: {e}"));
    assert_eq!(r.status, 100, "{}", r.describe());
    assert!(t0.elapsed() < Duration::from_secs(3));
    c.send(b"0123456789");
    let r = c.read_response();
    assert_eq!(
        r.status,
        200,
        "exactly one 100 then the final response: {}",
        r.describe()
    );
    assert_eq!(r.body, b"0123456789");
    assert_bytes_eq(&b.requests()[0].body, b"0123456789", "body at backend");
    // The connection continues normally.
    c.send(b"GET /n HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
}

#[test]
fn expect_100_continue_from_upstream() {
    expect_continue_exchange(&expect_backend(true));
}

#[test]
fn expect_100_continue_with_silent_upstream() {
    expect_continue_exchange(&expect_backend(false));
}

#[test]
fn expect_100_continue_refused_by_upstream() {
    let b = Backend::start(|c| {
        if let Some(req) = c.read_head() {
            c.record(&req);
            c.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope");
            // Keep the connection a while so ringway sees the answer, not a close.
            c.wait_eof(Duration::from_secs(3));
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.status,
        401,
        "the final answer goes to the client without a 100 first: {}",
        r.describe()
    );
    assert_eq!(r.body, b"nope");
    // The unsent body makes the connection unusable unless ringway reads it: it must say close
    // or handle the body that follows.
    if r.says_close() {
        assert!(c.is_closed());
    } else {
        c.send(b"0123456789GET /n HTTP/1.1\r\nHost: x\r\n\r\n");
        let r2 = c.try_read_response(false, IO_TIMEOUT);
        assert!(
            matches!(&r2, Ok(r) if r.status != 400) || c.is_closed(),
            "after a refused Expect without Connection: close the body bytes were parsed as a request: {r2:?}"
        );
    }
}

#[test]
fn response_content_length_zero() {
    let b = fixed_backend(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    for _ in 0..3 {
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
        assert_eq!(r.header("content-length"), Some("0"), "{}", r.head);
    }
}

#[test]
fn response_split_into_tiny_packets() {
    let b = Backend::start(|c| {
        while c.read_request().is_some() {
            for p in
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Slow: yes\r\n\r\n0123456789".chunks(3)
            {
                if !c.write(p) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (_c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        r.status,
        200,
        "response head sent in 3-byte pieces: {}",
        r.describe()
    );
    assert_eq!(r.header("x-slow"), Some("yes"));
    assert_eq!(r.body, b"0123456789");
}

#[test]
fn interim_responses_are_not_sent_to_http10_clients() {
    // RFC 9110 §15.2: a server must not send a 1xx response to an HTTP/1.0 client.
    let b = fixed_backend(
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.status,
        200,
        "an HTTP/1.0 client got a 1xx: {}",
        r.describe()
    );
    assert_eq!(r.body, b"final");
}

#[test]
fn upstream_chunked_with_content_length_is_decoded_as_chunked() {
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; the client must not get both.
    let b = fixed_backend_then_close(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (mut c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.body, b"hello");
    assert!(
        !(r.has("content-length") && r.has("transfer-encoding")),
        "both framing fields reached the client: {}",
        r.head
    );
    assert_closed_or_reusable(&mut c, &r, 200);
}
