//! The limiters without sockets: nginx's leaky-bucket arithmetic, shares, zones across reloads.

use std::time::{Duration, Instant};

use super::limit_conn::{ConnRule, acquire};
use super::limit_req::{ReqRule, Verdict, check};
use super::zones::{LocationLimits, Share, ZoneSpec, Zones};
use crate::template::{Template, Vars};

fn spec(name: &str, key: &str, rate: Option<u64>) -> ZoneSpec {
    ZoneSpec {
        name: name.into(),
        key_text: key.into(),
        key: Template::compile(key).unwrap(),
        size: 1 << 20,
        rate,
    }
}

fn vars<'a>(addr: &'a [u8], header: &'a dyn Fn(&[u8], &mut Vec<u8>) -> bool) -> Vars<'a> {
    Vars {
        host: b"h",
        remote_addr: addr,
        remote_ip: ip_of(addr),
        realip_remote_addr: addr,
        remote_port: 1,
        scheme: b"http",
        request_uri: b"/",
        method: b"GET",
        server_name: b"s",
        server_port: 80,
        header,
        proxy_host: b"",
        uri: b"/",
        captures: None,
        user: &[],
        auth_response: None,
        tls: None,
        cache_status: b"",
    }
}

/// The address a test's `$remote_addr` text stands for: its first bytes as an IPv4 address, so
/// distinct short texts give distinct `$binary_remote_addr` keys.
fn ip_of(addr: &[u8]) -> std::net::IpAddr {
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(addr) {
        *d = *s;
    }
    std::net::IpAddr::from(a)
}

fn req_rules(rules: &[(usize, u64, Option<u64>)]) -> LocationLimits {
    LocationLimits {
        req: rules
            .iter()
            .map(|&(zone, burst, delay)| ReqRule {
                zone,
                burst: burst * 1000,
                delay: delay.map_or(u64::MAX, |d| d * 1000),
            })
            .collect(),
        ..LocationLimits::default()
    }
}

const NONE: &dyn Fn(&[u8], &mut Vec<u8>) -> bool = &|_, _| false;

#[test]
fn leaky_bucket_as_nginx() {
    let zones = Zones::new(
        &[spec("z", "$binary_remote_addr", Some(10_000))],
        Share::ONE,
        None,
    );
    let v = vars(b"a", NONE);
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    // 10r/s, no burst: one request per 100 ms; the first of a key is free.
    let l = req_rules(&[(0, 0, None)]);
    assert_eq!(check(&l, &zones, &v, at(0)), Verdict::Pass);
    assert_eq!(check(&l, &zones, &v, at(0)), Verdict::Reject);
    assert_eq!(check(&l, &zones, &v, at(50)), Verdict::Reject);
    assert_eq!(check(&l, &zones, &v, at(100)), Verdict::Pass);
    // Another key has its own bucket.
    assert_eq!(check(&l, &zones, &vars(b"b", NONE), at(100)), Verdict::Pass);

    // burst=2 (every excess request delayed): delays of (excess - 0) / rate.
    let l = req_rules(&[(0, 2, Some(0))]);
    let v = vars(b"c", NONE);
    assert_eq!(check(&l, &zones, &v, at(0)), Verdict::Pass);
    assert_eq!(
        check(&l, &zones, &v, at(0)),
        Verdict::Delay(Duration::from_millis(100))
    );
    assert_eq!(
        check(&l, &zones, &v, at(0)),
        Verdict::Delay(Duration::from_millis(200))
    );
    assert_eq!(check(&l, &zones, &v, at(0)), Verdict::Reject);

    // burst=3 delay=1: the first excess request passes at once, the next waits.
    let l = req_rules(&[(0, 3, Some(1))]);
    let v = vars(b"d", NONE);
    assert_eq!(check(&l, &zones, &v, at(0)), Verdict::Pass);
    assert_eq!(check(&l, &zones, &v, at(0)), Verdict::Pass);
    assert_eq!(
        check(&l, &zones, &v, at(0)),
        Verdict::Delay(Duration::from_millis(100))
    );
}

