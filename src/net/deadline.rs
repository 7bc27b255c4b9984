//! Time limits on socket reads and writes (`proxy_read_timeout`, `send_timeout`, ...).
//!
//! A monoio timer per operation costs a wheel insert and remove, a timer entry and ~900
//! instructions; a small proxied request makes three timed operations, and dropping them saved
//! 7% of its CPU time (16.8 against 15.6 µs, `loadtest/ab-env.sh`). Here a limit is a slot in
//! a shard-local table that the shard's sweeper walks every `SWEEP`, as the idle deadlines of
//! `Drain` are: an operation that overruns fails up to a `SWEEP` after its limit. Limits under
//! `COARSE_MIN` keep monoio's precise timer, so no limit is ever more than 5% late.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How often a shard's sweeper fires expired limits and idle deadlines.
pub const SWEEP: Duration = Duration::from_millis(250);

/// The shortest limit the sweep times (5% of it is one `SWEEP`, 250 ms).
pub const COARSE_MIN: Duration = Duration::from_secs(5);

/// The operation did not finish within its limit (it has been dropped, so cancelled).
#[derive(Debug, PartialEq, Eq)]
pub struct Elapsed;

/// Waiters with deadlines, fired by a sweep rather than a timer each: the table behind
/// `within`'s limits and `Drain`'s idle waits. A slot is taken at a waiter's first wait and
/// given back when it ends; free slots are reused.
#[derive(Default)]
pub struct Slots {
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<usize>>,
    used: Cell<usize>,
}

struct Slot {
    /// None: woken only by `wake_all`.
    deadline: Option<Instant>,
    waker: Option<Waker>,
    expired: bool,
    used: bool,
}

impl Slots {
    /// A slot for a waiter (woken through `waker`) until `deadline`.
    pub fn take(&self, deadline: Option<Instant>, waker: &Waker) -> usize {
        let slot = Slot {
            deadline,
            waker: Some(waker.clone()),
            expired: false,
            used: true,
        };
        self.used.set(self.used.get() + 1);
        let mut slots = self.slots.borrow_mut();
        match self.free.borrow_mut().pop() {
            Some(i) => {
                slots[i] = slot;
                i
            }
            None => {
                slots.push(slot);
                slots.len() - 1
            }
        }
    }

    /// Whether slot `i`'s deadline has passed; if not, the waker to wake when it does is kept
    /// current.
    pub fn expired(&self, i: usize, waker: &Waker) -> bool {
        let mut slots = self.slots.borrow_mut();
        let s = &mut slots[i];
        if s.expired {
            return true;
        }
        if !s.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            s.waker = Some(waker.clone());
        }
        false
    }

    pub fn give_back(&self, i: usize) {
        if let Some(s) = self.slots.borrow_mut().get_mut(i) {
            s.used = false;
            s.waker = None;
            self.used.set(self.used.get() - 1);
            self.free.borrow_mut().push(i);
        }
    }

    /// Wakes the waiters whose deadline has passed by `now`.
    pub fn expire(&self, now: Instant) {
        for s in self.slots.borrow_mut().iter_mut() {
            if s.used && !s.expired && s.deadline.is_some_and(|d| d <= now) {
                s.expired = true;
                if let Some(w) = s.waker.take() {
                    w.wake();
                }
            }
        }
    }

    /// Wakes every waiter (a drain).
    pub fn wake_all(&self) {
        for s in self.slots.borrow_mut().iter_mut() {
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }

    /// Waiters holding a slot.
    pub fn used(&self) -> usize {
        self.used.get()
    }
}

thread_local! {
    /// This thread's limits: each shard is one thread, so nothing here is shared.
    static TABLE: Slots = Slots::default();
    /// Whether a sweeper runs on this thread (a shard's); elsewhere (tests, helper threads)
    /// every limit takes the precise timer.
    static SWEPT: Cell<bool> = const { Cell::new(false) };
}

pin_project_lite::pin_project! {
    /// `fut` with a time limit: see `within`.
    pub struct Within<F> {
        #[pin]
        fut: F,
        // None: too far off to represent, never expires.
        deadline: Option<Instant>,
        swept: bool,
        slot: Option<SlotGuard>,
        // Boxed, and made only when used: inline, it would make every timed operation's
        // future (moved into place at each call) the size and 128-byte alignment of monoio's
        // timer entry.
        precise: Option<Pin<Box<monoio::time::Sleep>>>,
    }
}

