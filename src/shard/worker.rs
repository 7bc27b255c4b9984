//! One shard's thread: runtime, listeners, accept loops, control messages, drain.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, Canceller};
use monoio::net::TcpListener;
use tracing::{error, info, warn};

use super::listener;
use super::{Control, Peers, health};
use crate::access::Share;
use crate::config::{Config, UringSetup};
use crate::net::deadline;
use crate::proxy::{Drain, Generation, Refused, SWEEP, ShardCtx, park, serve, serve_tls};
use crate::route;
use crate::route::{Lookups, Resolved};

/// The DNS answers a shard compiles with, all found off the shard: `resolve` servers' (by the
/// resolver thread) and the other hostnames' (by the main thread).
pub struct Dns {
    pub resolved: Arc<Resolved>,
    pub lookups: Arc<Lookups>,
}

/// What a shard's TLS starts with: the servers' sites, its end of the session mesh, the first
/// ticket keys.
pub struct TlsStart {
    pub loaded: Arc<crate::tls::Loaded>,
    pub mesh: crate::tls::sessions::MeshEnd,
    pub keys: Arc<crate::tls::tickets::TicketKeys>,
}

#[allow(clippy::too_many_arguments)]
pub fn run(
    id: usize,
    cfg: Arc<Config>,
    dns: Dns,
    tls: TlsStart,
    rx: mpsc::Receiver<Control>,
    wake: StdUnixStream,
    ready: mpsc::Sender<Result<(), String>>,
    peers: Arc<Peers>,
) {
    let _watch = super::Watch(id);
    let mut rt = match build_runtime(id, cfg.uring) {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!("shard {id}: cannot build runtime: {e}")));
            return;
        }
    };
    rt.block_on(shard_main(id, cfg, dns, tls, rx, wake, ready, peers));
}

type Rt = monoio::FusionRuntime<
    monoio::time::TimeDriver<monoio::IoUringDriver>,
    monoio::time::TimeDriver<monoio::LegacyDriver>,
>;

/// io_uring when the kernel allows it, else epoll (with a warning). `RINGWAY_DRIVER=legacy`
/// forces epoll (for comparison and for hosts that forbid io_uring).
fn build_runtime(id: usize, setup: UringSetup) -> std::io::Result<Rt> {
    let legacy = || {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .map(Rt::from)
    };
    if std::env::var("RINGWAY_DRIVER").as_deref() == Ok("legacy") {
        return legacy();
    }
    if !monoio::utils::detect_uring() {
        if id == 0 {
            warn!(
                "io_uring is unavailable on this kernel or sandbox: falling back to the epoll driver"
            );
        }
        return legacy();
    }
    let uring = |b: io_uring::Builder| {
        monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .with_entries(setup.entries)
            .uring_builder(b)
            .enable_timer()
            .build()
            .map(Rt::from)
    };
    match uring(uring_setup(setup, true)) {
        Ok(rt) => Ok(rt),
        Err(e) => {
            if id == 0 {
                warn!("io_uring ring with setup flags refused ({e}); trying a plain ring");
            }
            // The operator's choices (size, SQPOLL) stay; only the optional flags go.
            uring(uring_setup(setup, false)).or_else(|e| {
                // E.g. ENOMEM where ring memory counts against RLIMIT_MEMLOCK (kernels < 5.12),
                // or SQPOLL refused to an unprivileged user on kernels < 5.11.
                if id == 0 {
                    warn!("io_uring ring refused ({e}): falling back to the epoll driver");
                }
                legacy()
            })
        }
    }
}

/// io_uring setup flags. One thread submits to each ring, so the kernel may skip cross-thread
/// care (SINGLE_ISSUER) and run completion work when the shard next enters the kernel instead of
/// interrupting it (COOP_TASKRUN): measured 14.4 vs 17.9 µs of CPU per small proxied request.
/// `RINGWAY_URING=plain|coop|defer` picks a variant for measuring (defer: DEFER_TASKRUN, which
/// the kernel refuses with SQPOLL). `optional` false leaves out all but the config's choices.
fn uring_setup(setup: UringSetup, optional: bool) -> io_uring::Builder {
    let mut b = io_uring::IoUring::builder();
    if setup.sqpoll {
        // Whole milliseconds, at least 1 (0 would mean the kernel's default of one second).
        let ms = setup.sqpoll_idle.as_millis().clamp(1, u128::from(u32::MAX)) as u32;
        b.setup_sqpoll(ms);
    }
    if !optional {
        return b;
    }
    match std::env::var("RINGWAY_URING").as_deref() {
        Ok("plain") => {}
        Ok("defer") => {
            b.setup_single_issuer().setup_defer_taskrun();
        }
        // The kernel refuses COOP_TASKRUN with SQPOLL (EINVAL): completion work is the polling
        // thread's there anyway.
        _ if setup.sqpoll => {
            b.setup_single_issuer();
        }
        _ => {
            b.setup_coop_taskrun().setup_single_issuer();
        }
    }
    b
}

