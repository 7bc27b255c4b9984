//! Process-wide facts: start time and reloads. Rare events (a reload, the start), so plain
//! atomics: nothing here is touched per request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static STARTED: AtomicU64 = AtomicU64::new(0);
static RELOADS: AtomicU64 = AtomicU64::new(0);
static RELOAD_FAILURES: AtomicU64 = AtomicU64::new(0);
static LAST_RELOAD: AtomicU64 = AtomicU64::new(0);
static LAST_RELOAD_OK: AtomicBool = AtomicBool::new(true);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Marks the process start (the first call wins).
pub fn started() {
    let _ = STARTED.compare_exchange(0, now(), Ordering::Relaxed, Ordering::Relaxed);
}

/// A reload was applied (`ok`) or refused (the config did not load or compile).
pub fn reloaded(ok: bool) {
    if ok {
        RELOADS.fetch_add(1, Ordering::Relaxed);
    } else {
        RELOAD_FAILURES.fetch_add(1, Ordering::Relaxed);
    }
    LAST_RELOAD.store(now(), Ordering::Relaxed);
    LAST_RELOAD_OK.store(ok, Ordering::Relaxed);
}

/// The process facts as a scrape reports them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    pub start_unix: u64,
    pub now_unix: u64,
    pub reloads: u64,
    pub reload_failures: u64,
    /// 0: no reload yet.
    pub last_reload_unix: u64,
    pub last_reload_ok: bool,
}

pub fn facts() -> Facts {
    Facts {
        start_unix: STARTED.load(Ordering::Relaxed),
        now_unix: now(),
        reloads: RELOADS.load(Ordering::Relaxed),
        reload_failures: RELOAD_FAILURES.load(Ordering::Relaxed),
        last_reload_unix: LAST_RELOAD.load(Ordering::Relaxed),
        last_reload_ok: LAST_RELOAD_OK.load(Ordering::Relaxed),
    }
}
