//! What is not a TLS handshake: plain HTTP gets nginx's 400; garbage, a truncated ClientHello
//! and a silent connection are closed (the last two after `ssl_handshake_timeout`), and the
//! shard serves HTTPS afterwards; ringway's own closes send close_notify.

use std::time::{Duration, Instant};

use crate::clients::*;
use crate::common::*;

fn conf() -> String {
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    format!(
        "http {{ server {{ listen {LISTEN} ssl; server_name localhost; {} ssl_handshake_timeout 1s;
            location / {{ return 200 \"fine\"; }} }} }}",
        leaf.directives()
    )
}

#[track_caller]
fn still_serves(rw: &Ringway) {
    let r = curl_https(rw.addr, "localhost", "/", &[]);
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "fine"),
        "{}",
        r.out.all()
    );
}

#[test]
fn plain_http_to_the_tls_port_gets_nginx_400() {
    let rw = Ringway::start_with(&conf(), 1);
    let r = rw.get("/");
    assert_eq!(r.status, 400, "{}", r.describe());
    assert!(
        r.body_str()
            .contains("The plain HTTP request was sent to HTTPS port"),
        "{}",
        r.describe()
    );
    assert!(r.says_close(), "{}", r.describe());
    let r = curl(&[&format!("http://{}/", rw.addr)]);
    assert_eq!(r.status, 400, "{}", r.out.all());
    still_serves(&rw);
}

#[test]
fn garbage_truncated_and_silent_handshakes_are_closed() {
    let rw = Ringway::start_with(&conf(), 1);
    // Neither HTTP nor TLS: closed at once (an alert at most).
    let mut c = rw.connect();
    c.send(b"\x00\x01\x02\x03 not a handshake \xff\xfe\r\n\r\n");
    let (bytes, closed) = c.read_to_close(Duration::from_secs(3));
    assert!(closed, "garbage: connection left open");
    assert!(!contains(&bytes, b"HTTP/1.1 200"), "{}", show(&bytes));
    still_serves(&rw);

    // A ClientHello record announcing 512 bytes, of which a few came: closed after the
    // handshake timeout (1s).
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.extend_from_slice(&[0x5a; 32]);
    for (what, bytes) in [("truncated ClientHello", &hello[..]), ("silence", &[][..])] {
        let mut c = rw.connect();
        let t0 = Instant::now();
        c.send(bytes);
        let (_, closed) = c.read_to_close(Duration::from_secs(4));
        let took = t0.elapsed();
        assert!(closed, "{what}: not closed within 4s");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
            "{what}: closed after {took:?}, ssl_handshake_timeout is 1s"
        );
        still_serves(&rw);
    }
    // A truncated hello whose sender closes its side: closed at once.
    let mut c = rw.connect();
    c.send(&hello);
    c.shutdown_write();
    let t0 = Instant::now();
    let (_, closed) = c.read_to_close(Duration::from_secs(3));
    assert!(closed && t0.elapsed() < Duration::from_millis(900));
    still_serves(&rw);
}

/// The answer that ends a connection, proxied (with a body, or HEAD's none) or ringway's own,
/// brings close_notify behind it (ringway sends both in one write); the kept-alive answers
/// before it bring none.
#[test]
fn only_the_last_answer_is_followed_by_close_notify() {
    let b = Backend::start(|c| {
        while let Some(req) = c.read_request() {
            if !c.respond(200, format!("from {}", req.target).as_bytes()) {
                return;
            }
        }
    });
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let rw = Ringway::start(&format!(
        "http {{ server {{ listen {LISTEN} ssl; server_name localhost; {}
            location / {{ return 200 \"local\"; }}
            location /up/ {{ proxy_pass http://{}; }} }} }}",
        leaf.directives(),
        b.addr
    ));
    let keep = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let cases = [
        (
            keep("/up/1")
                + &keep("/")
                + "GET /up/2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            "from /up/2",
        ),
        (
            keep("/up/3") + "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            "local",
        ),
        (
            keep("/") + "HEAD /up/4 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            "local",
        ),
    ];
    for (requests, last_body) in cases {
        let o = s_client(
            rw.addr,
            &["-tls1_3", "-servername", "localhost", "-msg"],
            Some(requests.as_bytes()),
        );
        let alerts: Vec<usize> = o
            .stdout
            .match_indices("close_notify")
            .filter(|(i, _)| {
                o.stdout[..*i]
                    .rsplit('\n')
                    .next()
                    .is_some_and(|l| l.starts_with("<<< "))
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            alerts.len(),
            1,
            "one close_notify from ringway:\n{}",
            o.all()
        );
        let last = o.stdout.rfind(last_body);
        assert!(
            last.is_some_and(|at| at < alerts[0]),
            "the last answer ({last_body:?}) before the close_notify:\n{}",
            o.all()
        );
        assert_eq!(
            o.stdout.matches("HTTP/1.1 200 OK").count(),
            requests.matches("HTTP/1.1\r\n").count(),
            "{}",
            o.all()
        );
    }
}

#[test]
fn ringway_closes_with_close_notify() {
    let rw = Ringway::start_with(&conf(), 1);
    for version in ["-tls1_3", "-tls1_2"] {
        // `-msg` shows the alerts decrypted: `<<<` is what ringway sent.
        let o = s_client(
            rw.addr,
            &[version, "-servername", "localhost", "-msg"],
            Some(&close_request("localhost", "/")),
        );
        assert!(o.stdout.contains("fine"), "{}", o.all());
        assert!(
            o.stdout.contains("<<< TLS 1.")
                && o.stdout.lines().any(|l| l.starts_with("<<< ")
                    && l.contains("Alert")
                    && l.ends_with("close_notify")),
            "{version}: no close_notify from ringway:\n{}",
            o.all()
        );
        assert!(!o.stderr.contains("unexpected eof"), "{}", o.all());
    }
}
