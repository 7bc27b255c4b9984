//! Who the client is, for one request: the connection's peer, or the address a trusted proxy
//! names (`set_real_ip_from`, see `crate::access::realip`).

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use crate::access::realip::{IpText, RealIp};
use crate::http::{HeaderSpan, RequestHead};
use crate::template::TlsFacts;

/// Facts about the client that templates, access rules and logs use: the connection's, or
/// for one request those a trusted proxy's header gave (`set_real_ip_from`).
#[derive(Clone)]
pub struct Client {
    /// The TCP peer, whatever a header says (`$realip_remote_addr`).
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// The effective client address: the peer's, or the real one behind a trusted proxy.
    /// `$remote_addr`, `$binary_remote_addr`, `allow`/`deny`, `ip_hash` and per-client limits
    /// key on it.
    pub addr: IpAddr,
    /// `$remote_port`; 0 (rendered empty) when the real address came without a port.
    pub port: u16,
    /// `addr` as text, rendered once.
    pub ip: IpText,
    /// `peer`'s address as text.
    pub peer_ip: IpText,
    /// What the connection's TLS handshake settled (None: plain HTTP).
    pub tls: Option<Rc<TlsFacts>>,
    /// `$connection`: a serial number unique in the process (see `next_serial`).
    pub serial: u64,
    /// The connection speaks HTTP/2 (`$server_protocol`, the request line in logs).
    pub http2: bool,
}

thread_local! {
    /// This shard's connection count; `next_serial` mixes the shard in.
    static SERIALS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static SHARD: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Numbers this thread's connection serials as shard `id`'s (called once by each shard).
pub fn set_shard(id: usize) {
    SHARD.with(|s| s.set(id as u64));
}

/// A new connection's serial: the shard's own count times 1024 plus the shard's id, so that
/// shards never hand out the same number (up to 1024 shards) without sharing a counter.
fn next_serial() -> u64 {
    let n = SERIALS.with(|c| {
        let n = c.get() + 1;
        c.set(n);
        n
    });
    n * 1024 + SHARD.with(|s| s.get()) % 1024
}

impl Client {
    pub fn new(peer: SocketAddr, local: SocketAddr, tls: Option<Rc<TlsFacts>>) -> Client {
        let ip = IpText::new(peer.ip());
        Client {
            peer,
            local,
            addr: peer.ip(),
            port: peer.port(),
            ip,
            peer_ip: ip,
            tls,
            serial: next_serial(),
            http2: false,
        }
    }

    /// `$scheme`.
    pub fn scheme(&self) -> &'static [u8] {
        if self.tls.is_some() {
            b"https"
        } else {
            b"http"
        }
    }

    /// This client as seen through `realip`: Some when the peer is trusted and the request's
    /// header names an address (ngx_http_realip_module).
    pub fn real(&self, realip: Option<&RealIp>, head: &RequestHead, b: &[u8]) -> Option<Client> {
        let rip = realip?;
        let named = |h: &&HeaderSpan| h.name.get(b).eq_ignore_ascii_case(&rip.header);
        let peer = self.peer.ip();
        let (addr, port) = if rip.every_line {
            rip.client(
                peer,
                head.headers
                    .iter()
                    .rev()
                    .filter(named)
                    .map(|h| h.value.get(b)),
            )
        } else {
            let first = head.headers.iter().find(named).map(|h| h.value.get(b));
            rip.client(peer, first.into_iter())
        }?;
        Some(Client {
            addr,
            port,
            ip: IpText::new(addr),
            tls: self.tls.clone(),
            ..*self
        })
    }
}
