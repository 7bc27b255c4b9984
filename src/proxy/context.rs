//! What a shard hands to its connections: the current config generation, the buffer and pipe
//! pools, and the drain signal. All shard-local (`Rc`, `Cell`): no locks on the request path.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::buffers::{BufPool, PipePool};
use crate::route::{self, Location, VirtualHosts};
use crate::upstream::Group;

pub struct ListenerRt {
    pub addr: SocketAddr,
    pub backlog: i32,
    pub hosts: VirtualHosts,
    /// Settings in force before a request is routed (the default server's): header limits and
    /// timeouts for reading the head.
    pub defaults: Rc<Location>,
}

/// One compiled config generation. Reload swaps the shard's `Rc<Generation>`; requests already
/// running keep the one they started with.
pub struct Generation {
    pub listeners: Vec<ListenerRt>,
    pub upstreams: Vec<Group>,
}

impl Generation {
    pub fn new(compiled: route::Compiled) -> Generation {
        let upstreams = compiled.upstreams.iter().map(Group::new).collect();
        let listeners = compiled
            .listeners
            .into_iter()
            .filter_map(|l| {
                let defaults = l.hosts.default_server()?.locations.fallback()?.clone();
                Some(ListenerRt {
                    addr: l.addr,
                    backlog: l.backlog,
                    hosts: l.hosts,
                    defaults,
                })
            })
            .collect();
        Generation {
            listeners,
            upstreams,
        }
    }

    pub fn listener(&self, addr: SocketAddr) -> Option<&ListenerRt> {
        self.listeners.iter().find(|l| l.addr == addr)
    }
}

pub struct ShardCtx {
    pub id: usize,
    pub generation: RefCell<Rc<Generation>>,
    pub bufs: BufPool,
    pub pipes: PipePool,
    pub drain: Drain,
    /// Open downstream connections (graceful stop waits for zero).
    pub connections: Cell<usize>,
    /// Known-length body remainders at least this long are spliced, shorter ones copied.
    pub splice_min: u64,
}

impl ShardCtx {
    pub fn new(id: usize, generation: Generation) -> ShardCtx {
        ShardCtx {
            id,
            generation: RefCell::new(Rc::new(generation)),
            bufs: BufPool::default(),
            pipes: PipePool::default(),
            drain: Drain::default(),
            connections: Cell::new(0),
            splice_min: super::body::splice_min_from_env(),
        }
    }

    pub fn current(&self) -> Rc<Generation> {
        self.generation.borrow().clone()
    }
}

/// A one-way shard-local signal ("stop accepting, finish up") that idle connections await.
/// Waiters are kept in slots so that a wait that ends some other way removes its waker.
#[derive(Default)]
pub struct Drain {
    set: Cell<bool>,
    slots: RefCell<Vec<Option<Waker>>>,
    free: RefCell<Vec<usize>>,
}

impl Drain {
    pub fn is_set(&self) -> bool {
        self.set.get()
    }

    pub fn trigger(&self) {
        self.set.set(true);
        for w in self.slots.borrow_mut().iter_mut() {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
    }

    /// Resolves once `trigger` has been called.
    pub async fn wait(&self) {
        let mut slot: Option<usize> = None;
        let guard = SlotGuard {
            drain: self,
            slot: &mut slot,
        };
        poll_fn(|cx| {
            if self.set.get() {
                return Poll::Ready(());
            }
            let mut slots = self.slots.borrow_mut();
            match *guard.slot {
                Some(i) => slots[i] = Some(cx.waker().clone()),
                None => {
                    let i = match self.free.borrow_mut().pop() {
                        Some(i) => {
                            slots[i] = Some(cx.waker().clone());
                            i
                        }
                        None => {
                            slots.push(Some(cx.waker().clone()));
                            slots.len() - 1
                        }
                    };
                    *guard.slot = Some(i);
                }
            }
            Poll::Pending
        })
        .await
    }
}

struct SlotGuard<'a> {
    drain: &'a Drain,
    slot: &'a mut Option<usize>,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.slot.take() {
            if let Some(s) = self.drain.slots.borrow_mut().get_mut(i) {
                *s = None;
            }
            self.drain.free.borrow_mut().push(i);
        }
    }
}
