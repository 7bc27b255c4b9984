//! Tests of `conditional`, against nginx's not_modified and range filters.

use super::*;

const LM: i64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
const LM_S: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const LATER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";
const EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";

fn eval_with(f: &[(&str, &str)], get: bool, etag: Option<&str>, max: Option<u64>) -> Answer {
    let f: Vec<(&[u8], &[u8])> = f
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    evaluate(&f, get, etag.map(str::as_bytes), Some(LM), 1000, max)
}

fn eval(f: &[(&str, &str)]) -> Answer {
    eval_with(f, true, Some("\"v1\""), None)
}

fn part(start: u64, end: u64) -> Answer {
    Answer::Partial { start, end }
}

#[test]
fn plain_request_is_full() {
    assert_eq!(eval(&[]), Answer::Full);
    assert_eq!(eval(&[("Accept", "*/*")]), Answer::Full);
}

#[test]
fn if_unmodified_since() {
    // ngx_http_test_if_unmodified: iums >= Last-Modified passes.
    assert_eq!(eval(&[("If-Unmodified-Since", LM_S)]), Answer::Full);
    assert_eq!(eval(&[("If-Unmodified-Since", LATER)]), Answer::Full);
    assert_eq!(
        eval(&[("If-Unmodified-Since", EARLIER)]),
        Answer::PreconditionFailed
    );
    assert_eq!(
        eval(&[("If-Unmodified-Since", "junk")]),
        Answer::PreconditionFailed
    );
    let f: &[(&[u8], &[u8])] = &[(b"if-unmodified-since", LM_S.as_bytes())];
    assert_eq!(
        evaluate(f, true, None, None, 10, None),
        Answer::PreconditionFailed
    );
}

#[test]
fn if_match_is_strong_and_byte_wise() {
    assert_eq!(eval(&[("If-Match", "*")]), Answer::Full);
    assert_eq!(eval(&[("If-Match", "\"v1\"")]), Answer::Full);
    assert_eq!(eval(&[("If-Match", "\"x\", \"v1\"")]), Answer::Full);
    assert_eq!(
        eval(&[("If-Match", "W/\"v1\"")]),
        Answer::PreconditionFailed
    );
    assert_eq!(eval(&[("If-Match", "\"v2\"")]), Answer::PreconditionFailed);
    assert_eq!(
        eval_with(&[("If-Match", "\"v1\"")], true, None, None),
        Answer::PreconditionFailed
    );
    // 412 comes before 304 and before ranges.
    assert_eq!(
        eval(&[
            ("If-Match", "\"v2\""),
            ("If-None-Match", "\"v1\""),
            ("Range", "bytes=0-1")
        ]),
        Answer::PreconditionFailed
    );
}

#[test]
fn if_none_match_weak() {
    // RFC 9110 §13.1.2, weak comparison (§8.8.3.2).
    assert_eq!(eval(&[("If-None-Match", "\"v1\"")]), Answer::NotModified);
    assert_eq!(eval(&[("If-None-Match", "W/\"v1\"")]), Answer::NotModified);
    assert_eq!(
        eval_with(&[("If-None-Match", "\"v1\"")], true, Some("W/\"v1\""), None),
        Answer::NotModified
    );
    assert_eq!(
        eval(&[("If-None-Match", "\"a\", \"b\",W/\"v1\"")]),
        Answer::NotModified
    );
    assert_eq!(
        eval(&[("If-None-Match", "\"a\" ,\t\"v1\" ")]),
        Answer::NotModified
    );
    assert_eq!(eval(&[("If-None-Match", "*")]), Answer::NotModified);
    assert_eq!(eval(&[("If-None-Match", "\"v1\"x")]), Answer::Full);
    assert_eq!(eval(&[("If-None-Match", "\"v11\"")]), Answer::Full);
    assert_eq!(eval(&[("If-None-Match", "\"v2\"")]), Answer::Full);
    assert_eq!(
        eval_with(&[("If-None-Match", "\"v1\"")], true, None, None),
        Answer::Full
    );
    // A changed entity and a range: the range filter still runs.
    assert_eq!(
        eval(&[("If-None-Match", "\"v2\""), ("Range", "bytes=0-9")]),
        part(0, 9)
    );
}

#[test]
fn if_modified_since_exact() {
    // ngx_http_test_if_modified with `if_modified_since exact` (the default).
    assert_eq!(eval(&[("If-Modified-Since", LM_S)]), Answer::NotModified);
    assert_eq!(eval(&[("If-Modified-Since", LATER)]), Answer::Full);
    assert_eq!(eval(&[("If-Modified-Since", EARLIER)]), Answer::Full);
    assert_eq!(eval(&[("If-Modified-Since", "junk")]), Answer::Full);
    let f: &[(&[u8], &[u8])] = &[(b"If-Modified-Since", LM_S.as_bytes())];
    assert_eq!(evaluate(f, true, None, None, 10, None), Answer::Full);
    // Both present: both must say "not modified" (nginx checks each).
    assert_eq!(
        eval(&[("If-Modified-Since", LM_S), ("If-None-Match", "\"v1\"")]),
        Answer::NotModified
    );
    assert_eq!(
        eval(&[("If-Modified-Since", EARLIER), ("If-None-Match", "\"v1\"")]),
        Answer::Full
    );
    assert_eq!(
        eval(&[("If-Modified-Since", LM_S), ("If-None-Match", "\"v2\"")]),
        Answer::Full
    );
}

