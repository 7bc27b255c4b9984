//! ACME (issue 22) against pebble through a scripted interposer (tests/acme/interposer.py) for
//! what pebble 2.4 does not do: ACME Renewal Information (RFC 9773) windows, a bad renewalInfo
//! answer, a rate limit, a badNonce, a directory outage. Each test asserts on ringway's log
//! and on the interposer's record of requests, and ends with an HTTPS request that validates
//! with pebble's root. Skipped when pebble is not installed, unless RINGWAY_ACME=require.

mod common;

#[allow(dead_code)]
#[path = "acme/util.rs"]
mod util;

#[path = "acme/interposer.rs"]
mod interposer;
#[allow(dead_code)]
#[path = "acme/pebble.rs"]
mod pebble;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use interposer::Interposer;
use pebble::Pebble;
use serde_json::{Value, json};
use util::{curl_https, listeners, poll, start, stored_serial, wait_renewed};

/// One issuer (through the interposer) and one TLS server per name in `names`, behind a plain
/// listener that redirects everything to https://.
fn config(
    http: SocketAddr,
    https: SocketAddr,
    dir_url: &str,
    state: &Path,
    names: &[&str],
) -> String {
    let servers: String = names
        .iter()
        .map(|n| {
            format!(
                "    server {{
        listen {https} ssl;
        server_name {n};
        acme_certificate proxy;
        ssl_certificate $acme_certificate;
        ssl_certificate_key $acme_certificate_key;
        return 200 \"hello from $host\";
    }}
"
            )
        })
        .collect();
    format!(
        "events {{}}
http {{
    acme_issuer proxy {{
        uri {dir_url};
        state_path {state};
        accept_terms_of_service;
        ssl_trusted_certificate {ca};
    }}
    server {{
        listen {http};
        return 301 https://$host$request_uri;
    }}
{servers}}}
",
        state = state.display(),
        ca = Pki::get().ca.display(),
    )
}

/// The leaf's ARI identifier (RFC 9773 §4.1), worked out with openssl rather than ringway's
/// own parser: base64url(authority key identifier) "." base64url(serial's DER content bytes).
fn ari_id(chain: &Path) -> String {
    let out = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-serial",
            "-ext",
            "authorityKeyIdentifier",
            "-in",
        ])
        .arg(chain)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let hex = |s: &str| -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        let s = if s.len() % 2 == 1 { format!("0{s}") } else { s };
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let serial_line = text
        .lines()
        .find_map(|l| l.strip_prefix("serial="))
        .unwrap();
    let mut serial = hex(serial_line);
    if serial[0] & 0x80 != 0 {
        serial.insert(0, 0);
    }
    let aki_line = text
        .lines()
        .skip_while(|l| !l.contains("Authority Key Identifier"))
        .nth(1)
        .unwrap_or_else(|| panic!("no authority key identifier: {text}"));
    let aki = hex(aki_line.trim().trim_start_matches("keyid:"));
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(aki),
        URL_SAFE_NO_PAD.encode(serial)
    )
}

