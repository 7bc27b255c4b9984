//! Balancer pick cost per method, 64 servers with mixed weights: everything usable, and (for
//! round-robin and the hashes) with a quarter of the servers unusable.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use ringway::config::{self, BalanceMethod};
use ringway::route;
use ringway::upstream::balancer::{Balancer, Pick, Tried};

const SERVERS: usize = 64;

fn spec() -> route::UpstreamSpec {
    let mut c = String::from("events {}\nhttp {\n upstream pool {\n");
    for i in 0..SERVERS {
        c.push_str(&format!(
            "  server 10.0.{}.{}:8080 weight={};\n",
            i / 200,
            1 + i % 200,
            1 + (i * 7) % 5
        ));
    }
    c.push_str(
        " }\n server { listen 127.0.0.1:8080; location / { proxy_pass http://pool; } }\n}\n",
    );
    let cfg = config::parse_str(&c, Path::new("bench.conf")).expect("bench config parses");
    let mut compiled = route::compile(&cfg).expect("bench config compiles");
    compiled.upstreams.remove(0)
}

fn keys(method: BalanceMethod) -> Vec<Vec<u8>> {
    (0..1024u64)
        .map(|n| {
            let x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29) ^ n;
            match method {
                BalanceMethod::IpHash => (x as u32).to_be_bytes().to_vec(),
                _ => format!("/objects/{x:016x}/thumbnail.jpg").into_bytes(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let spec = spec();
    assert_eq!(spec.servers.len(), SERVERS);
    let active: Vec<u32> = (0..SERVERS).map(|i| ((i * 13) % 9) as u32).collect();
    let all = vec![true; SERVERS];
    let three_quarters: Vec<bool> = (0..SERVERS).map(|i| i % 4 != 1).collect();
    let tried = Tried::new();
    let random_two = BalanceMethod::Random {
        two: true,
        least_conn: true,
    };
    let cases: [(&str, BalanceMethod, &[bool]); 10] = [
        ("round_robin", BalanceMethod::RoundRobin, &all),
        ("least_conn", BalanceMethod::LeastConn, &all),
        ("ip_hash", BalanceMethod::IpHash, &all),
        ("hash", BalanceMethod::Hash { consistent: false }, &all),
        (
            "hash_consistent",
            BalanceMethod::Hash { consistent: true },
            &all,
        ),
        (
            "random",
            BalanceMethod::Random {
                two: false,
                least_conn: false,
            },
            &all,
        ),
        ("random_two_least_conn", random_two, &all),
        (
            "round_robin/quarter_unusable",
            BalanceMethod::RoundRobin,
            &three_quarters,
        ),
        (
            "hash/quarter_unusable",
            BalanceMethod::Hash { consistent: false },
            &three_quarters,
        ),
        (
            "hash_consistent/quarter_unusable",
            BalanceMethod::Hash { consistent: true },
            &three_quarters,
        ),
    ];
    let mut g = c.benchmark_group("balancer_pick_64");
    for (name, method, usable) in cases {
        let mut balancer = Balancer::new(&spec, method);
        let keys = keys(method);
        let usable = |i: usize| usable[i];
        let active = |i: usize| active[i];
        let mut n = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                n = (n + 1) & 1023;
                let p = Pick {
                    key: black_box(&keys[n]),
                    tried: &tried,
                    usable: &usable,
                    active: &active,
                };
                black_box(balancer.pick(&p))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
