//! TLS-ALPN-01 answers (RFC 8737): while an authorization is pending, the ACME thread publishes
//! here, for its identifier, a TLS server config that negotiates `acme-tls/1` and presents a
//! self-signed validation certificate (SAN: the identifier; critical `id-pe-acmeIdentifier`
//! holding SHA-256 of the key authorization). A shard's handshake looks here only when a
//! ClientHello offers `acme-tls/1` and nothing else (src/tls/acme_alpn.rs): an ordinary
//! handshake pays one ALPN comparison and touches nothing shared.
//!
//! One process-wide table, as HTTP-01's (`challenge`), for the same reasons: it changes a few
//! times per issuance, every shard sees a published answer at once, and only the rare
//! validation handshake reads it. The config is built once, when published, so a client
//! repeating `acme-tls/1` handshakes costs no key generation or signing of certificates.

use std::sync::{Arc, RwLock};

use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, NoServerSessionStorage, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The ALPN protocol of a validation handshake (RFC 8737 §6.2).
pub const ACME_TLS_1: &[u8] = b"acme-tls/1";

struct Pending {
    /// The identifier (lowercase DNS name) the handshake's SNI must name.
    name: String,
    token: String,
    config: Arc<ServerConfig>,
}

static PENDING: RwLock<Vec<Pending>> = RwLock::new(Vec::new());

/// Whether a ClientHello's ALPN list is a validation's: `acme-tls/1` and nothing else (RFC
/// 8737 §3: the validating server offers only that). A client offering it beside other
/// protocols is an ordinary client and gets the server's usual handshake.
pub fn is_validation<'a>(alpn: Option<impl Iterator<Item = &'a [u8]>>) -> bool {
    let Some(mut protocols) = alpn else {
        return false;
    };
    protocols.next() == Some(ACME_TLS_1) && protocols.next().is_none()
}

/// The config that answers a validation handshake for `sni`, if a challenge for that name is
/// pending.
pub fn config_for(sni: &str) -> Option<Arc<ServerConfig>> {
    let pending = PENDING.read().ok()?;
    pending
        .iter()
        .rev()
        .find(|p| p.name.eq_ignore_ascii_case(sni))
        .map(|p| p.config.clone())
}

/// Publishes the answer to the challenge `token` for `name`; a later one for the same name
/// is the one presented.
pub fn publish(name: &str, token: &str, key_authorization: &str) -> Result<(), String> {
    let config = validation_config(name, key_authorization)?;
    if let Ok(mut p) = PENDING.write() {
        p.retain(|p| p.token != token);
        p.push(Pending {
            name: name.to_ascii_lowercase(),
            token: token.to_string(),
            config,
        });
    }
    Ok(())
}

pub fn withdraw(token: &str) {
    if let Ok(mut p) = PENDING.write() {
        p.retain(|p| p.token != token);
    }
}

/// The validation certificate (RFC 8737 §3) for `name`, DER, with its fresh key (PKCS#8).
fn validation_certificate(
    name: &str,
    key_authorization: &str,
) -> Result<(CertificateDer<'static>, PrivatePkcs8KeyDer<'static>), String> {
    let fail = |e: rcgen::Error| format!("TLS-ALPN-01 certificate for {name}: {e}");
    let digest = ring::digest::digest(&ring::digest::SHA256, key_authorization.as_bytes());
    let mut params = CertificateParams::new(vec![name.to_string()]).map_err(fail)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    // A SHA-256 digest is 32 bytes, the length this constructor requires.
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(digest.as_ref())];
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok((
        cert.der().clone(),
        PrivatePkcs8KeyDer::from(key.serialize_der()),
    ))
}

/// A server config that negotiates only `acme-tls/1` and presents the validation certificate
/// (TLS 1.2 or 1.3, RFC 8737 §4); no client certificate asked for, no session kept or resumed.
fn validation_config(name: &str, key_authorization: &str) -> Result<Arc<ServerConfig>, String> {
    let fail = |e: rustls::Error| format!("TLS-ALPN-01 config for {name}: {e}");
    let (cert, key) = validation_certificate(name, key_authorization)?;
    // ring's provider, as the listeners' (src/tls/site.rs).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signer = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(key))
        .map_err(fail)?;
    // Not `with_single_cert`: its check of the certificate refuses the critical extension
    // it does not know, which is the whole point of this one.
    let certified = Arc::new(CertifiedKey::new(vec![cert], signer));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(fail)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Always(certified)));
    config.alpn_protocols = vec![ACME_TLS_1.to_vec()];
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The validation certificate, whatever the ClientHello says.
#[derive(Debug)]
struct Always(Arc<CertifiedKey>);

impl ResolvesServerCert for Always {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::prelude::*;