/// An address's accept loops and the signal that stops them (a reload that drops its address).
struct Accepting {
    stop: Rc<Drain>,
    /// Shared with the accept loops: a reload applies new listen options to them. One socket,
    /// or more after a binary upgrade from a process with more shards (see `inherit`).
    listeners: Vec<Rc<TcpListener>>,
    backlog: i32,
    deferred: bool,
}

#[allow(clippy::too_many_arguments)]
async fn shard_main(
    id: usize,
    mut cfg: Arc<Config>,
    dns: Dns,
    tls: TlsStart,
    rx: mpsc::Receiver<Control>,
    wake: StdUnixStream,
    ready: mpsc::Sender<Result<(), String>>,
    peers: Arc<Peers>,
) {
    crate::proxy::client::set_shard(id);
    let mut resolved = dns.resolved;
    // The other hostnames' addresses as the main thread found them for this (re)load:
    // recompiling for new DNS answers reuses them.
    let mut lookups: Lookups = (*dns.lookups).clone();
    let compiled = match route::compile_with(&cfg, &resolved, &mut lookups) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    let share = Share {
        index: id,
        of: peers.0.len(),
    };
    let generation = Generation::new(compiled, share, None, &tls.loaded);
    let ctx = Rc::new(ShardCtx::new(id, generation));
    ctx.start_tls(tls.loaded, tls.mesh, tls.keys);
    // A scrape received here asks every shard through the control channels.
    let scrape_peers = peers.clone();
    ctx.metrics.set_asker(Box::new(move |reply| {
        scrape_peers.broadcast(|| Control::Scrape(reply.clone()));
        scrape_peers.0.len()
    }));
    set_caps(&ctx, &cfg);
    let accepting: Rc<RefCell<HashMap<SocketAddr, Accepting>>> = Rc::default();
    let shards = peers.0.len();
    if let Err(e) = open_listeners(&ctx, &accepting, shards) {
        let _ = ready.send(Err(e));
        return;
    }
    let _ = ready.send(Ok(()));
    // Set once the shard stops for good (a SIGWINCH pause drains but keeps sweeping).
    let stopping = Rc::new(std::cell::Cell::new(false));
    monoio::spawn(sweep(ctx.clone(), stopping.clone()));
    monoio::spawn(park::run(ctx.clone()));
    let timers = ctx.clone();
    monoio::spawn(async move { timers.timers.drive().await });
    // Shard 0 runs the active health checks for everyone.
    if id == 0 {
        health::start(&ctx, &peers);
    }
    let mut shutdown_timeout = cfg.shutdown_timeout;

    let _ = wake.set_nonblocking(true);
    let mut wake = match monoio::net::UnixStream::from_std(wake) {
        Ok(w) => w,
        Err(e) => {
            error!("shard {id}: control channel: {e}");
            return;
        }
    };
    let mut buf = vec![0u8; 64];
    let mut fast = false;
    'control: loop {
        let (res, b) = wake.read(buf).await;
        buf = b;
        if matches!(res, Ok(0) | Err(_)) {
            // The main thread is gone: stop as if told to.
            break;
        }
        while let Ok(msg) = rx.try_recv() {
            match msg {
                Control::Stop { fast: f } => {
                    fast = f;
                    break 'control;
                }
                Control::Health { upstream, addr, up } => health::apply(&ctx, &upstream, addr, up),
                // `cfg` is kept for this: the running config with the new addresses.
                Control::Resolved(r) => match route::compile_with(&cfg, &r, &mut lookups) {
                    Ok(c) => {
                        resolved = r;
                        ctx.install(c);
                        if id == 0 {
                            health::start(&ctx, &peers);
                        }
                    }
                    Err(e) => error!("shard {id}: new DNS answers rejected: {e}"),
                },
                Control::TicketKeys(keys) => ctx.set_ticket_keys(keys),
                Control::Listeners(reply) => {
                    let _ = reply.send((id, duplicate_listeners(&accepting.borrow())));
                }
                Control::Pause => pause(&ctx, &accepting.borrow()),
                Control::Resume => {
                    resume(&ctx, &mut accepting.borrow_mut());
                    if id == 0 {
                        health::start(&ctx, &peers);
                    }
                }
                Control::Scrape(reply) => {
                    let _ = reply.send(crate::observe::metrics::snapshot::take(&ctx));
                }
                Control::ReopenLogs(fresh) => crate::observe::log::reopen(&fresh),
                Control::Reload(new, r, fresh, tls) => {
                    let mut fresh: Lookups = (*fresh).clone();
                    match route::compile_with(&new, r.as_ref().unwrap_or(&resolved), &mut fresh) {
                        Ok(c) => {
                            // TLS first: the new groups take their client settings from it.
                            ctx.set_tls(tls);
                            ctx.install(c);
                            cfg = new;
                            lookups = fresh;
                            if let Some(r) = r {
                                resolved = r;
                            }
                            shutdown_timeout = cfg.shutdown_timeout;
                            set_caps(&ctx, &cfg);
                            if let Err(e) = open_listeners(&ctx, &accepting, shards) {
                                error!("shard {id}: reload: {e}");
                            }
                            if id == 0 {
                                health::start(&ctx, &peers);
                                crate::observe::metrics::process::reloaded(true);
                                info!("configuration reloaded");
                            }
                        }
                        Err(e) => {
                            if id == 0 {
                                crate::observe::metrics::process::reloaded(false);
                            }
                            error!("shard {id}: reload rejected, old configuration stays: {e}")
                        }
                    }
                }
            }
        }
    }
    stopping.set(true);
    drain(&ctx, &accepting, (!fast).then_some(shutdown_timeout), &rx).await;
    // The access log lines buffered here are written before the shard ends.
    crate::observe::log::flush_all().await;
}

