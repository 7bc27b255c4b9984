//! A client's TLS handshake on a `listen … ssl` address: read the ClientHello, let SNI choose
//! the server block (its certificates and rules), finish the handshake within
//! `ssl_handshake_timeout`, and settle what the connection's variables say.

use std::io;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::ServerConnection;
use rustls::server::Acceptor;
use tracing::debug;

use super::facts;
use super::records;
use super::shard::ShardTls;
use super::stream::TlsStream;
use crate::net::deadline::within;
use crate::template::TlsFacts;

/// A finished handshake.
pub struct Handshaken {
    pub stream: TlsStream<ServerConnection>,
    pub facts: TlsFacts,
    /// The config index of the server SNI chose (its client-certificate rules were applied).
    pub server: usize,
    /// Bytes the client sent as early data (TLS 1.3 0-RTT), to be read as the connection's
    /// first bytes.
    pub early: Vec<u8>,
}

/// Why a connection ended before its handshake finished.
pub enum Failed {
    /// The first bytes were a plain HTTP request: the socket, for nginx's 400 answer.
    PlainHttp(TcpStream),
    /// Closed, timed out, garbage or refused (an alert was sent where TLS allows one).
    Closed,
}

/// `unrecognized_name`, fatal, as a TLS 1.2-framed alert record (nginx's
/// `ssl_reject_handshake`).
const REJECT_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70];

/// Runs the server side of a handshake. `pick` maps the SNI name (None without one) to the
/// config index of the server block that answers it (the default server when none matches).
pub async fn accept(
    io: TcpStream,
    tls: &ShardTls,
    pick: impl Fn(Option<&str>) -> Option<usize>,
    limit: Duration,
) -> Result<Handshaken, Failed> {
    match within(limit, run(io, tls, pick)).await {
        Ok(r) => r,
        Err(_) => {
            debug!("TLS handshake timed out");
            Err(Failed::Closed)
        }
    }
}

async fn run(
    mut io: TcpStream,
    tls: &ShardTls,
    pick: impl Fn(Option<&str>) -> Option<usize>,
) -> Result<Handshaken, Failed> {
    let accepted = match client_hello(&mut io).await {
        Ok(a) => a,
        Err(HelloErr::PlainHttp) => return Err(Failed::PlainHttp(io)),
        Err(HelloErr::Closed) => return Err(Failed::Closed),
    };
    let hello = accepted.client_hello();
    let sni = hello.server_name().map(str::to_owned);
    // ACME's TLS-ALPN-01 validation, before any server's rules: one ALPN comparison here.
    if crate::acme::tls_alpn::is_validation(hello.alpn()) {
        // Boxed: kept out of the size of every handshake's future.
        return Err(Box::pin(super::acme_alpn::answer(io, accepted, sni.as_deref())).await);
    }
    let picked = pick(sni.as_deref()).and_then(|i| tls.site(i).map(|s| (i, s)));
    let Some((server, (site, config))) = picked else {
        let _ = io.write_all(REJECT_ALERT.to_vec()).await;
        return Err(Failed::Closed);
    };
    if let Some(names) = &site.acme_pending {
        debug!(sni = ?sni, "TLS handshake refused: no ACME certificate for {names} yet");
        let _ = io.write_all(REJECT_ALERT.to_vec()).await;
        return Err(Failed::Closed);
    }
    if site.reject {
        debug!(sni = ?sni, "TLS handshake rejected (ssl_reject_handshake)");
        let _ = io.write_all(REJECT_ALERT.to_vec()).await;
        return Err(Failed::Closed);
    }
    let conn = match accepted.into_connection(config) {
        Ok(c) => c,
        Err((e, mut alert)) => {
            debug!("TLS handshake failed: {e}");
            let mut out = Vec::new();
            let _ = alert.write_all(&mut out);
            let _ = io.write_all(out).await;
            return Err(Failed::Closed);
        }
    };
    let mut stream = TlsStream::new(io, conn);
    let early = match finish(&mut stream).await {
        Ok(e) => e,
        Err(e) => {
            debug!("TLS handshake failed: {e}");
            return Err(Failed::Closed);
        }
    };
    let facts = facts::of(&stream, site, sni, !early.is_empty());
    Ok(Handshaken {
        stream,
        facts,
        server,
        early,
    })
}

enum HelloErr {
    PlainHttp,
    Closed,
}

/// Reads until the ClientHello is whole.
async fn client_hello(io: &mut TcpStream) -> Result<rustls::server::Accepted, HelloErr> {
    let mut acceptor = Acceptor::default();
    let mut first = true;
    loop {
        let buf = records::get();
        let (res, buf) = io.read(buf).await;
        let n = match res {
            Ok(n) if n > 0 => n,
            _ => {
                records::put(buf);
                return Err(HelloErr::Closed);
            }
        };
        if first && buf[0] != 0x16 {
            let http = buf[0].is_ascii_uppercase();
            records::put(buf);
            return Err(if http {
                HelloErr::PlainHttp
            } else {
                HelloErr::Closed
            });
        }
        first = false;
        let mut rd = &buf[..n];
        let mut fed = Ok(());
        while !rd.is_empty() {
            match acceptor.read_tls(&mut rd) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    fed = Err(e);
                    break;
                }
            }
        }
        records::put(buf);
        if fed.is_err() {
            return Err(HelloErr::Closed);
        }
        match acceptor.accept() {
            Ok(Some(a)) => return Ok(a),
            Ok(None) => continue,
            Err((e, mut alert)) => {
                debug!("TLS ClientHello refused: {e}");
                let mut out = Vec::new();
                let _ = alert.write_all(&mut out);
                let _ = io.write_all(out).await;
                return Err(HelloErr::Closed);
            }
        }
    }
}

/// Drives the rest of the handshake; returns the early data the client sent, if any.
async fn finish(stream: &mut TlsStream<ServerConnection>) -> io::Result<Vec<u8>> {
    let mut early = Vec::new();
    stream
        .handshake(true, |s| take_early(s, &mut early))
        .await?;
    Ok(early)
}

fn take_early(stream: &mut TlsStream<ServerConnection>, early: &mut Vec<u8>) {
    use std::io::Read;
    if let Some(mut ed) = stream.conn_mut().early_data() {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = ed.read(&mut chunk) {
            if n == 0 {
                break;
            }
            early.extend_from_slice(&chunk[..n]);
        }
    }
}
