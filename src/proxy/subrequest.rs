//! The `auth_request` subrequest: its URI routed through the same server's locations and sent
//! with that location's `proxy_pass` settings, over the upstream exchange, groups and keep-alive
//! pools any request uses. As in nginx it is a `GET` carrying the client's header fields
//! (hop-by-hop and framing fields aside) and never a body; `$request_uri` in it is the client's,
//! `$uri` the auth URI. Its response body is discarded. Unlike nginx, the subrequest runs no
//! rewrites and no access checks of its own.

use super::forward::balance_key;
use super::request::{Request, find_header, vars};
use super::upstream_head;
use crate::access::auth_request::{Answer, AuthRequest};
use crate::http::{BodyFraming, Method, RequestHead, ResponseFraming, ResponseHead};
use crate::net::io::read_into;
use crate::route::{Action, Location, UriRewrite};
use crate::template::AuthResponse;
use crate::upstream::exchange::Settings;
use crate::upstream::{Requester, exchange};

/// Largest auth response body read (and dropped) to keep its connection for reuse; a longer or
/// chunked one closes the connection instead.
const DISCARD_MAX: u64 = 64 * 1024;

/// Runs the subrequest. None: no answer could be had (the client gets 500).
pub async fn run(r: &Request<'_>, b: &[u8], ar: &AuthRequest) -> Option<Answer> {
    let path = match ar.uri.iter().position(|&c| c == b'?') {
        Some(i) => &ar.uri[..i],
        None => &ar.uri[..],
    };
    let loc = r.server.locations.find(path)?;
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
        normalized: None,
        uri_final: false,
        ..*r
    };
    let (status, resp, ub) = match &loc.action {
        Action::Return { code, .. } => (*code, None, Vec::new()),
        // ringway's own answers are for clients, not for auth subrequests.
        Action::NotFound | Action::Builtin(_) => (404, None, Vec::new()),
        Action::Proxy {
            upstream,
            uri,
            proxy_host,
        } => {
            let (resp, ub) = ask(&sr, b, loc, *upstream, uri.as_ref(), proxy_host).await?;
            (resp.status, Some(resp), ub)
        }
    };
    let mut answer = Answer {
        status,
        challenge: Vec::new(),
        vars: vec![Vec::new(); ar.vars],
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
    set_vars(&sr, b, ar, resp.as_ref(), &ub, &mut answer);
    r.ctx.bufs.put(ub);
    Some(answer)
}

/// Renders the `auth_request_set` values from the auth response.
fn set_vars(
    sr: &Request<'_>,
    b: &[u8],
    ar: &AuthRequest,
    resp: Option<&ResponseHead>,
    ub: &[u8],
    answer: &mut Answer,
) {
    let resp_header = |name: &[u8], out: &mut Vec<u8>| match resp {
        Some(h) => crate::http::join_field(&h.headers, ub, name, out),
        None => false,
    };
    let auth = AuthResponse {
        status: answer.status,
        header: &resp_header,
    };
    let header = |name: &[u8], out: &mut Vec<u8>| find_header(sr.head, b, name, out);
    for (i, t) in &ar.sets {
        let mut v = Vec::new();
        {
            let mut vars = vars(sr, b, b"", &header);
            vars.user = &answer.vars;
            vars.auth_response = Some(&auth);
            t.render(&vars, &mut v);
        }
        if let Some(slot) = answer.vars.get_mut(*i) {
            *slot = v;
        }
    }
}

/// Sends the subrequest upstream and reads the response head, its body drained (or the
/// connection dropped).
async fn ask(
    sr: &Request<'_>,
    b: &[u8],
    loc: &Location,
    upstream: usize,
    uri: Option<&UriRewrite>,
    proxy_host: &[u8],
) -> Option<(ResponseHead, Vec<u8>)> {
    let group = &sr.generation.upstreams[upstream];
    let mut key_buf = Vec::new();
    let key = balance_key(sr, b, group, &mut key_buf);
    let settings = Settings::of(loc, Method::Get, sr.outcome.started);
    let mut req = SubRequest {
        sr,
        b,
        uri,
        proxy_host,
    };
    let answer = exchange(&sr.ctx.bufs, group, key, &settings, &mut req)
        .await
        .ok()?;
    let mut conn = answer.conn;
    let (ub, clean) = discard_body(sr, loc, &mut conn.stream, &answer.head, answer.buf).await;
    if clean && answer.head.keep_alive {
        group.release(answer.server, conn);
    }
    Some((answer.head, ub))
}

/// The subrequest as the exchange sees it: a body-less GET, safe to repeat.
struct SubRequest<'r, 'a> {
    sr: &'r Request<'a>,
    b: &'r [u8],
    uri: Option<&'r UriRewrite>,
    proxy_host: &'r [u8],
}

impl Requester for SubRequest<'_, '_> {
    /// Nothing on the subrequest's side can fail.
    type Fail = ();

    fn head(&mut self, out: &mut Vec<u8>) {
        let mark = out.len();
        upstream_head::build(
            self.sr,
            self.b,
            self.uri,
            self.proxy_host,
            Default::default(),
            out,
        );
        // The head starts with the client's method: the subrequest is a GET.
        let m = self.sr.head.method_span.get(self.b).len();
        out.splice(mark..mark + m, *b"GET");
    }
}

/// Reads and drops a short known-length body so the connection can be pooled. Returns the
/// buffer (holding the head) and whether the connection ended clean.
async fn discard_body(
    r: &Request<'_>,
    loc: &Location,
    up: &mut crate::upstream::conn::UpStream,
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
