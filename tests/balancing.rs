//! Load balancing over real sockets: smooth weighted round-robin shares (one and two shards),
//! least_conn steering away from a server holding slow requests, hash / hash consistent
//! stability and the share of keys a fourth server takes over after a reload, ip_hash, backup
//! and down servers, random and random two.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// `upstream pool { METHOD SERVERS }` proxied at `/`; `servers` are full `server …;` lines.
fn pool_conf(method: &str, servers: &str) -> String {
    format!(
        "http {{\n    upstream pool {{\n        {method}\n{servers}\n    }}\n    server {{\n        listen {LISTEN};\n        location / {{\n            proxy_pass http://pool;\n        }}\n    }}\n}}\n"
    )
}

fn server_lines(servers: &[(SocketAddr, &str)]) -> String {
    servers
        .iter()
        .map(|(a, params)| format!("        server {a} {params};\n"))
        .collect()
}

/// The `X-Backend` tag of a proxied 200.
#[track_caller]
fn tag(r: &Response) -> String {
    assert_eq!(r.status, 200, "{}", r.describe());
    r.header("x-backend")
        .unwrap_or_else(|| panic!("no X-Backend: {}", r.describe()))
        .to_string()
}

/// GETs `paths` in order; requests alternate between runs of 10 on one kept-alive connection
/// and runs of 10 on a new connection each. Returns the tag that served each path.
fn get_all(addr: SocketAddr, paths: &[String]) -> Vec<String> {
    let mut tags = Vec::with_capacity(paths.len());
    let mut conn: Option<Client> = None;
    for (i, p) in paths.iter().enumerate() {
        let keep = (i / 10) % 2 == 0;
        let req = format!("GET {p} HTTP/1.1\r\nHost: lb\r\n\r\n");
        let r = if keep {
            let c = conn.get_or_insert_with(|| Client::connect(addr));
            c.send(req.as_bytes());
            c.read_response()
        } else {
            conn = None;
            exchange(addr, req.as_bytes()).1
        };
        tags.push(tag(&r));
    }
    tags
}

