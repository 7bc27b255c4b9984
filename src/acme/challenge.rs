//! HTTP-01 answers (RFC 8555 §8.3): the ACME thread publishes `token → key authorization`
//! here while a challenge is pending; every shard answers
//! `GET /.well-known/acme-challenge/TOKEN` from it before any location of the config.
//!
//! One process-wide read-mostly table rather than a copy per shard sent by message: only
//! requests under the challenge prefix ever read it (an ordinary request pays one prefix
//! comparison and touches nothing shared), it changes a few times per issuance, and a
//! challenge published here is visible to every shard at once, with no window where the
//! validation request lands on a shard that has not received its copy yet.

use std::sync::RwLock;

pub const PREFIX: &[u8] = b"/.well-known/acme-challenge/";

/// (token, key authorization) of each pending challenge.
static PENDING: RwLock<Vec<(String, String)>> = RwLock::new(Vec::new());

/// The key authorization for a request target under `PREFIX`, if a challenge with that
/// token is pending.
pub fn answer(target: &[u8]) -> Option<String> {
    let token = target.strip_prefix(PREFIX)?;
    let token = token.split(|&b| b == b'?').next().unwrap_or(token);
    let pending = PENDING.read().ok()?;
    pending
        .iter()
        .find(|(t, _)| t.as_bytes() == token)
        .map(|(_, k)| k.clone())
}

pub fn publish(token: &str, key_authorization: String) {
    if let Ok(mut p) = PENDING.write() {
        p.retain(|(t, _)| t != token);
        p.push((token.to_string(), key_authorization));
    }
}

pub fn withdraw(token: &str) {
    if let Ok(mut p) = PENDING.write() {
        p.retain(|(t, _)| t != token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_published_tokens() {
        publish("tok-A", "tok-A.thumb".into());
        assert_eq!(
            answer(b"/.well-known/acme-challenge/tok-A").as_deref(),
            Some("tok-A.thumb")
        );
        assert_eq!(answer(b"/.well-known/acme-challenge/tok-B"), None);
        assert_eq!(answer(b"/.well-known/acme-challenge/"), None);
        assert_eq!(answer(b"/other/tok-A"), None);
        withdraw("tok-A");
        assert_eq!(answer(b"/.well-known/acme-challenge/tok-A"), None);
    }
}
