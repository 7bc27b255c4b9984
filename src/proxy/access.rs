//! The access step for a routed request, in nginx's phase order: `limit_conn`, then
//! `limit_req` (preaccess). A delayed request waits on the shard's timers holding only a copy of
//! its bytes, not a pooled read buffer.

use std::time::Instant;

use super::forward::Request;
use super::headers;
use crate::access::{ConnGuard, Verdict, limit_conn, limit_req};

pub enum Gate {
    /// Go on, holding the `limit_conn` counts until the request is done.
    Pass(ConnGuard, Vec<u8>),
    /// Answer with this status.
    Refuse(u16, Vec<u8>),
}

pub async fn check(r: &Request<'_>, b: Vec<u8>) -> Gate {
    let limits = &r.loc.limits;
    let zones = &r.generation.zones;
    let (guard, verdict) = {
        let header = |name: &[u8], out: &mut Vec<u8>| headers::find_header(r.head, &b, name, out);
        let vars = headers::vars(r, &b, b"", &header);
        let guard = if limits.conn.is_empty() {
            ConnGuard::default()
        } else {
            match limit_conn::acquire(limits, zones, &vars) {
                Some(g) => g,
                None => return Gate::Refuse(limits.conn_status, b),
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
        Verdict::Pass => Gate::Pass(guard, b),
        Verdict::Reject => Gate::Refuse(limits.req_status, b),
        Verdict::Delay(d) => {
            let deadline = Instant::now() + d;
            // Give the pooled buffer back while waiting; the request's bytes wait in a copy.
            let copy = b.clone();
            r.ctx.bufs.put(b);
            r.ctx.timers.sleep_until(deadline).await;
            let mut b = r.ctx.bufs.get();
            b.extend_from_slice(&copy);
            Gate::Pass(guard, b)
        }
    }
}
