//! Files under `state_path`: the account key (`account.key`, or `account-KIND.key` for
//! another `account_key` kind: jws.rs) and each certificate's chain and key
//! (`certificates/NAME.crt`, `certificates/NAME.key`). Written to a temporary name and
//! renamed, so a reload never reads half a file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::acme::AcmeCert;

fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write \"{}\": {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_with_mode(path, bytes, 0o600)
}

pub fn write_public(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_with_mode(path, bytes, 0o644)
}

/// Why the stored certificate cannot be reused (None: it can).
pub fn unusable(c: &AcmeCert) -> Option<String> {
    renewal_due(c).err()
}

/// When the stored certificate is due for renewal: at two thirds of its lifetime. Err: why it
/// cannot be used at all (order now).
pub fn renewal_due(c: &AcmeCert) -> Result<SystemTime, String> {
    match stored_validity(c) {
        Ok((from, until)) => {
            let renew = from + (until - from) * 2 / 3;
            Ok(UNIX_EPOCH + Duration::from_secs(u64::try_from(renew).unwrap_or(0)))
        }
        Err(why) => Err(why),
    }
}

/// The stored certificate's validity (seconds since the epoch), if it is there, unexpired and
/// covers every name.
fn stored_validity(c: &AcmeCert) -> Result<(i64, i64), String> {
    let Ok(key) = std::fs::read(&c.key_path) else {
        return Err("no stored key".into());
    };
    // A changed `key=` orders a certificate of the new kind at once.
    match super::keys::SigningKey::from_pem(&key).map(|k| k.kind()) {
        Ok(kind) if kind == c.key => {}
        Ok(kind) => {
            return Err(format!(
                "the stored key is {}, key= asks for {}",
                kind.name(),
                c.key.name()
            ));
        }
        Err(e) => return Err(format!("the stored key: {e}")),
    }
    let pem = match std::fs::read(&c.cert_path) {
        Ok(p) => p,
        Err(_) => return Err("no stored certificate".into()),
    };
    let Ok(chain) = crate::tls::certs::chain(&pem) else {
        return Err("the stored certificate is not PEM".into());
    };
    let Ok((_, leaf)) = x509_parser::parse_x509_certificate(chain[0].as_ref()) else {
        return Err("the stored certificate does not parse".into());
    };
    if !leaf.validity().is_valid() {
        return Err("the stored certificate has expired".into());
    }
    let mut covered = Vec::new();
    if let Ok(Some(san)) = leaf.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                covered.push(d.to_ascii_lowercase());
            }
        }
    }
    if let Some(missing) = c.names.iter().find(|n| !covered.contains(n)) {
        return Err(format!("the stored certificate does not cover {missing}"));
    }
    let v = leaf.validity();
    Ok((v.not_before.timestamp(), v.not_after.timestamp()))
}
