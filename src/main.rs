//! The `ringway` command: run, test the config, signal a running instance.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use ringway::config;
use ringway::route;
use ringway::shard::{Shards, SystemLookup};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::Signals;
use tracing::{error, info, warn};

mod glibc_tune;

#[cfg(not(feature = "sysalloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(feature = "sysalloc"))]
unsafe extern "C" {
    /// mimalloc's `void mi_collect(bool force)` (linked through the `mimalloc` crate; declared
    /// here because `libmimalloc-sys` exports it only with its `extended` feature).
    fn mi_collect(force: bool);
}

/// Each shard's sweeper calls this a few times a second: mimalloc purges the pages its thread
/// freed a purge delay (1 s) ago, as it does on its own only while the thread keeps allocating.
/// Without it a shard that went quiet after a burst held the burst's memory for good. Not
/// forced: memory freed less than the delay ago stays for reuse, so a busy shard does not
/// trade page faults for it (~10–20 µs a call with a 30 MiB heap).
#[cfg(not(feature = "sysalloc"))]
fn release_memory() {
    // SAFETY: no arguments to get wrong; collects the calling thread's heap.
    unsafe { mi_collect(false) }
}

/// The same for glibc's malloc (`--features sysalloc`, for memory comparisons): freed pages
/// inside the heap go back to the system.
#[cfg(feature = "sysalloc")]
fn release_memory() {
    // SAFETY: plain libc call.
    unsafe { libc::malloc_trim(0) };
}

#[derive(Parser)]
#[command(
    name = "ringway",
    version,
    about = "HTTP/1.1 reverse proxy and load balancer on io_uring"
)]
struct Cli {
    /// Configuration file (nginx syntax).
    #[arg(
        short = 'c',
        long = "config",
        default_value = "/etc/ringway/ringway.conf"
    )]
    config: PathBuf,
    /// Test the configuration and exit (0 when valid, 1 otherwise).
    #[arg(short = 't')]
    test: bool,
    /// Test the configuration, print the effective configuration and exit.
    #[arg(short = 'T')]
    dump: bool,
    /// Send a signal to the running instance: reload (SIGHUP), stop (SIGTERM: fast, in-flight
    /// requests are cut), quit (SIGQUIT: graceful, in-flight requests finish) or reopen
    /// (SIGUSR1: open the log files again).
    #[arg(short = 's', value_parser = ["reload", "stop", "quit", "reopen"])]
    signal: Option<String>,
    /// Number of shards (worker threads); default: `worker_processes`, else one per online core.
    #[arg(long)]
    workers: Option<usize>,
    /// PID file for `-s` (default: the config's `pid`).
    #[arg(long)]
    pid: Option<PathBuf>,
}

fn main() -> ExitCode {
    use std::io::IsTerminal;
    // First, before any thread exists: it may replace this process.
    glibc_tune::apply();
    // Transparent huge pages turn each touched 2 MiB of the allocator's regions into resident
    // memory: measured 18 MiB of RSS for 4,000 idle connections with them, under 4 MiB without.
    // A proxy's heap is small and scattered; it gains nothing from them.
    // SAFETY: prctl with integer arguments only; failure (old kernel) leaves THP as it was.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    init_logging(std::io::stderr().is_terminal());
    // A log file grown past RLIMIT_FSIZE fails its writes (EFBIG, counted and reported)
    // instead of killing the process.
    // SAFETY: setting a signal's disposition to SIG_IGN.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    // A panic is a bug: its message and place go to the log like any error (the connection or
    // shard it ended says what happened next).
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        error!(thread = thread.name().unwrap_or("main"), "{info}");
    }));
    let cli = Cli::parse();
    ringway::shard::set_memory_release(release_memory);
    let done = run(cli);
    // The error log's writer thread writes what it was sent before the process ends.
    ringway::observe::error_log::flush();
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ringway: {e}");
            ExitCode::FAILURE
        }
    }
}

