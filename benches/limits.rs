//! The access step's per-request cost: a `limit_req` check (one key hot, and 10,000 keys in
//! turn, with a table bounded to 8,192 so that keys are evicted and re-made), and a
//! `limit_conn` count taken and released.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use ringway::access::limit_conn::acquire;
use ringway::access::limit_req::check;
use ringway::access::{ConnRule, LocationLimits, ReqRule, Share, ZoneSpec, Zones};
use ringway::template::{Template, Vars};

fn zones(size: u64) -> Zones {
    let key = "$binary_remote_addr";
    let spec = |name: &str, rate| ZoneSpec {
        name: name.into(),
        key_text: key.into(),
        key: Template::compile(key).expect("key compiles"),
        size,
        rate,
    };
    // Rate high enough that the hot key is never refused: the full check runs every time.
    Zones::new(
        &[spec("r", Some(1_000_000_000)), spec("c", None)],
        Share { index: 0, of: 2 },
        None,
    )
}

fn vars<'a>(addr: std::net::IpAddr, header: &'a dyn Fn(&[u8], &mut Vec<u8>) -> bool) -> Vars<'a> {
    Vars {
        host: b"example.com",
        remote_addr: b"10.1.2.3",
        remote_ip: addr,
        realip_remote_addr: b"10.1.2.3",
        remote_port: 40000,
        scheme: b"http",
        request_uri: b"/api/x",
        method: b"GET",
        server_name: b"example.com",
        server_port: 80,
        header,
        proxy_host: b"",
        uri: b"/api/x",
        captures: None,
        user: &[],
        auth_response: None,
        tls: None,
        cache_status: b"",
    }
}

fn bench(c: &mut Criterion) {
    let none = |_: &[u8], _: &mut Vec<u8>| false;
    let req = LocationLimits {
        req: vec![ReqRule {
            zone: 0,
            burst: 100_000,
            delay: u64::MAX,
        }]
        .into(),
        ..LocationLimits::default()
    };
    let conn = LocationLimits {
        conn: vec![ConnRule { zone: 0, max: 10 }].into(),
        ..LocationLimits::default()
    };
    let z = zones(1 << 20);
    let hot = vars(std::net::IpAddr::from([10, 1, 2, 3]), &none);
    c.bench_function("limit_req one key", |b| {
        b.iter(|| black_box(check(&req, &z, &hot, Instant::now())))
    });
    let addrs: Vec<[u8; 4]> = (0..10_000u32)
        .map(|i| (i * 2_654_435_761).to_be_bytes())
        .collect();
    let mut i = 0;
    c.bench_function("limit_req 10k keys, 8k table", |b| {
        b.iter(|| {
            i = (i + 1) % addrs.len();
            let v = vars(std::net::IpAddr::from(addrs[i]), &none);
            black_box(check(&req, &z, &v, Instant::now()))
        })
    });
    c.bench_function("limit_conn take and release", |b| {
        b.iter(|| drop(black_box(acquire(&conn, &z, &hot))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
