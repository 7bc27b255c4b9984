//! Hands the access log what it captures from a request while its head is at hand (see
//! `observe::log`): the routed request's variables, or for a request refused before routing
//! (400, 408, 414, 431) the listener's default server's, as nginx logs those.

use super::client::Client;
use super::context::{Generation, ListenerRt};
use super::outcome::Outcome;
use super::request::{Request, find_header, host_of, origin_form, vars};
use crate::http::RequestHead;
use crate::observe::log::{ReqFacts, capture, captured, not_logged, request_line};
use crate::template::Vars;

/// A routed request: its location's access logs.
pub fn routed(r: &Request<'_>, b: &[u8]) {
    let logs = &r.loc.access_log;
    if logs.is_empty() {
        return not_logged(r.outcome, logs, &r.generation.logs);
    }
    let header = |name: &[u8], out: &mut Vec<u8>| find_header(r.head, b, name, out);
    let v = vars(r, b, b"", &header);
    let line = request_line(&b[r.head.method_span.start as usize..]);
    let facts = ReqFacts {
        vars: &v,
        request_line: line,
    };
    capture(r.outcome, logs, &r.generation.logs, &facts);
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
            request_line(&b[h.method_span.start as usize..]),
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
