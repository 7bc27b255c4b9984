//! The cache phases of a proxied request in a location with `proxy_cache`, in order:
//!
//! 1. `proxy_cache_purge` answers here (`purge`);
//! 2. the key is rendered; `proxy_cache_bypass` skips the lookup (BYPASS);
//! 3. lookup (`lookup::find`): the entry's file is opened by its key's hash, by any shard; a
//!    fresh one is a HIT, answered from the file (`serve`), with 304/206 where the request asks,
//!    and where it is compressed from the entry's stored compressed variant (`variant`);
//! 4. an expired or missing entry asks the zone's keeper when a lock, an update others answer
//!    stale meanwhile, or a use count is in play (`wait_turn`); the answer may be: fetch, wait
//!    for another request's fill, or serve the stale entry (UPDATING; STALE with a background
//!    update);
//! 5. the fetch is the usual exchange (`forward`), told by a [`fill::Fetch`] what to add to the
//!    upstream request (If-None-Match / If-Modified-Since to revalidate, GET for a HEAD) and
//!    what to do with the answer: refresh on 304 (REVALIDATED), the stale entry on errors
//!    `proxy_cache_use_stale` names (STALE), else relay and store at once (MISS, EXPIRED).

mod compressed;
pub mod fill;
pub mod hot;
mod lookup;
mod purge;
mod serve;
mod sink;
mod variant;

use std::time::Instant;

use super::forward::{Failure, forward};
use super::request::{Request, find_header, vars};
use super::session::Next;
use crate::cache::KeyHash;
use crate::cache::settings::{LocCache, any_set};
use crate::cache::zone::{ToKeeper, Verdict};
use crate::http::{BodyFraming, Method};
use crate::net::Transport;
use crate::route::UriRewrite;

pub use fill::Fetch;
pub(super) use serve::serve_entry;

/// nginx's `$upstream_cache_status` values.
pub mod status {
    pub const MISS: &str = "MISS";
    pub const BYPASS: &str = "BYPASS";
    pub const EXPIRED: &str = "EXPIRED";
    pub const STALE: &str = "STALE";
    pub const UPDATING: &str = "UPDATING";
    pub const REVALIDATED: &str = "REVALIDATED";
    pub const HIT: &str = "HIT";
}

/// How many times a request looks again after waiting for another request's fill.
const LOOKS: usize = 3;

pub async fn proxy<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    b: Vec<u8>,
    upstream: usize,
    uri: Option<&UriRewrite>,
    proxy_host: &[u8],
    c: &LocCache,
) -> Result<Next, Failure> {
    let (key, purge, bypass, store) = {
        let header = |name: &[u8], out: &mut Vec<u8>| find_header(r.head, &b, name, out);
        let v = vars(r, &b, proxy_host, &header);
        let mut key = Vec::with_capacity(128);
        c.key.render(&v, &mut key);
        let purge = !c.purge.is_empty() && any_set(&c.purge, &v);
        (
            key,
            purge,
            any_set(&c.bypass, &v),
            !any_set(&c.no_cache, &v),
        )
    };
    if purge {
        return Ok(purge::answer(r, stream, b, c, key).await);
    }
    if !c.caches(r.head.method) || !body_in_hand(r, &b) {
        return forward(r, stream, b, upstream, uri, proxy_host, None).await;
    }
    let hash = KeyHash::of(&key);
    let mut fetch = Fetch::new(
        c,
        key,
        hash,
        r.head.method == Method::Head && c.convert_head,
    );
    fetch.may_store = store;
    if bypass {
        // A bypassing HEAD goes as it came: its answer is relayed, and a HEAD's stores nothing.
        fetch.as_get = false;
        fetch.status = status::BYPASS;
        return fetch.run(r, stream, b, upstream, uri, proxy_host).await;
    }
    let now = crate::cache::unix_now();
    if let Some(h) = r.ctx.cache_hot.get(&c.zone, &hash, &fetch.key)
        && h.meta.valid_until >= now
        && (h.vary.is_empty() || lookup::vary_matches(&h.vary, r, &b))
    {
        c.zone.touch(hash);
        r.outcome.cache_status.set(Some(status::HIT));
        return Ok(serve::serve_view(r, stream, b, &h.view(), proxy_host).await);
    }
    let started = Instant::now();
    for _ in 0..LOOKS {
        let found = lookup::find(c, &fetch.key, &hash, r, &b);
        fetch.store_at = found.store_at;
        fetch.vary_main = found.vary_main;
        let now = crate::cache::unix_now();
        match found.entry {
            // nginx: stale once `valid_sec < now` (whole seconds).
            Some(e) if e.meta().valid_until >= now => {
                c.zone.touch(found.hash);
                if found.hash == hash {
                    r.ctx.cache_hot.keep(&c.zone, &hash, &e);
                }
                r.outcome.cache_status.set(Some(status::HIT));
                return Ok(serve_entry(r, stream, b, &e, proxy_host).await);
            }
            Some(e) => {
                fetch.status = status::EXPIRED;
                fetch.stale = Some((e, found.hash));
            }
            None => fetch.status = status::MISS,
        }
        let updating_ok = fetch.stale_for_updating(now);
        let exclusive = c.lock || updating_ok;
        if !exclusive && c.min_uses <= 1 {
            break;
        }
        match wait_turn(c, &hash, exclusive, started).await {
            Turn::Fill => {
                if exclusive {
                    fetch.hold_lock();
                }
                if updating_ok && c.background_update {
                    return Ok(
                        update_after_stale(r, stream, b, upstream, uri, proxy_host, fetch).await,
                    );
                }
                break;
            }
            Turn::Pass => {
                fetch.may_store = false;
                break;
            }
            Turn::Busy(_) if updating_ok => {
                return Ok(fetch
                    .serve_stale(r, stream, b, proxy_host, status::UPDATING)
                    .await);
            }
            Turn::Busy(rx) => match wait_fill(c, started, rx).await {
                Waited::LookAgain => continue,
                Waited::TimedOut => {
                    // proxy_cache_lock_timeout: this request goes to the origin, uncached.
                    fetch.may_store = false;
                    break;
                }
            },
        }
    }
    if fetch.as_get {
        return head_as_get(r, stream, b, upstream, uri, proxy_host, fetch).await;
    }
    fetch.run(r, stream, b, upstream, uri, proxy_host).await
}

