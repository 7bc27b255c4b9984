//! The error log: ringway's `tracing` events, written as nginx writes its error log
//! (`2026/12/06 10:20:11 [error] 12345#12350: message`) to the file (or stderr) that the
//! main-level `error_log` names, at its level and above.
//!
//! Without `error_log`, events go to stderr as before (`RINGWAY_LOG` filters them, default
//! `info`). With it, `RINGWAY_LOG`, when set, replaces the level as the filter (for
//! debugging a module). Lines go through a bounded channel to a writer thread: a shard never
//! waits on the disk; when the channel is full lines are dropped, counted, and the count is
//! written with the next line that gets through.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter, Layer};

use crate::config::{ErrorLevel, ErrorLog};

/// Lines waiting for the writer thread at most.
const QUEUE: usize = 8192;

/// Whether a main-level `error_log` is in force (else the stderr fmt layer writes).
static CONFIGURED: AtomicBool = AtomicBool::new(false);
/// The least severe `tracing` level written (0 trace … 4 error).
static MIN_LEVEL: AtomicU8 = AtomicU8::new(3);
/// `RINGWAY_LOG` is set: it filters instead of the configured level.
static ENV_FILTERS: AtomicBool = AtomicBool::new(false);
/// `RINGWAY_LOG` lets debug records through somewhere.
static ENV_DEBUG: AtomicBool = AtomicBool::new(false);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static QUEUE_TX: OnceLock<SyncSender<Msg>> = OnceLock::new();

enum Msg {
    Line(Vec<u8>),
    /// Write to this file from now on (None: stderr).
    Target(Option<PathBuf>),
    Reopen,
    /// Everything before it is written: answer.
    Flush(mpsc::Sender<()>),
}

fn rank(l: &Level) -> u8 {
    match *l {
        Level::TRACE => 0,
        Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        Level::ERROR => 4,
    }
}

/// nginx's level → the least severe `tracing` level it lets through.
fn min_rank(l: ErrorLevel) -> u8 {
    match l {
        ErrorLevel::Debug => 0,
        ErrorLevel::Info | ErrorLevel::Notice => 2,
        ErrorLevel::Warn => 3,
        _ => 4,
    }
}

