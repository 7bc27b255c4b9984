//! DNS-based discovery for upstream `server HOST:PORT resolve;` lines.
//!
//! One helper thread (never a shard: its lookups block) asks the `resolver` for each name's A
//! (and, with `ipv6=on`, AAAA) records over UDP, every `valid=` period or, without it, the
//! answer's TTL (at least 1 s, at most an hour; 10 s after a failure or an empty answer). When
//! the addresses of any name change it broadcasts the whole map to the shards, which recompile
//! their current config with it and swap generations: new addresses take new requests at once,
//! vanished ones finish the requests they have in flight (they drain with the old generation).
//!
//! - A timeout, a refused or failed query, or a malformed or truncated reply keeps the name's
//!   last known addresses (with a warning). NXDOMAIN or an answer without addresses is an
//!   answer: the name then has no servers (a scaled-to-zero service).
//! - Several resolver addresses are tried in order for each query.
//! - Every A/AAAA record of the answer section counts (CNAME chains are the recursive
//!   resolver's business); no TCP fallback (EDNS0 asks for replies up to 1232 bytes, about
//!   70 addresses).
//! - The first lookups run before the shards start, so a name DNS knows has servers from the
//!   first request; on reload, names new to the config are looked up before the new config is
//!   handed to the shards.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, Packet, PacketFlag, Question, RCODE, TYPE};
use tracing::{error, info, warn};

use super::{Control, Peers};
use crate::config::{Config, Resolver};
use crate::route::{HostLookup, Lookups, Resolved};

/// Re-resolve period after a failure or an empty answer (capped by `valid=`), and the default
/// when an answer carries no TTL.
const RETRY: Duration = Duration::from_secs(10);
const MIN_TTL: Duration = Duration::from_secs(1);
const MAX_TTL: Duration = Duration::from_secs(3600);
/// EDNS0 UDP payload size advertised (the DNS flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;

/// The addresses DNS gave for one name, and for how long (the smallest TTL among them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub addrs: Vec<IpAddr>,
    pub ttl: Option<u32>,
}

/// A query for `host`'s records of type `qtype`, with recursion desired and EDNS0.
pub fn build_query(id: u16, host: &str, qtype: TYPE) -> Result<Vec<u8>, String> {
    let name = Name::new(host.trim_end_matches('.')).map_err(|e| format!("bad name: {e}"))?;
    let mut p = Packet::new_query(id);
    p.set_flags(PacketFlag::RECURSION_DESIRED);
    p.questions
        .push(Question::new(name, qtype.into(), CLASS::IN.into(), false));
    *p.opt_mut() = Some(simple_dns::rdata::OPT {
        opt_codes: Vec::new(),
        udp_packet_size: EDNS_PAYLOAD,
        version: 0,
    });
    p.build_bytes_vec()
        .map_err(|e| format!("cannot build query: {e}"))
}

/// Reads a reply to the query `build_query(id, host, qtype)` made. `Ok(None)`: not a reply to
/// it (another id, not a response, another question): keep waiting. NXDOMAIN is an empty answer.
pub fn parse_reply(
    id: u16,
    host: &str,
    qtype: TYPE,
    bytes: &[u8],
) -> Result<Option<Answer>, String> {
    let p = Packet::parse(bytes).map_err(|e| format!("malformed reply: {e}"))?;
    let host = host.trim_end_matches('.');
    let ours = p.id() == id
        && p.has_flags(PacketFlag::RESPONSE)
        && p.questions.len() == 1
        && p.questions[0].qtype == qtype.into()
        && p.questions[0].qname.to_string().eq_ignore_ascii_case(host);
    if !ours {
        return Ok(None);
    }
    match p.rcode() {
        RCODE::NoError => {}
        RCODE::NameError => {
            return Ok(Some(Answer {
                addrs: Vec::new(),
                ttl: None,
            }));
        }
        other => return Err(format!("the server answered {other:?}")),
    }
    if p.has_flags(PacketFlag::TRUNCATION) {
        return Err("truncated reply (too many addresses for UDP; TCP is not supported)".into());
    }
    let mut addrs = Vec::new();
    let mut ttl: Option<u32> = None;
    for rr in &p.answers {
        let ip = match &rr.rdata {
            RData::A(a) if qtype == TYPE::A => IpAddr::V4(Ipv4Addr::from(a.address)),
            RData::AAAA(a) if qtype == TYPE::AAAA => IpAddr::V6(Ipv6Addr::from(a.address)),
            _ => continue,
        };
        addrs.push(ip);
        ttl = Some(ttl.map_or(rr.ttl, |t| t.min(rr.ttl)));
    }
    Ok(Some(Answer { addrs, ttl }))
}

