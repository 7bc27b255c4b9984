//! Binary upgrade with nginx's signals, on the old process's main thread.
//!
//! SIGUSR2 moves the pid file to `<pid>.oldbin` and starts the binary again (by the path it was
//! started with, so an upgraded package's new file runs) with the same arguments and every
//! shard's listening sockets inherited (`RINGWAY_LISTENERS`, see `inherit`). Both processes then
//! accept on the same sockets. SIGWINCH pauses this process (its shards stop accepting and
//! drain their connections, the sockets stay open); SIGHUP while the new process runs resumes
//! it without re-reading the config (a rollback); SIGQUIT drains it and exits. When the new
//! process exits (a failed start, or stopped during a rollback) the pid file moves back and a
//! paused process accepts again, as nginx does on SIGCHLD.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use super::{Control, Shards, inherit};

/// What the main thread keeps about upgrades: how to start the binary again, and the new
/// process while it runs.
pub struct Upgrade {
    binary: PathBuf,
    argv0: OsString,
    args: Vec<OsString>,
    pid_file: Option<PathBuf>,
    child: Option<Child>,
    /// SIGWINCH: the shards accept nothing and have drained (until SIGHUP or the child's end).
    paused: bool,
}

impl Upgrade {
    /// Resolves the binary's path now: after a package upgrade `/proc/self/exe` names the
    /// deleted old file, while the path it was started by names the new one.
    pub fn new(pid_file: Option<PathBuf>) -> Upgrade {
        let mut args = std::env::args_os();
        let argv0 = args.next().unwrap_or_else(|| OsString::from("ringway"));
        Upgrade {
            binary: resolve_binary(&argv0),
            argv0,
            args: args.collect(),
            pid_file,
            child: None,
            paused: false,
        }
    }

    /// SIGUSR2: starts the new process, unless one runs already or there is no pid file.
    pub fn begin(&mut self, shards: &Shards) {
        if self.child.is_some() {
            warn!(
                "SIGUSR2 ignored: a binary upgrade is already running (stop one of the two first)"
            );
            return;
        }
        if inherit::parent_alive() {
            warn!(
                "SIGUSR2 ignored: the process this one upgraded is still running (stop one of \
                 the two first)"
            );
            return;
        }
        let Some(pid_file) = self.pid_file.clone() else {
            warn!(
                "SIGUSR2 (binary upgrade) needs a pid file (`pid` in the config, or --pid) to \
                 tell the two processes apart; still serving, with this binary"
            );
            return;
        };
        let sockets = match shards.listening_sockets() {
            Ok(s) => s,
            Err(e) => {
                error!("binary upgrade not started: {e}");
                return;
            }
        };
        let old = oldbin(&pid_file);
        if let Err(e) = std::fs::rename(&pid_file, &old) {
            error!(
                "binary upgrade not started: cannot rename {} to {}: {e}",
                pid_file.display(),
                old.display()
            );
            return;
        }
        match self.spawn(&sockets) {
            Ok(child) => {
                info!(
                    "binary upgrade: started {} (pid {}) with {} listening sockets; {} is now {}",
                    self.binary.display(),
                    child.id(),
                    sockets.len(),
                    pid_file.display(),
                    old.display()
                );
                self.child = Some(child);
            }
            Err(e) => {
                error!(
                    "binary upgrade: cannot start {}: {e}; still serving",
                    self.binary.display()
                );
                restore_pid_file(&pid_file);
            }
        }
        // Our copies close here; the child holds its own.
        drop(sockets);
    }

