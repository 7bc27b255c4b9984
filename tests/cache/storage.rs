//! The cache on disk: `max_size` eviction by the cache manager, entries surviving a restart,
//! damaged entry files, origin bodies cut short (never stored).

use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::harness::*;

#[test]
fn max_size_evicts_down_below_the_limit() {
    const MAX: u64 = 200 * 1024;
    let mut s = Setup::start("max_size=200k", VALID);
    let bodies: Vec<Vec<u8>> = (0..10).map(|i| body_for(i as u8, 64 * 1024)).collect();
    for (i, b) in bodies.iter().enumerate() {
        let p = format!("/e{i}");
        s.origin.set(&p, Reply::ok(b));
        expect(&s.get(&p), 200, "MISS", b, &p);
    }
    // The cache manager removes the least recently used entries until the size is under
    // max_size; give it 10 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let size = total_size(&s.dir.0);
        if size < MAX {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cache directory still holds {size} bytes (max_size {MAX}) 10 s after filling: {:?}",
            cache_files(&s.dir.0)
        );
        thread::sleep(Duration::from_millis(100));
    }
    // The most recently stored entry is kept; ringway still serves, evicted keys from the
    // origin again.
    expect(
        &s.get("/e9"),
        200,
        "HIT",
        &bodies[9],
        "/e9, the newest entry",
    );
    expect_count(&s.origin, "/e9", 1, "/e9");
    let r = s.get("/e0");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_bytes_eq(&r.body, &bodies[0], "/e0 after eviction");
    assert!(s.rw.is_running());
}

#[test]
fn entries_survive_a_restart_and_are_served_at_once() {
    let mut s = Setup::start("", VALID);
    let body = body_for(3, 10_000);
    s.origin.set("/keep", Reply::ok(&body));
    expect(&s.get("/keep"), 200, "MISS", &body, "before the restart");
    expect(&s.get("/keep"), 200, "HIT", &body, "before the restart");
    s.restart();
    let t = Instant::now();
    let r = s.get("/keep");
    let took = t.elapsed();
    expect(&r, 200, "HIT", &body, "first request after the restart");
    assert!(
        took < Duration::from_secs(2),
        "the first request after the restart took {took:?}"
    );
    expect_count(&s.origin, "/keep", 1, "after the restart");
}

#[test]
fn entries_and_the_zone_survive_a_reload() {
    let s = Setup::start("", VALID);
    let body = body_for(5, 5000);
    s.origin.set("/r", Reply::ok(&body));
    expect(&s.get("/r"), 200, "MISS", &body, "before the reload");
    // The same zone (name and path) with a new location setting: its entries stay.
    let conf = s
        .conf
        .replace(VALID, &format!("{VALID} proxy_cache_min_uses 1;"));
    assert_ne!(conf, s.conf, "the reloaded config must differ");
    s.rw.reload_with(&conf, &[]);
    expect(&s.get("/r"), 200, "HIT", &body, "after the reload");
    expect_count(&s.origin, "/r", 1, "after the reload");
}

/// Rewrites every entry file with `f` (given its contents).
fn damage(s: &Setup, f: impl Fn(Vec<u8>) -> Vec<u8>) {
    let files = cache_files(&s.dir.0);
    assert!(
        !files.is_empty(),
        "no entry file under {}",
        s.dir.0.display()
    );
    for p in files {
        let old = std::fs::read(&p).unwrap();
        std::fs::write(&p, f(old)).unwrap();
    }
}

#[test]
fn damaged_entry_files_are_misses_never_errors() {
    let mut s = Setup::start("", VALID);
    let body = body_for(4, 4096);
    s.origin.set("/c", Reply::ok(&body));
    expect(&s.get("/c"), 200, "MISS", &body, "fill");
    expect(&s.get("/c"), 200, "HIT", &body, "stored");

    // Garbage of the same length.
    damage(&s, |old| {
        old.iter()
            .enumerate()
            .map(|(i, b)| b ^ 0x5a ^ (i as u8))
            .collect()
    });
    expect(&s.get("/c"), 200, "MISS", &body, "after garbage");
    expect_count(&s.origin, "/c", 2, "after garbage");
    expect(
        &s.get("/c"),
        200,
        "HIT",
        &body,
        "stored again after garbage",
    );

    // Cut to half its length (into the body: the body is 4 KiB). Stricter than nginx, which
    // checks an entry's header but not its length (nginx 1.22 answers this with a HIT whose body
    // stops short of its Content-Length): ringway must see the entry is short and refetch it.
    damage(&s, |mut old| {
        old.truncate(old.len() / 2);
        old
    });
    expect(&s.get("/c"), 200, "MISS", &body, "after truncation");
    expect_count(&s.origin, "/c", 3, "after truncation");
    expect(
        &s.get("/c"),
        200,
        "HIT",
        &body,
        "stored again after truncation",
    );

    // Emptied.
    damage(&s, |_| Vec::new());
    expect(&s.get("/c"), 200, "MISS", &body, "after emptying");
    expect_count(&s.origin, "/c", 4, "after emptying");

    // The shard still serves everything else.
    s.origin.set("/other", Reply::ok("other"));
    expect(&s.get("/other"), 200, "MISS", b"other", "another key");
    assert!(s.rw.is_running());
}