/// Query ids: a counter started from the clock (the source port is random too).
fn next_id() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u16);
    NEXT.fetch_add(1, Ordering::Relaxed).wrapping_add(seed)
}

/// One query to one server, waiting at most `timeout` for its reply.
pub fn query(
    server: SocketAddr,
    host: &str,
    qtype: TYPE,
    timeout: Duration,
) -> Result<Answer, String> {
    let id = next_id();
    let msg = build_query(id, host, qtype)?;
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local).map_err(|e| format!("socket: {e}"))?;
    // connect(): the kernel drops datagrams from any other address.
    sock.connect(server).map_err(|e| format!("{server}: {e}"))?;
    sock.send(&msg).map_err(|e| format!("{server}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("{server}: timed out"));
        }
        sock.set_read_timeout(Some(left))
            .map_err(|e| format!("socket: {e}"))?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("{server}: timed out"));
            }
            Err(e) => return Err(format!("{server}: {e}")),
        };
        if let Some(a) =
            parse_reply(id, host, qtype, &buf[..n]).map_err(|e| format!("{server}: {e}"))?
        {
            return Ok(a);
        }
    }
}

/// `host`'s addresses through the configured resolver (A, then AAAA when asked for). Each query
/// tries the servers in order; any query failing on all of them fails the lookup.
pub fn lookup(r: &Resolver, host: &str) -> Result<Answer, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Answer {
            addrs: vec![ip],
            ttl: None,
        });
    }
    let mut out = Answer {
        addrs: Vec::new(),
        ttl: None,
    };
    let types = [(r.ipv4, TYPE::A), (r.ipv6, TYPE::AAAA)];
    for (_, qtype) in types.into_iter().filter(|(on, _)| *on) {
        let mut last = String::from("no name servers");
        let mut got = None;
        for &server in &r.addrs {
            match query(server, host, qtype, r.timeout) {
                Ok(a) => {
                    got = Some(a);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let a = got.ok_or(last)?;
        out.addrs.extend(a.addrs);
        out.ttl = match (out.ttl, a.ttl) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
    }
    Ok(out)
}

/// One `HOST:PORT resolve` name and what is known of it.
struct Entry {
    host: String,
    port: u16,
    /// None until DNS first answered.
    addrs: Option<Vec<SocketAddr>>,
    due: Instant,
}

/// Every name the current config resolves, keyed by `HOST:PORT` as written.
pub(super) struct Names {
    entries: BTreeMap<String, Entry>,
}

impl Names {
    fn new() -> Names {
        Names {
            entries: BTreeMap::new(),
        }
    }

    /// Follows `cfg`: names it no longer has are dropped, new ones are due now.
    fn retarget(&mut self, cfg: &Config) {
        let mut wanted = BTreeMap::new();
        for s in cfg
            .upstreams
            .iter()
            .flat_map(|u| &u.servers)
            .filter(|s| s.resolve)
        {
            let Some((host, port)) = s.addr.rsplit_once(':') else {
                continue;
            };
            let Ok(port) = port.parse() else { continue };
            wanted.insert(s.addr.clone(), (host.to_string(), port));
        }
        self.entries.retain(|k, _| wanted.contains_key(k));
        let now = Instant::now();
        for (k, (host, port)) in wanted {
            self.entries.entry(k).or_insert(Entry {
                host,
                port,
                addrs: None,
                due: now,
            });
        }
    }

    /// Looks up every name that is due; true when any name's addresses changed.
    fn refresh(&mut self, r: Option<&Resolver>) -> bool {
        let Some(r) = r else {
            return false;
        };
        let mut changed = false;
        for (name, e) in &mut self.entries {
            if e.due > Instant::now() {
                continue;
            }
            let retry = r.valid.unwrap_or(RETRY).min(RETRY);
            match lookup(r, &e.host) {
                Ok(a) => {
                    let mut addrs: Vec<SocketAddr> = a
                        .addrs
                        .iter()
                        .map(|ip| SocketAddr::new(*ip, e.port))
                        .collect();
                    addrs.sort();
                    addrs.dedup();
                    let period = match (r.valid, a.ttl) {
                        (Some(v), _) => v,
                        (None, Some(ttl)) => {
                            Duration::from_secs(ttl.into()).clamp(MIN_TTL, MAX_TTL)
                        }
                        (None, None) => RETRY,
                    };
                    e.due = Instant::now() + if addrs.is_empty() { retry } else { period };
                    if e.addrs.as_ref() != Some(&addrs) {
                        if addrs.is_empty() {
                            warn!("DNS: upstream server {name} has no addresses now");
                        } else {
                            let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
                            info!("DNS: upstream server {name} resolves to {}", list.join(" "));
                        }
                        e.addrs = Some(addrs);
                        changed = true;
                    }
                }
                Err(err) => {
                    warn!(
                        "DNS: cannot resolve upstream server {name}, keeping its last known addresses: {err}"
                    );
                    e.due = Instant::now() + retry;
                }
            }
        }
        changed
    }

    fn next_due(&self) -> Option<Instant> {
        self.entries.values().map(|e| e.due).min()
    }

    fn resolved(&self) -> Arc<Resolved> {
        Arc::new(
            self.entries
                .iter()
                .filter_map(|(k, e)| Some((k.clone(), e.addrs.clone()?)))
                .collect(),
        )
    }
}

/// What the main thread tells the resolver thread.
enum Msg {
    /// A reload: follow this config's names, then hand it to the shards (with the addresses
    /// of its other hostnames).
    Config(Arc<Config>, Arc<Lookups>, Arc<crate::tls::Loaded>),
    Stop,
}

/// The resolver thread, as `Shards` holds it.
pub(super) struct Handle {
    tx: mpsc::Sender<Msg>,
}

impl Handle {
    /// Hands a reloaded config (and its hostnames' addresses) to the thread; false when the
    /// thread is gone.
    pub fn reload(
        &self,
        cfg: Arc<Config>,
        lookups: Arc<Lookups>,
        tls: Arc<crate::tls::Loaded>,
    ) -> bool {
        self.tx.send(Msg::Config(cfg, lookups, tls)).is_ok()
    }

    /// Asks the thread to exit (it does between lookups; nobody waits for it).
    pub fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

/// The first lookups, on the calling thread (before the shards start).
pub(super) fn initial(cfg: &Config) -> (Names, Arc<Resolved>) {
    let mut names = Names::new();
    names.retarget(cfg);
    names.refresh(cfg.resolver.as_ref());
    let resolved = names.resolved();
    (names, resolved)
}

/// Starts the resolver thread (it idles while the config has no `resolve` servers).
pub(super) fn spawn(cfg: Arc<Config>, names: Names, peers: Arc<Peers>) -> Option<Handle> {
    let (tx, rx) = mpsc::channel();
    let started = std::thread::Builder::new()
        .name("ringway-resolver".into())
        .spawn(move || run(cfg, names, rx, peers));
    match started {
        Ok(_) => Some(Handle { tx }),
        Err(e) => {
            error!("cannot start the DNS resolver thread: {e}");
            None
        }
    }
}

fn run(mut cfg: Arc<Config>, mut names: Names, rx: mpsc::Receiver<Msg>, peers: Arc<Peers>) {
    loop {
        let wait = names
            .next_due()
            .map_or(MAX_TTL, |d| d.saturating_duration_since(Instant::now()));
        match rx.recv_timeout(wait) {
            Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Ok(Msg::Config(new, lookups, tls)) => {
                cfg = new;
                names.retarget(&cfg);
                names.refresh(cfg.resolver.as_ref());
                let resolved = names.resolved();
                peers.broadcast(|| {
                    Control::Reload(
                        cfg.clone(),
                        Some(resolved.clone()),
                        lookups.clone(),
                        tls.clone(),
                    )
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if names.refresh(cfg.resolver.as_ref()) {
                    let resolved = names.resolved();
                    peers.broadcast(|| Control::Resolved(resolved.clone()));
                }
            }
        }
    }
}

/// The system resolver (getaddrinfo) for the hostnames route/ compiles: `server` lines without
/// `resolve` and `proxy_pass` targets. It blocks, so only the main thread uses it, once per
/// start or reload; the shards get the answers (`Lookups`) with the config. IPv4 first, as most
/// backends listen there.
pub struct SystemLookup<'a>(pub &'a mut Lookups);

impl HostLookup for SystemLookup<'_> {
    fn lookup(&mut self, host_port: &str) -> Result<SocketAddr, String> {
        if let Some(a) = self.0.get(host_port) {
            return Ok(*a);
        }
        let addrs: Vec<SocketAddr> = host_port
            .to_socket_addrs()
            .map_err(|e| format!("host not found in upstream \"{host_port}\": {e}"))?
            .collect();
        let found = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| format!("host not found in upstream \"{host_port}\""))?;
        self.0.insert(host_port.to_string(), found);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::ResourceRecord;
    use simple_dns::rdata::{A, AAAA, CNAME};

    fn reply(query: &[u8], rcode: RCODE, records: &[(u32, RData<'static>)]) -> Vec<u8> {
        let q = Packet::parse(query).unwrap();
        let mut p = Packet::new_reply(q.id());
        *p.rcode_mut() = rcode;
        p.questions = q.questions.clone();
        let name = q.questions[0].qname.clone();
        for (ttl, rd) in records {
            p.answers.push(ResourceRecord::new(
                name.clone(),
                CLASS::IN,
                *ttl,
                rd.clone(),
            ));
        }
        p.build_bytes_vec().unwrap()
    }

    #[test]
    fn query_asks_for_the_name_with_recursion() {
        let q = build_query(0x1234, "app.internal.", TYPE::AAAA).unwrap();
        let p = Packet::parse(&q).unwrap();
        assert_eq!(p.id(), 0x1234);
        assert!(p.has_flags(PacketFlag::RECURSION_DESIRED));
        assert!(!p.has_flags(PacketFlag::RESPONSE));
        assert_eq!(p.questions.len(), 1);
        assert_eq!(p.questions[0].qname.to_string(), "app.internal");
        assert_eq!(p.questions[0].qtype, TYPE::AAAA.into());
        assert_eq!(p.opt().map(|o| o.udp_packet_size), Some(EDNS_PAYLOAD));
        // A label longer than 63 bytes.
        assert!(build_query(1, &format!("{}.test", "a".repeat(64)), TYPE::A).is_err());
    }

    #[test]
    fn reply_gives_addresses_and_smallest_ttl() {
        let q = build_query(7, "app.test", TYPE::A).unwrap();
        let r = reply(
            &q,
            RCODE::NoError,
            &[
                (30, RData::CNAME(CNAME(Name::new_unchecked("x.test")))),
                (
                    30,
                    RData::A(A {
                        address: 0x7f00_0002,
                    }),
                ),
                (
                    5,
                    RData::A(A {
                        address: 0x7f00_0003,
                    }),
                ),
                (1, RData::AAAA(AAAA { address: 1 })),
            ],
        );
        let a = parse_reply(7, "app.test", TYPE::A, &r).unwrap().unwrap();
        assert_eq!(
            a.addrs,
            vec![IpAddr::from([127, 0, 0, 2]), IpAddr::from([127, 0, 0, 3])]
        );
        assert_eq!(a.ttl, Some(5));
        // Case-insensitive name, trailing dot.
        assert!(parse_reply(7, "APP.test.", TYPE::A, &r).unwrap().is_some());
    }

    #[test]
    fn replies_to_other_queries_are_skipped() {
        let q = build_query(7, "app.test", TYPE::A).unwrap();
        let r = reply(&q, RCODE::NoError, &[(30, RData::A(A { address: 1 }))]);
        assert_eq!(parse_reply(8, "app.test", TYPE::A, &r), Ok(None));
        assert_eq!(parse_reply(7, "other.test", TYPE::A, &r), Ok(None));
        assert_eq!(parse_reply(7, "app.test", TYPE::AAAA, &r), Ok(None));
        // The query itself is not a response.
        assert_eq!(parse_reply(7, "app.test", TYPE::A, &q), Ok(None));
    }

    #[test]
    fn nxdomain_is_empty_and_failures_are_errors() {
        let q = build_query(9, "gone.test", TYPE::A).unwrap();
        let nx = reply(&q, RCODE::NameError, &[]);
        let a = parse_reply(9, "gone.test", TYPE::A, &nx).unwrap().unwrap();
        assert!(a.addrs.is_empty());
        let fail = reply(&q, RCODE::ServerFailure, &[]);
        assert!(parse_reply(9, "gone.test", TYPE::A, &fail).is_err());
        let refused = reply(&q, RCODE::Refused, &[]);
        assert!(parse_reply(9, "gone.test", TYPE::A, &refused).is_err());
        let mut tc = reply(&q, RCODE::NoError, &[]);
        tc[2] |= 0x02; // TC
        assert!(parse_reply(9, "gone.test", TYPE::A, &tc).is_err());
        assert!(parse_reply(9, "gone.test", TYPE::A, &[1, 2, 3]).is_err());
    }

    /// A one-shot DNS server on loopback answering with `addrs` for A queries.
    fn serve_once(addrs: Vec<u32>) -> SocketAddr {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let at = sock.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (n, from) = sock.recv_from(&mut buf).unwrap();
            let recs: Vec<(u32, RData<'static>)> = addrs
                .iter()
                .map(|&a| (60, RData::A(A { address: a })))
                .collect();
            // A stray datagram first (wrong id): the client must keep waiting.
            let q = Packet::parse(&buf[..n]).unwrap();
            let mut stray = Packet::new_reply(q.id().wrapping_add(1));
            stray.questions = q.questions.clone();
            sock.send_to(&stray.build_bytes_vec().unwrap(), from)
                .unwrap();
            sock.send_to(&reply(&buf[..n], RCODE::NoError, &recs), from)
                .unwrap();
        });
        at
    }

    #[test]
    fn lookup_over_udp() {
        let server = serve_once(vec![0x7f00_0002]);
        let r = Resolver {
            addrs: vec![server],
            valid: None,
            ipv4: true,
            ipv6: false,
            timeout: Duration::from_secs(2),
        };
        let a = lookup(&r, "app.test").unwrap();
        assert_eq!(a.addrs, vec![IpAddr::from([127, 0, 0, 2])]);
        assert_eq!(a.ttl, Some(60));
        // An IP literal needs no query.
        assert_eq!(
            lookup(&r, "[::1]").unwrap().addrs,
            vec![IpAddr::from(Ipv6Addr::LOCALHOST)]
        );
    }

    #[test]
    fn lookup_times_out_when_nobody_answers() {
        // A bound socket that never answers.
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let r = Resolver {
            addrs: vec![silent.local_addr().unwrap()],
            valid: None,
            ipv4: true,
            ipv6: false,
            timeout: Duration::from_millis(100),
        };
        let t = Instant::now();
        let e = lookup(&r, "app.test").unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
