//! A challenge's answer, published where the issuer's challenge type is answered (HTTP-01:
//! `challenge`, TLS-ALPN-01: `tls_alpn`) while the ACME server validates, and withdrawn when
//! the guard drops, however the validation ends.

use super::{challenge, tls_alpn};
use crate::config::acme::Challenge;

pub struct Published {
    kind: Challenge,
    token: String,
}

/// Publishes the key authorization of challenge `token` for identifier `name`.
pub fn publish(
    kind: Challenge,
    name: &str,
    token: &str,
    key_authorization: String,
) -> Result<Published, String> {
    match kind {
        Challenge::Http01 => challenge::publish(token, key_authorization),
        Challenge::TlsAlpn01 => tls_alpn::publish(name, token, &key_authorization)?,
    }
    Ok(Published {
        kind,
        token: token.to_string(),
    })
}

impl Drop for Published {
    fn drop(&mut self) {
        match self.kind {
            Challenge::Http01 => challenge::withdraw(&self.token),
            Challenge::TlsAlpn01 => tls_alpn::withdraw(&self.token),
        }
    }
}
