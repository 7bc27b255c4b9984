//! Tests of `policy`: one per nginx rule, with the function it comes from.

use super::*;

const NOW: i64 = 1_700_000_000;

fn rules(valid: &[(Vec<u16>, Duration)]) -> Rules<'_> {
    Rules {
        valid,
        ignore: Ignore::default(),
    }
}

fn ten_min_200() -> Vec<(Vec<u16>, Duration)> {
    vec![(vec![200, 301, 302], Duration::from_secs(600))]
}

fn check(status: u16, fields: &[(&str, &str)], r: &Rules) -> Storable {
    let f: Vec<(&[u8], &[u8])> = fields
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    storable(status, &f, NOW, r)
}

fn until(s: &Storable) -> i64 {
    match s {
        Storable::Yes { valid_until, .. } => *valid_until,
        Storable::No(why) => panic!("not storable: {why}"),
    }
}

fn yes(valid_until: i64) -> Storable {
    Storable::Yes {
        valid_until,
        stale_while_revalidate: 0,
        stale_if_error: 0,
        vary: None,
    }
}

#[test]
fn proxy_cache_valid_by_status() {
    // ngx_http_file_cache_valid: first matching entry, `any` (empty) matches all.
    let v = vec![
        (vec![404], Duration::from_secs(60)),
        (vec![], Duration::from_secs(5)),
        (vec![200], Duration::from_secs(600)),
    ];
    let r = rules(&v);
    assert_eq!(check(404, &[], &r), yes(NOW + 60));
    assert_eq!(check(200, &[], &r), yes(NOW + 5));
    let v = ten_min_200();
    let r = rules(&v);
    assert_eq!(check(200, &[], &r), yes(NOW + 600));
    assert!(matches!(check(404, &[], &r), Storable::No(_)));
    assert!(matches!(check(200, &[], &rules(&[])), Storable::No(_)));
    let zero = vec![(vec![200], Duration::ZERO)];
    assert!(matches!(check(200, &[], &rules(&zero)), Storable::No(_)));
}

#[test]
fn interim_responses_never() {
    let any = vec![(vec![], Duration::from_secs(60))];
    assert!(matches!(check(101, &[], &rules(&any)), Storable::No(_)));
    assert!(matches!(
        check(100, &[("Cache-Control", "max-age=9")], &rules(&any)),
        Storable::No(_)
    ));
}

#[test]
fn headers_time_applies_to_any_status() {
    // valid_sec set from the fields skips proxy_cache_valid (ngx_http_upstream_send_response).
    let r = rules(&[]);
    assert_eq!(
        until(&check(500, &[("cache-control", "max-age=30")], &r)),
        NOW + 30
    );
}

#[test]
fn x_accel_expires() {
    // ngx_http_upstream_process_accel_expires.
    let v = ten_min_200();
    let r = rules(&v);
    assert_eq!(
        until(&check(200, &[("X-Accel-Expires", "100")], &r)),
        NOW + 100
    );
    assert_eq!(
        until(&check(200, &[("X-Accel-Expires", "@1800000000")], &r)),
        1_800_000_000
    );
    // A past @time is stored anyway, already stale.
    assert_eq!(until(&check(200, &[("X-Accel-Expires", "@5")], &r)), 5);
    assert!(matches!(
        check(200, &[("X-Accel-Expires", "0")], &r),
        Storable::No(_)
    ));
    // Unreadable: ignored, proxy_cache_valid applies.
    for bad in ["", "-5", "1s", "@", "@x", "99999999999999999999"] {
        assert_eq!(
            until(&check(200, &[("X-Accel-Expires", bad)], &r)),
            NOW + 600
        );
    }
    // Only the first one counts.
    let f = [("X-Accel-Expires", "10"), ("X-Accel-Expires", "0")];
    assert_eq!(until(&check(200, &f, &r)), NOW + 10);
}