/// A duplicate of each listening socket (close-on-exec; the upgrade clears it in the child).
fn duplicate_listeners(accepting: &HashMap<SocketAddr, Accepting>) -> Vec<OwnedFd> {
    let mut out = Vec::new();
    for (addr, a) in accepting {
        for l in &a.listeners {
            // SAFETY: the listener is open while `accepting` holds it; the duplicate is owned.
            match unsafe { BorrowedFd::borrow_raw(l.as_raw_fd()) }.try_clone_to_owned() {
                Ok(fd) => out.push(fd),
                Err(e) => warn!("binary upgrade: cannot duplicate the socket of {addr}: {e}"),
            }
        }
    }
    out
}

/// SIGWINCH during an upgrade: accept loops end and connections drain (idle ones close, busy
/// ones after their response), but the sockets stay open.
fn pause(ctx: &ShardCtx, accepting: &HashMap<SocketAddr, Accepting>) {
    ctx.drain.trigger();
    for a in accepting.values() {
        a.stop.trigger();
    }
}

/// Undoes `pause`: keep-alive again and new accept loops on the same sockets.
fn resume(ctx: &Rc<ShardCtx>, accepting: &mut HashMap<SocketAddr, Accepting>) {
    if !ctx.drain.is_set() {
        return;
    }
    ctx.drain.reset();
    for (addr, a) in accepting.iter_mut() {
        a.stop = Rc::new(Drain::default());
        for l in &a.listeners {
            monoio::spawn(accept_loop(ctx.clone(), l.clone(), *addr, a.stop.clone()));
        }
    }
    // The parker ends on a drain; start it again unless it has not yet seen the pause.
    if !ctx.parking.is_open() {
        monoio::spawn(park::run(ctx.clone()));
    }
}

