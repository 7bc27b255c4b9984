//! `auth_basic` (RFC 7617): the `Authorization: Basic` credentials checked against the user
//! file read at load. bcrypt and MD5-crypt cost milliseconds of the shard's only thread, so a
//! small per-shard cache remembers credentials that verified recently: a client sending the
//! same credentials on every request pays the hash once. Failed attempts are not cached (an
//! attacker's guesses differ anyway), so each one still costs a full hash.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rustc_hash::FxHashSet;
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::config::htpasswd::{Hash, Htpasswd};
use crate::template::Template;

#[derive(Debug)]
pub struct AuthBasic {
    /// `auth_basic "realm"` (variables allowed, as in nginx).
    pub realm: Template,
    pub users: Arc<Htpasswd>,
}

/// nginx checks only when both a realm (not `off`) and a user file are in force.
pub fn compile(s: &Settings, user: &[String]) -> Result<Option<AuthBasic>, String> {
    match (&s.auth_basic, &s.auth_basic_user_file) {
        (Some(realm), Some(f)) => Ok(Some(AuthBasic {
            realm: Template::compile_with(realm, user)?,
            users: f.users.clone(),
        })),
        _ => Ok(None),
    }
}

/// Credentials that verified recently, per shard. The key is SHA-256 over a per-shard random
/// salt, the stored hash, the user and the password: nothing secret is kept in clear, and a
/// changed or removed entry (on reload) no longer matches.
pub struct Cache {
    salt: [u8; 16],
    keys: RefCell<Recent>,
}

/// The remembered keys, and their order of arrival (for eviction).
type Recent = (FxHashSet<[u8; 32]>, VecDeque<[u8; 32]>);

/// Most credentials a shard remembers (oldest forgotten first): 64 bytes each.
pub const CACHE_SIZE: usize = 1024;

impl Default for Cache {
    fn default() -> Self {
        // Two independently seeded SipHash states give 128 random bits without a new crate.
        let mut salt = [0u8; 16];
        for half in salt.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u8(0);
            half.copy_from_slice(&h.finish().to_le_bytes());
        }
        Cache {
            salt,
            keys: RefCell::new((FxHashSet::default(), VecDeque::new())),
        }
    }
}

