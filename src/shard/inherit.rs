//! The new process of a binary upgrade: the listening sockets it inherits from the old one.
//!
//! The old process names them in `RINGWAY_LISTENERS` (`fd;fd;…`, see `upgrade`). Each is
//! checked (an open, listening TCP socket) and filed under its own address (getsockname): the
//! shards take them instead of binding, so no socket is ever closed and no connection waiting
//! in an accept queue is lost. Shard i takes the i-th socket of an address (and, when the old
//! process had more shards, every one whose index is i modulo the shard count); addresses the
//! new config no longer has are closed once every shard has started (`close_unclaimed`).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd, RawFd};
use std::sync::Mutex;

use socket2::{Socket, Type};
use tracing::{info, warn};

/// The environment variable that carries the sockets' descriptors across exec.
pub const ENV: &str = "RINGWAY_LISTENERS";

/// Inherited sockets not yet taken by a shard, by address, in the old process's order (an
/// index each). Used only while shards start: never on the request path.
static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Each address's sockets with their index among that address's sockets.
type Pool = HashMap<SocketAddr, Vec<(usize, TcpListener)>>;

/// The old process's pid, when this process was started by its SIGUSR2 (see `parent_alive`).
static PARENT: Mutex<Option<i32>> = Mutex::new(None);

/// Reads `RINGWAY_LISTENERS` and files the sockets it names. Call once, before the shards start.
/// A descriptor that is not an open listening TCP socket is left alone, with a warning.
pub fn adopt_from_env() {
    let Some(list) = std::env::var_os(ENV) else {
        return;
    };
    let list = list.to_string_lossy().into_owned();
    let mut pool = Pool::new();
    let mut seen = Vec::new();
    let mut count = 0;
    for item in list.split(';').filter(|s| !s.trim().is_empty()) {
        let Ok(fd) = item.trim().parse::<RawFd>() else {
            warn!("{ENV}: {item:?} is not a descriptor number; ignored");
            continue;
        };
        if fd < 3 || seen.contains(&fd) {
            warn!("{ENV}: descriptor {fd} repeated or standard; ignored");
            continue;
        }
        seen.push(fd);
        match adopt(fd) {
            Ok((addr, l)) => {
                let at = pool.entry(addr).or_default();
                at.push((at.len(), l));
                count += 1;
            }
            Err(e) => warn!("{ENV}: descriptor {fd}: {e}; ignored"),
        }
    }
    info!(
        "binary upgrade: inherited {count} listening sockets for {} addresses",
        pool.len()
    );
    *lock(&POOL) = Some(pool);
    // SAFETY: getppid never fails.
    *lock(&PARENT) = Some(unsafe { libc::getppid() });
}

/// Checks that `fd` is an open listening TCP socket and takes ownership of it.
fn adopt(fd: RawFd) -> Result<(SocketAddr, TcpListener), String> {
    // SAFETY: F_GETFD only reads the descriptor's flags; it fails (EBADF) on a closed one.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err("not open".into());
    }
    // SAFETY: the descriptor is open and was handed to this process to own; nothing else in
    // the process knows its number (it is not a standard stream, and each number is taken once).
    let socket = unsafe { Socket::from_raw_fd(fd) };
    let listening = socket.r#type().ok() == Some(Type::STREAM)
        && socket.is_listener().unwrap_or(false)
        && socket.protocol().ok().flatten() == Some(socket2::Protocol::TCP);
    let addr = socket.local_addr().ok().and_then(|a| a.as_socket());
    let Some(addr) = addr.filter(|_| listening) else {
        // Not ours to close: give the descriptor back untouched.
        std::mem::forget(socket);
        return Err("not a listening TCP socket".into());
    };
    // Not passed on to anything this process runs later (a later upgrade passes it explicitly).
    socket
        .set_cloexec(true)
        .map_err(|e| format!("FD_CLOEXEC: {e}"))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("O_NONBLOCK: {e}"))?;
    Ok((addr, socket.into()))
}

/// The addresses a binary upgrade handed sockets over for (those not yet taken by a shard).
pub fn held_addrs() -> Vec<SocketAddr> {
    lock(&POOL)
        .as_ref()
        .map(|p| p.keys().copied().collect())
        .unwrap_or_default()
}

/// The inherited sockets of `addr` that shard `shard` of `shards` serves (none: bind one).
pub fn take(addr: SocketAddr, shard: usize, shards: usize) -> Vec<TcpListener> {
    let mut pool = lock(&POOL);
    let Some(at) = pool.as_mut().and_then(|p| p.get_mut(&addr)) else {
        return Vec::new();
    };
    let shards = shards.max(1);
    let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(at)
        .into_iter()
        .partition(|(i, _)| i % shards == shard);
    *at = rest;
    mine.into_iter().map(|(_, l)| l).collect()
}

/// Closes the inherited sockets no shard took: addresses the new config dropped (as a reload
/// would). Call once every shard has started.
pub fn close_unclaimed() {
    let Some(pool) = lock(&POOL).take() else {
        return;
    };
    for (addr, left) in pool {
        if !left.is_empty() {
            info!(
                "binary upgrade: {addr} is not in the configuration; closing its {} inherited \
                 sockets",
                left.len()
            );
        }
    }
}

/// Whether the old process that started this one is still running (this process then refuses
/// an upgrade of its own, as nginx does: one of the two must go first).
pub fn parent_alive() -> bool {
    running_parent().is_some()
}

/// The old process that started this one, while it still runs.
pub fn running_parent() -> Option<i32> {
    let parent = (*lock(&PARENT))?;
    // SAFETY: getppid never fails. Re-parented (to init or a subreaper) once the old one exits.
    (unsafe { libc::getppid() } == parent).then_some(parent)
}

/// A poisoned lock only means a thread panicked while holding it; the data is still whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
