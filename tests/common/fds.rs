//! What the ringway child process holds open: its descriptors (`/proc/PID/fd`) and, for its TCP
//! sockets, the connection and its state (`/proc/PID/net/tcp`, matched by socket inode). Used by
//! the fault tests to prove that failures leak no descriptors and leave no broken pooled
//! upstream connections behind.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use super::Ringway;

/// One TCP socket of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConn {
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// The kernel's name for the state: `ESTABLISHED`, `CLOSE_WAIT` (the peer closed, we have
    /// not), `LISTEN`, …
    pub state: &'static str,
}

/// A snapshot of the process's descriptors.
#[derive(Debug, Clone, Default)]
pub struct Fds {
    pub total: usize,
    pub sockets: usize,
    pub pipes: usize,
    /// Its IPv4 TCP sockets.
    pub tcp: Vec<TcpConn>,
}

impl Fds {
    /// Its TCP connections to `peer` (an upstream server).
    pub fn to_peer(&self, peer: SocketAddr) -> Vec<&TcpConn> {
        self.tcp.iter().filter(|c| c.peer == peer).collect()
    }

    /// The same descriptors by kind and the same TCP connections.
    pub fn same(&self, other: &Fds) -> bool {
        let mut a = self.tcp.clone();
        let mut b = other.tcp.clone();
        a.sort_by_key(|c| (c.local, c.peer));
        b.sort_by_key(|c| (c.local, c.peer));
        (self.total, self.sockets, self.pipes) == (other.total, other.sockets, other.pipes)
            && a == b
    }

    /// Its client connections: accepted on `listen` (ringway's listen address).
    pub fn clients(&self, listen: SocketAddr) -> usize {
        self.tcp
            .iter()
            .filter(|c| c.local == listen && c.state != "LISTEN")
            .count()
    }

    /// Descriptors that are neither pipes nor connections to `peer`: listeners, client
    /// connections, the ring, the log. Pooled pipes and pooled upstream connections come and go
    /// by design; everything else must return to where it was once clients have left.
    pub fn besides(&self, peer: SocketAddr) -> usize {
        self.total - self.pipes - self.to_peer(peer).len()
    }
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

/// `0100007F:1F90` → 127.0.0.1:8080 (the address is the raw network-order word in hex).
fn hex_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddr::from((Ipv4Addr::from(ip.to_ne_bytes()), port)))
}

/// Snapshot of process `pid`. Descriptors that close while being listed are skipped.
pub fn fds_of(pid: i32) -> Fds {
    let mut fds = Fds::default();
    let mut inodes = HashSet::new();
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"));
    for entry in dir.flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        fds.total += 1;
        let t = target.to_string_lossy();
        if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
            fds.sockets += 1;
            inodes.insert(inode.to_string());
        } else if t.starts_with("pipe:[") {
            fds.pipes += 1;
        }
    }
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 || !inodes.contains(f[9]) {
            continue;
        }
        let (Some(local), Some(peer)) = (hex_addr(f[1]), hex_addr(f[2])) else {
            continue;
        };
        let st = usize::from_str_radix(f[3], 16).unwrap_or(0);
        fds.tcp.push(TcpConn {
            local,
            peer,
            state: STATES.get(st).copied().unwrap_or("?"),
        });
    }
    fds
}

impl Ringway {
    /// How many descriptors the ringway process has open.
    pub fn fd_count(&self) -> usize {
        fds_of(self.pid()).total
    }

    /// Its descriptors, sorted by kind, with its TCP connections.
    pub fn fds(&self) -> Fds {
        fds_of(self.pid())
    }

    /// Polls until `ok` holds for two snapshots in a row that agree (Ok with it), or `timeout`
    /// passes (Err with the last one, for the failure message). One snapshot is not enough: a
    /// socket closing between the listing of `fd` and the reading of `net/tcp` is counted as a
    /// socket but shows in no connection.
    pub fn wait_fds(&self, timeout: Duration, ok: impl Fn(&Fds) -> bool) -> Result<Fds, Fds> {
        let deadline = Instant::now() + timeout;
        let mut last: Option<Fds> = None;
        // On a loaded machine this thread may sleep past the deadline: the pair of snapshots
        // after it still counts.
        let mut late = 0;
        loop {
            let f = self.fds();
            if ok(&f) && last.as_ref().is_some_and(|l| l.same(&f)) {
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
