use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use super::*;

const ALL_METHODS: [BalanceMethod; 7] = [
    BalanceMethod::RoundRobin,
    BalanceMethod::LeastConn,
    BalanceMethod::IpHash,
    BalanceMethod::Hash { consistent: false },
    BalanceMethod::Hash { consistent: true },
    BalanceMethod::Random {
        two: false,
        least_conn: false,
    },
    BalanceMethod::Random {
        two: true,
        least_conn: true,
    },
];

/// `(weight, backup, down)` per server, at 10.0.0.1:8000, :8001, ...
fn members(servers: &[(u32, bool, bool)]) -> Vec<Member> {
    servers
        .iter()
        .enumerate()
        .map(|(i, &(weight, backup, down))| Member {
            addr: format!("10.0.0.1:{}", 8000 + i).parse().unwrap(),
            weight,
            backup,
            down,
        })
        .collect()
}

fn balancer(servers: &[(u32, bool, bool)], method: BalanceMethod) -> Balancer {
    Balancer::from_members(&members(servers), method)
}

fn primaries(weights: &[u32]) -> Vec<(u32, bool, bool)> {
    weights.iter().map(|&w| (w, false, false)).collect()
}

fn all(_: usize) -> bool {
    true
}

fn idle(_: usize) -> u32 {
    0
}

fn pick_with(
    b: &mut Balancer,
    key: &[u8],
    tried: &Tried,
    usable: &dyn Fn(usize) -> bool,
    active: &dyn Fn(usize) -> u32,
) -> Option<usize> {
    b.pick(&Pick {
        key,
        tried,
        usable,
        active,
    })
}

fn pick(b: &mut Balancer, key: &[u8]) -> Option<usize> {
    pick_with(b, key, &Tried::new(), &all, &idle)
}

/// A request key for `method`: an IPv4 address for ip_hash, a URI-like string for hash.
fn key_for(method: BalanceMethod, n: u64) -> Vec<u8> {
    let x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29) ^ n;
    match method {
        BalanceMethod::IpHash => (x as u32).to_be_bytes().to_vec(),
        _ => format!("/objects/{x:016x}?v={n}").into_bytes(),
    }
}

/// Picks `n` times (key `i` for pick `i`) and asserts each server's share of the picks is its
/// weight's share, within 3 percentage points.
fn assert_shares(method: BalanceMethod, weights: &[u32], n: u64) {
    let mut b = balancer(&primaries(weights), method);
    let mut counts = vec![0u64; weights.len()];
    for i in 0..n {
        counts[pick(&mut b, &key_for(method, i)).unwrap()] += 1;
    }
    let total: u32 = weights.iter().sum();
    for (i, &w) in weights.iter().enumerate() {
        let want = f64::from(w) / f64::from(total);
        let got = counts[i] as f64 / n as f64;
        assert!(
            (got - want).abs() <= 0.03,
            "{method:?}: server {i} got {got:.3}, want {want:.3} ({counts:?})"
        );
    }
}

#[test]
fn round_robin_sequence_matches_nginx() {
    // nginx's documented example: weights 5,1,1 give a a b a c a a.
    let servers = primaries(&[5, 1, 1]);
    let mut b = balancer(&servers, BalanceMethod::RoundRobin);
    let seq: Vec<usize> = (0..7).filter_map(|_| pick(&mut b, b"")).collect();
    assert_eq!(seq, vec![0, 0, 1, 0, 2, 0, 0]);
    // The stand-alone engine (kept for callers without health state) agrees.
    let mut rr = SmoothWeighted::from_servers(&members(&servers));
    let seq: Vec<usize> = (0..7).filter_map(|_| rr.pick()).collect();
    assert_eq!(seq, vec![0, 0, 1, 0, 2, 0, 0]);
}

