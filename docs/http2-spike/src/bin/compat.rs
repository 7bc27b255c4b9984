//! Spike: HTTP/2 with prior knowledge (h2c) on monoio's io_uring runtime, the `h2` crate driven
//! over monoio's monoio-compat StreamWrapper (ring reads/writes behind tokio traits). Every stream gets 200 with a 100-byte body.
use bytes::Bytes;
use monoio::net::TcpListener;
use monoio_compat::StreamWrapper;

const BODY: &[u8; 100] = &[b'x'; 100];

async fn serve(stream: monoio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let io = StreamWrapper::new_with_buffer_size(stream, 16 * 1024, 16 * 1024);
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
            .header("server", "h2spike-compat")
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
        .unwrap_or(8086);
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