/// `proxy_cache_background_update`: the stale entry answers at once (STALE), then this request
/// fetches the fresh one with no client to write to. As in nginx, the connection's next request
/// waits for that update.
async fn update_after_stale<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    b: Vec<u8>,
    upstream: usize,
    uri: Option<&UriRewrite>,
    proxy_host: &[u8],
    mut fetch: Fetch<'_>,
) -> Next {
    let copy = b.clone();
    let next = fetch
        .serve_stale(r, stream, b, proxy_host, status::STALE)
        .await;
    fetch.status = status::EXPIRED;
    fill_without_client(r, copy, upstream, uri, proxy_host, &mut fetch).await;
    next
}

/// `proxy_cache_convert_head`: a HEAD that must fetch goes upstream as GET, so the entry gets
/// the body; the body only fills the entry, and the HEAD is answered from it. When the answer
/// may not be stored, the HEAD itself goes upstream.
async fn head_as_get<S: Transport>(
    r: &Request<'_>,
    stream: &mut S,
    b: Vec<u8>,
    upstream: usize,
    uri: Option<&UriRewrite>,
    proxy_host: &[u8],
    mut fetch: Fetch<'_>,
) -> Result<Next, Failure> {
    r.outcome.cache_status.set(Some(fetch.status));
    if fill_without_client(r, b.clone(), upstream, uri, proxy_host, &mut fetch).await
        && let Some(e) = lookup::find(fetch.c, &fetch.key, &fetch.hash, r, &b).entry
    {
        return Ok(serve_entry(r, stream, b, &e, proxy_host).await);
    }
    forward(r, stream, b, upstream, uri, proxy_host, None).await
}

/// Runs `fetch` with nobody to answer: the origin's body only fills the entry. The request's
/// outcome keeps what its own answer set (status, bytes sent, cache status). Returns whether
/// the exchange and relay ended without error.
async fn fill_without_client(
    r: &Request<'_>,
    b: Vec<u8>,
    upstream: usize,
    uri: Option<&UriRewrite>,
    proxy_host: &[u8],
    fetch: &mut Fetch<'_>,
) -> bool {
    let o = r.outcome;
    let kept = (o.status.get(), o.sent.get(), o.cache_status.get());
    let done = forward(
        r,
        &mut sink::Sink,
        b,
        upstream,
        uri,
        proxy_host,
        Some(fetch),
    )
    .await;
    o.status.set(kept.0);
    o.sent.set(kept.1);
    o.cache_status.set(kept.2);
    match done {
        Ok(Next::KeepAlive(rest)) => {
            r.ctx.bufs.put(rest);
            true
        }
        Ok(_) => true,
        Err((_, b)) => {
            r.ctx.bufs.put(b);
            false
        }
    }
}

/// A request whose body is not all in hand is not looked up (its body would have to be read
/// and dropped first); it goes to the origin as if uncached.
fn body_in_hand(r: &Request<'_>, b: &[u8]) -> bool {
    match r.head.body {
        BodyFraming::None => true,
        BodyFraming::Length(n) => n <= (b.len() - r.head.head_len) as u64,
        BodyFraming::Chunked => false,
    }
}

enum Turn {
    Fill,
    Pass,
    /// Another request fetches the key; its outcome comes on this channel.
    Busy(flume::Receiver<Verdict>),
}

enum Waited {
    LookAgain,
    TimedOut,
}

/// Asks the keeper whether this request fetches the key now.
async fn wait_turn(c: &LocCache, hash: &KeyHash, exclusive: bool, started: Instant) -> Turn {
    let (tx, rx) = flume::unbounded();
    c.zone.send(ToKeeper::Miss {
        hash: *hash,
        min_uses: c.min_uses,
        exclusive: exclusive.then_some(c.lock_age),
        reply: tx,
    });
    let left = c.lock_timeout.saturating_sub(started.elapsed());
    let verdict = match monoio::time::timeout(left, rx.recv_async()).await {
        Ok(Ok(v)) => v,
        // The keeper did not answer in time (or is gone): go on alone, uncached.
        _ => return Turn::Pass,
    };
    match verdict {
        Verdict::Fill | Verdict::Ready | Verdict::Retry => Turn::Fill,
        Verdict::Pass => Turn::Pass,
        Verdict::Wait => Turn::Busy(rx),
    }
}

/// Waits, up to `proxy_cache_lock_timeout` from the request's start, for the fill another
/// request is making.
async fn wait_fill(c: &LocCache, started: Instant, rx: flume::Receiver<Verdict>) -> Waited {
    let left = c.lock_timeout.saturating_sub(started.elapsed());
    match monoio::time::timeout(left, rx.recv_async()).await {
        Ok(Ok(_)) => Waited::LookAgain,
        _ => Waited::TimedOut,
    }
}
