//! A scripted origin for cache tests: answers per request path (the target without its query),
//! as the test scripts it, and records every request head it got (so a test can count the
//! requests for one path and read the conditional fields a revalidation sent). Built on
//! `KillableBackend`, so it can also be killed (its port then refuses connections) and
//! restarted.

use std::collections::HashMap;

use super::*;

/// How an answer goes wrong on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A complete, well-framed answer.
    None,
    /// `Content-Length` of the whole body, then only its first N bytes, then the connection
    /// closes.
    CutBody(usize),
    /// A chunked body whose first N bytes are sent (in chunks), then the connection closes
    /// before the last (zero-size) chunk.
    CutChunked(usize),
    /// The connection closes after the request was read, nothing answered.
    Close,
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Waited after reading the request, before answering.
    pub delay: Duration,
    /// Answer `304 Not Modified` (the same header fields, no body) when the request's
    /// `If-None-Match` equals this reply's `ETag`, or its `If-Modified-Since` equals this reply's
    /// `Last-Modified`.
    pub conditional: bool,
    /// Send the body chunked instead of with `Content-Length`.
    pub chunked: bool,
    pub fault: Fault,
}

impl Reply {
    /// 200 with `body`.
    pub fn ok(body: impl AsRef<[u8]>) -> Reply {
        Reply::status(200, body)
    }

    pub fn status(status: u16, body: impl AsRef<[u8]>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.as_ref().to_vec(),
            delay: Duration::ZERO,
            conditional: false,
            chunked: false,
            fault: Fault::None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    pub fn conditional(mut self) -> Reply {
        self.conditional = true;
        self
    }

    pub fn chunked(mut self) -> Reply {
        self.chunked = true;
        self
    }

    pub fn fault(mut self, f: Fault) -> Reply {
        self.fault = f;
        self
    }

    fn field(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    /// Whether a request with these fields gets a 304 from this reply.
    fn not_modified_for(&self, req: &Req) -> bool {
        if !self.conditional || self.status != 200 {
            return false;
        }
        let inm = match (req.header("if-none-match"), self.field("etag")) {
            (Some(got), Some(etag)) => got.split(',').any(|t| t.trim() == etag),
            _ => false,
        };
        let ims = match (req.header("if-modified-since"), self.field("last-modified")) {
            (Some(got), Some(lm)) => got == lm,
            _ => false,
        };
        inm || ims
    }
}

type ReplyFn = dyn Fn(&Req) -> Reply + Send + Sync + 'static;
type Routes = Arc<Mutex<HashMap<String, Arc<ReplyFn>>>>;

/// The path part of a request target (the query left off).
pub fn path_of(target: &str) -> &str {
    target.split('?').next().unwrap_or(target)
}

pub struct Origin {
    pub addr: SocketAddr,
    backend: KillableBackend,
    routes: Routes,
}

impl Origin {
    /// Starts an origin that answers `404` to every path until `set` scripts it (keep-alive).
    pub fn start() -> Origin {
        let routes: Routes = Arc::new(Mutex::new(HashMap::new()));
        let r = routes.clone();
        let backend = KillableBackend::start(move |c| {
            while let Some(req) = c.read_request() {
                let f = r.lock().unwrap().get(path_of(&req.target)).cloned();
                let reply = match f {
                    Some(f) => f(&req),
                    None => Reply::status(404, format!("no route for {}", req.target)),
                };
                if !answer(c, &req, &reply) {
                    return;
                }
            }
        });
        Origin {
            addr: backend.addr,
            backend,
            routes,
        }
    }

    /// Every request for `path` gets `reply` (replacing what was scripted before).
    pub fn set(&self, path: &str, reply: Reply) {
        self.set_fn(path, move |_| reply.clone());
    }

    /// Every request for `path` gets what `f` makes of it.
    pub fn set_fn(&self, path: &str, f: impl Fn(&Req) -> Reply + Send + Sync + 'static) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_string(), Arc::new(f));
    }

    /// The requests for `path` received so far (their heads; bodies are read too).
    pub fn requests_for(&self, path: &str) -> Vec<Req> {
        self.backend
            .requests()
            .into_iter()
            .filter(|r| path_of(&r.target) == path)
            .collect()
    }

    /// How many requests for `path` arrived (counted when the head and body were read, before
    /// any scripted delay).
    pub fn count(&self, path: &str) -> usize {
        self.requests_for(path).len()
    }

    /// How many requests arrived, all paths together.
    pub fn total(&self) -> usize {
        self.backend.request_count()
    }

    /// Closes the listener and every open connection: the port refuses connections.
    pub fn kill(&mut self) {
        self.backend.kill();
    }

    pub fn restart(&mut self) {
        self.backend.restart();
    }
}

/// Writes `reply` (or a 304 for a matching conditional request). False when the connection
/// must close (a fault, or a failed write).
fn answer(c: &mut Conn, req: &Req, reply: &Reply) -> bool {
    if !reply.delay.is_zero() {
        thread::sleep(reply.delay);
    }
    if reply.fault == Fault::Close {
        return false;
    }
    let not_modified = reply.not_modified_for(req);
    let status = if not_modified { 304 } else { reply.status };
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    let bodyless = not_modified || status == 204 || status == 304 || status < 200;
    let chunked = reply.chunked || matches!(reply.fault, Fault::CutChunked(_));
    if !bodyless {
        if chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
        } else {
            head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
        }
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if !bodyless && req.method != "HEAD" {
        match reply.fault {
            Fault::CutBody(n) => out.extend_from_slice(&reply.body[..n.min(reply.body.len())]),
            Fault::CutChunked(n) => {
                let full = chunk(&reply.body[..n.min(reply.body.len())], &[1000]);
                // Everything but the last chunk ("0\r\n\r\n").
                out.extend_from_slice(&full[..full.len() - 5]);
            }
            _ if chunked => out.extend_from_slice(&chunk(&reply.body, &[4096])),
            _ => out.extend_from_slice(&reply.body),
        }
    }
    if !c.write(&out) {
        return false;
    }
    let _ = c.stream.flush();
    if matches!(reply.fault, Fault::CutBody(_) | Fault::CutChunked(_)) {
        // Let the bytes leave before the close, so the cut is mid-body, not a reset.
        thread::sleep(Duration::from_millis(50));
        let _ = c.stream.shutdown(Shutdown::Both);
        return false;
    }
    true
}
