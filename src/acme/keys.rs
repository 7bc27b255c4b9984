//! Private keys of every kind nginx's ACME module names (`account_key`, `acme_certificate
//! key=`): ECDSA P-256/P-384 and RSA sign with ring; P-521 (ES512, account keys only) with
//! RustCrypto's p521, ring having no P-521. ring cannot generate RSA keys: the `rsa` crate
//! makes them (generation only; ring signs).

use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    RSA_PKCS1_SHA256, RsaKeyPair,
};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

use super::jws::b64;
use crate::config::acme::KeyAlg;

/// A private key able to sign JWS (RFC 7518 §3.3/§3.4).
pub enum SigningKey {
    Ec { pair: EcdsaKeyPair, alg: KeyAlg },
    P521(Box<p521::ecdsa::SigningKey>),
    Rsa(RsaKeyPair),
}

/// A fresh key of `alg` as PKCS#8 DER.
pub fn generate_pkcs8(alg: KeyAlg) -> Result<Vec<u8>, String> {
    use p521::pkcs8::EncodePrivateKey as _;
    let fail = |e: &dyn std::fmt::Display| format!("cannot generate a {} key: {e}", alg.name());
    let mut os = rsa::rand_core::OsRng;
    let der = match alg {
        KeyAlg::EcdsaP256 | KeyAlg::EcdsaP384 => {
            let doc = EcdsaKeyPair::generate_pkcs8(ec_signing(alg), &SystemRandom::new())
                .map_err(|e| fail(&e))?;
            doc.as_ref().to_vec()
        }
        KeyAlg::EcdsaP521 => p521::SecretKey::random(&mut os)
            .to_pkcs8_der()
            .map_err(|e| fail(&e))?
            .as_bytes()
            .to_vec(),
        KeyAlg::Rsa2048 | KeyAlg::Rsa3072 | KeyAlg::Rsa4096 => {
            rsa::RsaPrivateKey::new(&mut os, alg.rsa_bits())
                .map_err(|e| fail(&e))?
                .to_pkcs8_der()
                .map_err(|e| fail(&e))?
                .as_bytes()
                .to_vec()
        }
    };
    Ok(der)
}

/// PKCS#8 DER as PEM ("PRIVATE KEY"), as `openssl pkey` writes it.
pub fn pkcs8_pem(der: &[u8]) -> Result<String, String> {
    pkcs8::der::pem::encode_string("PRIVATE KEY", pkcs8::LineEnding::LF, der)
        .map_err(|e| format!("cannot encode a key as PEM: {e}"))
}

fn ec_signing(alg: KeyAlg) -> &'static ring::signature::EcdsaSigningAlgorithm {
    match alg {
        KeyAlg::EcdsaP384 => &ECDSA_P384_SHA384_FIXED_SIGNING,
        _ => &ECDSA_P256_SHA256_FIXED_SIGNING,
    }
}

/// An EC key in SEC1 form ("EC PRIVATE KEY") wrapped as PKCS#8 for the curve `oid` (ring
/// reads PKCS#8 only; a key of another curve then fails its length checks).
fn sec1_as_pkcs8(sec1: &[u8], curve: pkcs8::ObjectIdentifier) -> Option<Vec<u8>> {
    use pkcs8::der::Encode;
    const EC_PUBLIC_KEY: pkcs8::ObjectIdentifier =
        pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    let info = pkcs8::PrivateKeyInfo {
        algorithm: pkcs8::AlgorithmIdentifierRef {
            oid: EC_PUBLIC_KEY,
            parameters: Some(pkcs8::der::asn1::AnyRef::from(&curve)),
        },
        private_key: sec1,
        public_key: None,
    };
    info.to_der().ok()
}

const P256: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.132.0.34");

