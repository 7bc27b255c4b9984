//! An idle connection when its shard drains (graceful stop, or a binary upgrade's SIGWINCH).
//!
//! nginx closes idle connections at once. A client in a tight keep-alive loop, or one that has
//! just connected, is then often already sending its request: the close cuts it (a reset, or an
//! empty answer) though the request was never read. ringway gives such a connection a short
//! while for bytes on their way; a request that comes is served with `Connection: close` (the
//! drain is set), one that does not closes the connection as before.

use std::time::Duration;

use crate::net::transport::Transport;

/// How long an idle connection of a draining shard waits for a request already on its way.
pub const DRAIN_LINGER: Duration = Duration::from_millis(500);

/// Whether bytes (or the client's close) arrive within `DRAIN_LINGER`.
pub async fn request_arrives<S: Transport>(stream: &S) -> bool {
    monoio::select! {
        r = stream.readable() => r.is_ok(),
        _ = monoio::time::sleep(DRAIN_LINGER) => false,
    }
}
