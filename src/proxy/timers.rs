//! Shard-local one-shot timers for short, precise waits (`limit_req` delays). The idle-deadline
//! slots of `Drain` fire only every `SWEEP` (250 ms), too coarse for a delay of tens of
//! milliseconds, and a monoio timer per waiting request costs ~640 bytes each; here a waiter is
//! a slot and a heap entry, and one task per shard sleeps until the earliest deadline.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::poll_fn;
use std::task::{Poll, Waker};
use std::time::Instant;

#[derive(Default)]
struct Slot {
    waker: Option<Waker>,
    fired: bool,
    /// Bumped when the slot is reused, so a stale heap entry does not fire the new waiter.
    round: u32,
}

#[derive(Default)]
pub struct Timers {
    heap: RefCell<BinaryHeap<Reverse<(Instant, u32, u32)>>>,
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<u32>>,
    /// The driver task, and when it is set to wake next (None: parked until a waiter comes).
    driver: RefCell<Option<Waker>>,
    armed: Cell<Option<Instant>>,
}

impl Timers {
    /// Resolves at `deadline` (precise to the runtime's timer, about a millisecond).
    pub async fn sleep_until(&self, deadline: Instant) {
        if deadline <= Instant::now() {
            return;
        }
        let slot = {
            let mut slots = self.slots.borrow_mut();
            let i = match self.free.borrow_mut().pop() {
                Some(i) => i,
                None => {
                    slots.push(Slot::default());
                    (slots.len() - 1) as u32
                }
            };
            let s = &mut slots[i as usize];
            s.fired = false;
            s.waker = None;
            s.round = s.round.wrapping_add(1);
            self.heap.borrow_mut().push(Reverse((deadline, i, s.round)));
            i
        };
        let _free = FreeSlot(self, slot);
        if self.armed.get().is_none_or(|a| deadline < a)
            && let Some(w) = self.driver.borrow_mut().take()
        {
            w.wake();
        }
        poll_fn(|cx| {
            let mut slots = self.slots.borrow_mut();
            let s = &mut slots[slot as usize];
            if s.fired {
                return Poll::Ready(());
            }
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Wakes the waiters whose deadline has passed; the earliest deadline left.
    fn fire(&self, now: Instant) -> Option<Instant> {
        let mut heap = self.heap.borrow_mut();
        let mut slots = self.slots.borrow_mut();
        while let Some(Reverse((d, i, round))) = heap.peek().copied() {
            if d > now {
                return Some(d);
            }
            heap.pop();
            if let Some(s) = slots.get_mut(i as usize)
                && s.round == round
            {
                s.fired = true;
                if let Some(w) = s.waker.take() {
                    w.wake();
                }
            }
        }
        None
    }

    /// The shard's timer task: runs for the shard's life.
    pub async fn drive(&self) {
        loop {
            let next = self.fire(Instant::now());
            self.armed.set(next);
            match next {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    monoio::select! {
                        _ = monoio::time::sleep(left) => {},
                        _ = self.kicked() => {},
                    }
                }
                None => self.kicked().await,
            }
        }
    }

    /// Resolves when a waiter with an earlier deadline than the armed one arrives.
    async fn kicked(&self) {
        let mut first = true;
        poll_fn(|cx| {
            if first {
                first = false;
                *self.driver.borrow_mut() = Some(cx.waker().clone());
                return Poll::Pending;
            }
            if self.driver.borrow().is_none() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

struct FreeSlot<'a>(&'a Timers, u32);

impl Drop for FreeSlot<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.0.slots.borrow_mut().get_mut(self.1 as usize) {
            s.waker = None;
            s.fired = false;
            s.round = s.round.wrapping_add(1);
        }
        self.0.free.borrow_mut().push(self.1);
    }
}
