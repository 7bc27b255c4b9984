//! What every ACME test file uses: curl over HTTPS checked against a CA, polling with a
//! deadline, and starting ringway on a config file in a directory of the test's.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::Ringway;

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
