//! The shard's pool of TLS record buffers: borrowed while records are read or written, so an
//! idle connection holds none. One pool per shard thread (thread-local: no locks).

use std::cell::RefCell;

/// Room for one full TLS record and then some (16 KiB of plaintext plus framing and tag), so
/// a socket read takes a whole record.
pub const RECORD_BUF: usize = 17 * 1024 + 512;

/// Buffers kept for reuse per shard; beyond it they are freed.
const KEEP: usize = 256;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer of at least `RECORD_BUF` capacity.
pub fn get() -> Vec<u8> {
    POOL.with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| Vec::with_capacity(RECORD_BUF))
}

/// Gives a buffer back (cleared).
pub fn put(mut buf: Vec<u8>) {
    if buf.capacity() < RECORD_BUF || buf.capacity() > 4 * RECORD_BUF {
        return;
    }
    buf.clear();
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < KEEP {
            p.push(buf);
        }
    });
}

/// Frees the pooled buffers (the shard's sweeper calls it when the pool sat unused).
pub fn trim() {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let keep = p.len() / 2;
        p.truncate(keep);
        p.shrink_to_fit();
    });
}
