//! Automatic certificates with ACME (RFC 8555), configured as nginx's ngx_http_acme_module.
//!
//! Threads of its own (one per certificate in the config), off the shards (blocking I/O is
//! fine there). At start, each stored certificate that is still valid and covers its names is
//! reused; the others are ordered. A new certificate is written under the issuer's
//! `state_path` and then swapped in by the path a reload takes, with the config in force (the
//! process signals itself `swap_signal`, not SIGHUP: the config file is not read again): every
//! shard gets new TLS settings for new handshakes, and open connections keep theirs. HTTP-01 answers: `challenge`.
//! TLS-ALPN-01 answers: `tls_alpn`.
//!
//! Each certificate's thread stays to renew it: inside the server's suggested window where the
//! issuer offers ACME Renewal Information (RFC 9773, `renewal_info`), else at two thirds of
//! its lifetime. At each reload
//! the same check runs on the new config: certificates it adds get a thread, those it drops are
//! let go (noticed within a minute), the others are left to their threads (`ORDERS`).
//!

mod answer;
mod chains;
pub mod challenge;
mod client;
mod eab;
mod jws;
pub mod keys;
mod meta;
pub mod private_state;
mod renewal_info;
mod store;
pub mod tls_alpn;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use tracing::{error, info, warn};

use crate::config::Config;
use crate::config::acme::{AcmeCert, Issuer};

/// The first retry after a failed order; doubled each time, up to `MAX_RETRY`.
const FIRST_RETRY: Duration = Duration::from_secs(30);
const MAX_RETRY: Duration = Duration::from_secs(3600);
/// Bounds on the wait after a failed order whose answer said when to come back (Retry-After):
/// a rate limit may last days, but a day later the server can say so again.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Which certificates (by file) the config in force wants, and which an ACME thread looks
/// after. Touched by the main thread at start and reload and by the ACME threads between
/// steps: never on a shard.
struct Orders {
    wanted: Vec<PathBuf>,
    managed: Vec<PathBuf>,
}

static ORDERS: Mutex<Orders> = Mutex::new(Orders {
    wanted: Vec::new(),
    managed: Vec::new(),
});

fn orders() -> std::sync::MutexGuard<'static, Orders> {
    // A panic elsewhere while holding it leaves plain lists: still usable.
    ORDERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The longest an ACME thread sleeps before looking again whether its certificate is still
/// in the config.
const WAKE: Duration = Duration::from_secs(60);

struct Job {
    cert: AcmeCert,
    issuer: Issuer,
}

/// Starts an ACME thread for each certificate `cfg` asks for that no thread looks after yet.
/// A stored certificate still valid and covering its names is reused (no order) until it is
/// due for renewal.
pub fn start(cfg: &Config) {
    // `state_path off` issuers are left out when their private directory cannot be had.
    let private_ok = !cfg.acme.issuers.iter().any(|i| i.state_off)
        || private_state::make()
            .map_err(|e| error!("ACME: {e}; its issuers order nothing"))
            .is_ok();
    let mut jobs = Vec::new();
    let mut book = orders();
    book.wanted = cfg
        .acme
        .certificates
        .iter()
        .map(|c| c.cert_path.clone())
        .collect();
    for c in &cfg.acme.certificates {
        if book.managed.contains(&c.cert_path) {
            continue;
        }
        let Some(issuer) = cfg.acme.issuers.get(c.issuer) else {
            continue;
        };
        if issuer.state_off && !private_ok {
            continue;
        }
        match store::unusable(c) {
            None => info!(
                "ACME: reusing the stored certificate for {} ({})",
                c.names.join(", "),
                c.cert_path.display()
            ),
            Some(why) => info!(
                "ACME: ordering a certificate for {} ({why})",
                c.names.join(", ")
            ),
        }
        book.managed.push(c.cert_path.clone());
        jobs.push(Job {
            cert: c.clone(),
            issuer: issuer.clone(),
        });
    }
    drop(book);
    for job in jobs {
        let path = job.cert.cert_path.clone();
        let spawned = std::thread::Builder::new()
            .name("ringway-acme".into())
            .spawn(move || run(job));
        if let Err(e) = spawned {
            error!("ACME: cannot start a thread: {e}");
            orders().managed.retain(|p| p != &path);
        }
    }
}

