//! `auth_request URI` (ngx_http_auth_request_module): before the request is served, a subrequest
//! for URI is routed through the same server's locations and sent with that location's
//! `proxy_pass` settings, over the same upstream groups and keep-alive pools as any request.
//! As in nginx the subrequest is a `GET` carrying the client's header fields (hop-by-hop and
//! framing fields aside) and never a body; `$request_uri` in it is the client's, `$uri` the
//! auth URI. Its response body is discarded. Unlike nginx, the subrequest runs no rewrites and
//! no access checks of its own.

use tracing::warn;

use crate::config::Settings;
use crate::http::response::parse_response;
use crate::http::{BodyFraming, Method, RequestHead, ResponseFraming, ResponseHead};
use crate::proxy::forward::{self, InFlight, Request};
use crate::proxy::headers;
use crate::net::io::{ReadErr, read_into, write_all};
use crate::template::AuthResponse;
use crate::route::{Action, Location, NU_ERROR, NU_TIMEOUT, NextUpstream, ServerRt, Template};
use crate::upstream::{Group, Tried};

#[derive(Debug)]
pub struct AuthRequest {
    /// The subrequest's URI (path and arguments), as written.
    pub uri: Box<[u8]>,
    /// `auth_request_set`: (index into the config's variables, value).
    pub sets: Vec<(usize, Template)>,
    /// How many `auth_request_set` variables the config declares.
    pub vars: usize,
}

pub fn compile(s: &Settings, user: &[String]) -> Result<Option<AuthRequest>, String> {
    let Some(uri) = &s.auth_request else {
        return Ok(None);
    };
    let mut sets = Vec::new();
    for (name, value) in &s.auth_request_set {
        let i = user
            .iter()
            .position(|u| u == name)
            .ok_or_else(|| format!("auth_request_set: undeclared variable \"${name}\""))?;
        sets.push((i, Template::compile_with(value, user)?));
    }
    Ok(Some(AuthRequest {
        uri: uri.as_bytes().into(),
        sets,
        vars: user.len(),
    }))
}

/// What the auth service answered.
pub struct Answer {
    pub status: u16,
    /// Its `WWW-Authenticate` fields, as header lines (copied to the client's 401).
    pub challenge: Vec<u8>,
    /// Values of the `auth_request_set` variables (by index; empty when not set).
    pub vars: Vec<Vec<u8>>,
}

/// Largest auth response body read (and dropped) to keep its connection for reuse; a longer or
/// chunked one closes the connection instead.
const DISCARD_MAX: u64 = 64 * 1024;

/// Runs the subrequest. None: no answer could be had (the client gets 500).
pub async fn run(r: &Request<'_>, server: &ServerRt, b: &[u8], ar: &AuthRequest) -> Option<Answer> {
    let path = match ar.uri.iter().position(|&c| c == b'?') {
        Some(i) => &ar.uri[..i],
        None => &ar.uri[..],
    };
    let loc = server.locations.find(path)?;
    let head = RequestHead {
        method: Method::Get,
        body: BodyFraming::None,
        upgrade: false,
        expect_continue: false,
        ..r.head.clone()
    };
    let sr = Request {
        loc,
        head: &head,
        uri: Some(&ar.uri),
        uri_final: false,
        ..*r
    };
    let (status, resp, ub) = match &loc.action {
        Action::Return { code, .. } => (*code, None, Vec::new()),
        Action::NotFound => (404, None, Vec::new()),
        Action::Proxy {
            upstream,
            uri,
            proxy_host,
        } => {
            let group = &r.generation.upstreams[*upstream];
            let mut out = r.ctx.bufs.get();
            headers::build_head(&sr, b, uri.as_ref(), proxy_host, &mut out);
            // The head starts with the client's method: the subrequest is a GET.
            let m = r.head.method_span.get(b).len();
            out.splice(..m, *b"GET");
            let mut key_buf = Vec::new();
            let key = forward::balance_key(&sr, b, group, &mut key_buf);
            let (resp, ub) = exchange(r, loc, group, key, out).await?;
            (resp.status, Some(resp), ub)
        }
    };
    let mut answer = Answer {
        status,
        challenge: Vec::new(),
        vars: vec![Vec::new(); ar.vars],
    };
    let resp_header = |name: &[u8], out: &mut Vec<u8>| match &resp {
        Some(h) => crate::http::join_field(&h.headers, &ub, name, out),
        None => false,
    };
    if let Some(h) = &resp {
        for f in &h.headers {
            if f.name.get(&ub).eq_ignore_ascii_case(b"www-authenticate") {
                answer.challenge.extend_from_slice(b"WWW-Authenticate: ");
                answer.challenge.extend_from_slice(f.value.get(&ub));
                answer.challenge.extend_from_slice(b"\r\n");
            }
        }
    }
    let auth = AuthResponse {
        status,
        header: &resp_header,
    };
    let header = |name: &[u8], out: &mut Vec<u8>| headers::find_header(r.head, b, name, out);
    for (i, t) in &ar.sets {
        let mut v = Vec::new();
        {
            let mut vars = headers::vars(&sr, b, b"", &header);
            vars.user = &answer.vars;
            vars.auth_response = Some(&auth);
            t.render(&vars, &mut v);
        }
        if let Some(slot) = answer.vars.get_mut(*i) {
            *slot = v;
        }
    }
    r.ctx.bufs.put(ub);
    Some(answer)
}