/// The serial of the certificate ringway serves for `name`.
fn served_serial(https: SocketAddr, name: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect {https} -servername {name} </dev/null 2>/dev/null \
             | openssl x509 -noout -serial"
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn renewal_info_gets(ip: &Interposer, id: &str) -> usize {
    let path = format!("/renewal-info/{id}");
    ip.requests()
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"] == path.as_str())
        .count()
}

/// With renewalInfo in the directory, ringway asks for the window of the certificate it
/// holds (by its ARI identifier); a window a month ahead orders nothing. After a restart, a
/// window that is already open renews the stored certificate at once, and the new order names
/// the old certificate in `replaces`; the new certificate's window (ahead) orders nothing more.
#[test]
fn renewal_info_window_renews_with_replaces() {
    let (http, https) = listeners();
    let Some(p) = Pebble::start(http.port()) else {
        return;
    };
    let root = p.root_pem();
    let ip = Interposer::start(&p, &json!({"renewal_info": {"open_for": []}}));
    let work = temp_dir("acme-ari");
    let state = work.join("state");
    let text = config(http, https, &ip.directory(), &state, &["w.example.test"]);
    let crt = state.join("certificates/w.example.test.crt");

    let mut rw = start(&work.join("run1"), &text, &[http, https]);
    poll(Duration::from_secs(20), || {
        curl_https(https.port(), "w.example.test", &root)
    })
    .unwrap_or_else(|e| panic!("no first certificate: {e}\n{}", rw.stderr()));
    let first = ari_id(&crt);
    poll(Duration::from_secs(5), || {
        match renewal_info_gets(&ip, &first) {
            0 => Err(format!(
                "no renewalInfo request for {first}: {:#?}",
                ip.requests()
            )),
            _ => Ok(()),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr()));
    assert!(
        rw.wait_log(
            "renewal window for w.example.test from the server",
            1,
            Duration::from_secs(5)
        ),
        "{}",
        rw.stderr()
    );
    let orders = ip.new_orders();
    assert_eq!(orders.len(), 1, "{orders:#?}");
    assert!(
        orders[0]["payload"].get("replaces").is_none(),
        "{orders:#?}"
    );
    rw.stop_graceful(Duration::from_secs(5))
        .expect("ringway stops");

    // The server now says: renew it now.
    ip.set_script(&json!({"renewal_info": {"open_for": [first]}}));
    let first_serial = stored_serial(&crt);
    let rw = start(&work.join("run2"), &text, &[http, https]);
    assert!(
        rw.wait_log(
            "renewing the certificate for w.example.test (inside the ACME server's renewal window)",
            1,
            Duration::from_secs(10)
        ),
        "{}",
        rw.stderr()
    );
    wait_renewed(&crt, &first_serial, Duration::from_secs(20), &rw);
    let second = ari_id(&crt);
    // The replacement's window is asked for too (a month ahead: nothing more is ordered).
    poll(Duration::from_secs(5), || {
        match renewal_info_gets(&ip, &second) {
            0 => Err(format!("no renewalInfo request for {second}")),
            _ => Ok(()),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr()));
    let orders = ip.new_orders();
    assert_eq!(orders.len(), 2, "{orders:#?}");
    assert_eq!(
        orders[1]["payload"]["replaces"],
        first.as_str(),
        "{orders:#?}"
    );
    assert_eq!(orders[1]["status"], 201, "{orders:#?}");
    // New handshakes get the renewed certificate, which validates with pebble's root.
    let renewed = stored_serial(&crt);
    poll(Duration::from_secs(5), || {
        let served = served_serial(https, "w.example.test");
        if served == renewed {
            Ok(())
        } else {
            Err(format!("served {served}, stored {renewed}"))
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr()));
    assert_eq!(
        curl_https(https.port(), "w.example.test", &root)
            .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr())),
        "hello from w.example.test"
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// A renewalInfo answer that cannot be used (its window ends before it starts) is logged, and
/// the certificate is renewed at two thirds of its lifetime instead (pebble issuing 6-second
/// certificates: at 4 s), its order still naming the old certificate in `replaces`. That order
/// is refused with `alreadyReplaced` (RFC 9773 §5): placed again at once without `replaces`.
#[test]
fn bad_renewal_info_falls_back_to_two_thirds() {
    let (http, https) = listeners();
    let Some(p) = Pebble::start_with_validity(http.port(), Some(6)) else {
        return;
    };
    let root = p.root_pem();
    let ip = Interposer::start(
        &p,
        &json!({"renewal_info": {"bad": true}, "already_replaced": true}),
    );
    let work = temp_dir("acme-ari-bad");
    let state = work.join("state");
    let text = config(http, https, &ip.directory(), &state, &["f.example.test"]);
    let crt = state.join("certificates/f.example.test.crt");
    let rw = start(&work.join("run"), &text, &[http, https]);
    poll(Duration::from_secs(20), || {
        curl_https(https.port(), "f.example.test", &root)
    })
    .unwrap_or_else(|e| panic!("no first certificate: {e}\n{}", rw.stderr()));
    let first = ari_id(&crt);
    assert!(
        rw.wait_log_all(
            &[
                "renewalInfo for f.example.test",
                "unusable: suggestedWindow ends before it starts",
                "renewing at two thirds of its lifetime meanwhile"
            ],
            1,
            Duration::from_secs(5)
        ),
        "{}",
        rw.stderr()
    );
    assert!(
        rw.wait_log(
            "renewing the certificate for f.example.test (two thirds of its lifetime)",
            1,
            Duration::from_secs(10)
        ),
        "{}",
        rw.stderr()
    );
    let orders = poll(Duration::from_secs(10), || {
        let orders = ip.new_orders();
        match orders.get(2) {
            Some(o) if o["status"] == 201 => Ok(orders),
            _ => Err(format!("{orders:#?}")),
        }
    })
    .unwrap_or_else(|e| panic!("no renewal order: {e}\n{}", rw.stderr()));
    assert_eq!(
        orders[1]["payload"]["replaces"],
        first.as_str(),
        "{orders:#?}"
    );
    assert_eq!(orders[1]["status"], 409, "{orders:#?}");
    assert!(
        orders[2]["payload"].get("replaces").is_none(),
        "{orders:#?}"
    );
    assert!(
        rw.log_count_all(&["alreadyReplaced", "ordering again without \"replaces\""]) == 1,
        "{}",
        rw.stderr()
    );
    assert!(
        rw.wait_log(
            "certificate for f.example.test issued and stored",
            2,
            Duration::from_secs(10)
        ),
        "{}",
        rw.stderr()
    );
    assert_eq!(
        curl_https(https.port(), "f.example.test", &root)
            .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr())),
        "hello from f.example.test"
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// Error answers on the way to a certificate: the directory answers 503 once (Retry-After: 1),
/// the first newOrder is refused with badNonce (retried at once with the nonce that answer
/// carried, RFC 8555 §6.5, without failing the order), the next with a rate limit (429,
/// Retry-After: 2, rateLimited: logged with its problem document, the order placed again no
/// sooner than 2 s later). A name whose validation fails meanwhile is logged with pebble's
/// problem document and holds up nothing. Ends with HTTPS validating with pebble's root.
#[test]
fn outage_bad_nonce_and_rate_limit_are_waited_out() {
    let (http, https) = listeners();
    let Some(p) = Pebble::start(http.port()) else {
        return;
    };
    let root = p.root_pem();
    // Nothing of ringway's listens on 127.0.0.2: this name's validation fails.
    p.resolve("fail.example.test", "127.0.0.2");
    let ip = Interposer::start(
        &p,
        &json!({
            "dir_503": 1,
            "bad_nonce_for": "ok.example.test",
            "rate_limit_for": "ok.example.test",
        }),
    );
    let work = temp_dir("acme-errors");
    let state = work.join("state");
    let text = config(
        http,
        https,
        &ip.directory(),
        &state,
        &["ok.example.test", "fail.example.test"],
    );
    let rw = start(&work.join("run"), &text, &[http, https]);
    let body = poll(Duration::from_secs(30), || {
        curl_https(https.port(), "ok.example.test", &root)
    })
    .unwrap_or_else(|e| panic!("no certificate: {e}\n{}", rw.stderr()));
    assert_eq!(body, "hello from ok.example.test");

    // The directory's outage: logged with its problem document, tried again after 1 s.
    assert_eq!(
        rw.log_count_all(&[
            "no certificate for",
            "503",
            "scripted outage",
            "retrying in 1s"
        ]),
        1,
        "{}",
        rw.stderr()
    );
    let ok_orders: Vec<Value> = ip
        .new_orders()
        .into_iter()
        .filter(|o| o["payload"]["identifiers"][0]["value"] == "ok.example.test")
        .collect();
    let statuses: Vec<&Value> = ok_orders.iter().map(|o| &o["status"]).collect();
    assert_eq!(statuses, [400, 429, 201], "{ok_orders:#?}");
    // badNonce: the retry came at once, signed with the nonce the error answer carried, and
    // the order did not fail for it.
    assert_eq!(
        ok_orders[1]["protected"]["nonce"], ok_orders[0]["nonce_given"],
        "{ok_orders:#?}"
    );
    assert_eq!(
        rw.log_count_all(&["no certificate for", "badNonce"]),
        0,
        "{}",
        rw.stderr()
    );
    // The rate limit: logged with the problem document, waited out (Retry-After: 2).
    assert_eq!(
        rw.log_count_all(&[
            "no certificate for ok.example.test",
            "429",
            "urn:ietf:params:acme:error:rateLimited",
            "retrying in 2s"
        ]),
        1,
        "{}",
        rw.stderr()
    );
    let waited = ok_orders[2]["t"].as_f64().unwrap() - ok_orders[1]["t"].as_f64().unwrap();
    assert!(waited >= 2.0, "ordered again after {waited} s");
    // The name that fails validation: pebble's problem document, and it held up nothing.
    assert!(
        rw.wait_log_all(
            &[
                "validation of fail.example.test failed",
                "urn:ietf:params:acme:error:connection"
            ],
            1,
            Duration::from_secs(10)
        ),
        "{}",
        rw.stderr()
    );
    assert_eq!(
        curl_https(https.port(), "ok.example.test", &root)
            .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr())),
        "hello from ok.example.test"
    );
    let _ = std::fs::remove_dir_all(&work);
}
