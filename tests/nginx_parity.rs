//! Request parsing where ringway differed from nginx on the same config and the same bytes
//! (issue 17, "Where ringway and nginx differ" and "Randomised traffic adds"). Each case was sent
//! to nginx 1.22.1 (Debian 12's, 1.22.1-9+deb12u12, which backports `max_headers`) proxying to a
//! loopback backend with the defaults (`large_client_header_buffers 4 8k`); what nginx answered
//! is written beside each test. Where ringway stays stricter than nginx on purpose, the test says
//! so.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use ringway::http::chunked::MAX_TRAILER_SECTION;

struct Setup {
    backend: Backend,
    rw: Ringway,
}

fn setup() -> Setup {
    setup_with("")
}

/// ringway proxying `/` to an echo backend, with `server_extra` in its server block.
fn setup_with(server_extra: &str) -> Setup {
    let backend = echo_backend();
    let rw = Ringway::start(&proxy_conf_full(backend.addr, server_extra, ""));
    Setup { backend, rw }
}

/// Sends `req` on a fresh connection; asserts a complete 200 and returns it.
#[track_caller]
fn expect_ok(rw: &Ringway, req: &[u8], what: &str) -> Response {
    let mut c = rw.connect();
    c.send(req);
    let r = match c.try_read_response(false, IO_TIMEOUT) {
        Ok(r) => r,
        Err(e) => panic!("{what}: no response: {e}"),
    };
    assert_eq!(r.status, 200, "{what}: {}", r.describe());
    r
}

