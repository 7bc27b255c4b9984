//! `acme_issuer`, `acme_certificate`, `acme_shared_zone` and `$acme_certificate`: the model,
//! the files the variables become, and every refusal with its file:line.

use super::acme::{Challenge, KeyAlg};
use super::test_util::{err, ok};

fn conf(issuer_body: &str, server: &str) -> String {
    format!(
        "http {{\n  acme_issuer le {{\n{issuer_body}\n  }}\n  server {{\n    listen 443 ssl;\n{server}\n    \
         location / {{ return 200; }}\n  }}\n}}\n"
    )
}

const URI: &str = "    uri https://acme.example/dir;";
const CERT: &str =
    "    ssl_certificate $acme_certificate;\n    ssl_certificate_key $acme_certificate_key;";

#[test]
fn issuer_and_certificate_make_the_model_and_the_files() {
    let c = ok(&conf(
        &format!(
            "{URI}\n    contact admin@example.org;\n    state_path /var/lib/rw/le;\n    \
             accept_terms_of_service;\n    ssl_verify off;\n    challenge http;\n    account_key ecdsa:256;"
        ),
        &format!("    server_name a.example b.example ~^re;\n    acme_certificate le;\n{CERT}"),
    ));
    let i = &c.acme.issuers[0];
    assert_eq!(i.uri, "https://acme.example/dir");
    assert_eq!(i.contact, vec!["mailto:admin@example.org".to_string()]);
    assert_eq!(i.state_path.to_str(), Some("/var/lib/rw/le"));
    assert!(i.accept_tos && !i.verify);
    let a = &c.acme.certificates[0];
    // The regular expression is not an identifier.
    assert_eq!(a.names, vec!["a.example", "b.example"]);
    assert_eq!(a.key, KeyAlg::EcdsaP256);
    assert_eq!(
        a.cert_path.to_str(),
        Some("/var/lib/rw/le/certificates/a.example.crt")
    );
    let pair = &c.servers[0].tls.certificates[0];
    assert_eq!(pair.cert, a.cert_path);
    assert_eq!(pair.key, a.key_path);
}

/// nginx's `tls-alpn` and its versioned `tls-alpn-01`; `http` (HTTP-01) without the directive.
#[test]
fn challenge_types() {
    for (line, want) in [
        ("", Challenge::Http01),
        ("\n    challenge http-01;", Challenge::Http01),
        ("\n    challenge tls-alpn;", Challenge::TlsAlpn01),
        ("\n    challenge tls-alpn-01;", Challenge::TlsAlpn01),
    ] {
        let c = ok(&conf(
            &format!("{URI}{line}"),
            &format!("    server_name a.example;\n    acme_certificate le;\n{CERT}"),
        ));
        assert_eq!(c.acme.issuers[0].challenge, want, "{line}");
        assert_eq!(c.acme.certificates[0].challenge, want, "{line}");
    }
}

#[test]
fn identifiers_key_and_default_state_path() {
    let c = ok(&conf(
        URI,
        &format!("    server_name x;\n    acme_certificate le c.example key=ecdsa:384;\n{CERT}"),
    ));
    let a = &c.acme.certificates[0];
    assert_eq!(a.names, vec!["c.example"]);
    assert_eq!(a.key, KeyAlg::EcdsaP384);
    // nginx's default: acme_NAME beside the config.
    assert_eq!(
        c.acme.issuers[0].state_path.to_str(),
        Some("/etc/ringway/acme_le")
    );
}

#[test]
fn shared_zone_is_accepted_with_a_notice() {
    let c = ok(
        "http {\n  acme_shared_zone zone=acme:1m;\n  server { listen 80; location / { return 200; } }\n}\n",
    );
    assert!(
        c.notices
            .iter()
            .any(|n| n.contains(":2:") && n.contains("acme_shared_zone")),
        "{:?}",
        c.notices
    );
}

#[test]
fn errors_name_the_line() {
    let cases = [
        // Unknown issuer.
        (
            conf(
                URI,
                &format!("    server_name a.example;\n    acme_certificate nope;\n{CERT}"),
            ),
            "ringway.conf:8",
            "unknown acme_issuer \"nope\"",
        ),
        // Wildcards cannot be validated over HTTP-01.
        (
            conf(
                URI,
                &format!("    server_name *.example;\n    acme_certificate le;\n{CERT}"),
            ),
            "ringway.conf:8",
            "wildcard",
        ),
        (
            conf(
                URI,
                &format!("    acme_certificate le *.x.example;\n{CERT}"),
            ),
            "ringway.conf:7",
            "wildcard",
        ),
        // No uri.
        (
            conf("    state_path /x;", "    server_name a.example;"),
            "ringway.conf:2",
            "has no \"uri\"",
        ),
        // No names at all.
        (
            conf(URI, &format!("    acme_certificate le;\n{CERT}")),
            "ringway.conf:7",
            "no identifiers",
        ),
        // The variables without acme_certificate in a TLS server.
        (
            conf(URI, &format!("    server_name a.example;\n{CERT}")),
            "ringway.conf:5",
            "the server has no \"acme_certificate\"",
        ),
        // RFC 8737 forbids wildcard identifiers with TLS-ALPN-01; the error says so.
        (
            conf(
                &format!("{URI}\n    challenge tls-alpn;"),
                &format!("    server_name .x.example;\n    acme_certificate le;\n{CERT}"),
            ),
            "ringway.conf:9",
            "RFC 8737 forbids wildcard identifiers with TLS-ALPN-01",
        ),
        (
            conf(&format!("{URI}\n    challenge dns-01;"), ""),
            "ringway.conf:4",
            "expected http, http-01, tls-alpn or tls-alpn-01",
        ),
        (
            conf(
                &format!("{URI}\n    challenge http;\n    challenge tls-alpn;"),
                "",
            ),
            "ringway.conf:5",
            "duplicate",
        ),
        (
            conf(&format!("{URI}\n    bogus 1;"), ""),
            "ringway.conf:4",
            "unknown directive \"bogus\" in acme_issuer",
        ),
        (
            conf(&format!("{URI}\n    uri https://other/;"), ""),
            "ringway.conf:4",
            "duplicate",
        ),
    ];
    for (text, at, what) in cases {
        let e = err(&text);
        assert!(e.contains(at) && e.contains(what), "{e}\nfor:\n{text}");
    }
}

#[test]
fn acme_certificate_belongs_in_a_server() {
    let e = err("http {\n  acme_certificate le;\n}\n");
    assert!(e.contains(":2") && e.contains("not allowed here"), "{e}");
}
