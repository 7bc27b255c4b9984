//! The exposition as Prometheus reads it: parsed by the `prometheus_client` package's
//! text parser (the reference Python client), which rejects malformed lines, bad escapes,
//! samples outside their family and histograms without `+Inf`.

use std::io::Write;
use std::process::{Command, Stdio};

use super::common::*;
use super::{ENDPOINTS, curl_body, curl_status, python_with, value};

const PARSE: &str = "
import sys
from prometheus_client.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(sys.stdin.read()))
hist = [f for f in families if f.type == 'histogram']
for f in hist:
    for s in f.samples:
        if s.name.endswith('_bucket') and s.labels.get('le') == '+Inf':
            break
    else:
        sys.exit('histogram without +Inf: ' + f.name)
print(len(families), len(hist), sum(len(f.samples) for f in families))
";

#[test]
fn prometheus_parser_accepts_the_exposition() {
    let python = python_with("prometheus_client");
    let backend = fixed_backend(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    // A name that needs escaping in a label value: the backslash of a location regex.
    let conf = format!(
        "http {{ upstream pool {{ server {}; server 127.0.0.1:9 down; server 127.0.0.1:10 backup; }}
            server {{ listen {LISTEN}; server_name metrics.test; {ENDPOINTS}
                location / {{ proxy_pass http://pool; }}
                location ~ \\.txt$ {{ return 200; }} }} }}",
        backend.addr
    );
    let rw = Ringway::start_with(&conf, 2);
    for _ in 0..3 {
        assert_eq!(curl_status(&rw, "/"), 200);
    }
    let (text, _) = curl_body(&rw, "/metrics");
    // A server the config marks down is not up; the page's JSON says why.
    let down = [("upstream", "pool"), ("server", "127.0.0.1:9")];
    assert_eq!(value(&text, "ringway_upstream_up", &down), 0.0);
    let backup = [("upstream", "pool"), ("server", "127.0.0.1:10")];
    assert_eq!(value(&text, "ringway_upstream_up", &backup), 1.0);
    let (json, _) = curl_body(&rw, "/status?json");
    assert!(
        json.contains("\"server\":\"127.0.0.1:9\",\"state\":\"disabled\""),
        "{json}"
    );
    assert!(
        json.contains("\"server\":\"127.0.0.1:10\",\"state\":\"up\",\"backup\":true"),
        "{json}"
    );
    let Some(python) = python else { return };
    let mut child = Command::new(&python)
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(
        counts[0] > 30 && counts[1] >= 2,
        "families, histograms: {counts:?}"
    );
}
