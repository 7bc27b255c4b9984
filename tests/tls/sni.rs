//! SNI chooses the server block's certificate as nginx's `server_name` rules choose a server
//! (exact, wildcard, default); `ssl_reject_handshake`; an RSA and an ECDSA pair in one server;
//! `ssl_protocols`.

use crate::clients::*;
use crate::common::*;

fn server(listen: &str, names: &str, pair: &Pair, body: &str) -> String {
    format!(
        "server {{ listen {listen}; server_name {names}; {} location / {{ return 200 \"{body}\"; }} }}\n",
        pair.directives()
    )
}

#[test]
fn sni_picks_exact_wildcard_and_default_certificates() {
    let pki = Pki::get();
    let default = pki.server(&["default.test"], KeyKind::Ecdsa);
    let exact = pki.server(&["a.example.test"], KeyKind::Ecdsa);
    let wild = pki.server(&["*.example.test"], KeyKind::Ecdsa);
    let conf = format!(
        "http {{\n{}{}{}}}",
        server(&format!("{LISTEN} ssl"), "a.example.test", &exact, "a"),
        server(&format!("{LISTEN} ssl"), "*.example.test", &wild, "wild"),
        // Not first: the default is the one marked so.
        server(
            &format!("{LISTEN} ssl default_server"),
            "default.test",
            &default,
            "default"
        ),
    );
    let rw = Ringway::start(&conf);
    for (sni, cn) in [
        ("a.example.test", "a.example.test"),
        ("b.example.test", "*.example.test"),
        ("deep.b.example.test", "*.example.test"),
        ("unknown.test", "default.test"),
    ] {
        let o = s_client(rw.addr, &["-servername", sni], None);
        assert!(o.handshake_done(), "{sni}: {}", o.all());
        assert_eq!(o.cn().as_deref(), Some(cn), "SNI {sni}: {}", o.all());
    }
    let o = s_client(rw.addr, &["-noservername"], None);
    assert_eq!(
        o.cn().as_deref(),
        Some("default.test"),
        "no SNI: {}",
        o.all()
    );
    // curl verifies the chosen certificate against the name, and Host routes.
    for (name, body) in [("a.example.test", "a"), ("x.example.test", "wild")] {
        let r = curl_https(rw.addr, name, "/", &[]);
        assert_eq!((r.status, r.body.as_str()), (200, body), "{}", r.out.all());
    }
}

#[test]
fn reject_handshake_in_the_default_server_refuses_unknown_names() {
    let exact = Pki::get().server(&["a.example.test"], KeyKind::Ecdsa);
    let conf = format!(
        "http {{\n{}server {{ listen {LISTEN} ssl default_server; ssl_reject_handshake on; location / {{ return 200 \"nope\"; }} }}\n}}",
        server(&format!("{LISTEN} ssl"), "a.example.test", &exact, "a"),
    );
    let rw = Ringway::start(&conf);
    for args in [&["-servername", "unknown.test"][..], &["-noservername"][..]] {
        let o = s_client(rw.addr, args, None);
        assert!(!o.handshake_done(), "{args:?} must fail: {}", o.all());
        assert!(o.cn().is_none(), "{args:?}: no certificate: {}", o.all());
    }
    let r = curl_https(rw.addr, "unknown.example.test", "/", &["-k"]);
    assert_eq!(r.status, 0, "{}", r.out.all());
    let r = curl_https(rw.addr, "a.example.test", "/", &[]);
    assert_eq!((r.status, r.body.as_str()), (200, "a"), "{}", r.out.all());
}

