//! Shard-local pool of read buffers, so that the steady state allocates
//! nothing per request and an idle connection holds neither.

use std::cell::{Cell, RefCell};

/// Capacity of a pooled buffer: a whole default head (32 KiB, `large_client_header_buffers 4
/// 8k`); a larger head grows its buffer, which is then not pooled.
pub const BUF_SIZE: usize = 32 * 1024;
const MAX_POOLED_BUFS: usize = 1024;

#[derive(Default)]
pub struct BufPool {
    free: RefCell<Vec<Vec<u8>>>,
    /// The fewest buffers `free` held since the last `trim`: that many were not needed by
    /// anyone in the meantime.
    low: Cell<usize>,
}

impl BufPool {
    pub fn get(&self) -> Vec<u8> {
        let mut free = self.free.borrow_mut();
        match free.pop() {
            Some(b) => {
                self.low.set(self.low.get().min(free.len()));
                b
            }
            None => Vec::with_capacity(BUF_SIZE),
        }
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

    /// Buffers in the pool now.
    pub fn len(&self) -> usize {
        self.free.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frees the buffers that stayed in the pool since the last call and returns how many went.
    /// The pool then holds what the busiest moment since the last call took out, less what is
    /// out now: after a burst that filled it, one quiet period empties it instead of leaving up
    /// to `MAX_POOLED_BUFS` buffers (and the allocator pages around them) resident. The
    /// longest-unused buffers go (`get` takes from the end).
    pub fn trim(&self) -> usize {
        let mut free = self.free.borrow_mut();
        let surplus = self.low.get().min(free.len());
        free.drain(..surplus);
        self.low.set(free.len());
        surplus
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool_of(n: usize) -> BufPool {
        let p = BufPool::default();
        let bufs: Vec<_> = (0..n).map(|_| p.get()).collect();
        for b in bufs {
            p.put(b);
        }
        p
    }

    #[test]
    fn trim_frees_what_stayed_unused() {
        let p = pool_of(100);
        // The first trim only starts the count: no buffer was seen unused for a whole period.
        assert_eq!(p.trim(), 0);
        assert_eq!(p.len(), 100);
        // A quiet period: all go.
        assert_eq!(p.trim(), 100);
        assert!(p.is_empty());
        assert_eq!(p.trim(), 0);
        // And the pool fills again on demand.
        let b = p.get();
        assert_eq!(b.capacity(), BUF_SIZE);
        p.put(b);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn trim_keeps_what_the_busiest_moment_took() {
        let p = pool_of(100);
        p.trim();
        // 30 out at once, then back: 70 were never needed.
        let out: Vec<_> = (0..30).map(|_| p.get()).collect();
        for b in out {
            p.put(b);
        }
        assert_eq!(p.trim(), 70);
        assert_eq!(p.len(), 30);
        // 10 out while trimming: the 20 unused go, the 10 come back later.
        let out: Vec<_> = (0..10).map(|_| p.get()).collect();
        assert_eq!(p.trim(), 20);
        assert_eq!(p.len(), 0);
        for b in out {
            p.put(b);
        }
        assert_eq!(p.len(), 10);
    }
}
