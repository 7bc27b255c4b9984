//! A scrape's own cost with 100 upstream servers and 20 locations: one shard's snapshot (what
//! each shard's control loop does), and summing 16 shards' snapshots and encoding them as
//! Prometheus text, stub_status and the status page's JSON (what the scraped shard does).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ringway::access::zones::Share;
use ringway::config;
use ringway::observe::metrics::{encode, page, process, scrape, snapshot, stub};
use ringway::proxy::{Generation, ShardCtx};
use ringway::route;

const SERVERS: usize = 100;
const LOCATIONS: usize = 20;
const SHARDS: usize = 16;

fn shard() -> ShardCtx {
    let mut c = String::from("events {}\nhttp {\n upstream pool {\n");
    for i in 0..SERVERS {
        c.push_str(&format!(
            "  server 10.0.{}.{}:8080;\n",
            i / 200,
            1 + i % 200
        ));
    }
    c.push_str(" }\n server { listen 127.0.0.1:8080; server_name bench.example;\n");
    for i in 0..LOCATIONS {
        c.push_str(&format!(
            "  location /l{i}/ {{ proxy_pass http://pool; }}\n"
        ));
    }
    c.push_str(" }\n}\n");
    let cfg = config::parse_str(&c, Path::new("bench.conf")).expect("bench config parses");
    let compiled = route::compile(&cfg).expect("bench config compiles");
    let share = Share { index: 0, of: 1 };
    let ctx = ShardCtx::new(
        0,
        Generation::new(compiled, share, None, &Default::default()),
    );
    // Counters with values in every bucket and kind, as a busy shard has.
    let g = ctx.current();
    for (n, s) in g.upstreams[0].servers.iter().enumerate() {
        let st = s.stats.get().expect("attached");
        for i in 0..50 {
            st.attempt();
            st.connected(i % 3 == 0);
            st.header_time.observe(Duration::from_micros(
                (n * 997 + i * 7919) as u64 % 3_000_000,
            ));
        }
    }
    for loc in ctx.metrics.registry.locations.borrow().values() {
        for i in 0..50u64 {
            loc.count(
                200 + (i % 4) as u16 * 100,
                300,
                5000,
                Duration::from_micros(i * 20_011),
            );
        }
    }
    ctx
}

fn bench(c: &mut Criterion) {
    let ctx = shard();
    c.bench_function("metrics_snapshot_one_shard_100_servers", |b| {
        b.iter(|| black_box(snapshot::take(black_box(&ctx))))
    });
    let snaps: Vec<_> = (0..SHARDS).map(|_| snapshot::take(&ctx)).collect();
    let facts = process::facts();
    c.bench_function("metrics_sum_16_shards_and_encode_prometheus", |b| {
        b.iter(|| {
            let g = scrape::Gathered {
                total: snapshot::sum(black_box(&snaps)),
                shards: SHARDS,
                missing: 0,
                took: Duration::ZERO,
            };
            let mut out = String::with_capacity(256 * 1024);
            encode::encode(&g, &facts, &mut out);
            black_box(out.len())
        })
    });
    let g = scrape::Gathered {
        total: snapshot::sum(&snaps),
        shards: SHARDS,
        missing: 0,
        took: Duration::ZERO,
    };
    c.bench_function("metrics_encode_status_json", |b| {
        b.iter(|| {
            let mut out = String::new();
            page::json(black_box(&g), &facts, &mut out);
            black_box(out.len())
        })
    });
    c.bench_function("metrics_encode_stub_status", |b| {
        b.iter(|| {
            let mut out = String::new();
            stub::render(black_box(&g.total.conns), &mut out);
            black_box(out.len())
        })
    });
    let mut out = String::new();
    let t0 = Instant::now();
    encode::encode(&g, &facts, &mut out);
    eprintln!(
        "exposition for {SERVERS} servers, {LOCATIONS} locations: {} bytes, {} lines ({:?} once)",
        out.len(),
        out.lines().count(),
        t0.elapsed()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
