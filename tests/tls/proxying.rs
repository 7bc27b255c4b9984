//! Proxying from a TLS server (`X-Forwarded-Proto: https`, redirects ringway builds) and to
//! TLS upstreams (`proxy_pass https://` with verification, SNI, pooling, health checks).

use std::net::{SocketAddr, TcpListener};

use crate::clients::*;
use crate::common::*;

#[test]
fn a_tls_server_forwards_https_as_the_scheme() {
    let b = echo_backend();
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let conf = format!(
        "http {{ server {{ listen {LISTEN} ssl; server_name localhost; {}
            location / {{ proxy_pass http://{}; }} }} }}",
        leaf.directives(),
        b.addr
    );
    let rw = Ringway::start(&conf);
    let r = curl_https(rw.addr, "localhost", "/x", &[]);
    assert_eq!(r.status, 200, "{}", r.out.all());
    let reqs = b.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].header("x-forwarded-proto"),
        Some("https"),
        "{}",
        reqs[0].head
    );
    assert!(!reqs[0].has("early-data"), "{}", reqs[0].head);
}

#[test]
fn redirects_built_on_a_tls_server_say_https_and_leave_out_443() {
    let leaf = Pki::get().server(&["localhost", "127.0.0.1"], KeyKind::Ecdsa);
    let server = |listen: &str| {
        format!(
            "server {{ listen {listen} ssl; server_name localhost; {}
                location /r {{ return 301 /x; }}
                location /w {{ rewrite ^/w(.*)$ /y$1 redirect; }} }}\n",
            leaf.directives()
        )
    };
    // Port 443 on some 127.x address (the whole of 127/8 is loopback): only root may bind it.
    let on_443 = (2..250u8).find_map(|x| {
        let a = SocketAddr::from(([127, 0, 77, x], 443));
        TcpListener::bind(a).ok().map(|_| a)
    });
    let dir = temp_dir("tls-redirect");
    let port = free_port();
    let any = SocketAddr::from(([127, 0, 0, 1], port));
    let mut listens = vec![any];
    let mut text = server(&any.to_string());
    if let Some(a) = on_443 {
        text.push_str(&server(&a.to_string()));
        listens.push(a);
    }
    let path = write_config(&dir, &format!("http {{\n{text}}}"));
    let rw = Ringway::start_file(dir, path, 1, &listens).expect("ringway");
    let loc = |addr: SocketAddr, path: &str| {
        let r = curl_https(addr, "localhost", path, &["-D", "-", "-o", "/dev/null"]);
        r.out
            .stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("Location: ")
                    .or_else(|| l.strip_prefix("location: "))
            })
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| panic!("no Location: {}", r.out.all()))
    };
    assert_eq!(loc(any, "/r"), format!("https://localhost:{port}/x"));
    assert_eq!(loc(any, "/w/z"), format!("https://localhost:{port}/y/z"));
    match on_443 {
        Some(a) => {
            assert_eq!(loc(a, "/r"), "https://localhost/x");
            assert_eq!(loc(a, "/w/z"), "https://localhost/y/z");
        }
        None => eprintln!("cannot bind port 443 here: the :443 case is not tested"),
    }
    drop(rw);
}

/// A TLS server block (`@LISTEN2@`, and `@LISTEN3@` when `two`) answering with its connection's
/// peer port (one upstream connection = one port) and SNI, and a plain one (`@LISTEN@`) whose
/// locations proxy to it with `proxy`'s settings.
fn upstream_conf(locations: &str) -> String {
    let up = Pki::get().server(&["up.example.test"], KeyKind::Ecdsa);
    format!(
        "http {{
    upstream tlspool {{
        server @LISTEN2@;
        server @LISTEN3@;
        health_check interval=200ms fails=1 passes=1 uri=/healthz timeout=1s;
    }}
    server {{
        listen @LISTEN2@ ssl;
        {certs}
        location = /healthz {{ return 200 \"ok\"; }}
        location / {{ return 200 \"port=$remote_port sni=$ssl_server_name server=2\"; }}
    }}
    server {{
        listen @LISTEN3@ ssl;
        {certs}
        location = /healthz {{ return 503 \"down\"; }}
        location / {{ return 200 \"server=3\"; }}
    }}
    server {{
        listen {LISTEN};
        {locations}
    }}
}}",
        certs = up.directives()
    )
}

fn verify(ca: &std::path::Path) -> String {
    format!(
        "proxy_ssl_verify on; proxy_ssl_trusted_certificate {}; proxy_ssl_name up.example.test; proxy_ssl_server_name on;",
        ca.display()
    )
}

#[test]
fn proxy_pass_https_verifies_sends_sni_and_pools() {
    let pki = Pki::get();
    let locations = format!(
        "location /good/ {{ proxy_pass https://@LISTEN2@; {} }}
         location /bad/ {{ proxy_pass https://@LISTEN2@; {} }}
         location /pool/ {{ proxy_pass https://tlspool; {} }}",
        verify(&pki.ca),
        verify(&Pki::other().ca),
        verify(&pki.ca),
    );
    let rw = Ringway::start(&upstream_conf(&locations));
    // 20 requests over one keep-alive client connection: one upstream TLS connection.
    let mut c = rw.connect();
    let mut ports = std::collections::BTreeSet::new();
    for i in 0..20 {
        c.send(format!("GET /good/{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        let r = c.read_response();
        assert_eq!(r.status, 200, "{}", r.describe());
        let body = r.body_str();
        assert!(body.ends_with("sni=up.example.test server=2"), "{body}");
        ports.insert(body.split(' ').next().unwrap().to_string());
    }
    assert_eq!(
        ports.len(),
        1,
        "one upstream connection (one handshake): {ports:?}"
    );
    // And from other client connections too (the pool is per shard).
    for _ in 0..3 {
        let body = rw.get("/good/again").body_str();
        assert!(ports.contains(body.split(' ').next().unwrap()), "{body}");
    }

    // A certificate from a CA not trusted: 502, and a log line naming upstream and reason.
    let r = rw.get("/bad/");
    assert_eq!(r.status, 502, "{}", r.describe());
    let up = rw.addrs[1].to_string();
    assert!(
        rw.wait_log_all(&[&up, "certificate"], 1, std::time::Duration::from_secs(2)),
        "no log line names {up} and the certificate problem:\n{}",
        rw.log_plain()
    );
    let line = rw
        .log_plain()
        .lines()
        .find(|l| l.contains(&up) && l.contains("certificate"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("UnknownIssuer")
            || line.to_lowercase().contains("unknown issuer")
            || line.contains("issuer"),
        "the reason: {line}"
    );

    // An upstream group over TLS with active health checks: the probes speak TLS (plain HTTP
    // to a TLS port would fail both servers), server 3 answers its probe with 503 and leaves.
    assert!(
        rw.wait_log("health check failed", 1, std::time::Duration::from_secs(5)),
        "{}",
        rw.log_plain()
    );
    let failed = rw.log_plain();
    let failed: Vec<&str> = failed
        .lines()
        .filter(|l| l.contains("health check failed"))
        .collect();
    assert!(
        failed.iter().all(|l| l.contains(&rw.addrs[2].to_string())),
        "only server 3 fails its checks: {failed:#?}"
    );
    for i in 0..10 {
        let r = rw.get(&format!("/pool/{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        assert!(r.body_str().ends_with("server=2"), "{}", r.body_str());
    }
}
