//! What a finished handshake settled, rendered once for the connection's variables (`$https`,
//! `$ssl_*`), with OpenSSL's names so log formats and upstream headers read as under nginx.

use std::time::SystemTime;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::{CipherSuite, HandshakeKind, NamedGroup, ProtocolVersion, ServerConnection};

use super::client_cert;
use super::site::Site;
use super::stream::TlsStream;
use crate::template::TlsFacts;

pub fn of(
    stream: &TlsStream<ServerConnection>,
    site: &Site,
    sni: Option<String>,
    early: bool,
) -> TlsFacts {
    let c = stream.conn();
    let facts = TlsFacts {
        protocol: protocol_name(c.protocol_version()),
        cipher: c
            .negotiated_cipher_suite()
            .map_or("", |s| cipher_name(s.suite())),
        curve: c
            .negotiated_key_exchange_group()
            .map_or("", |g| group_name(g.name())),
        server_name: sni.unwrap_or_default().into_bytes().into(),
        alpn: c.alpn_protocol().unwrap_or_default().into(),
        session_reused: c.handshake_kind() == Some(HandshakeKind::Resumed),
        early_data: std::cell::Cell::new(early),
        client_verify: b"NONE"[..].into(),
        client: None,
    };
    match (c.peer_certificates(), &site.client_check) {
        (Some([leaf, rest @ ..]), Some(check)) => {
            let verdict = verdict(check.as_ref(), leaf, rest, site.verify_depth);
            TlsFacts {
                client_verify: verdict.into_bytes().into(),
                client: Some(client_cert::facts(leaf)),
                ..facts
            }
        }
        _ => facts,
    }
}

/// `$ssl_client_verify`: SUCCESS or FAILED:reason, the reason in OpenSSL's words where one
/// matches.
fn verdict(
    check: &dyn rustls::server::danger::ClientCertVerifier,
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    depth: u32,
) -> String {
    // A self-issued certificate the client sent along can only be a trust anchor (OpenSSL's
    // clients send the root they know): it is not an intermediate the depth counts.
    let counted = intermediates.iter().filter(|c| !self_issued(c)).count();
    if counted >= depth.max(1) as usize {
        return "FAILED:certificate chain too long".into();
    }
    let now = UnixTime::since_unix_epoch(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    );
    match check.verify_client_cert(leaf, intermediates, now) {
        Ok(_) => "SUCCESS".into(),
        Err(e) => format!("FAILED:{}", reason(&e)),
    }
}

fn self_issued(cert: &CertificateDer<'_>) -> bool {
    use x509_parser::prelude::{FromDer, X509Certificate};
    X509Certificate::from_der(cert.as_ref())
        .is_ok_and(|(_, c)| c.subject().as_raw() == c.issuer().as_raw())
}

fn reason(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired | C::ExpiredContext { .. } => "certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => "certificate is not yet valid".into(),
            C::UnknownIssuer => "unable to get local issuer certificate".into(),
            C::Revoked => "certificate revoked".into(),
            C::BadSignature => "certificate signature failure".into(),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "unsupported certificate purpose".into()
            }
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

fn protocol_name(v: Option<ProtocolVersion>) -> &'static str {
    match v {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "",
    }
}

pub fn cipher_name(s: CipherSuite) -> &'static str {
    match s {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            "ECDHE-ECDSA-CHACHA20-POLY1305"
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => "",
    }
}

fn group_name(g: NamedGroup) -> &'static str {
    match g {
        NamedGroup::X25519 => "X25519",
        NamedGroup::secp256r1 => "prime256v1",
        NamedGroup::secp384r1 => "secp384r1",
        _ => "",
    }
}
