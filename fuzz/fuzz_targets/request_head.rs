//! The request head parser: no panic, and every accepted head satisfies the invariants in
//! `ringway_fuzz::check_request_head` (spans inside the head, unambiguous framing that agrees
//! with the fields, one Host) and parses the same alone and never from a prefix. The same bytes
//! read as an HTTP/2 request: its translation reads through its layout as its parse does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringway::http::request::parse_request;
use ringway_fuzz::{
    DEFAULT_LIMITS, SMALL_LIMITS, check_h2_translation, check_request_head,
    check_request_incremental,
};

fuzz_target!(|data: &[u8]| {
    for limits in [&DEFAULT_LIMITS, &SMALL_LIMITS] {
        match parse_request(data, limits) {
            Ok(Some(h)) => {
                check_request_head(data, &h, limits);
                check_request_incremental(data, &h, limits);
            }
            // "Read more" only while the head can still fit: the connection loop relies on it
            // to bound its buffer.
            Ok(None) => assert!(
                data.len() <= limits.max_head,
                "incomplete beyond the limits: {}",
                ringway_fuzz::show(data)
            ),
            Err(e) => assert!(matches!(e.status(), 400 | 414 | 501 | 505)),
        }
    }
    check_h2_translation(data);
});
