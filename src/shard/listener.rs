//! Listening sockets: one per shard per address, bound with SO_REUSEPORT so the kernel spreads
//! new connections over the shards.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::Config;

/// Shard `shard`'s sockets for `addr`: those a binary upgrade handed over (`inherit`), with
/// this config's listen options, or else a new one.
pub fn open(
    addr: SocketAddr,
    backlog: i32,
    deferred: bool,
    shard: usize,
    shards: usize,
) -> Result<Vec<std::net::TcpListener>, String> {
    let inherited = super::inherit::take(addr, shard, shards);
    if inherited.is_empty() {
        let l =
            bind(addr, backlog, deferred).map_err(|e| format!("bind() to {addr} failed: {e}"))?;
        return Ok(vec![l]);
    }
    for l in &inherited {
        reconfigure(l.as_raw_fd(), backlog, deferred)
            .map_err(|e| format!("inherited socket of {addr}: {e}"))?;
    }
    Ok(inherited)
}

/// The addresses `cfg` listens on, each once.
pub fn listen_addrs(cfg: &Config) -> Vec<SocketAddr> {
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for l in cfg.servers.iter().flat_map(|s| &s.listen) {
        if !addrs.contains(&l.addr) {
            addrs.push(l.addr);
        }
    }
    addrs
}

/// Runs [`ensure_unused`] on each address of `cfg` that this process does not hold yet: not in
/// `held` (the running config's on a reload, the inherited ones at a binary upgrade's start),
/// nor overlapping one there (`0.0.0.0:80` and `127.0.0.1:80`), whose own socket would fail
/// the probe.
pub fn ensure_new_addresses_unused(cfg: &Config, held: &[SocketAddr]) -> Result<(), String> {
    let overlaps = |a: SocketAddr, b: SocketAddr| {
        a.port() == b.port()
            && a.is_ipv4() == b.is_ipv4()
            && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
    };
    listen_addrs(cfg)
        .into_iter()
        .filter(|a| !held.iter().any(|h| overlaps(*h, *a)))
        .try_for_each(ensure_unused)
}

/// Refuses an address that another socket already listens on. ringway binds with SO_REUSEPORT,
/// and the kernel lets any socket of the same user that sets it share the address: a second
/// ringway started on a running one's port would bind and take half its connections, serving
/// them with another config. nginx, without `reuseport`, fails there with "Address already in
/// use"; so does ringway, by first binding a probe without SO_REUSEPORT, which any listener on
/// the address makes fail. Call it for addresses this process does not hold yet.
pub fn ensure_unused(addr: SocketAddr) -> Result<(), String> {
    let probe = || -> io::Result<()> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        // Connections in TIME_WAIT do not block a listener, as for the real bind.
        socket.set_reuse_address(true)?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.bind(&addr.into())
    };
    probe().map_err(|e| match e.kind() {
        io::ErrorKind::AddrInUse => format!(
            "bind() to {addr} failed: {e}: another process listens there (is another ringway \
             running?)"
        ),
        _ => format!("bind() to {addr} failed: {e}"),
    })
}

pub fn bind(addr: SocketAddr, backlog: i32, deferred: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // Accepted sockets inherit it: responses go out without Nagle's delay.
    socket.set_tcp_nodelay(true)?;
    socket.set_nonblocking(true)?;
    if deferred {
        set_deferred(socket.as_raw_fd(), true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// A reload that keeps an address applies its new listen options to the open socket, as nginx
/// does: `listen()` again sets the backlog; TCP_DEFER_ACCEPT is turned on or off.
pub fn reconfigure(fd: RawFd, backlog: i32, deferred: bool) -> io::Result<()> {
    set_deferred(fd, deferred)?;
    if unsafe { libc::listen(fd, backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `listen ... deferred`: the kernel hands a connection over only once its first bytes have come
/// (or, for a silent client, after about a second: nginx's value), so no task waits on it and its
/// first read needs no readiness wait. socket2 has no setter for it.
fn set_deferred(fd: RawFd, on: bool) -> io::Result<()> {
    let secs: libc::c_int = i32::from(on);
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&secs as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
