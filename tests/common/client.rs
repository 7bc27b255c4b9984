//! A raw HTTP/1.1 client: sends exact bytes, reads responses by their framing, tells whether
//! the proxy closed the connection.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(usize),
    Chunked,
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The body was complete per its framing.
    Complete,
    /// The connection closed before the body was complete.
    Eof,
    /// Nothing more arrived within the timeout.
    Timeout,
    /// The connection was reset, or the chunked framing was invalid.
    Broken,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Status line and fields, final CRLFCRLF included.
    pub head: String,
    pub headers: Vec<(String, String)>,
    /// Decoded body.
    pub body: Vec<u8>,
    /// Body bytes as framed on the wire (chunk framing included).
    pub raw_body: Vec<u8>,
    pub trailers: Vec<u8>,
    pub framing: Framing,
    pub end: End,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        headers_in(&self.headers, name)
    }
    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// `Connection` lists `close`.
    pub fn says_close(&self) -> bool {
        self.headers_named("connection")
            .iter()
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }
    pub fn says_keep_alive(&self) -> bool {
        self.headers_named("connection").iter().any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("keep-alive"))
        })
    }
    pub fn describe(&self) -> String {
        format!(
            "{}[body {} bytes, end {:?}]: {}",
            self.head,
            self.body.len(),
            self.end,
            show(&self.body[..self.body.len().min(300)])
        )
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        let _ = stream.set_nodelay(true);
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Connects without panicking (for load loops that count failures).
    pub fn try_connect(addr: SocketAddr) -> std::io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        let _ = stream.set_nodelay(true);
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("client write of {} bytes: {e}", bytes.len()));
    }

    /// Writes, reporting failure instead of panicking (the proxy may have closed already).
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Writes `bytes` in pieces of `piece` bytes with a pause after each.
    pub fn send_in_pieces(&mut self, bytes: &[u8], piece: usize, pause: Duration) {
        for p in bytes.chunks(piece.max(1)) {
            self.send(p);
            self.stream.flush().unwrap();
            thread::sleep(pause);
        }
    }

    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    pub(crate) fn reader(&mut self, timeout: Duration) -> Reader<'_> {
        Reader {
            stream: &mut self.stream,
            buf: &mut self.buf,
            log: None,
            deadline: Instant::now() + timeout,
        }
    }

    /// Reads one response (a 1xx included) to a non-HEAD request; panics unless it is complete.
    #[track_caller]
    pub fn read_response(&mut self) -> Response {
        match self.try_read_response(false, IO_TIMEOUT) {
            Ok(r) if r.end == End::Complete => r,
            Ok(r) => panic!("incomplete response: {}", r.describe()),
            Err(e) => panic!("no response: {e}"),
        }
    }

    /// Reads the response to a HEAD request (no body whatever the fields say).
    #[track_caller]
    pub fn read_head_response(&mut self) -> Response {
        match self.try_read_response(true, IO_TIMEOUT) {
            Ok(r) => r,
            Err(e) => panic!("no response: {e}"),
        }
    }

    /// Reads one response. Err when no complete head arrived (with what did arrive).
    pub fn try_read_response(
        &mut self,
        head_request: bool,
        timeout: Duration,
    ) -> Result<Response, String> {
        let mut rd = self.reader(timeout);
        let len = match rd.head() {
            Ok(n) => n,
            Err(f) => {
                return Err(format!(
                    "{f:?} before a complete response head; received: {:?}",
                    show(rd.buf)
                ));
            }
        };
        let raw: Vec<u8> = rd.buf.drain(..len).collect();
        let head = String::from_utf8_lossy(&raw).into_owned();
        let (line, rest) = head.split_once("\r\n").unwrap_or((&head, ""));
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line: {line:?}"))?;
        if !line.starts_with("HTTP/1.") {
            return Err(format!("bad status line: {line:?}"));
        }
        let headers = parse_fields(rest);
        let te = header_in(&headers, "transfer-encoding").map(|v| v.to_ascii_lowercase());
        let cl = header_in(&headers, "content-length").and_then(|v| v.parse::<usize>().ok());
        let framing = if head_request || status < 200 || status == 204 || status == 304 {
            Framing::None
        } else if te.as_deref().is_some_and(|t| t.contains("chunked")) {
            Framing::Chunked
        } else if let Some(n) = cl {
            Framing::Length(n)
        } else {
            Framing::Close
        };
        let mut resp = Response {
            status,
            head,
            headers,
            body: Vec::new(),
            raw_body: Vec::new(),
            trailers: Vec::new(),
            framing,
            end: End::Complete,
        };
        match framing {
            Framing::None => {}
            Framing::Length(n) => match rd.take(n) {
                Ok(b) => {
                    resp.raw_body = b.clone();
                    resp.body = b;
                }
                Err((rest, f)) => {
                    resp.raw_body = rest.clone();
                    resp.body = rest;
                    resp.end = end_of(f);
                }
            },
            Framing::Chunked => {
                let (body, raw, trailers, f) = rd.chunked();
                resp.body = body;
                resp.raw_body = raw;
                resp.trailers = trailers;
                resp.end = if f == Fill::Data {
                    End::Complete
                } else {
                    end_of(f)
                };
            }
            Framing::Close => {
                let (body, f) = rd.until_eof();
                resp.raw_body = body.clone();
                resp.body = body;
                resp.end = match f {
                    Fill::Eof => End::Complete,
                    other => end_of(other),
                };
            }
        }
        Ok(resp)
    }

    /// Bytes already received but not consumed by a response read.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Reads exactly n raw bytes (for tunnels).
    #[track_caller]
    pub fn read_exact_bytes(&mut self, n: usize) -> Vec<u8> {
        match self.reader(IO_TIMEOUT).take(n) {
            Ok(b) => b,
            Err((got, f)) => panic!(
                "wanted {n} bytes, got {} then {f:?}: {}",
                got.len(),
                show(&got)
            ),
        }
    }

    /// Waits up to `timeout` for the connection to be closed by the peer. True on EOF/reset;
    /// false when it stays open (or more bytes arrive: those are kept in `extra`).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut rd = self.reader(timeout);
        matches!(rd.fill(), Fill::Eof | Fill::Reset)
    }

    /// `closed_within` with the default 2 s.
    pub fn is_closed(&mut self) -> bool {
        self.closed_within(Duration::from_secs(2))
    }

    /// Reads everything until EOF (or timeout). Returns (bytes, closed).
    pub fn read_to_close(&mut self, timeout: Duration) -> (Vec<u8>, bool) {
        let (b, f) = self.reader(timeout).until_eof();
        (b, matches!(f, Fill::Eof | Fill::Reset))
    }
}

