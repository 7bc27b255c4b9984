//! ACME (issue 22) end to end against pebble, Let's Encrypt's test ACME server (Debian package
//! `pebble`), with pebble-challtestsrv as its DNS (every name is 127.0.0.1): ringway orders
//! certificates over HTTP-01 at start, answers the challenges on its plain listener ahead of
//! a redirect-everything server, swaps them in, serves HTTPS with them, and reuses them after a
//! restart. Skipped when pebble is not installed, unless RINGWAY_ACME=require (CI).

mod common;

#[allow(dead_code)]
#[path = "acme/util.rs"]
mod util;

#[allow(dead_code)]
#[path = "tls/clients.rs"]
mod clients;

#[path = "acme/pebble.rs"]
mod pebble;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use pebble::Pebble;
use util::{curl_https, listeners, poll, start, stored_serial, verifies, wait_renewed};

/// ringway's config: a plain server that redirects everything to https:// (a.… and b.…),
/// another with no location for the challenge path (every other name), a TLS server for two
/// names with a certificate from pebble, one for a name whose validation fails, one for a name
/// whose issuer is unreachable, and one with a certificate of its own.
fn config(
    http: SocketAddr,
    https: SocketAddr,
    p: &Pebble,
    state: &Path,
    own: &Pair,
    extra: &str,
) -> String {
    format!(
        "events {{}}
http {{
    acme_shared_zone zone=acme:1m;
    acme_issuer pebble {{
        uri {dir};
        contact admin@example.test;
        state_path {state}/pebble;
        accept_terms_of_service;
        ssl_trusted_certificate {ca};
    }}
    acme_issuer down {{
        uri https://127.0.0.1:{dead}/dir;
        state_path {state}/down;
        accept_terms_of_service;
    }}
    server {{
        listen {http};
        server_name a.example.test b.example.test;
        return 301 https://$host$request_uri;
    }}
    server {{
        listen {http} default_server;
        server_name _;
        location /app/ {{ return 404; }}
    }}
    server {{
        listen {https} ssl;
        server_name bad.example.test;
        acme_certificate pebble;
        ssl_certificate $acme_certificate;
        ssl_certificate_key $acme_certificate_key;
        return 200 \"never\";
    }}
    server {{
        listen {https} ssl;
        server_name a.example.test b.example.test;
        acme_certificate pebble;
        ssl_certificate $acme_certificate;
        ssl_certificate_key $acme_certificate_key;
        return 200 \"hello from $host\";
    }}
    server {{
        listen {https} ssl;
        server_name down.example.test;
        acme_certificate down;
        ssl_certificate $acme_certificate;
        ssl_certificate_key $acme_certificate_key;
        return 200 \"never\";
    }}
    server {{
        listen {https} ssl default_server;
        server_name own.example.test;
        {own}
        return 200 \"own\";
    }}
{extra}
}}
",
        dir = p.directory(),
        ca = p.tls_cert.display(),
        state = state.display(),
        dead = free_port(),
        own = own.directives(),
    )
}

