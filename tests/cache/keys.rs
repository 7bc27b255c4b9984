//! What is stored and found under which key: `Vary`, `Set-Cookie` (and `proxy_ignore_headers
//! Set-Cookie`), `proxy_cache_bypass`, `proxy_no_cache`, `proxy_cache_min_uses`,
//! `proxy_cache_purge`.

use crate::common::*;
use crate::harness::*;

#[test]
fn vary_accept_encoding_caches_each_value_apart_and_vary_star_is_not_cached() {
    let s = Setup::start("", VALID);
    s.origin.set_fn("/vary", |req| {
        Reply::ok(format!(
            "enc={}",
            req.header("accept-encoding").unwrap_or("none")
        ))
        .header("Vary", "Accept-Encoding")
    });
    let get = |ae: Option<&str>| match ae {
        Some(v) => s.req("GET", "/vary", &[("Accept-Encoding", v)]),
        None => s.get("/vary"),
    };
    let values = [Some("gzip"), Some("br"), None];
    for ae in values {
        let body = format!("enc={}", ae.unwrap_or("none"));
        expect(
            &get(ae),
            200,
            "MISS",
            body.as_bytes(),
            &format!("{ae:?} first"),
        );
    }
    for ae in values {
        let body = format!("enc={}", ae.unwrap_or("none"));
        expect(
            &get(ae),
            200,
            "HIT",
            body.as_bytes(),
            &format!("{ae:?} again"),
        );
    }
    expect_count(&s.origin, "/vary", 3, "one fill per Accept-Encoding value");

    // "If the header includes the “Vary” field with the special value “*”, such a response will
    // not be cached."
    s.origin.set("/star", Reply::ok("star").header("Vary", "*"));
    expect(&s.get("/star"), 200, "MISS", b"star", "Vary: * first");
    expect(&s.get("/star"), 200, "MISS", b"star", "Vary: * second");
    expect_count(&s.origin, "/star", 2, "Vary: * never stored");
}

#[test]
fn set_cookie_responses_are_not_cached() {
    let s = Setup::start("", VALID);
    s.origin.set(
        "/cookie",
        Reply::ok("c").header("Set-Cookie", "id=1; Path=/"),
    );
    for i in 0..2 {
        let r = s.get("/cookie");
        expect(&r, 200, "MISS", b"c", &format!("GET {i}"));
        assert_eq!(
            r.header("set-cookie"),
            Some("id=1; Path=/"),
            "{}",
            r.describe()
        );
    }
    expect_count(&s.origin, "/cookie", 2, "Set-Cookie never stored");
}

#[test]
fn proxy_ignore_headers_set_cookie_caches_them() {
    let s = Setup::start("", &format!("{VALID} proxy_ignore_headers Set-Cookie;"));
    s.origin.set(
        "/cookie",
        Reply::ok("c").header("Set-Cookie", "id=1; Path=/"),
    );
    expect(&s.get("/cookie"), 200, "MISS", b"c", "first");
    expect(&s.get("/cookie"), 200, "HIT", b"c", "second");
    expect_count(&s.origin, "/cookie", 1, "Set-Cookie ignored");
}

#[test]
fn proxy_cache_bypass_fetches_anew_and_stores_unless_no_cache() {
    let s = Setup::start(
        "",
        &format!("{VALID} proxy_cache_bypass $http_x_bypass; proxy_no_cache $http_x_no_cache;"),
    );
    s.origin.set("/b", Reply::ok("b1"));
    expect(&s.get("/b"), 200, "MISS", b"b1", "fill");
    // "0" is not a bypass: "If at least one value of the string parameters is not empty and is
    // not equal to “0” then the response will not be taken from the cache".
    let r = s.req("GET", "/b", &[("X-Bypass", "0")]);
    expect(&r, 200, "HIT", b"b1", "X-Bypass: 0");
    s.origin.set("/b", Reply::ok("b2"));
    let r = s.req("GET", "/b", &[("X-Bypass", "1")]);
    expect(&r, 200, "BYPASS", b"b2", "X-Bypass: 1");
    expect_count(&s.origin, "/b", 2, "the bypass went to the origin");
    // The bypassed response was stored.
    expect(&s.get("/b"), 200, "HIT", b"b2", "after the bypass");

    // With proxy_no_cache too, the bypassed response is not stored.
    s.origin.set("/b", Reply::ok("b3"));
    let r = s.req("GET", "/b", &[("X-Bypass", "1"), ("X-No-Cache", "1")]);
    expect(&r, 200, "BYPASS", b"b3", "bypass and no_cache");
    expect(&s.get("/b"), 200, "HIT", b"b2", "after bypass + no_cache");
    expect_count(&s.origin, "/b", 3, "end");
}