#[test]
fn x_accel_expires_beats_cache_control_and_expires() {
    let r = rules(&[]);
    let f = [
        ("X-Accel-Expires", "100"),
        ("Cache-Control", "no-store, max-age=5"),
        ("Expires", "Thu, 01 Jan 1970 00:00:00 GMT"),
    ];
    assert_eq!(until(&check(200, &f, &r)), NOW + 100);
    // Also when it comes last: it clears no-cache and expired.
    let f = [
        ("Cache-Control", "private"),
        ("Expires", "0"),
        ("X-Accel-Expires", "100"),
    ];
    assert_eq!(until(&check(200, &f, &r)), NOW + 100);
    // Ignored: Cache-Control decides.
    let mut r = rules(&[]);
    r.ignore.x_accel_expires = true;
    let f = [("X-Accel-Expires", "100"), ("Cache-Control", "max-age=7")];
    assert_eq!(until(&check(200, &f, &r)), NOW + 7);
    let f = [("X-Accel-Expires", "0"), ("Cache-Control", "max-age=7")];
    assert_eq!(until(&check(200, &f, &r)), NOW + 7);
}

#[test]
fn cache_control_refusals() {
    // ngx_http_upstream_process_cache_control: substrings, any case.
    let v = ten_min_200();
    let r = rules(&v);
    for cc in [
        "no-cache",
        "No-Store",
        "private",
        "public, no-cache=\"Set-Cookie\"",
        "max-age=0",
        "s-maxage=0, max-age=60",
        "max-age=",
        "max-age=abc",
        "max-age=-1",
        "max-age=1.5",
        "stale-while-revalidate=x",
        "stale-if-error=",
    ] {
        if cc == "stale-if-error=" {
            // An empty delta reads as 0: allowed.
            assert!(matches!(
                check(200, &[("Cache-Control", cc)], &r),
                Storable::Yes { .. }
            ));
            continue;
        }
        assert!(
            matches!(check(200, &[("Cache-Control", cc)], &r), Storable::No(_)),
            "{cc}"
        );
    }
}