/// The origin cuts the body (`fault`): the client's response is not a complete 200, nothing is
/// stored, and the next request is a MISS that stores the full body.
fn check_cut_body(path: &str, fault: Fault) {
    let s = Setup::start("", VALID);
    let body = body_for(5, 8000);
    s.origin.set(path, Reply::ok(&body).fault(fault));
    // No head at all (Err) is a cut answer too.
    if let Ok(r) = s.try_req("GET", path, &[], Duration::from_secs(3)) {
        assert!(
            !(r.status == 200 && r.end == End::Complete),
            "{path}: the cut origin body reached the client as a complete 200: {}",
            r.describe()
        );
    }
    expect_count(&s.origin, path, 1, "the cut answer");
    s.origin.set(path, Reply::ok(&body));
    expect(&s.get(path), 200, "MISS", &body, "after the cut answer");
    expect_count(&s.origin, path, 2, "the cut answer was not stored");
    expect(
        &s.get(path),
        200,
        "HIT",
        &body,
        "the full answer was stored",
    );
    expect_count(&s.origin, path, 2, "end");
}

#[test]
fn origin_body_cut_short_of_content_length_is_not_stored() {
    check_cut_body("/cut-length", Fault::CutBody(3000));
}

#[test]
fn origin_chunked_body_cut_before_its_last_chunk_is_not_stored() {
    check_cut_body("/cut-chunked", Fault::CutChunked(3000));
}

/// An operator empties the cache directory (entries and the temporary folder) while ringway
/// runs: the next request is a MISS (the shard's memory copy notices its file is gone), and the
/// fill after it works (the temporary folder is made again).
#[test]
fn an_emptied_cache_directory_is_refilled() {
    let s = Setup::start("", VALID);
    let body = body_for(9, 2000);
    s.origin.set("/e", Reply::ok(&body));
    expect(&s.get("/e"), 200, "MISS", &body, "fill");
    expect(&s.get("/e"), 200, "HIT", &body, "stored");
    expect(&s.get("/e"), 200, "HIT", &body, "stored, again");
    for e in std::fs::read_dir(&s.dir.0).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
    expect(
        &s.get("/e"),
        200,
        "MISS",
        &body,
        "after emptying the directory",
    );
    expect(&s.get("/e"), 200, "HIT", &body, "refilled");
    expect_count(&s.origin, "/e", 2, "after the refill");
}

/// `min_free` larger than any disk: the manager keeps removing entries (least recently used
/// first) while the file system has less free space than that, so a stored entry is gone
/// within a few seconds and the next request is a MISS.
#[test]
fn min_free_above_the_disk_space_empties_the_zone() {
    let s = Setup::start("min_free=1000000g", VALID);
    let body = body_for(10, 3000);
    s.origin.set("/f", Reply::ok(&body));
    expect(&s.get("/f"), 200, "MISS", &body, "fill");
    let deadline = Instant::now() + Duration::from_secs(10);
    // The fill is renamed into place from .tmp after the client has its answer: an empty
    // cache with a fill still in .tmp is not yet "removed" (the entry would appear after the
    // check, and the next request would be its HIT).
    let fill_pending = |dir: &std::path::Path| {
        std::fs::read_dir(dir.join(".tmp")).is_ok_and(|mut d| d.next().is_some())
    };
    while !cache_files(&s.dir.0).is_empty() || fill_pending(&s.dir.0) {
        assert!(
            Instant::now() < deadline,
            "the manager did not remove the entry under min_free within 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    expect(
        &s.get("/f"),
        200,
        "MISS",
        &body,
        "after the manager removed it",
    );
    expect_count(&s.origin, "/f", 2, "after min_free removed the entry");
}
