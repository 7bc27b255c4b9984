//! HTTPS with curl: the TLS variables, plain and TLS servers side by side, IPv6, `ssl_protocols`.

use std::net::{SocketAddr, TcpListener};

use crate::clients::*;
use crate::common::*;

/// A `return 200` with the connection's TLS variables, `|`-separated.
pub const VARS: &str =
    "return 200 \"$scheme|$https|$ssl_protocol|$ssl_cipher|$ssl_server_name|$ssl_session_reused\";";

#[test]
fn https_answers_with_tls_variables_next_to_a_plain_server() {
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let conf = format!(
        "http {{
    server {{
        listen {LISTEN} ssl;
        server_name localhost;
        {certs}
        location / {{ {VARS} }}
    }}
    server {{
        listen @LISTEN2@;
        server_name localhost;
        location / {{ {VARS} }}
    }}
}}",
        certs = leaf.directives()
    );
    let rw = Ringway::start(&conf);
    let r = curl_https(rw.addr, "localhost", "/", &[]);
    assert_eq!(r.status, 200, "{}", r.out.all());
    assert_eq!(
        r.body,
        "https|on|TLSv1.3|TLS_AES_256_GCM_SHA384|localhost|.",
        "{}",
        r.out.all()
    );
    let r = curl_https(
        rw.addr,
        "localhost",
        "/",
        &[
            "--tlsv1.2",
            "--tls-max",
            "1.2",
            "--ciphers",
            "ECDHE-ECDSA-AES128-GCM-SHA256",
        ],
    );
    assert_eq!(
        r.body,
        "https|on|TLSv1.2|ECDHE-ECDSA-AES128-GCM-SHA256|localhost|.",
        "{}",
        r.out.all()
    );
    // The plain server on the other port: no TLS variables.
    let r = curl(&[&format!("http://{}/", rw.addrs[1])]);
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "http|||||"),
        "{}",
        r.out.all()
    );
}

#[test]
fn ipv6_tls_listener() {
    let Ok(probe) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here: nothing to test");
        return;
    };
    let addr: SocketAddr = probe.local_addr().unwrap();
    drop(probe);
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let dir = temp_dir("tls-v6");
    let conf = format!(
        "http {{ server {{ listen [::1]:{} ssl; {} location / {{ {VARS} }} }} }}",
        addr.port(),
        leaf.directives()
    );
    let path = write_config(&dir, &conf);
    let rw = Ringway::start_file(dir, path, 1, &[addr]).expect("ringway on [::1]");
    let r = curl_https(rw.addr, "localhost", "/", &[]);
    assert_eq!(r.status, 200, "{}", r.out.all());
    assert!(r.body.starts_with("https|on|TLSv1.3|"), "{}", r.body);
}
