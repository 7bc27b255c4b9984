//! Cache keys: the MD5 of the rendered `proxy_cache_key`, the hash a `Vary` variant is stored
//! under, and nginx's on-disk layout (`levels=1:2` → `root/c/29/b7f5…029c`), so an operator's
//! habits (and `find`/`rm` scripts) carry over from nginx.

use md5::{Digest, Md5};
use std::path::{Path, PathBuf};

/// MD5 of a rendered cache key (nginx's `ngx_http_file_cache_create_key`: `c->key`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct KeyHash(pub [u8; 16]);

/// The folder inside a zone's path where entries are written before they are complete.
pub const TEMP_DIR: &str = ".tmp";

impl KeyHash {
    /// The hash an entry's file name spells (32 lower- or upper-case hex digits).
    pub fn from_hex(name: &[u8]) -> Option<KeyHash> {
        if name.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, pair) in name.chunks(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16);
            out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Some(KeyHash(out))
    }

    /// The hash of a rendered key.
    pub fn of(key: &[u8]) -> KeyHash {
        KeyHash(Md5::digest(key).into())
    }

    /// Lower-case hex, the entry's file name.
    pub fn hex(&self) -> [u8; 32] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (pair, b) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0xf)];
        }
        out
    }

    /// The hash a `Vary` variant of this (main) key is stored under: MD5 over the main key's
    /// 16 hash bytes and `vary_values` (from [`crate::cache::policy::vary_values`]), exactly
    /// nginx's `ngx_http_file_cache_vary` (`md5(c->main ‖ "name:value\r\n"…)`).
    pub fn variant(&self, vary_values: &[u8]) -> KeyHash {
        let mut md5 = Md5::new();
        md5.update(self.0);
        md5.update(vary_values);
        KeyHash(md5.finalize().into())
    }
}

/// Where an entry lives: nginx's `ngx_create_hashed_filename`. Each level takes the hex
/// characters just before those the previous level took, starting from the end of the name:
/// `levels=1:2` gives `root/c/29/b7f54b2df7773722d382f4809d65029c`. The config allows 1 to 3
/// levels of 1 or 2 characters; other values are clamped here (no panic on any input).
pub fn entry_path(root: &Path, levels: &[u8], h: &KeyHash) -> PathBuf {
    let hex = h.hex();
    let mut path = root.to_path_buf();
    let mut end = hex.len();
    for &n in levels.iter().take(3) {
        let start = end.saturating_sub(usize::from(n.clamp(1, 2)));
        if let Some(dir) = hex.get(start..end) {
            path.push(ascii(dir));
        }
        end = start;
    }
    path.push(ascii(&hex));
    path
}

/// A temporary file for an entry being written: `root/.tmp/<unique as 16 hex digits>`. It is
/// renamed into [`entry_path`] once complete, so readers never see half an entry under its key.
pub fn temp_path(root: &Path, unique: u64) -> PathBuf {
    root.join(TEMP_DIR).join(format!("{unique:016x}"))
}

/// The hex digits as a `&str` (they are ASCII by construction).
fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(hex: &str) -> KeyHash {
        let mut b = [0u8; 16];
        for (i, out) in b.iter_mut().enumerate() {
            *out = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        KeyHash(b)
    }

    #[test]
    fn md5_of_key() {
        // RFC 1321 test suite.
        assert_eq!(&KeyHash::of(b"").hex(), b"d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            &KeyHash::of(b"abc").hex(),
            b"900150983cd24fb0d6963f7d28e17f72"
        );
    }

    #[test]
    fn nginx_levels_layout() {
        // The example in nginx's proxy_cache_path documentation.
        let k = h("b7f54b2df7773722d382f4809d65029c");
        let root = Path::new("/data/nginx/cache");
        assert_eq!(
            entry_path(root, &[1, 2], &k),
            Path::new("/data/nginx/cache/c/29/b7f54b2df7773722d382f4809d65029c")
        );
        assert_eq!(
            entry_path(root, &[], &k),
            Path::new("/data/nginx/cache/b7f54b2df7773722d382f4809d65029c")
        );
        assert_eq!(
            entry_path(root, &[2, 2, 1], &k),
            Path::new("/data/nginx/cache/9c/02/5/b7f54b2df7773722d382f4809d65029c")
        );
        // Out-of-range levels are clamped, extra levels dropped: never a panic.
        assert_eq!(
            entry_path(root, &[0, 9, 1, 1], &k),
            Path::new("/data/nginx/cache/c/29/0/b7f54b2df7773722d382f4809d65029c")
        );
    }

    #[test]
    fn variant_is_md5_of_main_hash_and_values() {
        let main = KeyHash::of(b"http://a/x");
        let values = b"accept-encoding:gzip\r\n";
        let mut input = main.0.to_vec();
        input.extend_from_slice(values);
        assert_eq!(main.variant(values), KeyHash::of(&input));
        assert_ne!(
            main.variant(values),
            main.variant(b"accept-encoding:br\r\n")
        );
    }

    #[test]
    fn temp_files_under_dot_tmp() {
        assert_eq!(
            temp_path(Path::new("/c"), 0xab),
            Path::new("/c/.tmp/00000000000000ab")
        );
    }
}
