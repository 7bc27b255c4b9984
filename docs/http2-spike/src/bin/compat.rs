//! Spike: HTTP/2 with prior knowledge (h2c) on monoio's io_uring runtime, the `h2` crate driven
//! over monoio-compat's StreamWrapper (ring reads/writes behind tokio traits). Every stream gets
//! 200 with a 100-byte body.
use monoio_compat::StreamWrapper;

async fn serve(stream: monoio::net::TcpStream) {
    let io = StreamWrapper::new_with_buffer_size(stream, 16 * 1024, 16 * 1024);
    h2spike::answer_streams(io, "h2spike-compat").await;
}

fn main() {
    h2spike::run(8086, serve);
}
