//! nginx's `proxy_cache` in ringway, end to end: the real binary in front of a scripted origin
//! (`common/origin.rs`: answers per path, counts the requests per path, records their heads),
//! each test with a cache directory of its own (`proxy_cache_path DIR levels=1:2
//! keys_zone=z:1m …`) and `add_header X-Cache-Status $upstream_cache_status always;`. Every
//! test asserts what the client got (status, body, `X-Cache-Status`) and how many requests
//! reached the origin. The expected behaviour is nginx's, as its documentation of each
//! directive states it. Modules by concern: hits (MISS/HIT across shards, HEAD, ranges and
//! conditionals, large bodies), freshness (proxy_cache_valid, Cache-Control, Expires,
//! X-Accel-Expires, proxy_ignore_headers), revalidation and stale answers, the cache lock, keys
//! (Vary, Set-Cookie, bypass, no_cache, min_uses, purge), and storage (max_size eviction,
//! restart, corrupt files, cut origin bodies).

mod common;

#[path = "cache/harness.rs"]
mod harness;

#[path = "cache/freshness.rs"]
mod freshness;
#[path = "cache/hits.rs"]
mod hits;
#[path = "cache/keys.rs"]
mod keys;
#[path = "cache/lock.rs"]
mod lock;
#[path = "cache/revalidation.rs"]
mod revalidation;
#[path = "cache/storage.rs"]
mod storage;
