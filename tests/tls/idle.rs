//! An idle TLS connection lets go of rustls's buffer of received records (4 KiB once anything
//! was read; vendor/rustls's `release_idle_buffers`) after a second with no request, and serves
//! again afterwards: a body of many records arrives and a large answer leaves through buffers
//! allocated anew. HTTP/1.1 keep-alive over rustls clients, so that the test controls when each
//! connection is idle.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::common::*;

/// Connections held idle for the memory check: enough for their memory to stand out of the
/// process's own (a few MB).
const IDLE_CONNS: usize = 300;
/// What a connection must give back once idle: rustls's record buffer is 4 KiB (with the
/// allocator's share of the pages, a little more).
const RELEASED_BYTES_PER_CONN: i64 = 3 * 1024;

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn client_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&Pki::get().ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn open(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> BufReader<Tls> {
    let conn =
        rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    BufReader::new(rustls::StreamOwned::new(conn, sock))
}

/// One keep-alive request (with `body` when not empty); the status line and the body.
fn request(c: &mut BufReader<Tls>, method: &str, path: &str, body: &[u8]) -> (String, Vec<u8>) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let tls = c.get_mut();
    tls.write_all(head.as_bytes()).unwrap();
    tls.write_all(body).unwrap();
    tls.flush().unwrap();
    let mut status = String::new();
    c.read_line(&mut status).unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        c.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap();
        }
    }
    let mut out = vec![0; length];
    c.read_exact(&mut out).unwrap();
    (status.trim_end().to_string(), out)
}

fn rss_bytes(pid: i32) -> i64 {
    rss_kib(pid) * 1024
}

#[test]
fn an_idle_tls_connection_lets_go_of_its_record_buffer_and_serves_again() {
    let be = large_or_count_backend();
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let rw = Ringway::start(&format!(
        "http {{ upstream be {{ server {}; keepalive 8; }}
  server {{ listen {LISTEN} ssl; server_name localhost; {} keepalive_timeout 60s;
    location / {{ proxy_pass http://be; }} }} }}",
        be.addr,
        leaf.directives()
    ));
    let config = client_config();
    // One connection first, so that what a shard allocates once is not counted per connection.
    let mut warm = open(rw.addr, &config);
    assert_eq!(request(&mut warm, "GET", "/", b"").1, b"got 0 bytes\n");
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_bytes(rw.pid());

    let mut conns: Vec<_> = (0..IDLE_CONNS).map(|_| open(rw.addr, &config)).collect();
    for round in 0..2 {
        // The second round runs within a second (under PARK_AFTER): every connection has just
        // been served when `busy` is read.
        for c in &mut conns {
            let (status, body) = request(c, "GET", &format!("/{round}"), b"");
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert_eq!(body, b"got 0 bytes\n");
        }
    }
    let busy = (rss_bytes(rw.pid()) - before) / IDLE_CONNS as i64;
    // A connection lets go of the buffer after a second with no request; the allocator gives
    // the pages back a purge delay later.
    let deadline = Instant::now() + Duration::from_secs(10);
    let idle = loop {
        let per_conn = (rss_bytes(rw.pid()) - before) / IDLE_CONNS as i64;
        if busy - per_conn >= RELEASED_BYTES_PER_CONN || Instant::now() > deadline {
            break per_conn;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("bytes per TLS connection: {busy} just after its request, {idle} idle");
    assert!(
        busy - idle >= RELEASED_BYTES_PER_CONN,
        "an idle TLS connection holds {idle} bytes, just after its request {busy}: its 4 KiB \
         record buffer was not let go"
    );

    // Served again after the release: a 50,000-byte body (four records and more) arrives
    // through a record buffer allocated anew, and a 256 KiB answer leaves.
    for c in conns.iter_mut().take(3) {
        let upload = pattern(50_000);
        let (status, body) = request(c, "POST", "/upload", &upload);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, b"got 50000 bytes\n");
        let (_, body) = request(c, "GET", "/large", b"");
        assert_bytes_eq(&body, &pattern(256 * 1024), "/large after idle");
    }
    let uploads: Vec<_> = be
        .requests()
        .into_iter()
        .filter(|r| r.target == "/upload")
        .collect();
    assert_eq!(uploads.len(), 3);
    for r in uploads {
        assert_bytes_eq(&r.body, &pattern(50_000), "the upload upstream");
    }
    drop(conns);
}
