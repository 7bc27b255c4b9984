//! Shard-local pools of read buffers and splice pipes, so that the steady state allocates
//! nothing per request and an idle connection holds neither.

use std::cell::RefCell;

use monoio::net::Pipe;

/// Capacity of a pooled buffer: a whole default head (16 KiB) plus room for a small body.
pub const BUF_SIZE: usize = 32 * 1024;
const MAX_POOLED_BUFS: usize = 1024;

#[derive(Default)]
pub struct BufPool {
    free: RefCell<Vec<Vec<u8>>>,
}

impl BufPool {
    pub fn get(&self) -> Vec<u8> {
        self.free
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BUF_SIZE))
    }

    pub fn put(&self, mut b: Vec<u8>) {
        // Buffers grown for an unusually large head are not kept.
        if b.capacity() != BUF_SIZE {
            return;
        }
        let mut free = self.free.borrow_mut();
        if free.len() < MAX_POOLED_BUFS {
            b.clear();
            free.push(b);
        }
    }
}

/// A pipe for socket→pipe→socket splice; only ever pooled when empty.
pub struct SplicePipe {
    pub read: Pipe,
    pub write: Pipe,
}

/// Bytes one splice moves: the kernel's default pipe capacity (monoio's `Pipe` exposes no fd
/// to enlarge it with F_SETPIPE_SZ).
pub const PIPE_SIZE: usize = 64 * 1024;
const MAX_POOLED_PIPES: usize = 64;

#[derive(Default)]
pub struct PipePool {
    free: RefCell<Vec<SplicePipe>>,
}

impl PipePool {
    pub fn get(&self) -> std::io::Result<SplicePipe> {
        if let Some(p) = self.free.borrow_mut().pop() {
            return Ok(p);
        }
        let (read, write) = monoio::net::unix::new_pipe()?;
        Ok(SplicePipe { read, write })
    }

    /// Only call with a drained pipe (every byte spliced in was spliced out).
    pub fn put(&self, p: SplicePipe) {
        let mut free = self.free.borrow_mut();
        if free.len() < MAX_POOLED_PIPES {
            free.push(p);
        }
    }
}
