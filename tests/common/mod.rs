//! Shared harness for ringway's integration tests, by concern: the real binary (`process`),
//! config texts (`config`), scripted raw-TCP backends (`backend`, `killable`), a raw HTTP/1.1
//! client (`client`), bytes and bodies (`bytes`), descriptors (`fds`) and a strict wire reader
//! (`wire`), all over loopback sockets with std threads only. Every blocking
//! read has a timeout so a misbehaving proxy makes a test fail, never hang.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod backend;
mod browser;
mod bytes;
mod certs;
mod client;
mod config;
pub mod fds;
mod killable;
mod origin;
mod process;
pub mod wire;

pub use backend::*;
#[allow(unused_imports)] // only the browser tests use it
pub use browser::*;
pub use bytes::*;
#[allow(unused_imports)] // only the TLS tests use them
pub use certs::*;
pub use client::*;
pub use config::*;
pub use killable::*;
#[allow(unused_imports)] // only the cache tests use them
pub use origin::*;
pub use process::*;

/// Longest any single read in the harness waits.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ringway")
}

/// Every port this test process has handed out. ringway binds its listeners with SO_REUSEPORT,
/// so two instances given the same port would both bind it and the kernel would spread one
/// test's connections over the other's process: a port is therefore never handed out twice.
static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A port that was free a moment ago (bind 127.0.0.1:0, read it, drop the listener), and that
/// no other test in this process was given.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct ports that were free a moment ago (all held while picking, so none repeats),
/// none handed out before in this process.
pub fn free_ports(n: usize) -> Vec<u16> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut held: Vec<TcpListener> = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < n {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        if !handed_out.contains(&port) {
            ports.push(port);
        }
        // Held until all are picked, so the kernel does not offer the same port again.
        held.push(l);
    }
    handed_out.extend(&ports);
    ports
}

/// What ringway logs once a reload has been applied (by its first shard).
pub const RELOADED: &str = "configuration reloaded";

/// An address that refuses connections (nothing listens there).
pub fn dead_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

pub(crate) static DIR_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A fresh, unique temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "ringway-it-{tag}-{}-{}-{nanos}",
        std::process::id(),
        DIR_SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
