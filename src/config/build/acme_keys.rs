//! The key kinds of nginx's ACME module: `account_key alg[:size] | file` in `acme_issuer`
//! and `key=alg[:size]` of `acme_certificate`.

use std::path::Path;

use crate::config::acme::{AccountKeySource, KeyAlg};
use crate::config::error::Result;
use crate::config::parser::Arg;

const KINDS: &str = "ecdsa:256, ecdsa:384, ecdsa:521, rsa:2048, rsa:3072 or rsa:4096";

/// An algorithm spelling (`ecdsa`, `rsa`, with or without a size), as opposed to a file.
fn names_an_algorithm(v: &str) -> bool {
    let alg = v.split_once(':').map_or(v, |(a, _)| a);
    alg == "ecdsa" || alg == "rsa"
}

/// `account_key`: a kind generated and kept under `state_path`, or a PEM key file (read now,
/// so that a wrong file fails `-t` with its line).
pub(super) fn account_key(base_dir: &Path, a: &Arg) -> Result<AccountKeySource> {
    if let Some(alg) = KeyAlg::parse(&a.value) {
        return Ok(AccountKeySource::Generated(alg));
    }
    if names_an_algorithm(&a.value) {
        return Err(a.pos.err(format!(
            "invalid value \"{}\" in \"account_key\" directive, expected {KINDS} or a key file",
            a.value
        )));
    }
    let p = base_dir.join(&a.value);
    let path = std::path::absolute(&p).unwrap_or(p);
    let text = std::fs::read(&path).map_err(|e| {
        a.pos
            .err(format!("account_key \"{}\": {e}", path.display()))
    })?;
    crate::acme::keys::SigningKey::from_pem(&text).map_err(|e| {
        a.pos
            .err(format!("account_key \"{}\": {e}", path.display()))
    })?;
    Ok(AccountKeySource::File(path))
}

/// `acme_certificate … key=K`. P-521 is refused: ringway serves with rustls on ring, which
/// cannot sign with a P-521 key.
pub(super) fn certificate_key(a: &Arg, k: &str) -> Result<KeyAlg> {
    match KeyAlg::parse(k) {
        Some(KeyAlg::EcdsaP521) => Err(a.pos.err(
            "acme_certificate key=ecdsa:521: ringway's TLS library (rustls with ring) cannot \
             sign with a P-521 key, so it could not serve this certificate; use ecdsa:256, \
             ecdsa:384 or rsa:2048|3072|4096",
        )),
        Some(alg) => Ok(alg),
        None => Err(a.pos.err(format!(
            "invalid value \"key={k}\" in \"acme_certificate\" directive, expected key=ecdsa:256, \
             ecdsa:384, rsa:2048, rsa:3072 or rsa:4096"
        ))),
    }
}
