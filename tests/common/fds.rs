//! What the ringway child process holds open: its descriptors by kind (`/proc/PID/fd`), and,
//! for failure messages, its TCP connections with their states (`/proc/PID/net/tcp` matched by
//! socket inode). The fault tests use them to prove that failures leak no descriptors.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use super::Ringway;

/// A count of the process's descriptors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fds {
    pub total: usize,
    pub sockets: usize,
    pub pipes: usize,
}

/// One TCP socket of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConn {
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// The kernel's name for the state: `ESTABLISHED`, `CLOSE_WAIT` (the peer closed, the
    /// process has not), `LISTEN`, …
    pub state: &'static str,
}

/// The kernel's TCP state names, indexed by the `st` column (include/net/tcp_states.h).
const STATES: [&str; 13] = [
    "?",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "NEW_SYN_RECV",
];

/// The descriptors of process `pid` (cheap: one directory listing). Descriptors that close
/// while being listed are skipped.
pub fn fds_of(pid: i32) -> Fds {
    let mut fds = Fds::default();
    for target in fd_targets(pid) {
        fds.total += 1;
        if target.starts_with("socket:[") {
            fds.sockets += 1;
        } else if target.starts_with("pipe:[") {
            fds.pipes += 1;
        }
    }
    fds
}

fn fd_targets(pid: i32) -> Vec<String> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"));
    dir.flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .collect()
}

/// `0100007F:1F90` → 127.0.0.1:8080 (the address is the raw network-order word in hex).
fn hex_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddr::from((Ipv4Addr::from(ip.to_ne_bytes()), port)))
}

/// The IPv4 TCP sockets of process `pid`. Slow where the host has many connections (the table
/// is the whole network namespace's): for failure messages, not for polling.
pub fn tcp_of(pid: i32) -> Vec<TcpConn> {
    let inodes: HashSet<String> = fd_targets(pid)
        .iter()
        .filter_map(|t| {
            t.strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(String::from)
        })
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    let mut conns = Vec::new();
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_ascii_whitespace().take(10).collect();
        if f.len() < 10 || !inodes.contains(f[9]) {
            continue;
        }
        let (Some(local), Some(peer)) = (hex_addr(f[1]), hex_addr(f[2])) else {
            continue;
        };
        let st = usize::from_str_radix(f[3], 16).unwrap_or(0);
        conns.push(TcpConn {
            local,
            peer,
            state: STATES.get(st).copied().unwrap_or("?"),
        });
    }
    conns
}

impl Ringway {
    /// How many descriptors the ringway process has open.
    pub fn fd_count(&self) -> usize {
        fds_of(self.pid()).total
    }

    /// Its descriptors, by kind.
    pub fn fds(&self) -> Fds {
        fds_of(self.pid())
    }

    /// Its TCP connections with their states (slow: see `tcp_of`).
    pub fn tcp(&self) -> Vec<TcpConn> {
        tcp_of(self.pid())
    }

    /// Polls until `ok` holds for two snapshots in a row that agree, 10 ms apart (Ok with the
    /// last), or `timeout` passes (Err with the last one, for the failure message).
    pub fn wait_fds(&self, timeout: Duration, ok: impl Fn(&Fds) -> bool) -> Result<Fds, Fds> {
        let deadline = Instant::now() + timeout;
        let mut last: Option<Fds> = None;
        // On a loaded machine this thread may sleep past the deadline: the pair of snapshots
        // after it still counts.
        let mut late = 0;
        loop {
            let f = self.fds();
            if ok(&f) && last == Some(f) {
                return Ok(f);
            }
            if Instant::now() > deadline {
                late += 1;
                if late > 2 {
                    return Err(f);
                }
            }
            last = Some(f);
            thread::sleep(Duration::from_millis(10));
        }
    }
}
