//! `allow`/`deny`, the real client address behind trusted proxies (`set_real_ip_from`) and the
//! client connection caps (`worker_connections`, `max_connections`), over real sockets. ringway
//! listens on 127.0.0.1, so "another address" is made with rules about 127.0.0.1 itself or with
//! an address a trusted 127.0.0.1 names in a header.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// A request from the test (peer 127.0.0.1) with extra header lines.
fn get(rw: &Ringway, path: &str, extra: &str) -> Response {
    let (_c, r) = exchange(
        rw.addr,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").as_bytes(),
    );
    r
}

/// The fields the backend received, from an echoing backend's body.
fn upstream_fields(r: &Response) -> Vec<(String, String)> {
    echoed_head(&r.body).1
}

#[test]
fn allow_and_deny_first_match_wins_and_levels_replace() {
    let b = echo_backend();
    let up = b.addr;
    let rw = Ringway::start(&format!(
        "http {{
    server {{
        listen {LISTEN};
        deny 127.0.0.1;
        add_header X-Why denied always;
        location /inherits/ {{ proxy_pass http://{up}; }}
        location /open/ {{ allow all; proxy_pass http://{up}; }}
        location /range/ {{ allow 127.0.0.0/8; deny all; proxy_pass http://{up}; }}
        location /first/ {{ deny 127.0.0.1; allow 127.0.0.0/8; proxy_pass http://{up}; }}
        location /other/ {{ deny 127.0.0.2; deny 10.0.0.0/8; proxy_pass http://{up}; }}
        location /v6/ {{ deny ::1; deny ::/0; proxy_pass http://{up}; }}
        location /nested/ {{
            allow 127.0.0.1;
            location /nested/deeper/ {{ proxy_pass http://{up}; }}
            location /nested/own/ {{ deny all; proxy_pass http://{up}; }}
        }}
        location /returns/ {{ deny all; return 200 \"returned\"; }}
        location /files/ {{ allow 127.0.0.1; }}
    }}
}}
"
    ));
    let denied = |path: &str| {
        let r = rw.get(path);
        assert_eq!(r.status, 403, "{path}: {}", r.describe());
        // The error page goes through the same path as other errors: `always` fields apply.
        assert_eq!(
            r.header("x-why"),
            Some("denied"),
            "{path}: {}",
            r.describe()
        );
    };
    let allowed = |path: &str| {
        let r = rw.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.describe());
    };
    denied("/inherits/x");
    denied("/first/x");
    denied("/nested/own/x");
    assert_eq!(
        b.request_count(),
        0,
        "a denied request must not reach the backend"
    );
    allowed("/open/x");
    allowed("/range/x");
    allowed("/other/x");
    // IPv6 rules say nothing about an IPv4 client.
    allowed("/v6/x");
    allowed("/nested/deeper/x");
    assert_eq!(b.request_count(), 5);
    // nginx's phases: `return` answers in the rewrite phase, before access is checked.
    let r = rw.get("/returns/x");
    assert_eq!((r.status, r.body_str().as_str()), (200, "returned"));
    // A location without a handler is checked before its 404.
    assert_eq!(rw.get("/files/x").status, 404);
}

#[test]
fn a_trusted_proxy_names_the_client() {
    let b = echo_backend();
    let up = b.addr;
    let rw = Ringway::start(&format!(
        "http {{
    server {{
        listen {LISTEN};
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Peer $realip_remote_addr;
        proxy_set_header X-Port $remote_port;
        location / {{ proxy_pass http://{up}; }}
        location /admin/ {{ allow 198.51.100.0/24; deny all; proxy_pass http://{up}; }}
        location /peer-only/ {{ deny 127.0.0.1; proxy_pass http://{up}; }}
    }}
}}
"
    ));
    let r = get(&rw, "/", "X-Forwarded-For: 6.6.6.6, 203.0.113.7\r\n");
    assert_eq!(r.status, 200, "{}", r.describe());
    let f = upstream_fields(&r);
    assert_eq!(field_values(&f, "x-real-ip"), ["203.0.113.7"], "{f:?}");
    // nginx's $proxy_add_x_forwarded_for: the incoming list, then $remote_addr.
    assert_eq!(
        field_values(&f, "x-forwarded-for"),
        ["6.6.6.6, 203.0.113.7, 203.0.113.7"],
        "{f:?}"
    );
    assert_eq!(field_values(&f, "x-peer"), ["127.0.0.1"], "{f:?}");
    // An address without a port: $remote_port is empty, so the field is not sent.
    assert!(field_values(&f, "x-port").is_empty(), "{f:?}");
    // With a port.
    let r = get(&rw, "/", "X-Forwarded-For: 203.0.113.7:4242\r\n");
    let f = upstream_fields(&r);
    assert_eq!(field_values(&f, "x-real-ip"), ["203.0.113.7"], "{f:?}");
    assert_eq!(field_values(&f, "x-port"), ["4242"], "{f:?}");

    // allow/deny judge the real address.
    let admin = |xff: &str| get(&rw, "/admin/", xff).status;
    assert_eq!(admin("X-Forwarded-For: 198.51.100.9\r\n"), 200);
    assert_eq!(admin("X-Forwarded-For: 198.51.100.9, 6.6.6.6\r\n"), 403);
    assert_eq!(admin(""), 403, "without the header the client is the peer");
    assert_eq!(admin("X-Forwarded-For: garbage\r\n"), 403);
    assert_eq!(
        get(&rw, "/peer-only/", "X-Forwarded-For: 192.0.2.1\r\n").status,
        200
    );
    assert_eq!(get(&rw, "/peer-only/", "").status, 403);

    // The real address is per request: the next one on the same connection starts from the peer.
    let mut c = rw.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n");
    let r1 = c.read_response();
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r2 = c.read_response();
    assert_eq!(
        field_values(&upstream_fields(&r1), "x-real-ip"),
        ["203.0.113.7"]
    );
    assert_eq!(
        field_values(&upstream_fields(&r2), "x-real-ip"),
        ["127.0.0.1"]
    );
}

#[test]
fn recursive_walk_and_untrusted_peers() {
    let b = echo_backend();
    let up = b.addr;
    let rw = Ringway::start(&format!(
        "http {{
    server {{
        listen {LISTEN};
        location /recursive/ {{
            set_real_ip_from 127.0.0.1;
            set_real_ip_from 10.0.0.0/8;
            real_ip_header X-Forwarded-For;
            real_ip_recursive on;
            proxy_pass http://{up};
        }}
        location /last/ {{
            set_real_ip_from 127.0.0.1;
            set_real_ip_from 10.0.0.0/8;
            real_ip_header X-Forwarded-For;
            proxy_pass http://{up};
        }}
        location /untrusted/ {{
            set_real_ip_from 10.0.0.0/8;
            real_ip_header X-Forwarded-For;
            proxy_pass http://{up};
        }}
        location /default-header/ {{
            set_real_ip_from 127.0.0.0/8;
            proxy_pass http://{up};
        }}
    }}
}}
"
    ));
    let real_ip = |path: &str, extra: &str| {
        let r = get(&rw, path, extra);
        assert_eq!(r.status, 200, "{}", r.describe());
        field_values(&upstream_fields(&r), "x-real-ip").join("|")
    };
    let xff = "X-Forwarded-For: 6.6.6.6, 198.51.100.1\r\nX-Forwarded-For: 10.1.1.1, 10.2.2.2\r\n";
    assert_eq!(real_ip("/recursive/", xff), "198.51.100.1");
    assert_eq!(real_ip("/last/", xff), "10.2.2.2");
    // A client that is not a trusted proxy never picks its own address.
    assert_eq!(real_ip("/untrusted/", xff), "127.0.0.1");
    // The default header is X-Real-IP; X-Forwarded-For is then just a field.
    assert_eq!(
        real_ip(
            "/default-header/",
            "X-Real-IP: 192.0.2.44\r\nX-Forwarded-For: 6.6.6.6\r\n"
        ),
        "192.0.2.44"
    );
    assert_eq!(real_ip("/default-header/", xff), "127.0.0.1");
}

/// Opens a connection and completes one request on it (so ringway has admitted it), retrying
/// while connections ringway has not yet seen closed (the harness's readiness probes) still
/// hold places.
fn admitted(rw: &Ringway) -> Client {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = rw.connect();
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        if let Ok(r) = c.try_read_response(false, Duration::from_secs(2))
            && r.status == 200
        {
            return c;
        }
        assert!(Instant::now() < deadline, "no connection was admitted");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A connection beyond the cap is closed at once, with no response.
fn refused_quickly(rw: &Ringway) {
    let started = Instant::now();
    let mut c = rw.connect();
    let _ = c.try_send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let (got, closed) = c.read_to_close(Duration::from_secs(2));
    assert!(
        closed && got.is_empty(),
        "expected a quick close, got {:?}",
        show(&got)
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

fn again(c: &mut Client) {
    c.send(b"GET /again HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
}

#[test]
fn worker_connections_caps_a_shard() {
    let b = echo_backend();
    let rw = Ringway::start(&format!(
        "events {{ worker_connections 3; }}\n{}",
        proxy_conf(b.addr, "")
    ));
    let mut first: Vec<Client> = (0..3).map(|_| admitted(&rw)).collect();
    for _ in 0..4 {
        refused_quickly(&rw);
    }
    // The admitted ones are still served.
    for c in &mut first {
        again(c);
    }
    assert!(
        rw.wait_log("worker_connections (3) reached", 1, Duration::from_secs(2)),
        "{}",
        rw.stderr()
    );
    assert!(
        rw.log_count("worker_connections (3) reached") <= 2,
        "{}",
        rw.stderr()
    );
    // A place freed is a place for a new connection.
    drop(first.pop());
    let mut c = admitted(&rw);
    again(&mut c);
}

#[test]
fn max_connections_caps_the_process() {
    let b = echo_backend();
    // Two shards: SO_REUSEPORT spreads connections, so only the process-wide count can hold
    // the total at 2.
    let rw = Ringway::start_with(
        &format!(
            "events {{ max_connections 2; }}\n{}",
            proxy_conf(b.addr, "")
        ),
        2,
    );
    let mut first: Vec<Client> = (0..2).map(|_| admitted(&rw)).collect();
    for _ in 0..4 {
        refused_quickly(&rw);
    }
    for c in &mut first {
        again(c);
    }
    assert!(
        rw.wait_log("max_connections (2) reached", 1, Duration::from_secs(2)),
        "{}",
        rw.stderr()
    );
    drop(first);
    let mut c = admitted(&rw);
    again(&mut c);
}

#[test]
fn caps_follow_a_reload() {
    let b = echo_backend();
    let conf = proxy_conf(b.addr, "");
    let rw = Ringway::start(&conf);
    let mut first = admitted(&rw);
    rw.reload_with(&format!("events {{ worker_connections 1; }}\n{conf}"), &[]);
    refused_quickly(&rw);
    again(&mut first);
    rw.reload_with(&conf, &[]);
    let mut second = admitted(&rw);
    again(&mut second);
}