#[test]
fn weighted_shares_round_robin_random_hash() {
    for method in [
        BalanceMethod::RoundRobin,
        BalanceMethod::Random {
            two: false,
            least_conn: false,
        },
        BalanceMethod::Hash { consistent: false },
        BalanceMethod::Hash { consistent: true },
        BalanceMethod::IpHash,
    ] {
        assert_shares(method, &[1, 2, 3, 4], 10_000);
    }
}

#[test]
fn round_robin_skips_unusable_and_tried() {
    let mut b = balancer(&primaries(&[1, 1, 1, 1]), BalanceMethod::RoundRobin);
    let mut tried = Tried::new();
    tried.insert(0);
    let mut seen = [0; 4];
    for _ in 0..30 {
        seen[pick_with(&mut b, b"", &tried, &|i| i != 2, &idle).unwrap()] += 1;
    }
    assert_eq!(seen, [0, 15, 0, 15]);
}

#[test]
fn backups_only_when_no_primary_can_take_it_and_down_never() {
    for method in ALL_METHODS {
        let servers = [
            (1, false, false),
            (1, false, false),
            (1, false, true),
            (1, true, false),
            (1, true, true),
        ];
        let mut b = balancer(&servers, method);
        for n in 0..50 {
            let key = key_for(method, n);
            let s = pick(&mut b, &key).unwrap();
            assert!(s < 2, "{method:?} picked {s} with primaries up");
            // Primaries unusable: the live backup.
            let s = pick_with(&mut b, &key, &Tried::new(), &|i| i >= 2, &idle);
            assert_eq!(s, Some(3), "{method:?}");
            // Primaries tried: the backup too.
            let mut tried = Tried::new();
            tried.insert(0);
            tried.insert(1);
            assert_eq!(pick_with(&mut b, &key, &tried, &all, &idle), Some(3));
            // The backup tried as well: nothing (down servers never).
            tried.insert(3);
            assert_eq!(pick_with(&mut b, &key, &tried, &all, &idle), None);
        }
        // Only down primaries: the backup.
        let mut b = balancer(&[(1, false, true), (1, true, false)], method);
        assert_eq!(pick(&mut b, &key_for(method, 1)), Some(1), "{method:?}");
    }
}

#[test]
fn nothing_usable_gives_none() {
    for method in ALL_METHODS {
        let mut b = balancer(
            &[(1, false, false), (2, false, false), (1, true, false)],
            method,
        );
        let key = key_for(method, 7);
        assert_eq!(
            pick_with(&mut b, &key, &Tried::new(), &|_| false, &idle),
            None
        );
        let mut b = balancer(&[], method);
        assert_eq!(pick(&mut b, &key), None, "{method:?}");
    }
}

#[test]
fn tried_servers_are_never_picked_again() {
    for method in ALL_METHODS {
        let mut b = balancer(&primaries(&[3, 1, 2, 1, 1]), method);
        for n in 0..200 {
            let key = key_for(method, n);
            let mut tried = Tried::new();
            let mut order = Vec::new();
            while let Some(s) = pick_with(&mut b, &key, &tried, &all, &idle) {
                assert!(tried.insert(s), "{method:?} picked {s} twice");
                order.push(s);
            }
            assert_eq!(tried.len(), 5, "{method:?}: {order:?}");
        }
    }
}

#[test]
fn groups_larger_than_the_inline_bitset() {
    for method in ALL_METHODS {
        let weights: Vec<u32> = (0..300).map(|i| 1 + i % 3).collect();
        let mut b = balancer(&primaries(&weights), method);
        let mut tried = Tried::new();
        for i in (0..300).filter(|&i| i != 277) {
            tried.insert(i);
        }
        let key = key_for(method, 3);
        assert_eq!(
            pick_with(&mut b, &key, &tried, &all, &idle),
            Some(277),
            "{method:?}"
        );
    }
}

