//! goaccess reads ringway's combined access log. Debian's `/etc/goaccess/goaccess.conf` sets no
//! `log-format` (every one is commented out): goaccess without options stops with "Fatal error
//! has occurred" on any log, nginx's included, so the test passes `--log-format=COMBINED`
//! (nginx's format, with its date and time formats), the usual way to read nginx logs.

use std::process::Command;
use std::time::Duration;

use crate::common::*;
use crate::{curl, log_dir, wait_lines};

#[test]
fn goaccess_parses_the_combined_log() {
    if Command::new("goaccess").arg("--version").output().is_err() {
        // CI installs it (.ci/run); say so loudly rather than pass silently elsewhere.
        panic!("goaccess is not installed (apt-get install goaccess)");
    }
    let dir = log_dir("goaccess");
    let log = dir.join("access.log");
    let conf = format!(
        "http {{\n access_log {};\n server {{\n listen {LISTEN};\n location / {{ return 200 \"ok\\n\"; }}\n location /missing {{ return 404; }}\n }}\n}}\n",
        log.display()
    );
    let rw = Ringway::start(&conf);
    let a = format!("http://{}", rw.addr);
    for i in 0..5 {
        assert_eq!(
            curl(
                &format!("{a}/page{i}"),
                &["-A", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"]
            ),
            200
        );
    }
    assert_eq!(
        curl(&format!("{a}/missing"), &["-e", "http://ref.example/"]),
        404
    );
    assert_eq!(wait_lines(&log, 6, Duration::from_secs(5)).len(), 6);
    let out = dir.join("report.json");
    let run = Command::new("goaccess")
        .arg(&log)
        .arg("--log-format=COMBINED")
        .arg("--no-global-config")
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run goaccess");
    assert!(
        run.status.success(),
        "goaccess: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = std::fs::read_to_string(&out).expect("goaccess report");
    let number = |key: &str| -> u64 {
        let at = report
            .find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} in {report}"));
        report[at + key.len() + 3..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    assert_eq!(number("total_requests"), 6, "{report}");
    assert_eq!(number("valid_requests"), 6);
    assert_eq!(number("failed_requests"), 0);
}
