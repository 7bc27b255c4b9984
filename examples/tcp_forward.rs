//! A bare TCP forwarder on ringway's runtime (monoio on io_uring, the same ring flags), for
//! `loadtest/floor.sh`: each client connection is piped to a backend connection of its own, no
//! parsing, so its CPU per request is what the sockets and the runtime cost with next to no
//! proxy work. Not part of ringway.
//!   cargo build --release --example tcp_forward
//!   target/release/examples/tcp_forward 127.0.0.1:21091 127.0.0.1:21090

use std::net::SocketAddr;

use monoio::io::{Splitable, copy};
use monoio::net::{TcpListener, TcpStream};

fn main() {
    let mut args = std::env::args().skip(1);
    let parse = |a: Option<String>| a.and_then(|s| s.parse::<SocketAddr>().ok());
    let (Some(listen), Some(backend)) = (parse(args.next()), parse(args.next())) else {
        eprintln!("usage: tcp_forward LISTEN_ADDR BACKEND_ADDR");
        std::process::exit(2);
    };
    let mut ring = io_uring::IoUring::builder();
    ring.setup_coop_taskrun().setup_single_issuer();
    let rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(32768)
        .uring_builder(ring)
        .build();
    let mut rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tcp_forward: io_uring runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(async move {
        let listener = match TcpListener::bind(listen) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("tcp_forward: bind {listen}: {e}");
                std::process::exit(1);
            }
        };
        while let Ok((client, _)) = listener.accept().await {
            monoio::spawn(pipe(client, backend));
        }
    });
}

async fn pipe(client: TcpStream, backend: SocketAddr) {
    let Ok(up) = TcpStream::connect(backend).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = up.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = up.into_split();
    let back = monoio::spawn(async move { copy(&mut ur, &mut cw).await });
    let _ = copy(&mut cr, &mut uw).await;
    let _ = back.await;
}
