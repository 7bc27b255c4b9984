//! Spike: h2c on monoio with monoio-http's h2 fork, which reads and writes through monoio's
//! owned-buffer (completion) traits directly: no poll-io bridge.
use bytes::Bytes;
use monoio::net::TcpListener;
use monoio_http::h2;

const BODY: &[u8; 100] = &[b'x'; 100];

async fn serve(stream: monoio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut conn) = h2::server::Builder::new()
        .max_concurrent_streams(128)
        .handshake::<_, Bytes>(stream)
        .await
    else {
        return;
    };
    while let Some(Ok((_req, mut respond))) = conn.accept().await {
        let resp = http::Response::builder()
            .status(200)
            .header("server", "h2spike-mh")
            .header("content-type", "text/plain")
            .header("content-length", "100")
            .body(());
        let Ok(resp) = resp else { continue };
        if let Ok(mut send) = respond.send_response(resp, false) {
            let _ = send.send_data(Bytes::from_static(BODY), true);
        }
    }
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8084);
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(1024)
        .enable_timer()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
        loop {
            if let Ok((stream, _)) = listener.accept().await {
                monoio::spawn(serve(stream));
            }
        }
    });
}
