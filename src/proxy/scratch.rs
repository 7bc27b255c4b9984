//! A heap block a busy connection reuses for each of its requests' futures. A request's work
//! runs in a future of its own (so that an idle connection's task stays small), and allocating
//! it per request goes through mimalloc's slow aligned path (~300 instructions for the ~8 KB
//! future); a keep-alive connection in steady use keeps one block and writes each request's
//! future into it.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// One heap block of `layout`, freed on drop.
pub struct Scratch {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Scratch {
    fn new(layout: Layout) -> Scratch {
        // A zero-sized layout gets a dangling, aligned pointer (nothing to allocate).
        if layout.size() == 0 {
            return Scratch {
                ptr: NonNull::dangling(),
                layout,
            };
        }
        // SAFETY: the layout's size is not zero.
        let ptr = unsafe { alloc(layout) };
        match NonNull::new(ptr) {
            Some(ptr) => Scratch { ptr, layout },
            None => handle_alloc_error(layout),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.layout.size() > 0 {
            // SAFETY: allocated in `new` with this layout; no future lives in it (`run_in`).
            unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
        }
    }
}

/// Moves `fut` into a heap block taken from `keep` (or a new one) and returns a pointer-sized
/// future that runs it there; the block goes back to `keep` once the future is dropped. While
/// the future lives, the block is out of `keep`, so a future that is leaked instead of dropped
/// leaks its block too, never has it reused: the pin guarantee holds.
pub fn run_in<F: Future>(keep: &mut Option<Scratch>, fut: F) -> InScratch<'_, F> {
    let layout = Layout::new::<F>();
    let block = match keep.take() {
        Some(s) if s.layout == layout => s,
        _ => Scratch::new(layout),
    };
    let p = block.ptr.as_ptr().cast::<F>();
    // SAFETY: the block is sized and aligned for F and holds nothing now.
    unsafe { p.write(fut) };
    InScratch {
        keep,
        block: Some(block),
        p,
    }
}

/// A future running in a reused block; dropping it drops the future, then gives the block back.
pub struct InScratch<'k, F> {
    keep: &'k mut Option<Scratch>,
    block: Option<Scratch>,
    p: *mut F,
}

impl<F: Future> Future for InScratch<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: F stays at `p` until `drop` drops it in place; the block is not moved, freed
        // or reused before then (this value owns it, and moving this value moves no F).
        let p = self.p;
        unsafe { Pin::new_unchecked(&mut *p) }.poll(cx)
    }
}

impl<F> Drop for InScratch<'_, F> {
    fn drop(&mut self) {
        // SAFETY: `p` holds the live F `run_in` wrote, dropped here once.
        unsafe { std::ptr::drop_in_place(self.p) };
        *self.keep = self.block.take();
    }
}
