//! Scripted raw-TCP backends: each accepted connection runs a handler that reads requests
//! (recorded with their exact bytes) and answers as the test scripts.

use super::*;

/// A request as a backend received it.
#[derive(Debug, Clone)]
pub struct Req {
    /// Index of the backend connection it arrived on (0 = first accepted).
    pub conn: usize,
    /// Exact bytes received for this request: head and (raw, possibly chunked) body.
    pub raw: Vec<u8>,
    /// The head text, request line included, final CRLFCRLF included.
    pub head: String,
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub body: Vec<u8>,
    pub chunked: bool,
    pub trailers: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        headers_in(&self.headers, name)
    }
    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
    /// All values of `name` joined with ", " (how a list-valued field reads).
    pub fn joined(&self, name: &str) -> Option<String> {
        let v = self.headers_named(name);
        if v.is_empty() {
            None
        } else {
            Some(v.join(", "))
        }
    }
}

#[derive(Default)]
pub struct BackendState {
    pub accepted: AtomicUsize,
    /// Connections on which the backend saw the proxy close (EOF/reset while waiting for a request).
    pub peer_closed: AtomicUsize,
    pub requests: Mutex<Vec<Req>>,
    /// All raw bytes received, per connection.
    pub raw: Mutex<Vec<Arc<Mutex<Vec<u8>>>>>,
}

/// One accepted backend connection, handed to the handler.
pub struct Conn {
    pub stream: TcpStream,
    pub index: usize,
    pub(crate) buf: Vec<u8>,
    pub(crate) log: Arc<Mutex<Vec<u8>>>,
    pub(crate) state: Arc<BackendState>,
}

impl Conn {
    pub(crate) fn reader(&mut self, timeout: Duration) -> Reader<'_> {
        Reader {
            stream: &mut self.stream,
            buf: &mut self.buf,
            log: Some(&self.log),
            deadline: Instant::now() + timeout,
        }
    }

    /// Reads one request head only (the body stays unread). None on EOF, reset or timeout.
    pub fn read_head(&mut self) -> Option<Req> {
        self.read_head_within(IO_TIMEOUT)
    }

    pub fn read_head_within(&mut self, timeout: Duration) -> Option<Req> {
        self.read_head_end(timeout).ok()
    }

    /// Reads one request head; Err says why none came: the proxy closed (`Fill::Eof`) or reset
    /// (`Fill::Reset`) the connection, or `timeout` passed (`Fill::Timeout`).
    pub fn read_head_end(&mut self, timeout: Duration) -> Result<Req, Fill> {
        let len = match self.reader(timeout).head() {
            Ok(n) => n,
            Err(f) => {
                if matches!(f, Fill::Eof | Fill::Reset) {
                    self.state.peer_closed.fetch_add(1, Ordering::SeqCst);
                }
                return Err(f);
            }
        };
        let raw: Vec<u8> = self.buf.drain(..len).collect();
        let head = String::from_utf8_lossy(&raw).into_owned();
        let (line, rest) = head.split_once("\r\n").unwrap_or((&head, ""));
        let mut parts = line.splitn(3, ' ');
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let version = parts.next().unwrap_or("").to_string();
        let headers = parse_fields(rest);
        let chunked = header_in(&headers, "transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        Ok(Req {
            conn: self.index,
            raw,
            head,
            method,
            target,
            version,
            headers,
            body: Vec::new(),
            chunked,
            trailers: Vec::new(),
        })
    }

    /// Reads the body of `req` (by Content-Length or chunked) into it. False if incomplete.
    pub fn read_body(&mut self, req: &mut Req) -> bool {
        self.read_body_end(req) == Fill::Data
    }

    /// Like `read_body`, telling how it ended: `Fill::Data` when complete, else why it stopped
    /// (the proxy closed or reset the connection, or nothing came within `IO_TIMEOUT`).
    pub fn read_body_end(&mut self, req: &mut Req) -> Fill {
        if req.chunked {
            let (body, raw, trailers, end) = self.reader(IO_TIMEOUT).chunked();
            req.raw.extend_from_slice(&raw);
            req.body = body;
            req.trailers = trailers;
            return end;
        }
        let n: usize = req
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        match self.reader(IO_TIMEOUT).take(n) {
            Ok(b) => {
                req.raw.extend_from_slice(&b);
                req.body = b;
                Fill::Data
            }
            Err((rest, f)) => {
                req.raw.extend_from_slice(&rest);
                req.body = rest;
                f
            }
        }
    }

    /// Reads one whole request and records it in the backend's request list.
    pub fn read_request(&mut self) -> Option<Req> {
        let mut req = self.read_head()?;
        let complete = self.read_body(&mut req);
        self.record(&req);
        complete.then_some(req)
    }

    /// Records a request read with `read_head`/`read_body` in the backend's list.
    pub fn record(&self, req: &Req) {
        self.state.requests.lock().unwrap().push(req.clone());
    }

    pub fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// 200 with the given body and Content-Length (keep-alive).
    pub fn respond(&mut self, status: u16, body: &[u8]) -> bool {
        self.respond_with(status, &[], body)
    }

    pub fn respond_with(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> bool {
        let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (n, v) in headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        self.write(&bytes)
    }

    /// Reads whatever arrives until EOF or `timeout`; true when the peer closed.
    pub fn wait_eof(&mut self, timeout: Duration) -> bool {
        let (_, f) = self.reader(timeout).until_eof();
        matches!(f, Fill::Eof | Fill::Reset)
    }

    /// Reads raw bytes (at least one) within the timeout.
    pub fn read_some(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        if self.buf.is_empty() {
            match self.reader(timeout).fill() {
                Fill::Data => {}
                _ => return None,
            }
        }
        Some(std::mem::take(&mut self.buf))
    }

    /// Closes the connection now with a TCP reset (SO_LINGER 0, then the socket is closed by
    /// putting a fresh unconnected socket in place of its descriptor).
    pub fn reset(&mut self) {
        use std::os::fd::AsRawFd;
        let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
        // SAFETY: plain socket/dup2/close on descriptors this Conn owns; dup2 atomically closes
        // the connected socket (sending RST because of linger 0) and leaves a valid fd behind.
        unsafe {
            let fresh = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fresh >= 0);
            libc::dup2(fresh, self.stream.as_raw_fd());
            libc::close(fresh);
        }
    }

    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        401 => "Unauthorized",
        404 => "Not Found",
        417 => "Expectation Failed",
        500 => "Internal Server Error",
        _ => "Whatever",
    }
}

