//! Throwaway certificates for the TLS tests, made with the `openssl` CLI: a CA, server leaves
//! (ECDSA P-256 or RSA 2048) for any set of names, client certificates, a second unrelated CA,
//! and an OCSP response for a leaf. Everything lives in one directory per test process and is
//! made once per name (`Pki::get()`), so the tests stay fast.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::*;

/// A certificate and its key, as files.
#[derive(Debug, Clone)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pair {
    /// `ssl_certificate CERT; ssl_certificate_key KEY;`
    pub fn directives(&self) -> String {
        format!(
            "ssl_certificate {};\n        ssl_certificate_key {};",
            self.cert.display(),
            self.key.display()
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Ecdsa,
    Rsa,
}

/// One certificate authority and the leaves it signed.
pub struct Pki {
    pub dir: PathBuf,
    /// The CA's certificate (PEM).
    pub ca: PathBuf,
    ca_key: PathBuf,
    /// Leaves made so far, by (file stem).
    made: Mutex<HashMap<String, Pair>>,
    serial: AtomicUsize,
}

/// Runs `openssl ARGS` in `dir`; panics with its stderr when it fails.
#[track_caller]
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn new_key(dir: &Path, file: &str, kind: KeyKind) {
    match kind {
        KeyKind::Ecdsa => openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                file,
            ],
        ),
        KeyKind::Rsa => openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                file,
            ],
        ),
    };
}

impl Pki {
    /// The PKI shared by every test of this process (made on first use).
    pub fn get() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| Pki::new("pki", "Test CA"))
    }

    /// Another, unrelated CA (its leaves are not trusted by `Pki::get()`'s CA).
    pub fn other() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| Pki::new("pki-other", "Other CA"))
    }

    fn new(tag: &str, cn: &str) -> Pki {
        let dir = temp_dir(tag);
        remove_at_exit(&dir);
        new_key(&dir, "ca.key", KeyKind::Ecdsa);
        let subj = format!("/O=Test/CN={cn}");
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "30",
                "-subj",
                &subj,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Pki {
            ca: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            dir,
            made: Mutex::new(HashMap::new()),
            serial: AtomicUsize::new(0x1000),
        }
    }

    /// A server certificate for `names` (the first is also the CN; `127.0.0.1` style names
    /// become IP SANs), with a key of `kind`.
    pub fn server(&self, names: &[&str], kind: KeyKind) -> Pair {
        let stem = format!("srv-{}-{kind:?}", names.join("+")).replace('*', "star");
        let sans: Vec<String> = names
            .iter()
            .map(|n| {
                if n.parse::<std::net::IpAddr>().is_ok() {
                    format!("IP:{n}")
                } else {
                    format!("DNS:{n}")
                }
            })
            .collect();
        let ext = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature{}\nextendedKeyUsage=serverAuth\nsubjectAltName={}\n",
            if kind == KeyKind::Rsa {
                ",keyEncipherment"
            } else {
                ""
            },
            sans.join(",")
        );
        self.issue(&stem, &format!("/O=Test/CN={}", names[0]), kind, &ext)
    }

    /// A client certificate with subject `/O=Test/CN=cn` (ECDSA).
    pub fn client(&self, cn: &str) -> Pair {
        let ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";
        self.issue(
            &format!("client-{cn}"),
            &format!("/O=Test/CN={cn}"),
            KeyKind::Ecdsa,
            ext,
        )
    }

    fn issue(&self, stem: &str, subj: &str, kind: KeyKind, ext: &str) -> Pair {
        let mut made = self.made.lock().unwrap();
        if let Some(p) = made.get(stem) {
            return p.clone();
        }
        let key = format!("{stem}.key");
        let csr = format!("{stem}.csr");
        let cert = format!("{stem}.pem");
        let extfile = format!("{stem}.ext");
        std::fs::write(self.dir.join(&extfile), ext).unwrap();
        new_key(&self.dir, &key, kind);
        openssl(
            &self.dir,
            &["req", "-new", "-key", &key, "-out", &csr, "-subj", subj],
        );
        let serial = format!("0x{:X}", self.serial.fetch_add(1, Ordering::SeqCst));
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                &serial,
                "-days",
                "30",
                "-extfile",
                &extfile,
                "-out",
                &cert,
            ],
        );
        let pair = Pair {
            cert: self.dir.join(cert),
            key: self.dir.join(key),
        };
        made.insert(stem.to_string(), pair.clone());
        pair
    }

    /// A DER OCSP response from this CA saying `leaf` is good, written to `out`.
    pub fn ocsp_response(&self, leaf: &Pair, out: &Path) {
        let dir = test_dir("ocsp");
        // The CA database `openssl ocsp -index` reads: V, expiry, (no revocation), serial, file, DN.
        let serial = String::from_utf8(openssl(
            &dir,
            &[
                "x509",
                "-in",
                leaf.cert.to_str().unwrap(),
                "-noout",
                "-serial",
            ],
        ))
        .unwrap();
        let serial = serial.trim().trim_start_matches("serial=").to_string();
        let subject = String::from_utf8(openssl(
            &dir,
            &[
                "x509",
                "-in",
                leaf.cert.to_str().unwrap(),
                "-noout",
                "-subject",
                "-nameopt",
                "compat",
            ],
        ))
        .unwrap();
        let subject = subject.trim().trim_start_matches("subject=").to_string();
        std::fs::write(
            dir.join("index.txt"),
            format!("V\t491231235959Z\t\t{serial}\tunknown\t{subject}\n"),
        )
        .unwrap();
        let ca = self.ca.to_str().unwrap();
        openssl(
            &dir,
            &[
                "ocsp",
                "-issuer",
                ca,
                "-cert",
                leaf.cert.to_str().unwrap(),
                "-no_nonce",
                "-reqout",
                "req.der",
            ],
        );
        openssl(
            &dir,
            &[
                "ocsp",
                "-index",
                "index.txt",
                "-rsigner",
                ca,
                "-rkey",
                self.ca_key.to_str().unwrap(),
                "-CA",
                ca,
                "-reqin",
                "req.der",
                "-ndays",
                "1",
                "-respout",
                out.to_str().unwrap(),
            ],
        );
    }
}

