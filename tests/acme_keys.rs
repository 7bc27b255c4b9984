//! ACME key kinds end to end against pebble: an RSA account (RS256) ordering an RSA
//! certificate, a P-384 account (ES384) ordering a P-384 one, and a P-521 account (ES512) with
//! `state_path off` (a private directory of the process, gone at exit). The served
//! certificates' keys are checked with `openssl s_client`/`x509` and the stored chains with
//! `openssl verify`. Skipped when pebble is not installed, unless RINGWAY_ACME=require (CI).

mod common;

#[allow(dead_code)]
#[path = "acme/util.rs"]
mod util;

#[allow(dead_code)]
#[path = "acme/pebble.rs"]
mod pebble;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use util::{listeners, poll, verifies};

/// The text of the certificate ringway serves for `name` (`openssl x509 -text`), once it
/// verifies against pebble's root.
fn served(https: SocketAddr, name: &str, root: &Path) -> Result<String, String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect {https} -servername {name} -verify_return_error \
             -CAfile {root} </dev/null 2>/dev/null | openssl x509 -noout -text",
            root = root.display()
        ))
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() && text.contains(&format!("DNS:{name}")) {
        Ok(text)
    } else {
        Err(format!("no verified certificate for {name}: {text}"))
    }
}

/// `openssl verify` of a stored chain file (leaf first) against pebble's root.
fn verify_chain(chain: &Path, root: &Path, work: &Path) {
    if let Err(e) = verifies(chain, root, work) {
        panic!("openssl verify {}: {e}", chain.display());
    }
}

/// `openssl pkey -text` of a key file.
fn key_text(path: &Path) -> String {
    let out = Command::new("openssl")
        .args(["pkey", "-noout", "-text", "-in"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl pkey {}", path.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where a `state_path off` ringway keeps its state (acme/private_state.rs): the child has
/// this test's environment.
fn private_root(pid: i32) -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.is_dir())
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("ringway-acme-{pid}"))
}

fn issuer(name: &str, p: &pebble::Pebble, key: &str, state: &str) -> String {
    format!(
        "    acme_issuer {name} {{
        uri {dir};
        account_key {key};
        state_path {state};
        accept_terms_of_service;
        ssl_trusted_certificate {ca};
    }}
",
        dir = p.directory(),
        ca = p.tls_cert.display(),
    )
}

fn server(https: SocketAddr, name: &str, issuer: &str, key: &str) -> String {
    format!(
        "    server {{
        listen {https} ssl;
        server_name {name};
        acme_certificate {issuer} {key};
        ssl_certificate $acme_certificate;
        ssl_certificate_key $acme_certificate_key;
        return 200 \"hello\";
    }}
"
    )
}

#[test]
fn rsa_and_p384_keys_and_state_path_off() {
    let (http, https) = listeners();
    let Some(p) = pebble::Pebble::start(http.port()) else {
        return;
    };
    let root = p.root_pem();
    let work = temp_dir("acme-keys");
    let state = work.join("state");
    let text = format!(
        "events {{}}\nhttp {{\n{}{}{}    server {{\n        listen {http};\n        \
         return 404;\n    }}\n{}{}{}}}\n",
        issuer("rsa", &p, "rsa:2048", &format!("{}/rsa", state.display())),
        issuer("ec", &p, "ecdsa:384", &format!("{}/ec", state.display())),
        issuer("off", &p, "ecdsa:521", "off"),
        server(https, "rsa.example.test", "rsa", "key=rsa:2048"),
        server(https, "ec.example.test", "ec", "key=ecdsa:384"),
        server(https, "off.example.test", "off", ""),
    );
    let path = work.join("ringway.conf");
    std::fs::write(&path, &text).unwrap();
    let start = || {
        Ringway::start_file(work.clone(), path.clone(), 1, &[http, https])
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let mut rw = start();

    // RS256 account, RSA 2048 certificate.
    let rsa = poll(Duration::from_secs(30), || {
        served(https, "rsa.example.test", &root)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr()));
    assert!(
        rsa.contains("rsaEncryption") && rsa.contains("Public-Key: (2048 bit)"),
        "{rsa}"
    );
    verify_chain(
        &state.join("rsa/certificates/rsa.example.test.crt"),
        &root,
        &work,
    );
    let rsa_account = state.join("rsa/account-rsa-2048.key");
    let account = key_text(&rsa_account);
    assert!(account.contains("Private-Key: (2048 bit"), "{account}");
    assert!(!state.join("rsa/account.key").exists());

    // ES384 account, P-384 certificate.
    let ec = poll(Duration::from_secs(30), || {
        served(https, "ec.example.test", &root)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr()));
    assert!(
        ec.contains("id-ecPublicKey") && ec.contains("NIST CURVE: P-384"),
        "{ec}"
    );
    verify_chain(
        &state.join("ec/certificates/ec.example.test.crt"),
        &root,
        &work,
    );
    let account = key_text(&state.join("ec/account-ecdsa-384.key"));
    assert!(account.contains("NIST CURVE: P-384"), "{account}");

    // ES512 account with state_path off: the default P-256 certificate, kept in a private
    // directory of the process.
    let off = poll(Duration::from_secs(30), || {
        served(https, "off.example.test", &root)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr()));
    assert!(off.contains("NIST CURVE: P-256"), "{off}");
    let private = private_root(rw.pid());
    let mode = std::fs::metadata(&private).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{}", private.display());
    let kept = private.join("acme_off/certificates/off.example.test.crt");
    verify_chain(&kept, &root, &work);
    let account = key_text(&private.join("acme_off/account-ecdsa-521.key"));
    assert!(account.contains("NIST CURVE: P-521"), "{account}");
    assert!(!state.join("off").exists());

    rw.stop_graceful(Duration::from_secs(5))
        .expect("ringway stops");
    assert!(
        !private.exists(),
        "state_path off left {} behind",
        private.display()
    );

    // A restart: the stored RSA account key and certificate are kept and reused; state_path
    // off kept nothing, so that certificate is ordered again (with a new ES512 account); the
    // P-384 one's key= is now ecdsa:256: a new certificate of that kind.
    let kept_account = std::fs::read(&rsa_account).unwrap();
    std::fs::write(&path, text.replace("key=ecdsa:384", "key=ecdsa:256")).unwrap();
    let mut rw = start();
    let ec = poll(Duration::from_secs(30), || {
        served(https, "ec.example.test", &root).and_then(|t| {
            if t.contains("NIST CURVE: P-256") {
                Ok(t)
            } else {
                Err("still the P-384 certificate".into())
            }
        })
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr()));
    assert!(ec.contains("id-ecPublicKey"), "{ec}");
    assert!(
        rw.log_count("the stored key is ecdsa:384, key= asks for ecdsa:256") == 1,
        "{}",
        rw.stderr()
    );
    poll(Duration::from_secs(30), || {
        served(https, "off.example.test", &root)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", rw.stderr()));
    assert_eq!(
        rw.log_count("reusing the stored certificate for rsa.example.test"),
        1,
        "{}",
        rw.stderr()
    );
    assert_eq!(
        rw.log_count("ordering a certificate for off.example.test"),
        1,
        "{}",
        rw.stderr()
    );
    assert!(private_root(rw.pid()).exists());
    assert_eq!(std::fs::read(&rsa_account).unwrap(), kept_account);
    rw.stop_graceful(Duration::from_secs(5))
        .expect("ringway stops");
    let _ = std::fs::remove_dir_all(&work);
}
