//! `proxy_pass https://`: the rustls client settings a location's `proxy_ssl_*` make, read on
//! the main thread, and the handshake with an upstream server.

use std::io;
use std::sync::Arc;

use monoio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, Error, SignatureScheme};

use super::certs;
use super::site::{provider, versions};
use super::stream::TlsStream;
use crate::config::tls::ProxyTls;

/// Sessions kept per shard and settings for `proxy_ssl_session_reuse` (rustls's default).
const SESSIONS: usize = 256;

/// One `proxy_ssl_*` combination's client settings (shared read-only; each shard takes a copy
/// with its own session cache).
pub struct UpstreamTls {
    pub settings: ProxyTls,
    base: ClientConfig,
}

impl UpstreamTls {
    pub fn load(p: &ProxyTls) -> Result<UpstreamTls, String> {
        let provider = Arc::new(provider(p.protocols, &p.ciphers.tls12, None));
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions(p.protocols))
            .map_err(|e| format!("proxy_ssl_protocols: {e}"))?;
        let verifier: Arc<dyn ServerCertVerifier> = if p.verify {
            let files: Vec<_> = p.trusted_certificate.iter().collect();
            let roots = Arc::new(certs::roots(&files)?);
            let crls = certs::crls(p.crl.as_ref())?;
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .with_crls(crls)
                .build()
                .map_err(|e| format!("proxy_ssl_trusted_certificate: {e}"))?
        } else {
            Arc::new(AnyServerCert {
                algs: provider.signature_verification_algorithms,
            })
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut base = match &p.certificate {
            Some(pair) => {
                let passwords = certs::passwords(p.password_file.as_ref())?;
                // Loaded once as an identity first: a mismatched pair is reported as such.
                let ck = certs::certified(pair, &provider, &passwords, None)?;
                builder
                    .with_client_auth_cert(ck.cert.clone(), load_key(pair, &passwords)?)
                    .map_err(|e| format!("{}: proxy_ssl_certificate: {e}", pair.at))?
            }
            None => builder.with_no_client_auth(),
        };
        base.enable_sni = p.server_name;
        Ok(UpstreamTls {
            settings: p.clone(),
            base,
        })
    }

    /// This shard's copy: its own session cache (`proxy_ssl_session_reuse`), so resuming never
    /// touches another shard's.
    pub fn for_shard(&self) -> Arc<ClientConfig> {
        let mut c = self.base.clone();
        c.resumption = if self.settings.session_reuse {
            Resumption::in_memory_sessions(SESSIONS)
        } else {
            Resumption::disabled()
        };
        Arc::new(c)
    }
}

fn load_key(
    pair: &crate::config::tls::CertPair,
    passwords: &[String],
) -> Result<rustls::pki_types::PrivateKeyDer<'static>, String> {
    let bytes = certs::read(&pair.key, "certificate key", &pair.at)?;
    certs::private_key(&bytes, passwords).map_err(|e| {
        format!(
            "{}: cannot load certificate key \"{}\": {e}",
            pair.at,
            pair.key.display()
        )
    })
}

/// The name checked against the upstream's certificate (and sent as SNI when enabled):
/// `proxy_ssl_name`, else the `proxy_pass` host.
pub fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.to_string()).map_err(|e| format!("proxy_ssl_name \"{name}\": {e}"))
}

/// The client side of a handshake with an upstream server.
pub async fn connect(
    io: TcpStream,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
) -> io::Result<TlsStream<ClientConnection>> {
    let conn = ClientConnection::new(config, name)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut stream = TlsStream::new(io, conn);
    stream.handshake(false, |_| {}).await?;
    Ok(stream)
}

/// `proxy_ssl_verify off` (nginx's default): any certificate; the handshake's signature is
/// still checked (the server holds the key it shows).
#[derive(Debug)]
struct AnyServerCert {
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
