//! What a shard hands to its connections: the current config generation, the buffer and pipe
//! pools, and the drain signal. All shard-local (`Rc`, `Cell`): no locks on the request path.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Instant;

use super::timers::Timers;
use crate::access::{Share, Zones};
use crate::net::buffers::BufPool;
use crate::net::deadline::Slots;
use crate::net::splice::PipePool;
use crate::route::{self, Location, VirtualHosts};
use crate::tls::sessions::{MeshEnd, ShardSessions};
use crate::tls::tickets::TicketKeys;
use crate::tls::{Loaded, ShardTls};
use crate::upstream::{Group, GroupTls};

pub struct ListenerRt {
    pub addr: SocketAddr,
    pub backlog: i32,
    /// TCP_DEFER_ACCEPT: a new connection comes with its first bytes (read at once).
    pub deferred: bool,
    /// `listen … ssl`.
    pub ssl: bool,
    /// HTTP/2 is spoken here: `listen … http2`, or the default server's `http2 on` (h2c with
    /// prior knowledge on a plain address; TLS addresses choose by ALPN, per server).
    pub http2: bool,
    pub hosts: VirtualHosts,
    /// Settings in force before a request is routed (the default server's): header limits and
    /// timeouts for reading the head.
    pub defaults: Rc<Location>,
}

/// One compiled config generation. Reload swaps the shard's `Rc<Generation>`; requests already
/// running keep the one they started with.
pub struct Generation {
    pub listeners: Vec<ListenerRt>,
    pub upstreams: Vec<Group>,
    /// This shard's `limit_req` / `limit_conn` zones.
    pub zones: Zones,
    /// This shard's writers for the generation's access log files.
    pub logs: crate::observe::log::Files,
}

impl Generation {
    /// `prev`: the generation this one replaces, whose zone tables carry over.
    pub fn new(
        compiled: route::Compiled,
        share: Share,
        prev: Option<&Generation>,
        tls: &Loaded,
    ) -> Generation {
        let zones = Zones::new(&compiled.limit_zones, share, prev.map(|p| &p.zones));
        let logs = crate::observe::log::files_for(&compiled.log_files);
        let upstreams = compiled
            .upstreams
            .iter()
            .map(|spec| Group::with_tls(spec, group_tls(spec, tls)))
            .collect();
        let listeners = compiled
            .listeners
            .into_iter()
            .filter_map(|l| {
                let defaults = l.hosts.default_server()?.locations.fallback()?.clone();
                Some(ListenerRt {
                    addr: l.addr,
                    backlog: l.backlog,
                    deferred: l.deferred,
                    ssl: l.ssl,
                    http2: l.http2 || defaults.http2.on,
                    hosts: l.hosts,
                    defaults,
                })
            })
            .collect();
        Generation {
            listeners,
            upstreams,
            zones,
            logs,
        }
    }

    pub fn listener(&self, addr: SocketAddr) -> Option<&ListenerRt> {
        self.listeners.iter().find(|l| l.addr == addr)
    }
}

/// A `proxy_pass https://` group's client settings on this shard.
fn group_tls(spec: &route::UpstreamSpec, tls: &Loaded) -> Option<Result<GroupTls, String>> {
    let (settings, name) = spec.tls.as_ref()?;
    let made = (|| {
        let config = tls
            .client_for(settings)
            .ok_or_else(|| "its proxy_ssl settings were not loaded".to_string())?;
        let name = crate::tls::upstream::server_name(name)?;
        Ok(GroupTls { config, name })
    })();
    Some(made)
}

