//! What one response's encoder allocates (counted per thread by this binary's allocator):
//! bounded, and small for a short body.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ringway::compress::{Coding, Encoder};

use super::text;

/// The system allocator, counting each thread's bytes in use and their peak.
pub struct Counting;

thread_local! {
    static NOW: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = NOW.try_with(|n| {
            n.set(n.get() + l.size());
            let _ = PEAK.try_with(|p| p.set(p.get().max(n.get())));
        });
        // SAFETY: forwarded as received.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, l: Layout) {
        let _ = NOW.try_with(|n| n.set(n.get().saturating_sub(l.size())));
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, l) }
    }
}

/// The most bytes compressing `body` (length known or not) had allocated at once, in KiB.
fn peak_kib(coding: Coding, level: u32, body: &[u8], known: bool) -> usize {
    let mut out = Vec::with_capacity(body.len() + 1024);
    let base = NOW.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let mut e = Encoder::new(coding, level, known.then_some(body.len() as u64)).unwrap();
    e.write(body, &mut out).unwrap();
    e.flush(&mut out).unwrap();
    // libzstd allocates with C's malloc, which this allocator does not see: it reports its own.
    let zstd = e.zstd_state_bytes().unwrap_or(0);
    e.finish(&mut out).unwrap();
    (PEAK.with(Cell::get) - base + zstd) / 1024
}

#[test]
fn encoders_stay_within_their_documented_memory() {
    let big = text(300_000);
    let small = text(2_000);
    for level in [1, 6, 9] {
        assert!(
            peak_kib(Coding::Gzip, level, &big, false) <= 512,
            "gzip {level}"
        );
    }
    assert!(peak_kib(Coding::Gzip, 1, &small, true) <= 300);
    assert!(peak_kib(Coding::Brotli, 6, &big, false) <= 5 * 1024);
    // A short body must not pick the small-window hasher (32 MiB at levels 5–9).
    assert!(peak_kib(Coding::Brotli, 6, &small, true) <= 3 * 1024);
    assert!(peak_kib(Coding::Brotli, 1, &small, true) <= 2 * 1024);
    // zstd: a window of at most 512 KiB and the level's tables for a body of unknown length
    // (zstd-nginx-module's default level is 1); a short known one shrinks them.
    for (level, kib) in [
        (1, 1536),
        (3, 2304),
        (6, 4 * 1024),
        (9, 12 * 1024),
        (19, 90 * 1024),
    ] {
        let got = peak_kib(Coding::Zstd, level, &big, false);
        eprintln!("zstd {level}: {got} KiB (300 KB body, length unknown)");
        assert!(got <= kib, "zstd {level}: {got} KiB");
    }
    for level in [1, 3, 19] {
        let got = peak_kib(Coding::Zstd, level, &small, true);
        eprintln!("zstd {level}: {got} KiB (2 KB body, length known)");
        assert!(got <= 512, "zstd {level}, short body: {got} KiB");
    }
}
