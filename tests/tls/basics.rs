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

/// `ssl_password_file`: an encrypted PKCS#8 key opens with one of the file's pass phrases (the
/// wrong one first); without the file `-t` names the key and says why; OpenSSL's legacy
/// encrypted PEM form gets a message saying how to convert it.
#[test]
fn encrypted_key_opens_with_ssl_password_file() {
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let dir = test_dir("tls-password");
    let enc = dir.join("enc.key");
    let key = leaf.key.to_str().unwrap();
    openssl(
        &dir,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            key,
            "-passout",
            "pass:s3cret",
            "-out",
            enc.to_str().unwrap(),
        ],
    );
    std::fs::write(dir.join("pass.txt"), "wrong\ns3cret\n").unwrap();
    let server = |extra: &str, key: &std::path::Path| {
        format!(
            "http {{
    server {{
        listen {LISTEN} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        {extra}
        location / {{ {VARS} }}
    }}
}}",
            cert = leaf.cert.display(),
            key = key.display()
        )
    };
    let pass = format!("ssl_password_file {};", dir.join("pass.txt").display());
    let rw = Ringway::start(&server(&pass, &enc));
    let r = curl_https(rw.addr, "localhost", "/", &[]);
    assert_eq!(r.status, 200, "{}", r.out.all());

    let check = |conf: &str| {
        let path = dir.join("t.conf");
        std::fs::write(&path, conf.replace(LISTEN, "127.0.0.1:1")).unwrap();
        let (st, _out, err) = run_ringway(&["-t".as_ref(), "-c".as_ref(), path.as_os_str()]);
        assert!(!st.success(), "-t passed:\n{conf}");
        err
    };
    let err = check(&server("", &enc));
    assert!(
        err.contains("enc.key") && err.contains("ssl_password_file"),
        "{err}"
    );
    let legacy = dir.join("legacy.key");
    openssl(
        &dir,
        &[
            "ec",
            "-in",
            key,
            "-aes256",
            "-passout",
            "pass:s3cret",
            "-out",
            legacy.to_str().unwrap(),
        ],
    );
    let err = check(&server(&pass, &legacy));
    assert!(
        err.contains("legacy encrypted PEM") && err.contains("openssl pkcs8"),
        "{err}"
    );
}

/// `ssl_ecdh_curve X25519MLKEM768:…` offers the post-quantum hybrid group (aws-lc's), chosen when
/// the client offers it; `auto` keeps to X25519, P-256 and P-384, so a client that offers only
/// the hybrid is refused with a handshake_failure alert.
#[test]
fn post_quantum_hybrid_group_only_where_named() {
    use rustls::crypto::aws_lc_rs::kx_group::{X25519, X25519MLKEM768};
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let conf = |curves: &str| {
        format!(
            "http {{ server {{ listen {LISTEN} ssl; server_name localhost; {} {curves} \
             location / {{ {VARS} }} }} }}",
            leaf.directives()
        )
    };
    let pq = Ringway::start(&conf("ssl_ecdh_curve X25519MLKEM768:X25519;"));
    let (group, body) = rustls_get(pq.addr, &[X25519MLKEM768, X25519]).unwrap();
    assert_eq!(group, Some(rustls::NamedGroup::X25519MLKEM768));
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.ends_with("https|on|TLSv1.3|TLS_AES_256_GCM_SHA384|localhost|."),
        "{body}"
    );
    let (group, _) = rustls_get(pq.addr, &[X25519]).unwrap();
    assert_eq!(group, Some(rustls::NamedGroup::X25519));

    let auto = Ringway::start(&conf(""));
    let err = rustls_get(auto.addr, &[X25519MLKEM768]).unwrap_err();
    assert!(err.contains("HandshakeFailure"), "{err}");
    let (group, _) = rustls_get(auto.addr, &[X25519MLKEM768, X25519]).unwrap();
    assert_eq!(group, Some(rustls::NamedGroup::X25519));
}

/// A GET / over rustls (aws-lc) offering `groups`: the group agreed and the whole answer.
fn rustls_get(
    addr: SocketAddr,
    groups: &[&'static dyn rustls::crypto::SupportedKxGroup],
) -> Result<(Option<rustls::NamedGroup>, String), String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use std::io::{Read, Write};
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&Pki::get().ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.kx_groups = groups.to_vec();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = "localhost".try_into().unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let ask = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    tls.write_all(ask).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tls.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let group = conn.negotiated_key_exchange_group().map(|g| g.name());
    Ok((group, String::from_utf8_lossy(&out).into_owned()))
}
