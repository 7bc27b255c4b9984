//! SIGHUP with a changed certificate file: new handshakes get the new certificate, a TLS
//! keep-alive connection opened before keeps working; a broken file keeps the running
//! certificate and logs its path.

use std::time::Duration;

use crate::clients::*;
use crate::common::*;

#[test]
fn reload_picks_up_a_new_certificate_and_keeps_live_connections() {
    let pki = Pki::get();
    let one = pki.server(&["one.reload.test", "reload.test"], KeyKind::Ecdsa);
    let two = pki.server(&["two.reload.test", "reload.test"], KeyKind::Ecdsa);
    let dir = test_dir("tls-reload");
    let (cert, key) = (dir.join("site.pem"), dir.join("site.key"));
    let install = |p: &Pair| {
        std::fs::copy(&p.cert, &cert).unwrap();
        std::fs::copy(&p.key, &key).unwrap();
    };
    install(&one);
    let conf = format!(
        "http {{ server {{ listen {LISTEN} ssl; server_name reload.test;
            ssl_certificate {}; ssl_certificate_key {};
            location / {{ return 200 \"hello\"; }} }} }}",
        cert.display(),
        key.display()
    );
    let rw = Ringway::start(&conf);
    let cn = || {
        let o = s_client(rw.addr, &["-servername", "reload.test"], None);
        o.cn()
            .unwrap_or_else(|| panic!("no certificate: {}", o.all()))
    };
    assert_eq!(cn(), "one.reload.test");
    let mut live = LiveClient::open(rw.addr, &["-servername", "reload.test"]);
    let got = live.request("reload.test", "/", "hello");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");

    install(&two);
    rw.reload_with(&conf, &[]);
    assert_eq!(cn(), "two.reload.test");
    let got = live.request("reload.test", "/", "hello");
    assert!(
        got.starts_with("HTTP/1.1 200"),
        "the connection from before: {got}"
    );

    // A broken certificate file: the reload fails naming it, the running certificate stays.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    let failed = rw.log_count("reload failed");
    rw.signal(libc::SIGHUP);
    assert!(
        rw.wait_log("reload failed", failed + 1, Duration::from_secs(5)),
        "{}",
        rw.stderr()
    );
    let log = rw.log_plain();
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("reload failed"))
        .unwrap();
    assert!(
        line.contains(&cert.display().to_string()),
        "names the file: {line}"
    );
    assert_eq!(cn(), "two.reload.test");
    let got = live.request("reload.test", "/", "hello");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let r = curl_https(rw.addr, "reload.test", "/", &[]);
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "hello"),
        "{}",
        r.out.all()
    );
}
