//! MISS then HIT on every shard, byte-exact large bodies, HEAD (`proxy_cache_convert_head`),
//! ranges and conditional requests answered from a cached entry.

use std::time::Duration;

use crate::common::*;
use crate::harness::*;

#[test]
fn miss_then_hit_on_every_shard() {
    let s = Setup::start_with(2, "", VALID);
    s.origin.set("/a", Reply::ok("alpha"));
    let r = s.get("/a");
    expect(&r, 200, "MISS", b"alpha", "first GET");
    expect_count(&s.origin, "/a", 1, "after the first GET");
    // The shard that stored the entry may commit it just after the client has the last byte
    // (nginx does too): wait until its file is in place, as a request on the other shard could
    // otherwise come first.
    await_entry_files(&s.dir.0, 1, Duration::from_secs(2));
    // 40 fresh connections: the kernel spreads them over both shards' listeners (all 40 on one
    // shard has odds of 2^-39), and every one must find the entry the first shard stored.
    for i in 0..40 {
        let r = s.get("/a");
        expect(&r, 200, "HIT", b"alpha", &format!("GET {i} after the MISS"));
    }
    expect_count(&s.origin, "/a", 1, "after 41 GETs");
}

/// Waits until the key's one entry file holds `body` (a shard may commit its file just after the
/// client has the last byte).
#[track_caller]
fn await_entry_body(s: &Setup, body: &[u8]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let files = cache_files(&s.dir.0);
        if files.len() == 1 && std::fs::read(&files[0]).is_ok_and(|f| f.ends_with(body)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no entry file ending with {:?} after 2 s: {files:?}",
            String::from_utf8_lossy(body)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// 40 GETs of /h on fresh connections, which reach both shards (see
/// `miss_then_hit_on_every_shard`), each a HIT with `body`.
#[track_caller]
fn every_get_hits(s: &Setup, body: &[u8], phase: &str) {
    for i in 0..40 {
        expect(&s.get("/h"), 200, "HIT", body, &format!("GET {i} {phase}"));
    }
}

/// Both shards answer from memory copies that check their file through a descriptor they hold:
/// a refill by one shard (a bypass stores over the entry by a rename) and a purge must reach
/// every copy at its next request.
#[test]
fn every_shards_copy_sees_a_refill_and_a_purge() {
    let loc =
        format!("{VALID} proxy_cache_bypass $http_x_bypass; proxy_cache_purge $http_x_purge;");
    let s = Setup::start_with(2, "", &loc);
    s.origin.set("/h", Reply::ok("one"));
    expect(&s.get("/h"), 200, "MISS", b"one", "fill");
    await_entry_body(&s, b"one");
    // Both shards keep a copy.
    every_get_hits(&s, b"one", "before the refill");

    s.origin.set("/h", Reply::ok("two"));
    let r = s.req("GET", "/h", &[("X-Bypass", "1")]);
    expect(&r, 200, "BYPASS", b"two", "the bypass");
    await_entry_body(&s, b"two");
    every_get_hits(&s, b"two", "after the refill");

    s.origin.set("/h", Reply::ok("three"));
    let r = s.req("GET", "/h", &[("X-Purge", "1")]);
    assert_eq!(r.status, 204, "purge: {}", r.describe());
    expect(&s.get("/h"), 200, "MISS", b"three", "after the purge");
    await_entry_body(&s, b"three");
    every_get_hits(&s, b"three", "after the purge");
    expect_count(
        &s.origin,
        "/h",
        3,
        "one fill, one bypass, one fill after the purge",
    );
}

#[test]
fn large_bodies_are_served_byte_exact_from_the_cache() {
    let s = Setup::start("", VALID);
    let body = body_for(1, 1 << 20);
    s.origin.set("/big", Reply::ok(&body));
    // The same size, chunked by the origin.
    let chunked = body_for(2, 1 << 20);
    s.origin.set("/big-chunked", Reply::ok(&chunked).chunked());
    for (path, b) in [("/big", &body), ("/big-chunked", &chunked)] {
        expect(&s.get(path), 200, "MISS", b, &format!("{path} first GET"));
        for i in 0..2 {
            expect(&s.get(path), 200, "HIT", b, &format!("{path} HIT {i}"));
        }
        expect_count(&s.origin, path, 1, path);
    }
}

/// HEAD with `Connection: close`: the head, then nothing before the close.
#[track_caller]
fn head(s: &Setup, path: &str) -> Response {
    let (mut c, r) = send_req(
        s.rw.addr,
        "HEAD",
        path,
        &[("Connection", "close")],
        IO_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("HEAD {path}: {e}"));
    let mut rest = c.take_buffered();
    let (more, closed) = c.read_to_close(Duration::from_secs(3));
    rest.extend_from_slice(&more);
    assert!(
        rest.is_empty(),
        "HEAD {path}: bytes after the head: {}",
        show(&rest)
    );
    assert!(closed, "HEAD {path}: Connection: close, but it stayed open");
    r
}

#[test]
fn head_after_get_is_a_hit_without_a_body() {
    let s = Setup::start("", VALID);
    s.origin.set("/h", Reply::ok("head-body"));
    expect(&s.get("/h"), 200, "MISS", b"head-body", "GET");
    let r = head(&s, "/h");
    assert_eq!(
        (r.status, cache_status(&r)),
        (200, "HIT"),
        "{}",
        r.describe()
    );
    assert_eq!(r.header("content-length"), Some("9"), "{}", r.describe());
    expect_count(&s.origin, "/h", 1, "GET then HEAD");
}

#[test]
fn first_head_goes_upstream_as_get_and_fills_the_entry() {
    // proxy_cache_convert_head on (the default, written out here): "enables or disables the
    // conversion of the HEAD method to GET for caching".
    let s = Setup::start("", &format!("{VALID} proxy_cache_convert_head on;"));
    s.origin.set("/ch", Reply::ok("converted"));
    let r = head(&s, "/ch");
    assert_eq!(
        (r.status, cache_status(&r)),
        (200, "MISS"),
        "{}",
        r.describe()
    );
    let reqs = s.origin.requests_for("/ch");
    assert_eq!(reqs.len(), 1, "HEAD: one request upstream");
    assert_eq!(
        reqs[0].method, "GET",
        "HEAD sent upstream as: {}",
        reqs[0].head
    );
    expect(
        &s.get("/ch"),
        200,
        "HIT",
        b"converted",
        "GET after the HEAD",
    );
    expect_count(&s.origin, "/ch", 1, "HEAD then GET");
}

#[test]
fn ranges_and_conditionals_are_answered_from_the_entry() {
    const LM: &str = "Mon, 01 Jan 2024 00:00:00 GMT";
    let s = Setup::start("", VALID);
    // Ranges are served from the cache when the upstream's answer said `Accept-Ranges: bytes`
    // (proxy_force_ranges: "Enables byte-range support for both cached and uncached responses
    // from the proxied server regardless of the “Accept-Ranges” field in these responses.").
    s.origin.set(
        "/r",
        Reply::ok("0123456789")
            .header("Accept-Ranges", "bytes")
            .header("ETag", "\"e1\"")
            .header("Last-Modified", LM),
    );
    expect(&s.get("/r"), 200, "MISS", b"0123456789", "first GET");

    let r = s.req("GET", "/r", &[("Range", "bytes=2-5")]);
    expect(&r, 206, "HIT", b"2345", "Range: bytes=2-5");
    assert_eq!(
        r.header("content-range"),
        Some("bytes 2-5/10"),
        "{}",
        r.describe()
    );

    let r = s.req("GET", "/r", &[("If-None-Match", "\"e1\"")]);
    expect(&r, 304, "HIT", b"", "If-None-Match with the cached ETag");

    let r = s.req("GET", "/r", &[("If-Modified-Since", LM)]);
    expect(
        &r,
        304,
        "HIT",
        b"",
        "If-Modified-Since equal to Last-Modified",
    );

    let r = s.req("GET", "/r", &[("If-None-Match", "\"other\"")]);
    expect(
        &r,
        200,
        "HIT",
        b"0123456789",
        "If-None-Match with another ETag",
    );

    expect_count(&s.origin, "/r", 1, "all answered from the entry");
}