impl Cache {
    fn key(&self, hash: &Hash, user: &[u8], pass: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        let id: &[u8] = match hash {
            Hash::Bcrypt(s) => s.as_bytes(),
            Hash::Md5Crypt { digest, .. } => digest,
            Hash::Sha1(d) => d,
            Hash::Ssha { digest, .. } => digest,
            Hash::Plain(p) => p,
        };
        // Length prefixes keep (user, password) pairs from running into one another.
        for part in [id, user, pass] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    fn contains(&self, key: &[u8; 32]) -> bool {
        self.keys.borrow().0.contains(key)
    }

    fn insert(&self, key: [u8; 32]) {
        let mut k = self.keys.borrow_mut();
        if !k.0.insert(key) {
            return;
        }
        k.1.push_back(key);
        if k.1.len() > CACHE_SIZE
            && let Some(old) = k.1.pop_front()
        {
            k.0.remove(&old);
        }
    }

    pub fn len(&self) -> usize {
        self.keys.borrow().1.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The user and password of an `Authorization: Basic …` value (scheme case-insensitive).
pub fn credentials(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = value.trim_ascii();
    if value.len() < 6 || !value[..5].eq_ignore_ascii_case(b"basic") || value[5] != b' ' {
        return None;
    }
    let decoded = B64.decode(value[6..].trim_ascii()).ok()?;
    let colon = decoded.iter().position(|&c| c == b':')?;
    if colon == 0 {
        return None;
    }
    let pass = decoded[colon + 1..].to_vec();
    let mut user = decoded;
    user.truncate(colon);
    Some((user, pass))
}

/// Whether the request's `Authorization` value names a user of `users` with the right password.
pub fn verify(cache: &Cache, users: &Htpasswd, authorization: Option<&[u8]>) -> bool {
    let Some((user, pass)) = authorization.and_then(credentials) else {
        return false;
    };
    let Some(hash) = users.find(&user) else {
        return false;
    };
    if !hash.is_slow() {
        return hash.verify(&pass);
    }
    let key = cache.key(hash, &user, &pass);
    if cache.contains(&key) {
        return true;
    }
    let ok = hash.verify(&pass);
    if ok {
        cache.insert(key);
    }
    ok
}

/// `WWW-Authenticate: Basic realm="…"` with `"` and `\` escaped (RFC 9110 quoted-string).
pub fn challenge(realm: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"WWW-Authenticate: Basic realm=\"");
    for &c in realm {
        if c == b'"' || c == b'\\' {
            out.push(b'\\');
        }
        if c != b'\r' && c != b'\n' {
            out.push(c);
        }
    }
    out.extend_from_slice(b"\"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_pass: &str) -> Vec<u8> {
        format!("Basic {}", B64.encode(user_pass)).into_bytes()
    }

    #[test]
    fn parses_credentials() {
        assert_eq!(
            credentials(&basic("alice:pa:ss")),
            Some((b"alice".to_vec(), b"pa:ss".to_vec()))
        );
        assert_eq!(
            credentials(b"bAsIc YWxpY2U6"),
            Some((b"alice".to_vec(), Vec::new()))
        );
        assert_eq!(credentials(b"Bearer abc"), None);
        assert_eq!(credentials(b"Basic !!!"), None);
        assert_eq!(credentials(&basic("nocolon")), None);
        assert_eq!(credentials(&basic(":pw")), None);
        assert_eq!(credentials(b"Basic"), None);
    }

    #[test]
    fn cache_remembers_only_verified_slow_credentials() {
        let h = bcrypt::hash("pw", 4).unwrap();
        let users = Htpasswd::parse(format!("bob:{h}\nsue:{{PLAIN}}x\n").as_bytes()).unwrap();
        let cache = Cache::default();
        assert!(!verify(&cache, &users, Some(&basic("bob:nope"))));
        assert!(cache.is_empty(), "failures are not cached");
        assert!(verify(&cache, &users, Some(&basic("bob:pw"))));
        assert_eq!(cache.len(), 1);
        assert!(verify(&cache, &users, Some(&basic("bob:pw"))));
        assert_eq!(cache.len(), 1);
        assert!(!verify(&cache, &users, Some(&basic("bob:pw2"))));
        assert!(verify(&cache, &users, Some(&basic("sue:x"))));
        assert_eq!(cache.len(), 1, "fast schemes skip the cache");
        assert!(!verify(&cache, &users, Some(&basic("eve:pw"))));
        assert!(!verify(&cache, &users, None));
        // A changed entry (a reload) does not match what was cached for the old one.
        let h2 = bcrypt::hash("other", 4).unwrap();
        let users2 = Htpasswd::parse(format!("bob:{h2}\n").as_bytes()).unwrap();
        assert!(!verify(&cache, &users2, Some(&basic("bob:pw"))));
    }

    #[test]
    fn cache_is_bounded() {
        let cache = Cache::default();
        let h = Hash::Plain(b"x".to_vec());
        for i in 0..CACHE_SIZE + 10 {
            cache.insert(cache.key(&h, format!("u{i}").as_bytes(), b"p"));
        }
        assert_eq!(cache.len(), CACHE_SIZE);
        assert!(!cache.contains(&cache.key(&h, b"u0", b"p")));
        assert!(cache.contains(&cache.key(&h, format!("u{}", CACHE_SIZE + 9).as_bytes(), b"p")));
    }

    #[test]
    fn challenge_quotes_the_realm() {
        let mut out = Vec::new();
        challenge(b"a \"b\" \\c", &mut out);
        assert_eq!(
            out,
            b"WWW-Authenticate: Basic realm=\"a \\\"b\\\" \\\\c\"\r\n"
        );
    }
}
