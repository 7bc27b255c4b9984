//! Spike: HTTP/2 with prior knowledge (h2c) on monoio's io_uring runtime, the `h2` crate driven
//! over monoio's poll-io bridge. Every stream gets 200 with a 100-byte body.
use monoio::io::IntoPollIo;

async fn serve(stream: monoio::net::TcpStream) {
    if let Ok(io) = stream.into_poll_io() {
        h2spike::answer_streams(io, "h2spike").await;
    }
}

fn main() {
    h2spike::run(8082, serve);
}
