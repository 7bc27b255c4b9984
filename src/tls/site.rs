//! One server block's TLS identity and rules, made from its `ssl_*` settings when the config is
//! loaded: certificates (an RSA and an ECDSA pair chosen per client), protocols, suites,
//! groups, client-certificate checks, session settings. Read-only once made; every shard uses
//! the same `Site`.

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::{
    CryptoProvider, SupportedKxGroup, WebPkiSupportedAlgorithms, aws_lc_rs, ring,
};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    DigitallySignedStruct, DistinguishedName, Error, ServerConfig, SignatureScheme,
    SupportedCipherSuite,
};

use super::certs;
use super::tickets::{TicketKey, TicketKeys};
use crate::config::tls::{Curve, Protocols, ServerTls, Tls12Suite, VerifyClient};

/// ALPN: `http/1.1`, and `h2` first where the server has `http2 on` (a client offering both
/// gets HTTP/2, as with nginx).
pub const ALPN: &[&[u8]] = &[b"http/1.1"];
const ALPN_H2: &[&[u8]] = &[b"h2", b"http/1.1"];

pub struct Site {
    /// The server has certificates of its own (one without answers with the default server's,
    /// as in nginx).
    pub has_certs: bool,
    /// The rustls settings without the per-shard parts (session store, ticketer).
    pub base: ServerConfig,
    pub verify: VerifyClient,
    /// The full chain check made after the handshake (None when not verifying).
    pub client_check: Option<Arc<dyn ClientCertVerifier>>,
    pub verify_depth: u32,
    pub reject: bool,
    pub handshake_timeout: Duration,
    pub session_timeout: Duration,
    /// `ssl_session_tickets on`.
    pub tickets: bool,
    /// From `ssl_session_ticket_key` files (None: the rotating keys ringway makes).
    pub ticket_keys: Option<Arc<TicketKeys>>,
    /// `ssl_session_cache` size in sessions (0: none stored).
    pub cache: usize,
    pub early_data: bool,
    /// The server's only certificates come from ACME and are not issued yet: why its
    /// handshakes are refused (logged at each one, at debug level; at load, as a warning).
    pub acme_pending: Option<String>,
}

/// The crypto ringway's TLS uses, with the suites and groups a server's settings allow.
pub fn provider(
    protocols: Protocols,
    tls12: &[Tls12Suite],
    curves: Option<&[Curve]>,
) -> CryptoProvider {
    // ring's provider for the suites, signatures and hashes (as fast as aws-lc's for them, and
    // aws-lc's HMAC is slower), with aws-lc's key-exchange groups: X25519 is a full
    // handshake's largest cost, and aws-lc's (s2n-bignum's assembly) takes half ring's time
    // (docs/performance.md, "TLS"). aws-lc also brings the post-quantum hybrid group.
    #[allow(deprecated)]
    let mut p = ring::default_provider();
    let mut suites: Vec<SupportedCipherSuite> = Vec::new();
    if protocols.tls13 {
        suites.extend(
            p.cipher_suites
                .iter()
                .filter(|s| s.version() == &rustls::version::TLS13),
        );
    }
    if protocols.tls12 {
        suites.extend(tls12.iter().map(|s| suite12(*s)));
    }
    p.cipher_suites = suites;
    p.secure_random = &super::random::THREAD_RANDOM;
    // `auto`: X25519, P-256 and P-384, as nginx with OpenSSL 3.0 offers; the post-quantum
    // hybrid only by name (`ssl_ecdh_curve X25519MLKEM768:X25519`).
    let auto = [Curve::X25519, Curve::P256, Curve::P384];
    p.kx_groups = curves
        .unwrap_or(&auto)
        .iter()
        .map(|c| kx_group(*c))
        .collect();
    p
}