pub(crate) fn end_of(f: Fill) -> End {
    match f {
        Fill::Data => End::Complete,
        Fill::Eof => End::Eof,
        Fill::Timeout => End::Timeout,
        Fill::Reset => End::Broken,
    }
}

/// Sends `req` on a fresh connection and reads one response (non-HEAD).
pub fn exchange(addr: SocketAddr, req: &[u8]) -> (Client, Response) {
    let mut c = Client::connect(addr);
    c.send(req);
    let r = c.read_response();
    (c, r)
}

/// The check for "`Connection: close` where the connection cannot be reused": either the
/// response says close and the connection then closes, or the connection must serve another
/// request (`GET /again`) whose final response has status `next_status`.
#[track_caller]
pub fn assert_closed_or_reusable(c: &mut Client, resp: &Response, next_status: u16) {
    if resp.says_close() {
        assert!(
            c.is_closed(),
            "response said Connection: close but the connection stayed open"
        );
        return;
    }
    if c.try_send(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
        .is_err()
    {
        panic!(
            "no Connection: close, but the connection was closed: {}",
            resp.describe()
        );
    }
    loop {
        match c.try_read_response(false, IO_TIMEOUT) {
            Ok(r) if r.status < 200 => continue,
            Ok(r) if r.end == End::Complete && r.status == next_status => return,
            Ok(r) => panic!(
                "no Connection: close on {}, but the next request on the connection got (expected {next_status}): {}",
                resp.status,
                r.describe()
            ),
            Err(e) => panic!(
                "no Connection: close on {}, but the connection could not be reused: {e}",
                resp.status
            ),
        }
    }
}

/// Asserts the client got `status` and then the connection closed.
#[track_caller]
pub fn assert_status_and_close(c: &mut Client, status: u16, what: &str) -> Response {
    let r = match c.try_read_response(false, IO_TIMEOUT) {
        Ok(r) => r,
        Err(e) => panic!("{what}: expected {status}, got no response: {e}"),
    };
    assert_eq!(
        r.status,
        status,
        "{what}: wrong status; response: {}",
        r.describe()
    );
    assert!(
        c.is_closed(),
        "{what}: connection not closed after {status}"
    );
    r
}

/// `curl -s -o /dev/null -w %{http_code} --max-time 5 ARGS URL`: the status curl got (0: none,
/// e.g. the connection failed).
pub fn curl_code(url: &str, args: &[&str]) -> u16 {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--max-time", "5"])
        .args(args)
        .arg(url)
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}
