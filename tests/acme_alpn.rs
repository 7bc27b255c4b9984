//! ACME over TLS-ALPN-01 (RFC 8737) against pebble: an issuer with `challenge tls-alpn;` and no
//! plain HTTP listener at all. pebble's validation authority dials ringway's TLS port with ALPN
//! `acme-tls/1` while the server has no certificate yet and its default server rejects
//! handshakes; ringway presents the validation certificate, the order completes, and HTTPS
//! serves the issued chain. A `acme-tls/1` handshake for a name with nothing pending gets an
//! alert, and the shard goes on serving. Skipped when pebble is not installed, unless
//! RINGWAY_ACME=require (CI).

mod common;

#[allow(dead_code)]
#[path = "acme/util.rs"]
mod util;

#[allow(dead_code)]
#[path = "acme/pebble.rs"]
mod pebble;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::Duration;

use common::*;
use pebble::Pebble;
use util::{curl_https, poll, verifies};

/// `openssl s_client` to `addr` with SNI `name` and ALPN `alpn` (extra arguments after).
fn s_client(addr: SocketAddr, name: &str, alpn: &str, extra: &[&str]) -> Output {
    Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .args(["-servername", name, "-alpn", alpn])
        .args(extra)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl s_client")
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// An `acme-tls/1` handshake for `name`, with nothing pending for it: refused with
/// `no_application_protocol`, and nothing else of ringway's is shown.
fn assert_refused(addr: SocketAddr, name: &str, rw: &Ringway) {
    let out = s_client(addr, name, "acme-tls/1", &[]);
    let all = output_text(&out);
    assert!(
        !out.status.success() && all.contains("no application protocol"),
        "acme-tls/1 for {name}: {all}\n{}",
        rw.stderr()
    );
    assert!(!all.contains("BEGIN CERTIFICATE"), "{all}");
}

#[test]
fn issues_over_tls_alpn01_without_a_plain_listener() {
    let https = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let Some(p) = Pebble::start_tls_alpn(https.port()) else {
        return;
    };
    let root = p.root_pem();
    let work = temp_dir("acme-alpn");
    let state = work.join("state");
    let text = format!(
        "events {{}}
http {{
    acme_issuer pebble {{
        uri {dir};
        challenge tls-alpn;
        state_path {state};
        accept_terms_of_service;
        ssl_trusted_certificate {ca};
    }}
    server {{
        listen {https} ssl default_server;
        ssl_reject_handshake on;
    }}
    server {{
        listen {https} ssl;
        server_name a.example.test b.example.test;
        acme_certificate pebble;
        ssl_certificate $acme_certificate;
        ssl_certificate_key $acme_certificate_key;
        return 200 \"hello from $host\";
    }}
}}
",
        dir = p.directory(),
        ca = p.tls_cert.display(),
        state = state.display(),
    );
    let rw_dir = work.join("run");
    std::fs::create_dir_all(&rw_dir).unwrap();
    let conf = rw_dir.join("ringway.conf");
    std::fs::write(&conf, &text).unwrap();
    // One shard: the one that refuses the stray acme-tls/1 handshakes is the one that serves.
    let rw = Ringway::spawn(
        rw_dir,
        conf,
        1,
        vec![https],
        &text,
        &[("RINGWAY_LOG", "info,ringway::tls::acme_alpn=debug")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_refused(https, "nothing.example.test", &rw);
    let body = poll(Duration::from_secs(20), || {
        curl_https(https.port(), "a.example.test", &root)
    })
    .unwrap_or_else(|e| panic!("no HTTPS with the ACME certificate: {e}\n{}", rw.stderr()));
    assert_eq!(body, "hello from a.example.test");
    assert_eq!(
        curl_https(https.port(), "b.example.test", &root).unwrap(),
        "hello from b.example.test"
    );
    for name in ["a.example.test", "b.example.test"] {
        assert_eq!(
            rw.log_count(&format!("{name} validated (tls-alpn-01)")),
            1,
            "{}",
            rw.stderr()
        );
    }
    assert!(
        rw.log_count("TLS-ALPN-01 validation certificate presented") >= 2,
        "{}",
        rw.stderr()
    );
    assert!(
        rw.log_count("acme-tls/1 offered for a name with no ACME validation pending") >= 1,
        "{}",
        rw.stderr()
    );
    // The chain verifies against pebble's root.
    let crt = state.join("certificates/a.example.test.crt");
    if let Err(e) = verifies(&crt, &root, &work) {
        panic!("openssl verify: {e}");
    }
    // Validation over: the name's acme-tls/1 handshake is refused again, and the shard goes on
    // serving.
    assert_refused(https, "a.example.test", &rw);
    // A client offering acme-tls/1 beside another protocol is an ordinary client: the
    // server's own handshake, its certificate, http/1.1.
    let ordinary = s_client(
        https,
        "a.example.test",
        "acme-tls/1,http/1.1",
        &[
            "-CAfile",
            &root.display().to_string(),
            "-verify_return_error",
        ],
    );
    let all = output_text(&ordinary);
    assert!(
        ordinary.status.success() && all.contains("ALPN protocol: http/1.1"),
        "{all}"
    );
    assert_eq!(
        curl_https(https.port(), "a.example.test", &root).unwrap(),
        "hello from a.example.test"
    );
    drop(rw);
    let _ = std::fs::remove_dir_all(&work);
}