/// stderr in tracing's format until (and unless) the config names a main-level `error_log`;
/// then nginx's format in that file (`observe::error_log`). `RINGWAY_LOG` filters either.
fn init_logging(ansi: bool) {
    use ringway::observe::error_log;
    use tracing_subscriber::layer::{Layer, SubscriberExt};
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, filter::FilterExt};
    // An empty RINGWAY_LOG counts as unset.
    let env = || {
        std::env::var("RINGWAY_LOG")
            .ok()
            .filter(|v| !v.is_empty())
            .and_then(|v| EnvFilter::try_new(v).ok())
    };
    // The most verbose level RINGWAY_LOG lets through (None when unset); a filter with no
    // hint (a per-span one) counts as letting everything through.
    let env_level = env().map(|f| {
        f.max_level_hint()
            .unwrap_or(tracing::level_filters::LevelFilter::TRACE)
    });
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_filter(
            env()
                .unwrap_or_else(|| EnvFilter::new("info"))
                .and(error_log::stderr_gate()),
        );
    let (nginx, gate) = error_log::layer(env_level);
    // With RINGWAY_LOG unset its filter lets everything through: the gate's level decides.
    // ("debug": the most a release build has, whose tracing leaves trace records out; asking
    // for more made tracing warn at every start.)
    let nginx = nginx.with_filter(env().unwrap_or_else(|| EnvFilter::new("debug")).and(gate));
    tracing_subscriber::registry()
        .with(stderr)
        .with(nginx)
        .init();
}

/// Reads and checks the config, and looks up its hostnames here, on the main thread: the
/// shards get the answers and never block on DNS.
/// A config read and checked, its hostnames looked up and its TLS files read.
type Loaded = (config::Config, route::Lookups, ringway::tls::Loaded);

