//! The issuer's protocol options against pebble (Debian package `pebble`): an external account
//! binding (`external_account_key`, RFC 8555 §7.3.4) with the right key, a wrong key and none;
//! `preferred_chain` choosing among pebble's alternate chains (RFC 8555 §7.4.2); and `profile`
//! (draft-ietf-acme-profiles) through the interposer, which adds `meta.profiles` to pebble's
//! directory and records each newOrder. Skipped when pebble is not installed, unless
//! RINGWAY_ACME=require.

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

use common::*;
use interposer::Interposer;
use pebble::{Options, Pebble};
use serde_json::json;
use util::{curl_https, listeners, poll, start, verifies};

/// One issuer per `(name, options)` at `dir_url`, each with its own state and one TLS server
/// for `NAME.example.test`, behind a plain listener that redirects everything to https://.
fn config(
    http: SocketAddr,
    https: SocketAddr,
    dir_url: &str,
    state: &Path,
    issuers: &[(&str, &str)],
) -> String {
    let mut blocks = String::new();
    for (name, options) in issuers {
        blocks += &format!(
            "    acme_issuer {name} {{
        uri {dir_url};
        state_path {state}/{name};
        accept_terms_of_service;
        ssl_trusted_certificate {ca};
        {options}
    }}
    server {{
        listen {https} ssl;
        server_name {name}.example.test;
        acme_certificate {name};
        ssl_certificate $acme_certificate;
        ssl_certificate_key $acme_certificate_key;
        return 200 \"hello from $host\";
    }}
",
            state = state.display(),
            ca = Pki::get().ca.display(),
        );
    }
    format!(
        "events {{}}
http {{
{blocks}    server {{
        listen {http};
        return 301 https://$host$request_uri;
    }}
}}
"
    )
}

/// The Subject CN of a PEM certificate, as openssl prints it.
fn subject_cn(pem: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "multiline", "-in"])
        .arg(pem)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("commonName"))
        .and_then(|l| l.split_once('='))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| panic!("no CN in {text}"))
}

// pebble decodes MAC keys as unpadded base64url.
const EAB_KEY: &str = "c2VjcmV0LW1hYy1rZXktZm9yLXJpbmd3YXktdGVzdHMtMzI";
const WRONG_KEY: &str = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmc";

#[test]
fn external_account_binding_right_wrong_and_missing_key() {
    let (http, https) = listeners();
    let opts = Options {
        eab_keys: vec![("kid-1".into(), EAB_KEY.into())],
        ..Options::default()
    };
    let Some(p) = Pebble::start_with_options(http.port(), &opts) else {
        return;
    };
    let root = p.root_pem();
    let work = temp_dir("acme-eab");
    // The right key from a file, a wrong one inline, and none where the server requires one.
    let key_file = work.join("eab.key");
    std::fs::write(&key_file, format!("{EAB_KEY}\n")).unwrap();
    let text = config(
        http,
        https,
        &p.directory(),
        &work.join("state"),
        &[
            (
                "good",
                &format!("external_account_key kid-1 {};", key_file.display()),
            ),
            (
                "wrong",
                &format!("external_account_key kid-1 data:{WRONG_KEY};"),
            ),
            ("none", ""),
        ],
    );
    let rw = start(&work.join("run"), &text, &[http, https]);
    let body = poll(Duration::from_secs(20), || {
        curl_https(https.port(), "good.example.test", &root)
    })
    .unwrap_or_else(|e| panic!("no certificate with the right key: {e}\n{}", rw.stderr()));
    assert_eq!(body, "hello from good.example.test");
    // The wrong key: pebble's problem document, logged.
    assert!(
        rw.wait_log_all(
            &[
                "no certificate for wrong.example.test",
                "urn:ietf:params:acme:error:unauthorized",
                "external account binding JWS verification error",
            ],
            1,
            Duration::from_secs(10)
        ),
        "{}",
        rw.stderr()
    );
    // No key: ringway says what is missing without asking for an account.
    assert!(
        rw.wait_log_all(
            &[
                "no certificate for none.example.test",
                "requires an external account binding",
                "issuer \"none\" has no external_account_key",
            ],
            1,
            Duration::from_secs(10)
        ),
        "{}",
        rw.stderr()
    );
    // ringway keeps serving what it has.
    assert_eq!(
        curl_https(https.port(), "good.example.test", &root).unwrap(),
        "hello from good.example.test"
    );
}

