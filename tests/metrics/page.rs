//! The live status page in a real browser: headless Chromium, driven over the DevTools
//! protocol by `status_page.py` (Python's websocket-client: a few lines, no Node toolchain).
//! One page stays open while the backend is killed and restarted: it must show the server
//! up, then down (active health check), then up again, and fit a phone's width.
//!
//! Skipped without Chromium or websocket-client, unless `RINGWAY_STATUS_BROWSER=require`
//! (set by `.ci/run`, which installs both) makes that a failure.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use super::common::*;
use super::{ENDPOINTS, curl_body, python_with};

#[test]
fn status_page_follows_a_server_down_and_up_and_fits_a_phone() {
    let Some(browser) = chromium() else { return };
    let python = python_with("websocket");
    let Some(python) = python else {
        assert!(
            std::env::var("RINGWAY_STATUS_BROWSER").as_deref() != Ok("require"),
            "RINGWAY_STATUS_BROWSER=require but websocket-client is missing"
        );
        return;
    };
    let mut a = KillableBackend::start(tagged_handler("A"));
    let b = KillableBackend::start(tagged_handler("B"));
    let conf = format!(
        "http {{
            upstream app {{
                server {};
                server {};
                health_check interval=200ms fails=1 passes=1 timeout=300ms;
            }}
            server {{ listen {LISTEN}; server_name metrics.test; {ENDPOINTS}
                location / {{ proxy_pass http://app; }} }}
        }}",
        a.addr, b.addr
    );
    let rw = Ringway::start_with(&conf, 2);
    let (html, ctype) = curl_body(&rw, "/status");
    assert_eq!(ctype, "text/html; charset=utf-8");
    assert!(html.contains("name=\"viewport\""));
    let (json, ctype) = curl_body(&rw, "/status?json");
    assert_eq!(ctype, "application/json");
    assert!(
        json.contains(&format!("\"server\":\"{}\"", a.addr)),
        "{json}"
    );

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/metrics/status_page.py");
    let url = format!("http://{}/status", rw.addr);
    let mut driver = Command::new(python)
        .args([script, browser, &url, &a.addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the page driver runs");
    let mut to = driver.stdin.take().unwrap();
    let mut from = BufReader::new(driver.stdout.take().unwrap());
    let mut step = |expect: &str| {
        let mut line = String::new();
        from.read_line(&mut line).unwrap();
        assert!(
            line.starts_with(expect),
            "expected {expect:?}, got {line:?}"
        );
    };
    step("up");
    a.kill();
    writeln!(to, "killed").unwrap();
    step("down");
    a.restart();
    writeln!(to, "restarted").unwrap();
    step("up again");
    step("narrow");
    let status = driver.wait().unwrap();
    assert!(status.success());
    drop(b);
}
