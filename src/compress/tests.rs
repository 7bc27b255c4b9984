use super::*;
use crate::config::compress::CompressSettings;
use crate::http::Method;
use crate::http::response::parse_response;

#[test]
fn accept_encoding_q_values() {
    let a = parse_accept_encoding(b"gzip;q=0.5, br");
    assert_eq!((a.gzip, a.br), (Some(500), Some(1000)));
    let a = parse_accept_encoding(b"br;q=0, *;q=0.2");
    assert_eq!((a.gzip, a.br), (Some(200), Some(0)));
    let a = parse_accept_encoding(b"identity, GZIP ; Q=1.000, br;q=1.5");
    assert_eq!((a.gzip, a.br), (Some(1000), Some(0)));
    let a = parse_accept_encoding(b"deflate");
    assert_eq!((a.gzip, a.br), (None, None));
    let a = parse_accept_encoding(b";;,,=q;q=");
    assert_eq!((a.gzip, a.br), (None, None));
    let a = parse_accept_encoding(b"gzip, deflate, br, ZSTD;q=0.8");
    assert_eq!((a.gzip, a.br, a.zstd), (Some(1000), Some(1000), Some(800)));
    let a = parse_accept_encoding(b"*;q=0.3, br");
    assert_eq!((a.gzip, a.br, a.zstd), (Some(300), Some(1000), Some(300)));
}

#[test]
fn zstd_wins_a_tie_and_loses_to_a_higher_q() {
    let mut s = settings(true, true);
    s.zstd.on = true;
    s.zstd.level = 3;
    let p = Policy::compile(&s).unwrap().unwrap();
    let html = "200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n";
    let chrome = "Accept-Encoding: gzip, deflate, br, zstd\r\n";
    let d = decide(&p, chrome, html);
    assert_eq!((d.coding, d.level, d.vary), (Some(Coding::Zstd), 3, true));
    let prefers_br = "Accept-Encoding: zstd;q=0.5, br\r\n";
    assert_eq!(decide(&p, prefers_br, html).coding, Some(Coding::Brotli));
    let gzip_best = "Accept-Encoding: zstd;q=0.1, br;q=0.1, gzip;q=0.2\r\n";
    assert_eq!(decide(&p, gzip_best, html).coding, Some(Coding::Gzip));
    // zstd alone on: a client without zstd gets the body as it is.
    let mut s = CompressSettings::default();
    s.zstd.on = true;
    let p = Policy::compile(&s).unwrap().unwrap();
    assert_eq!(
        decide(&p, "Accept-Encoding: gzip, br\r\n", html).coding,
        None
    );
    assert_eq!(decide(&p, chrome, html).coding, Some(Coding::Zstd));
    // zstd_types and zstd_min_length apply to zstd alone.
    s.zstd.min_length = 200;
    let p = Policy::compile(&s).unwrap().unwrap();
    assert_eq!(decide(&p, chrome, html).coding, None);
}

fn settings(gzip: bool, brotli: bool) -> CompressSettings {
    let mut s = CompressSettings::default();
    s.gzip.on = gzip;
    s.brotli.on = brotli;
    s.gzip.types = vec!["text/plain".into()];
    s
}

fn decide(p: &Policy, req: &str, resp: &str) -> Decision {
    let rb = format!("GET / HTTP/1.1\r\nHost: a\r\n{req}\r\n");
    let rq = crate::http::request::parse_request(
        rb.as_bytes(),
        &crate::http::request::Limits {
            max_request_line: 8192,
            max_field_line: 8192,
            max_head: 65536,
            max_headers: 100,
        },
    )
    .unwrap()
    .unwrap();
    let ub = format!("HTTP/1.1 {resp}\r\n");
    let head = parse_response(ub.as_bytes(), Method::Get, 1 << 16)
        .unwrap()
        .unwrap();
    let view = RequestView {
        headers: &rq.headers,
        buf: rb.as_bytes(),
        http10: false,
    };
    p.decide(&view, &head, ub.as_bytes())
}

#[test]
fn decisions() {
    let p = Policy::compile(&settings(true, true)).unwrap().unwrap();
    let html = "200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 100\r\n";
    let br = Some(Coding::Brotli);
    let gz = Some(Coding::Gzip);
    assert_eq!(decide(&p, "Accept-Encoding: gzip, br\r\n", html).coding, br);
    assert_eq!(
        decide(&p, "Accept-Encoding: gzip, br;q=0.9\r\n", html).coding,
        gz
    );
    assert_eq!(
        decide(&p, "Accept-Encoding: gzip;q=0, br;q=0\r\n", html).coding,
        None
    );
    assert_eq!(decide(&p, "", html).coding, None);
    // brotli_types has no text/plain; gzip_types has.
    let plain = "200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n";
    assert_eq!(
        decide(&p, "Accept-Encoding: gzip, br\r\n", plain).coding,
        gz
    );
    let short = "200 OK\r\nContent-Type: text/html\r\nContent-Length: 19\r\n";
    assert_eq!(decide(&p, "Accept-Encoding: gzip\r\n", short).coding, None);
    let coded =
        "200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: 100\r\n";
    assert_eq!(decide(&p, "Accept-Encoding: gzip\r\n", coded).coding, None);
    let partial = "206 Partial\r\nContent-Type: text/html\r\nContent-Length: 100\r\n";
    assert_eq!(
        decide(&p, "Accept-Encoding: gzip\r\n", partial).coding,
        None
    );
    let nt = "200 OK\r\nContent-Type: text/html\r\nCache-Control: public, no-transform\r\nContent-Length: 100\r\n";
    assert_eq!(decide(&p, "Accept-Encoding: gzip\r\n", nt).coding, None);
    // Proxied requests: off by default.
    assert_eq!(
        decide(&p, "Via: 1.1 x\r\nAccept-Encoding: gzip\r\n", html).coding,
        None
    );
}