#[test]
fn other_methods() {
    // RFC 9110 §13.1.2: a false If-None-Match on another method is 412; §13.1.3: IMS ignored;
    // §14.2: Range ignored.
    let post = |f: &[(&str, &str)]| eval_with(f, false, Some("\"v1\""), None);
    assert_eq!(
        post(&[("If-None-Match", "\"v1\"")]),
        Answer::PreconditionFailed
    );
    assert_eq!(post(&[("If-None-Match", "\"v2\"")]), Answer::Full);
    assert_eq!(post(&[("If-Modified-Since", LM_S)]), Answer::Full);
    assert_eq!(post(&[("Range", "bytes=0-1")]), Answer::Full);
    assert_eq!(post(&[("If-Match", "\"v2\"")]), Answer::PreconditionFailed);
}

#[test]
fn single_ranges() {
    // ngx_http_range_parse; RFC 9110 §14.1.2. The body is 1000 bytes.
    let r = |v| eval(&[("Range", v)]);
    assert_eq!(r("bytes=0-499"), part(0, 499));
    assert_eq!(r("bytes=500-"), part(500, 999));
    assert_eq!(r("bytes=-100"), part(900, 999));
    assert_eq!(r("bytes=-5000"), part(0, 999));
    assert_eq!(r("bytes=900-5000"), part(900, 999));
    assert_eq!(r("BYTES= 1 - 2 "), part(1, 2));
    assert_eq!(r("bytes=999-999"), part(999, 999));
    // Several satisfiable ranges: ringway answers 200 (no multipart).
    assert_eq!(r("bytes=0-1,5-6"), Answer::Full);
    // Only one of several is satisfiable: that one, as nginx.
    assert_eq!(r("bytes=0-1,5000-6000"), part(0, 1));
    assert_eq!(r("bytes=5-1,10-20"), part(10, 20));
}

#[test]
fn unsatisfiable_and_ignored_ranges() {
    let r = |v| eval(&[("Range", v)]);
    assert_eq!(r("bytes=1000-"), Answer::Unsatisfiable);
    assert_eq!(r("bytes=1000-2000"), Answer::Unsatisfiable);
    assert_eq!(r("bytes=-0"), Answer::Unsatisfiable);
    assert_eq!(r("bytes=5-1"), Answer::Unsatisfiable);
    // Syntax errors are 416 in nginx.
    for bad in [
        "bytes=x",
        "bytes=1",
        "bytes=1-2x",
        "bytes=-",
        "bytes=0-1,",
        "bytes=99999999999999999999-",
    ] {
        assert_eq!(r(bad), Answer::Unsatisfiable, "{bad}");
    }
    // Not a bytes range, or too short: ignored.
    assert_eq!(r("items=0-1"), Answer::Full);
    assert_eq!(r("bytes="), Answer::Full);
    // An empty body: a range from 0 is declined (200), nginx's NGX_DECLINED.
    let f: &[(&[u8], &[u8])] = &[(b"Range", b"bytes=0-")];
    assert_eq!(evaluate(f, true, None, None, 0, None), Answer::Full);
    let f: &[(&[u8], &[u8])] = &[(b"Range", b"bytes=-5")];
    assert_eq!(evaluate(f, true, None, None, 0, None), Answer::Full);
}

#[test]
fn if_range() {
    let r = |ir| eval(&[("Range", "bytes=0-9"), ("If-Range", ir)]);
    assert_eq!(r("\"v1\""), part(0, 9));
    assert_eq!(r("\"v2\""), Answer::Full);
    assert_eq!(r("W/\"v1\""), Answer::Full);
    assert_eq!(r(LM_S), part(0, 9));
    assert_eq!(r(LATER), Answer::Full);
    assert_eq!(r("junk"), Answer::Full);
    let f: &[(&[u8], &[u8])] = &[(b"Range", b"bytes=0-9"), (b"If-Range", b"\"v1\"")];
    assert_eq!(evaluate(f, true, None, None, 100, None), Answer::Full);
}

#[test]
fn max_range_offset() {
    let r = |v, max| eval_with(&[("Range", v)], true, None, Some(max));
    assert_eq!(r("bytes=100-200", 100), part(100, 200));
    assert_eq!(r("bytes=101-200", 100), Answer::Full);
}

#[test]
fn content_range_values() {
    assert_eq!(content_range(0, 499, 1000), "bytes 0-499/1000");
    assert_eq!(content_range_unsatisfied(1000), "bytes */1000");
}
