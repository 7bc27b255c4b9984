//! `tuning/check` (a Python 3 script) runs on this host without changing it: one verdict line per
//! item, every key of the shipped sysctl file among them, and a line on TCP pacing.

use std::path::Path;
use std::process::Command;

const VERDICTS: [&str; 4] = ["OK", "DIFFERS", "UNKNOWN", "INFO"];

fn run_check(args: &[&str]) -> (bool, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("tuning/check"))
        .args(args)
        .current_dir(root)
        .output()
        .expect("python3 must be installed (.ci/run installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_reports_every_sysctl_key_and_pacing() {
    let (ok, stdout, stderr) = run_check(&[]);
    assert!(ok, "tuning/check failed:\n{stdout}\n{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
    let mut lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    // The last line sums up: "N differ, N unknown, N checked".
    let summary = lines.pop().unwrap_or("");
    let counts: Vec<usize> = summary
        .split(", ")
        .filter_map(|part| part.split_whitespace().next()?.parse().ok())
        .collect();
    let count = |v: &str| {
        lines
            .iter()
            .filter(|l| l.split_whitespace().next() == Some(v))
            .count()
    };
    assert_eq!(
        counts,
        vec![count("DIFFERS"), count("UNKNOWN"), lines.len()],
        "summary {summary:?} does not match the lines:\n{stdout}"
    );
    for l in &lines {
        let mut words = l.split_whitespace();
        let verdict = words.next().unwrap_or("");
        assert!(VERDICTS.contains(&verdict), "line without a verdict: {l:?}");
        // A check that raised is reported under its function's name: none may.
        let item = words.next().unwrap_or("");
        assert!(
            !item.starts_with("check_") && !item.starts_with("<lambda>"),
            "a check crashed: {l:?}"
        );
    }
    let sysctl = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/sysctl.d/90-ringway.conf"),
    )
    .expect("the shipped sysctl file");
    for line in sysctl.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_start_matches('-');
        assert!(
            lines
                .iter()
                .any(|l| l.split_whitespace().nth(1) == Some(key)),
            "no line for sysctl {key}:\n{stdout}"
        );
    }
    assert!(
        lines.iter().any(|l| l.contains("TCP pacing")),
        "no TCP pacing line:\n{stdout}"
    );
}

#[test]
fn check_strict_fails_on_a_difference() {
    // A recommendation no host meets: --strict must turn the DIFFERS into a failing status.
    let dir = std::env::temp_dir().join(format!("ringway-tuning-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("want.conf");
    std::fs::write(&file, "net.core.somaxconn = 4294967295\n").expect("write sysctl file");
    let path = file.to_string_lossy().into_owned();
    let (ok, stdout, _) = run_check(&["--sysctl", &path]);
    assert!(
        ok,
        "without --strict a difference is only reported:\n{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("DIFFERS") && l.contains("net.core.somaxconn")),
        "{stdout}"
    );
    let (ok, stdout, _) = run_check(&["--strict", "--sysctl", &path]);
    assert!(!ok, "--strict must fail when an item differs:\n{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
