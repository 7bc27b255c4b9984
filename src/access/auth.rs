//! The authentication steps of the access phase, in nginx's order: `auth_basic`, then
//! `auth_request`. Either may answer the request itself (401, 403 or 500); otherwise the
//! request goes on with the `auth_request_set` variables filled in.

use monoio::net::TcpStream;
use tracing::warn;

use super::{auth_basic, auth_request};
use crate::http::Method;
use crate::proxy::connection::Next;
use crate::proxy::forward::{self, Request};
use crate::proxy::headers;
use crate::proxy::respond;
use crate::route::ServerRt;

/// Whether the location has anything for this step to do.
pub fn needed(r: &Request<'_>) -> bool {
    r.loc.auth_basic.is_some() || r.loc.auth_request.is_some()
}

/// Ok: the request may proceed, with the `auth_request_set` values (and the buffer back).
/// Err: the client was answered; the connection goes on as `Next` says.
pub async fn check(
    r: &Request<'_>,
    server: &ServerRt,
    stream: &mut TcpStream,
    b: Vec<u8>,
) -> Result<(Vec<Vec<u8>>, Vec<u8>), Next> {
    if let Some(basic) = &r.loc.auth_basic {
        let mut value = Vec::new();
        let sent = headers::find_header(r.head, &b, b"authorization", &mut value);
        if !auth_basic::verify(&r.ctx.auth_cache, &basic.users, sent.then_some(&value[..])) {
            if sent {
                warn!(peer = %r.client.peer, "auth_basic: wrong or unknown credentials");
            }
            let mut extra = Vec::new();
            {
                let header =
                    |name: &[u8], out: &mut Vec<u8>| headers::find_header(r.head, &b, name, out);
                let vars = headers::vars(r, &b, b"", &header);
                let mut realm = Vec::new();
                basic.realm.render(&vars, &mut realm);
                auth_basic::challenge(&realm, &mut extra);
            }
            return Err(deny(r, stream, b, 401, extra).await);
        }
    }
    let Some(ar) = &r.loc.auth_request else {
        return Ok((Vec::new(), b));
    };
    let Some(answer) = auth_request::run(r, server, &b, ar).await else {
        warn!(uri = %String::from_utf8_lossy(&ar.uri), "auth request failed");
        return Err(deny(r, stream, b, 500, Vec::new()).await);
    };
    match answer.status {
        200..=299 => Ok((answer.vars, b)),
        401 => Err(deny(r, stream, b, 401, answer.challenge).await),
        403 => Err(deny(r, stream, b, 403, Vec::new()).await),
        s => {
            warn!(
                uri = %String::from_utf8_lossy(&ar.uri),
                "auth request unexpected status: {s}"
            );
            Err(deny(r, stream, b, 500, Vec::new()).await)
        }
    }
}

/// Answers `code` with the extra header lines; the connection stays open when the request's
/// body (if any) is already in the buffer, so a browser can retry with credentials on it.
async fn deny(
    r: &Request<'_>,
    stream: &mut TcpStream,
    b: Vec<u8>,
    code: u16,
    extra: Vec<u8>,
) -> Next {
    let head = r.head;
    let (consumed, keep) = forward::answered_extent(r, &b);
    let mut extra = extra;
    if r.loc.add_headers.iter().any(|h| h.always) {
        let header = |name: &[u8], out: &mut Vec<u8>| headers::find_header(head, &b, name, out);
        let vars = headers::vars(r, &b, b"", &header);
        respond::render_add_headers(&r.loc.add_headers, code, &vars, &mut extra);
    }
    let head_only = head.method == Method::Head;
    if !respond::error(
        stream,
        code,
        !keep,
        head_only,
        &extra,
        r.loc.client_send_timeout,
    )
    .await
        || !keep
    {
        return Next::Close;
    }
    Next::KeepAlive(forward::leftover(r.ctx, b, consumed))
}
