//! External account binding (RFC 8555 §7.3.4): the JWS that newAccount carries to tie the new
//! account's key to an account the CA knows by `kid`, MACed with the key the CA handed out.

use ring::hmac;
use serde_json::{Value, json};

use super::jws::b64;
use crate::config::acme_proto::ExternalAccountKey;

/// The `externalAccountBinding` member: a flattened JWS whose protected header is {alg: HS256,
/// kid, url: the newAccount URL} (no nonce, §7.3.4), whose payload is the account's public key
/// (`jwk`), signed with HMAC-SHA256 under the MAC key.
pub fn binding(key: &ExternalAccountKey, new_account_url: &str, jwk: &Value) -> Value {
    let protected = json!({"alg": "HS256", "kid": key.kid, "url": new_account_url});
    let protected = b64(protected.to_string().as_bytes());
    let payload = b64(jwk.to_string().as_bytes());
    let mac = hmac::Key::new(hmac::HMAC_SHA256, &key.mac_key);
    let tag = hmac::sign(&mac, format!("{protected}.{payload}").as_bytes());
    json!({"protected": protected, "payload": payload, "signature": b64(tag.as_ref())})
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn field(jws: &Value, name: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(jws[name].as_str().unwrap()).unwrap()
    }

    #[test]
    fn binding_is_an_hs256_jws_over_the_jwk() {
        let key = ExternalAccountKey {
            kid: "kid-1".into(),
            mac_key: b"0123456789abcdef0123456789abcdef".to_vec(),
        };
        let jwk = json!({"crv": "P-256", "kty": "EC", "x": "AAA", "y": "BBB"});
        let jws = binding(&key, "https://ca.example/new-acct", &jwk);
        let header: Value = serde_json::from_slice(&field(&jws, "protected")).unwrap();
        assert_eq!(
            header,
            json!({"alg": "HS256", "kid": "kid-1", "url": "https://ca.example/new-acct"})
        );
        // RFC 8555 §7.3.4: no nonce in the inner JWS.
        assert!(header.get("nonce").is_none());
        let payload: Value = serde_json::from_slice(&field(&jws, "payload")).unwrap();
        assert_eq!(payload, jwk);
        // The tag verifies under the MAC key over "protected.payload", and not under another.
        let input = format!(
            "{}.{}",
            jws["protected"].as_str().unwrap(),
            jws["payload"].as_str().unwrap()
        );
        let sig = field(&jws, "signature");
        let right = hmac::Key::new(hmac::HMAC_SHA256, &key.mac_key);
        hmac::verify(&right, input.as_bytes(), &sig).unwrap();
        let wrong = hmac::Key::new(hmac::HMAC_SHA256, b"another key");
        assert!(hmac::verify(&wrong, input.as_bytes(), &sig).is_err());
    }
}
