//! A client certificate's facts as nginx's variables render them: RFC 2253 names, the serial in
//! upper-case hex, the SHA-1 fingerprint, the PEM (plain and URL-escaped).

use base64::Engine;
use rustls::pki_types::CertificateDer;
use sha1::{Digest, Sha1};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use crate::template::ClientCertFacts;

pub fn facts(leaf: &CertificateDer<'_>) -> ClientCertFacts {
    let pem = pem_of(leaf);
    let mut f = ClientCertFacts {
        fingerprint: hex(&Sha1::digest(leaf.as_ref()), false).into_bytes().into(),
        escaped: escape(&pem).into_bytes().into(),
        pem: pem.into_bytes().into(),
        ..ClientCertFacts::default()
    };
    if let Ok((_, cert)) = X509Certificate::from_der(leaf.as_ref()) {
        f.s_dn = rfc2253(cert.subject()).into_bytes().into();
        f.i_dn = rfc2253(cert.issuer()).into_bytes().into();
        f.serial = hex(cert.raw_serial(), true).into_bytes().into();
    }
    f
}

fn pem_of(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn hex(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

/// RFC 2253: the last RDN first, `,` between RDNs, `+` inside one, OpenSSL's short names.
fn rfc2253(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut rdns: Vec<String> = Vec::new();
    for rdn in name.iter() {
        let parts: Vec<String> = rdn
            .iter()
            .map(|atv| {
                let oid = atv.attr_type();
                let key = x509_parser::objects::oid2abbrev(oid, registry)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|_| oid.to_id_string());
                let value = atv.as_str().map(escape_dn_value).unwrap_or_default();
                format!("{key}={value}")
            })
            .collect();
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

fn escape_dn_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == v.chars().count() && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// URL-escapes as nginx's `ngx_escape_uri` does for `$ssl_client_escaped_cert`.
fn escape(pem: &str) -> String {
    let mut out = String::with_capacity(pem.len() * 2);
    for b in pem.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
