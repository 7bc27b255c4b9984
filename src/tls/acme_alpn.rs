//! The TLS side of ACME's TLS-ALPN-01 (RFC 8737): a ClientHello offering `acme-tls/1` alone is
//! a validation. It is answered ahead of the SNI → server choice and of that server's rules,
//! as HTTP-01 is answered ahead of routing: with the validation certificate the ACME thread
//! published for the SNI name (src/acme/tls_alpn.rs), `acme-tls/1` negotiated, then the
//! connection closes (no HTTP). A name with nothing published gets a
//! `no_application_protocol` alert.

use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use rustls::server::Accepted;
use tracing::debug;

use super::handshake::Failed;
use super::stream::TlsStream;
use crate::acme::tls_alpn;

/// `no_application_protocol`, fatal, as a TLS 1.2-framed alert record.
const NO_PROTOCOL_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x78];

/// Answers a validation handshake; the connection ends here either way.
pub async fn answer(mut io: TcpStream, accepted: Accepted, sni: Option<&str>) -> Failed {
    let Some(config) = sni.and_then(tls_alpn::config_for) else {
        debug!(
            sni = ?sni,
            "TLS handshake refused: acme-tls/1 offered for a name with no ACME validation pending"
        );
        let _ = io.write_all(NO_PROTOCOL_ALERT.to_vec()).await;
        return Failed::Closed;
    };
    let conn = match accepted.into_connection(config) {
        Ok(c) => c,
        Err((e, mut alert)) => {
            debug!(sni = ?sni, "TLS-ALPN-01 validation handshake failed: {e}");
            let mut out = Vec::new();
            let _ = alert.write_all(&mut out);
            let _ = io.write_all(out).await;
            return Failed::Closed;
        }
    };
    let mut stream = TlsStream::new(io, conn);
    match stream.handshake(true, |_| {}).await {
        Ok(()) => {
            debug!(sni = ?sni, "TLS-ALPN-01 validation certificate presented");
            stream.conn_mut().send_close_notify();
            let _ = stream.flush_records().await;
        }
        Err(e) => debug!(sni = ?sni, "TLS-ALPN-01 validation handshake failed: {e}"),
    }
    Failed::Closed
}