    /// Starts the binary with `sockets` open in it (and named in its environment).
    fn spawn(&self, sockets: &[OwnedFd]) -> std::io::Result<Child> {
        let fds: Vec<RawFd> = sockets.iter().map(|s| s.as_raw_fd()).collect();
        let list: String = fds.iter().map(|fd| format!("{fd};")).collect();
        let mut cmd = Command::new(&self.binary);
        cmd.arg0(&self.argv0)
            .args(&self.args)
            .env(inherit::ENV, list);
        let fd_limit = open_file_limit();
        // SAFETY: between fork and exec only close_range and fcntl run (async-signal-safe), on
        // this process's descriptors (`sockets` outlives the spawn); `fds` was allocated before.
        unsafe {
            cmd.pre_exec(move || {
                // Nothing else may reach the new process: io_uring's accept makes client
                // connections without close-on-exec, and a copy held there would keep each
                // connection this process closes open (its client then waits for nothing).
                if libc::syscall(
                    libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                ) != 0
                {
                    // Kernels before 5.11: one descriptor at a time (EBADF for unused ones).
                    for fd in 3..fd_limit {
                        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                    }
                }
                for &fd in &fds {
                    if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        cmd.spawn()
    }

    /// SIGCHLD: when the new process has exited, the pid file comes back and, when paused,
    /// the shards accept again (the new process served until then, so nothing was refused).
    pub fn reap(&mut self, shards: &Shards) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        let status = match child.try_wait() {
            Ok(None) => return,
            Ok(Some(s)) => s,
            Err(e) => {
                error!("binary upgrade: waiting for the new process: {e}");
                return;
            }
        };
        let pid = child.id();
        self.child = None;
        if status.success() {
            info!("binary upgrade: the new process (pid {pid}) exited; this one serves on");
        } else {
            error!(
                "binary upgrade failed: the new process (pid {pid}) exited with {status} (see \
                 its log above); this one serves on"
            );
        }
        if let Some(p) = &self.pid_file {
            restore_pid_file(p);
        }
        if self.paused {
            self.paused = false;
            info!("binary upgrade: accepting connections again");
            shards.peers.broadcast(|| Control::Resume);
        }
    }

    /// SIGWINCH: stop accepting and drain, keeping the sockets for the new process (and for a
    /// rollback). Refused without a new process: nothing would accept the connections.
    pub fn pause(&mut self, shards: &Shards) {
        if self.child.is_none() {
            warn!(
                "SIGWINCH ignored: no binary upgrade is running, and nothing else would accept \
                 connections"
            );
            return;
        }
        if !self.paused {
            info!(
                "SIGWINCH: no longer accepting; draining connections (the listening sockets \
                 stay open for the new process)"
            );
            self.paused = true;
            shards.peers.broadcast(|| Control::Pause);
        }
    }

    /// SIGHUP. During an upgrade: accept again, without re-reading the config (nginx's
    /// rollback), and return true. Otherwise resume if paused and return false: reload as usual.
    pub fn on_hup(&mut self, shards: &Shards) -> bool {
        let upgrading = self.child.is_some();
        if self.paused {
            self.paused = false;
            shards.peers.broadcast(|| Control::Resume);
            info!("SIGHUP: accepting connections again on the same sockets");
        }
        if upgrading {
            info!(
                "SIGHUP during a binary upgrade: configuration not re-read (stop the new process \
                 with SIGQUIT to roll back)"
            );
        }
        upgrading
    }
}

impl Shards {
    /// A duplicate of every shard's listening sockets, shard by shard (for the new process).
    fn listening_sockets(&self) -> Result<Vec<OwnedFd>, String> {
        let (tx, rx) = mpsc::channel();
        self.peers.broadcast(|| Control::Listeners(tx.clone()));
        drop(tx);
        let shards = self.peers.0.len();
        let mut replies = Vec::with_capacity(shards);
        let deadline = Instant::now() + Duration::from_secs(5);
        while replies.len() < shards {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(r) => replies.push(r),
                Err(_) => {
                    return Err(format!(
                        "{} of {shards} shards did not hand over their listening sockets",
                        shards - replies.len()
                    ));
                }
            }
        }
        replies.sort_by_key(|(id, _)| *id);
        Ok(replies.into_iter().flat_map(|(_, fds)| fds).collect())
    }
}

/// The highest descriptor number plus one that this process may have open.
pub(crate) fn open_file_limit() -> i32 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1 << 16;
    }
    lim.rlim_cur.min(1 << 20) as i32
}

/// Where the pid file goes while the new process runs (nginx's name).
pub fn oldbin(pid_file: &Path) -> PathBuf {
    let mut s = pid_file.as_os_str().to_owned();
    s.push(".oldbin");
    PathBuf::from(s)
}

/// Writes this process's pid to `pid_file` whole: into a temporary file beside it, then renamed
/// into place, so that a reader (`-s reload`, systemd, a test) never finds it empty or partly
/// written.
pub fn write_pid_file(pid_file: &Path) -> std::io::Result<()> {
    let mut tmp = pid_file.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{}\n", std::process::id()))?;
    std::fs::rename(&tmp, pid_file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Moves `<pid>.oldbin` back to `<pid>` when it holds this process's pid.
fn restore_pid_file(pid_file: &Path) {
    let old = oldbin(pid_file);
    if !holds_own_pid(&old) {
        return;
    }
    if let Err(e) = std::fs::rename(&old, pid_file) {
        error!(
            "cannot rename {} back to {}: {e}",
            old.display(),
            pid_file.display()
        );
    }
}

/// At exit: removes the pid file, or its `.oldbin`, only where it names this process (after an
/// upgrade the pid file belongs to the new process).
pub fn remove_pid_file(pid_file: &Path) {
    for p in [pid_file.to_path_buf(), oldbin(pid_file)] {
        if holds_own_pid(&p) {
            let _ = std::fs::remove_file(&p);
        }
    }
}

fn holds_own_pid(p: &Path) -> bool {
    std::fs::read_to_string(p)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        == Some(std::process::id())
}

/// The program's path as it was started: `argv[0]` made absolute (a relative path is taken
/// from the working directory now), or found in PATH when it has no slash; the running
/// executable otherwise.
fn resolve_binary(argv0: &OsString) -> PathBuf {
    let given = Path::new(argv0);
    if argv0.as_encoded_bytes().contains(&b'/') {
        return std::path::absolute(given).unwrap_or_else(|_| given.to_path_buf());
    }
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(given))
            .find(|p| p.is_file())
    });
    in_path
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_else(|| given.to_path_buf())
}
