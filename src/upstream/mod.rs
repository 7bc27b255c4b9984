//! Upstream groups as one shard sees them: the balancer that picks a server and the per-server
//! pools of idle keep-alive connections. Shard-local (`Rc`/`RefCell`): never shared across cores.

pub mod balancer;
mod pool;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

pub use balancer::SmoothWeighted;
pub use pool::{Pool, Pooled};

use crate::route::UpstreamSpec;

/// One upstream server inside a group.
pub struct Server {
    pub addr: SocketAddr,
    pub pool: Pool,
    /// Connections dialled to this server by this shard (for tests and metrics).
    pub dialled: Cell<u64>,
}

pub struct Group {
    pub name: String,
    pub servers: Vec<Server>,
    balancer: RefCell<SmoothWeighted>,
    pub keepalive_requests: u64,
}

/// Why an upstream step failed, and what the client gets for it.
#[derive(Debug)]
pub enum Error {
    Connect(std::io::Error),
    ConnectTimeout,
    NoServer,
}

impl Error {
    pub fn status(&self) -> u16 {
        match self {
            Error::Connect(_) | Error::NoServer => 502,
            Error::ConnectTimeout => 504,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Connect(e) => write!(f, "connect failed: {e}"),
            Error::ConnectTimeout => f.write_str("connect timed out"),
            Error::NoServer => f.write_str("no live upstream server"),
        }
    }
}

impl Group {
    pub fn new(spec: &UpstreamSpec) -> Group {
        let servers = spec
            .servers
            .iter()
            .map(|s| Server {
                addr: s.addr,
                pool: Pool::new(spec.keepalive, spec.keepalive_timeout),
                dialled: Cell::new(0),
            })
            .collect();
        Group {
            name: spec.name.clone(),
            servers,
            balancer: RefCell::new(SmoothWeighted::new(spec)),
            keepalive_requests: spec.keepalive_requests,
        }
    }

    /// Picks a server index (smooth weighted round-robin over live primaries, then backups).
    pub fn pick(&self) -> Option<usize> {
        self.balancer.borrow_mut().pick()
    }

    /// An idle pooled connection to server `i` (unless `fresh`), or a newly dialled one.
    pub async fn connect(&self, i: usize, timeout: Duration, fresh: bool) -> Result<Pooled, Error> {
        let server = &self.servers[i];
        if !fresh && let Some(c) = server.pool.take() {
            return Ok(c);
        }
        let stream =
            match monoio::time::timeout(timeout, TcpStream::connect_addr(server.addr)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(Error::Connect(e)),
                Err(_) => return Err(Error::ConnectTimeout),
            };
        // Request heads are written whole; Nagle would only delay them.
        let _ = stream.set_nodelay(true);
        server.dialled.set(server.dialled.get() + 1);
        Ok(Pooled {
            stream,
            reused: false,
            requests: 0,
            idle_since: Instant::now(),
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
