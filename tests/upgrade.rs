//! Upgrade requests (WebSocket-like): the upgrade is forwarded, and after a 101 bytes are relayed
//! both ways until either side closes.

mod common;

use std::time::Duration;

use common::*;

const WS_REQ: &[u8] = b"GET /ws HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

const WS_101: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// Answers the upgrade with 101 + "HELLO", then echoes every byte back until the proxy closes.
fn ws_echo_backend() -> Backend {
    Backend::start(|c| {
        let Some(req) = c.read_request() else { return };
        if !req
            .header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        {
            c.respond(400, b"no upgrade field");
            return;
        }
        let mut out = WS_101.to_vec();
        out.extend_from_slice(b"HELLO");
        if !c.write(&out) {
            return;
        }
        while let Some(bytes) = c.read_some(Duration::from_secs(5)) {
            if !c.write(&bytes) {
                return;
            }
        }
    })
}

fn connection_tokens(v: Vec<&str>) -> Vec<String> {
    v.iter()
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect()
}

#[test]
fn websocket_upgrade_relays_both_ways() {
    let b = ws_echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(WS_REQ);
    let r = c.read_response();
    assert_eq!(r.status, 101, "{}", r.describe());
    assert!(
        r.header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket")),
        "{}",
        r.head
    );
    assert!(
        connection_tokens(r.headers_named("connection")).contains(&"upgrade".to_string()),
        "{}",
        r.head
    );
    assert_eq!(
        r.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );

    // What the backend saw: the upgrade forwarded.
    let req = &b.requests()[0];
    assert!(
        req.header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket")),
        "{}",
        req.head
    );
    assert!(
        connection_tokens(req.headers_named("connection")).contains(&"upgrade".to_string()),
        "{}",
        req.head
    );
    assert_eq!(
        req.header("sec-websocket-key"),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );

    // Bytes the backend sent right behind the 101.
    let mut first = c.take_buffered();
    if first.len() < 5 {
        first.extend(c.read_exact_bytes(5 - first.len()));
    }
    assert_eq!(first, b"HELLO");

    // Both ways, small and large.
    c.send(b"ping");
    assert_eq!(c.read_exact_bytes(4), b"ping");
    let big = pattern(512 * 1024);
    let writer = {
        let mut w = c.stream.try_clone().unwrap();
        let big = big.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            w.write_all(&big).unwrap();
        })
    };
    let back = c.read_exact_bytes(big.len());
    writer.join().unwrap();
    assert_bytes_eq(&back, &big, "512 KiB through the tunnel");

    // Client closes: the backend sees EOF and closes, the client sees EOF.
    c.shutdown_write();
    let (rest, closed) = c.read_to_close(Duration::from_secs(3));
    assert!(closed, "tunnel not closed after the client closed");
    assert!(rest.is_empty(), "{}", show(&rest));
}

#[test]
fn upstream_closing_ends_the_tunnel() {
    let b = Backend::start(|c| {
        if c.read_request().is_some() {
            c.write(WS_101);
            c.write(b"bye");
            std::thread::sleep(Duration::from_millis(50));
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(WS_REQ);
    let r = c.read_response();
    assert_eq!(r.status, 101);
    let mut got = c.take_buffered();
    let (rest, closed) = c.read_to_close(Duration::from_secs(3));
    got.extend(rest);
    assert_eq!(got, b"bye");
    assert!(
        closed,
        "client connection open after the upstream closed the tunnel"
    );
}

#[test]
fn client_bytes_sent_with_the_upgrade_request_reach_the_upstream() {
    let b = ws_echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    // Some clients send data right behind the request without waiting for the 101.
    let mut req = WS_REQ.to_vec();
    req.extend_from_slice(b"EARLY");
    c.send(&req);
    let r = c.read_response();
    assert_eq!(r.status, 101);
    let mut got = c.take_buffered();
    while got.len() < 10 {
        got.extend(c.read_exact_bytes(1));
    }
    assert_eq!(got, b"HELLOEARLY", "{}", show(&got));
}

#[test]
fn declined_upgrade_is_a_normal_response() {
    let b = Backend::start(|c| {
        while let Some(_req) = c.read_request() {
            if !c.respond(200, b"plain http") {
                return;
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(WS_REQ);
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"plain http");
    assert!(!r.has("upgrade"), "{}", r.head);
    assert_closed_or_reusable(&mut c, &r, 200);
}

#[test]
fn unsolicited_101_is_not_relayed() {
    // An upstream that switches protocols on a request that asked for no upgrade is broken.
    let b = fixed_backend(WS_101);
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 502, "{}", r.describe());
}

#[test]
fn upgrade_without_connection_upgrade_is_not_an_upgrade() {
    // `Upgrade` without `Connection: upgrade` is a hop-by-hop field to drop, not a request to
    // switch protocols.
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (_c, r) = exchange(
        rw.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    let req = &b.requests()[0];
    assert!(!req.has("upgrade"), "{}", req.head);
}

/// A tunnel with nothing moving either way for `proxy_read_timeout` is closed on both sides
/// (nginx: "upstream timed out"); one with traffic stays open past it.
#[test]
fn a_quiet_tunnel_closes_after_proxy_read_timeout() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // An echo that notes when ringway closed its side (a read ends well before its 10 s).
    let closed_upstream = Arc::new(AtomicBool::new(false));
    let seen = closed_upstream.clone();
    let b = Backend::start(move |c| {
        if c.read_request().is_none() {
            return;
        }
        let mut out = WS_101.to_vec();
        out.extend_from_slice(b"HELLO");
        if !c.write(&out) {
            return;
        }
        loop {
            match c.read_some(Duration::from_secs(10)) {
                Some(bytes) if c.write(&bytes) => {}
                Some(_) => return,
                None => return seen.store(true, Ordering::SeqCst),
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(b.addr, "proxy_read_timeout 1s;"));
    let mut c = rw.connect();
    c.send(WS_REQ);
    assert_eq!(c.read_response().status, 101);
    let mut first = c.take_buffered();
    if first.len() < 5 {
        first.extend(c.read_exact_bytes(5 - first.len()));
    }
    assert_eq!(first, b"HELLO");
    // Traffic every 300 ms for 2 s: twice the timeout, and the tunnel stays.
    for i in 0..7u8 {
        std::thread::sleep(Duration::from_millis(300));
        c.send(&[b'a' + i]);
        assert_eq!(c.read_exact_bytes(1), [b'a' + i]);
    }
    // Then quiet: closed a timeout after the last byte (and within a margin).
    let quiet = std::time::Instant::now();
    let (rest, closed) = c.read_to_close(Duration::from_secs(4));
    assert!(closed, "a quiet tunnel stayed open");
    assert!(rest.is_empty(), "{}", show(&rest));
    let after = quiet.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_millis(2500),
        "closed after {after:?}"
    );
    // The upstream's side went too.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !closed_upstream.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        closed_upstream.load(Ordering::SeqCst),
        "the upstream side stayed open"
    );
}
