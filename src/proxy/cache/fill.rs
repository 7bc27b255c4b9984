//! A cache fetch: what the exchange adds to the upstream request, what the response phase does
//! with the origin's answer (refresh, stale, store), and the fill itself, which sees the body as
//! the relay passes it to the client and becomes an entry only once the body is complete.

use tracing::warn;

use super::super::forward::{Failure, forward};
use super::super::relay::Tap;
use super::super::request::Request;
use super::super::session::Next;
use super::serve::serve_entry;
use super::status;
use crate::cache::KeyHash;
use crate::cache::entry::{self, EntryMeta};
use crate::cache::policy::{self, Storable};
use crate::cache::settings::LocCache;
use crate::cache::store::{self, Fill, Found};
use crate::cache::zone::{ToKeeper, Zone};
use crate::http::{ResponseFraming, ResponseHead};
use crate::net::Transport;
use crate::route::UriRewrite;

/// The keeper's lock on a key, held by the request filling it: released when dropped, with
/// `Filled` (waiters look again) or `Unlock` (waiters ask again).
pub struct LockHeld {
    zone: std::sync::Arc<Zone>,
    /// The key's own hash, which the keeper locked.
    hash: KeyHash,
    /// What was stored: where, its size, whether a Vary variant.
    filled: Option<(KeyHash, u64, bool)>,
}

impl Drop for LockHeld {
    fn drop(&mut self) {
        self.zone.send(match self.filled {
            Some((hash, size, variant)) => ToKeeper::Filled {
                hash,
                size,
                variant,
                unlock: self.hash,
            },
            None => ToKeeper::Unlock(self.hash),
        });
    }
}

pub struct Fetch<'c> {
    pub c: &'c LocCache,
    pub key: Vec<u8>,
    pub hash: KeyHash,
    /// Where a response is stored (see `lookup::Looked`).
    pub store_at: Option<KeyHash>,
    pub vary_main: Option<Vec<u8>>,
    /// `proxy_no_cache`, `proxy_cache_min_uses`, a lock that timed out: fetch without storing.
    pub may_store: bool,
    /// The expired entry and its hash: revalidated, or served when the origin fails.
    pub stale: Option<(Box<Found>, KeyHash)>,
    /// MISS, EXPIRED or BYPASS: what the request is, unless the origin's answer changes it.
    pub status: &'static str,
    /// A HEAD sent upstream as GET (`proxy_cache_convert_head`), so the entry gets a body.
    pub as_get: bool,
    lock: Option<LockHeld>,
    /// The conditional fields sent upstream to revalidate.
    revalidating: bool,
}

/// What the response phase does with the origin's answer.
pub enum AfterHead {
    /// Relay it; store it along the way when a fill is given.
    Relay(Option<Box<FillTap>>),
    /// 304 to our revalidation: the stale entry, refreshed, answers.
    Revalidated,
    /// The origin failed in a way `proxy_cache_use_stale` names: the stale entry answers.
    Stale,
}