#[test]
fn tried_bitset() {
    let mut t = Tried::new();
    assert!(t.is_empty());
    for i in [0, 63, 64, 255, 256, 1000] {
        assert!(!t.contains(i));
        assert!(t.insert(i));
        assert!(t.contains(i));
    }
    assert!(!t.insert(64));
    assert_eq!(t.len(), 6);
    assert!(!t.contains(1) && !t.contains(999) && !t.contains(5000));
    t.clear();
    assert!(t.is_empty() && !t.contains(1000));
}

#[test]
fn least_conn_prefers_fewest_active_per_weight() {
    let mut b = balancer(&primaries(&[1, 1, 1]), BalanceMethod::LeastConn);
    let active = |i: usize| [5, 1, 3][i];
    for _ in 0..10 {
        assert_eq!(
            pick_with(&mut b, b"", &Tried::new(), &all, &active),
            Some(1)
        );
    }
    // 3 active at weight 4 beats 1 active at weight 1.
    let mut b = balancer(&primaries(&[1, 4]), BalanceMethod::LeastConn);
    let active = |i: usize| [1, 3][i];
    assert_eq!(
        pick_with(&mut b, b"", &Tried::new(), &all, &active),
        Some(1)
    );
    // The least loaded is unusable: the next.
    let active = |i: usize| [0, 9, 2, 1][i];
    let mut b = balancer(&primaries(&[1, 1, 1, 1]), BalanceMethod::LeastConn);
    assert_eq!(
        pick_with(&mut b, b"", &Tried::new(), &|i| i != 0, &active),
        Some(3)
    );
}

#[test]
fn least_conn_ties_go_round_robin() {
    // All idle: exactly the round-robin sequence.
    let mut b = balancer(&primaries(&[5, 1, 1]), BalanceMethod::LeastConn);
    let seq: Vec<usize> = (0..7).filter_map(|_| pick(&mut b, b"")).collect();
    assert_eq!(seq, vec![0, 0, 1, 0, 2, 0, 0]);
    // Only the tied pair takes turns.
    let mut b = balancer(&primaries(&[1, 1, 1]), BalanceMethod::LeastConn);
    let active = |i: usize| [0, 1, 0][i];
    let seq: Vec<usize> = (0..4)
        .filter_map(|_| pick_with(&mut b, b"", &Tried::new(), &all, &active))
        .collect();
    assert_eq!(seq, vec![0, 2, 0, 2]);
}

#[test]
fn least_conn_on_backups() {
    let servers = [(1, false, false), (1, true, false), (1, true, false)];
    let mut b = balancer(&servers, BalanceMethod::LeastConn);
    let active = |i: usize| [0, 4, 2][i];
    assert_eq!(
        pick_with(&mut b, b"", &Tried::new(), &|i| i != 0, &active),
        Some(2)
    );
}

#[test]
fn random_two_takes_the_less_loaded() {
    let method = BalanceMethod::Random {
        two: true,
        least_conn: true,
    };
    let mut b = balancer(&primaries(&[1, 1, 1, 1]), method);
    let active = |i: usize| if i == 0 { 100 } else { 0 };
    let mut seen = [0; 4];
    for _ in 0..2_000 {
        seen[pick_with(&mut b, b"", &Tried::new(), &all, &active).unwrap()] += 1;
    }
    assert_eq!(seen[0], 0, "{seen:?}");
    assert!(seen[1..].iter().all(|&c| c > 400), "{seen:?}");
    // Two servers, one loaded: always the other.
    let mut b = balancer(&primaries(&[1, 1]), method);
    let active = |i: usize| [3, 1][i];
    assert!((0..100).all(|_| pick_with(&mut b, b"", &Tried::new(), &all, &active) == Some(1)));
}

#[test]
fn random_spreads_over_usable_only() {
    for method in [
        BalanceMethod::Random {
            two: false,
            least_conn: false,
        },
        BalanceMethod::Random {
            two: true,
            least_conn: true,
        },
    ] {
        let mut b = balancer(&primaries(&[1; 8]), method);
        let mut seen = [0; 8];
        for _ in 0..4_000 {
            seen[pick_with(&mut b, b"", &Tried::new(), &|i| i % 4 != 0, &idle).unwrap()] += 1;
        }
        assert!(seen[0] == 0 && seen[4] == 0, "{method:?}: {seen:?}");
        assert!(
            seen.iter().enumerate().all(|(i, &c)| i % 4 == 0 || c > 500),
            "{method:?}: {seen:?}"
        );
    }
}

