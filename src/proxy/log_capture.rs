//! Hands the access log what it captures from a request while its head is at hand (see
//! `observe::log`): the routed request's variables, or for a request refused before routing
//! (400, 408, 414, 431) the listener's default server's, as nginx logs those.

use super::client::Client;
use super::context::{Generation, ListenerRt};
use super::outcome::Outcome;
use super::request::{Request, find_header, host_of, origin_form, vars};
use crate::http::RequestHead;
use crate::observe::format::ReqVar;
use crate::observe::log::{
    Combined, ReqFacts, ReqSource, capture, captured, not_logged, remote_user, render_with_vars,
    request_line,
};
use crate::template::{Var, Vars};

/// A routed request: its location's access logs.
pub fn routed(r: &Request<'_>, b: &[u8]) {
    let logs = &r.loc.access_log;
    if logs.is_empty() {
        return not_logged(r.outcome, logs, &r.generation.logs);
    }
    capture(r.outcome, logs, &r.generation.logs, &Routed { r, b });
}

/// A routed request as the access log reads it: the common variables straight from the head,
/// the others through the template variables.
struct Routed<'r, 'a> {
    r: &'r Request<'a>,
    b: &'r [u8],
}

impl ReqSource for Routed<'_, '_> {
    fn combined(&self) -> Option<Combined<'_>> {
        let (r, b) = (self.r, self.b);
        let mut c = Combined {
            addr: r.client.ip.as_bytes(),
            request: line_of(r.head, b),
            authorization: b"",
            referer: b"",
            agent: b"",
        };
        let (mut auth, mut referer, mut agent) = (false, false, false);
        for f in &r.head.headers {
            let name = f.name.get(b);
            let (seen, value) = match name.len() {
                13 if name.eq_ignore_ascii_case(b"authorization") => {
                    (&mut auth, &mut c.authorization)
                }
                7 if name.eq_ignore_ascii_case(b"referer") => (&mut referer, &mut c.referer),
                10 if name.eq_ignore_ascii_case(b"user-agent") => (&mut agent, &mut c.agent),
                _ => continue,
            };
            if std::mem::replace(seen, true) {
                // Repeated: `render` joins the values.
                return None;
            }
            *value = f.value.get(b);
        }
        Some(c)
    }

    #[inline]
    fn render(&self, v: &ReqVar, out: &mut Vec<u8>) {
        let (r, b) = (self.r, self.b);
        let line = || line_of(r.head, b);
        match v {
            ReqVar::Tpl(Var::RemoteAddr) => out.extend_from_slice(r.client.ip.as_bytes()),
            ReqVar::Tpl(Var::Http(name)) => {
                find_header(r.head, b, name, out);
            }
            ReqVar::Request => out.extend_from_slice(line()),
            ReqVar::RemoteUser => {
                remote_user(|out| find_header(r.head, b, b"authorization", out), out)
            }
            other => {
                let header = |name: &[u8], out: &mut Vec<u8>| find_header(r.head, b, name, out);
                let v = vars(r, b, b"", &header);
                render_with_vars(other, &v, line(), out);
            }
        }
    }
}

/// The request line of a parsed head: from the method to the version, which is 8 bytes
/// (`HTTP/1.1`) after the target and a space; scanned for its end otherwise.
fn line_of<'b>(head: &RequestHead, b: &'b [u8]) -> &'b [u8] {
    let start = head.method_span.start as usize;
    let end = head.target.end as usize + 9;
    match b.get(start..end) {
        Some(l) if l.len() >= 8 && l[l.len() - 8..].starts_with(b"HTTP/") => l,
        _ => request_line(b.get(start..).unwrap_or_default()),
    }
}

/// A request that was not routed (its head did not parse, or no server took it): the
/// listener's default server's access logs, with what is known of it.
pub fn unrouted(
    outcome: &Outcome,
    generation: &Generation,
    lst: &ListenerRt,
    client: &Client,
    head: Option<(&RequestHead, &[u8])>,
) {
    let logs = &lst.defaults.access_log;
    if logs.is_empty() || captured(outcome) {
        return;
    }
    let server_name = lst.hosts.default_server().map_or(&b""[..], |s| &s.name[..]);
    let bad = outcome.bad_request_line.borrow();
    let (host, target, method, line, b) = match head {
        Some((h, b)) => (
            host_of(h, b),
            origin_form(h.target.get(b)),
            h.method_span.get(b),
            line_of(h, b),
            b,
        ),
        None => (
            &b""[..],
            &b""[..],
            &b""[..],
            bad.as_deref().unwrap_or(b""),
            &b""[..],
        ),
    };
    let header = |name: &[u8], out: &mut Vec<u8>| match head {
        Some((h, _)) => find_header(h, b, name, out),
        None => false,
    };
    let v = Vars {
        host,
        remote_addr: client.ip.as_bytes(),
        remote_ip: client.addr,
        realip_remote_addr: client.peer_ip.as_bytes(),
        remote_port: client.port,
        scheme: client.scheme(),
        request_uri: target,
        method,
        server_name,
        server_port: client.local.port(),
        header: &header,
        proxy_host: b"",
        uri: target,
        captures: None,
        user: &[],
        auth_response: None,
        tls: client.tls.as_deref(),
        cache_status: b"",
    };
    let facts = ReqFacts {
        vars: &v,
        request_line: line,
    };
    capture(outcome, logs, &generation.logs, &facts);
}