#[test]
fn cache_control_ages() {
    let r = rules(&[]);
    let cc = |v| until(&check(200, &[("Cache-Control", v)], &r));
    assert_eq!(cc("max-age=60"), NOW + 60);
    assert_eq!(cc("public, MAX-AGE=60, must-revalidate"), NOW + 60);
    assert_eq!(cc("max-age=60;x"), NOW + 60);
    // s-maxage over max-age, wherever it is.
    assert_eq!(cc("max-age=60, s-maxage=90"), NOW + 90);
    // Overflow saturates.
    assert_eq!(cc("max-age=999999999999999999999999"), i64::MAX);
    // Cache-Control beats Expires, in either order.
    let f = [
        ("Expires", "Thu, 01 Jan 1970 00:00:00 GMT"),
        ("Cache-Control", "max-age=60"),
    ];
    assert_eq!(until(&check(200, &f, &r)), NOW + 60);
    let f = [
        ("Cache-Control", "max-age=60"),
        ("Expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
    ];
    assert_eq!(until(&check(200, &f, &r)), NOW + 60);
    // Ignored: proxy_cache_valid.
    let v = ten_min_200();
    let mut r = rules(&v);
    r.ignore.cache_control = true;
    let f = [("Cache-Control", "no-store, stale-if-error=5")];
    assert_eq!(check(200, &f, &r), yes(NOW + 600));
}

#[test]
fn stale_extensions() {
    let v = ten_min_200();
    let r = rules(&v);
    let f = [("Cache-Control", "stale-while-revalidate=30")];
    assert_eq!(
        check(200, &f, &r),
        Storable::Yes {
            valid_until: NOW + 600,
            stale_while_revalidate: 30,
            stale_if_error: 30,
            vary: None,
        }
    );
    let f = [(
        "Cache-Control",
        "stale-if-error=5, max-age=9, stale-while-revalidate=30",
    )];
    assert_eq!(
        check(200, &f, &r),
        Storable::Yes {
            valid_until: NOW + 9,
            stale_while_revalidate: 30,
            stale_if_error: 5,
            vary: None,
        }
    );
    // After X-Accel-Expires only the extensions are read (no-cache included: skipped).
    let f = [
        ("X-Accel-Expires", "20"),
        ("Cache-Control", "no-cache, stale-if-error=99999999999"),
    ];
    assert_eq!(
        check(200, &f, &r),
        Storable::Yes {
            valid_until: NOW + 20,
            stale_while_revalidate: 0,
            stale_if_error: u32::MAX,
            vary: None,
        }
    );
}

#[test]
fn expires() {
    // ngx_http_upstream_process_expires.
    let v = ten_min_200();
    let r = rules(&v);
    let f = [("Expires", "Thu, 01 Jan 2099 00:00:00 GMT")];
    assert_eq!(until(&check(200, &f, &r)), 4_070_908_800);
    for past in ["Thu, 01 Jan 1970 00:00:00 GMT", "0", "-1", ""] {
        assert!(matches!(
            check(200, &[("Expires", past)], &r),
            Storable::No(_)
        ));
    }
    // A duplicate is ignored.
    let f = [
        ("Expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
        ("Expires", "0"),
    ];
    assert_eq!(until(&check(200, &f, &r)), 4_070_908_800);
    let mut r = rules(&v);
    r.ignore.expires = true;
    assert_eq!(until(&check(200, &[("Expires", "0")], &r)), NOW + 600);
}

#[test]
fn set_cookie() {
    // ngx_http_upstream_process_set_cookie.
    let v = ten_min_200();
    let mut r = rules(&v);
    let f = [("Set-Cookie", "a=b"), ("X-Accel-Expires", "100")];
    assert!(matches!(check(200, &f, &r), Storable::No(_)));
    r.ignore.set_cookie = true;
    assert_eq!(until(&check(200, &f, &r)), NOW + 100);
}

#[test]
fn vary_names_and_limits() {
    // ngx_http_upstream_process_vary.
    let v = ten_min_200();
    let r = rules(&v);
    let vary_of = |f: &[(&str, &str)]| match check(200, f, &r) {
        Storable::Yes { vary, .. } => Ok(vary),
        Storable::No(why) => Err(why),
    };
    assert_eq!(
        vary_of(&[("Vary", "Accept-Encoding,  User-Agent"), ("vary", "Cookie")]),
        Ok(Some(b"accept-encoding,user-agent,cookie".to_vec()))
    );
    assert_eq!(vary_of(&[("Vary", "")]), Ok(None));
    assert!(vary_of(&[("Vary", "*")]).is_err());
    assert!(vary_of(&[("Vary", "Accept"), ("Vary", "*")]).is_err());
    assert!(vary_of(&[("Vary", "Accept, *")]).is_err());
    // Exactly 128 bytes joined with ", " is allowed; 129 is not.
    let a = "a".repeat(63);
    let b = "b".repeat(63);
    assert!(vary_of(&[("Vary", &a), ("Vary", &b)]).is_ok());
    let b = "b".repeat(64);
    assert!(vary_of(&[("Vary", &a), ("Vary", &b)]).is_err());
    let mut r = rules(&v);
    r.ignore.vary = true;
    assert_eq!(
        check(200, &[("Vary", "*")], &r),
        Storable::Yes {
            valid_until: NOW + 600,
            stale_while_revalidate: 0,
            stale_if_error: 0,
            vary: None
        }
    );
}

#[test]
fn vary_values_as_nginx_hashes_them() {
    // ngx_http_file_cache_vary and _vary_header.
    let req = |n: &[u8]| match n {
        b"accept-encoding" => Some(b"gzip,  deflate,br".to_vec()),
        b"user-agent" => Some(b"curl/8, x".to_vec()),
        _ => None,
    };
    assert_eq!(
        vary_values(b"Accept-Encoding,user-agent,cookie", req),
        b"accept-encoding:gzip,deflate,br\r\nuser-agent:curl/8, x\r\ncookie:\r\n".to_vec()
    );
    assert_eq!(vary_values(b"", req), Vec::<u8>::new());
}

#[test]
fn validators_for_200_and_206_only() {
    let f: &[(&[u8], &[u8])] = &[
        (b"ETag", b"\"v1\""),
        (b"Last-Modified", b"Sun, 06 Nov 1994 08:49:37 GMT"),
    ];
    assert_eq!(validators(200, f), (Some(&b"\"v1\""[..]), Some(784111777)));
    assert_eq!(validators(206, f).1, Some(784111777));
    assert_eq!(validators(404, f), (None, None));
    let long = [b'x'; 129];
    let f: &[(&[u8], &[u8])] = &[(b"etag", &long), (b"last-modified", b"never")];
    assert_eq!(validators(200, f), (None, None));
}

#[test]
fn delta_and_atoi() {
    assert_eq!(delta_seconds(b""), Some(0));
    assert_eq!(delta_seconds(b"12 x"), Some(12));
    assert_eq!(delta_seconds(b"1a"), None);
    assert_eq!(atoi(b""), None);
    assert_eq!(atoi(b"007"), Some(7));
    assert_eq!(atoi(b"7 "), None);
}