#[test]
fn each_shard_takes_its_share() {
    let half = Share { index: 1, of: 2 };
    let zones = Zones::new(&[spec("z", "$remote_addr", Some(10_000))], half, None);
    let v = vars(b"a", NONE);
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    // 10r/s burst=2 over two shards: 5r/s and a burst of 1 here.
    let l = req_rules(&[(0, 2, None)]);
    assert_eq!(check(&l, &zones, &v, at(0)), Verdict::Pass);
    assert_eq!(check(&l, &zones, &v, at(0)), Verdict::Pass);
    assert_eq!(check(&l, &zones, &v, at(0)), Verdict::Reject);
    assert_eq!(check(&l, &zones, &v, at(100)), Verdict::Reject);
    assert_eq!(check(&l, &zones, &v, at(200)), Verdict::Pass);

    assert_eq!(
        (0..3)
            .map(|index| Share { index, of: 3 }.count(5))
            .collect::<Vec<_>>(),
        [2, 2, 1]
    );
    assert_eq!(Share { index: 1, of: 2 }.count(1), 1, "never 0");
}

#[test]
fn several_limits_store_nothing_unless_all_pass() {
    let zones = Zones::new(
        &[
            spec("ip", "$remote_addr", Some(1000)),
            spec("key", "$http_x_key", Some(1000)),
        ],
        Share::ONE,
        None,
    );
    let t0 = Instant::now();
    let keyed = |n: &[u8], out: &mut Vec<u8>| {
        if n == b"x-key" {
            out.extend_from_slice(b"k");
        }
        n == b"x-key"
    };
    let l = req_rules(&[(0, 5, None), (1, 0, None)]);
    assert_eq!(check(&l, &zones, &vars(b"a", &keyed), t0), Verdict::Pass);
    // The key's bucket refuses: the address's excess must not grow.
    for _ in 0..10 {
        assert_eq!(check(&l, &zones, &vars(b"a", &keyed), t0), Verdict::Reject);
    }
    // Without the field the key is empty (not limited): five more fit the address's burst.
    for _ in 0..5 {
        assert_eq!(check(&l, &zones, &vars(b"a", NONE), t0), Verdict::Pass);
    }
    assert_eq!(check(&l, &zones, &vars(b"a", NONE), t0), Verdict::Reject);
}

#[test]
fn conn_counts_are_released_and_survive_reload() {
    let specs = [spec("c", "$remote_addr", None)];
    let zones = Zones::new(&specs, Share::ONE, None);
    let l = LocationLimits {
        conn: vec![ConnRule { zone: 0, max: 2 }].into(),
        ..LocationLimits::default()
    };
    let v = vars(b"a", NONE);
    let a = acquire(&l, &zones, &v).expect("first");
    let b = acquire(&l, &zones, &v).expect("second");
    assert!(acquire(&l, &zones, &v).is_none(), "third is over the limit");
    assert!(acquire(&l, &zones, &vars(b"b", NONE)).is_some());
    drop(a);
    // A reload keeps the table: b still counts.
    let reloaded = Zones::new(&specs, Share::ONE, Some(&zones));
    let c = acquire(&l, &reloaded, &v).expect("one left after the release");
    assert!(acquire(&l, &reloaded, &v).is_none());
    drop((b, c));
    assert!(acquire(&l, &reloaded, &v).is_some());
    // Dry run: over the limit passes, uncounted.
    let dry = LocationLimits {
        conn: vec![ConnRule { zone: 0, max: 1 }].into(),
        conn_dry_run: true,
        ..LocationLimits::default()
    };
    let _one = acquire(&dry, &reloaded, &v).unwrap();
    assert!(acquire(&dry, &reloaded, &v).is_some());
}