/// `GET / HTTP/1.1` with the given field lines (each without its CRLF) after `Host: x`.
fn get_with(fields: &[String]) -> Vec<u8> {
    let mut req = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for f in fields {
        req.push_str(f);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// A request line of exactly `len` bytes (CRLF excluded).
fn request_line(len: usize) -> String {
    format!("GET /{} HTTP/1.1", "a".repeat(len - "GET / HTTP/1.1".len()))
}

/// A field line of exactly `len` bytes (CRLF excluded), named `name`.
fn field_line(name: &str, len: usize) -> String {
    format!("{name}: {}", "f".repeat(len - name.len() - 2))
}

// ---------------------------------------------------------------------------------------------
// Content-Length
// ---------------------------------------------------------------------------------------------

/// nginx: `Content-Length: 00005` → 200, the upstream gets `Content-Length: 5` (nginx re-states
/// the length). ringway now reads the value (5) and forwards the normalised value too: the next
/// hop never sees a spelling another parser might read differently (octal, say).
#[test]
fn content_length_with_leading_zeros_is_its_value() {
    let s = setup();
    let mut c = s.rw.connect();
    // Pipelined: the framing must end the first body after exactly 5 bytes.
    c.send(b"POST /zeros HTTP/1.1\r\nHost: x\r\nContent-Length: 00005\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    let r2 = c.read_response();
    assert_eq!(r2.status, 200, "{}", r2.describe());
    let got = s.backend.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].target, "/zeros");
    assert_eq!(got[0].body, b"hello");
    assert_eq!(got[0].headers_named("content-length"), ["5"]);
    assert_eq!(got[1].target, "/next");

    // Zero written as zeros, and a value with more zeros than u64 has digits.
    let r = expect_ok(
        &s.rw,
        b"POST /zero HTTP/1.1\r\nHost: x\r\nContent-Length: 000\r\n\r\n",
        "CL 000",
    );
    assert_eq!(r.header("x-body-len"), Some("0"));
    let r = expect_ok(
        &s.rw,
        b"POST /long HTTP/1.1\r\nHost: x\r\nContent-Length: 0000000000000000000000005\r\n\r\nhello",
        "CL with 25 digits",
    );
    assert_eq!(r.header("x-body-len"), Some("5"));
    let last = s.backend.requests().pop().unwrap();
    assert_eq!(last.headers_named("content-length"), ["5"]);

    // Two fields of the same value, spelt differently: RFC 9110 §8.6 lets a recipient take
    // identical values as one (nginx refuses any repeated Content-Length: "client sent
    // duplicate header line", 400; ringway accepted equal repeats before this change too).
    let r = expect_ok(
        &s.rw,
        b"POST /same HTTP/1.1\r\nHost: x\r\nContent-Length: 00005\r\nContent-Length: 5\r\n\r\nhello",
        "CL 00005 and CL 5",
    );
    assert_eq!(r.header("x-body-len"), Some("5"));
    // What the backend read, split by the strict reader: one `Content-Length` each, no zeros,
    // and no request more than were sent.
    let wire = common::wire::received(&s.backend);
    assert_eq!(wire.len(), 5);
    let lengths: Vec<Option<&str>> = wire.iter().map(|r| r.field("content-length")).collect();
    assert_eq!(
        lengths,
        [Some("5"), None, Some("0"), Some("5"), Some("5")],
        "{wire:?}"
    );
}

/// nginx: 400 for each (differing repeated values, sign, hex, junk, overflow, CL with TE).
#[test]
fn content_length_still_refused() {
    let s = setup();
    for (what, fields) in [
        (
            "differing fields",
            "Content-Length: 5\r\nContent-Length: 6\r\n",
        ),
        ("differing list", "Content-Length: 00005, 6\r\n"),
        ("plus sign", "Content-Length: +5\r\n"),
        ("hex", "Content-Length: 0x5\r\n"),
        ("trailing junk", "Content-Length: 005a\r\n"),
        ("inner space", "Content-Length: 0 5\r\n"),
        ("overflow", "Content-Length: 99999999999999999999\r\n"),
        (
            "with Transfer-Encoding",
            "Content-Length: 00005\r\nTransfer-Encoding: chunked\r\n",
        ),
    ] {
        let req = format!("POST / HTTP/1.1\r\nHost: x\r\n{fields}\r\nhello!");
        expect_rejected(&s.rw, req.as_bytes(), &[400], what);
    }
    s.backend.assert_untouched("invalid Content-Length");
}

// ---------------------------------------------------------------------------------------------
// Host
// ---------------------------------------------------------------------------------------------

/// nginx 1.22.1: 200 for each (its Host check strips whatever follows the colon). `port =
/// *DIGIT`: valid syntax of any length and value; routing ignores the port, so the request
/// reaches the server named by the host. (nginx ≥ 1.29.4 refuses ports above 65535.)
#[test]
fn host_with_any_port_digits_is_routed_by_name() {
    let named = echo_backend();
    let other = echo_backend();
    let rw = Ringway::start(&format!(
        "http {{\n  server {{\n    listen {LISTEN} default_server;\n    location / {{ proxy_pass http://{}; }}\n  }}\n  server {{\n    listen {LISTEN};\n    server_name name.test;\n    location / {{ proxy_pass http://{}; }}\n  }}\n}}\n",
        other.addr, named.addr
    ));
    for host in [
        "name.test:99999",
        "NAME.test:0000080",
        "name.test:99999999999999999999999",
        "name.test.:65536",
    ] {
        let r = rw.get_host(host, "/port");
        assert_eq!(r.status, 200, "Host: {host}: {}", r.describe());
        let got = named.requests().pop().unwrap();
        assert_eq!(got.header("host"), Some(host), "forwarded as sent");
    }
    assert_eq!(named.request_count(), 4);
    // An absolute-form target's authority counts instead of the Host field.
    let r = expect_ok(
        &rw,
        b"GET http://name.test:99999/abs HTTP/1.1\r\nHost: elsewhere\r\n\r\n",
        "absolute-form with port 99999",
    );
    assert_eq!(named.requests().pop().unwrap().target, "/abs", "{}", r.head);
    assert_eq!(other.request_count(), 0);
    // An IPv6 literal with a large port goes to the default server.
    let r = rw.get_host("[::1]:99999", "/v6");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(other.request_count(), 1);
}

/// What RFC 3986 does not allow stays refused. nginx 1.22.1 answers 400 only to `name/x` and the
/// duplicate Host; it takes the others (its Host check is lax); ringway stays strict there, as
/// the README's list of differences says.
#[test]
fn malformed_hosts_still_refused() {
    let s = setup();
    for host in [
        "name:8a", "name:1:2", "name:-1", "u@name", "name/x", "na me", "[::1",
    ] {
        let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        expect_rejected(&s.rw, req.as_bytes(), &[400], &format!("Host: {host}"));
    }
    expect_rejected(
        &s.rw,
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        &[400],
        "duplicate Host",
    );
    s.backend.assert_untouched("malformed Host");
}

// ---------------------------------------------------------------------------------------------
// Head sizes: large_client_header_buffers
// ---------------------------------------------------------------------------------------------

/// nginx (defaults, 4 8k): a request line of 8190 bytes (8192 with its CRLF: one buffer) → 200;
/// 8191 → 414 "Request-URI Too Large".
#[test]
fn request_line_over_one_buffer_gets_414() {
    let s = setup();
    let line = request_line(8190);
    let req = format!("{line}\r\nHost: x\r\n\r\n");
    expect_ok(&s.rw, req.as_bytes(), "8190-byte request line");
    assert_eq!(s.backend.requests()[0].target.len(), 8190 - 13);
    let line = request_line(8191);
    let req = format!("{line}\r\nHost: x\r\n\r\n");
    expect_rejected(&s.rw, req.as_bytes(), &[414], "8191-byte request line");
    // Known before the line ends.
    let req = request_line(9000);
    expect_rejected(&s.rw, req.as_bytes(), &[414], "9000 bytes, no line end yet");
    assert_eq!(s.backend.request_count(), 1);
}

/// nginx (defaults): one field line of 8190 bytes → 200, forwarded whole; 8191 (8193 with its
/// CRLF: over one 8k buffer) → 400 "Request Header Or Cookie Too Large", nothing forwarded.
/// ringway forwarded it before (only the whole head was bounded).
#[test]
fn field_line_over_one_buffer_gets_400() {
    let s = setup();
    let ok_line = field_line("X-Big", 8190);
    expect_ok(&s.rw, &get_with(&[ok_line]), "8190-byte field line");
    let got = s.backend.requests();
    assert_eq!(got[0].header("x-big").map(str::len), Some(8190 - 7));

    for len in [8191, 9000] {
        let req = get_with(&[field_line("X-Big", len)]);
        let r = expect_rejected(&s.rw, &req, &[400], &format!("{len}-byte field line"));
        assert!(r.says_close(), "{}", r.head);
    }
    // The same among small fields, and a long Cookie (the usual offender).
    let req = get_with(&["A: 1".into(), field_line("Cookie", 8500), "B: 2".into()]);
    expect_rejected(&s.rw, &req, &[400], "8500-byte Cookie between small fields");
    assert_eq!(s.backend.request_count(), 1);
}

/// A field line over one buffer is refused as soon as it overflows, not when the head ends
/// (nginx answers when its buffer fills).
#[test]
fn field_line_over_one_buffer_is_refused_before_the_head_ends() {
    let s = setup();
    let mut c = s.rw.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    c.send("g".repeat(9000).as_bytes());
    let r = c
        .try_read_response(false, Duration::from_secs(3))
        .unwrap_or_else(|e| panic!("no answer while the head is still open: {e}"));
    assert_eq!(r.status, 400, "{}", r.describe());
    s.backend
        .assert_untouched("open head with a long field line");
}

/// nginx (4 8k): four 8000-byte fields → 200 (32,053 bytes of head: they fit the four
/// buffers); five → 400; 31 fields of 1000 bytes → 200, 33 → 400. ringway bounds the head at
/// NUMBER × SIZE, 32 KiB by default as nginx's (it was 16 KiB), and answers 400 as nginx does
/// (it answered 431).
#[test]
fn head_over_all_buffers_gets_400() {
    let s = setup();
    let big = |n: usize| -> Vec<String> {
        (0..n)
            .map(|i| field_line(&format!("X-B{i}"), 8000))
            .collect()
    };
    let small = |n: usize| -> Vec<String> {
        (0..n)
            .map(|i| field_line(&format!("X-F{i:02}"), 998))
            .collect()
    };
    expect_ok(&s.rw, &get_with(&big(4)), "four 8000-byte fields");
    let got = s.backend.requests();
    let forwarded = got[0].headers.iter().filter(|(k, _)| k.starts_with("X-B"));
    assert_eq!(forwarded.count(), 4);
    expect_ok(&s.rw, &get_with(&small(31)), "31 fields of 1000 bytes");
    for (what, fields) in [
        ("five 8000-byte fields", big(5)),
        ("33 fields of 1000 bytes", small(33)),
    ] {
        let r = expect_rejected(&s.rw, &get_with(&fields), &[400], what);
        assert!(r.says_close(), "{}", r.head);
    }
    assert_eq!(s.backend.request_count(), 2);
}

/// The same statuses with a configured `large_client_header_buffers 4 1k`.
#[test]
fn configured_buffers_bound_lines_and_head() {
    let s = setup_with("large_client_header_buffers 4 1k;");
    expect_ok(
        &s.rw,
        format!("{}\r\nHost: x\r\n\r\n", request_line(1022)).as_bytes(),
        "1022-byte request line",
    );
    expect_rejected(
        &s.rw,
        format!("{}\r\nHost: x\r\n\r\n", request_line(1023)).as_bytes(),
        &[414],
        "1023-byte request line",
    );
    expect_ok(
        &s.rw,
        &get_with(&[field_line("X-A", 1022)]),
        "1022-byte field",
    );
    expect_rejected(
        &s.rw,
        &get_with(&[field_line("X-A", 1023)]),
        &[400],
        "1023-byte field",
    );
    let fields: Vec<String> = (0..5).map(|i| field_line(&format!("X-{i}"), 900)).collect();
    expect_rejected(&s.rw, &get_with(&fields), &[400], "4.5 KB head, 4 × 1k");
    assert_eq!(s.backend.request_count(), 2);
}

// ---------------------------------------------------------------------------------------------
// Field count
// ---------------------------------------------------------------------------------------------

/// nginx: 101 fields → 200, all forwarded (ringway answered 431 past 100). nginx 1.22.1 as
/// Debian ships it, like nginx ≥ 1.29.8, has `max_headers 1000`: 1000 fields pass and the
/// 1001st gets 400 "Request Header Or Cookie Too Large". ringway: the same 1000, and no other
/// count limit (the byte limits bound the head).
#[test]
fn many_fields_are_forwarded_up_to_nginx_max_headers() {
    let s = setup();
    for n in [101, 129, 500, 999] {
        let fields: Vec<String> = (0..n).map(|i| format!("X-N{i}: {i}")).collect();
        let r = expect_ok(&s.rw, &get_with(&fields), &format!("{n} fields + Host"));
        let got = s.backend.requests().pop().unwrap();
        let forwarded = got
            .headers
            .iter()
            .filter(|(k, _)| k.starts_with("X-N"))
            .count();
        assert_eq!(forwarded, n, "{}", r.head);
        let last = format!("X-N{}", n - 1);
        assert_eq!(got.header(&last), Some(&*(n - 1).to_string()));
    }
    // 1000 + Host: one too many.
    let fields: Vec<String> = (0..1000).map(|i| format!("X-N{i}: {i}")).collect();
    expect_rejected(&s.rw, &get_with(&fields), &[400], "1001 fields");
    assert_eq!(s.backend.request_count(), 4);
}

// ---------------------------------------------------------------------------------------------
// Trailers
// ---------------------------------------------------------------------------------------------

/// A chunked POST whose trailer section holds `fields`.
fn chunked_with_trailers(fields: &[String]) -> Vec<u8> {
    let mut req =
        b"POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
            .to_vec();
    for f in fields {
        req.extend_from_slice(f.as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req
}

/// nginx: a 9,000-byte trailer field → 200 (it reads request trailers and drops them, with no
/// limit: 100 KB and 2 MB sections passed too). ringway refused it (its 8 KiB cap on framing
/// bytes covered the trailers); now the trailer section may be up to 1 MiB
/// (`chunked::MAX_TRAILER_SECTION`), dropped as before.
#[test]
fn big_trailer_fields_are_accepted() {
    let s = setup();
    let mut c = s.rw.connect();
    c.send(&chunked_with_trailers(&[field_line("X-Trailer", 9000)]));
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    // Keep-alive goes on after the trailer section.
    c.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    let got = s.backend.requests();
    assert_eq!(got[0].body, b"hello");
    assert!(
        !contains(&got[0].raw, b"X-Trailer"),
        "trailers are not forwarded"
    );
    assert_eq!(got[1].target, "/after");

    // 100 fields of 10 KB: 1,000,800 bytes of trailers.
    let fields: Vec<String> = (0..100)
        .map(|i| field_line(&format!("X-T{i:02}"), 10_000))
        .collect();
    let r = expect_ok(&s.rw, &chunked_with_trailers(&fields), "1 MB of trailers");
    assert_eq!(r.header("x-body-len"), Some("5"));
}

/// Past the documented 1 MiB the body is malformed: 400 (nginx takes it: it has no limit).
#[test]
fn trailer_section_over_the_limit_is_refused() {
    let s = setup();
    // Field lines of 10,000 bytes, then one that makes the section (each line's CRLF and the
    // final CRLF included) exactly one byte too large: nothing is left unread.
    let mut fields = Vec::new();
    let mut size = 2;
    while size + 2 * 10_002 < MAX_TRAILER_SECTION {
        fields.push(field_line(&format!("X-T{:03}", fields.len()), 10_000));
        size += 10_002;
    }
    fields.push(field_line("X-Last", MAX_TRAILER_SECTION + 1 - size - 2));
    let req = chunked_with_trailers(&fields);
    let head_and_chunks = req.len() - (MAX_TRAILER_SECTION + 1);
    assert!(req[..head_and_chunks].ends_with(b"0\r\n"));
    let mut c = s.rw.connect();
    let _ = c.try_send(&req);
    let r = c
        .try_read_response(false, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("no answer: {e}"));
    assert_eq!(r.status, 400, "{}", r.describe());
    // One byte less passes.
    let last = fields.len() - 1;
    fields[last].pop();
    expect_ok(
        &s.rw,
        &chunked_with_trailers(&fields),
        "trailers of exactly 1 MiB",
    );
}

// ---------------------------------------------------------------------------------------------
// The cause in the log
// ---------------------------------------------------------------------------------------------

/// ringway with `RINGWAY_LOG=debug` (the harness starts it at `info`, from the environment this
/// process shares with every test running beside it).
struct DebugRingway {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
    log: PathBuf,
}

impl DebugRingway {
    fn start(backend: SocketAddr) -> DebugRingway {
        let dir = temp_dir("parity-log");
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let conf = dir.join("ringway.conf");
        let text = proxy_conf(backend, "").replace(LISTEN, &addr.to_string());
        std::fs::write(&conf, text).expect("write config");
        let log = dir.join("stderr.log");
        let stderr = std::fs::File::create(&log).expect("create log");
        let child = Command::new(bin())
            .arg("-c")
            .arg(&conf)
            .args(["--workers", "1"])
            .env("RINGWAY_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn ringway");
        let mut rw = DebugRingway {
            child,
            addr,
            dir,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            let exited = rw.child.try_wait().ok().flatten();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "ringway did not listen on {addr}: {}",
                rw.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        rw
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for a log line holding `needle`.
    #[track_caller]
    fn expect_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.log_text().lines().any(|l| l.contains(needle)) {
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn send(&self, req: &[u8]) -> u16 {
        let mut c = Client::connect(self.addr);
        let _ = c.try_send(req);
        c.try_read_response(false, IO_TIMEOUT)
            .map(|r| r.status)
            .unwrap_or(0)
    }
}

impl Drop for DebugRingway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `RINGWAY_LOG=debug` promised the cause of a 400 and logged `bad request: Bad Request`. Each
/// refused head now logs its status and what was wrong, naming the field.
#[test]
fn bad_requests_log_their_cause() {
    let backend = echo_backend();
    let rw = DebugRingway::start(backend.addr);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n".to_vec(),
            400,
            "bad request: 400 Bad Request: invalid Content-Length value",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n".to_vec(),
            400,
            "bad request: 400 Bad Request: duplicate Host field",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n".to_vec(),
            400,
            "bad request: 400 Bad Request: obs-fold in field line",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n".to_vec(),
            400,
            "bad request: 400 Bad Request: whitespace between field name and colon",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec(),
            400,
            "bad request: 400 Bad Request: both Content-Length and Transfer-Encoding",
        ),
        (
            format!("{}\r\nHost: x\r\n\r\n", request_line(9000)).into_bytes(),
            414,
            "bad request: 414 URI Too Long: request line longer than one header buffer",
        ),
        (
            get_with(&[field_line("Cookie", 9000)]),
            400,
            "bad request: 400 Bad Request: field line longer than one header buffer",
        ),
        (
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            400,
            "bad request: 400 Bad Request: missing Host field",
        ),
    ];
    for (req, status, line) in cases {
        assert_eq!(rw.send(&req), status, "{line}");
        rw.expect_log(line);
    }
    // A chunked body found malformed while it is relayed (it arrives after the head).
    let mut c = Client::connect(rw.addr);
    c.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    std::thread::sleep(Duration::from_millis(200));
    let _ = c.try_send(b"zz\r\n");
    let r = c.try_read_response(false, IO_TIMEOUT);
    assert_eq!(r.map(|r| r.status), Ok(400));
    rw.expect_log("bad chunked request body: 400 Bad Request: invalid chunk size");
    // Never the bare reason phrase alone.
    assert!(
        !rw.log_text().contains("bad request: Bad Request"),
        "{}",
        rw.log_text()
    );
}
