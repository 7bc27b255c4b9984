//! The ACME account key (ECDSA P-256) and the JWS that signs every request with it (RFC 8555
//! §6.2: ES256, `jwk` until the account exists, `kid` after).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub struct AccountKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl AccountKey {
    /// The key kept at `path` (PKCS#8 PEM), or a new one written there (mode 0600).
    pub fn load_or_create(path: &Path) -> Result<AccountKey, String> {
        // Threads ordering certificates from one issuer at once must not each make a key.
        static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = MAKING.lock().unwrap_or_else(|p| p.into_inner());
        let rng = SystemRandom::new();
        let pkcs8 = match std::fs::read(path) {
            Ok(text) => PrivatePkcs8KeyDer::from_pem_slice(&text)
                .map_err(|_| format!("account key \"{}\": not a PEM key", path.display()))?
                .secret_pkcs8_der()
                .to_vec(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| "cannot generate an account key".to_string())?;
                let pem = rcgen::KeyPair::try_from(doc.as_ref())
                    .map_err(|e| format!("cannot encode the account key: {e}"))?
                    .serialize_pem();
                super::store::write_private(path, pem.as_bytes())?;
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(format!("account key \"{}\": {e}", path.display())),
        };
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .map_err(|e| {
                format!(
                    "account key \"{}\": not an ECDSA P-256 key: {e}",
                    path.display()
                )
            })?;
        Ok(AccountKey { pair, rng })
    }

    /// The public key as a JWK (members in the order RFC 7638's thumbprint needs).
    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        // Uncompressed point: 0x04, then x and y, 32 bytes each.
        let (x, y) = point[1..].split_at(32);
        json!({"crv": "P-256", "kty": "EC", "x": b64(x), "y": b64(y)})
    }

    /// RFC 7638 thumbprint, for key authorizations (RFC 8555 §8.1).
    pub fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        // serde_json's map keeps insertion order here (preserve_order), which is the
        // lexicographic order the thumbprint requires.
        let text = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap_or_default(),
            jwk["y"].as_str().unwrap_or_default()
        );
        b64(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
    }

    /// A flattened JWS: `payload` None is POST-as-GET (empty payload).
    pub fn sign(
        &self,
        url: &str,
        nonce: &str,
        kid: Option<&str>,
        payload: Option<&Value>,
    ) -> Result<String, String> {
        let mut protected = json!({"alg": "ES256", "nonce": nonce, "url": url});
        match kid {
            Some(k) => protected["kid"] = Value::String(k.to_string()),
            None => protected["jwk"] = self.jwk(),
        }
        let protected = b64(protected.to_string().as_bytes());
        let payload = payload.map_or(String::new(), |p| b64(p.to_string().as_bytes()));
        let signing_input = format!("{protected}.{payload}");
        let sig = self
            .pair
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| "cannot sign an ACME request".to_string())?;
        Ok(
            json!({"protected": protected, "payload": payload, "signature": b64(sig.as_ref())})
                .to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trips_and_signs() {
        let dir = std::env::temp_dir().join(format!("ringway-jws-{}", std::process::id()));
        let path = dir.join("account.key");
        let a = AccountKey::load_or_create(&path).unwrap();
        let b = AccountKey::load_or_create(&path).unwrap();
        assert_eq!(a.thumbprint(), b.thumbprint());
        let jws: Value =
            serde_json::from_str(&a.sign("https://x/acct", "n1", None, None).unwrap()).unwrap();
        let protected = URL_SAFE_NO_PAD
            .decode(jws["protected"].as_str().unwrap())
            .unwrap();
        let p: Value = serde_json::from_slice(&protected).unwrap();
        assert_eq!(p["alg"], "ES256");
        assert_eq!(p["nonce"], "n1");
        assert_eq!(jws["payload"], "");
        // The signature verifies with the public key (fixed-size r||s, as JWS wants).
        let sig = URL_SAFE_NO_PAD
            .decode(jws["signature"].as_str().unwrap())
            .unwrap();
        let input = format!("{}.", jws["protected"].as_str().unwrap());
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            a.pair.public_key().as_ref(),
        )
        .verify(input.as_bytes(), &sig)
        .unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }
}
