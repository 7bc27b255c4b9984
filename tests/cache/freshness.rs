//! How long an entry is fresh: `proxy_cache_valid`, and the upstream's `X-Accel-Expires`,
//! `Cache-Control` and `Expires`, which take priority over it ("Parameters of caching can also
//! be set directly in the response header. This has higher priority than setting of caching
//! time using the directive."), unless `proxy_ignore_headers` names them.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::harness::*;

/// An entry valid for 1 s turns stale between 1 s and 2 s after it was stored (nginx counts
/// whole seconds): wait up to 4 s, and never call it stale before 0.9 s.
const EXPIRY_WAIT: Duration = Duration::from_secs(4);
const EARLIEST: Duration = Duration::from_millis(900);

/// Stores `path` (answered `old` now, `new` afterwards with nothing that limits its life),
/// waits for it to expire, and checks the EXPIRED answer and the HIT after it.
#[track_caller]
fn check_expires(s: &Setup, path: &str, first: Reply, old: &[u8]) {
    s.origin.set(path, first);
    let t0 = Instant::now();
    expect(&s.get(path), 200, "MISS", old, &format!("{path} first GET"));
    let new = format!("{path} v2");
    s.origin.set(path, Reply::ok(&new));
    let (r, age) = s.await_not_hit(path, old, t0, EXPIRY_WAIT);
    expect(
        &r,
        200,
        "EXPIRED",
        new.as_bytes(),
        &format!("{path} after expiry"),
    );
    assert!(age >= EARLIEST, "{path}: expired after only {age:?}");
    expect_count(&s.origin, path, 2, &format!("{path} after expiry"));
    expect(
        &s.get(path),
        200,
        "HIT",
        new.as_bytes(),
        &format!("{path} refreshed"),
    );
    expect_count(&s.origin, path, 2, &format!("{path} refreshed"));
}

#[test]
fn proxy_cache_valid_1s_expires_and_refetches() {
    let s = Setup::start("", "proxy_cache_valid 200 1s;");
    check_expires(&s, "/v", Reply::ok("v1"), b"v1");
}

#[test]
fn cache_control_max_age_and_s_maxage_override_proxy_cache_valid() {
    let s = Setup::start("", VALID);
    check_expires(
        &s,
        "/max-age",
        Reply::ok("m1").header("Cache-Control", "max-age=1"),
        b"m1",
    );
    // s-maxage wins over max-age (nginx looks for it first).
    check_expires(
        &s,
        "/s-maxage",
        Reply::ok("s1").header("Cache-Control", "public, max-age=3600, s-maxage=1"),
        b"s1",
    );
}

#[test]
fn uncacheable_cache_control_and_past_expires_are_not_stored() {
    let s = Setup::start("", VALID);
    let cases: &[(&str, &str, &str)] = &[
        ("/no-store", "Cache-Control", "no-store"),
        ("/no-cache", "Cache-Control", "no-cache"),
        ("/private", "Cache-Control", "private, max-age=3600"),
        ("/max-age-0", "Cache-Control", "max-age=0"),
        ("/expires-past", "Expires", "Thu, 01 Jan 1970 00:00:01 GMT"),
    ];
    for (path, name, value) in cases {
        s.origin.set(path, Reply::ok(*path).header(name, value));
        for i in 0..2 {
            let r = s.get(path);
            expect(
                &r,
                200,
                "MISS",
                path.as_bytes(),
                &format!("{name}: {value}, GET {i}"),
            );
        }
        expect_count(
            &s.origin,
            path,
            2,
            &format!("{name}: {value}: never stored"),
        );
    }
    // Controls: a future Expires and no caching header at all are stored.
    s.origin.set(
        "/expires-future",
        Reply::ok("future").header("Expires", "Fri, 01 Jan 2100 00:00:00 GMT"),
    );
    s.origin.set("/plain", Reply::ok("plain"));
    for (path, body) in [("/expires-future", "future"), ("/plain", "plain")] {
        expect(&s.get(path), 200, "MISS", body.as_bytes(), path);
        expect(&s.get(path), 200, "HIT", body.as_bytes(), path);
        expect_count(&s.origin, path, 1, path);
    }
}

#[test]
fn x_accel_expires_overrides_cache_control() {
    let s = Setup::start("", VALID);
    // X-Accel-Expires: 3600 makes a no-store response cacheable.
    s.origin.set(
        "/xa-store",
        Reply::ok("xs")
            .header("X-Accel-Expires", "3600")
            .header("Cache-Control", "no-store"),
    );
    expect(
        &s.get("/xa-store"),
        200,
        "MISS",
        b"xs",
        "X-Accel-Expires 3600",
    );
    expect(
        &s.get("/xa-store"),
        200,
        "HIT",
        b"xs",
        "X-Accel-Expires 3600",
    );
    expect_count(
        &s.origin,
        "/xa-store",
        1,
        "X-Accel-Expires 3600 over no-store",
    );

    // "The zero value disables caching for a response."
    s.origin.set(
        "/xa-zero",
        Reply::ok("xz")
            .header("X-Accel-Expires", "0")
            .header("Cache-Control", "max-age=3600"),
    );
    expect(&s.get("/xa-zero"), 200, "MISS", b"xz", "X-Accel-Expires 0");
    expect(&s.get("/xa-zero"), 200, "MISS", b"xz", "X-Accel-Expires 0");
    expect_count(&s.origin, "/xa-zero", 2, "X-Accel-Expires 0 over max-age");

    // X-Accel-Expires: 1 shortens a max-age of an hour.
    check_expires(
        &s,
        "/xa-short",
        Reply::ok("x1")
            .header("X-Accel-Expires", "1")
            .header("Cache-Control", "max-age=3600"),
        b"x1",
    );
}

#[test]
fn proxy_ignore_headers_cache_control_caches_by_proxy_cache_valid() {
    let s = Setup::start("", &format!("{VALID} proxy_ignore_headers Cache-Control;"));
    for (path, cc) in [("/ig-no-store", "no-store"), ("/ig-private", "private")] {
        s.origin
            .set(path, Reply::ok(path).header("Cache-Control", cc));
        expect(&s.get(path), 200, "MISS", path.as_bytes(), path);
        expect(&s.get(path), 200, "HIT", path.as_bytes(), path);
        expect_count(&s.origin, path, 1, &format!("Cache-Control: {cc} ignored"));
    }
}