fn kx_group(c: Curve) -> &'static dyn SupportedKxGroup {
    use aws_lc_rs::kx_group as aws;
    match c {
        Curve::X25519 => aws::X25519,
        // P-256 and P-384 from aws-lc too: one library for every group (not measured against
        // ring's; rarely chosen, X25519 comes first).
        Curve::P256 => aws::SECP256R1,
        Curve::P384 => aws::SECP384R1,
        Curve::X25519Mlkem768 => aws::X25519MLKEM768,
    }
}

fn suite12(s: Tls12Suite) -> SupportedCipherSuite {
    use ring::cipher_suite as cs;
    match s {
        Tls12Suite::EcdheEcdsaAes128Gcm => cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        Tls12Suite::EcdheEcdsaAes256Gcm => cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        Tls12Suite::EcdheEcdsaChacha20 => cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        Tls12Suite::EcdheRsaAes128Gcm => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        Tls12Suite::EcdheRsaAes256Gcm => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        Tls12Suite::EcdheRsaChacha20 => cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    }
}

pub fn versions(p: Protocols) -> Vec<&'static rustls::SupportedProtocolVersion> {
    let mut v = Vec::new();
    if p.tls13 {
        v.push(&rustls::version::TLS13);
    }
    if p.tls12 {
        v.push(&rustls::version::TLS12);
    }
    v
}

impl Site {
    /// Reads the server's files and builds its settings. Errors name the file and directive.
    /// `acme`: the files ringway's ACME client writes for this server; while they do not
    /// exist yet the server has no certificate and its handshakes fail (logged here).
    pub fn load(
        tls: &ServerTls,
        acme: Option<&crate::config::acme::AcmeCert>,
    ) -> Result<Site, String> {
        let provider = Arc::new(provider(
            tls.protocols,
            &tls.ciphers.tls12,
            tls.ecdh_curves.as_deref(),
        ));
        let passwords = certs::passwords(tls.password_file.as_ref())?;
        let staple = match (&tls.stapling, &tls.stapling_file) {
            (true, Some(f)) => Some(certs::read(&f.path, "OCSP response", &f.at)?),
            _ => None,
        };
        let mut keys = Vec::new();
        let mut pending = None;
        for pair in &tls.certificates {
            if let Some(a) = acme
                && pair.cert == a.cert_path
                && !(a.cert_path.exists() && a.key_path.exists())
            {
                tracing::warn!(
                    "{}: no ACME certificate yet for {} (issuance pending or failed, see the \
                     log): TLS handshakes for these names fail until it is issued",
                    a.at,
                    a.names.join(", ")
                );
                pending = Some(a.names.join(", "));
                continue;
            }
            keys.push(certs::certified(
                pair,
                &provider,
                &passwords,
                staple.clone(),
            )?);
        }
        let keys_empty = keys.is_empty();
        let (handshake_verifier, client_check) = client_verifiers(tls, &provider)?;
        let resolver = Arc::new(SiteCerts::new(keys, tls.protocols));
        let mut base = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions(tls.protocols))
            .map_err(|e| format!("ssl_protocols: {e}"))?
            .with_client_cert_verifier(handshake_verifier)
            .with_cert_resolver(resolver);
        let alpn = if tls.http2 { ALPN_H2 } else { ALPN };
        base.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        base.ignore_client_order = tls.prefer_server_ciphers;
        if tls.buffer_size < 16 * 1024 {
            // rustls counts the record's framing in the size (nginx counts the payload).
            base.max_fragment_size = Some(tls.buffer_size.clamp(64, 16 * 1024) + 5);
        }
        if tls.early_data {
            base.max_early_data_size = 16 * 1024;
        }
        let ticket_keys = ticket_files(tls)?;
        Ok(Site {
            has_certs: !tls.certificates.is_empty(),
            base,
            verify: tls.verify_client,
            client_check,
            verify_depth: tls.verify_depth,
            reject: tls.reject_handshake,
            handshake_timeout: tls.handshake_timeout,
            session_timeout: tls.session_timeout,
            tickets: tls.session_tickets,
            ticket_keys,
            cache: match tls.session_cache {
                crate::config::tls::SessionCache::Sessions(n) => n,
                _ => 0,
            },
            early_data: tls.early_data,
            acme_pending: pending.filter(|_| keys_empty),
        })
    }
}

