//! `external_account_key`, `preferred_chain` and `profile` in `acme_issuer`: the spellings
//! nginx-acme takes, and each error with its file:line.

use super::acme_proto::Profile;
use super::test_util::{err, ok};

/// An issuer block with `lines` after its uri (they start at line 4).
fn conf(lines: &str) -> String {
    format!(
        "http {{\n  acme_issuer le {{\n    uri https://acme.example/dir;\n{lines}\n  }}\n  \
         server {{ listen 80; location / {{ return 200; }} }}\n}}\n"
    )
}

#[test]
fn external_account_key_inline_and_from_a_file() {
    // "kid-1"'s key in pebble's EAB example config (base64url, no padding).
    let key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let c = ok(&conf(&format!(
        "    external_account_key kid-1 data:{key};"
    )));
    let eab = c.acme.issuers[0].proto.eab.as_ref().unwrap();
    assert_eq!(eab.kid, "kid-1");
    assert_eq!(eab.mac_key.len(), 48);
    assert_eq!(eab.mac_key[..2], [0xcd, 0x63]);
    // The key is a secret: the model's debug form shows its length only.
    assert!(!format!("{eab:?}").contains("205"), "{eab:?}");
    // From a file, padded and with a newline: the same key.
    let dir = std::env::temp_dir().join(format!("ringway-eab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("eab.key");
    std::fs::write(&file, format!("{key}\n")).unwrap();
    let c = ok(&conf(&format!(
        "    external_account_key kid-1 {};",
        file.display()
    )));
    assert_eq!(c.acme.issuers[0].proto.eab.as_ref(), Some(eab));
    let _ = std::fs::remove_dir_all(dir);
    // Without the directive: none.
    assert_eq!(ok(&conf("")).acme.issuers[0].proto.eab, None);
}

#[test]
fn preferred_chain_and_profile() {
    let c = ok(&conf(
        "    preferred_chain \"ISRG Root X1\";\n    profile shortlived require;",
    ));
    let p = &c.acme.issuers[0].proto;
    assert_eq!(p.preferred_chain.as_deref(), Some("ISRG Root X1"));
    let want = Profile {
        name: "shortlived".into(),
        require: true,
    };
    assert_eq!(p.profile.as_ref(), Some(&want));
    let c = ok(&conf("    profile classic;"));
    assert!(!c.acme.issuers[0].proto.profile.as_ref().unwrap().require);
}

#[test]
fn errors_name_the_line() {
    let cases = [
        (
            "    external_account_key kid-1;",
            "invalid number of arguments",
        ),
        (
            "    external_account_key kid-1 data:not*base64;",
            "not base64url",
        ),
        ("    external_account_key kid-1 data:;", "not base64url"),
        (
            "    external_account_key kid-1 /nonexistent/ringway-eab.key;",
            "cannot read \"/nonexistent/ringway-eab.key\"",
        ),
        (
            "    external_account_key \"\" data:AAAA;",
            "expected a key identifier",
        ),
        ("    preferred_chain;", "invalid number of arguments"),
        ("    preferred_chain A B;", "invalid number of arguments"),
        ("    profile;", "invalid number of arguments"),
        ("    profile classic required;", "expected \"require\""),
        (
            "    profile a require extra;",
            "invalid number of arguments",
        ),
    ];
    for (line, what) in cases {
        let text = conf(line);
        let e = err(&text);
        assert!(
            e.contains("ringway.conf:4") && e.contains(what),
            "{e}\nfor:\n{text}"
        );
    }
    for dup in [
        "    profile a;\n    profile b;",
        "    preferred_chain A;\n    preferred_chain B;",
        "    external_account_key k data:AAAA;\n    external_account_key k data:AAAA;",
    ] {
        let e = err(&conf(dup));
        assert!(
            e.contains("ringway.conf:5") && e.contains("duplicate"),
            "{e}"
        );
    }
}