/// Runs `fut` to completion, or fails with `Elapsed` once `limit` has passed. The operation's
/// result wins over an expiry found at the same poll.
pub fn within<F: Future>(limit: Duration, fut: F) -> Within<F> {
    Within {
        fut,
        deadline: Instant::now().checked_add(limit),
        swept: limit >= COARSE_MIN && SWEPT.with(Cell::get),
        slot: None,
        precise: None,
    }
}

impl<F: Future> Future for Within<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.fut.poll(cx) {
            // The slot goes back now, not when the finished future is dropped.
            *this.slot = None;
            return Poll::Ready(Ok(v));
        }
        let Some(deadline) = *this.deadline else {
            return Poll::Pending;
        };
        if !*this.swept {
            let sleep = this
                .precise
                .get_or_insert_with(|| Box::pin(monoio::time::sleep_until(deadline.into())));
            return match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
                Poll::Pending => Poll::Pending,
            };
        }
        match this.slot {
            // Taken at the first wait only: an operation that finishes at once costs no slot.
            None => {
                *this.slot = Some(SlotGuard(
                    TABLE.with(|t| t.take(Some(deadline), cx.waker())),
                ))
            }
            Some(g) if TABLE.with(|t| t.expired(g.0, cx.waker())) => {
                *this.slot = None;
                return Poll::Ready(Err(Elapsed));
            }
            Some(_) => {}
        }
        Poll::Pending
    }
}

/// Wakes the operations whose limit has passed by `now`: the shard's sweeper calls it every
/// `SWEEP`.
pub fn expire(now: Instant) {
    TABLE.with(|t| t.expire(now));
}

/// Marks this thread as swept (`true`, when its sweeper starts) or not (when it stops).
pub fn set_swept(on: bool) {
    SWEPT.with(|s| s.set(on));
}

/// Limits waiting on this thread: a stopping shard keeps sweeping until none is left.
pub fn pending() -> usize {
    TABLE.with(Slots::used)
}

/// One limit's slot in this thread's table, given back when the operation ends either way.
struct SlotGuard(usize);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        // try_with: a task dropped while the thread exits may find the table gone already.
        let _ = TABLE.try_with(|t| t.give_back(self.0));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{COARSE_MIN, Elapsed, SWEEP, expire, pending, set_swept, within};

    fn runtime() -> monoio::Runtime<monoio::time::TimeDriver<monoio::LegacyDriver>> {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap()
    }

    /// A swept limit fails its operation at the first sweep past it, not before, and frees its
    /// slot; an operation that finishes in time keeps its result. The sweeps are driven by hand
    /// with a clock shifted past the limit, so this takes no real minute.
    #[test]
    fn swept_limit_expires_at_the_first_sweep_past_it() {
        runtime().block_on(async {
            set_swept(true);
            let limit = Duration::from_secs(60);
            let start = Instant::now();
            let never = std::future::pending::<()>();
            let mut timed = std::pin::pin!(within(limit, never));
            // First poll: the operation waits and takes a slot.
            assert!(futures_poll(&mut timed).is_none());
            assert_eq!(pending(), 1);
            expire(start + limit - SWEEP);
            assert!(
                futures_poll(&mut timed).is_none(),
                "expired before its limit"
            );
            expire(start + limit + SWEEP);
            assert_eq!(futures_poll(&mut timed), Some(Err(Elapsed)));
            assert_eq!(pending(), 0, "the slot is given back");

            // In time: the result, and the slot back.
            let v = within(limit, async { 7 }).await;
            assert_eq!(v, Ok(7));
            let v = within(limit, async {
                monoio::time::sleep(Duration::from_millis(5)).await;
                8
            })
            .await;
            assert_eq!(v, Ok(8));
            assert_eq!(pending(), 0);
            set_swept(false);
        });
    }

    /// Short limits, and threads with no sweeper, take monoio's precise timer: the limit fires
    /// on time with no sweep at all.
    #[test]
    fn short_or_unswept_limits_use_the_precise_timer() {
        runtime().block_on(async {
            set_swept(true);
            let t = Instant::now();
            let r = within(Duration::from_millis(50), std::future::pending::<()>()).await;
            assert_eq!(r, Err(Elapsed));
            assert!(t.elapsed() < Duration::from_secs(2));
            assert_eq!(pending(), 0, "no slot taken");
            assert!(Duration::from_millis(50) < COARSE_MIN);
            set_swept(false);
            let mut unswept = std::pin::pin!(within(
                Duration::from_secs(60),
                std::future::pending::<()>()
            ));
            assert!(futures_poll(&mut unswept).is_none());
            assert_eq!(pending(), 0, "no sweeper here: monoio's timer, no slot");
        });
    }

    /// Polls once with a no-op waker: Some(output) when ready.
    fn futures_poll<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::Pin::new(f).poll(&mut cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }
}
