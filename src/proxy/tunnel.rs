//! After a 101: bytes relayed both ways until either side closes (WebSocket and other upgrades),
//! or until nothing has moved either way for the location's `proxy_read_timeout`, as nginx
//! closes an upgraded connection ("upstream timed out").

use std::cell::Cell;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Split, Splitable};
use tracing::debug;

use crate::net::io::write_all;

/// `limit`: for the first writes (the 101 and what came with it); `idle`: how long the tunnel
/// may carry nothing either way.
pub async fn run<S, U>(
    mut client: S,
    mut up: U,
    to_client: Vec<u8>,
    to_up: Vec<u8>,
    limit: Duration,
    idle: Duration,
) where
    S: AsyncReadRent + AsyncWriteRent + Split,
    U: AsyncReadRent + AsyncWriteRent + Split,
{
    if write_all(&mut client, to_client, limit).await.is_err() {
        return;
    }
    if !to_up.is_empty() && write_all(&mut up, to_up, limit).await.is_err() {
        return;
    }
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = up.into_split();
    // Dropping both halves then closes both sockets.
    relay(&mut cr, &mut cw, &mut ur, &mut uw, idle).await;
}

/// Bytes both ways, client (`cr`, `cw`) and upstream (`ur`, `uw`), until either direction
/// ends, or `idle` passes with no bytes read either way: that ends the tunnel. A write that
/// cannot go on (a peer that stopped reading) stops its direction's reads too, so it ends
/// the tunnel the same way.
pub async fn relay<CR, CW, UR, UW>(
    cr: &mut CR,
    cw: &mut CW,
    ur: &mut UR,
    uw: &mut UW,
    idle: Duration,
) where
    CR: AsyncReadRent,
    CW: AsyncWriteRent,
    UR: AsyncReadRent,
    UW: AsyncWriteRent,
{
    let moved = Cell::new(Instant::now());
    monoio::select! {
        _ = pump(cr, uw, &moved) => {},
        _ = pump(ur, cw, &moved) => {},
        _ = quiet_for(&moved, idle) => {
            debug!("tunnel closed: nothing moved for {idle:?} (proxy_read_timeout)");
        },
    }
}

/// Ready once `idle` has passed since `moved` last changed.
async fn quiet_for(moved: &Cell<Instant>, idle: Duration) {
    loop {
        let until = moved.get() + idle;
        if Instant::now() >= until {
            return;
        }
        // Boxed: monoio's timer is large and 128-byte aligned; the tunnel is a rare path.
        Box::pin(monoio::time::sleep_until(until.into())).await;
    }
}

async fn pump<R: AsyncReadRent, W: AsyncWriteRent>(r: &mut R, w: &mut W, moved: &Cell<Instant>) {
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        buf.clear();
        let (res, b) = r.read(buf).await;
        buf = b;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => moved.set(Instant::now()),
        }
        let (res, b) = w.write_all(buf).await;
        buf = b;
        if res.is_err() {
            return;
        }
    }
}