/// nginx's ip_hash, written out plainly: rehash until a usable server, at most 21 tries.
fn nginx_ip_hash(addr: &[u8], weights: &[u32], usable: impl Fn(usize) -> bool) -> Option<usize> {
    let total: u32 = weights.iter().sum();
    let mut hash = 89u32;
    for _ in 0..21 {
        for &b in addr {
            hash = (hash * 113 + b as u32) % 6271;
        }
        let mut w = hash % total;
        let mut p = 0;
        while w >= weights[p] {
            w -= weights[p];
            p += 1;
        }
        if usable(p) {
            return Some(p);
        }
    }
    None
}

#[test]
fn ip_hash_matches_nginx() {
    let mut b = balancer(&primaries(&[1, 1, 1, 1]), BalanceMethod::IpHash);
    // Worked by hand: 89 -> 3978 -> 4441 -> 154; 154 % 4 = 2.
    assert_eq!(pick(&mut b, &[192, 168, 1, 77]), Some(2));
    // Only the first three octets of IPv4 count.
    for last in 0..=255 {
        assert_eq!(pick(&mut b, &[192, 168, 1, last]), Some(2));
    }
    let weights = [1, 2, 3, 1, 5];
    let mut b = balancer(&primaries(&weights), BalanceMethod::IpHash);
    for n in 0..2_000u64 {
        let v4 = key_for(BalanceMethod::IpHash, n);
        let v6: Vec<u8> = (0..16).map(|j| (n >> (j % 8)) as u8 ^ j as u8).collect();
        let usable = |i: usize| i != (n % 5) as usize;
        for key in [&v4[..], &v6[..]] {
            let addr = if key.len() == 4 { &key[..3] } else { key };
            let want = nginx_ip_hash(addr, &weights, usable);
            assert_eq!(pick_with(&mut b, key, &Tried::new(), &usable, &idle), want);
        }
    }
    // IPv6: every byte counts.
    let mut b = balancer(&primaries(&[1; 8]), BalanceMethod::IpHash);
    let picks: std::collections::HashSet<_> = (0..=255u8)
        .map(|last| {
            let mut a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            a[15] = last;
            pick(&mut b, &a)
        })
        .collect();
    assert!(picks.len() > 4, "{picks:?}");
}

