//! What the spike's servers share: one io_uring runtime accepting on 127.0.0.1:PORT, and the
//! answer to every stream (200 with a 100-byte body) for those built on the `h2` crate.
use std::future::Future;

use bytes::Bytes;
use monoio::net::{TcpListener, TcpStream};

pub const BODY: &[u8; 100] = &[b'x'; 100];

/// Serves each accepted connection with `serve` on a single-threaded io_uring runtime; the port
/// is the first argument, else `default_port`.
pub fn run<F: Future<Output = ()> + 'static>(default_port: u16, serve: fn(TcpStream) -> F) {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(default_port);
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(1024)
        .enable_timer()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
        loop {
            if let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                monoio::spawn(serve(stream));
            }
        }
    });
}

/// The `h2` crate's server on `io`: 200 with `BODY` to every stream, `server: NAME`.
pub async fn answer_streams<T>(io: T, name: &'static str)
where
    T: monoio::io::poll_io::AsyncRead + monoio::io::poll_io::AsyncWrite + Unpin,
{
    let Ok(mut conn) = h2::server::Builder::new()
        .max_concurrent_streams(128)
        .handshake::<_, Bytes>(io)
        .await
    else {
        return;
    };
    while let Some(Ok((_req, mut respond))) = conn.accept().await {
        let resp = http::Response::builder()
            .status(200)
            .header("server", name)
            .header("content-type", "text/plain")
            .header("content-length", "100")
            .body(());
        let Ok(resp) = resp else { continue };
        if let Ok(mut send) = respond.send_response(resp, false) {
            let _ = send.send_data(Bytes::from_static(BODY), true);
        }
    }
}