/// Opens listeners for addresses new in the current generation and stops those it dropped.
fn open_listeners(
    ctx: &Rc<ShardCtx>,
    accepting: &Rc<RefCell<HashMap<SocketAddr, Accepting>>>,
    shards: usize,
) -> Result<(), String> {
    let generation = ctx.current();
    let mut acc = accepting.borrow_mut();
    acc.retain(|addr, a| {
        let keep = generation.listener(*addr).is_some();
        if !keep {
            a.stop.trigger();
        }
        keep
    });
    for l in &generation.listeners {
        if let Some(a) = acc.get_mut(&l.addr) {
            if (a.backlog, a.deferred) != (l.backlog, l.deferred) {
                // The socket keeps serving with its old options if this fails.
                let set = a
                    .listeners
                    .iter()
                    .try_for_each(|s| listener::reconfigure(s.as_raw_fd(), l.backlog, l.deferred));
                match set {
                    Ok(()) => (a.backlog, a.deferred) = (l.backlog, l.deferred),
                    Err(e) => warn!("listen options of {}: {e}", l.addr),
                }
            }
            continue;
        }
        let sockets = listener::open(l.addr, l.backlog, l.deferred, ctx.id, shards)?;
        let stop = Rc::new(Drain::default());
        let mut listeners = Vec::with_capacity(sockets.len());
        for std in sockets {
            let listener = Rc::new(
                TcpListener::from_std(std).map_err(|e| format!("listener {}: {e}", l.addr))?,
            );
            monoio::spawn(accept_loop(
                ctx.clone(),
                listener.clone(),
                l.addr,
                stop.clone(),
            ));
            listeners.push(listener);
        }
        acc.insert(
            l.addr,
            Accepting {
                stop,
                listeners,
                backlog: l.backlog,
                deferred: l.deferred,
            },
        );
    }
    Ok(())
}