impl<'c> Fetch<'c> {
    pub fn new(c: &'c LocCache, key: Vec<u8>, hash: KeyHash, as_get: bool) -> Fetch<'c> {
        Fetch {
            c,
            key,
            hash,
            store_at: Some(hash),
            vary_main: None,
            may_store: true,
            stale: None,
            status: status::MISS,
            as_get,
            lock: None,
            revalidating: false,
        }
    }

    pub fn hold_lock(&mut self) {
        self.lock = Some(LockHeld {
            zone: self.c.zone.clone(),
            hash: self.hash,
            filled: None,
        });
    }

    /// Whether the stale entry may answer while another request updates it:
    /// `proxy_cache_use_stale updating`, or the entry's `stale-while-revalidate` time.
    pub fn stale_for_updating(&self, now: i64) -> bool {
        self.stale.as_ref().is_some_and(|(e, _)| {
            self.c.use_stale.updating
                || now <= e.meta().valid_until + i64::from(e.meta().stale_while_revalidate)
        })
    }

    fn stale_on_error(&self, now: i64) -> bool {
        self.stale
            .as_ref()
            .is_some_and(|(e, _)| now <= e.meta().valid_until + i64::from(e.meta().stale_if_error))
    }

    /// The exchange, the response phase and the relay, with this fetch's cache hooks.
    pub async fn run<S: Transport>(
        mut self,
        r: &Request<'_>,
        stream: &mut S,
        b: Vec<u8>,
        upstream: usize,
        uri: Option<&UriRewrite>,
        proxy_host: &[u8],
    ) -> Result<Next, Failure> {
        r.outcome.cache_status.set(Some(self.status));
        forward(r, stream, b, upstream, uri, proxy_host, Some(&mut self)).await
    }

    /// Fields added to the upstream request: the validators of the stale entry, when
    /// `proxy_cache_revalidate` is on. (The client's own conditional and Range fields are
    /// never sent with caching on: the entry needs the whole, unconditional response.)
    pub fn extra_fields(&mut self, out: &mut Vec<u8>) {
        if !self.c.revalidate || self.as_get {
            return;
        }
        let Some((e, _)) = &self.stale else { return };
        if let Some(tag) = e.etag() {
            out.extend_from_slice(b"If-None-Match: ");
            out.extend_from_slice(tag);
            out.extend_from_slice(b"\r\n");
            self.revalidating = true;
        }
        if let Some(lm) = e.meta().last_modified {
            out.extend_from_slice(b"If-Modified-Since: ");
            out.extend_from_slice(crate::cache::http_date(lm).as_bytes());
            out.extend_from_slice(b"\r\n");
            self.revalidating = true;
        }
    }

    /// After an exchange failed without an answer: whether the stale entry answers instead.
    pub fn stale_after_failure(&self, e: &crate::upstream::Error) -> bool {
        use crate::upstream::Error as E;
        let u = &self.c.use_stale;
        let named = match e {
            E::ConnectTimeout | E::Timeout => u.timeout,
            E::Malformed | E::Truncated => u.invalid_header,
            _ => u.error,
        };
        self.stale.is_some() && (named || self.stale_on_error(crate::cache::unix_now()))
    }

    /// Decides what the origin's answer `resp` (head in `ub`) becomes.
    pub fn after_head(
        &mut self,
        r: &Request<'_>,
        b: &[u8],
        resp: &ResponseHead,
        ub: &[u8],
    ) -> AfterHead {
        let now = crate::cache::unix_now();
        if self.revalidating && resp.status == 304 && self.refresh(resp, ub, now) {
            r.outcome.cache_status.set(Some(status::REVALIDATED));
            return AfterHead::Revalidated;
        }
        if self.stale.is_some() && self.stale_on_status(resp.status, now) {
            r.outcome.cache_status.set(Some(status::STALE));
            return AfterHead::Stale;
        }
        AfterHead::Relay(self.start_fill(r, b, resp, ub, now))
    }

    fn stale_on_status(&self, status: u16, now: i64) -> bool {
        let u = &self.c.use_stale;
        let named = match status {
            500 => u.http_500,
            502 => u.http_502,
            503 => u.http_503,
            504 => u.http_504,
            403 => u.http_403,
            404 => u.http_404,
            429 => u.http_429,
            _ => return false,
        };
        named || (status >= 500 && self.stale_on_error(now))
    }

    /// A 304 to our revalidation: the entry's times are renewed from the 304's fields (as
    /// nginx does, with the stored status for `proxy_cache_valid`).
    fn refresh(&mut self, resp: &ResponseHead, ub: &[u8], now: i64) -> bool {
        let Some((e, hash)) = &self.stale else {
            return false;
        };
        let (hash, mut meta, size) = (*hash, *e.meta(), e.file_len);
        let fields = field_pairs(resp, ub);
        match policy::storable(meta.status, &fields, now, &self.rules()) {
            Storable::Yes {
                valid_until,
                stale_while_revalidate,
                stale_if_error,
                ..
            } => {
                meta.valid_until = valid_until;
                meta.stale_while_revalidate = stale_while_revalidate;
                meta.stale_if_error = stale_if_error;
            }
            Storable::No(_) => return false,
        }
        if let Err(err) = store::refresh(&self.c.zone, &hash, &meta) {
            warn!(zone = %self.c.zone.name, "cache entry not refreshed: {err}");
            return false;
        }
        if let Some((e, _)) = &mut self.stale {
            e.d.meta = meta;
        }
        if let Some(l) = &mut self.lock {
            l.filled = Some((hash, size, false));
        }
        true
    }

    fn rules(&self) -> policy::Rules<'_> {
        policy::Rules {
            valid: &self.c.valid,
            ignore: self.c.ignore,
        }
    }

