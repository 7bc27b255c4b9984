//! The scripted interposer (interposer.py) between ringway and pebble, for the answers pebble
//! 2.4 does not give: renewalInfo (RFC 9773), rate limits, badNonce, a directory outage. Its
//! HTTPS certificate comes from the tests' CA, which the issuer trusts
//! (`ssl_trusted_certificate`); it is killed when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::pebble::Pebble;
use crate::common::{KeyKind, Pki, free_port, temp_dir};

pub struct Interposer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Interposer {
    /// In front of `pebble`, following `script` (JSON, see interposer.py).
    pub fn start(pebble: &Pebble, script: &Value) -> Interposer {
        let dir = temp_dir("interposer");
        let pair = Pki::get().server(&["localhost", "127.0.0.1"], KeyKind::Ecdsa);
        let port = free_port();
        let me = Interposer {
            child: Command::new("python3")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/acme/interposer.py"))
                .arg(port.to_string())
                .arg(format!("127.0.0.1:{}", pebble.port))
                .arg(&pair.cert)
                .arg(&pair.key)
                .arg(dir.join("script.json"))
                .arg(dir.join("record.jsonl"))
                .stderr(Stdio::from(
                    std::fs::File::create(dir.join("stderr")).unwrap(),
                ))
                .spawn()
                .expect("python3"),
            port,
            dir,
        };
        me.set_script(script);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the interposer did not listen: {}",
                me.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        me
    }

    /// Read again by the interposer at every request.
    pub fn set_script(&self, script: &Value) {
        let tmp = self.dir.join("script.tmp");
        std::fs::write(&tmp, script.to_string()).unwrap();
        std::fs::rename(tmp, self.dir.join("script.json")).unwrap();
    }

    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }

    /// Every request so far, in order (see interposer.py for the members).
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("record.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The newOrder requests so far.
    pub fn new_orders(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["method"] == "POST" && r["path"] == "/order-plz")
            .collect()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }
}

impl Drop for Interposer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