#[test]
fn issues_over_http01_serves_https_and_reuses_after_restart() {
    let (http, https) = listeners();
    let Some(p) = Pebble::start(http.port()) else {
        return;
    };
    let root = p.root_pem();
    // Nothing of ringway's listens on 127.0.0.2: this name's validation fails.
    p.resolve("bad.example.test", "127.0.0.2");
    let work = temp_dir("acme");
    let state = work.join("state");
    let own = Pki::get().server(&["own.example.test"], KeyKind::Ecdsa);
    let text = config(http, https, &p, &state, &own, "");
    let rw_dir = work.join("run1");
    std::fs::create_dir_all(&rw_dir).unwrap();
    let started = Instant::now();
    let rw = start(&rw_dir, &text, &[http, https]);
    // The issuer that cannot be reached does not hold up the others: the name with its own
    // certificate answers at once.
    let own_ca = &Pki::get().ca;
    assert_eq!(
        curl_https(https.port(), "own.example.test", own_ca).unwrap(),
        "own"
    );
    // Both names come from one order, validated over HTTP-01 through the redirecting server.
    let body = poll(Duration::from_secs(20), || {
        curl_https(https.port(), "a.example.test", &root)
    })
    .unwrap_or_else(|e| panic!("no HTTPS with the ACME certificate: {e}\n{}", rw.stderr()));
    assert_eq!(body, "hello from a.example.test");
    // The figure issue 22 asks for (run with --nocapture to see it).
    eprintln!(
        "ACME: start to the first HTTPS answer with the issued certificate: {:?}",
        started.elapsed()
    );
    assert_eq!(
        curl_https(https.port(), "b.example.test", &root).unwrap(),
        "hello from b.example.test"
    );
    assert!(
        rw.log_count("a.example.test validated (http-01)") >= 1
            || rw.log_count("validated (http-01)") >= 1,
        "{}",
        rw.stderr()
    );
    // The chain verifies against pebble's root.
    let crt = state.join("pebble/certificates/a.example.test.crt");
    let pem = std::fs::read_to_string(&crt).unwrap();
    if let Err(e) = verifies(&crt, &root, &work) {
        panic!("openssl verify: {e}");
    }
    // The name whose issuer is down has no certificate: its handshake fails (no other
    // server's certificate is offered instead), and the log says why.
    let insecure = Command::new("curl")
        .args(["-sS", "-k", "--max-time", "5", "--resolve"])
        .arg(format!("down.example.test:{}:127.0.0.1", https.port()))
        .arg(format!("https://down.example.test:{}/", https.port()))
        .output()
        .unwrap();
    let why = String::from_utf8_lossy(&insecure.stderr);
    assert!(
        !insecure.status.success() && why.contains("unrecognized name"),
        "a handshake for a name without its certificate: {}{why}",
        String::from_utf8_lossy(&insecure.stdout)
    );
    assert!(
        rw.wait_log(
            "no certificate for down.example.test",
            1,
            Duration::from_secs(5)
        ),
        "{}",
        rw.stderr()
    );
    assert!(
        rw.log_count("no ACME certificate yet for down.example.test") >= 1,
        "{}",
        rw.stderr()
    );
    // A failed validation is logged with the ACME server's problem document, and it held up
    // neither the other names of the same issuer nor the rest.
    assert!(
        rw.wait_log(
            "validation of bad.example.test failed",
            1,
            Duration::from_secs(10)
        ),
        "{}",
        rw.stderr()
    );
    assert!(
        rw.log_count("urn:ietf:params:acme:error:connection") >= 1,
        "{}",
        rw.stderr()
    );
    let mut rw = rw;
    rw.stop_graceful(Duration::from_secs(5))
        .expect("ringway stops");
    // A restart reuses the stored certificate: no new order, and HTTPS answers at once.
    let rw_dir = work.join("run2");
    std::fs::create_dir_all(&rw_dir).unwrap();
    let rw = start(&rw_dir, &text, &[http, https]);
    assert_eq!(
        curl_https(https.port(), "b.example.test", &root).unwrap(),
        "hello from b.example.test"
    );
    assert!(
        rw.log_count("reusing the stored certificate for a.example.test, b.example.test") == 1,
        "{}",
        rw.stderr()
    );
    assert_eq!(std::fs::read_to_string(&crt).unwrap(), pem);
    assert_eq!(
        rw.log_count("ordering a certificate for a.example.test"),
        0,
        "a new order after restart: {}",
        rw.stderr()
    );
    // A reload that adds a name orders it; a TLS keep-alive connection open across that reload
    // and the certificate's swap goes on.
    let mut live = clients::LiveClient::open(https, &["-servername", "own.example.test"]);
    assert!(
        live.request("own.example.test", "/", "own")
            .ends_with("own")
    );
    let added = "    server {
        listen HTTPS ssl;
        server_name c.example.test;
        acme_certificate pebble;
        ssl_certificate $acme_certificate;
        ssl_certificate_key $acme_certificate_key;
        return 200 \"hello from $host\";
    }"
    .replace("HTTPS", &https.to_string());
    let text2 = config(http, https, &p, &state, &own, &added);
    std::fs::write(&rw.config_path, text2).unwrap();
    rw.signal(libc::SIGHUP);
    let body = poll(Duration::from_secs(20), || {
        curl_https(https.port(), "c.example.test", &root)
    })
    .unwrap_or_else(|e| {
        panic!(
            "no certificate for a name added by reload: {e}\n{}",
            rw.stderr()
        )
    });
    assert_eq!(body, "hello from c.example.test");
    assert_eq!(
        rw.log_count("ordering a certificate for c.example.test"),
        1,
        "{}",
        rw.stderr()
    );
    // Already being ordered (bad, down) or stored (a, b): not ordered again by the reload.
    assert_eq!(
        rw.log_count("ordering a certificate for bad.example.test"),
        1,
        "{}",
        rw.stderr()
    );
    let again = live.request("own.example.test", "/", "own");
    assert!(
        again.ends_with("own"),
        "the live connection after the swap: {again:?}"
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// The leaf's serial number in a PEM chain file.
/// With pebble issuing certificates valid for 6 s, ringway orders a new one at two thirds of
/// the lifetime (4 s) and swaps it in; a TLS keep-alive connection made with the first one
/// goes on, and new handshakes get the new one.
#[test]
fn renews_at_two_thirds_of_the_lifetime() {
    let (http, https) = listeners();
    let Some(p) = Pebble::start_with_validity(http.port(), Some(6)) else {
        return;
    };
    let root = p.root_pem();
    let work = temp_dir("acme-renew");
    let text = format!(
        "events {{}}
http {{
    acme_issuer pebble {{
        uri {dir};
        state_path {state};
        accept_terms_of_service;
        ssl_trusted_certificate {ca};
    }}
    server {{
        listen {http};
        return 301 https://$host$request_uri;
    }}
    server {{
        listen {https} ssl;
        server_name r.example.test;
        acme_certificate pebble;
        ssl_certificate $acme_certificate;
        ssl_certificate_key $acme_certificate_key;
        return 200 \"renewed $host\";
    }}
}}
",
        dir = p.directory(),
        ca = p.tls_cert.display(),
        state = work.join("state").display(),
    );
    let rw_dir = work.join("run");
    std::fs::create_dir_all(&rw_dir).unwrap();
    let rw = start(&rw_dir, &text, &[http, https]);
    let crt = work.join("state/certificates/r.example.test.crt");
    poll(Duration::from_secs(20), || {
        curl_https(https.port(), "r.example.test", &root)
    })
    .unwrap_or_else(|e| panic!("no first certificate: {e}\n{}", rw.stderr()));
    let first = stored_serial(&crt);
    // An edit the operator has not reloaded yet: the swap must not apply it (it loads the
    // config in force again, not the file).
    let conf = rw_dir.join("ringway.conf");
    let edited = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("renewed $host", "edited $host");
    std::fs::write(&conf, edited).unwrap();
    let mut live = clients::LiveClient::open(https, &["-servername", "r.example.test"]);
    assert!(
        live.request("r.example.test", "/", "renewed r.example.test")
            .ends_with("renewed r.example.test")
    );
    assert!(
        rw.wait_log(
            "renewing the certificate for r.example.test",
            1,
            Duration::from_secs(10)
        ),
        "{}",
        rw.stderr()
    );
    wait_renewed(&crt, &first, Duration::from_secs(10), &rw);
    // New handshakes get the new certificate once the swap's reload is applied.
    let renewed = stored_serial(&crt);
    poll(Duration::from_secs(5), || {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "openssl s_client -connect {https} -servername r.example.test </dev/null \
                 2>/dev/null | openssl x509 -noout -serial"
            ))
            .output()
            .map_err(|e| e.to_string())?;
        let served = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if served == renewed {
            Ok(())
        } else {
            Err(format!("served {served}, stored {renewed}"))
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr()));
    let again = live.request("r.example.test", "/", "renewed r.example.test");
    assert!(
        again.ends_with("renewed r.example.test"),
        "the keep-alive connection after the swap: {again:?}"
    );
    let fresh = curl_https(https.port(), "r.example.test", &root)
        .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr()));
    assert_eq!(
        fresh, "renewed r.example.test",
        "the swap applied a config edit nobody reloaded"
    );
    let _ = std::fs::remove_dir_all(&work);
}
