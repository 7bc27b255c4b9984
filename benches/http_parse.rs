//! Request-head parsing and head rewriting on a typical browser request.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringway::http::BodyFraming;
use ringway::http::request::{Limits, parse_request};
use ringway::http::rewrite::{NameSet, RequestRewrite, write_request_head};

const BROWSER_GET: &[u8] = b"GET /static/app.3f9a1c.js?v=1712 HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.9,fr;q=0.8\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Referer: https://www.example.com/products/index.html\r\n\
Cookie: session=9f8e7d6c5b4a39281706f5e4d3c2b1a0; theme=dark; _ga=GA1.2.123456789.1712345678\r\n\
Connection: keep-alive\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: script\r\n\
Sec-Fetch-Mode: no-cors\r\n\
If-None-Match: \"5f3e-18c2a\"\r\n\
\r\n";

/// The proxy's defaults (`large_client_header_buffers 4 8k`, nginx's `max_headers`).
const LIMITS: Limits = Limits {
    max_request_line: 8192,
    max_field_line: 8192,
    max_head: 32768,
    max_headers: 1000,
};

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("http_parse");
    g.throughput(Throughput::Bytes(BROWSER_GET.len() as u64));
    g.bench_function("parse_request/browser_12_fields", |b| {
        b.iter(|| {
            let head = parse_request(black_box(BROWSER_GET), &LIMITS)
                .unwrap()
                .unwrap();
            black_box(head)
        })
    });

    let replace = NameSet::new(["host", "x-real-ip", "x-forwarded-for"]);
    let mut out = Vec::with_capacity(2048);
    g.bench_function("parse_and_write_request_head", |b| {
        b.iter(|| {
            let buf = black_box(BROWSER_GET);
            let head = parse_request(buf, &LIMITS).unwrap().unwrap();
            out.clear();
            let opts = RequestRewrite {
                method: None,
                target: head.target.get(buf),
                http11: true,
                keep_alive: true,
                upgrade: false,
                body: BodyFraming::None,
                replace: &replace,
                drop_max_forwards: false,
                via: Some(b"1.1 ringway"),
            };
            write_request_head(&mut out, &head, buf, &opts);
            black_box(out.len())
        })
    });

    let head = parse_request(BROWSER_GET, &LIMITS).unwrap().unwrap();
    g.bench_function("write_request_head", |b| {
        b.iter(|| {
            out.clear();
            let opts = RequestRewrite {
                method: None,
                target: b"/static/app.3f9a1c.js?v=1712",
                http11: true,
                keep_alive: true,
                upgrade: false,
                body: BodyFraming::None,
                replace: &replace,
                drop_max_forwards: false,
                via: Some(b"1.1 ringway"),
            };
            write_request_head(&mut out, black_box(&head), BROWSER_GET, &opts);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
