//! The shard's pool of TLS record buffers: borrowed while records are read or written, so an
//! idle connection holds none. One pool per shard thread (thread-local: no locks).

use std::cell::{Cell, RefCell};

/// Room for one full TLS record and then some (16 KiB of plaintext plus framing and tag), so
/// a socket read takes a whole record.
pub const RECORD_BUF: usize = 17 * 1024 + 512;

/// Buffers kept for reuse per shard; beyond it they are freed.
const KEEP: usize = 256;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    /// The fewest buffers the pool held since the last trim: that many sat unused.
    static LOW: Cell<usize> = const { Cell::new(0) };
}

/// An empty buffer of at least `RECORD_BUF` capacity.
pub fn get() -> Vec<u8> {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let b = p.pop();
        LOW.with(|l| l.set(l.get().min(p.len())));
        b
    })
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

/// Frees the buffers no one took out since the last call (the shard's sweeper calls it every
/// second), as the read-buffer pool does: a burst's buffers do not stay for good.
pub fn trim() {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let unused = LOW.with(Cell::get).min(p.len());
        let keep = p.len() - unused;
        p.truncate(keep);
        if keep == 0 {
            p.shrink_to_fit();
        }
        LOW.with(|l| l.set(keep));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pooled() -> usize {
        POOL.with(|p| p.borrow().len())
    }

    #[test]
    fn trim_frees_what_sat_unused_since_the_last_trim() {
        for _ in 0..4 {
            put(Vec::with_capacity(RECORD_BUF));
        }
        trim();
        assert_eq!(pooled(), 4, "the first trim has seen no use yet");
        let b = get();
        put(b);
        trim();
        assert_eq!(
            pooled(),
            1,
            "one was in use since the last trim: three sat idle"
        );
        trim();
        assert_eq!(pooled(), 0);
        put(vec![0; 10]);
        assert_eq!(pooled(), 0, "a buffer too small is not kept");
    }
}
