//! Active health checks: one shard probes, every shard follows its verdict.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// A backend that answers `/healthz` with a status the test controls, and anything else 200
/// with `X-Backend: tag`.
fn checked_backend(tag: &str, health: Arc<AtomicU16>) -> Backend {
    let tag = tag.to_string();
    Backend::start(move |c| {
        while let Some(req) = c.read_request() {
            let ok = if req.target == "/healthz" {
                c.respond(health.load(Ordering::SeqCst), b"health")
            } else {
                c.respond_with(200, &[("X-Backend", &tag)], b"hello")
            };
            if !ok {
                return;
            }
        }
    })
}

fn shares(rw: &Ringway, n: usize) -> (usize, usize) {
    let (mut a, mut b) = (0, 0);
    for i in 0..n {
        let r = rw.get(&format!("/x{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        match r.header("x-backend") {
            Some("A") => a += 1,
            Some("B") => b += 1,
            other => panic!("unexpected backend {other:?}"),
        }
    }
    (a, b)
}

#[test]
fn failing_checks_take_a_server_out_on_every_shard_and_passing_ones_bring_it_back() {
    let ha = Arc::new(AtomicU16::new(200));
    let hb = Arc::new(AtomicU16::new(200));
    let a = checked_backend("A", ha.clone());
    let b = checked_backend("B", hb.clone());
    let conf = format!(
        "http {{
            upstream app {{
                server {};
                server {};
                health_check interval=200ms fails=2 passes=2 uri=/healthz match_status=200-399 timeout=500ms;
            }}
            server {{ listen {LISTEN}; location / {{ proxy_pass http://app; }} }}
        }}",
        a.addr, b.addr
    );
    let rw = Ringway::start_with(&conf, 2);
    let started = Instant::now();
    let (sa, sb) = shares(&rw, 40);
    assert!(sa > 0 && sb > 0, "both serve while healthy: A {sa}, B {sb}");

    hb.store(503, Ordering::SeqCst);
    assert!(
        rw.wait_log("health check failed", 1, Duration::from_secs(5)),
        "{}",
        rw.stderr()
    );
    // Both shards follow the verdict: new connections land on either shard.
    let (sa, sb) = shares(&rw, 40);
    assert_eq!((sa, sb), (40, 0), "B is out of rotation everywhere");

    hb.store(200, Ordering::SeqCst);
    let t = Instant::now();
    assert!(
        rw.wait_log("health check passed", 1, Duration::from_secs(5)),
        "{}",
        rw.stderr()
    );
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "needs two passing probes"
    );
    let (sa, sb) = shares(&rw, 40);
    assert!(sa > 0 && sb > 0, "B is back: A {sa}, B {sb}");
    let probes = b
        .requests()
        .iter()
        .filter(|r| {
            r.target == "/healthz" && r.header("user-agent") == Some("ringway-health-check")
        })
        .count();
    // One prober for the whole process (shard 0), not one per shard.
    let intervals = (started.elapsed().as_millis() / 200) as usize;
    assert!(
        probes >= 4 && probes <= intervals + 1,
        "{probes} probes in {intervals} intervals"
    );
}

#[test]
fn health_check_parameters_are_validated() {
    let dir = temp_dir("hc-bad");
    let path = write_config(
        &dir,
        "events {} http { upstream u { server 127.0.0.1:9; health_check interval=0s; } server { listen 127.0.0.1:1; location / { proxy_pass http://u; } } }",
    );
    let (st, _out, err) = run_ringway(&["-t".as_ref(), "-c".as_ref(), path.as_os_str()]);
    assert!(!st.success());
    assert!(err.contains("interval"), "{err}");
}
