//! The TLS side of a connection: the handshake before the session loop (SNI choosing the
//! server block), nginx's answer to plain HTTP on a TLS port, and the per-request check that
//! the server a request's Host selects accepts what the handshake verified.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use monoio::io::AsyncWriteRentExt;
use tracing::debug;

use super::client::Client;
use super::context::{ConnSlot, ShardCtx};
use super::error::Error;
use super::guard;
use super::session::{Conn, serve_from};
use crate::config::tls::VerifyClient;
use crate::tls::{self, Failed};

/// The handshake's limit when the default server has no TLS site (nginx's default).
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn serve(
    slot: ConnSlot,
    stream: monoio::net::TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
) {
    let ctx = slot.ctx().clone();
    let Some(shard_tls) = ctx.tls.borrow().clone() else {
        return;
    };
    let generation = ctx.current();
    let Some(lst) = generation.listener(local) else {
        return;
    };
    let default = lst.hosts.default_server().map(|s| s.index);
    let limit = default
        .and_then(|i| shard_tls.rules(i))
        .map_or(DEFAULT_HANDSHAKE_TIMEOUT, |s| s.handshake_timeout);
    // SNI chooses among the address's servers as Host does (nginx's server_name rules); no
    // SNI gets the default server.
    let pick = |sni: Option<&str>| {
        let chosen = match sni {
            Some(name) => lst.hosts.find(name.as_bytes()).map(|s| s.index),
            None => default,
        };
        // A server without certificates of its own answers with the default server's.
        match chosen.and_then(|i| shard_tls.rules(i)) {
            Some(s) if !s.has_certs && !s.reject => default,
            _ => chosen,
        }
    };
    let shaken = tls::handshake::accept(stream, &shard_tls, pick, limit).await;
    let send_limit = lst.defaults.client_send_timeout;
    drop(generation);
    crate::observe::metrics::handshake(&ctx.metrics, local, shaken.is_ok());
    match shaken {
        Ok(h) => {
            let h2 = h.stream.conn().alpn_protocol() == Some(b"h2");
            let mut conn = Conn {
                client: Client::new(peer, local, Some(Rc::new(h.facts))),
                tls_server: Some(h.server),
                first: h.early,
            };
            if h2 {
                conn.client.http2 = true;
                monoio::spawn(guard::catch_panic(
                    super::h2::serve(slot, h.stream, conn),
                    peer,
                ));
                return;
            }
            // The session loop runs in a task of its own and this one, with the handshake's
            // state, ends: an idle TLS connection holds the loop's state and rustls's, nothing
            // of the handshake.
            monoio::spawn(guard::catch_panic(
                serve_from(slot, h.stream, conn, 0, None),
                peer,
            ));
        }
        Err(Failed::PlainHttp(mut io)) => {
            debug!(peer = %peer, "plain HTTP request sent to a TLS port");
            let page = plain_http_page(&ctx);
            let _ = crate::net::deadline::within(send_limit, io.write_all(page)).await;
        }
        Err(Failed::Closed) => {}
    }
}

/// nginx's answer when a client speaks plain HTTP to a TLS port (then the connection closes).
fn plain_http_page(ctx: &ShardCtx) -> Vec<u8> {
    const BODY: &[u8] = b"400 Bad Request: The plain HTTP request was sent to HTTPS port\n";
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 400 Bad Request\r\nDate: ");
    out.extend_from_slice(&ctx.date.borrow()[..]);
    out.extend_from_slice(b"\r\nContent-Type: text/plain\r\nContent-Length: ");
    crate::http::util::push_u64(&mut out, BODY.len() as u64);
    out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    out.extend_from_slice(BODY);
    out
}

/// A request on a TLS connection, routed by Host to server `routed`: 421 when that server
/// verifies client certificates and is not the one SNI chose (the handshake applied another
/// server's rules), 400 when its `ssl_verify_client` refuses what the handshake found.
pub fn check_server(
    ctx: &ShardCtx,
    client: &Client,
    shake: usize,
    routed: usize,
) -> Result<(), Error> {
    let Some(facts) = client.tls.as_deref() else {
        return Ok(());
    };
    // Borrowed, not cloned: this runs for every request on a TLS connection.
    let shard_tls = ctx.tls.borrow();
    let Some(site) = shard_tls.as_ref().and_then(|t| t.rules(routed)) else {
        return Ok(());
    };
    if site.verify == VerifyClient::Off {
        return Ok(());
    }
    if routed != shake {
        return Err(Error::Misdirected);
    }
    let verdict = &facts.client_verify[..];
    let refused = match site.verify {
        VerifyClient::On if verdict == b"NONE" => Some("no required SSL certificate was sent"),
        VerifyClient::On | VerifyClient::Optional if verdict.starts_with(b"FAILED") => {
            Some("the SSL certificate error")
        }
        // optional_no_ca lets a chain ringway cannot complete through, nothing else.
        VerifyClient::OptionalNoCa
            if verdict.starts_with(b"FAILED")
                && verdict != b"FAILED:unable to get local issuer certificate" =>
        {
            Some("the SSL certificate error")
        }
        _ => None,
    };
    match refused {
        Some(why) => Err(Error::ClientCert(why)),
        None => Ok(()),
    }
}
