//! The route phase: Host → server (nginx's server_name rules), the server's `realip`, the
//! target's path normalized for matching, the rewrite phase and the location search. Decisions
//! only, no I/O: the result says where the request goes and what URI it carries.

use std::borrow::Cow;
use std::rc::Rc;

use tracing::warn;

use super::client::Client;
use super::context::ListenerRt;
use super::error::Error;
use super::request::{find_header, host_of, origin_form};
use crate::http::uri::{escape_path, normalize_path};
use crate::http::{Method, RequestHead};
use crate::route::{Location, ServerRt, rewrite};
use crate::template::Vars;

/// Where the route phase sends a request.
pub struct Routed<'g> {
    pub server: &'g ServerRt,
    pub loc: &'g Rc<Location>,
    /// The path (re-escaped) and arguments locations matched, when normalizing changed the
    /// target.
    pub normalized: Option<Vec<u8>>,
    /// The URI after `rewrite`, when it changed it.
    pub uri: Option<Vec<u8>>,
    /// `rewrite … break` set `uri`: it is sent as it is.
    pub uri_final: bool,
    /// A `rewrite` answered with a redirect: (status, target).
    pub redirect: Option<(u16, Vec<u8>)>,
    /// A `rewrite` changed the URI: an internal redirect, which may reach `internal`
    /// locations.
    pub rewritten: bool,
}

/// The server for the request's Host (before anything else: its `realip` rules apply first).
pub fn server<'g>(
    lst: &'g ListenerRt,
    head: &RequestHead,
    b: &[u8],
) -> Result<&'g ServerRt, Error> {
    if matches!(head.method, Method::Connect | Method::Trace) {
        // A reverse proxy opens no tunnels to arbitrary authorities; TRACE would echo
        // credentials back (nginx answers both 405).
        return Err(Error::MethodNotAllowed);
    }
    let host = head.host.map(|s| s.get(b)).unwrap_or(b"");
    lst.hosts.find(host).map(|s| &**s).ok_or(Error::NoLocation)
}

/// Routes a request within `server` (`client` as its `realip` rules left it).
pub fn route<'g>(
    server: &'g ServerRt,
    client: &Client,
    head: &RequestHead,
    b: &[u8],
) -> Result<Routed<'g>, Error> {
    let origin = origin_form(head.target.get(b));
    let path = match origin.iter().position(|&c| c == b'?') {
        // `OPTIONS *` (and an empty absolute-form path) is routed as `/`.
        _ if origin.first() != Some(&b'/') => b"/",
        Some(0) => b"/",
        Some(i) => &origin[..i],
        None => origin,
    };
    let norm = normalize_path(path).map_err(Error::BadPath)?;
    let normalized: Option<Vec<u8>> = match &norm {
        Cow::Borrowed(_) => None,
        Cow::Owned(p) => {
            let mut u = Vec::with_capacity(origin.len() + 8);
            escape_path(p, &mut u);
            if let Some(q) = origin.iter().position(|&c| c == b'?') {
                u.extend_from_slice(&origin[q..]);
            }
            Some(u)
        }
    };
    let mut routed = Routed {
        server,
        loc: server.locations.fallback().ok_or(Error::NoLocation)?,
        normalized: None,
        uri: None,
        uri_final: false,
        redirect: None,
        rewritten: false,
    };
    if !server.has_rewrites {
        routed.loc = server.locations.find(&norm).ok_or(Error::NoLocation)?;
    } else {
        let uri: &[u8] = normalized.as_deref().unwrap_or(origin);
        let header = |name: &[u8], out: &mut Vec<u8>| find_header(head, b, name, out);
        let vars = Vars {
            host: host_of(head, b),
            remote_addr: client.ip.as_bytes(),
            remote_ip: client.addr,
            realip_remote_addr: client.peer_ip.as_bytes(),
            remote_port: client.port,
            scheme: client.scheme(),
            request_uri: origin,
            method: head.method_span.get(b),
            server_name: &server.name,
            server_port: client.local.port(),
            header: &header,
            proxy_host: b"",
            uri,
            captures: None,
            user: &[],
            auth_response: None,
            tls: client.tls.as_deref(),
            cache_status: b"",
        };
        match rewrite::route(server, uri, &vars) {
            Some(rewrite::Routed::Location { loc, uri, broke }) => {
                routed.loc = loc;
                routed.rewritten = uri.is_some();
                routed.uri = uri;
                routed.uri_final = broke;
            }
            // Answered from the server's fallback location (its add_header fields apply).
            Some(rewrite::Routed::Redirect { code, location }) => {
                routed.redirect = Some((code, location));
            }
            Some(rewrite::Routed::Loop) => {
                warn!(
                    "rewrite or internal redirection cycle for {}",
                    String::from_utf8_lossy(uri)
                );
                return Err(Error::RewriteCycle);
            }
            None => return Err(Error::NoLocation),
        }
    }
    routed.normalized = normalized;
    Ok(routed)
}