thread_local! {
    /// This shard's accept loops still running: a stopping shard waits for them, so that a
    /// connection accepted while its accept was being cancelled is served, not dropped with the
    /// runtime (its client would get a reset).
    static ACCEPT_LOOPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts an accept loop while it runs (see `ACCEPT_LOOPS`).
struct AcceptLoopAlive;

impl AcceptLoopAlive {
    fn new() -> Self {
        ACCEPT_LOOPS.with(|n| n.set(n.get() + 1));
        AcceptLoopAlive
    }
}

impl Drop for AcceptLoopAlive {
    fn drop(&mut self) {
        ACCEPT_LOOPS.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

async fn accept_loop(
    ctx: Rc<ShardCtx>,
    listener: Rc<TcpListener>,
    addr: SocketAddr,
    stop: Rc<Drain>,
) {
    let _alive = AcceptLoopAlive::new();
    loop {
        // Cancelled, not dropped, when the loop stops: an accept the kernel completed in the
        // meantime still hands over its connection, which is served (a dropped io_uring accept
        // would leave such a connection open and unserved).
        let canceller = Canceller::new();
        let mut accept = std::pin::pin!(listener.cancelable_accept(canceller.handle()));
        let stopped = monoio::select! {
            r = &mut accept => Some(r),
            _ = stop.wait() => None,
            _ = ctx.drain.wait() => None,
        };
        let (accepted, last) = match stopped {
            Some(r) => (r, false),
            None => {
                canceller.cancel();
                (accept.await, true)
            }
        };
        match accepted {
            Ok((stream, peer)) => match ctx.admit() {
                Ok(mut slot) => {
                    if let Some(stats) = ctx.metrics.registry.listener(addr) {
                        slot.count_on(crate::observe::metrics::Active::accepted(stats));
                    }
                    if ctx.current().listener(addr).is_some_and(|l| l.ssl) {
                        monoio::spawn(serve_tls(slot, stream, peer, addr));
                    } else {
                        monoio::spawn(serve(slot, stream, peer, addr));
                    }
                }
                // Over a cap: close at once, spawning nothing, so the loop keeps accepting
                // (and refusing) quickly while the connections already open are served.
                Err(why) => {
                    drop(stream);
                    crate::observe::metrics::refused(&ctx.metrics, addr);
                    refused(why);
                }
            },
            Err(_) if last => {}
            Err(e) => {
                // Usually EMFILE/ENFILE: back off briefly instead of spinning.
                warn!("accept on {addr}: {e}");
                monoio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        if last {
            break;
        }
    }
    // Dropping the listener closes it: new connections go to shards still accepting.
}

/// How long a fast stop waits for its accept loops to end.
const ACCEPTS_END: Duration = Duration::from_millis(200);

/// Stops accepting and waits up to `limit` for the open connections to finish (None: a fast
/// stop, no wait). The connections still open when it returns end with the shard's runtime.
async fn drain(
    ctx: &ShardCtx,
    accepting: &RefCell<HashMap<SocketAddr, Accepting>>,
    limit: Option<Duration>,
    rx: &mpsc::Receiver<Control>,
) {
    ctx.drain.trigger();
    // Dropping the entries lets each listening socket close as its accept loop ends, so new
    // connections are refused from now on.
    for (_, a) in accepting.borrow_mut().drain() {
        a.stop.trigger();
    }
    let mut fast = limit.is_none();
    let deadline = Instant::now() + limit.unwrap_or_default();
    // The accept loops end once their cancelled accepts complete, which takes a ring round
    // trip; a fast stop waits for them too (briefly). An accept still in flight when the
    // process exits keeps its listening socket open in the kernel until the ring is torn down,
    // after the exit: a restart right after a stop then found the port taken ("another
    // process listens there").
    let accepts_by = deadline.max(Instant::now() + ACCEPTS_END);
    while ACCEPT_LOOPS.with(|n| n.get()) > 0 && Instant::now() < accepts_by {
        monoio::time::sleep(Duration::from_millis(2)).await;
    }
    while !fast && ctx.connections.get() > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(20)).await;
        // A fast stop (SIGTERM after SIGQUIT) cuts a graceful one short.
        fast = rx
            .try_iter()
            .any(|m| matches!(m, Control::Stop { fast: true }));
    }
    let open = ctx.connections.get();
    if open > 0 && fast {
        info!("shard {}: fast stop: closing {open} connections", ctx.id);
    } else if open > 0 {
        warn!(
            "shard {}: drain timeout reached with {open} connections open; closing them",
            ctx.id
        );
    }
}

/// `worker_connections` and `max_connections` of the config now in force (0 = no cap).
fn set_caps(ctx: &ShardCtx, cfg: &Config) {
    ctx.conn_cap.set(cfg.worker_connections.unwrap_or(0));
    ctx.total_cap.set(cfg.max_connections.unwrap_or(0));
}

/// Connections refused since the last log line, and the second of that line (process-wide, so
/// a flood logs at most one line a second however many shards refuse).
static REFUSED: AtomicU64 = AtomicU64::new(0);
static REFUSED_LOGGED_AT: AtomicU64 = AtomicU64::new(0);

fn refused(why: Refused) {
    REFUSED.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if REFUSED_LOGGED_AT.swap(now, Ordering::Relaxed) == now {
        return;
    }
    let n = REFUSED.swap(0, Ordering::Relaxed);
    match why {
        Refused::Shard(cap) => {
            warn!("worker_connections ({cap}) reached on a shard: {n} new connection(s) closed")
        }
        Refused::Process(cap) => {
            warn!("max_connections ({cap}) reached: {n} new connection(s) closed")
        }
    }
}

/// The buffer pool is trimmed every this many sweeps (1 s): buffers no request took out for that
/// long are freed. A burst of 10,000 requests fills the pool to its 1,024 buffers, which then
/// kept ~5 MB resident (~500 bytes per idle connection) while the connections idled.
const TRIM_EVERY: u32 = 4;

/// Returns the memory the shard's thread freed to the operating system where its allocator
/// holds on to it: set by the binary, which picks the allocator (mimalloc's `mi_collect(false)`;
/// `malloc_trim` with the `sysalloc` feature); unset (nothing to do) in tests. Called on every
/// sweep by each shard for its own thread. mimalloc returns freed pages only after a purge delay
/// (1 s) and only when the thread calls into it again: a shard that goes quiet after a burst
/// never does, and kept the burst's memory (3 KB per idle connection) for good.
static RELEASE: OnceLock<fn()> = OnceLock::new();

/// Sets what each shard's sweeper calls to hand freed memory back (see `RELEASE`); the first
/// call wins.
pub fn set_memory_release(release: fn()) {
    let _ = RELEASE.set(release);
}

/// Fires expired idle deadlines (keep-alive and first-byte waits) and socket operation limits
/// for the whole shard, and gives memory a burst left behind back. A stopping shard still
/// finishes its requests, so the sweep goes on while their limits wait.
async fn sweep(ctx: Rc<ShardCtx>, stopping: Rc<std::cell::Cell<bool>>) {
    deadline::set_swept(true);
    let mut sweeps: u32 = 0;
    while !stopping.get() || deadline::pending() > 0 {
        monoio::time::sleep(SWEEP).await;
        let now = Instant::now();
        ctx.drain.expire(now);
        ctx.parking.expire(now);
        deadline::expire(now);
        ctx.refresh_date();
        sweeps = sweeps.wrapping_add(1);
        if sweeps.is_multiple_of(TRIM_EVERY) {
            ctx.bufs.trim();
            crate::tls::records::trim();
        }
        if let Some(release) = RELEASE.get() {
            release();
        }
    }
    // Operations started from here on take monoio's timer.
    deadline::set_swept(false);
}
