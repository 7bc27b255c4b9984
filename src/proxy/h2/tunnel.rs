//! An HTTP/2 stream's tunnel (RFC 8441, WebSocket over HTTP/2): once its extended CONNECT was
//! answered with a 101 upstream, the stream's DATA and the upstream connection's bytes are
//! relayed both ways, as an HTTP/1.1 connection's after its upgrade (`proxy::tunnel`).

use std::time::Duration;

use monoio::io::Splitable;

use super::stream::H2Stream;
use crate::net::io::write_all;
use crate::proxy::session::Upgraded;

/// Sends the 101 (as HEADERS 200) and what came after it, then relays until either side
/// ends or nothing moves for `proxy_read_timeout`; the stream ends with END_STREAM (or its
/// reset, when the client's side failed).
pub async fn run(mut stream: H2Stream, u: Upgraded, limit: Duration) {
    let Upgraded {
        mut up,
        to_client,
        to_up,
        held: _held,
        idle,
    } = u;
    // A 101 whose handshake does not check out is answered 502 here, and the write fails.
    let opened = write_all(&mut stream, to_client, limit).await.is_ok() && stream.is_tunnel();
    if !opened || (!to_up.is_empty() && write_all(&mut up, to_up, limit).await.is_err()) {
        stream.finish();
        return;
    }
    let (mut inbound, mut outbound) = stream.into_halves();
    let (mut ur, mut uw) = up.into_split();
    crate::proxy::tunnel::relay(&mut inbound, &mut outbound, &mut ur, &mut uw, idle).await;
    outbound.finish();
}