#[test]
fn rsa_and_ecdsa_pairs_in_one_server_follow_what_the_client_supports() {
    let pki = Pki::get();
    let rsa = pki.server(&["dual.test"], KeyKind::Rsa);
    let ec = pki.server(&["dual.test"], KeyKind::Ecdsa);
    let conf = format!(
        "http {{ server {{ listen {LISTEN} ssl; server_name dual.test; {} {} location / {{ return 200 \"$ssl_cipher\"; }} }} }}",
        rsa.directives(),
        ec.directives()
    );
    let rw = Ringway::start(&conf);
    let sni = ["-servername", "dual.test"];
    let bits = |extra: &[&str]| {
        let o = s_client(rw.addr, &[&sni[..], extra].concat(), None);
        assert!(o.handshake_done(), "{extra:?}: {}", o.all());
        o.server_key_bits()
    };
    assert_eq!(
        bits(&[]),
        Some(256),
        "a default client gets the ECDSA certificate"
    );
    assert_eq!(bits(&["-tls1_2"]), Some(256));
    assert_eq!(
        bits(&["-sigalgs", "RSA-PSS+SHA256:rsa_pkcs1_sha256"]),
        Some(2048),
        "TLS 1.3 client that signs with RSA only"
    );
    assert_eq!(
        bits(&["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]),
        Some(2048),
        "TLS 1.2 client with an RSA suite only"
    );
    assert_eq!(
        bits(&["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]),
        Some(256)
    );
    let r = curl_https(
        rw.addr,
        "dual.test",
        "/",
        &[
            "--tls-max",
            "1.2",
            "--ciphers",
            "ECDHE-RSA-AES256-GCM-SHA384",
        ],
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "ECDHE-RSA-AES256-GCM-SHA384"),
        "{}",
        r.out.all()
    );
}

#[test]
fn ssl_protocols_limits_versions_and_tls11_is_always_refused() {
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let conf = |protocols: &str| {
        format!(
            "http {{ server {{ listen {LISTEN} ssl; {protocols} {} location / {{ return 200 \"$ssl_protocol\"; }} }} }}",
            leaf.directives()
        )
    };
    let rw = Ringway::start(&conf("ssl_protocols TLSv1.3;"));
    let o = s_client(rw.addr, &["-tls1_3"], None);
    assert_eq!(o.protocol(), Some("TLSv1.3"), "{}", o.all());
    let o = s_client(rw.addr, &["-tls1_2"], None);
    assert!(!o.handshake_done(), "TLS 1.2 refused: {}", o.all());
    assert!(o.stderr.contains("alert protocol version"), "{}", o.all());

    let rw = Ringway::start(&conf(""));
    let o = s_client(rw.addr, &["-tls1_2"], None);
    assert_eq!(o.protocol(), Some("TLSv1.2"), "{}", o.all());
    // OpenSSL 3 offers TLS 1.1 only at security level 0.
    let o = s_client(rw.addr, &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], None);
    assert!(!o.handshake_done(), "TLS 1.1 refused: {}", o.all());
    // rustls answers a TLS 1.1 hello with a fatal alert (handshake_failure: it looks at the
    // suites, all pre-1.2 here, before the version).
    assert!(
        o.stderr.contains("alert protocol version") || o.stderr.contains("alert handshake failure"),
        "{}",
        o.all()
    );
}

/// An IP address as SNI (which wrk and some libraries send) makes rustls warn through the `log`
/// crate. Clients can do that at will, so one warning per connection must not reach the log:
/// rustls's records count as debug detail, written when debug logging is asked for.
#[test]
fn an_ip_address_as_sni_is_not_logged_as_a_warning() {
    let pair = Pki::get().server(&["a.example.test"], KeyKind::Ecdsa);
    let conf = format!(
        "http {{\n{}}}",
        server(&format!("{LISTEN} ssl"), "a.example.test", &pair, "a"),
    );
    const WARNING: &str = "Illegal SNI extension";
    for (level, logged) in [("info", false), ("debug", true)] {
        let rw = Ringway::start_with_env(&conf, 1, &[("RINGWAY_LOG", level)]);
        for _ in 0..3 {
            let o = s_client(rw.addr, &["-servername", "127.0.0.1"], None);
            assert!(o.handshake_done(), "{}", o.all());
        }
        let r = curl_https(rw.addr, "a.example.test", "/", &[]);
        assert_eq!((r.status, r.body.as_str()), (200, "a"), "{}", r.out.all());
        if logged {
            assert!(
                rw.wait_log(WARNING, 3, std::time::Duration::from_secs(5)),
                "RINGWAY_LOG=debug writes rustls's records: {}",
                rw.stderr()
            );
        } else {
            // stderr is written during the handshake itself: nothing is still on its way.
            assert_eq!(rw.log_count(WARNING), 0, "{}", rw.stderr());
        }
    }
}