/// `total` GETs from `threads` client threads (see `get_all`); the tags in no particular order.
fn load(addr: SocketAddr, total: usize, threads: usize) -> Vec<String> {
    thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let paths: Vec<String> = (0..total / threads)
                        .map(|i| format!("/w/{t}/{i}"))
                        .collect();
                    get_all(addr, &paths)
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

fn count(tags: &[String]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for t in tags {
        *m.entry(t.clone()).or_insert(0) += 1;
    }
    m
}

/// Asserts each tag's share of `tags` is within `tol` percentage points of `weight / sum`.
#[track_caller]
fn assert_shares(tags: &[String], weights: &[(&str, u32)], tol: f64, what: &str) {
    let counts = count(tags);
    let sum: u32 = weights.iter().map(|(_, w)| w).sum();
    let n = tags.len() as f64;
    let mut report = String::new();
    for (t, w) in weights {
        let got = *counts.get(*t).unwrap_or(&0) as f64 * 100.0 / n;
        let want = f64::from(*w) * 100.0 / f64::from(sum);
        report.push_str(&format!("{t}: {got:.2}% (want {want:.2}%) "));
        assert!(
            (got - want).abs() <= tol,
            "{what}: share of {t} is {got:.2}%, want {want:.2}% ± {tol} pp; all: {counts:?}"
        );
    }
    assert_eq!(
        counts.values().sum::<usize>(),
        tags.len(),
        "{what}: unknown tags in {counts:?}"
    );
    eprintln!("{what}: {} requests: {report}", tags.len());
}

fn weighted_conf(a: &Backend, b: &Backend, c: &Backend) -> String {
    pool_conf(
        "",
        &server_lines(&[
            (a.addr, "weight=1"),
            (b.addr, "weight=2"),
            (c.addr, "weight=3"),
        ]),
    )
}

/// Smooth weighted round-robin in one shard is deterministic: 3,000 picks over weights 1:2:3
/// give 500/1000/1500 exactly (asserted within ±1 percentage point).
#[test]
fn weights_one_worker() {
    let (a, b, c) = (
        tagged_backend("A"),
        tagged_backend("B"),
        tagged_backend("C"),
    );
    let rw = Ringway::start_with(&weighted_conf(&a, &b, &c), 1);
    let tags = load(rw.addr, 3000, 2);
    assert_eq!(tags.len(), 3000);
    assert_shares(&tags, &[("A", 1), ("B", 2), ("C", 3)], 1.0, "workers 1");
    // The backends saw exactly what the client was answered (no retries, nothing lost).
    assert_eq!(
        a.request_count() + b.request_count() + c.request_count(),
        3000
    );
}

/// Two shards balance independently; the total must still follow the weights (± 3 pp).
#[test]
fn weights_two_workers() {
    let (a, b, c) = (
        tagged_backend("A"),
        tagged_backend("B"),
        tagged_backend("C"),
    );
    let rw = Ringway::start_with(&weighted_conf(&a, &b, &c), 2);
    let tags = load(rw.addr, 3000, 2);
    assert_eq!(tags.len(), 3000);
    assert_shares(&tags, &[("A", 1), ("B", 2), ("C", 3)], 3.0, "workers 2");
    assert_eq!(
        a.request_count() + b.request_count() + c.request_count(),
        3000
    );
}

/// A tagged backend that answers `/slow…` after 1.5 s (when `slow`) and everything else at once.
fn slow_capable(tag: &'static str, slow: bool) -> Backend {
    Backend::start(move |c| {
        while let Some(req) = c.read_request() {
            if slow && req.target.starts_with("/slow") {
                thread::sleep(Duration::from_millis(1500));
            }
            if !c.respond_with(200, &[("X-Backend", tag)], b"ok") {
                return;
            }
        }
    })
}

/// least_conn: A holds slow requests, B answers at once; fast requests sent meanwhile go to B.
/// Measured: every one of the 40 fast requests goes to B (round-robin would send ~20 to A).
#[test]
fn least_conn_avoids_the_server_holding_slow_requests() {
    let a = slow_capable("A", true);
    let b = slow_capable("B", false);
    let rw = Ringway::start(&pool_conf(
        "least_conn;",
        &server_lines(&[(a.addr, ""), (b.addr, "")]),
    ));
    let addr = rw.addr;
    let started = Instant::now();
    let slow: Vec<_> = (0..4)
        .map(|i| {
            thread::spawn(move || {
                let (_c, r) = exchange(
                    addr,
                    format!("GET /slow/{i} HTTP/1.1\r\nHost: lb\r\n\r\n").as_bytes(),
                );
                tag(&r)
            })
        })
        .collect();
    // Some slow requests are held by A now.
    assert!(
        a.wait_for(Duration::from_millis(800), |a| a.request_count() >= 1),
        "no slow request reached A"
    );
    thread::sleep(Duration::from_millis(50));
    let fast: Vec<String> = (0..40)
        .map(|i| tag(&rw.get(&format!("/fast/{i}"))))
        .collect();
    let fast_done = started.elapsed();
    let slow_tags: Vec<String> = slow.into_iter().map(|h| h.join().unwrap()).collect();
    let to_a = fast.iter().filter(|t| *t == "A").count();
    eprintln!(
        "least_conn: slow requests went to {slow_tags:?}; fast requests (done after {fast_done:?}): A {to_a}, B {}",
        fast.len() - to_a
    );
    assert!(
        fast_done < Duration::from_millis(1400),
        "the fast requests took too long to overlap the slow ones: {fast_done:?}"
    );
    assert!(
        slow_tags.iter().any(|t| t == "A"),
        "slow requests: {slow_tags:?}"
    );
    assert!(
        to_a <= 2,
        "least_conn sent {to_a} of 40 fast requests to A while it held slow requests"
    );
}

/// Maps each path to the backend tag that served it.
fn map_keys(addr: SocketAddr, paths: &[String]) -> HashMap<String, String> {
    paths.iter().cloned().zip(get_all(addr, paths)).collect()
}

#[track_caller]
fn assert_spread(map: &HashMap<String, String>, tags: &[&str], min_share: f64, what: &str) {
    let counts = count(&map.values().cloned().collect::<Vec<_>>());
    for t in tags {
        let share = *counts.get(*t).unwrap_or(&0) as f64 / map.len() as f64;
        assert!(
            share >= min_share,
            "{what}: {t} got {:.1}% of the keys (want ≥ {:.0}%): {counts:?}",
            share * 100.0,
            min_share * 100.0
        );
    }
    eprintln!("{what}: keys per server {counts:?}");
}

#[test]
fn hash_consistent_is_stable_and_a_new_server_takes_about_a_quarter() {
    let (a, b, c, d) = (
        tagged_backend("A"),
        tagged_backend("B"),
        tagged_backend("C"),
        tagged_backend("D"),
    );
    let method = "hash $request_uri consistent;";
    let three = pool_conf(
        method,
        &server_lines(&[(a.addr, ""), (b.addr, ""), (c.addr, "")]),
    );
    let rw = Ringway::start(&three);
    let keys: Vec<String> = (0..1000).map(|i| format!("/key/{i}?v={i}")).collect();
    let first = map_keys(rw.addr, &keys);
    let again = map_keys(rw.addr, &keys);
    assert_eq!(first, again, "the same URI must land on the same server");
    assert_spread(&first, &["A", "B", "C"], 0.15, "consistent, 3 servers");

    let four = pool_conf(
        method,
        &server_lines(&[(a.addr, ""), (b.addr, ""), (c.addr, ""), (d.addr, "")]),
    );
    rw.reload_with(&four, &[]);
    let after = map_keys(rw.addr, &keys);
    let moved: Vec<&String> = keys.iter().filter(|k| first[*k] != after[*k]).collect();
    let share = moved.len() as f64 / keys.len() as f64;
    eprintln!(
        "consistent: adding a 4th server moved {} of {} keys ({:.1}%)",
        moved.len(),
        keys.len(),
        share * 100.0
    );
    assert!(
        (0.10..=0.40).contains(&share),
        "adding a 4th server moved {:.1}% of the keys (want 10%..40%)",
        share * 100.0
    );
    let not_to_d: Vec<_> = moved
        .iter()
        .filter(|k| after[**k] != "D")
        .map(|k| format!("{k}: {} -> {}", first[*k], after[*k]))
        .collect();
    assert!(
        not_to_d.is_empty(),
        "keys moved between old servers: {not_to_d:?}"
    );
    // And the new mapping is stable too.
    assert_eq!(after, map_keys(rw.addr, &keys));
}

#[test]
fn plain_hash_is_stable_and_spreads() {
    let (a, b, c) = (
        tagged_backend("A"),
        tagged_backend("B"),
        tagged_backend("C"),
    );
    let rw = Ringway::start(&pool_conf(
        "hash $request_uri;",
        &server_lines(&[(a.addr, ""), (b.addr, ""), (c.addr, "")]),
    ));
    let keys: Vec<String> = (0..300).map(|i| format!("/plain/{i}")).collect();
    let first = map_keys(rw.addr, &keys);
    for round in 0..2 {
        assert_eq!(
            first,
            map_keys(rw.addr, &keys),
            "round {round}: the same URI must land on the same server"
        );
    }
    assert_spread(&first, &["A", "B", "C"], 0.15, "plain hash");
}

#[test]
fn ip_hash_keeps_a_client_on_one_server() {
    let (a, b, c) = (
        tagged_backend("A"),
        tagged_backend("B"),
        tagged_backend("C"),
    );
    let rw = Ringway::start(&pool_conf(
        "ip_hash;",
        &server_lines(&[(a.addr, ""), (b.addr, ""), (c.addr, "")]),
    ));
    // New connections (new source ports) and kept-alive ones: the client address is the same.
    let paths: Vec<String> = (0..90).map(|i| format!("/ip/{i}")).collect();
    let tags: HashSet<String> = get_all(rw.addr, &paths).into_iter().collect();
    assert_eq!(tags.len(), 1, "ip_hash spread one client over {tags:?}");
}

#[test]
fn backup_gets_nothing_while_the_primary_is_up() {
    let a = tagged_backend("A");
    let b = tagged_backend("B");
    let rw = Ringway::start(&pool_conf(
        "",
        &server_lines(&[(a.addr, ""), (b.addr, "backup")]),
    ));
    let paths: Vec<String> = (0..100).map(|i| format!("/b/{i}")).collect();
    let counts = count(&get_all(rw.addr, &paths));
    assert_eq!(counts.get("A"), Some(&100), "{counts:?}");
    b.assert_untouched("backup while the primary is up");
}

#[test]
fn backup_serves_when_the_primary_is_unreachable() {
    let b = tagged_backend("B");
    let c = tagged_backend("C");
    let dead = dead_addr();
    let rw = Ringway::start(&pool_conf(
        "",
        &server_lines(&[(dead, ""), (b.addr, "backup"), (c.addr, "backup")]),
    ));
    let paths: Vec<String> = (0..60).map(|i| format!("/b/{i}")).collect();
    // Every request succeeds (get_all asserts 200), all from the backups.
    let counts = count(&get_all(rw.addr, &paths));
    assert_eq!(
        counts.get("B").unwrap_or(&0) + counts.get("C").unwrap_or(&0),
        60,
        "{counts:?}"
    );
    // Both backups share the load (round-robin among backups).
    assert!(
        counts.contains_key("B") && counts.contains_key("C"),
        "{counts:?}"
    );
}

#[test]
fn down_servers_never_get_traffic() {
    for method in ["", "least_conn;", "hash $request_uri;", "random;"] {
        let (a, b) = (tagged_backend("A"), tagged_backend("B"));
        let d = tagged_backend("D");
        let rw = Ringway::start(&pool_conf(
            method,
            &server_lines(&[(a.addr, ""), (d.addr, "down"), (b.addr, "")]),
        ));
        let paths: Vec<String> = (0..120).map(|i| format!("/d/{i}")).collect();
        let counts = count(&get_all(rw.addr, &paths));
        assert_eq!(d.accepted(), 0, "{method:?}: the down server was contacted");
        assert!(
            counts.get("A").is_some_and(|n| *n >= 20) && counts.get("B").is_some_and(|n| *n >= 20),
            "{method:?}: {counts:?}"
        );
    }
}

#[test]
fn random_and_random_two_use_every_server() {
    for method in ["random;", "random two;", "random two least_conn;"] {
        let (a, b, c) = (
            tagged_backend("A"),
            tagged_backend("B"),
            tagged_backend("C"),
        );
        let rw = Ringway::start(&pool_conf(
            method,
            &server_lines(&[(a.addr, ""), (b.addr, ""), (c.addr, "")]),
        ));
        let paths: Vec<String> = (0..300).map(|i| format!("/r/{i}")).collect();
        let counts = count(&get_all(rw.addr, &paths));
        eprintln!("{method} {counts:?}");
        for t in ["A", "B", "C"] {
            assert!(
                counts.get(t).is_some_and(|n| *n >= 45),
                "{method}: {t} got too little of 300 requests: {counts:?}"
            );
        }
    }
}

/// The backup takes over while the primary is down and hands back after `fail_timeout`.
#[test]
fn backup_takes_over_and_hands_back_after_fail_timeout() {
    let mut a = KillableBackend::start(tagged_handler("A"));
    let b = tagged_backend("B");
    let rw = Ringway::start(&pool_conf(
        "",
        &server_lines(&[(a.addr, "max_fails=1 fail_timeout=1s"), (b.addr, "backup")]),
    ));
    let paths = |p: &str| -> Vec<String> { (0..30).map(|i| format!("/{p}/{i}")).collect() };
    assert!(get_all(rw.addr, &paths("up")).iter().all(|t| t == "A"));
    assert_eq!(b.request_count(), 0);
    a.kill();
    let killed = Instant::now();
    let during = get_all(rw.addr, &paths("down"));
    assert!(during.iter().all(|t| t == "B"), "{during:?}");
    // Its last failure came before the restart: fail_timeout after that, it is back.
    a.restart();
    let restarted = Instant::now();
    eprintln!("backup: primary down for {:?}", killed.elapsed());
    thread::sleep(Duration::from_millis(1100).saturating_sub(restarted.elapsed()));
    let before = b.request_count();
    let after = get_all(rw.addr, &paths("back"));
    assert!(
        after.iter().all(|t| t == "A"),
        "the primary is back after fail_timeout: {after:?}"
    );
    assert_eq!(b.request_count(), before);
}

/// hash consistent: when a server fails, only its keys move (to the survivors); the others stay.
#[test]
fn hash_consistent_moves_only_a_failed_servers_keys() {
    let (a, b) = (tagged_backend("A"), tagged_backend("B"));
    let mut c = KillableBackend::start(tagged_handler("C"));
    let rw = Ringway::start(&pool_conf(
        "hash $request_uri consistent;",
        &server_lines(&[(a.addr, ""), (b.addr, ""), (c.addr, "")]),
    ));
    let keys: Vec<String> = (0..300).map(|i| format!("/ck/{i}")).collect();
    let before = map_keys(rw.addr, &keys);
    assert_spread(
        &before,
        &["A", "B", "C"],
        0.15,
        "consistent before the failure",
    );
    c.kill();
    // Every request still succeeds (get_all asserts 200s).
    let after = map_keys(rw.addr, &keys);
    for k in &keys {
        if before[k] == "C" {
            assert_ne!(after[k], "C");
        } else {
            assert_eq!(before[k], after[k], "{k} moved although its server is up");
        }
    }
    let from_c: Vec<&String> = keys.iter().filter(|k| before[*k] == "C").collect();
    let to_a = from_c.iter().filter(|k| after[**k] == "A").count();
    eprintln!(
        "consistent: C's {} keys went to A: {to_a}, B: {}",
        from_c.len(),
        from_c.len() - to_a
    );
    assert!(
        to_a > 0 && to_a < from_c.len(),
        "a failed server's keys should spread over the survivors ({to_a} of {} to A)",
        from_c.len()
    );
}

/// ip_hash: when the client's server fails, the client moves to one other server and stays.
#[test]
fn ip_hash_moves_a_client_off_a_failed_server_and_keeps_it_there() {
    let mut servers: Vec<KillableBackend> = ["A", "B", "C"]
        .iter()
        .map(|t| KillableBackend::start(tagged_handler(t)))
        .collect();
    let lines: Vec<(SocketAddr, &str)> = servers.iter().map(|s| (s.addr, "")).collect();
    let rw = Ringway::start(&pool_conf("ip_hash;", &server_lines(&lines)));
    let paths = |p: &str| -> Vec<String> { (0..40).map(|i| format!("/{p}/{i}")).collect() };
    let first: HashSet<String> = get_all(rw.addr, &paths("one")).into_iter().collect();
    assert_eq!(first.len(), 1, "{first:?}");
    let home = first.into_iter().next().unwrap();
    let k = ["A", "B", "C"].iter().position(|t| *t == home).unwrap();
    servers[k].kill();
    let second: HashSet<String> = get_all(rw.addr, &paths("two")).into_iter().collect();
    assert_eq!(second.len(), 1, "after {home} failed: {second:?}");
    assert!(!second.contains(&home));
}