fn ticket_files(tls: &ServerTls) -> Result<Option<Arc<TicketKeys>>, String> {
    if tls.session_ticket_keys.is_empty() {
        return Ok(None);
    }
    let mut keys = Vec::new();
    for f in &tls.session_ticket_keys {
        let bytes = certs::read(&f.path, "ssl_session_ticket_key", &f.at)?;
        keys.push(
            TicketKey::parse(&bytes)
                .map_err(|e| format!("{}: \"{}\": {e}", f.at, f.path.display()))?,
        );
    }
    Ok(Some(Arc::new(TicketKeys::new(keys))))
}

/// The handshake's verifier (asks for a certificate, checks the client holds its key, accepts
/// any chain: nginx answers a bad one with 400 at the request, not with a failed handshake)
/// and the chain check made after it.
#[allow(clippy::type_complexity)]
fn client_verifiers(
    tls: &ServerTls,
    provider: &Arc<CryptoProvider>,
) -> Result<
    (
        Arc<dyn ClientCertVerifier>,
        Option<Arc<dyn ClientCertVerifier>>,
    ),
    String,
> {
    if tls.verify_client == VerifyClient::Off {
        return Ok((WebPkiClientVerifier::no_client_auth(), None));
    }
    let mut files = Vec::new();
    files.extend(tls.client_certificate.as_ref());
    files.extend(tls.trusted_certificate.as_ref());
    let roots = Arc::new(certs::roots(&files)?);
    // Only ssl_client_certificate's names are sent to the client (nginx's rule).
    let hints: Vec<DistinguishedName> = match &tls.client_certificate {
        Some(f) => certs::roots(&[f])?.subjects(),
        None => Vec::new(),
    };
    let crls = certs::crls(tls.crl.as_ref())?;
    let check = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .with_crls(crls)
        .allow_unauthenticated()
        .build()
        .map_err(|e| format!("client certificate check: {e}"))?;
    let ask = Arc::new(AskForCert {
        hints,
        algs: provider.signature_verification_algorithms,
    });
    Ok((ask, Some(check)))
}

/// Asks for a client certificate and checks the handshake's signature; leaves the chain to the
/// check after the handshake.
#[derive(Debug)]
struct AskForCert {
    hints: Vec<DistinguishedName>,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AskForCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// A server's certificates; each handshake gets the first the client can use (ECDSA before
/// RSA when it can use both: smaller and cheaper to sign).
#[derive(Debug)]
pub struct SiteCerts {
    keys: Vec<Arc<CertifiedKey>>,
    tls13: bool,
}

impl SiteCerts {
    fn new(mut keys: Vec<Arc<CertifiedKey>>, p: Protocols) -> SiteCerts {
        keys.sort_by_key(|k| k.key.algorithm() != rustls::SignatureAlgorithm::ECDSA);
        SiteCerts {
            keys,
            tls13: p.tls13,
        }
    }
}

/// TLS 1.2 ECDHE suites by the key type they sign with.
fn tls12_suite_for(suite: u16, alg: rustls::SignatureAlgorithm) -> bool {
    match suite {
        0xC02B | 0xC02C | 0xCCA9 => alg == rustls::SignatureAlgorithm::ECDSA,
        0xC02F | 0xC030 | 0xCCA8 => alg == rustls::SignatureAlgorithm::RSA,
        _ => false,
    }
}

impl ResolvesServerCert for SiteCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let schemes = hello.signature_schemes();
        let suites = hello.cipher_suites();
        let offers13 = self.tls13 && suites.iter().any(|s| u16::from(*s) >> 8 == 0x13);
        self.keys
            .iter()
            .find(|k| {
                let alg = k.key.algorithm();
                k.key.choose_scheme(schemes).is_some()
                    && (offers13 || suites.iter().any(|s| tls12_suite_for(u16::from(*s), alg)))
            })
            .or_else(|| self.keys.first())
            .cloned()
    }
}
