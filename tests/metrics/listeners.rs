//! Per-listener figures: TLS handshakes and their failures, and refusals at worker_connections.

use std::process::Command;
use std::time::{Duration, Instant};

use super::common::*;
use super::{curl_body, value};

fn scrape_at(addr: std::net::SocketAddr) -> String {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5"])
        .arg(format!("http://{addr}/metrics"))
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn https_status(addr: std::net::SocketAddr) -> u16 {
    let resolve = format!("localhost:{}:127.0.0.1", addr.port());
    let url = format!("https://localhost:{}/", addr.port());
    curl_code(&url, &["-k", "--resolve", &resolve])
}

#[test]
fn tls_handshakes_and_failures_are_counted_per_listener() {
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let conf = format!(
        "http {{
    server {{ listen {LISTEN} ssl; server_name localhost; {}
        location / {{ return 200 ok; }} }}
    server {{ listen @LISTEN2@; location = /metrics {{ ringway_metrics; }} }}
}}",
        leaf.directives()
    );
    let rw = Ringway::start_with(&conf, 2);
    let tls = rw.addr.to_string();
    let lst = [("listener", tls.as_str())];
    let before = scrape_at(rw.addrs[1]);
    // The start-up probe connected and closed: a failed handshake already, no completed one.
    assert_eq!(
        value(&before, "ringway_listener_tls_handshakes_total", &lst),
        0.0
    );
    let failed0 = value(
        &before,
        "ringway_listener_tls_handshake_failures_total",
        &lst,
    );
    for _ in 0..3 {
        assert_eq!(https_status(rw.addr), 200);
    }
    // Plain HTTP to the TLS port: nginx's 400 page, a failed handshake.
    let (body, _) = curl_body(&rw, "/");
    assert!(
        body.contains("plain HTTP request was sent to HTTPS port"),
        "{body}"
    );
    let text = scrape_at(rw.addrs[1]);
    assert_eq!(
        value(&text, "ringway_listener_tls_handshakes_total", &lst),
        3.0
    );
    assert_eq!(
        value(&text, "ringway_listener_tls_handshake_failures_total", &lst),
        failed0 + 1.0
    );
    let accepted0 = value(&before, "ringway_listener_accepted_total", &lst);
    assert_eq!(
        value(&text, "ringway_listener_accepted_total", &lst),
        accepted0 + 4.0
    );
}

#[test]
fn connections_over_worker_connections_are_counted_as_refused() {
    let conf = format!(
        "events {{ worker_connections 2; }}
http {{ server {{ listen {LISTEN}; location = /metrics {{ ringway_metrics; }}
    location / {{ return 200 ok; }} }} }}"
    );
    let rw = Ringway::start_with(&conf, 1);
    // Two idle connections fill the shard; one more is closed at once. Every connection that
    // is not refused stays open: on a busy machine the start-up probe's connection can still
    // hold a slot when the second arrives, and the refused one is then an earlier one.
    let mut held = vec![rw.connect(), rw.connect()];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = rw.connect();
        let (bytes, closed) = c.read_to_close(Duration::from_millis(500));
        if closed && bytes.is_empty() {
            break;
        }
        held.push(c);
        assert!(Instant::now() < deadline, "no connection was refused");
    }
    drop(held);
    // Room again once the idle ones are gone: the scrape reports the refusal.
    let lst = rw.addr.to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = scrape_at(rw.addr);
        if let Some(v) = super::sample(
            &text,
            "ringway_listener_refused_total",
            &[("listener", &lst)],
        ) {
            assert!(v >= 1.0, "{text}");
            let accepts = value(&text, "ringway_connections_accepted_total", &[]);
            let handled = value(&text, "ringway_connections_handled_total", &[]);
            assert_eq!(accepts - handled, v, "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "no scrape got through");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_connections_show_as_parked_then_gone() {
    let conf = format!(
        "http {{ server {{ listen {LISTEN}; location = /metrics {{ ringway_metrics; }}
    location / {{ return 200 ok; }} }} }}"
    );
    let rw = Ringway::start_with(&conf, 1);
    let lst = rw.addr.to_string();
    let lst = [("listener", lst.as_str())];
    let mut idle = rw.connect();
    idle.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(idle.read_response().status, 200);
    // A kept-alive connection parks after a second of idleness.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = scrape_at(rw.addr);
        if value(&text, "ringway_listener_parked", &lst) == 1.0 {
            assert!(
                value(&text, "ringway_listener_active", &lst) >= 2.0,
                "{text}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never parked:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    while value(&scrape_at(rw.addr), "ringway_listener_parked", &lst) != 0.0 {
        assert!(
            Instant::now() < deadline,
            "the closed connection stays parked"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
