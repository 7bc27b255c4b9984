//! pebble and pebble-challtestsrv for the ACME tests: each on free loopback ports, pebble's
//! validation authority sending HTTP-01 requests to ringway's plain port (TLS-ALPN-01
//! handshakes to its TLS port) and resolving every name to 127.0.0.1 through challtestsrv's
//! DNS. Both are killed when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{KeyKind, Pki, free_port, free_ports, temp_dir};

pub struct Pebble {
    pebble: Child,
    dns: Child,
    pub dir: PathBuf,
    pub port: u16,
    mgmt: u16,
    /// challtestsrv's management port (its DNS answers can be changed there).
    dns_mgmt: u16,
    /// The CA of pebble's own HTTPS certificate (the ACME issuer's `ssl_trusted_certificate`).
    pub tls_cert: PathBuf,
}

fn installed(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_listening(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a pebble is started with beyond the defaults.
#[derive(Default)]
pub struct Options {
    /// `externalAccountMACKeys` (kid, base64url key); any makes the binding required.
    pub eab_keys: Vec<(String, String)>,
    /// `PEBBLE_ALTERNATE_ROOTS`: chains under other roots offered beside the default one.
    pub alternate_roots: u32,
}

impl Pebble {
    /// None (the test is skipped) when pebble is missing and RINGWAY_ACME is not `require`.
    pub fn start(http_port: u16) -> Option<Pebble> {
        Pebble::start_with_validity(http_port, None)
    }

    /// As `start`, issuing certificates valid for `validity` seconds.
    pub fn start_with_validity(http_port: u16, validity: Option<u64>) -> Option<Pebble> {
        Pebble::start_with(http_port, free_port(), validity)
    }

    /// As `start`, its validation authority dialing `tls_port` for TLS-ALPN-01.
    #[allow(dead_code)]
    pub fn start_tls_alpn(tls_port: u16) -> Option<Pebble> {
        Pebble::start_with(free_port(), tls_port, None)
    }

    fn start_with(http_port: u16, tls_port: u16, validity: Option<u64>) -> Option<Pebble> {
        Pebble::start_opts(http_port, tls_port, validity, &Options::default())
    }

    /// As `start`, with the options of `opts` (external account binding, alternate roots).
    #[allow(dead_code)]
    pub fn start_with_options(http_port: u16, opts: &Options) -> Option<Pebble> {
        Pebble::start_opts(http_port, free_port(), None, opts)
    }

    fn start_opts(
        http_port: u16,
        tls_port: u16,
        validity: Option<u64>,
        opts: &Options,
    ) -> Option<Pebble> {
        if !installed("pebble") || !installed("pebble-challtestsrv") {
            if std::env::var("RINGWAY_ACME").as_deref() == Ok("require") {
                panic!("pebble and pebble-challtestsrv are required (Debian package pebble)");
            }
            eprintln!("skipped: pebble is not installed (Debian package pebble)");
            return None;
        }
        let dir = temp_dir("pebble");
        // pebble's HTTPS certificate, from the tests' CA (the issuer trusts that CA).
        let pair = Pki::get().server(&["localhost", "127.0.0.1"], KeyKind::Ecdsa);
        let ports = free_ports(4);
        let (port, mgmt, dns_port, dns_mgmt) = (ports[0], ports[1], ports[2], ports[3]);
        let cfg = format!(
            r#"{{"pebble": {{"listenAddress": "127.0.0.1:{port}",
  "managementListenAddress": "127.0.0.1:{mgmt}",
  "certificate": "{cert}", "privateKey": "{key}",
  "httpPort": {http_port}, "tlsPort": {tls},
  "ocspResponderURL": "", "externalAccountBindingRequired": {eab_required},
  "externalAccountMACKeys": {eab_keys}{validity}}}}}"#,
            cert = pair.cert.display(),
            key = pair.key.display(),
            tls = tls_port,
            eab_required = !opts.eab_keys.is_empty(),
            eab_keys = serde_json::Value::Object(
                opts.eab_keys
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect()
            ),
            validity = validity.map_or(String::new(), |s| {
                format!(r#", "certificateValidityPeriod": {s}"#)
            }),
        );
        std::fs::write(dir.join("pebble.json"), cfg).unwrap();
        let dns_log = dir.join("challtestsrv.log");
        let dns = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_mgmt}")])
            .stdout(std::fs::File::create(&dns_log).unwrap())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("challtestsrv.err")).unwrap(),
            ))
            .spawn()
            .expect("pebble-challtestsrv");
        // pebble's log stays in its folder while the test runs (for a failing test's reader).
        let log = dir.join("pebble.log");
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            // No random pauses before validating, no nonces rejected on purpose.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_ALTERNATE_ROOTS", opts.alternate_roots.to_string())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("pebble.err")).unwrap(),
            ))
            .spawn()
            .expect("pebble");
        let p = Pebble {
            pebble,
            dns,
            tls_cert: Pki::get().ca.clone(),
            dir,
            port,
            mgmt,
            dns_mgmt,
        };
        // challtestsrv serves DNS over TCP too: its port answering means it is up.
        wait_listening(dns_port, "challtestsrv", &p.dir.join("challtestsrv.err"));
        wait_listening(
            dns_mgmt,
            "challtestsrv management",
            &p.dir.join("challtestsrv.err"),
        );
        wait_listening(port, "pebble", &p.dir.join("pebble.err"));
        wait_listening(mgmt, "pebble management", &p.dir.join("pebble.err"));
        Some(p)
    }

    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }

    /// pebble's root (made at its start), from its management interface.
    pub fn root_pem(&self) -> PathBuf {
        self.root_pem_n(0)
    }

    /// pebble's root of chain `n` (0: the default chain's; others with `alternate_roots`).
    pub fn root_pem_n(&self, n: u32) -> PathBuf {
        let out = self.dir.join(format!("root{n}.pem"));
        let st = Command::new("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(&self.tls_cert)
            .arg("-o")
            .arg(&out)
            .arg(format!("https://127.0.0.1:{}/roots/{n}", self.mgmt))
            .status()
            .unwrap();
        assert!(st.success(), "cannot fetch pebble's root");
        out
    }

    /// Makes `host` resolve to `ip` for pebble's validation requests.
    pub fn resolve(&self, host: &str, ip: &str) {
        let st = Command::new("curl")
            .args(["-sS", "--fail", "-d"])
            .arg(format!(r#"{{"host":"{host}.","addresses":["{ip}"]}}"#))
            .arg(format!("http://127.0.0.1:{}/add-a", self.dns_mgmt))
            .status()
            .unwrap();
        assert!(st.success(), "challtestsrv add-a");
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.pebble.kill();
        let _ = self.pebble.wait();
        let _ = self.dns.kill();
        let _ = self.dns.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
