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