    #[test]
    fn validation_is_acme_tls_1_alone() {
        let check = |list: Option<&[&[u8]]>| is_validation(list.map(|l| l.iter().copied()));
        assert!(check(Some(&[b"acme-tls/1"])));
        assert!(!check(None));
        assert!(!check(Some(&[])));
        assert!(!check(Some(&[b"h2", b"http/1.1"])));
        // Offered beside another protocol: an ordinary client, not a validation.
        assert!(!check(Some(&[b"acme-tls/1", b"http/1.1"])));
        assert!(!check(Some(&[b"http/1.1", b"acme-tls/1"])));
        assert!(!check(Some(&[b"acme-tls/2"])));
    }

    /// RFC 8737 §3: one dNSName, the critical acmeIdentifier extension (1.3.6.1.5.5.7.1.31)
    /// whose value is an OCTET STRING holding SHA-256 of the key authorization.
    #[test]
    fn certificate_carries_the_identifier_and_the_digest() {
        let (der, _) = validation_certificate("a.example.test", "tok.thumb").unwrap();
        let (_, cert) = parse_x509_certificate(der.as_ref()).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert!(!san.critical);
        assert_eq!(
            san.value.general_names,
            vec![GeneralName::DNSName("a.example.test")]
        );
        let oid = x509_parser::der_parser::oid::Oid::from(&[1, 3, 6, 1, 5, 5, 7, 1, 31]).unwrap();
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid == oid)
            .expect("acmeIdentifier extension");
        assert!(ext.critical);
        assert!(matches!(
            ext.parsed_extension(),
            ParsedExtension::UnsupportedExtension { .. }
        ));
        let digest = ring::digest::digest(&ring::digest::SHA256, b"tok.thumb");
        let mut want = vec![0x04, 0x20];
        want.extend_from_slice(digest.as_ref());
        assert_eq!(ext.value, &want[..]);
        // Self-signed: its issuer is its subject.
        assert_eq!(cert.issuer(), cert.subject());
    }

    #[test]
    fn published_until_withdrawn_and_by_name() {
        publish("v.example.test", "tok-V", "tok-V.thumb").unwrap();
        let config = config_for("V.Example.Test").expect("published");
        assert_eq!(config.alpn_protocols, vec![b"acme-tls/1".to_vec()]);
        assert!(config_for("w.example.test").is_none());
        withdraw("tok-V");
        assert!(config_for("v.example.test").is_none());
    }

    /// Accepts any server certificate, signatures included: the test looks at it itself.
    /// (tls::upstream's `proxy_ssl_verify off` verifier checks the handshake's signature, which
    /// parses the certificate, and webpki refuses the validation certificate's critical
    /// acmeIdentifier extension.)
    #[derive(Debug)]
    struct AnyCert;

    impl rustls::client::danger::ServerCertVerifier for AnyCert {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            #[allow(deprecated)]
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    /// A validator's handshake (ALPN `acme-tls/1` alone, SNI the identifier) against the
    /// published config, in memory, over TLS 1.3 and 1.2: `acme-tls/1` is negotiated and the
    /// validation certificate presented.
    #[test]
    fn validation_handshake_negotiates_acme_tls_1() {
        use rustls::{ClientConfig, ClientConnection, ServerConnection};
        publish("h.example.test", "tok-H", "tok-H.thumb").unwrap();
        let server_config = config_for("h.example.test").unwrap();
        withdraw("tok-H");
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut client_config = ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(&[version])
                .unwrap()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert))
                .with_no_client_auth();
            client_config.alpn_protocols = vec![ACME_TLS_1.to_vec()];
            let name = rustls::pki_types::ServerName::try_from("h.example.test").unwrap();
            let mut client = ClientConnection::new(Arc::new(client_config), name).unwrap();
            let mut server = ServerConnection::new(server_config.clone()).unwrap();
            let mut wire = Vec::new();
            for _ in 0..10 {
                if !client.is_handshaking() && !server.is_handshaking() {
                    break;
                }
                wire.clear();
                client.write_tls(&mut wire).unwrap();
                server.read_tls(&mut &wire[..]).unwrap();
                server.process_new_packets().unwrap();
                wire.clear();
                server.write_tls(&mut wire).unwrap();
                client.read_tls(&mut &wire[..]).unwrap();
                client.process_new_packets().unwrap();
            }
            assert!(!client.is_handshaking() && !server.is_handshaking());
            assert_eq!(client.alpn_protocol(), Some(ACME_TLS_1));
            let presented = &client.peer_certificates().unwrap()[0];
            let (_, cert) = parse_x509_certificate(presented.as_ref()).unwrap();
            assert_eq!(
                cert.subject_alternative_name()
                    .unwrap()
                    .unwrap()
                    .value
                    .general_names,
                vec![GeneralName::DNSName("h.example.test")]
            );
        }
    }
}
