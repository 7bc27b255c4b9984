//! `ssl_early_data on`: a request sent as TLS 1.3 early data reaches the upstream with
//! `Early-Data: 1` (RFC 8470); the next request on the connection, and any request when early
//! data is off, carries none.

use crate::clients::*;
use crate::common::*;

fn session_then_early(rw: &Ringway, tag: &str) -> Out {
    let dir = test_dir(tag);
    let sess = dir.join("sess");
    let sess = sess.to_str().unwrap();
    let first = s_client(
        rw.addr,
        &["-tls1_3", "-servername", "localhost", "-sess_out", sess],
        Some(&close_request("localhost", "/first")),
    );
    assert!(first.handshake_done(), "{}", first.all());
    let early = dir.join("early.txt");
    std::fs::write(&early, "GET /early HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    s_client(
        rw.addr,
        &[
            "-tls1_3",
            "-servername",
            "localhost",
            "-sess_in",
            sess,
            "-early_data",
            early.to_str().unwrap(),
        ],
        Some(&close_request("localhost", "/after")),
    )
}

fn conf(b: &Backend, early: &str) -> String {
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    format!(
        "http {{ server {{ listen {LISTEN} ssl; server_name localhost; {} {early}
            location / {{ proxy_pass http://{}; proxy_set_header X-Early $ssl_early_data; }} }} }}",
        leaf.directives(),
        b.addr
    )
}

#[test]
fn a_request_in_early_data_carries_early_data_1() {
    let b = echo_backend();
    // rustls accepts 0-RTT only on resumption from its session store (single-use tickets are
    // its replay protection), never with stateless tickets: the store needs the cache and
    // tickets off.
    let rw = Ringway::start(&conf(
        &b,
        "ssl_early_data on; ssl_session_tickets off; ssl_session_cache shared:SSL:1m;",
    ));
    let o = session_then_early(&rw, "early-on");
    assert!(o.reused(), "{}", o.all());
    assert!(o.stdout.contains("Early data was accepted"), "{}", o.all());
    let reqs = b.requests();
    let by = |t: &str| {
        reqs.iter()
            .find(|r| r.target == t)
            .unwrap_or_else(|| panic!("{t} not proxied: {reqs:#?}"))
    };
    let early = by("/early");
    assert_eq!(early.header("early-data"), Some("1"), "{}", early.head);
    assert_eq!(early.header("x-early"), Some("1"), "{}", early.head);
    for t in ["/first", "/after"] {
        assert!(!by(t).has("early-data"), "{}", by(t).head);
    }
}

#[test]
fn early_data_off_by_default() {
    let b = echo_backend();
    let rw = Ringway::start(&conf(
        &b,
        "ssl_session_tickets off; ssl_session_cache shared:SSL:1m;",
    ));
    let o = session_then_early(&rw, "early-off");
    assert!(
        o.stdout.contains("Early data was rejected")
            || o.stdout.contains("Early data was not sent"),
        "{}",
        o.all()
    );
    assert!(b.requests().iter().all(|r| !r.has("early-data")));
}
