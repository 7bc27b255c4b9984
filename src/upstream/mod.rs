//! Upstream groups as one shard sees them: the balancer that picks a server and the per-server
//! pools of idle keep-alive connections. Shard-local (`Rc`/`RefCell`): never shared across cores.

pub mod balancer;
pub mod conn;
mod error;
pub mod exchange;
mod health;
mod pool;
mod queue;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

pub use balancer::{Balancer, Pick, Tried};
pub use error::Error;
pub use exchange::{Answer, Failed, InFlight, Requester, exchange};
pub use health::Health;
pub use pool::{Pool, Pooled};
pub use queue::Queue;

use crate::route::UpstreamSpec;
use crate::tls;
use conn::UpStream;

/// One upstream server inside a group.
pub struct Server {
    pub addr: SocketAddr,
    pub pool: Pool,
    pub health: Health,
    /// Connections dialled to this server by this shard (for tests and metrics).
    pub dialled: Cell<u64>,
    /// `server … down` / `backup` in the config (for metrics and the status page; the
    /// balancer has its own copy).
    pub marked_down: bool,
    pub backup: bool,
    /// Its counters (attached by the shard's metrics registry; kept by group name + address).
    pub stats:
        crate::observe::metrics::counters::Slot<crate::observe::metrics::counters::UpstreamStats>,
}

pub struct Group {
    pub name: String,
    pub servers: Vec<Server>,
    balancer: RefCell<Balancer>,
    method: crate::config::BalanceMethod,
    hash_key: Option<crate::template::Template>,
    health_check: Option<crate::config::HealthCheck>,
    /// `queue N timeout=T` for requests that find every server at `max_conns`.
    pub queue: Option<Queue>,
    pub keepalive_requests: u64,
    /// Several servers: passive health may take one out (nginx never marks a lone server down).
    many: bool,
    /// `proxy_pass https://`: how connections to its servers speak TLS (Err: the settings could
    /// not be made, every connection fails with that reason).
    pub tls: Option<Result<GroupTls, String>>,
}

/// A TLS group's client settings on this shard and the name its servers' certificates carry.
#[derive(Clone)]
pub struct GroupTls {
    pub config: std::sync::Arc<rustls::ClientConfig>,
    pub name: rustls::pki_types::ServerName<'static>,
}

impl Group {
    pub fn new(spec: &UpstreamSpec) -> Group {
        Group::with_tls(spec, None)
    }

    pub fn with_tls(spec: &UpstreamSpec, tls: Option<Result<GroupTls, String>>) -> Group {
        let servers = spec
            .servers
            .iter()
            .map(|s| Server {
                addr: s.addr,
                pool: Pool::new(spec.keepalive, spec.keepalive_timeout),
                health: Health::new(s.max_fails, s.fail_timeout, s.max_conns),
                dialled: Cell::new(0),
                marked_down: s.down,
                backup: s.backup,
                stats: Default::default(),
            })
            .collect();
        Group {
            name: spec.name.clone(),
            servers,
            balancer: RefCell::new(Balancer::new(spec, spec.method)),
            method: spec.method,
            hash_key: spec.hash_key.clone(),
            health_check: spec.health_check.clone(),
            queue: spec.queue.map(|(n, t)| Queue::new(n, t)),
            keepalive_requests: spec.keepalive_requests,
            many: spec.servers.len() > 1,
            tls,
        }
    }

    pub fn method(&self) -> crate::config::BalanceMethod {
        self.method
    }

    pub fn hash_key(&self) -> Option<&crate::template::Template> {
        self.hash_key.as_ref()
    }

    pub fn health_check(&self) -> Option<&crate::config::HealthCheck> {
        self.health_check.as_ref()
    }

    /// Picks a server not yet tried for this request among those up and under `max_conns`.
    /// `key`: the client address bytes (ip_hash) or the rendered hash key.
    pub fn pick(&self, key: &[u8], tried: &Tried) -> Option<usize> {
        let now = Instant::now();
        let usable = |i: usize| self.servers[i].health.usable(now);
        let active = |i: usize| self.servers[i].health.active();
        self.balancer.borrow_mut().pick(&Pick {
            key,
            tried,
            usable: &usable,
            active: &active,
        })
    }

    /// Some untried server is up but at its `max_conns`: a queued request may get it soon.
    pub fn only_full(&self, tried: &Tried) -> bool {
        let now = Instant::now();
        self.servers
            .iter()
            .enumerate()
            .any(|(i, s)| !tried.contains(i) && s.health.up(now) && s.health.full())
    }

    /// Server `i`'s counters (None only before the shard's registry attached them).
    pub fn stats(&self, i: usize) -> Option<&crate::observe::metrics::counters::UpstreamStats> {
        self.servers[i].stats.get().map(|s| &**s)
    }

    /// Counts a failed attempt on server `i` (passive health).
    pub fn failed(&self, i: usize) {
        let s = &self.servers[i];
        if self.many && s.health.failed(Instant::now()) {
            tracing::warn!(upstream = %self.name, server = %s.addr, "server marked down after max_fails failures");
        }
    }

    /// A request to server `i` ended (its in-flight count dropped): queued requests look again.
    pub fn released(&self, i: usize) {
        self.servers[i].health.end();
        if let Some(q) = &self.queue {
            q.released();
        }
    }

    pub fn succeeded(&self, i: usize) {
        self.servers[i].health.succeeded();
    }

    /// An idle pooled connection to server `i` (unless `fresh`), or a newly dialled one.
    pub async fn connect(&self, i: usize, timeout: Duration, fresh: bool) -> Result<Pooled, Error> {
        let server = &self.servers[i];
        if !fresh && let Some(c) = server.pool.take() {
            return Ok(c);
        }
        let stream =
            match crate::net::deadline::within(timeout, TcpStream::connect_addr(server.addr)).await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(Error::Connect(e)),
                Err(_) => return Err(Error::ConnectTimeout),
            };
        // Request heads are written whole; Nagle would only delay them.
        let _ = stream.set_nodelay(true);
        server.dialled.set(server.dialled.get() + 1);
        let stream = match &self.tls {
            None => UpStream::Plain(stream),
            Some(Err(why)) => return Err(Error::Tls(why.clone())),
            Some(Ok(t)) => {
                let shake = tls::upstream::connect(stream, t.config.clone(), t.name.clone());
                match crate::net::deadline::within(timeout, shake).await {
                    Ok(Ok(s)) => UpStream::Tls(Box::new(s)),
                    Ok(Err(e)) => return Err(Error::Tls(e.to_string())),
                    Err(_) => return Err(Error::ConnectTimeout),
                }
            }
        };
        Ok(Pooled {
            stream,
            reused: false,
            requests: 0,
            idle_since: Instant::now(),
            spans: Vec::new(),
        })
    }

    /// Returns a connection whose last exchange ended cleanly.
    pub fn release(&self, i: usize, mut conn: Pooled) {
        conn.requests += 1;
        if conn.requests >= self.keepalive_requests {
            return;
        }
        self.servers[i].pool.put(conn);
    }
}
