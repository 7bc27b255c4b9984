//! Parked idle connections. A client connection that stays idle (keep-alive, or not yet spoken)
//! for `PARK_AFTER` gives up its task: its socket joins the shard's epoll set and a record of
//! ~100 bytes, and the shard's parker task spawns it a new task when bytes (or a close) arrive.
//! A waiting task costs ~1.3 KB of user memory per connection (future, task header, io_uring op
//! slot); nginx keeps ~500–750 bytes per idle connection; a parked connection keeps the record.
//! Busy keep-alive connections never park, so the request path is unchanged.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;
use tracing::{debug, warn};

use super::context::{ConnSlot, ShardCtx};

/// How long a connection waits in its own task before parking. Parking and resuming cost a few
/// syscalls (dup, two epoll_ctl, close), nothing next to a second of idleness.
pub const PARK_AFTER: Duration = Duration::from_secs(1);

/// Ready connections taken from the epoll set per `epoll_wait`.
const BATCH: usize = 256;

/// What a parked connection keeps.
struct Parked {
    /// The connection's place under the connection caps, held while it is parked.
    slot: ConnSlot,
    fd: OwnedFd,
    peer: SocketAddr,
    local: SocketAddr,
    served: u64,
    /// The connection's `$connection` serial, kept across the park.
    serial: u64,
    deadline: Instant,
}

/// A resumed connection, for `session::resume`.
pub struct Resumed {
    pub slot: ConnSlot,
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub served: u64,
    pub serial: u64,
    /// When the idle wait it parked in ends.
    pub deadline: Instant,
}

/// The shard's parked connections: an epoll set (kernel readiness, no task per socket) and a
/// slab of records indexed by the epoll event's data.
pub struct Parking {
    epfd: Option<OwnedFd>,
    slots: RefCell<Vec<Option<Parked>>>,
    free: RefCell<Vec<usize>>,
    /// False once the parker stopped (drain, or its epoll set failed): nothing parks then.
    open: Cell<bool>,
}

impl Default for Parking {
    fn default() -> Self {
        // SAFETY: plain syscall; the result is checked before it is wrapped.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        let epfd = if fd >= 0 {
            // SAFETY: `fd` is a fresh descriptor owned by nobody else.
            Some(unsafe { OwnedFd::from_raw_fd(fd) })
        } else {
            warn!(
                "epoll_create1: {}; idle connections keep their tasks",
                std::io::Error::last_os_error()
            );
            None
        };
        Parking {
            epfd,
            slots: RefCell::default(),
            free: RefCell::default(),
            open: Cell::new(false),
        }
    }
}

impl Parking {
    /// Whether `park` can take connections now.
    /// Parked connections per listen address (for metrics; walks the records).
    pub fn parked_by_listener(&self) -> std::collections::HashMap<SocketAddr, u64> {
        let mut by = std::collections::HashMap::new();
        for p in self.slots.borrow().iter().flatten() {
            *by.entry(p.local).or_default() += 1;
        }
        by
    }

    pub fn is_open(&self) -> bool {
        self.open.get()
    }

    /// Parked connections right now.
    pub fn len(&self) -> usize {
        self.slots.borrow().len() - self.free.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parks a connection by a duplicate of its socket (`Transport::park_fd`: the stream may
    /// still be referenced by the cancelled readiness wait); the caller then drops the stream.
    /// On failure the slot comes back and the stream stays usable.
    pub fn park(
        &self,
        slot: ConnSlot,
        fd: OwnedFd,
        peer: SocketAddr,
        local: SocketAddr,
        (served, serial): (u64, u64),
        deadline: Instant,
    ) -> Result<(), ConnSlot> {
        let Some(epfd) = self.epfd.as_ref().filter(|_| self.open.get()) else {
            return Err(slot);
        };
        let i = self.free.borrow_mut().pop().unwrap_or_else(|| {
            let mut slots = self.slots.borrow_mut();
            slots.push(None);
            slots.len() - 1
        });
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLONESHOT) as u32,
            u64: i as u64,
        };
        // SAFETY: both descriptors are open and owned; `ev` outlives the call.
        let r = unsafe {
            libc::epoll_ctl(
                epfd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut ev,
            )
        };
        if r != 0 {
            debug!("epoll_ctl(ADD): {}", std::io::Error::last_os_error());
            self.free.borrow_mut().push(i);
            return Err(slot);
        }
        self.slots.borrow_mut()[i] = Some(Parked {
            slot,
            fd,
            peer,
            local,
            served,
            serial,
            deadline,
        });
        Ok(())
    }