impl SigningKey {
    /// The key in PEM `text`: PKCS#8 ("PRIVATE KEY"), SEC1 ("EC PRIVATE KEY") or PKCS#1
    /// ("RSA PRIVATE KEY"); EC P-256, P-384, P-521 or RSA (2048 to 8192 bits).
    pub fn from_pem(text: &[u8]) -> Result<SigningKey, String> {
        let der = PrivateKeyDer::from_pem_slice(text).map_err(|_| {
            "not a PEM private key (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)".to_string()
        })?;
        let found = match &der {
            PrivateKeyDer::Pkcs8(k) => Self::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Sec1(k) => {
                let sec1 = k.secret_sec1_der();
                [(P256, KeyAlg::EcdsaP256), (P384, KeyAlg::EcdsaP384)]
                    .into_iter()
                    .find_map(|(oid, alg)| Self::ec(&sec1_as_pkcs8(sec1, oid)?, alg))
                    .or_else(|| Self::p521(&p521::SecretKey::from_sec1_der(sec1).ok()?))
            }
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der())
                .ok()
                .map(SigningKey::Rsa),
            _ => None,
        };
        found.ok_or_else(|| {
            "not an ECDSA P-256, P-384, P-521 or RSA (2048 to 8192 bits) private key".to_string()
        })
    }

    /// The key in PKCS#8 DER `der`, if it is one of the kinds ringway signs with.
    pub fn from_pkcs8(der: &[u8]) -> Option<SigningKey> {
        use p521::pkcs8::DecodePrivateKey as _;
        Self::ec(der, KeyAlg::EcdsaP256)
            .or_else(|| Self::ec(der, KeyAlg::EcdsaP384))
            .or_else(|| RsaKeyPair::from_pkcs8(der).ok().map(SigningKey::Rsa))
            .or_else(|| Self::p521(&p521::SecretKey::from_pkcs8_der(der).ok()?))
    }

    fn ec(pkcs8: &[u8], alg: KeyAlg) -> Option<SigningKey> {
        let pair = EcdsaKeyPair::from_pkcs8(ec_signing(alg), pkcs8, &SystemRandom::new()).ok()?;
        Some(SigningKey::Ec { pair, alg })
    }

    fn p521(key: &p521::SecretKey) -> Option<SigningKey> {
        let signing = p521::ecdsa::SigningKey::from_bytes(&key.to_bytes()).ok()?;
        Some(SigningKey::P521(Box::new(signing)))
    }

    /// The kind of key (for RSA, the modulus rounded to the sizes nginx names, else exact).
    pub fn kind(&self) -> KeyAlg {
        match self {
            SigningKey::Ec { alg, .. } => *alg,
            SigningKey::P521(_) => KeyAlg::EcdsaP521,
            SigningKey::Rsa(pair) => match pair.public().modulus_len() * 8 {
                ..=2048 => KeyAlg::Rsa2048,
                2049..=3072 => KeyAlg::Rsa3072,
                _ => KeyAlg::Rsa4096,
            },
        }
    }

    /// The JWS `alg` (RFC 7518 §3.1).
    pub fn jws_alg(&self) -> &'static str {
        match self {
            SigningKey::Ec { alg, .. } if *alg == KeyAlg::EcdsaP384 => "ES384",
            SigningKey::Ec { .. } => "ES256",
            SigningKey::P521(_) => "ES512",
            SigningKey::Rsa(_) => "RS256",
        }
    }

    /// The public key as a JWK (RFC 7517/7518 §6), members in lexicographic order: RFC 7638's
    /// thumbprint is the SHA-256 of exactly this text.
    pub fn jwk(&self) -> Value {
        let ec = |crv: &str, point: &[u8]| {
            // Uncompressed point: 0x04, then x and y of equal length.
            let (x, y) = point
                .get(1..)
                .unwrap_or_default()
                .split_at(point.len().saturating_sub(1) / 2);
            json!({"crv": crv, "kty": "EC", "x": b64(x), "y": b64(y)})
        };
        match self {
            SigningKey::Ec { pair, alg } => {
                let crv = if *alg == KeyAlg::EcdsaP384 {
                    "P-384"
                } else {
                    "P-256"
                };
                ec(crv, pair.public_key().as_ref())
            }
            SigningKey::P521(k) => ec(
                "P-521",
                p521::ecdsa::VerifyingKey::from(k.as_ref())
                    .to_encoded_point(false)
                    .as_bytes(),
            ),
            SigningKey::Rsa(pair) => {
                // Big-endian, without leading zeros (RFC 7518 §6.3.1).
                let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"e": b64(&public.e), "kty": "RSA", "n": b64(&public.n)})
            }
        }
    }

    /// The RFC 7638 thumbprint (key authorizations, RFC 8555 §8.1).
    pub fn thumbprint(&self) -> String {
        thumbprint_of(&self.jwk())
    }

    /// The JWS signature of `input`: r||s of fixed size for ECDSA (RFC 7518 §3.4), PKCS#1
    /// v1.5 with SHA-256 for RSA.
    pub fn sign(&self, rng: &SystemRandom, input: &[u8]) -> Result<Vec<u8>, String> {
        let fail = |_| "cannot sign an ACME request".to_string();
        match self {
            SigningKey::Ec { pair, .. } => {
                Ok(pair.sign(rng, input).map_err(fail)?.as_ref().to_vec())
            }
            SigningKey::P521(k) => {
                use p521::ecdsa::signature::Signer as _;
                let sig: p521::ecdsa::Signature = k.sign(input);
                Ok(sig.to_bytes().to_vec())
            }
            SigningKey::Rsa(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, rng, input, &mut sig)
                    .map_err(fail)?;
                Ok(sig)
            }
        }
    }
}

/// RFC 7638: the SHA-256 of the JWK's required members in lexicographic order, without
/// whitespace. Written out rather than serialised, whatever order serde_json's map keeps.
fn thumbprint_of(jwk: &Value) -> String {
    let m = |k: &str| jwk[k].as_str().unwrap_or_default();
    let text = if jwk["kty"] == "RSA" {
        format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, m("e"), m("n"))
    } else {
        format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            m("crv"),
            m("x"),
            m("y")
        )
    };
    b64(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
}

/// A fresh certificate key of `alg` for rcgen (CSR) and rustls (serving): ring signs with it,
/// so P-521 is not one (refused in the config).
pub fn certificate_key(alg: KeyAlg) -> Result<rcgen::KeyPair, String> {
    let der = generate_pkcs8(alg)?;
    rcgen::KeyPair::try_from(der.as_slice()).map_err(|e| format!("certificate key: {e}"))
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
