//! `auth_basic_user_file`, loaded with the config (a bad line is a config error naming it):
//! htpasswd files as nginx reads them: `user:hash[:comment]` lines,
//! `#` comments, lines without `:` ignored, the first line for a user wins. Schemes: bcrypt
//! (`$2y$`, `$2b$`, `$2a$`), apr1 MD5 (`$apr1$`) and glibc MD5-crypt (`$1$`), `{SHA}`, salted
//! `{SSHA}`, and `{PLAIN}`. Anything else (DES crypt, `$5$`, `$6$`, a bare password) is refused
//! at load with the line it is on: nginx would hand it to the system's crypt(3), which ringway
//! does not call, and a line that silently never matches would lock its user out unexplained.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest, Md5};
use rustc_hash::FxHashMap;
use sha1::Sha1;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hash {
    /// The whole `$2y$…` string, checked by the bcrypt crate (constant-time compare inside).
    Bcrypt(String),
    /// `$apr1$` (apr = true) or `$1$`: the salt and the 22-character digest.
    Md5Crypt {
        apr: bool,
        salt: Vec<u8>,
        digest: Vec<u8>,
    },
    /// `{SHA}base64(sha1(password))`.
    Sha1([u8; 20]),
    /// `{SSHA}base64(sha1(password + salt) + salt)`.
    Ssha {
        digest: [u8; 20],
        salt: Vec<u8>,
    },
    Plain(Vec<u8>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Htpasswd {
    /// By user name: one lookup per request, whatever the file's size.
    entries: FxHashMap<Vec<u8>, Hash>,
}

impl Htpasswd {
    /// Parses a file's text. Err: "line N: what is wrong".
    pub fn parse(text: &[u8]) -> Result<Htpasswd, String> {
        let mut entries = FxHashMap::default();
        for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            if line.first() == Some(&b'#') {
                continue;
            }
            let Some(colon) = line.iter().position(|&c| c == b':') else {
                continue;
            };
            let user = &line[..colon];
            let rest = &line[colon + 1..];
            // nginx: the password field ends at the next ':' (a comment may follow).
            let pass = rest.split(|&c| c == b':').next().unwrap_or(b"");
            if user.is_empty() || entries.contains_key(user) {
                continue;
            }
            let hash = Hash::parse(pass).map_err(|e| format!("line {}: {e}", i + 1))?;
            entries.insert(user.to_vec(), hash);
        }
        Ok(Htpasswd { entries })
    }

    pub fn find(&self, user: &[u8]) -> Option<&Hash> {
        self.entries.get(user)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Hash {
    pub fn parse(p: &[u8]) -> Result<Hash, String> {
        let text = std::str::from_utf8(p).map_err(|_| "the password hash is not ASCII")?;
        if let Some(rest) = text.strip_prefix("{PLAIN}") {
            return Ok(Hash::Plain(rest.as_bytes().to_vec()));
        }
        if let Some(b) = text.strip_prefix("{SHA}") {
            let raw = B64
                .decode(b)
                .map_err(|_| "invalid base64 in a {SHA} entry")?;
            let digest: [u8; 20] = raw
                .try_into()
                .map_err(|_| "a {SHA} entry must hold 20 bytes")?;
            return Ok(Hash::Sha1(digest));
        }
        if let Some(b) = text.strip_prefix("{SSHA}") {
            let raw = B64
                .decode(b)
                .map_err(|_| "invalid base64 in a {SSHA} entry")?;
            if raw.len() <= 20 {
                return Err("a {SSHA} entry must hold 20 bytes and a salt".into());
            }
            let mut digest = [0u8; 20];
            digest.copy_from_slice(&raw[..20]);
            return Ok(Hash::Ssha {
                digest,
                salt: raw[20..].to_vec(),
            });
        }
        if ["$2y$", "$2b$", "$2a$"].iter().any(|v| text.starts_with(v)) {
            text.parse::<bcrypt::HashParts>()
                .map_err(|e| format!("invalid bcrypt entry: {e}"))?;
            return Ok(Hash::Bcrypt(text.to_string()));
        }
        for (magic, apr) in [("$apr1$", true), ("$1$", false)] {
            if let Some(rest) = text.strip_prefix(magic) {
                let (salt, digest) = rest
                    .split_once('$')
                    .ok_or_else(|| format!("invalid {magic} entry: no '$' after the salt"))?;
                if salt.len() > 8 || digest.len() != 22 {
                    return Err(format!("invalid {magic} entry"));
                }
                return Ok(Hash::Md5Crypt {
                    apr,
                    salt: salt.as_bytes().to_vec(),
                    digest: digest.as_bytes().to_vec(),
                });
            }
        }
        let what = if text.starts_with("$5$") || text.starts_with("$6$") {
            "SHA-256/SHA-512 crypt"
        } else if text.len() == 13 {
            "DES crypt"
        } else {
            "an unknown password scheme"
        };
        Err(format!(
            "{what} is not supported (use bcrypt, $apr1$, {{SHA}}, {{SSHA}} or {{PLAIN}})"
        ))
    }

    /// Whether checking a password costs real time (bcrypt: milliseconds; MD5-crypt: 1000
    /// MD5 rounds): worth caching.
    pub fn is_slow(&self) -> bool {
        matches!(self, Hash::Bcrypt(_) | Hash::Md5Crypt { .. })
    }

    /// Whether `password` matches, comparing digests in constant time.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Hash::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
            Hash::Md5Crypt { apr, salt, digest } => {
                let magic: &[u8] = if *apr { b"$apr1$" } else { b"$1$" };
                md5_crypt(password, salt, magic)
                    .as_slice()
                    .ct_eq(digest)
                    .into()
            }
            Hash::Sha1(d) => Sha1::digest(password).as_slice().ct_eq(d).into(),
            Hash::Ssha { digest, salt } => {
                let mut h = Sha1::new();
                h.update(password);
                h.update(salt);
                h.finalize().as_slice().ct_eq(digest).into()
            }
            Hash::Plain(p) => {
                // Lengths differ only when the password is wrong; the compare stays uniform.
                p.len() == password.len() && bool::from(p.as_slice().ct_eq(password))
            }
        }
    }
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Poul-Henning Kamp's MD5-crypt (Apache's apr1 differs only in the magic string): returns the
/// 22-character digest part.
pub fn md5_crypt(pw: &[u8], salt: &[u8], magic: &[u8]) -> [u8; 22] {
    let mut alt = Md5::new();
    alt.update(pw);
    alt.update(salt);
    alt.update(pw);
    let alt = alt.finalize();
    let mut ctx = Md5::new();
    ctx.update(pw);
    ctx.update(magic);
    ctx.update(salt);
    let mut left = pw.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alt[..n]);
        left -= n;
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&pw[..1]);
        }
        i >>= 1;
    }
    let mut fin: [u8; 16] = ctx.finalize().into();
    for round in 0..1000 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(pw);
        } else {
            c.update(fin);
        }
        if round % 3 != 0 {
            c.update(salt);
        }
        if round % 7 != 0 {
            c.update(pw);
        }
        if round & 1 == 1 {
            c.update(fin);
        } else {
            c.update(pw);
        }
        fin = c.finalize().into();
    }
    let mut out = [0u8; 22];
    let mut at = 0;
    let mut put = |v: u32, n: usize| {
        let mut v = v;
        for _ in 0..n {
            out[at] = ITOA64[(v & 0x3f) as usize];
            v >>= 6;
            at += 1;
        }
    };
    let f = |i: usize| u32::from(fin[i]);
    put((f(0) << 16) | (f(6) << 8) | f(12), 4);
    put((f(1) << 16) | (f(7) << 8) | f(13), 4);
    put((f(2) << 16) | (f(8) << 8) | f(14), 4);
    put((f(3) << 16) | (f(9) << 8) | f(15), 4);
    put((f(4) << 16) | (f(10) << 8) | f(5), 4);
    put(f(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, user: &str, good: &str) {
        let f = Htpasswd::parse(line.as_bytes()).unwrap();
        let h = f.find(user.as_bytes()).expect("user present");
        assert!(h.verify(good.as_bytes()), "{line} accepts {good}");
        assert!(!h.verify(b"wrong"), "{line} refuses a wrong password");
        assert!(!h.verify(b""), "{line} refuses an empty password");
    }

    /// The examples of Apache's "Password Formats" page (password "myPassword").
    #[test]
    fn apache_documentation_vectors() {
        check(
            "myName:$2y$05$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2bT/r7q1BB8I2s0BRqC",
            "myName",
            "myPassword",
        );
        check(
            "myName:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/",
            "myName",
            "myPassword",
        );
        check(
            "myName:{SHA}VBPuJHI7uixaa6LQGWx4s+5GKNE=",
            "myName",
            "myPassword",
        );
    }

    #[test]
    fn md5_crypt_known_vectors() {
        // `openssl passwd -1 -salt saltsalt password` and `-apr1`.
        assert_eq!(
            &md5_crypt(b"password", b"saltsalt", b"$1$"),
            b"qjXMvbEw8oaL.CzflDtaK/"
        );
        assert_eq!(
            &md5_crypt(b"password", b"lZL6V/ci", b"$apr1$"),
            b"eIMz/iKDkbtys/uU7LEK00"
        );
    }

    #[test]
    fn generated_entries_for_every_scheme() {
        let bc = bcrypt::hash("s3cret", 4).unwrap();
        let b2b = bcrypt::hash_with_result("s3cret", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        let b2a = bcrypt::hash_with_result("s3cret", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        let sha = B64.encode(Sha1::digest(b"s3cret"));
        let mut ssha_raw = Sha1::new();
        ssha_raw.update(b"s3cret");
        ssha_raw.update(b"NaCl");
        let mut ssha = ssha_raw.finalize().to_vec();
        ssha.extend_from_slice(b"NaCl");
        let apr = String::from_utf8(md5_crypt(b"s3cret", b"abcdefgh", b"$apr1$").to_vec());
        let file = format!(
            "# comment line\n\nnocolon\nbc:{bc}\nb2b:{b2b}:a comment\r\nb2a:{b2a}\nsha:{{SHA}}{sha}\n\
             ssha:{{SSHA}}{}\napr:$apr1$abcdefgh${}\nplain:{{PLAIN}}s3cret\nplain:{{PLAIN}}other\n",
            B64.encode(&ssha),
            apr.unwrap()
        );
        let f = Htpasswd::parse(file.as_bytes()).unwrap();
        assert_eq!(f.len(), 7);
        for u in ["bc", "b2b", "b2a", "sha", "ssha", "apr", "plain"] {
            let h = f.find(u.as_bytes()).unwrap();
            assert!(h.verify(b"s3cret"), "{u}");
            assert!(!h.verify(b"s3cret "), "{u}");
            assert!(!h.verify(b"S3cret"), "{u}");
        }
        assert!(f.find(b"nocolon").is_none());
        assert!(f.find(b"# comment line").is_none());
        assert!(f.find(b"bc").unwrap().is_slow());
        assert!(!f.find(b"sha").unwrap().is_slow());
    }

    #[test]
    fn unsupported_schemes_name_the_line() {
        let e = Htpasswd::parse(b"a:{PLAIN}x\nmyName:rqXexS6ZhobKA\n").unwrap_err();
        assert!(e.starts_with("line 2: DES crypt is not supported"), "{e}");
        let e = Htpasswd::parse(b"u:$6$salt$abc\n").unwrap_err();
        assert!(e.contains("SHA-256/SHA-512 crypt"), "{e}");
        let e = Htpasswd::parse(b"u:$2y$05$short\n").unwrap_err();
        assert!(e.starts_with("line 1: invalid bcrypt entry"), "{e}");
        let e = Htpasswd::parse(b"u:{SHA}not base64!\n").unwrap_err();
        assert!(e.contains("base64"), "{e}");
        assert!(Htpasswd::parse(b"u:$apr1$toolongsalt$x\n").is_err());
    }
}
