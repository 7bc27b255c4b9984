//! Upstream failures: refused, reset, closed, malformed heads → 502; an upstream that dies in the
//! middle of a body → the client connection is closed (never a truncated body on a kept-alive
//! connection).

mod common;

use std::time::Duration;

use common::*;

fn get(c: &mut Client) -> Response {
    c.send(b"GET /e HTTP/1.1\r\nHost: x\r\n\r\n");
    c.try_read_response(false, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("no response: {e}"))
}

#[test]
fn refused_connection_gives_502() {
    let rw = Ringway::start(&proxy_conf(dead_addr(), ""));
    let mut c = rw.connect();
    let r = get(&mut c);
    assert_eq!(r.status, 502, "{}", r.describe());
    assert_eq!(r.end, End::Complete);
    assert_closed_or_reusable(&mut c, &r, 502);
}

#[test]
fn refused_head_request_gets_502_without_body() {
    let rw = Ringway::start(&proxy_conf(dead_addr(), ""));
    let mut c = rw.connect();
    c.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_head_response();
    assert_eq!(r.status, 502);
    let (rest, _) = c.read_to_close(Duration::from_millis(500));
    assert!(
        rest.is_empty(),
        "body bytes after a HEAD error response: {}",
        show(&rest)
    );
}

#[test]
fn reset_before_response_gives_502() {
    let b = Backend::start(|c| {
        if c.read_request().is_some() {
            c.reset();
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    let r = get(&mut c);
    assert_eq!(r.status, 502, "{}", r.describe());
    assert_closed_or_reusable(&mut c, &r, 502);
}

#[test]
fn reset_after_partial_head_gives_502() {
    let b = Backend::start(|c| {
        if c.read_request().is_some() {
            c.write(b"HTTP/1.1 200 OK\r\nX-A:");
            std::thread::sleep(Duration::from_millis(50));
            c.reset();
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    let r = get(&mut c);
    assert_eq!(r.status, 502, "{}", r.describe());
}

#[test]
fn close_without_answer_gives_502() {
    let b = Backend::start(|c| {
        let _ = c.read_request();
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    let r = get(&mut c);
    assert_eq!(r.status, 502, "{}", r.describe());
    assert_closed_or_reusable(&mut c, &r, 502);
}

#[test]
fn malformed_response_heads_give_502() {
    for bad in [
        &b"garbage\r\n\r\n"[..],
        b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNo-Colon-Here\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Bad : v\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/2 200\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
    ] {
        let b = fixed_backend_then_close(bad);
        let rw = Ringway::start(&proxy_conf(b.addr, ""));
        let mut c = rw.connect();
        let r = get(&mut c);
        assert_eq!(
            r.status,
            502,
            "upstream sent {:?}; client got {}",
            show(bad),
            r.describe()
        );
        assert!(r.says_close() || !c.is_closed(), "{}", r.head);
    }
}

#[test]
fn upstream_closing_mid_head_gives_502() {
    let b = fixed_backend_then_close(b"HTTP/1.1 200 OK\r\nContent-Len");
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    let r = get(&mut c);
    assert_eq!(r.status, 502, "{}", r.describe());
}

#[test]
fn error_then_recovery_on_the_same_connection_or_a_new_one() {
    // First upstream request fails (connection closed), the second works: ringway must not
    // poison the pool or the client.
    let b = Backend::start(|c| {
        if c.index == 0 {
            let _ = c.read_request();
            return;
        }
        while let Some(req) = c.read_request() {
            if !c.respond(200, req.target.as_bytes()) {
                return;
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    let r = get(&mut c);
    assert_eq!(r.status, 502);
    let r2 = rw.get("/ok");
    assert_eq!(r2.status, 200, "{}", r2.describe());
    assert_eq!(r2.body, b"/ok");
}

/// Sends the head and `part` of a `total`-byte body, then closes.
fn dying_backend(head: Vec<u8>, part: Vec<u8>, reset: bool) -> Backend {
    Backend::start(move |c| {
        if c.read_request().is_some() {
            c.write(&head);
            c.write(&part);
            std::thread::sleep(Duration::from_millis(50));
            if reset {
                c.reset();
            } else {
                let _ = c.stream.shutdown(std::net::Shutdown::Both);
            }
        }
    })
}

#[track_caller]
fn assert_truncated_and_closed(c: &mut Client, full: usize) {
    c.send(b"GET /die HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c
        .try_read_response(false, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("no response head at all: {e}"));
    if r.status == 502 {
        // Acceptable only if nothing of the body had been sent yet; then the usual rules apply.
        return;
    }
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_ne!(
        r.end,
        End::Complete,
        "a body the upstream did not finish arrived as complete ({} of {full} bytes, framing {:?}): {}",
        r.body.len(),
        r.framing,
        r.head
    );
    assert_ne!(
        r.end,
        End::Timeout,
        "the client connection was left open after the upstream died mid-body"
    );
    assert!(r.body.len() < full);
}

#[test]
fn upstream_dies_mid_content_length_body() {
    let b = dying_backend(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec(),
        vec![b'a'; 100],
        false,
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    assert_truncated_and_closed(&mut c, 1000);
}

#[test]
fn upstream_dies_mid_large_body() {
    // Above 32 KiB the remainder is spliced: the failure must still close the client.
    let b = dying_backend(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n".to_vec(),
        pattern(200_000),
        false,
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    assert_truncated_and_closed(&mut c, 1_048_576);
}

#[test]
fn upstream_resets_mid_large_body() {
    let b = dying_backend(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n".to_vec(),
        pattern(100_000),
        true,
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    assert_truncated_and_closed(&mut c, 1_048_576);
}

#[test]
fn upstream_dies_mid_chunked_body() {
    let b = dying_backend(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        b"5\r\nhello\r\n100\r\npartial".to_vec(),
        false,
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    assert_truncated_and_closed(&mut c, 5 + 256);
}

#[test]
fn upstream_dies_between_chunks() {
    // Ends exactly after a complete chunk: re-chunking must not invent the last-chunk.
    let b = dying_backend(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        b"5\r\nhello\r\n".to_vec(),
        false,
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    assert_truncated_and_closed(&mut c, 6);
}

#[test]
fn upstream_sends_malformed_chunk_mid_body() {
    let b = fixed_backend(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nxx\r\n0\r\n\r\n",
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    assert_truncated_and_closed(&mut c, 100);
}

#[test]
fn upstream_sends_more_than_content_length() {
    // Extra bytes after a Content-Length body must not reach the client as part of the body,
    // nor be taken as the next response of a pooled connection.
    let b = Backend::start(|c| {
        let mut n = 0;
        while let Some(_req) = c.read_request() {
            n += 1;
            let body = format!("r{n}");
            let out = format!("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{body}JUNKJUNK");
            if !c.write(out.as_bytes()) {
                return;
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    for _ in 0..3 {
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.body.len(), 2);
        assert!(r.body.starts_with(b"r"), "{}", r.describe());
    }
}
