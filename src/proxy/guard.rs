//! No input can take down a shard: a panic in one connection's task (a bug, never a reaction
//! input is meant to have) is caught at the task's edge. The connection closes (its future,
//! and with it its sockets and buffers, is dropped), the panic is logged with its message, and
//! the shard goes on serving every other connection.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use tracing::error;

/// Runs one connection's future; a panic while polling it ends that connection only.
pub fn catch_panic<F: Future<Output = ()>>(conn: F, peer: SocketAddr) -> CatchPanic<F> {
    CatchPanic { conn, peer }
}

pin_project_lite::pin_project! {
    /// The connection's future and its peer, nothing more: an `async fn` taking the future as
    /// an argument kept it twice in its state (measured: 6,744 bytes of task for a 3,328-byte
    /// TLS connection future).
    pub struct CatchPanic<F> {
        #[pin]
        conn: F,
        peer: SocketAddr,
    }
}

impl<F: Future<Output = ()>> Future for CatchPanic<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let conn = this.conn;
        // Unwind safety: after a panic the future is never polled again, only dropped; the
        // shard state it touched is in `Cell`s and `RefCell`s whose borrows unwound with it.
        match catch_unwind(AssertUnwindSafe(|| conn.poll(cx))) {
            Ok(p) => p,
            Err(payload) => {
                error!(
                    peer = %this.peer,
                    "connection task panicked, connection closed: {}",
                    message(&*payload)
                );
                Poll::Ready(())
            }
        }
    }
}

fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// Test-only fault injection (debug builds): a request whose target is exactly the value of
/// `RINGWAY_TEST_PANIC_TARGET` panics its connection's task, so tests can prove the shard
/// survives one; `RINGWAY_TEST_KILL_SHARD_TARGET` panics a task of the shard's own, outside any
/// connection, so tests can prove a dead shard stops the process;
/// `RINGWAY_TEST_STALL_SHARD_TARGET` blocks the shard's thread for 3 s, so tests can prove a
/// metrics scrape does not wait for a shard that does not answer.
#[cfg(debug_assertions)]
pub fn fault_hook(target: &[u8]) {
    thread_local! {
        static TARGETS: [Option<Vec<u8>>; 3] = [
            "RINGWAY_TEST_PANIC_TARGET",
            "RINGWAY_TEST_KILL_SHARD_TARGET",
            "RINGWAY_TEST_STALL_SHARD_TARGET",
        ]
        .map(|name| std::env::var_os(name).map(|v| v.into_encoded_bytes()));
    }
    TARGETS.with(|[connection, shard, stall]| {
        if stall.as_deref() == Some(target) {
            std::thread::sleep(std::time::Duration::from_secs(3));
        }
        if connection.as_deref() == Some(target) {
            panic!("test fault hook: panic requested for this target");
        }
        if shard.as_deref() == Some(target) {
            monoio::spawn(async { panic!("test fault hook: shard task panic requested") });
        }
    });
}
