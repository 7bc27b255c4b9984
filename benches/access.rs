//! Per-request cost of the access step: allow/deny matching (a short list, and a miss through
//! 64 ranges) and the realip walk over an X-Forwarded-For list.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use ringway::access::realip::RealIp;
use ringway::access::rules::Rules;
use ringway::config::{AccessRule, Cidr};

fn cidr(s: &str) -> Cidr {
    let (a, p) = s.split_once('/').unwrap_or((s, ""));
    let addr: IpAddr = a.parse().expect("bench address");
    let full = if addr.is_ipv4() { 32 } else { 128 };
    Cidr {
        addr,
        prefix: p.parse().unwrap_or(full),
    }
}

fn rules(list: &[(bool, &str)]) -> Rules {
    let v: Vec<AccessRule> = list
        .iter()
        .map(|(deny, n)| AccessRule {
            deny: *deny,
            net: (*n != "all").then(|| cidr(n)),
        })
        .collect();
    Rules::compile(&v)
}

fn bench(c: &mut Criterion) {
    let client: IpAddr = "192.0.2.77".parse().expect("ip");
    let short = rules(&[(false, "10.0.0.0/8"), (false, "127.0.0.1"), (true, "all")]);
    c.bench_function("allow_deny/3_rules", |b| {
        b.iter(|| black_box(&short).allows(black_box(client)))
    });
    let nets: Vec<String> = (0..64).map(|i| format!("10.{i}.0.0/16")).collect();
    let mut long: Vec<(bool, &str)> = nets.iter().map(|n| (false, n.as_str())).collect();
    long.push((true, "all"));
    let long = rules(&long);
    c.bench_function("allow_deny/65_rules_miss", |b| {
        b.iter(|| black_box(&long).allows(black_box(client)))
    });
    let none = rules(&[]);
    c.bench_function("allow_deny/none", |b| {
        b.iter(|| black_box(&none).allows(black_box(client)))
    });

    let rip = RealIp::compile(&ringway::config::RealIp {
        from: vec![cidr("127.0.0.1"), cidr("10.0.0.0/8")],
        header: "X-Forwarded-For".into(),
        recursive: true,
    })
    .expect("realip");
    let peer: IpAddr = "127.0.0.1".parse().expect("ip");
    let xff: &[u8] = b"203.0.113.9, 198.51.100.1, 10.1.1.1, 10.2.2.2";
    c.bench_function("realip/recursive_4_addresses", |b| {
        b.iter(|| black_box(&rip).client(black_box(peer), std::iter::once(black_box(xff))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
