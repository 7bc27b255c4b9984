//! The response head parser: no panic, and every accepted head satisfies
//! `ringway_fuzz::check_response_head` (spans inside the head, status 100–999, framing that
//! agrees with the status, the method and the fields), with the same answer from the head alone
//! and "incomplete" from each strict prefix. Any input: HTTP/2's translation of a response head
//! reads it the same with its line splitter as with httparse (`http::h2::both_readings`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringway::http::Method;
use ringway::http::response::parse_response;
use ringway_fuzz::{check_response_head, show};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, buf)) = data.split_first() else {
        return;
    };
    let (split, parsed) = ringway::http::h2::both_readings(buf);
    assert_eq!(split, parsed, "HTTP/2's two readings differ: {}", show(buf));
    let method = match sel % 4 {
        0 => Method::Get,
        1 => Method::Head,
        2 => Method::Post,
        _ => Method::Connect,
    };
    let max_head = if sel & 0x80 != 0 { 96 } else { 16384 };
    let Ok(Some(h)) = parse_response(buf, method, max_head) else {
        return;
    };
    check_response_head(buf, &h, method, max_head);
    let hl = h.head_len;
    match parse_response(&buf[..hl], method, max_head) {
        Ok(Some(h2)) => assert_eq!(
            (h2.head_len, h2.status, h2.framing, h2.keep_alive, h2.reason),
            (hl, h.status, h.framing, h.keep_alive, h.reason),
            "head alone parses differently: {}",
            show(buf)
        ),
        other => panic!("head alone gives {other:?}: {}", show(buf)),
    }
    let step = (hl / 64).max(1);
    for cut in (0..hl).step_by(step).chain(hl.saturating_sub(3)..hl) {
        if let r @ (Ok(Some(_)) | Err(_)) = parse_response(&buf[..cut], method, max_head) {
            panic!("prefix of {cut} bytes gives {r:?}: {}", show(buf));
        }
    }
});
