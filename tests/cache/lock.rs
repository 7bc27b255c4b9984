//! `proxy_cache_lock on`: "only one request at a time will be allowed to populate a new cache
//! element … Other requests of the same cache element will either wait for a response to appear
//! in the cache or the cache lock for this element to be released".

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use crate::common::*;
use crate::harness::*;

#[test]
fn lock_collapses_200_concurrent_misses_into_one_origin_request() {
    const N: usize = 200;
    let s = Setup::start_with(2, "", &format!("{VALID} proxy_cache_lock on;"));
    let body = body_for(7, 16 * 1024);
    s.origin
        .set("/cold", Reply::ok(&body).delay(Duration::from_millis(500)));
    let barrier = Arc::new(Barrier::new(N));
    let addr = s.rw.addr;
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                send_req(addr, "GET", "/cold", &[], Duration::from_secs(8)).map(|(_, r)| r)
            })
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for (i, t) in threads.into_iter().enumerate() {
        let r = t
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(r.status, 200, "request {i}: {}", r.describe());
        assert_eq!(r.end, End::Complete, "request {i}: {}", r.describe());
        assert_bytes_eq(&r.body, &body, &format!("request {i}"));
        *statuses.entry(cache_status(&r).to_string()).or_default() += 1;
    }
    expect_count(
        &s.origin,
        "/cold",
        1,
        "200 concurrent requests under the lock",
    );
    // The one that populated the entry is the MISS; the others found it in the cache.
    assert_eq!(
        statuses.get("MISS"),
        Some(&1),
        "X-Cache-Status counts: {statuses:?}"
    );
    assert_eq!(
        statuses.get("HIT"),
        Some(&(N - 1)),
        "X-Cache-Status counts: {statuses:?}"
    );
}

/// `proxy_cache_lock_timeout`: a request that waited this long goes to the origin itself, and
/// its answer is not stored; `proxy_cache_lock_age` is longer here, so only the timeout acts.
#[test]
fn a_waiter_past_the_lock_timeout_fetches_for_itself() {
    let s = Setup::start(
        "",
        &format!(
            "{VALID} proxy_cache_lock on; proxy_cache_lock_timeout 500ms; proxy_cache_lock_age 10s;"
        ),
    );
    let body = body_for(8, 1000);
    s.origin
        .set("/slow", Reply::ok(&body).delay(Duration::from_millis(1500)));
    let addr = s.rw.addr;
    let first = thread::spawn(move || send_req(addr, "GET", "/slow", &[], Duration::from_secs(8)));
    // The first request takes the lock before the second asks.
    thread::sleep(Duration::from_millis(200));
    let t0 = std::time::Instant::now();
    let (_, second) = send_req(addr, "GET", "/slow", &[], Duration::from_secs(8))
        .unwrap_or_else(|e| panic!("second request: {e}"));
    let took = t0.elapsed();
    let (_, first) = first
        .join()
        .unwrap()
        .unwrap_or_else(|e| panic!("first: {e}"));
    for (name, r) in [("first", &first), ("second", &second)] {
        assert_eq!(r.status, 200, "{name}: {}", r.describe());
        assert_bytes_eq(&r.body, &body, name);
        assert_eq!(cache_status(r), "MISS", "{name}: {}", r.describe());
    }
    // The second waited for the timeout (0.5 s) and then the origin's 1.5 s itself.
    assert!(
        took >= Duration::from_millis(1900),
        "the second request did not wait for the lock timeout and its own fetch: {took:?}"
    );
    expect_count(&s.origin, "/slow", 2, "a waiter past the lock timeout");
    // The first request's answer was stored.
    expect(&s.get("/slow"), 200, "HIT", &body, "after both");
}
