//! `account_key alg[:size] | file`, `acme_certificate … key=`, and `state_path off`: every
//! spelling, and every refusal with its file:line.

use super::acme::{AccountKeySource, KeyAlg};
use super::test_util::{err, ok};

fn conf(issuer_body: &str, server: &str) -> String {
    format!(
        "http {{\n  acme_issuer le {{\n    uri https://acme.example/dir;\n{issuer_body}\n  }}\n  \
         server {{\n    listen 80;\n    server_name a.example;\n{server}\n    \
         location / {{ return 200; }}\n  }}\n}}\n"
    )
}

#[test]
fn account_key_kinds() {
    let c = ok(&conf("", ""));
    assert_eq!(
        c.acme.issuers[0].account_key,
        AccountKeySource::Generated(KeyAlg::EcdsaP256)
    );
    for (v, want) in [
        ("ecdsa", KeyAlg::EcdsaP256),
        ("ecdsa:256", KeyAlg::EcdsaP256),
        ("ecdsa:384", KeyAlg::EcdsaP384),
        ("ecdsa:521", KeyAlg::EcdsaP521),
        ("rsa", KeyAlg::Rsa2048),
        ("rsa:2048", KeyAlg::Rsa2048),
        ("rsa:3072", KeyAlg::Rsa3072),
        ("rsa:4096", KeyAlg::Rsa4096),
    ] {
        let c = ok(&conf(&format!("    account_key {v};"), ""));
        assert_eq!(
            c.acme.issuers[0].account_key,
            AccountKeySource::Generated(want),
            "{v}"
        );
    }
}

#[test]
fn account_key_file_is_read_at_load() {
    let dir = std::env::temp_dir().join(format!("ringway-cfg-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("account.pem");
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "2048"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&good, &out.stdout).unwrap();
    let c = ok(&conf(&format!("    account_key {};", good.display()), ""));
    assert_eq!(
        c.acme.issuers[0].account_key,
        AccountKeySource::File(good.clone())
    );
    let bad = dir.join("not-a-key.pem");
    std::fs::write(&bad, "hello\n").unwrap();
    let e = err(&conf(&format!("    account_key {};", bad.display()), ""));
    assert!(
        e.contains("ringway.conf:4:17") && e.contains("not a PEM private key"),
        "{e}"
    );
    let missing = dir.join("missing.pem");
    let e = err(&conf(
        &format!("    account_key {};", missing.display()),
        "",
    ));
    assert!(
        e.contains("ringway.conf:4:17") && e.contains("No such file"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn account_key_refusals() {
    for (v, what) in [
        (
            "rsa:1024",
            "expected ecdsa:256, ecdsa:384, ecdsa:521, rsa:2048",
        ),
        ("ecdsa:255", "or a key file"),
        ("rsa:", "or a key file"),
    ] {
        let e = err(&conf(&format!("    account_key {v};"), ""));
        assert!(
            e.contains("ringway.conf:4:17") && e.contains(what),
            "{v}: {e}"
        );
    }
    let e = err(&conf("    account_key rsa;\n    account_key ecdsa;", ""));
    assert!(
        e.contains("ringway.conf:5") && e.contains("duplicate"),
        "{e}"
    );
}

#[test]
fn certificate_key_kinds() {
    for (v, want) in [
        ("ecdsa", KeyAlg::EcdsaP256),
        ("ecdsa:256", KeyAlg::EcdsaP256),
        ("ecdsa:384", KeyAlg::EcdsaP384),
        ("rsa", KeyAlg::Rsa2048),
        ("rsa:2048", KeyAlg::Rsa2048),
        ("rsa:3072", KeyAlg::Rsa3072),
        ("rsa:4096", KeyAlg::Rsa4096),
    ] {
        let c = ok(&conf("", &format!("    acme_certificate le key={v};")));
        assert_eq!(c.acme.certificates[0].key, want, "{v}");
    }
}

#[test]
fn certificate_key_refusals() {
    let e = err(&conf("", "    acme_certificate le key=ecdsa:521;"));
    assert!(
        e.contains("ringway.conf:9:25")
            && e.contains("ringway's TLS library (rustls with ring) cannot sign with a P-521 key"),
        "{e}"
    );
    for v in ["rsa:1024", "ed25519", ""] {
        let e = err(&conf("", &format!("    acme_certificate le key={v};")));
        assert!(
            e.contains("ringway.conf:9:25") && e.contains("expected key=ecdsa:256"),
            "{v}: {e}"
        );
    }
}

/// `state_path off`: a directory of this process's own, named at load, made only at start.
#[test]
fn state_path_off() {
    let c = ok(&conf(
        "    state_path off;",
        "    acme_certificate le;\n    ssl_certificate $acme_certificate;\n    \
         ssl_certificate_key $acme_certificate_key;",
    ));
    let i = &c.acme.issuers[0];
    assert!(i.state_off);
    let root = crate::acme::private_state::root();
    assert!(i.state_path.starts_with(&root), "{:?}", i.state_path);
    assert!(
        root.to_string_lossy()
            .ends_with(&format!("ringway-acme-{}", std::process::id()))
    );
    assert!(c.acme.certificates[0].cert_path.starts_with(&root));
    assert!(!ok(&conf("    state_path /x;", "")).acme.issuers[0].state_off);
    let e = err(&conf("    state_path off;\n    state_path /x;", ""));
    assert!(
        e.contains("ringway.conf:5") && e.contains("duplicate"),
        "{e}"
    );
}