/// Looks after one certificate while it is in the config: orders it when there is none (or
/// it no longer fits), and again when it is due: inside the server's renewal window (RFC
/// 9773) or at two thirds of its lifetime. One thread per certificate: a slow or failing
/// issuer or name never holds up another.
fn run(job: Job) {
    let path = &job.cert.cert_path;
    let names = job.cert.names.join(", ");
    let mut backoff = FIRST_RETRY;
    // A floor under the server's Retry-After, doubled at each failure in a row: a server
    // that keeps answering `Retry-After: 1` is not asked every second.
    let mut retry_after_floor = MIN_RETRY_AFTER;
    let mut plan = renewal_info::Plan::new();
    loop {
        if !orders().wanted.contains(path) {
            info!("ACME: {names} left the config; no longer looked after");
            break;
        }
        // The stored certificate this order replaces (RFC 9773 §5), if it is still usable.
        let mut replaces = None;
        if let Ok(fallback) = store::renewal_due(&job.cert) {
            let (due, why) = plan.renew_at(&job.issuer, &job.cert, fallback);
            let now = std::time::SystemTime::now();
            match due.duration_since(now) {
                Ok(wait) if !wait.is_zero() => {
                    std::thread::sleep(wait.min(WAKE));
                    continue;
                }
                _ => info!("ACME: renewing the certificate for {names} ({why})"),
            }
            replaces = renewal_info::stored_cert_id(&job.cert).ok();
        }
        match order(&job.issuer, &job.cert, replaces.as_deref()) {
            Ok(()) => {
                swap_in();
                // The new certificate's renewal time (asking the server for its window).
                let fresh = store::renewal_due(&job.cert).is_ok_and(|fallback| {
                    plan.renew_at(&job.issuer, &job.cert, fallback).0 > std::time::SystemTime::now()
                });
                retry_after_floor = MIN_RETRY_AFTER;
                if fresh {
                    backoff = FIRST_RETRY;
                } else {
                    // Never a tight loop of orders, whatever the certificate's dates say.
                    warn!(
                        "ACME: the new certificate for {names} is due for renewal already (a \
                         very short lifetime, or clocks apart); next order in {backoff:?}"
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_RETRY);
                }
            }
            Err((e, refused_for)) => {
                // The server's Retry-After (a rate limit, an outage) says when to come back,
                // above a floor that doubles while the failures go on; without one, the backoff.
                let wait =
                    refused_for.map_or(backoff, |r| r.clamp(retry_after_floor, MAX_RETRY_AFTER));
                if refused_for.is_some() {
                    retry_after_floor = (retry_after_floor * 2).min(MAX_RETRY);
                }
                error!(
                    "ACME: no certificate for {names} from issuer \"{}\" ({}): {e}; retrying in \
                     {wait:?}",
                    job.issuer.name, job.issuer.uri
                );
                nap(path, wait);
                backoff = (backoff * 2).min(MAX_RETRY);
            }
        }
    }
    orders().managed.retain(|p| p != path);
}

/// Sleeps `total`, waking each `WAKE` to stop early once the certificate left the config.
fn nap(path: &std::path::Path, total: Duration) {
    let until = std::time::Instant::now() + total;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || !orders().wanted.iter().any(|p| p == path) {
            return;
        }
        std::thread::sleep(left.min(WAKE));
    }
}

/// Account, order, validation, download; then the files, key first. An error comes with the
/// server's Retry-After, if it sent one.
fn order(
    issuer: &Issuer,
    cert: &AcmeCert,
    replaces: Option<&str>,
) -> Result<(), (String, Option<Duration>)> {
    let plain = |e: String| (e, None);
    let key = jws::AccountKey::for_issuer(issuer).map_err(plain)?;
    let mut c = client::Client::connect(issuer, key)?;
    let issued = c
        .account(issuer)
        .and_then(|()| c.issue(cert, replaces))
        .map_err(|e| (e, c.refused_for))?;
    store::write_private(&cert.key_path, issued.key.as_bytes()).map_err(plain)?;
    store::write_public(&cert.cert_path, issued.chain.as_bytes()).map_err(plain)?;
    info!(
        "ACME: certificate for {} issued and stored in {}",
        cert.names.join(", "),
        cert.cert_path.display()
    );
    Ok(())
}

/// The signal that tells the main thread new certificates are stored: a real-time signal of
/// ACME's own, so that it is never taken for an operator's SIGHUP (which re-reads the config
/// file) nor, during a binary upgrade, for its rollback.
pub fn swap_signal() -> i32 {
    libc::SIGRTMIN() + 1
}

/// New certificates reach the shards by the reload path: the main thread loads the config in
/// force again with its TLS files (the ones just written) and hands every shard new TLS
/// settings; the config file is not read again.
fn swap_in() {
    info!("ACME: new certificates stored; swapping them in");
    // SAFETY: plain syscall signalling this process.
    unsafe { libc::kill(libc::getpid(), swap_signal()) };
}