pub struct ShardCtx {
    pub id: usize,
    pub generation: RefCell<Rc<Generation>>,
    pub bufs: BufPool,
    pub pipes: PipePool,
    pub drain: Drain,
    /// Idle connections that gave up their tasks (see `park`).
    pub parking: super::park::Parking,
    /// Kept-alive connections waiting in a direct read (each holds a read buffer).
    pub reading: Cell<usize>,
    /// Heap blocks HTTP/2 streams run their request futures in (`scratch`), reused across
    /// streams and connections: spawning each stream's whole future cost a copy and an
    /// allocation of it per stream.
    pub stream_blocks: RefCell<Vec<super::scratch::Scratch>>,
    /// Precise short waits (`limit_req` delays).
    pub timers: Timers,
    /// Open downstream connections (graceful stop waits for zero).
    pub connections: Cell<usize>,
    /// `worker_connections`: most open client connections on this shard (0 = no cap).
    pub conn_cap: Cell<usize>,
    /// `max_connections`: most open client connections in the process (0 = no cap).
    pub total_cap: Cell<usize>,
    /// Known-length body remainders at least this long are spliced, shorter ones copied.
    pub splice_min: u64,
    /// The current time as an HTTP date, refreshed by the shard's sweeper (RFC 9110 §6.6.1:
    /// a proxy adds Date to responses that lack one).
    pub date: RefCell<[u8; 29]>,
    /// Credentials `auth_basic` verified recently (bcrypt is too slow to redo per request).
    pub auth_cache: crate::access::auth_basic::Cache,
    /// Memory copies of small cache entries this shard served (`proxy_cache`).
    pub(crate) cache_hot: super::cache::hot::Hot,
    /// TLS: the servers' configs on this shard, its session store and the ticket keys in force.
    pub tls: RefCell<Option<Rc<ShardTls>>>,
    tls_state: RefCell<Option<TlsState>>,
    /// This shard's counters (`observe::metrics`).
    pub metrics: crate::observe::metrics::ShardMetrics,
}

/// What the shard's TLS configs are rebuilt from.
struct TlsState {
    loaded: Arc<Loaded>,
    sessions: Arc<ShardSessions>,
    keys: Arc<TicketKeys>,
}

impl ShardCtx {
    pub fn new(id: usize, generation: Generation) -> ShardCtx {
        let metrics = crate::observe::metrics::ShardMetrics::default();
        metrics.registry.adopt(&generation);
        ShardCtx {
            id,
            generation: RefCell::new(Rc::new(generation)),
            bufs: BufPool::default(),
            pipes: PipePool::default(),
            drain: Drain::default(),
            parking: Default::default(),
            reading: Cell::new(0),
            stream_blocks: RefCell::new(Vec::new()),
            timers: Timers::default(),
            connections: Cell::new(0),
            conn_cap: Cell::new(0),
            total_cap: Cell::new(0),
            splice_min: super::relay::splice_min_from_env(),
            date: RefCell::new(http_date()),
            auth_cache: Default::default(),
            cache_hot: Default::default(),
            tls: RefCell::new(None),
            tls_state: RefCell::new(None),
            metrics,
        }
    }

    /// Sets up TLS at start: the shard's end of the session mesh and the first ticket keys.
    pub fn start_tls(&self, loaded: Arc<Loaded>, mesh: MeshEnd, keys: Arc<TicketKeys>) {
        let sessions = Arc::new(ShardSessions::new(mesh, 0));
        *self.tls_state.borrow_mut() = Some(TlsState {
            loaded,
            sessions,
            keys,
        });
        self.rebuild_tls();
    }

    /// A reload's certificates and settings.
    pub fn set_tls(&self, loaded: Arc<Loaded>) {
        if let Some(st) = self.tls_state.borrow_mut().as_mut() {
            st.loaded = loaded;
        }
        self.rebuild_tls();
    }

    /// Rotated ticket keys.
    pub fn set_ticket_keys(&self, keys: Arc<TicketKeys>) {
        if let Some(st) = self.tls_state.borrow_mut().as_mut() {
            st.keys = keys;
        }
        self.rebuild_tls();
    }

    fn rebuild_tls(&self) {
        let built = self
            .tls_state
            .borrow()
            .as_ref()
            .map(|st| Rc::new(ShardTls::new(st.loaded.clone(), &st.sessions, &st.keys)));
        *self.tls.borrow_mut() = built;
    }

    /// Called by the sweeper a few times a second.
    pub fn refresh_date(&self) {
        *self.date.borrow_mut() = http_date();
    }

    pub fn current(&self) -> Rc<Generation> {
        self.generation.borrow().clone()
    }

    /// Switches to a newly compiled config (reload, new DNS answers); zones carry over.
    pub fn install(&self, compiled: route::Compiled) {
        let old = self.current();
        let loaded = self.tls_state.borrow().as_ref().map(|st| st.loaded.clone());
        let loaded = loaded.unwrap_or_default();
        let next = Generation::new(compiled, old.zones.share(), Some(&old), &loaded);
        self.metrics.registry.adopt(&next);
        *self.generation.borrow_mut() = Rc::new(next);
    }

