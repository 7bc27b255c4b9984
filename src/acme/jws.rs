//! The ACME account key (`account_key`: ES256 by default, ES384, ES512 or RS256; keys.rs) and
//! the JWS that signs every request with it (RFC 8555 §6.2: `jwk` until the account exists,
//! `kid` after).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use serde_json::{Value, json};

use super::keys::{self, SigningKey};
use crate::config::acme::{AccountKeySource, Issuer, KeyAlg};

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub struct AccountKey {
    key: SigningKey,
    rng: SystemRandom,
}

/// The file under `state_path` that keeps a generated account key of `alg`: ES256's keeps its
/// first name (`account.key`); each other kind has its own, so that changing `account_key`
/// makes a new key (a new account) and changing it back finds the old one again.
pub fn generated_file(alg: KeyAlg) -> String {
    match alg {
        KeyAlg::EcdsaP256 => "account.key".into(),
        other => format!("account-{}.key", other.name().replace(':', "-")),
    }
}

impl AccountKey {
    /// The issuer's account key: its `account_key` file, or the generated key of its kind
    /// kept under `state_path` (made now, mode 0600, when there is none).
    pub fn for_issuer(issuer: &Issuer) -> Result<AccountKey, String> {
        match &issuer.account_key {
            AccountKeySource::File(path) => Self::from_file(path),
            AccountKeySource::Generated(alg) => {
                Self::load_or_create(&issuer.state_path.join(generated_file(*alg)), *alg)
            }
        }
    }

    /// An operator's key file (PEM), read and never written.
    pub fn from_file(path: &Path) -> Result<AccountKey, String> {
        let text =
            std::fs::read(path).map_err(|e| format!("account_key \"{}\": {e}", path.display()))?;
        let key = SigningKey::from_pem(&text)
            .map_err(|e| format!("account_key \"{}\": {e}", path.display()))?;
        Ok(AccountKey {
            key,
            rng: SystemRandom::new(),
        })
    }

    /// The key kept at `path` (PKCS#8 PEM), or a new one of `alg` written there (mode 0600).
    pub fn load_or_create(path: &Path, alg: KeyAlg) -> Result<AccountKey, String> {
        // Threads ordering certificates from one issuer at once must not each make a key.
        static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = MAKING.lock().unwrap_or_else(|p| p.into_inner());
        let key = match std::fs::read(path) {
            Ok(text) => SigningKey::from_pem(&text)
                .map_err(|e| format!("account key \"{}\": {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let der = keys::generate_pkcs8(alg)?;
                super::store::write_private(path, keys::pkcs8_pem(&der)?.as_bytes())?;
                SigningKey::from_pkcs8(&der)
                    .ok_or_else(|| format!("cannot read back a new {} key", alg.name()))?
            }
            Err(e) => return Err(format!("account key \"{}\": {e}", path.display())),
        };
        if key.kind() != alg {
            return Err(format!(
                "account key \"{}\": a {} key where account_key asks for {}",
                path.display(),
                key.kind().name(),
                alg.name()
            ));
        }
        Ok(AccountKey {
            key,
            rng: SystemRandom::new(),
        })
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        self.key.jwk()
    }

    /// RFC 7638 thumbprint, for key authorizations (RFC 8555 §8.1).
    pub fn thumbprint(&self) -> String {
        self.key.thumbprint()
    }

    /// A flattened JWS: `payload` None is POST-as-GET (empty payload).
    pub fn sign(
        &self,
        url: &str,
        nonce: &str,
        kid: Option<&str>,
        payload: Option<&Value>,
    ) -> Result<String, String> {
        let mut protected = json!({"alg": self.key.jws_alg(), "nonce": nonce, "url": url});
        match kid {
            Some(k) => protected["kid"] = Value::String(k.to_string()),
            None => protected["jwk"] = self.jwk(),
        }
        let protected = b64(protected.to_string().as_bytes());
        let payload = payload.map_or(String::new(), |p| b64(p.to_string().as_bytes()));
        let signing_input = format!("{protected}.{payload}");
        let sig = self.key.sign(&self.rng, signing_input.as_bytes())?;
        Ok(
            json!({"protected": protected, "payload": payload, "signature": b64(sig.as_ref())})
                .to_string(),
        )
    }
}