/// Sends the subrequest head to a server of `group` and reads the response head, trying the
/// next server as `proxy_next_upstream` allows (the subrequest is a body-less GET: always safe
/// to repeat). Returns the head and the buffer it is in, the body drained or the connection
/// dropped.
async fn exchange(
    r: &Request<'_>,
    loc: &Location,
    group: &Group,
    key: &[u8],
    head: Vec<u8>,
) -> Option<(ResponseHead, Vec<u8>)> {
    let next = &loc.next_upstream;
    let mut tried = Tried::new();
    let mut attempts = 0u32;
    let started = std::time::Instant::now();
    let may_retry = |bit: u16, attempts: u32| {
        next.on & bit != 0
            && (next.tries == 0 || attempts < next.tries)
            && (next.timeout.is_zero() || started.elapsed() < next.timeout)
    };
    // After a reused connection turned out stale, the same server is tried on a new one.
    let mut fresh: Option<usize> = None;
    loop {
        let (server, was_fresh) = match fresh.take() {
            Some(s) => (s, true),
            None => {
                let s = group.pick(key, &tried)?;
                tried.insert(s);
                attempts += 1;
                (s, false)
            }
        };
        let addr = group.servers[server].addr;
        let _in_flight = InFlight::new(group, server);
        let mut up = match group.connect(server, loc.connect_timeout, was_fresh).await {
            Ok(c) => c,
            Err(e) => {
                warn!(upstream = %group.name, server = %addr, "auth request: {e}");
                group.failed(server);
                let bit = match e {
                    crate::upstream::Error::ConnectTimeout => NU_TIMEOUT,
                    _ => NU_ERROR,
                };
                if may_retry(bit, attempts) {
                    continue;
                }
                return None;
            }
        };
        let sent = write_all(&mut up.stream, head.clone(), loc.send_timeout).await;
        let got = match sent {
            Ok(h) => {
                r.ctx.bufs.put(h);
                read_response(r, loc, &mut up.stream).await
            }
            Err(_) => Err(Failed::Closed),
        };
        let (resp, ub) = match got {
            Ok(x) => x,
            Err(Failed::Closed) if up.reused && !was_fresh => {
                // A pooled connection the server had closed: not its fault, try a new one.
                fresh = Some(server);
                continue;
            }
            Err(e) => {
                warn!(upstream = %group.name, server = %addr, "auth request: {}", e.what());
                group.failed(server);
                let bit = if matches!(e, Failed::Timeout) {
                    NU_TIMEOUT
                } else {
                    NU_ERROR
                };
                if may_retry(bit, attempts) {
                    continue;
                }
                return None;
            }
        };
        let bit = NextUpstream::status_bit(resp.status).unwrap_or(0);
        if NextUpstream::status_is_failure(resp.status) && next.on & bit != 0 {
            group.failed(server);
            if may_retry(bit, attempts) && group.pick(key, &tried).is_some() {
                r.ctx.bufs.put(ub);
                continue;
            }
        } else {
            group.succeeded(server);
        }
        let (ub, clean) = discard_body(r, loc, &mut up.stream, &resp, ub).await;
        if clean && resp.keep_alive {
            group.release(server, up);
        }
        return Some((resp, ub));
    }
}

enum Failed {
    /// Closed or reset before a whole head arrived.
    Closed,
    Timeout,
    Malformed,
}

impl Failed {
    fn what(&self) -> &'static str {
        match self {
            Failed::Closed => "the auth server closed the connection before answering",
            Failed::Timeout => "the auth server timed out",
            Failed::Malformed => "the auth server sent an invalid response head",
        }
    }
}

/// Reads a final response head (1xx interim responses are skipped).
async fn read_response(
    r: &Request<'_>,
    loc: &Location,
    up: &mut monoio::net::TcpStream,
) -> Result<(ResponseHead, Vec<u8>), Failed> {
    let mut ub = r.ctx.bufs.get();
    loop {
        if !ub.is_empty() {
            match parse_response(&ub, Method::Get, loc.max_header_size) {
                Ok(Some(h)) if h.status < 200 => {
                    ub.drain(..h.head_len);
                    continue;
                }
                Ok(Some(h)) => return Ok((h, ub)),
                Ok(None) => {}
                Err(_) => return Err(Failed::Malformed),
            }
        }
        if ub.capacity() - ub.len() < 1024 {
            ub.reserve(16 * 1024);
        }
        match read_into(up, ub, loc.read_timeout).await {
            Ok((0, _)) | Err(ReadErr::Io(_)) => return Err(Failed::Closed),
            Ok((_, nb)) => ub = nb,
            Err(ReadErr::Timeout) => return Err(Failed::Timeout),
        }
    }
}

/// Reads and drops a short known-length body so the connection can be pooled. Returns the
/// buffer (holding the head) and whether the connection ended clean.
async fn discard_body(
    r: &Request<'_>,
    loc: &Location,
    up: &mut monoio::net::TcpStream,
    resp: &ResponseHead,
    ub: Vec<u8>,
) -> (Vec<u8>, bool) {
    let have = (ub.len() - resp.head_len) as u64;
    let n = match resp.framing {
        ResponseFraming::None => return (ub, have == 0),
        ResponseFraming::Length(n) if have <= n && n <= DISCARD_MAX => n,
        _ => return (ub, false),
    };
    let mut left = n - have;
    let mut scratch = r.ctx.bufs.get();
    while left > 0 {
        scratch.clear();
        match read_into(up, scratch, loc.read_timeout).await {
            Ok((got, nb)) if got > 0 && got as u64 <= left => {
                left -= got as u64;
                scratch = nb;
            }
            // End of stream, an error, or bytes past the body: do not reuse.
            Ok((_, nb)) => {
                r.ctx.bufs.put(nb);
                return (ub, false);
            }
            Err(_) => return (ub, false),
        }
    }
    r.ctx.bufs.put(scratch);
    (ub, true)
}
