//! stub_status: nginx's exact text and numbers.

use std::time::{Duration, Instant};

use super::common::*;
use super::{ENDPOINTS, curl_body, curl_status};

/// (active, accepts, handled, requests, reading, writing, waiting), checking the exact format.
fn read(rw: &Ringway) -> [u64; 7] {
    let (body, ctype) = curl_body(rw, "/stub");
    assert_eq!(ctype, "text/plain");
    let n: Vec<u64> = body
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(n.len(), 7, "{body:?}");
    let expected = format!(
        "Active connections: {} \nserver accepts handled requests\n {} {} {} \nReading: {} Writing: {} Waiting: {} \n",
        n[0], n[1], n[2], n[3], n[4], n[5], n[6]
    );
    assert_eq!(body, expected);
    [n[0], n[1], n[2], n[3], n[4], n[5], n[6]]
}

#[test]
fn stub_status_has_nginx_format_and_exact_counts_over_two_shards() {
    let conf = format!(
        "http {{ server {{ listen {LISTEN}; server_name metrics.test; {ENDPOINTS}
            location / {{ return 200 ok; }} }} }}"
    );
    let rw = Ringway::start_with(&conf, 2);
    let before = read(&rw);
    for _ in 0..5 {
        assert_eq!(curl_status(&rw, "/"), 200);
    }
    // Closed connections are seen closed a moment later: poll until only the status request's
    // own connection is open. Each poll is one more connection and request.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut polls = 0;
    let now = loop {
        polls += 1;
        let now = read(&rw);
        if now[0] == 1 {
            break now;
        }
        assert!(Instant::now() < deadline, "connections stay open: {now:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let [
        active,
        accepts,
        handled,
        requests,
        reading,
        writing,
        waiting,
    ] = now;
    assert_eq!(active, 1);
    assert_eq!(accepts, handled);
    assert_eq!(accepts - before[1], 5 + polls);
    assert_eq!(requests - before[3], 5 + polls);
    // The status request itself is the one being written.
    assert_eq!((reading, writing, waiting), (0, 1, 0));
    // The old form, `stub_status on;`, is accepted; any other value is refused.
    let (status, _, err) = run_ringway(&[
        "-t".as_ref(),
        "-c".as_ref(),
        write_config(
            &temp_dir("stubcfg"),
            "http { server { listen 127.0.0.1:1; location /s { stub_status off; } } }",
        )
        .as_os_str(),
    ]);
    assert!(!status.success());
    assert!(
        err.contains("invalid value \"off\" in \"stub_status\""),
        "{err}"
    );
}