    /// The fill for a response that may be stored, None for one that may not.
    fn start_fill(
        &mut self,
        r: &Request<'_>,
        b: &[u8],
        resp: &ResponseHead,
        ub: &[u8],
        now: i64,
    ) -> Option<Box<FillTap>> {
        if !self.may_store {
            return None;
        }
        let fields = field_pairs(resp, ub);
        let Storable::Yes {
            valid_until,
            stale_while_revalidate,
            stale_if_error,
            vary,
        } = policy::storable(resp.status, &fields, now, &self.rules())
        else {
            return None;
        };
        if resp.framing == ResponseFraming::None && resp.status != 204 {
            // A HEAD's answer (no conversion): nothing to store for GETs.
            return None;
        }
        let at = self.store_at?;
        let vary_blob = match &vary {
            Some(names) => {
                let values = super::lookup::request_values(names, r, b);
                entry::encode_vary(names, &values)
            }
            None => Vec::new(),
        };
        let (etag, last_modified) = policy::validators(resp.status, &fields);
        let etag = etag.unwrap_or(b"");
        let meta = EntryMeta {
            created: now,
            valid_until,
            last_modified,
            stale_while_revalidate,
            stale_if_error,
            status: resp.status,
            body_len: 0,
            complete: false,
        };
        let head = entry::strip_framing(&ub[..resp.head_len])?;
        if !entry::fits(&self.key, etag, &vary_blob, &head) {
            return None;
        }
        match Fill::start(&self.c.zone, &at, meta, &self.key, etag, &vary_blob, &head) {
            Ok(fill) => {
                let lock = self.lock.take();
                Some(Box::new(FillTap {
                    fill: Some(fill),
                    lock,
                    zone: self.c.zone.clone(),
                    hash: at,
                    variant: !vary_blob.is_empty(),
                }))
            }
            Err(e) => {
                warn!(zone = %self.c.zone.name, "cache fill not started: {e}");
                None
            }
        }
    }

    /// Answers with the stale entry (UPDATING, STALE, REVALIDATED are the caller's word).
    pub async fn serve_stale<S: Transport>(
        &mut self,
        r: &Request<'_>,
        stream: &mut S,
        b: Vec<u8>,
        proxy_host: &[u8],
        why: &'static str,
    ) -> Next {
        r.outcome.cache_status.set(Some(why));
        match &self.stale {
            Some((e, _)) => serve_entry(r, stream, b, e, proxy_host).await,
            // Callers only ask with a stale entry in hand.
            None => Next::Close,
        }
    }
}

/// The response's fields as name/value pairs.
pub fn field_pairs<'b>(resp: &ResponseHead, ub: &'b [u8]) -> Vec<(&'b [u8], &'b [u8])> {
    resp.headers
        .iter()
        .map(|h| (h.name.get(ub), h.value.get(ub)))
        .collect()
}

/// A fill fed by the relay.
pub struct FillTap {
    fill: Option<Fill>,
    lock: Option<LockHeld>,
    zone: std::sync::Arc<Zone>,
    hash: KeyHash,
    variant: bool,
}

impl Tap for FillTap {
    fn data(&mut self, bytes: &[u8]) {
        if let Some(f) = &mut self.fill {
            f.data(bytes);
        }
    }

    fn wants(&self) -> bool {
        self.fill.as_ref().is_some_and(Fill::alive)
    }
}

/// A response that may or may not be stored: the relay taps it only when a fill goes on.
impl Tap for Option<Box<FillTap>> {
    fn data(&mut self, bytes: &[u8]) {
        if let Some(f) = self {
            f.data(bytes);
        }
    }

    fn wants(&self) -> bool {
        self.as_ref().is_some_and(|f| f.wants())
    }
}

impl FillTap {
    /// The body was relayed in full: the entry becomes visible to every shard.
    pub fn complete(mut self) {
        let Some(size) = self.fill.take().and_then(Fill::finish) else {
            return;
        };
        match &mut self.lock {
            Some(l) => l.filled = Some((self.hash, size, self.variant)),
            None => self.zone.send(ToKeeper::Filled {
                hash: self.hash,
                size,
                variant: self.variant,
                unlock: self.hash,
            }),
        }
    }
}
