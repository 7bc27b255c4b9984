//! After a 101: bytes relayed both ways until either side closes (WebSocket and other upgrades).

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Split, Splitable};

use crate::net::io::write_all;

pub async fn run<S, U>(
    mut client: S,
    mut up: U,
    to_client: Vec<u8>,
    to_up: Vec<u8>,
    limit: std::time::Duration,
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
    relay(&mut cr, &mut cw, &mut ur, &mut uw).await;
}

/// Bytes both ways, client (`cr`, `cw`) and upstream (`ur`, `uw`), until either direction
/// ends: that ends the tunnel.
pub async fn relay<CR, CW, UR, UW>(cr: &mut CR, cw: &mut CW, ur: &mut UR, uw: &mut UW)
where
    CR: AsyncReadRent,
    CW: AsyncWriteRent,
    UR: AsyncReadRent,
    UW: AsyncWriteRent,
{
    monoio::select! {
        _ = pump(cr, uw) => {},
        _ = pump(ur, cw) => {},
    }
}

async fn pump<R: AsyncReadRent, W: AsyncWriteRent>(r: &mut R, w: &mut W) {
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        buf.clear();
        let (res, b) = r.read(buf).await;
        buf = b;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (res, b) = w.write_all(buf).await;
        buf = b;
        if res.is_err() {
            return;
        }
    }
}
