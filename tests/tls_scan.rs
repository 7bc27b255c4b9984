//! A TLS scanner over ringway's TLS servers (issue 18): `sslyze` (PyPI) scans a default
//! `listen … ssl` server, as an operator writes it (a certificate and a key, nothing else), and
//! one with Mozilla's "intermediate" nginx lines and an RSA + ECDSA pair. Neither may show a
//! weak protocol, suite, curve or renegotiation finding, nor Heartbleed, CCS injection, ROBOT
//! or compression (`tls_scan/findings.py` lists what counts); the Mozilla server must also be
//! compliant with Mozilla's intermediate profile by sslyze's own check.
//!
//! Skipped, with the reason printed, when `sslyze` is not on the PATH, unless
//! `RINGWAY_TLS_SCAN=require` (set by `.ci/run`, which installs it) makes that a failure.
//! Each scan takes about 6 s.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::*;

/// The scans sslyze runs: every protocol's suites, then the vulnerabilities and features.
const SCANS: &[&str] = &[
    "--sslv2",
    "--sslv3",
    "--tlsv1",
    "--tlsv1_1",
    "--tlsv1_2",
    "--tlsv1_3",
    "--reneg",
    "--compression",
    "--heartbleed",
    "--robot",
    "--openssl_ccs",
    "--fallback",
    "--elliptic_curves",
    "--ems",
    "--early_data",
];

/// Whether sslyze runs here; prints why not (and fails if the scan is required).
fn have_sslyze() -> bool {
    let ok = Command::new("sslyze")
        .arg("--help")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("RINGWAY_TLS_SCAN").as_deref() != Ok("require"),
            "RINGWAY_TLS_SCAN=require but sslyze does not run here (pip install sslyze)"
        );
        eprintln!("SKIPPED: sslyze is not installed (pip install sslyze; see tests/README.md)");
    }
    ok
}

/// Scans `rw`'s TLS port with sslyze (plus `extra` options), checks its JSON with
/// `tls_scan/findings.py`, and panics with every finding. Returns sslyze's own output.
fn scan(rw: &Ringway, extra: &[&str]) -> String {
    let json = rw.dir.join("sslyze.json");
    let t0 = Instant::now();
    let out = Command::new("sslyze")
        .args(SCANS)
        .args(extra)
        .arg("--json_out")
        .arg(&json)
        .arg("--sni")
        .arg("localhost")
        .arg(rw.addr.to_string())
        .output()
        .expect("run sslyze");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "sslyze on {} took {:.1} s, exit {}",
        rw.addr,
        t0.elapsed().as_secs_f64(),
        out.status
    );
    assert!(
        json.exists(),
        "sslyze wrote no JSON ({}):\n{report}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls_scan/findings.py");
    let check = Command::new("python3")
        .arg(&checker)
        .arg(&json)
        .output()
        .expect("run python3 tests/tls_scan/findings.py");
    let summary = String::from_utf8_lossy(&check.stderr);
    eprint!("{summary}");
    assert!(
        check.status.success(),
        "sslyze found weaknesses on {}:\n{}\n{summary}\n--- sslyze ---\n{report}",
        rw.addr,
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(
        out.status.success(),
        "sslyze failed ({}):\n{report}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

#[test]
fn default_listen_ssl_has_no_weak_finding() {
    if !have_sslyze() {
        return;
    }
    // An operator's default: a certificate and its key, every TLS setting left as it is. RSA,
    // the most common kind, so that ROBOT (RSA key exchange) is asked about.
    let leaf = Pki::get().server(&["localhost"], KeyKind::Rsa);
    let conf = format!(
        "http {{
    server {{
        listen {LISTEN} ssl;
        server_name localhost;
        {certs}
        location / {{ return 200 \"ok\"; }}
    }}
}}",
        certs = leaf.directives()
    );
    let rw = Ringway::start(&conf);
    scan(&rw, &["--mozilla_config", "disable"]);
}

#[test]
fn mozilla_intermediate_config_is_compliant_and_has_no_weak_finding() {
    if !have_sslyze() {
        return;
    }
    // https://ssl-config.mozilla.org/ (nginx, intermediate), with both key kinds.
    let pki = Pki::get();
    let ecdsa = pki.server(&["localhost"], KeyKind::Ecdsa);
    let rsa = pki.server(&["localhost"], KeyKind::Rsa);
    let conf = format!(
        "http {{
    server {{
        listen {LISTEN} ssl;
        server_name localhost;
        {ecdsa}
        {rsa}
        ssl_session_timeout 1d;
        ssl_session_cache shared:MozSSL:10m;
        ssl_session_tickets off;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ecdh_curve X25519:prime256v1:secp384r1;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305;
        ssl_prefer_server_ciphers off;
        location / {{ return 200 \"ok\"; }}
    }}
}}",
        ecdsa = ecdsa.directives(),
        rsa = rsa.directives()
    );
    let rw = Ringway::start(&conf);
    // sslyze exits 1 when the server is not compliant; the test CA makes the chain verifiable.
    let report = scan(
        &rw,
        &[
            "--mozilla_config",
            "intermediate",
            "--certinfo",
            "--certinfo_ca_file",
            pki.ca.to_str().unwrap(),
        ],
    );
    assert!(report.contains("OK - Compliant"), "{report}");
}