#[test]
fn crc32_is_ieee() {
    assert_eq!(hash::crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(hash::crc32(b"abc"), 0x3524_41C2);
    // Slicing-by-8 agrees with the bitwise definition at every length and split point.
    let data: Vec<u8> = (0..100u32).map(|i| (i * 37 + 11) as u8).collect();
    for len in 0..data.len() {
        let mut want = !0u32;
        for &b in &data[..len] {
            want ^= u32::from(b);
            for _ in 0..8 {
                want = if want & 1 != 0 {
                    0xEDB8_8320 ^ (want >> 1)
                } else {
                    want >> 1
                };
            }
        }
        assert_eq!(hash::crc32(&data[..len]), !want, "len {len}");
        let split = len / 3;
        let c = hash::crc32_update(!0, &data[..split]);
        assert_eq!(!hash::crc32_update(c, &data[split..len]), !want);
    }
}

#[test]
fn hash_matches_nginx() {
    // crc32("abc") = 0x352441c2; (>> 16) & 0x7fff = 13604; % 10 = 4 -> third server (ends 1,3,6,10).
    let mut b = balancer(
        &primaries(&[1, 2, 3, 4]),
        BalanceMethod::Hash { consistent: false },
    );
    assert_eq!(pick(&mut b, b"abc"), Some(2));
    // Unusable: rehash with "1abc": (crc32("1abc") >> 16 & 0x7fff) added to 13604.
    let h1 = (hash::crc32(b"1abc") >> 16) & 0x7fff;
    let w = (13604 + h1) % 10;
    let want = [1, 3, 6, 10].iter().position(|&e| e > w).unwrap();
    if want != 2 {
        assert_eq!(
            pick_with(&mut b, b"abc", &Tried::new(), &|i| i != 2, &idle),
            Some(want)
        );
    }
}

#[test]
fn hashes_move_only_the_keys_of_an_unusable_or_down_server() {
    for consistent in [false, true] {
        let method = BalanceMethod::Hash { consistent };
        let weights = [2, 1, 3, 1, 2];
        let mut b = balancer(&primaries(&weights), method);
        let mut servers = primaries(&weights);
        servers[2].2 = true; // down
        let mut down = balancer(&servers, method);
        let mut moved = 0;
        for n in 0..5_000 {
            let key = key_for(method, n);
            let before = pick(&mut b, &key).unwrap();
            let after = pick_with(&mut b, &key, &Tried::new(), &|i| i != 2, &idle).unwrap();
            assert_eq!(pick(&mut down, &key), Some(after), "down = unusable");
            if before == 2 {
                assert_ne!(after, 2);
                moved += 1;
            } else {
                assert_eq!(after, before, "{method:?}: a key of server {before} moved");
            }
        }
        assert!(moved > 1_000, "{moved}");
    }
}

#[test]
fn hash_without_a_key_goes_round_robin() {
    for consistent in [false, true] {
        let mut b = balancer(&primaries(&[1, 1]), BalanceMethod::Hash { consistent });
        let seq: Vec<usize> = (0..4).filter_map(|_| pick(&mut b, b"")).collect();
        assert_eq!(seq, vec![0, 1, 0, 1]);
    }
}

#[test]
fn consistent_ring_has_160_points_per_weight() {
    let b = balancer(
        &[(1, false, false), (3, false, true), (2, true, false)],
        BalanceMethod::Hash { consistent: true },
    );
    // Down primaries keep their points; backups have none.
    assert_eq!(b.ring.as_ref().unwrap().len(), 160 * 4);
}

#[test]
fn consistent_adding_a_server_moves_about_one_nth() {
    let method = BalanceMethod::Hash { consistent: true };
    let mut four = balancer(&primaries(&[1; 4]), method);
    let mut five = balancer(&primaries(&[1; 5]), method);
    let n = 10_000;
    let mut moved = 0;
    for i in 0..n {
        let key = key_for(method, i);
        let (a, b) = (
            pick(&mut four, &key).unwrap(),
            pick(&mut five, &key).unwrap(),
        );
        if a != b {
            assert_eq!(b, 4, "a moved key goes to the new server");
            moved += 1;
        }
    }
    let share = moved as f64 / n as f64;
    assert!((0.15..=0.25).contains(&share), "moved {share:.3}");
}

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Counts this thread's allocations, so `pick_does_not_allocate` sees only its own.
struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

#[test]
fn pick_does_not_allocate() {
    for method in ALL_METHODS {
        let weights: Vec<u32> = (0..64).map(|i| 1 + i % 4).collect();
        let mut b = balancer(&primaries(&weights), method);
        let keys: Vec<Vec<u8>> = (0..1_000).map(|n| key_for(method, n)).collect();
        let usable = |i: usize| i % 4 != 1;
        let active = |i: usize| (i % 7) as u32;
        let tried = Tried::new();
        let before = ALLOCATIONS.with(Cell::get);
        for key in &keys {
            assert!(pick_with(&mut b, key, &tried, &usable, &active).is_some());
        }
        // Nothing usable: every method walks to its fallback and gives up.
        assert!(pick_with(&mut b, &keys[0], &tried, &|_| false, &active).is_none());
        assert_eq!(ALLOCATIONS.with(Cell::get), before, "{method:?} allocated");
    }
}
