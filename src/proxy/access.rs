//! The access phase for a routed request, in nginx's order: `limit_conn` and `limit_req`
//! (preaccess), then `allow`/`deny`, `auth_basic` and `auth_request` (access). The decisions
//! are `crate::access`'s; what is done here is their I/O: waiting out a `limit_req` delay, and
//! the `auth_request` subrequest (`subrequest`, over the upstream exchange).

use std::time::Instant;

use tracing::warn;

use super::error::Error;
use super::forward::Failure;
use super::request::{Request, find_header, vars};
use super::subrequest;
use crate::access::auth_request::Verdict as AuthVerdict;
use crate::access::{ConnGuard, Verdict, auth_basic, limit_conn, limit_req};
use crate::route::Location;

/// A request the access phase let through.
pub struct Passed {
    /// The `limit_conn` counts it holds until it is done.
    pub held: ConnGuard,
    /// The `auth_request_set` variables' values.
    pub user: Vec<Vec<u8>>,
}

/// Whether the location has anything for the access phase to check.
pub fn needed(loc: &Location) -> bool {
    !loc.limits.is_empty()
        || !loc.access.is_empty()
        || loc.auth_basic.is_some()
        || loc.auth_request.is_some()
}

pub async fn check(r: &Request<'_>, b: Vec<u8>) -> Result<(Passed, Vec<u8>), Failure> {
    let (held, b) = limits(r, b).await?;
    if !r.loc.access.allows(r.client.addr) {
        return Err((refused(403, Vec::new()), b));
    }
    if r.loc.auth_basic.is_none() && r.loc.auth_request.is_none() {
        let user = Vec::new();
        return Ok((Passed { held, user }, b));
    }
    match authenticate(r, &b).await {
        Ok(user) => Ok((Passed { held, user }, b)),
        Err(e) => Err((e, b)),
    }
}

fn refused(status: u16, extra: Vec<u8>) -> Error {
    Error::Refused { status, extra }
}

/// `limit_conn`, then `limit_req`. A delayed request waits on the shard's timers holding only
/// a copy of its bytes, not a pooled read buffer.
async fn limits(r: &Request<'_>, b: Vec<u8>) -> Result<(ConnGuard, Vec<u8>), Failure> {
    let limits = &r.loc.limits;
    if limits.is_empty() {
        return Ok((ConnGuard::default(), b));
    }
    let zones = &r.generation.zones;
    let (guard, verdict) = {
        let header = |name: &[u8], out: &mut Vec<u8>| find_header(r.head, &b, name, out);
        let vars = vars(r, &b, b"", &header);
        let guard = if limits.conn.is_empty() {
            ConnGuard::default()
        } else {
            match limit_conn::acquire(limits, zones, &vars) {
                Some(g) => g,
                None => return Err((refused(limits.conn_status, Vec::new()), b)),
            }
        };
        let verdict = if limits.req.is_empty() {
            Verdict::Pass
        } else {
            limit_req::check(limits, zones, &vars, Instant::now())
        };
        (guard, verdict)
    };
    match verdict {
        Verdict::Pass => Ok((guard, b)),
        Verdict::Reject => Err((refused(limits.req_status, Vec::new()), b)),
        Verdict::Delay(d) => {
            let deadline = Instant::now() + d;
            // Give the pooled buffer back while waiting; the request's bytes wait in a copy.
            let copy = b.clone();
            r.ctx.bufs.put(b);
            r.ctx.timers.sleep_until(deadline).await;
            let mut b = r.ctx.bufs.get();
            b.extend_from_slice(&copy);
            Ok((guard, b))
        }
    }
}

/// `auth_basic`, then `auth_request`: the `auth_request_set` values, or the refusal (401 with
/// its challenge, 403, or 500 when the auth service could not be asked).
async fn authenticate(r: &Request<'_>, b: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    if let Some(basic) = &r.loc.auth_basic {
        let mut value = Vec::new();
        let sent = find_header(r.head, b, b"authorization", &mut value);
        if !auth_basic::verify(&r.ctx.auth_cache, &basic.users, sent.then_some(&value[..])) {
            if sent {
                warn!(peer = %r.client.peer, "auth_basic: wrong or unknown credentials");
            }
            let header = |name: &[u8], out: &mut Vec<u8>| find_header(r.head, b, name, out);
            let mut realm = Vec::new();
            basic.realm.render(&vars(r, b, b"", &header), &mut realm);
            let mut extra = Vec::new();
            auth_basic::challenge(&realm, &mut extra);
            return Err(refused(401, extra));
        }
    }
    let Some(ar) = &r.loc.auth_request else {
        return Ok(Vec::new());
    };
    let Some(answer) = subrequest::run(r, b, ar).await else {
        warn!(uri = %String::from_utf8_lossy(&ar.uri), "auth request failed");
        return Err(Error::AuthFailed);
    };
    match crate::access::auth_request::verdict(answer.status) {
        AuthVerdict::Allow => Ok(answer.vars),
        AuthVerdict::Deny(401) => Err(refused(401, answer.challenge)),
        AuthVerdict::Deny(status) => Err(refused(status, Vec::new())),
        AuthVerdict::Error => {
            warn!(
                uri = %String::from_utf8_lossy(&ar.uri),
                "auth request unexpected status: {}", answer.status
            );
            Err(Error::AuthFailed)
        }
    }
}
