//! The head rewriter, both directions. A head the parser accepts is rewritten the way
//! `proxy/headers.rs` (requests) and `proxy/forward.rs` (responses) do it, options drawn from
//! the first byte; the result must re-parse with ringway's own parser to the framing that was
//! asked for, carry no hop-by-hop field, and keep every end-to-end field of the original, in
//! order and unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringway::http::request::{RequestHead, parse_request};
use ringway::http::response::{ResponseFraming, parse_response};
use ringway::http::rewrite::{
    NameSet, RequestRewrite, ResponseRewrite, write_request_head, write_response_head,
};
use ringway::http::{BodyFraming, HeaderSpan, Method};
use ringway_fuzz::{DEFAULT_LIMITS, REPARSE_LIMITS, show};

const VIA: &[u8] = b"1.1 ringway";

fuzz_target!(|data: &[u8]| {
    let Some((&flags, buf)) = data.split_first() else {
        return;
    };
    if flags & 0x80 == 0 {
        request(flags, buf);
    } else {
        response(flags, buf);
    }
});

/// The tokens of every Connection field, lower-cased.
fn connection_options(headers: &[HeaderSpan], buf: &[u8]) -> Vec<Vec<u8>> {
    headers
        .iter()
        .filter(|h| h.name.get(buf).eq_ignore_ascii_case(b"connection"))
        .flat_map(|h| h.value.get(buf).split(|&b| b == b','))
        .map(|t| t.trim_ascii().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Hop-by-hop fields, plus Content-Length, which the rewriter re-states from the framing.
const HOP: &[&[u8]] = &[
    b"connection",
    b"content-length",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
];

/// What the rewriter must drop, computed independently of it.
fn dropped(
    name: &[u8],
    options: &[Vec<u8>],
    replace: &[&[u8]],
    upgrade: bool,
    request: bool,
) -> bool {
    let lower = name.to_ascii_lowercase();
    let upgrade_kept = upgrade && lower == b"upgrade";
    (HOP.contains(&&lower[..]) && !upgrade_kept)
        || replace.contains(&&lower[..])
        || (request && name.contains(&b'_'))
        || (options.contains(&lower) && !upgrade_kept && lower != b"host")
}

/// The fields of `out` (a re-parsed head) before the ones the rewriter appends must be exactly
/// the original's kept fields.
fn check_kept(
    orig: &[HeaderSpan],
    buf: &[u8],
    out_fields: &[HeaderSpan],
    out: &[u8],
    keep: impl Fn(&[u8]) -> bool,
) {
    let want: Vec<(&[u8], &[u8])> = orig
        .iter()
        .map(|h| (h.name.get(buf), h.value.get(buf)))
        .filter(|(n, _)| keep(n))
        .collect();
    let got: Vec<(&[u8], &[u8])> = out_fields
        .iter()
        .take(want.len())
        .map(|h| (h.name.get(out), h.value.get(out)))
        .collect();
    assert_eq!(
        got,
        want,
        "kept fields differ: {} became {}",
        show(buf),
        show(out)
    );
}

/// No hop-by-hop field among the rewritten head's fields, except the ones the rewriter wrote.
fn check_no_hop(fields: &[HeaderSpan], out: &[u8], upgrade: bool, buf: &[u8]) {
    let mut framing = 0;
    let mut connection = 0;
    for h in fields {
        let name = h.name.get(out).to_ascii_lowercase();
        let value = h.value.get(out);
        match &name[..] {
            b"content-length" | b"transfer-encoding" => framing += 1,
            b"connection" => {
                connection += 1;
                assert!(
                    matches!(value, b"close" | b"keep-alive" | b"upgrade"),
                    "Connection {}: {}",
                    show(value),
                    show(buf)
                );
            }
            b"upgrade" => assert!(upgrade, "Upgrade forwarded: {}", show(out)),
            b"keep-alive" | b"proxy-connection" | b"te" | b"trailer" => {
                panic!(
                    "hop-by-hop {} forwarded: {} from {}",
                    show(&name),
                    show(out),
                    show(buf)
                )
            }
            _ => {}
        }
    }
    assert!(framing <= 1, "{framing} framing fields: {}", show(out));
    assert!(
        connection <= 1,
        "{connection} Connection fields: {}",
        show(out)
    );
}

fn origin_target(h: &RequestHead, buf: &[u8]) -> Vec<u8> {
    let pq = h.path_and_query(buf);
    if pq.first() == Some(&b'/') || pq == b"*" {
        pq.to_vec()
    } else {
        [b"/", pq].concat()
    }
}

fn request(flags: u8, buf: &[u8]) {
    let Ok(Some(h)) = parse_request(buf, &DEFAULT_LIMITS) else {
        return;
    };
    if h.method == Method::Connect {
        return; // answered 405 by the proxy, never rewritten
    }
    let target = origin_target(&h, buf);
    let http11 = flags & 1 == 0;
    let body = match h.body {
        // A buffered chunked body is re-framed with its length.
        BodyFraming::Chunked if flags & 2 != 0 => BodyFraming::Length(u64::from(flags & 0x3c)),
        // HTTP/1.0 has no chunked framing: the proxy must send such a body with a length
        // (see fuzz/README.md: proxy_http_version 1.0 with a chunked client body).
        BodyFraming::Chunked if !http11 => return,
        b => b,
    };
    let replace_some: [&[u8]; 2] = [b"host", b"x-forwarded-for"];
    let replace: &[&[u8]] = if flags & 4 != 0 { &replace_some } else { &[] };
    let opts = RequestRewrite {
        method: None,
        target: &target,
        http11,
        keep_alive: !h.upgrade,
        upgrade: h.upgrade,
        body,
        replace: &NameSet::new(replace),
        drop_max_forwards: false,
        via: (flags & 8 != 0).then_some(VIA),
    };
    let mut out = Vec::new();
    write_request_head(&mut out, &h, buf, &opts);
    // What the caller appends: its own Host where the client's is replaced or absent.
    let has_host_field = h
        .headers
        .iter()
        .any(|f| f.name.get(buf).eq_ignore_ascii_case(b"host"));
    // (proxy/headers.rs: the configured Host, else the absolute-form authority, else $proxy_host.)
    let host: Option<&[u8]> = if !replace.is_empty() {
        Some(b"upstream.test")
    } else if h.host_in_target() {
        h.host.map(|s| s.get(buf))
    } else if !has_host_field {
        Some(b"upstream.test")
    } else {
        None
    };
    if let Some(host) = host {
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(host);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");

    if h.headers.len() + 6 > REPARSE_LIMITS.max_headers {
        return; // the added fields may pass the field-count cap; nothing else to learn
    }
    let h2 = match parse_request(&out, &REPARSE_LIMITS) {
        Ok(Some(h2)) => h2,
        other => panic!(
            "rewritten head does not re-parse ({other:?}): {} from {}",
            show(&out),
            show(buf)
        ),
    };
    assert_eq!(h2.head_len, out.len(), "{}", show(&out));
    assert_eq!(h2.method_span.get(&out), h.method_span.get(buf));
    assert_eq!(h2.target.get(&out), &target[..]);
    assert_eq!(
        h2.body,
        body,
        "framing changed: {} from {}",
        show(&out),
        show(buf)
    );
    check_no_hop(&h2.headers, &out, h.upgrade, buf);
    let options = connection_options(&h.headers, buf);
    check_kept(&h.headers, buf, &h2.headers, &out, |n| {
        !dropped(n, &options, replace, h.upgrade, true)
            && !(h.host_in_target() && n.eq_ignore_ascii_case(b"host"))
    });
    // Exactly one Host, and it names the host the proxy routed by.
    let hosts: Vec<&[u8]> = ringway_fuzz::fields(&h2.headers, &out, b"host").collect();
    if replace.is_empty() {
        let want = h.host.map_or(&b"upstream.test"[..], |s| s.get(buf));
        assert_eq!(hosts, [want], "Host: {} from {}", show(&out), show(buf));
    }
}

fn response(flags: u8, buf: &[u8]) {
    let method = if flags & 1 != 0 {
        Method::Head
    } else {
        Method::Get
    };
    let Ok(Some(r)) = parse_response(buf, method, 16384) else {
        return;
    };
    let client_http10 = flags & 2 != 0;
    let mut keep_client = flags & 4 != 0;
    let upgrade = r.status == 101 && flags & 8 != 0;
    // The mapping `proxy/forward.rs` makes.
    let framing = match r.framing {
        _ if upgrade => ResponseFraming::None,
        ResponseFraming::Chunked if client_http10 => ResponseFraming::Close,
        ResponseFraming::Close if keep_client && !client_http10 => ResponseFraming::Chunked,
        f => f,
    };
    if framing == ResponseFraming::Close {
        keep_client = false;
    }
    let hide_some: [&[u8]; 2] = [b"server", b"x-powered-by"];
    let hide: &[&[u8]] = if flags & 16 != 0 { &hide_some } else { &[] };
    let opts = ResponseRewrite {
        keep_alive: keep_client || upgrade,
        client_http10,
        framing,
        hide: &NameSet::new(hide),
        via: (flags & 32 != 0).then_some(VIA),
        upgrade,
        redirect: None,
        // Compression's edits (weak ETag, no Accept-Ranges) are not among the kept-field checks.
        coding: Default::default(),
    };
    let mut out = Vec::new();
    write_response_head(&mut out, &r, buf, &opts);
    out.extend_from_slice(b"\r\n");
    if r.headers.len() + 4 > REPARSE_LIMITS.max_headers {
        return;
    }
    let r2 = match parse_response(&out, method, 1 << 20) {
        Ok(Some(r2)) => r2,
        other => panic!(
            "rewritten response head does not re-parse ({other:?}): {} from {}",
            show(&out),
            show(buf)
        ),
    };
    assert_eq!(r2.head_len, out.len(), "{}", show(&out));
    assert_eq!(r2.status, r.status);
    assert!(out.starts_with(b"HTTP/1.1 "));
    assert_eq!(
        r2.framing,
        framing,
        "framing: {} from {}",
        show(&out),
        show(buf)
    );
    if !upgrade {
        assert_eq!(r2.keep_alive, keep_client, "keep-alive: {}", show(&out));
    }
    check_no_hop(&r2.headers, &out, upgrade, buf);
    let options = connection_options(&r.headers, buf);
    let keep_length = framing == ResponseFraming::None && r.status >= 200 && r.status != 204;
    let length_seen = std::cell::Cell::new(false);
    check_kept(&r.headers, buf, &r2.headers, &out, |n| {
        if n.eq_ignore_ascii_case(b"content-length") {
            // Only the first of repeated (equal) fields goes out.
            return keep_length
                && !length_seen.replace(true)
                && !hide.iter().any(|h| h.eq_ignore_ascii_case(n))
                && !options.iter().any(|o| o == b"content-length");
        }
        !dropped(n, &options, hide, upgrade, false)
    });
}
