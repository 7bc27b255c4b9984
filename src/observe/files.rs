//! Opening log files: on the main thread, when a config is loaded (start, `-t`, reload) and when
//! `-s reopen` / SIGUSR1 asks for fresh descriptors. Shards never open files.

use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::error;

use crate::config::Config;

/// Opens `path` for appending, creating it (0644) if needed, as nginx opens its logs.
pub fn open(path: &Path) -> std::io::Result<OwnedFd> {
    let f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)?;
    Ok(OwnedFd::from(f))
}

/// Opens every access log file of `cfg` (the descriptors travel to the shards inside it). A
/// file that cannot be opened is an error naming the `access_log` that wants it.
pub fn open_all(cfg: &mut Config) -> Result<(), String> {
    for f in &mut cfg.log_files {
        let fd = open(&f.path).map_err(|e| {
            format!(
                "{}: cannot open access log \"{}\": {e}",
                f.at,
                f.path.display()
            )
        })?;
        f.fd = Some(Arc::new(fd));
    }
    if let Some(el) = &cfg.error_log
        && let Some(p) = &el.path
    {
        open(p)
            .map_err(|e| format!("{}: cannot open error log \"{}\": {e}", el.at, p.display()))?;
    }
    Ok(())
}

/// Fresh descriptors for the access log files, by path (what `Control::ReopenLogs` carries).
pub type Reopened = Vec<(PathBuf, Arc<OwnedFd>)>;

/// The access log paths of the config in force (set by the main thread at start and reload).
static IN_FORCE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Records the paths of the config now in force, for `reopen_all`.
pub fn in_force(cfg: &Config) {
    let paths = cfg.log_files.iter().map(|f| f.path.clone()).collect();
    if let Ok(mut g) = IN_FORCE.lock() {
        *g = paths;
    }
}

/// Opens every access log in force again (after logrotate renamed them). A file that cannot be
/// opened is left out, with an error logged: the shards keep writing to its old descriptor.
pub fn reopen_all() -> Reopened {
    let paths = IN_FORCE.lock().map(|g| g.clone()).unwrap_or_default();
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        match open(&p) {
            Ok(fd) => out.push((p, Arc::new(fd))),
            Err(e) => error!(
                "reopen: cannot open access log \"{}\": {e}; still writing to the old file",
                p.display()
            ),
        }
    }
    out
}
