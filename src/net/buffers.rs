//! Shard-local pool of read buffers, so that the steady state allocates
//! nothing per request and an idle connection holds neither.

use std::cell::RefCell;

/// Capacity of a pooled buffer: a whole default head (32 KiB, `large_client_header_buffers 4
/// 8k`); a larger head grows its buffer, which is then not pooled.
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