/// The PKI directories live as long as the test process: removed when it exits.
fn remove_at_exit(dir: &Path) {
    static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    extern "C" fn remove_all() {
        if let Ok(dirs) = DIRS.lock() {
            for d in dirs.iter() {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }
    let mut dirs = DIRS.lock().unwrap();
    if dirs.is_empty() {
        // SAFETY: registers a plain function with no captured state.
        unsafe { libc::atexit(remove_all) };
    }
    dirs.push(dir.to_path_buf());
}

/// What `openssl x509 -noout -serial` says (upper-case hex) and the SHA-1 fingerprint as
/// lower-case hex without colons (nginx's `$ssl_client_fingerprint`).
pub fn serial_and_fingerprint(cert: &Path) -> (String, String) {
    let out = String::from_utf8(openssl(
        Path::new("/"),
        &[
            "x509",
            "-in",
            cert.to_str().unwrap(),
            "-noout",
            "-serial",
            "-fingerprint",
            "-sha1",
        ],
    ))
    .unwrap();
    let mut serial = String::new();
    let mut fp = String::new();
    for line in out.lines() {
        if let Some(s) = line.strip_prefix("serial=") {
            serial = s.trim().to_string();
        } else if let Some((_, f)) = line.split_once('=') {
            fp = f.trim().replace(':', "").to_ascii_lowercase();
        }
    }
    (serial, fp)
}

/// A temporary directory removed when dropped.
pub struct TestDir(PathBuf);

pub fn test_dir(tag: &str) -> TestDir {
    TestDir(temp_dir(tag))
}

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