#[test]
fn proxied_and_disable() {
    let mut s = settings(true, false);
    s.proxied.no_etag = true;
    s.disable = vec!["msie6".into(), "^curl/7".into()];
    let p = Policy::compile(&s).unwrap().unwrap();
    let html = "200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n";
    let tagged = "200 OK\r\nContent-Type: text/html\r\nETag: \"x\"\r\nContent-Length: 100\r\n";
    let via = "Via: 1.1 x\r\nAccept-Encoding: gzip\r\n";
    assert_eq!(decide(&p, via, html).coding, Some(Coding::Gzip));
    assert_eq!(decide(&p, via, tagged).coding, None);
    let ua = "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)\r\nAccept-Encoding: gzip\r\n";
    assert_eq!(decide(&p, ua, html).coding, None);
    let ua = "User-Agent: CURL/7.1\r\nAccept-Encoding: gzip\r\n";
    assert_eq!(decide(&p, ua, html).coding, None);
    let ua = "User-Agent: curl/8.1\r\nAccept-Encoding: gzip\r\n";
    assert_eq!(decide(&p, ua, html).coding, Some(Coding::Gzip));
}

#[test]
fn gzip_proxied_follows_nginx_steps() {
    let with = |tokens: &[&str]| {
        let mut s = settings(true, false);
        for t in tokens {
            assert!(s.proxied.set(t));
        }
        Policy::compile(&s).unwrap().unwrap()
    };
    let via = "Via: 1.1 x\r\nAccept-Encoding: gzip\r\n";
    let resp = |fields: &str| {
        format!("200 OK\r\nContent-Type: text/html\r\n{fields}Content-Length: 100\r\n")
    };
    let gz = Some(Coding::Gzip);
    let past = "Date: Sun, 06 Dec 2026 12:00:00 GMT\r\nExpires: Sun, 06 Dec 2026 11:00:00 GMT\r\n";
    let future =
        "Date: Sun, 06 Dec 2026 12:00:00 GMT\r\nExpires: Sun, 06 Dec 2026 13:00:00 GMT\r\n";
    assert_eq!(decide(&with(&["off"]), via, &resp("")).coding, None);
    assert_eq!(decide(&with(&["any"]), via, &resp(future)).coding, gz);
    assert_eq!(decide(&with(&["expired"]), via, &resp(past)).coding, gz);
    assert_eq!(decide(&with(&["expired"]), via, &resp(future)).coding, None);
    // Expires present without `expired`: refused, whatever else is listed.
    assert_eq!(decide(&with(&["no-cache"]), via, &resp(past)).coding, None);
    let nc = "Cache-Control: no-cache\r\n";
    assert_eq!(decide(&with(&["no-cache"]), via, &resp(nc)).coding, gz);
    assert_eq!(decide(&with(&["private"]), via, &resp(nc)).coding, None);
    // Neither Expires nor Cache-Control: compressed unless no_last_modified / no_etag object.
    assert_eq!(decide(&with(&["no-cache"]), via, &resp("")).coding, gz);
    let lm = "Last-Modified: Sun, 06 Dec 2026 11:00:00 GMT\r\n";
    assert_eq!(
        decide(&with(&["no_last_modified"]), via, &resp(lm)).coding,
        None
    );
    assert_eq!(
        decide(&with(&["no_last_modified"]), via, &resp("")).coding,
        gz
    );
    let auth = "Authorization: Basic eDp5\r\nVia: 1.1 x\r\nAccept-Encoding: gzip\r\n";
    assert_eq!(decide(&with(&["auth"]), auth, &resp(future)).coding, gz);
}

#[test]
fn any_accept_encoding_bytes_give_bounded_weights() {
    // xorshift: reproducible bytes, biased toward the characters the parser cares about.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let alphabet = b"gzipbrstd*;q=0.1,x- \t\x00\xff";
    for _ in 0..20_000 {
        let mut v = Vec::new();
        for _ in 0..(x % 40) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.push(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        let a = parse_accept_encoding(&v);
        let bounded = |w: Option<u16>| w.is_none_or(|q| q <= 1000);
        assert!(bounded(a.gzip) && bounded(a.br) && bounded(a.zstd));
        x = x.wrapping_add(1);
    }
}
