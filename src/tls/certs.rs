//! Reading the PEM files a config names: certificate chains, private keys (encrypted ones with
//! `ssl_password_file`'s pass phrases), CA bundles, CRLs and OCSP staples. Each failure says
//! which file and why, with where the directive was written.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::config::tls::{CertPair, FileAt};

/// Reads a whole file, naming it on failure.
pub fn read(path: &Path, what: &str, at: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{at}: cannot load {what} \"{}\": {e}", path.display()))
}

/// Every certificate in a PEM file, in order (leaf first for a chain).
pub fn chain(pem_bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem_bytes).collect();
    let certs = certs.map_err(pem_error)?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(certs)
}

fn pem_error(e: pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => "no PEM item found".into(),
        other => format!("malformed PEM ({other:?})"),
    }
}

/// The private key in a PEM file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), or an encrypted PKCS#8
/// key opened with one of `passwords`.
pub fn private_key(
    pem_bytes: &[u8],
    passwords: &[String],
) -> Result<PrivateKeyDer<'static>, String> {
    // Checked first: the PEM reader stops at this form's header lines.
    if pem_bytes.windows(14).any(|w| w == b"Proc-Type: 4,E") {
        return Err(
            "a key in OpenSSL's legacy encrypted PEM form: convert it with \
             `openssl pkcs8 -topk8 -v2 aes-256-cbc` (ringway reads encrypted PKCS#8)"
                .into(),
        );
    }
    let mut rd = pem_bytes;
    loop {
        let (kind, der) = match pem::from_buf(&mut rd) {
            Ok(Some(i)) => i,
            Ok(None) => break,
            Err(e) => return Err(pem_error(e)),
        };
        match kind {
            SectionKind::PrivateKey => return Ok(PrivateKeyDer::Pkcs8(der.into())),
            SectionKind::RsaPrivateKey => return Ok(PrivateKeyDer::Pkcs1(der.into())),
            SectionKind::EcPrivateKey => return Ok(PrivateKeyDer::Sec1(der.into())),
            _ => {}
        }
    }
    if let Some(der) = encrypted_pkcs8(pem_bytes) {
        return decrypt(&der, passwords);
    }
    Err("no PEM private key found".into())
}

/// The DER of an `ENCRYPTED PRIVATE KEY` block.
fn encrypted_pkcs8(pem_bytes: &[u8]) -> Option<Vec<u8>> {
    use pkcs8::der::pem::PemLabel;
    let text = std::str::from_utf8(pem_bytes).ok()?;
    let begin = format!(
        "-----BEGIN {}-----",
        pkcs8::EncryptedPrivateKeyInfo::PEM_LABEL
    );
    let start = text.find(&begin)?;
    let end_marker = format!(
        "-----END {}-----",
        pkcs8::EncryptedPrivateKeyInfo::PEM_LABEL
    );
    let end = text[start..].find(&end_marker)? + start + end_marker.len();
    let (_, doc) = pkcs8::SecretDocument::from_pem(&text[start..end]).ok()?;
    Some(doc.as_bytes().to_vec())
}

fn decrypt(der: &[u8], passwords: &[String]) -> Result<PrivateKeyDer<'static>, String> {
    use pkcs8::der::Decode;
    let info = pkcs8::EncryptedPrivateKeyInfo::from_der(der)
        .map_err(|e| format!("malformed encrypted key: {e}"))?;
    if passwords.is_empty() {
        return Err("the key is encrypted: name its pass phrase with ssl_password_file".into());
    }
    for p in passwords {
        if let Ok(doc) = info.decrypt(p.as_bytes()) {
            return Ok(PrivateKeyDer::Pkcs8(doc.as_bytes().to_vec().into()));
        }
    }
    Err("none of the pass phrases in ssl_password_file opens the key".into())
}

/// `ssl_password_file`: one pass phrase per line.
pub fn passwords(file: Option<&FileAt>) -> Result<Vec<String>, String> {
    let Some(f) = file else {
        return Ok(Vec::new());
    };
    let bytes = read(&f.path, "password file", &f.at)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(text.lines().map(str::to_string).collect())
}

/// A certificate pair as a signing identity, with an optional OCSP staple.
pub fn certified(
    pair: &CertPair,
    provider: &CryptoProvider,
    passwords: &[String],
    staple: Option<Vec<u8>>,
) -> Result<Arc<CertifiedKey>, String> {
    let fail = |path: &Path, what: &str, why: String| {
        format!(
            "{}: cannot load {what} \"{}\": {why}",
            pair.at,
            path.display()
        )
    };
    let certs = chain(&read(&pair.cert, "certificate", &pair.at)?)
        .map_err(|e| fail(&pair.cert, "certificate", e))?;
    let key = private_key(&read(&pair.key, "certificate key", &pair.at)?, passwords)
        .map_err(|e| fail(&pair.key, "certificate key", e))?;
    let signer = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| fail(&pair.key, "certificate key", e.to_string()))?;
    let mut ck = CertifiedKey::new(certs, signer);
    ck.keys_match().map_err(|e| {
        format!(
            "{}: certificate \"{}\" and key \"{}\" do not match: {e}",
            pair.at,
            pair.cert.display(),
            pair.key.display()
        )
    })?;
    ck.ocsp = staple;
    Ok(Arc::new(ck))
}

/// A CA bundle (`ssl_client_certificate`, `ssl_trusted_certificate`,
/// `proxy_ssl_trusted_certificate`).
pub fn roots(files: &[&FileAt]) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    for f in files {
        let certs = chain(&read(&f.path, "certificate", &f.at)?).map_err(|e| {
            format!(
                "{}: cannot load certificate \"{}\": {e}",
                f.at,
                f.path.display()
            )
        })?;
        for c in certs {
            store.add(c).map_err(|e| {
                format!(
                    "{}: cannot use certificate in \"{}\": {e}",
                    f.at,
                    f.path.display()
                )
            })?;
        }
    }
    Ok(store)
}

/// `ssl_crl` / `proxy_ssl_crl`.
pub fn crls(file: Option<&FileAt>) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let Some(f) = file else {
        return Ok(Vec::new());
    };
    let bytes = read(&f.path, "CRL", &f.at)?;
    let list: Result<Vec<_>, _> = CertificateRevocationListDer::pem_slice_iter(&bytes).collect();
    let list = list.map_err(|e| {
        format!(
            "{}: cannot load CRL \"{}\": {}",
            f.at,
            f.path.display(),
            pem_error(e)
        )
    })?;
    if list.is_empty() {
        return Err(format!(
            "{}: cannot load CRL \"{}\": no PEM CRL found",
            f.at,
            f.path.display()
        ));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &b""[..],
            b"-----BEGIN CERTIFICATE-----\nzz\n",
            b"\xff\xfe",
            b"hello",
        ] {
            assert!(chain(input).is_err());
            assert!(private_key(input, &[]).is_err());
        }
    }

    #[test]
    fn encrypted_key_without_password_says_so() {
        let pem =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = private_key(pem, &[]).unwrap_err();
        assert!(e.contains("encrypted"), "{e}");
    }
}
