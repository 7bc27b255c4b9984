//! The `ringway` command: run, test the config, signal a running instance.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use ringway::config;
use ringway::route;
use ringway::shard::Shards;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;
use tracing::{error, info, warn};

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
    /// Send a signal to the running instance: reload, stop (fast, drains) or quit (graceful).
    #[arg(short = 's', value_parser = ["reload", "stop", "quit"])]
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
    // Transparent huge pages turn each touched 2 MiB of the allocator's regions into resident
    // memory: measured 18 MiB of RSS for 4,000 idle connections with them, under 4 MiB without.
    // A proxy's heap is small and scattered; it gains nothing from them.
    // SAFETY: prctl with integer arguments only; failure (old kernel) leaves THP as it was.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RINGWAY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    ringway::shard::set_memory_release(release_memory);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ringway: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: &std::path::Path) -> Result<config::Config, String> {
    let cfg = config::load(path).map_err(|e| e.to_string())?;
    // Compiling resolves upstream hosts and regexes: errors a shard would hit, found up front.
    route::compile(&cfg).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(cfg)
}

fn run(cli: Cli) -> Result<(), String> {
    let path = &cli.config;
    if let Some(sig) = &cli.signal {
        return send_signal(&cli, sig);
    }
    if cli.test || cli.dump {
        let cfg = load(path).map_err(|e| {
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
    let cfg = Arc::new(load(path)?);
    let workers = cli
        .workers
        .or(cfg.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let pid_file = cli.pid.clone().or_else(|| cfg.pid_file.clone());
    // Register before starting shards so no signal is missed.
    let mut signals =
        Signals::new([SIGTERM, SIGINT, SIGQUIT, SIGHUP]).map_err(|e| format!("signals: {e}"))?;
    let (started_uring, started_workers) = (cfg.uring, cfg.workers);
    let shards = Shards::start(cfg, workers)?;
    if let Some(p) = &pid_file
        && let Err(e) = std::fs::write(p, format!("{}\n", std::process::id()))
    {
        error!("cannot write pid file {}: {e}", p.display());
    }
    info!(
        "ringway {} started with {workers} shards",
        env!("CARGO_PKG_VERSION")
    );
    for sig in signals.forever() {
        match sig {
            SIGHUP => match load(path) {
                Ok(cfg) => {
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
                    shards.reload(Arc::new(cfg))
                }
                Err(e) => error!("reload failed, keeping the running configuration: {e}"),
            },
            _ => {
                info!("signal {sig}: draining and stopping");
                break;
            }
        }
    }
    shards.stop();
    if let Some(p) = &pid_file {
        let _ = std::fs::remove_file(p);
    }
    info!("stopped");
    Ok(())
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
        _ => libc::SIGQUIT,
    };
    // SAFETY: kill(2) with a pid read from the pid file; errors are reported.
    if unsafe { libc::kill(pid, signo) } != 0 {
        return Err(format!("kill({pid}): {}", std::io::Error::last_os_error()));
    }
    Ok(())
}