fn load(path: &std::path::Path) -> Result<Loaded, String> {
    let mut cfg = config::load(path).map_err(|e| e.to_string())?;
    // Log files are opened (and created) here, as nginx does, `-t` included.
    ringway::observe::files::open_all(&mut cfg)?;
    // Certificates, keys and the other files TLS servers name (nginx reads them at -t too).
    let tls = ringway::tls::Loaded::load(&cfg)?;
    // Compiling resolves upstream hosts and regexes: errors a shard would hit, found up front.
    let mut lookups = route::Lookups::new();
    route::compile_with(
        &cfg,
        &route::Resolved::new(),
        &mut SystemLookup(&mut lookups),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((cfg, lookups, tls))
}

fn run(cli: Cli) -> Result<(), String> {
    let path = &cli.config;
    if let Some(sig) = &cli.signal {
        return send_signal(&cli, sig);
    }
    if cli.test || cli.dump {
        let (cfg, _, _) = load(path).map_err(|e| {
            format!(
                "{e}\nringway: configuration file {} test failed",
                path.display()
            )
        })?;
        for n in &cfg.notices {
            eprintln!("ringway: [notice] {n}");
        }
        if cli.dump {
            print!("{}", config::dump(&cfg));
        }
        eprintln!(
            "ringway: the configuration file {} syntax is ok",
            path.display()
        );
        eprintln!(
            "ringway: configuration file {} test is successful",
            path.display()
        );
        return Ok(());
    }
    let (cfg, lookups, tls) = load(path)?;
    ringway::observe::error_log::apply(cfg.error_log.as_ref());
    ringway::observe::files::in_force(&cfg);
    let (cfg, lookups, tls) = (Arc::new(cfg), Arc::new(lookups), Arc::new(tls));
    let workers = cli
        .workers
        .or(cfg.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let pid_file = cli.pid.clone().or_else(|| cfg.pid_file.clone());
    // Register before starting shards so no signal is missed (and none takes its default
    // action, which for SIGUSR1/SIGUSR2 would end the process).
    let mut signals = Signals::new([
        SIGTERM,
        SIGINT,
        SIGQUIT,
        SIGHUP,
        SIGUSR1,
        SIGUSR2,
        SIGWINCH,
        SIGCHLD,
        ringway::acme::swap_signal(),
    ])
    .map_err(|e| format!("signals: {e}"))?;
    // Binary upgrade (USR2, WINCH, HUP while upgrading, the new process's end): shard/upgrade.rs.
    let mut upgrade = ringway::shard::upgrade::Upgrade::new(pid_file.clone());
    let (started_uring, started_workers) = (cfg.uring, cfg.workers);
    let shards = Shards::start(cfg.clone(), lookups.clone(), tls, workers)?;
    // The config in force (ACME's certificate swaps reload its TLS files, nothing else).
    let mut running = (cfg.clone(), lookups);
    // Certificates ordered from ACME issuers: threads of their own, once the shards serve
    // (they answer the HTTP-01 challenges).
    ringway::acme::start(&cfg);
    if let Some(p) = &pid_file
        && let Err(e) = ringway::shard::upgrade::write_pid_file(p)
    {
        error!("cannot write pid file {}: {e}", p.display());
    }
    info!(
        "ringway {} started with {workers} shards",
        env!("CARGO_PKG_VERSION")
    );
    // Under systemd (Type=notify): serving now, and this is the service's main process (after
    // a binary upgrade, the new one).
    ringway::shard::notify::ready();
    // Some(fast) once a stop has begun.
    let mut stopping: Option<bool> = None;
    loop {
        let pending: Vec<i32> = if stopping.is_some() {
            // Stopping: watch for the shards' end, and for a fast stop cutting a drain short.
            if shards.finished() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            signals.pending().collect()
        } else {
            signals.wait().collect()
        };
        for sig in pending {
            match sig {
                SIGHUP if stopping.is_some() => info!("SIGHUP while stopping: no reload"),
                SIGHUP if upgrade.on_hup(&shards) => {}
                SIGHUP => {
                    if let Some(r) = reload(
                        path,
                        &cli,
                        &shards,
                        &running.0,
                        started_uring,
                        started_workers,
                        workers,
                    ) {
                        running = r;
                    }
                }
                s if s == ringway::acme::swap_signal() && stopping.is_some() => {}
                s if s == ringway::acme::swap_signal() => swap_certificates(&running, &shards),
                // logrotate's nginx script sends USR1; USR2 starts nginx's binary upgrade.
                SIGUSR1 => reopen_logs(&shards),
                SIGCHLD => upgrade.reap(&shards),
                SIGUSR2 | SIGWINCH if stopping.is_some() => info!("stopping: no binary upgrade"),
                SIGUSR2 => upgrade.begin(&shards),
                SIGWINCH => upgrade.pause(&shards),
                _ => {
                    let fast = sig != SIGQUIT;
                    if stopping == Some(true) || stopping == Some(fast) {
                        continue;
                    }
                    let name = signal_hook::low_level::signal_name(sig).unwrap_or("?");
                    if fast {
                        info!("{name}: fast stop: closing connections and exiting");
                    } else {
                        info!("{name}: graceful stop: draining, then exiting");
                    }
                    // A new binary stopped while the old one still runs (a rollback): the old
                    // one is the service's main process again, or systemd would end it with us.
                    if let Some(old) = ringway::shard::inherit::running_parent() {
                        ringway::shard::notify::notify(&format!("MAINPID={old}"));
                    }
                    shards.begin_stop(fast);
                    stopping = Some(fast);
                }
            }
        }
    }
    shards.join();
    if let Some(p) = &pid_file {
        ringway::shard::upgrade::remove_pid_file(p);
    }
    // `state_path off`: what ACME kept for this run goes with it.
    ringway::acme::private_state::remove();
    if ringway::shard::died() {
        return Err("a shard died (see the log above); exiting with an error".into());
    }
    info!("stopped");
    Ok(())
}

/// SIGUSR1 (`-s reopen`, logrotate's postrotate): every log file is opened again; the shards
/// write what they hold to the old files, then switch.
fn reopen_logs(shards: &Shards) {
    info!("SIGUSR1: reopening log files");
    let fresh = ringway::observe::files::reopen_all();
    shards.reopen_logs(fresh);
    ringway::observe::error_log::reopen();
}

/// ACME stored new certificates: the config in force is loaded again with its TLS files (the
/// new certificates among them) and handed to the shards, as a reload does, without reading
/// the config file again (an edit not yet reloaded by the operator stays unapplied).
fn swap_certificates(running: &(Arc<config::Config>, Arc<route::Lookups>), shards: &Shards) {
    match ringway::tls::Loaded::load(&running.0) {
        Ok(tls) => {
            info!("ACME: new certificates in use for new handshakes");
            shards.reload(running.0.clone(), running.1.clone(), Arc::new(tls));
        }
        Err(e) => error!("ACME: new certificates not loaded, keeping the running ones: {e}"),
    }
}

/// SIGHUP: re-read the config; on error the running one stays. The config now in force, when
/// it changed.
fn reload(
    path: &std::path::Path,
    cli: &Cli,
    shards: &Shards,
    running: &config::Config,
    started_uring: config::UringSetup,
    started_workers: Option<usize>,
    workers: usize,
) -> Option<(Arc<config::Config>, Arc<route::Lookups>)> {
    // An address new to this config that another process holds fails the reload, as in nginx.
    let held = ringway::shard::listen_addrs(running);
    let checked = load(path).and_then(|loaded| {
        ringway::shard::ensure_new_addresses_unused(&loaded.0, &held)?;
        Ok(loaded)
    });
    match checked {
        Ok((cfg, lookups, tls)) => {
            // Shards and their rings are made at start: say so rather than pretend.
            if cfg.uring != started_uring {
                warn!(
                    "reload: io_uring_entries/io_uring_sqpoll/io_uring_sqpoll_idle changed; \
                     the running rings keep their setup until ringway restarts"
                );
            }
            if cli.workers.is_none() && cfg.workers != started_workers {
                warn!(
                    "reload: worker_processes changed; ringway keeps its {workers} shards \
                     until it restarts"
                );
            }
            ringway::observe::error_log::apply(cfg.error_log.as_ref());
            ringway::observe::files::in_force(&cfg);
            let (cfg, lookups) = (Arc::new(cfg), Arc::new(lookups));
            shards.reload(cfg.clone(), lookups.clone(), Arc::new(tls));
            // Certificates the new config asks for and nobody is ordering yet.
            ringway::acme::start(&cfg);
            Some((cfg, lookups))
        }
        Err(e) => {
            ringway::observe::metrics::process::reloaded(false);
            error!("reload failed, keeping the running configuration: {e}");
            None
        }
    }
}

fn send_signal(cli: &Cli, sig: &str) -> Result<(), String> {
    let pid_file = match &cli.pid {
        Some(p) => p.clone(),
        None => config::load(&cli.config)
            .map_err(|e| e.to_string())?
            .pid_file
            .ok_or("no pid file: set `pid` in the config or pass --pid")?,
    };
    let text =
        std::fs::read_to_string(&pid_file).map_err(|e| format!("{}: {e}", pid_file.display()))?;
    let pid: i32 = text
        .trim()
        .parse()
        .map_err(|_| format!("{}: not a process id", pid_file.display()))?;
    let signo = match sig {
        "reload" => libc::SIGHUP,
        "stop" => libc::SIGTERM,
        "reopen" => libc::SIGUSR1,
        _ => libc::SIGQUIT,
    };
    // SAFETY: kill(2) with a pid read from the pid file; errors are reported.
    if unsafe { libc::kill(pid, signo) } != 0 {
        return Err(format!("kill({pid}): {}", std::io::Error::last_os_error()));
    }
    Ok(())
}
