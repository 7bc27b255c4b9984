//! What every ACME test file uses: curl over HTTPS checked against a CA, polling with a
//! deadline, starting ringway on a config file in a directory of the test's, `openssl verify`
//! of a stored chain, and waiting for a stored certificate to be renewed.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Ringway, free_ports};

/// `curl https://NAME:PORT/` (NAME resolved to 127.0.0.1), verifying with `ca`: the body, or
/// curl's error.
pub fn curl_https(port: u16, name: &str, ca: &Path) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("{name}:{port}:127.0.0.1")])
        .arg(format!("https://{name}:{port}/"))
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `f` until it succeeds, every 50 ms; its last error once `within` has passed.
pub fn poll<T>(within: Duration, mut f: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let deadline = Instant::now() + within;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// ringway (one worker) on `text` written to `dir`/ringway.conf, once every address in
/// `listens` accepts connections.
pub fn start(dir: &Path, text: &str, listens: &[SocketAddr]) -> Ringway {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("ringway.conf");
    std::fs::write(&path, text).unwrap();
    Ringway::start_file(dir.to_path_buf(), path, 1, listens).unwrap_or_else(|e| panic!("{e}"))
}

/// `openssl verify` of a stored chain (leaf first) against `root`, the other certificates
/// of the chain as untrusted intermediates; openssl's words when it fails.
pub fn verifies(chain: &Path, root: &Path, work: &Path) -> Result<(), String> {
    let pem = std::fs::read_to_string(chain).unwrap();
    let end = "-----END CERTIFICATE-----\n";
    let cut = pem.find(end).unwrap() + end.len();
    std::fs::write(work.join("leaf.pem"), &pem[..cut]).unwrap();
    std::fs::write(work.join("rest.pem"), &pem[cut..]).unwrap();
    let out = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(root)
        .arg("-untrusted")
        .arg(work.join("rest.pem"))
        .arg(work.join("leaf.pem"))
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Two free loopback addresses: the plain listener's and the TLS one's.
pub fn listeners() -> (SocketAddr, SocketAddr) {
    let ports = free_ports(2);
    (
        SocketAddr::from(([127, 0, 0, 1], ports[0])),
        SocketAddr::from(([127, 0, 0, 1], ports[1])),
    )
}

/// The serial number of the first certificate in the PEM file `chain`, as openssl prints it.
pub fn stored_serial(chain: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(chain)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Waits until the certificate stored in `chain` is no longer the one with serial `first`;
/// panics with ringway's log after `within`.
pub fn wait_renewed(chain: &Path, first: &str, within: Duration, rw: &Ringway) {
    poll(within, || {
        if stored_serial(chain) != first {
            Ok(())
        } else {
            Err("same serial".to_string())
        }
    })
    .unwrap_or_else(|e| panic!("not renewed: {e}\n{}", rw.stderr()));
}
