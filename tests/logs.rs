//! Access logs and the error log, end to end: the real binary with `access_log` /
//! `log_format` / `error_log`, real clients (curl, raw sockets), then the files read back.
//! Modules: `access` (formats, variables, escaping, inheritance, `if=`, buffering, refused
//! requests), `files` (reopen by SIGUSR1 and `-s reopen`, `-t` errors, a full disk, the error
//! log), `goaccess` (the combined format read by goaccess).

mod common;

#[path = "logs/access.rs"]
mod access;
#[path = "logs/files.rs"]
mod files;
#[path = "logs/goaccess.rs"]
mod goaccess;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lines of `path` (none while it does not exist).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until `path` has at least `n` lines; returns them (fewer when the time ran out).
pub fn wait_lines(path: &Path, n: usize, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let l = lines(path);
        if l.len() >= n || Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `curl -s -o /dev/null -w %{http_code}` with extra arguments; returns the status.
pub fn curl(url: &str, args: &[&str]) -> u16 {
    common::curl_code(url, args)
}

/// A directory for log files, kept apart from ringway's own (the config names it).
pub fn log_dir(tag: &str) -> PathBuf {
    common::temp_dir(tag)
}
