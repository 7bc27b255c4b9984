//! `proxy_cache_purge` (nginx Plus's meaning): the request's key, or every key starting with
//! it when it ends in `*`, is removed from the zone by its keeper; 204 when something was
//! removed (always for a wildcard), 404 when the key had no entry.

use super::super::answer::{self, Text};
use super::super::request::Request;
use super::super::session::Next;
use crate::cache::settings::LocCache;
use crate::cache::zone::ToKeeper;
use crate::net::Transport;

pub async fn answer<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    b: Vec<u8>,
    c: &LocCache,
    mut key: Vec<u8>,
) -> Next {
    let prefix = key.last() == Some(&b'*');
    if prefix {
        key.pop();
    }
    let (tx, rx) = flume::bounded(1);
    c.zone.send(ToKeeper::Purge {
        key,
        prefix,
        reply: tx,
    });
    let removed = rx.recv_async().await.unwrap_or(0);
    let code = if removed > 0 || prefix { 204 } else { 404 };
    answer::text(r, stream, b, code, Text::Rendered(b"")).await
}
