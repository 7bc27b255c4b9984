//! Metrics (issue 20): `ringway_metrics` (Prometheus text, checked by Prometheus's own Python
//! parser), `stub_status` (nginx's exact text), and the live `ringway_status` page driven in a
//! real headless Chromium. Counts are checked after known traffic (curl and raw sockets) on
//! two shards, and across a reload.

mod common;

#[path = "metrics/counts.rs"]
mod counts;
#[path = "metrics/listeners.rs"]
mod listeners;
#[path = "metrics/page.rs"]
mod page;
#[path = "metrics/parse.rs"]
mod parse;
#[path = "metrics/stub.rs"]
mod stub;

use std::path::PathBuf;
use std::process::Command;

use common::*;

/// The three answers, at fixed paths, in a server named `metrics.test`.
pub const ENDPOINTS: &str = "
        location = /metrics { ringway_metrics; }
        location = /stub { stub_status; }
        location = /status { ringway_status; }";

/// The status of one curl GET of `path` on its own connection.
pub fn curl_status(rw: &Ringway, path: &str) -> u16 {
    common::curl_code(&format!("http://{}{path}", rw.addr), &[])
}

/// The body of a curl GET of `path`, with its Content-Type.
pub fn curl_body(rw: &Ringway, path: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", "-w", "\n%{content_type}"])
        .arg(format!("http://{}{path}", rw.addr))
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, ctype) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (body.to_string(), ctype.to_string())
}

/// The value of the sample `name` whose labels include all of `labels`; None if absent.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(series, _)| {
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|(_, v)| v.parse().ok())
}

/// `sample`, which must be present.
#[track_caller]
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(text, name, labels).unwrap_or_else(|| panic!("no sample {name} {labels:?} in:\n{text}"))
}

/// The venv `.ci/run` makes for these tests (prometheus_client, websocket-client), or a
/// `python3` that has the modules; None when neither does (`RINGWAY_METRICS_PARSE=require`
/// makes that a failure).
pub fn python_with(modules: &str) -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ci-metrics/bin/python3");
    let found = [venv, PathBuf::from("python3")].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", &format!("import {modules}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var("RINGWAY_METRICS_PARSE").as_deref() != Ok("require"),
            "RINGWAY_METRICS_PARSE=require but no python3 has {modules} (see .ci/run)"
        );
        eprintln!(
            "SKIPPED: no python3 with {modules} (python3 -m venv target/ci-metrics; pip install prometheus_client websocket-client)"
        );
    }
    found
}
