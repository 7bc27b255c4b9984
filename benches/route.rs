//! Route lookup cost with 1,000 server names and 200 locations (issue: "a route lookup stays
//! under a microsecond").

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use ringway::config;
use ringway::route;

fn big_config() -> String {
    let mut c = String::from("events {}\nhttp {\n");
    // The server that holds the 200 locations, plus 999 more names across other servers.
    c.push_str(
        "server {\n listen 127.0.0.1:8080 default_server;\n server_name main.example.com;\n",
    );
    for i in 0..150 {
        c.push_str(&format!(
            " location /api/v{}/service{}/ {{ return 200 \"p{i}\"; }}\n",
            i % 5,
            i
        ));
    }
    for i in 0..40 {
        c.push_str(&format!(
            " location = /exact/{i} {{ return 200 \"e{i}\"; }}\n"
        ));
    }
    for i in 0..10 {
        c.push_str(&format!(
            " location ~ ^/re{i}/[0-9]+$ {{ return 200 \"r{i}\"; }}\n"
        ));
    }
    c.push_str("}\n");
    for i in 0..999 {
        let name = match i % 10 {
            0 => format!("*.wild{i}.example.net"),
            1 => format!("mail{i}.*"),
            _ => format!("host{i}.example.com"),
        };
        c.push_str(&format!(
            "server {{ listen 127.0.0.1:8080; server_name {name}; location / {{ return 200 \"s{i}\"; }} }}\n"
        ));
    }
    c.push_str("}\n");
    c
}

fn bench(c: &mut Criterion) {
    let text = big_config();
    let cfg = config::parse_str(&text, Path::new("bench.conf")).expect("bench config parses");
    let compiled = route::compile(&cfg).expect("bench config compiles");
    let hosts = &compiled.listeners[0].hosts;
    let cases: [(&str, &[u8], &[u8]); 5] = [
        (
            "exact host, deep prefix",
            b"main.example.com",
            b"/api/v3/service148/users/42/profile",
        ),
        (
            "exact host, exact location",
            b"main.example.com:8080",
            b"/exact/39",
        ),
        ("regex location", b"main.example.com", b"/re9/12345"),
        ("leading wildcard host", b"a.b.wild990.example.net", b"/x"),
        (
            "unknown host → default",
            b"nobody.invalid",
            b"/api/v0/service0/",
        ),
    ];
    let mut g = c.benchmark_group("route_lookup");
    for (name, host, path) in cases {
        g.bench_function(name, |b| {
            b.iter(|| {
                let server = hosts
                    .find(black_box(host))
                    .expect("a default server exists");
                black_box(server.locations.find(black_box(path)).is_some())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