fn nginx_name(l: &Level) -> &'static str {
    match *l {
        Level::TRACE | Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// Which of the two sinks a filter is for.
pub struct Gate {
    /// The nginx-format sink (else: the stderr fmt layer).
    nginx: bool,
}

impl Gate {
    fn open(&self, meta: &Metadata<'_>) -> bool {
        let configured = CONFIGURED.load(Ordering::Relaxed);
        if from_log_crate(meta) && !log_crate_wanted() {
            return false;
        }
        if !self.nginx {
            return !configured;
        }
        configured
            && (ENV_FILTERS.load(Ordering::Relaxed)
                || rank(meta.level()) >= MIN_LEVEL.load(Ordering::Relaxed))
    }
}

/// A record of a crate that logs through the `log` crate (rustls, ureq), bridged by
/// tracing-log. A client can make rustls warn at will (an IP address as SNI, a warning alert,
/// a message out of order): one line per connection would flood the log, as nginx keeps such
/// client errors at `info` and below. So they count as debug detail.
fn from_log_crate(meta: &Metadata<'_>) -> bool {
    meta.name() == "log event"
}

/// The `log` crate's records are written with `error_log … debug`, or when `RINGWAY_LOG`
/// lets debug records through (`RINGWAY_LOG=debug`, `rustls=trace`).
fn log_crate_wanted() -> bool {
    if ENV_FILTERS.load(Ordering::Relaxed) {
        return ENV_DEBUG.load(Ordering::Relaxed);
    }
    CONFIGURED.load(Ordering::Relaxed) && MIN_LEVEL.load(Ordering::Relaxed) <= 1
}

/// The `log` crate's own switch, set to match: a record nobody writes then costs its caller
/// one comparison, where the bridge's check cost ~600 instructions (rustls makes a dozen such
/// records per handshake).
fn set_log_crate_level() {
    log::set_max_level(if log_crate_wanted() {
        log::LevelFilter::Trace
    } else {
        log::LevelFilter::Off
    });
}

impl<S> Filter<S> for Gate {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        self.open(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        // Cached per call site; `apply` rebuilds the cache when the settings change.
        if self.open(meta) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }
}

/// The filter of the stderr fmt layer (on while no `error_log` is configured).
pub fn stderr_gate() -> Gate {
    Gate { nginx: false }
}

/// The nginx-format layer and its filter. `env`: `RINGWAY_LOG`'s filter, when set, by the
/// most verbose level it lets through anywhere (the caller combines that filter with this one).
pub fn layer(env: Option<tracing::level_filters::LevelFilter>) -> (NginxLayer, Gate) {
    ENV_FILTERS.store(env.is_some(), Ordering::Relaxed);
    ENV_DEBUG.store(
        env.is_some_and(|l| l >= tracing::level_filters::LevelFilter::DEBUG),
        Ordering::Relaxed,
    );
    (NginxLayer, Gate { nginx: true })
}

/// Applies the config's `error_log` (at start and reload).
pub fn apply(el: Option<&ErrorLog>) {
    match el {
        None => CONFIGURED.store(false, Ordering::Relaxed),
        Some(el) => {
            send(Msg::Target(el.path.clone()));
            MIN_LEVEL.store(min_rank(el.level), Ordering::Relaxed);
            CONFIGURED.store(true, Ordering::Relaxed);
        }
    }
    set_log_crate_level();
    tracing::callsite::rebuild_interest_cache();
}

/// `-s reopen`: the error log file is opened again.
pub fn reopen() {
    if CONFIGURED.load(Ordering::Relaxed) {
        send(Msg::Reopen);
    }
}

/// Waits (up to a second) until every line sent so far is written.
pub fn flush() {
    let Some(tx) = QUEUE_TX.get() else {
        return;
    };
    let (done_tx, done_rx) = mpsc::channel();
    if tx.send(Msg::Flush(done_tx)).is_ok() {
        let _ = done_rx.recv_timeout(std::time::Duration::from_secs(1));
    }
}

fn send(m: Msg) {
    let tx = QUEUE_TX.get_or_init(|| {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let _ = std::thread::Builder::new()
            .name("ringway-error-log".into())
            .spawn(move || write_loop(rx));
        tx
    });
    match m {
        Msg::Line(_) => {
            if tx.try_send(m).is_err() {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Rare control messages wait for room.
        m => {
            let _ = tx.send(m);
        }
    }
}

enum Sink {
    Stderr,
    File(PathBuf, std::fs::File),
}

fn open_sink(path: Option<PathBuf>, old: Sink) -> Sink {
    let Some(p) = path else {
        return Sink::Stderr;
    };
    match super::files::open(&p) {
        Ok(fd) => Sink::File(p, std::fs::File::from(fd)),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "ringway: cannot open error log \"{}\": {e}; keeping the previous one",
                p.display()
            );
            old
        }
    }
}

fn write_loop(rx: Receiver<Msg>) {
    let mut sink = Sink::Stderr;
    let mut batch = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut acks = Vec::new();
        // Everything already queued goes out in one write.
        while let Some(m) = next.take().or_else(|| rx.try_recv().ok()) {
            match m {
                Msg::Line(l) => batch.extend_from_slice(&l),
                Msg::Target(p) => {
                    write_batch(&mut sink, &mut batch);
                    sink = open_sink(p, sink);
                }
                Msg::Reopen => {
                    write_batch(&mut sink, &mut batch);
                    let p = match &sink {
                        Sink::File(p, _) => Some(p.clone()),
                        Sink::Stderr => None,
                    };
                    if p.is_some() {
                        sink = open_sink(p, sink);
                    }
                }
                Msg::Flush(ack) => acks.push(ack),
            }
            if batch.len() > 64 * 1024 {
                write_batch(&mut sink, &mut batch);
            }
        }
        let lost = DROPPED.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let mut l = Vec::new();
            line_start(&mut l, &Level::ERROR);
            let _ = writeln!(
                l,
                "{lost} error log line(s) dropped (the log could not keep up)"
            );
            batch.extend_from_slice(&l);
        }
        write_batch(&mut sink, &mut batch);
        for a in acks {
            let _ = a.send(());
        }
    }
}

fn write_batch(sink: &mut Sink, batch: &mut Vec<u8>) {
    if batch.is_empty() {
        return;
    }
    let _ = match sink {
        Sink::Stderr => std::io::stderr().write_all(batch),
        Sink::File(_, f) => f.write_all(batch),
    };
    batch.clear();
}

thread_local! {
    static TID: u64 = {
        // SAFETY: gettid takes no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_gettid) as u64 }
    };
}

/// `2026/12/06 10:20:11 [error] 12345#12350: `
fn line_start(out: &mut Vec<u8>, level: &Level) {
    let (sec, _) = super::clock::now();
    super::clock::with_stamps(sec, |s| out.extend_from_slice(&s.error));
    let tid = TID.with(|t| *t);
    let _ = write!(
        out,
        " [{}] {}#{}: ",
        nginx_name(level),
        std::process::id(),
        tid
    );
}

/// Formats events as nginx's error log lines.
pub struct NginxLayer;

impl<S: Subscriber> Layer<S> for NginxLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut line = Vec::with_capacity(128);
        line_start(&mut line, event.metadata().level());
        let mut v = Fields {
            message: String::new(),
            rest: String::new(),
        };
        event.record(&mut v);
        line.extend_from_slice(v.message.as_bytes());
        line.extend_from_slice(v.rest.as_bytes());
        line.push(b'\n');
        send(Msg::Line(line));
    }
}

struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, ", {}: {value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, ", {}: {value:?}", field.name());
        }
    }
}