    /// Takes slot `i` out of the set and makes its socket a stream again: None when the slot
    /// is empty, `Some(None)` when the connection was lost on the way (and is closed, its
    /// place given back).
    fn take(&self, i: usize) -> Option<Option<Resumed>> {
        let p = self.slots.borrow_mut().get_mut(i)?.take()?;
        self.free.borrow_mut().push(i);
        if let Some(epfd) = &self.epfd {
            // The registration must go: epoll keys it by (file, fd), so a later park of the
            // same socket under another descriptor would leave a stale entry in the kernel.
            // SAFETY: both descriptors are open.
            unsafe {
                libc::epoll_ctl(
                    epfd.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    p.fd.as_raw_fd(),
                    std::ptr::null_mut(),
                );
            }
        }
        Some(match TcpStream::from_std(std::net::TcpStream::from(p.fd)) {
            Ok(stream) => Some(Resumed {
                slot: p.slot,
                stream,
                peer: p.peer,
                local: p.local,
                served: p.served,
                serial: p.serial,
                deadline: p.deadline,
            }),
            Err(e) => {
                debug!("resuming a parked connection: {e}");
                None
            }
        })
    }

    /// Closes parked connections whose idle deadline has passed.
    pub fn expire(&self, now: Instant) {
        // Dropped after the borrows end: a record's slot refers back to the shard.
        let mut closed = Vec::new();
        {
            let mut slots = self.slots.borrow_mut();
            let mut free = self.free.borrow_mut();
            for (i, s) in slots.iter_mut().enumerate() {
                if s.as_ref().is_some_and(|p| p.deadline <= now) {
                    // Closing the only descriptor also removes it from the epoll set.
                    closed.extend(s.take());
                    free.push(i);
                }
            }
        }
        drop(closed);
    }

    /// Closes every parked connection (drain).
    fn close_all(&self) {
        self.open.set(false);
        let all = std::mem::take(&mut *self.slots.borrow_mut());
        self.free.borrow_mut().clear();
        drop(all);
    }
}

/// The shard's parker: waits for the epoll set to turn readable and resumes the ready
/// connections; on drain it closes the parked ones (idle keep-alive connections close on a
/// graceful stop anyway).
pub async fn run(ctx: Rc<ShardCtx>) {
    let parking = &ctx.parking;
    let Some(epfd) = parking.epfd.as_ref() else {
        return;
    };
    // The epoll descriptor is waited on through monoio's readiness wait, which any pollable
    // descriptor supports; the stream type is only a carrier and nothing else is called on it.
    let waiter = match epfd
        .try_clone()
        .map(std::net::TcpStream::from)
        .and_then(TcpStream::from_std)
    {
        Ok(w) => w,
        Err(e) => {
            warn!("parking idle connections disabled: {e}");
            return;
        }
    };
    parking.open.set(true);
    // SAFETY: epoll_event is plain old data.
    let mut events: Vec<libc::epoll_event> = vec![unsafe { std::mem::zeroed() }; BATCH];
    loop {
        let ready = monoio::select! {
            r = waiter.readable(false) => r.map_err(|e| warn!("parked connections: {e}")).is_ok(),
            _ = ctx.drain.wait() => false,
        };
        if !ready {
            break;
        }
        loop {
            // SAFETY: `events` holds BATCH entries; timeout 0 never blocks.
            let n =
                unsafe { libc::epoll_wait(epfd.as_raw_fd(), events.as_mut_ptr(), BATCH as i32, 0) };
            if n <= 0 {
                break;
            }
            for ev in &events[..n as usize] {
                let i = ev.u64 as usize;
                if let Some(Some(r)) = parking.take(i) {
                    monoio::spawn(super::session::resume(r));
                }
            }
            if (n as usize) < BATCH {
                break;
            }
        }
    }
    parking.close_all();
}
