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

/// A port that was free a moment ago (bind 127.0.0.1:0, read it, drop the listener).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// `n` distinct ports that were free a moment ago (all held while picking, so none repeats).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
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