pub(crate) type Handler = dyn Fn(&mut Conn) + Send + Sync + 'static;

pub struct Backend {
    pub addr: SocketAddr,
    pub state: Arc<BackendState>,
    stop: Arc<AtomicBool>,
}

impl Backend {
    /// Starts a backend on a free loopback port; `handler` runs on its own thread for each
    /// accepted connection (which closes when the handler returns).
    pub fn start<F>(handler: F) -> Backend
    where
        F: Fn(&mut Conn) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("backend bind");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(BackendState::default());
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let state = state.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                for s in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = s else { continue };
                    let index = state.accepted.fetch_add(1, Ordering::SeqCst);
                    let log = Arc::new(Mutex::new(Vec::new()));
                    state.raw.lock().unwrap().push(log.clone());
                    let handler = handler.clone();
                    let state = state.clone();
                    thread::spawn(move || {
                        let _ = stream.set_nodelay(true);
                        let mut conn = Conn {
                            stream,
                            index,
                            buf: Vec::new(),
                            log,
                            state,
                        };
                        handler(&mut conn);
                    });
                }
            });
        }
        Backend { addr, state, stop }
    }

    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    pub fn peer_closed(&self) -> usize {
        self.state.peer_closed.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Req> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    /// All raw bytes received on connection `i`.
    pub fn raw(&self, i: usize) -> Vec<u8> {
        self.state.raw.lock().unwrap()[i].lock().unwrap().clone()
    }

    /// Total bytes received over all connections.
    pub fn raw_total(&self) -> usize {
        self.state
            .raw
            .lock()
            .unwrap()
            .iter()
            .map(|l| l.lock().unwrap().len())
            .sum()
    }

    /// Waits until `f()` holds (polling), up to `timeout`.
    pub fn wait_for(&self, timeout: Duration, f: impl Fn(&Backend) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if f(self) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        f(self)
    }

    /// Asserts that nobody connected (after a short grace period for late connects).
    #[track_caller]
    pub fn assert_untouched(&self, what: &str) {
        thread::sleep(Duration::from_millis(100));
        let n = self.accepted();
        if n != 0 {
            let raw = self.raw(0);
            panic!(
                "{what}: the backend must not be contacted, but it accepted {n} connection(s); first received: {}",
                show(&raw)
            );
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag; connection threads finish on their own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(100));
    }
}

/// Answers every request with 200 and a body that is the raw request head it received, plus
/// `X-Conn: N` (backend connection index) and `X-Body-Len: N` (decoded request body length).
pub fn echo_backend() -> Backend {
    Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let conn = req.conn.to_string();
            let blen = req.body.len().to_string();
            if !c.respond_with(
                200,
                &[("X-Conn", &conn), ("X-Body-Len", &blen)],
                req.head.as_bytes(),
            ) {
                return;
            }
        }
    })
}

/// For the idle-connection tests: `/large` is answered with 256 KiB of `pattern`, every other
/// request with `got N bytes` (N: the request body's length).
pub fn large_or_count_backend() -> Backend {
    Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let body = if req.target == "/large" {
                super::pattern(256 * 1024)
            } else {
                format!("got {} bytes\n", req.body.len()).into_bytes()
            };
            if !c.respond(200, &body) {
                return;
            }
        }
    })
}

/// Answers every request with 200, `X-Backend: TAG`, `X-Gen: V` (V: the request's `X-Gen`
/// field, `-` when absent), `X-Conn: N`, and the raw request head as the body (keep-alive).
pub fn tagged_backend(tag: &str) -> Backend {
    Backend::start(tagged_handler(tag))
}

/// Parses the raw request head a backend echoed back (the body of `echo_backend` and
/// `tagged_backend` responses): (request line, fields).
pub fn echoed_head(body: &[u8]) -> (String, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(body).into_owned();
    let (line, rest) = text.split_once("\r\n").unwrap_or((&text, ""));
    (line.to_string(), parse_fields(rest))
}

/// All values of field `name` (case-insensitive) in a parsed field list.
pub fn field_values<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers_in(fields, name)
}

/// Like `echo_backend`, but the body is the decoded request body.
pub fn body_echo_backend() -> Backend {
    Backend::start(|c| {
        while let Some(req) = c.read_request() {
            if !c.respond_with(200, &[("X-Conn", &req.conn.to_string())], &req.body) {
                return;
            }
        }
    })
}

/// Answers every request on a connection with the same raw bytes (keeps the connection).
pub fn fixed_backend(bytes: &[u8]) -> Backend {
    let bytes = bytes.to_vec();
    Backend::start(move |c| {
        while c.read_request().is_some() {
            if !c.write(&bytes) {
                return;
            }
        }
    })
}

/// Answers the first request with the raw bytes, then closes the connection.
pub fn fixed_backend_then_close(bytes: &[u8]) -> Backend {
    let bytes = bytes.to_vec();
    Backend::start(move |c| {
        if c.read_request().is_some() {
            c.write(&bytes);
            let _ = c.stream.flush();
        }
    })
}
