//! Expired entries: revalidation with the cached validators (`proxy_cache_revalidate`), stale
//! answers when the origin fails (`proxy_cache_use_stale error timeout http_500`), and a stale
//! answer while a background update refreshes the entry (`proxy_cache_use_stale updating` with
//! `proxy_cache_background_update on`).

use std::time::{Duration, Instant};

use crate::common::*;
use crate::harness::*;

const EXPIRY_WAIT: Duration = Duration::from_secs(4);

#[test]
fn revalidation_sends_the_validators_and_a_304_keeps_the_cached_body() {
    const LM: &str = "Tue, 02 Jan 2024 03:04:05 GMT";
    let s = Setup::start("", &format!("{VALID} proxy_cache_revalidate on;"));
    // (path, validator field, its value, the conditional field nginx sends for it)
    let cases = [
        ("/etag", "ETag", "\"r1\"", "if-none-match"),
        ("/lm", "Last-Modified", LM, "if-modified-since"),
    ];
    for (path, field, value, conditional) in cases {
        let old = format!("{path} v1");
        // max-age=1 on the 200 and on the 304: fresh again for a second after revalidating.
        s.origin.set(
            path,
            Reply::ok(&old)
                .header("Cache-Control", "max-age=1")
                .header(field, value)
                .conditional(),
        );
        let t0 = Instant::now();
        expect(&s.get(path), 200, "MISS", old.as_bytes(), path);
        let first = &s.origin.requests_for(path)[0];
        assert!(
            !first.has(conditional),
            "{path}: the first request carried {conditional}: {}",
            first.head
        );
        // A full answer would now be another body; a 304 must keep the cached one.
        s.origin.set(
            path,
            Reply::ok(format!("{path} v2, must not be sent"))
                .header("Cache-Control", "max-age=1")
                .header(field, value)
                .conditional(),
        );
        let (r, _) = s.await_not_hit(path, old.as_bytes(), t0, EXPIRY_WAIT);
        expect(
            &r,
            200,
            "REVALIDATED",
            old.as_bytes(),
            &format!("{path} revalidated"),
        );
        let reqs = s.origin.requests_for(path);
        assert_eq!(reqs.len(), 2, "{path}: one revalidation request");
        assert_eq!(
            reqs[1].header(conditional),
            Some(value),
            "{path}: the revalidation request: {}",
            reqs[1].head
        );
        // The 304 refreshed the entry (its max-age=1).
        expect(
            &s.get(path),
            200,
            "HIT",
            old.as_bytes(),
            &format!("{path} after 304"),
        );
        expect_count(&s.origin, path, 2, &format!("{path} after the 304"));
    }
}

#[test]
fn stale_entry_served_when_the_origin_answers_500_or_is_down() {
    let mut s = Setup::start(
        "",
        "proxy_cache_valid 200 1s; proxy_cache_use_stale error timeout http_500;",
    );
    s.origin.set("/s500", Reply::ok("good 500"));
    s.origin.set("/sdown", Reply::ok("good down"));
    let t0 = Instant::now();
    expect(&s.get("/s500"), 200, "MISS", b"good 500", "/s500 first GET");
    expect(
        &s.get("/sdown"),
        200,
        "MISS",
        b"good down",
        "/sdown first GET",
    );

    // http_500: the origin answers 500 once the entry has expired.
    s.origin.set("/s500", Reply::status(500, "origin broke"));
    let (r, _) = s.await_not_hit("/s500", b"good 500", t0, EXPIRY_WAIT);
    expect(
        &r,
        200,
        "STALE",
        b"good 500",
        "/s500 with the origin answering 500",
    );
    expect_count(&s.origin, "/s500", 2, "/s500: the 500 came from the origin");

    // error: the origin refuses connections (the entry has expired by now too).
    s.origin.kill();
    let r = s.get("/sdown");
    expect(
        &r,
        200,
        "STALE",
        b"good down",
        "/sdown with the origin down",
    );
    expect_count(&s.origin, "/sdown", 1, "/sdown: origin down");
    // And again: the shard keeps answering from the stale entry.
    expect(&s.get("/sdown"), 200, "STALE", b"good down", "/sdown again");
}

#[test]
fn background_update_answers_stale_at_once_then_refreshes_the_entry() {
    let s = Setup::start(
        "",
        &format!("{VALID} proxy_cache_use_stale updating; proxy_cache_background_update on;"),
    );
    s.origin
        .set("/u", Reply::ok("old").header("Cache-Control", "max-age=1"));
    let t0 = Instant::now();
    expect(&s.get("/u"), 200, "MISS", b"old", "first GET");
    // The refresh takes a second at the origin, and is then fresh for an hour.
    s.origin.set(
        "/u",
        Reply::ok("new")
            .header("Cache-Control", "max-age=3600")
            .delay(Duration::from_secs(1)),
    );
    // The first request after expiry: answered from the stale entry without waiting for the
    // origin (nginx reports STALE for the request that starts the update, UPDATING for requests
    // during it).
    let deadline = Instant::now() + EXPIRY_WAIT;
    let (r, took) = loop {
        let sent = Instant::now();
        let r = s.get("/u");
        let took = sent.elapsed();
        if cache_status(&r) != "HIT" {
            break (r, took);
        }
        expect(&r, 200, "HIT", b"old", "while fresh");
        assert!(
            Instant::now() < deadline,
            "still a HIT after {:?}",
            t0.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        matches!(cache_status(&r), "STALE" | "UPDATING"),
        "first answer after expiry: {}",
        r.describe()
    );
    expect(
        &r,
        200,
        cache_status(&r),
        b"old",
        "first answer after expiry",
    );
    assert!(
        took < Duration::from_millis(700),
        "the stale answer waited {took:?} (the origin takes 1 s)"
    );
    // Then the entry is refreshed in the background: poll until a HIT with the new body.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = s.get("/u");
        if cache_status(&r) == "HIT" {
            expect(&r, 200, "HIT", b"new", "after the background update");
            break;
        }
        assert!(
            matches!(cache_status(&r), "STALE" | "UPDATING"),
            "during the update: {}",
            r.describe()
        );
        expect(&r, 200, cache_status(&r), b"old", "during the update");
        assert!(
            Instant::now() < deadline,
            "no HIT with the new body 5 s after the update began"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    expect_count(&s.origin, "/u", 2, "one fill and one background update");
}