#[test]
fn preferred_chain_keeps_the_chain_under_the_named_root() {
    let (http, https) = listeners();
    let opts = Options {
        alternate_roots: 2,
        ..Options::default()
    };
    let Some(p) = Pebble::start_with_options(http.port(), &opts) else {
        return;
    };
    let default_root = p.root_pem_n(0);
    let wanted_root = p.root_pem_n(2);
    let wanted = subject_cn(&wanted_root);
    assert_ne!(wanted, subject_cn(&default_root));
    let work = temp_dir("acme-chain");
    let state = work.join("state");
    let text = config(
        http,
        https,
        &p.directory(),
        &state,
        &[
            ("alt", &format!("preferred_chain \"{wanted}\";")),
            // A name no chain ends under: the default chain, logged.
            ("dflt", "preferred_chain \"No Such Root\";"),
        ],
    );
    let rw = start(&work.join("run"), &text, &[http, https]);
    // Served: the chain validates with the alternate root alone.
    poll(Duration::from_secs(20), || {
        curl_https(https.port(), "alt.example.test", &wanted_root)
    })
    .unwrap_or_else(|e| panic!("no chain under {wanted}: {e}\n{}", rw.stderr()));
    let crt = state.join("alt/certificates/alt.example.test.crt");
    verifies(&crt, &wanted_root, &work).unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr()));
    assert!(
        verifies(&crt, &default_root, &work).is_err(),
        "the stored chain ends under the default root"
    );
    assert!(
        rw.log_count("keeping the alternate chain") >= 1,
        "{}",
        rw.stderr()
    );
    // No match: the default chain.
    poll(Duration::from_secs(20), || {
        curl_https(https.port(), "dflt.example.test", &default_root)
    })
    .unwrap_or_else(|e| panic!("no default chain: {e}\n{}", rw.stderr()));
    assert!(
        rw.log_count("preferred_chain \"No Such Root\": no chain offered ends under it") >= 1,
        "{}",
        rw.stderr()
    );
}

#[test]
fn profile_is_asked_for_when_offered() {
    let (http, https) = listeners();
    let Some(p) = Pebble::start(http.port()) else {
        return;
    };
    let root = p.root_pem();
    let ip = Interposer::start(
        &p,
        &json!({"profiles": {"classic": "the default", "shortlived": "six days"}}),
    );
    let work = temp_dir("acme-profile");
    let text = config(
        http,
        https,
        &ip.directory(),
        &work.join("state"),
        &[
            ("offered", "profile shortlived;"),
            ("missing", "profile tlsserver;"),
            ("required", "profile tlsserver require;"),
        ],
    );
    let rw = start(&work.join("run"), &text, &[http, https]);
    for name in ["offered", "missing"] {
        poll(Duration::from_secs(20), || {
            curl_https(https.port(), &format!("{name}.example.test"), &root)
        })
        .unwrap_or_else(|e| panic!("no certificate for {name}: {e}\n{}", rw.stderr()));
    }
    assert!(
        rw.wait_log_all(
            &[
                "no certificate for required.example.test",
                "requires profile \"tlsserver\"",
                "its profiles: classic, shortlived",
            ],
            1,
            Duration::from_secs(10)
        ),
        "{}",
        rw.stderr()
    );
    assert!(
        rw.log_count("does not offer profile \"tlsserver\"") >= 1,
        "{}",
        rw.stderr()
    );
    // The newOrders: the offered profile named, the other left out, none for the required one.
    let orders = ip.new_orders();
    let order_for = |name: &str| {
        orders
            .iter()
            .find(|o| o["payload"]["identifiers"][0]["value"] == format!("{name}.example.test"))
            .cloned()
    };
    let offered = order_for("offered").expect("a newOrder for offered");
    assert_eq!(offered["payload"]["profile"], "shortlived", "{orders:#?}");
    let missing = order_for("missing").expect("a newOrder for missing");
    assert!(missing["payload"].get("profile").is_none(), "{orders:#?}");
    assert!(order_for("required").is_none(), "{orders:#?}");
}
