//! Spike: h2c on monoio with monoio-http's h2 fork, which reads and writes through monoio's
//! owned-buffer (completion) traits directly: no poll-io bridge.
use bytes::Bytes;
use monoio_http::h2;

async fn serve(stream: monoio::net::TcpStream) {
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
            let _ = send.send_data(Bytes::from_static(h2spike::BODY), true);
        }
    }
}

fn main() {
    h2spike::run(8084, serve);
}