    /// Counts a newly accepted client connection against the caps; Err names the cap that is
    /// full (the caller closes the connection at once). The process-wide count is one atomic
    /// add per accept and one subtract per close, never touched per request.
    pub fn admit(self: &Rc<Self>) -> Result<ConnSlot, Refused> {
        let mine = self.connections.get();
        let cap = self.conn_cap.get();
        if cap > 0 && mine >= cap {
            return Err(Refused::Shard(cap));
        }
        let total = self.total_cap.get();
        let before = OPEN_CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        if total > 0 && before >= total {
            OPEN_CONNECTIONS.fetch_sub(1, Ordering::Relaxed);
            return Err(Refused::Process(total));
        }
        self.connections.set(mine + 1);
        Ok(ConnSlot(self.clone(), None))
    }
}

/// Client connections open in the whole process, for `max_connections`.
static OPEN_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

/// Which cap refused a connection, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Shard(usize),
    Process(usize),
}

/// One admitted client connection; dropping it gives its place back (and ends its count in
/// its listener's active connections, when counted there).
pub struct ConnSlot(Rc<ShardCtx>, Option<crate::observe::metrics::Active>);

impl ConnSlot {
    pub fn ctx(&self) -> &Rc<ShardCtx> {
        &self.0
    }

    /// Counts the connection in its listener's figures while it is open.
    pub fn count_on(&mut self, active: crate::observe::metrics::Active) {
        self.1 = Some(active);
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.connections.set(self.0.connections.get() - 1);
        OPEN_CONNECTIONS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A shard-local signal ("stop accepting, finish up") that idle connections await, together
/// with their idle deadlines. A per-connection timer would cost ~640 bytes per idle connection
/// (monoio's timer entry); here a waiter is one slot, and one sweeper task per shard fires the
/// expired ones (`expire`, every `SWEEP`), so idle deadlines are coarse by up to that much.
#[derive(Default)]
pub struct Drain {
    set: Cell<bool>,
    slots: Slots,
}

pub use crate::net::deadline::SWEEP;

/// Why an idle wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    Drain,
    Deadline,
}

impl Drain {
    pub fn is_set(&self) -> bool {
        self.set.get()
    }

    pub fn trigger(&self) {
        self.set.set(true);
        self.slots.wake_all();
    }

    /// Clears the signal: a shard paused for a binary upgrade (SIGWINCH) that is rolled back
    /// (SIGHUP) serves keep-alive connections again. Waiters already woken have ended.
    pub fn reset(&self) {
        self.set.set(false);
    }

    /// Wakes the waiters whose deadline has passed.
    pub fn expire(&self, now: Instant) {
        self.slots.expire(now);
    }

    /// Resolves once `trigger` has been called.
    pub async fn wait(&self) {
        self.wait_inner(None).await;
    }

    /// Resolves on `trigger` or once `deadline` has passed (checked every `SWEEP`).
    pub async fn wait_until(&self, deadline: Instant) -> Woken {
        self.wait_inner(Some(deadline)).await
    }

    async fn wait_inner(&self, deadline: Option<Instant>) -> Woken {
        let guard = SlotGuard {
            slots: &self.slots,
            slot: Cell::new(None),
        };
        poll_fn(|cx| {
            if self.set.get() {
                return Poll::Ready(Woken::Drain);
            }
            match guard.slot.get() {
                None => guard.slot.set(Some(self.slots.take(deadline, cx.waker()))),
                Some(i) if self.slots.expired(i, cx.waker()) => {
                    return Poll::Ready(Woken::Deadline);
                }
                Some(_) => {}
            }
            Poll::Pending
        })
        .await
    }
}

struct SlotGuard<'a> {
    slots: &'a Slots,
    slot: Cell<Option<usize>>,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.slot.take() {
            self.slots.give_back(i);
        }
    }
}

fn http_date() -> [u8; 29] {
    let mut out = [b' '; 29];
    let s = httpdate::fmt_http_date(std::time::SystemTime::now());
    let n = s.len().min(29);
    out[..n].copy_from_slice(&s.as_bytes()[..n]);
    out
}