/// `proxy_no_cache` prevents saving only: the lookup still happens.
#[track_caller]
fn check_no_cache(s: &Setup, path: &str, no_cache: (&str, &[(&str, &str)])) {
    let (target, headers) = no_cache;
    s.origin.set(path, Reply::ok("n"));
    expect(
        &s.req("GET", target, headers),
        200,
        "MISS",
        b"n",
        "no_cache request",
    );
    expect(&s.get(path), 200, "MISS", b"n", "nothing was stored");
    expect_count(&s.origin, path, 2, "no_cache response not stored");
    expect(
        &s.get(path),
        200,
        "HIT",
        b"n",
        "stored by the plain request",
    );
    expect(
        &s.req("GET", target, headers),
        200,
        "HIT",
        b"n",
        "no_cache request reads the cache",
    );
    expect_count(&s.origin, path, 2, "end");
}

#[test]
fn proxy_no_cache_http_header_prevents_storing_only() {
    let s = Setup::start("", &format!("{VALID} proxy_no_cache $http_x_no_cache;"));
    check_no_cache(&s, "/n", ("/n", &[("X-No-Cache", "1")]));
}

#[test]
fn proxy_no_cache_arg_prevents_storing_only() {
    // The key leaves out the query, so /na?nocache=1 and /na share one entry.
    let s = Setup::start(
        "",
        &format!("{VALID} proxy_no_cache $arg_nocache; proxy_cache_key $scheme$proxy_host$uri;"),
    );
    check_no_cache(&s, "/na", ("/na?nocache=1", &[]));
}

#[test]
fn proxy_cache_min_uses_2_stores_on_the_second_request() {
    let s = Setup::start("", &format!("{VALID} proxy_cache_min_uses 2;"));
    s.origin.set("/m", Reply::ok("m"));
    expect(&s.get("/m"), 200, "MISS", b"m", "first");
    expect(&s.get("/m"), 200, "MISS", b"m", "second");
    expect(&s.get("/m"), 200, "HIT", b"m", "third");
    expect(&s.get("/m"), 200, "HIT", b"m", "fourth");
    expect_count(&s.origin, "/m", 2, "min_uses 2");
}

#[test]
fn proxy_cache_purge_removes_one_key_or_a_prefix() {
    // ringway's config has no `map`, so the purge condition is a request field:
    // "If at least one value of the string parameters is not empty and is not equal to “0” then
    // the cache entry with a corresponding cache key is removed. The result of successful
    // operation is indicated by returning the 204 (No Content) response."
    let s = Setup::start("", &format!("{VALID} proxy_cache_purge $http_x_purge;"));
    for p in ["/p/a", "/p/b", "/q"] {
        s.origin.set(p, Reply::ok(p));
        expect(&s.get(p), 200, "MISS", p.as_bytes(), p);
        expect(&s.get(p), 200, "HIT", p.as_bytes(), p);
    }
    // X-Purge: 0 is an ordinary request.
    expect(
        &s.req("GET", "/p/a", &[("X-Purge", "0")]),
        200,
        "HIT",
        b"/p/a",
        "X-Purge: 0",
    );

    let r = s.req("GET", "/p/a", &[("X-Purge", "1")]);
    assert_eq!(r.status, 204, "purge of /p/a: {}", r.describe());
    expect(&s.get("/p/a"), 200, "MISS", b"/p/a", "/p/a after its purge");
    expect(
        &s.get("/p/b"),
        200,
        "HIT",
        b"/p/b",
        "/p/b after the purge of /p/a",
    );
    expect_count(&s.origin, "/p/a", 2, "purged once");

    // "If the cache key of a purge request ends with an asterisk (“*”), all cache entries
    // matching the wildcard key will be removed from the cache."
    let r = s.req("GET", "/p/*", &[("X-Purge", "1")]);
    assert_eq!(r.status, 204, "purge of /p/*: {}", r.describe());
    expect(&s.get("/p/a"), 200, "MISS", b"/p/a", "/p/a after /p/*");
    expect(&s.get("/p/b"), 200, "MISS", b"/p/b", "/p/b after /p/*");
    expect(&s.get("/q"), 200, "HIT", b"/q", "/q is not under /p/");
    expect_count(&s.origin, "/p/a", 3, "/p/a");
    expect_count(&s.origin, "/p/b", 2, "/p/b");
    expect_count(&s.origin, "/q", 1, "/q");
    assert_eq!(s.origin.count("/p/*"), 0, "a purge request is not proxied");
}
