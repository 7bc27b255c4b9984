//! TLS 1.3's suites with a key schedule that keys each HMAC once per secret.
//!
//! aws-lc's own HKDF (rustls's default for aws-lc) sets the HMAC key up again for every label it
//! expands: two extra SHA-384 blocks each time, about twenty times per handshake. rustls's
//! `HkdfUsingHmac` over an HMAC key made once (aws-lc-rs copies its prepared state for each
//! use) does the same work with half the hashing: callgrind counted a third of a full
//! handshake's instructions in SHA-384 before (docs/performance.md, "TLS").

use std::sync::OnceLock;

use rustls::crypto::hash::HashAlgorithm;
use rustls::crypto::hmac::{Hmac, Key, Tag};
use rustls::crypto::tls13::HkdfUsingHmac;
use rustls::{CipherSuiteCommon, SupportedCipherSuite, Tls13CipherSuite};

struct AwsLcHmac(&'static aws_lc_rs::hmac::Algorithm);

struct AwsLcHmacKey(aws_lc_rs::hmac::Key);

static HMAC_SHA256: AwsLcHmac = AwsLcHmac(&aws_lc_rs::hmac::HMAC_SHA256);
static HMAC_SHA384: AwsLcHmac = AwsLcHmac(&aws_lc_rs::hmac::HMAC_SHA384);
static HKDF_SHA256: HkdfUsingHmac<'static> = HkdfUsingHmac(&HMAC_SHA256);
static HKDF_SHA384: HkdfUsingHmac<'static> = HkdfUsingHmac(&HMAC_SHA384);

impl Hmac for AwsLcHmac {
    fn with_key(&self, key: &[u8]) -> Box<dyn Key> {
        Box::new(AwsLcHmacKey(aws_lc_rs::hmac::Key::new(*self.0, key)))
    }

    fn hash_output_len(&self) -> usize {
        self.0.digest_algorithm().output_len()
    }
}

impl Key for AwsLcHmacKey {
    fn sign_concat(&self, first: &[u8], middle: &[&[u8]], last: &[u8]) -> Tag {
        let mut ctx = aws_lc_rs::hmac::Context::with_key(&self.0);
        ctx.update(first);
        for m in middle {
            ctx.update(m);
        }
        ctx.update(last);
        Tag::new(ctx.sign().as_ref())
    }

    fn tag_len(&self) -> usize {
        self.0.algorithm().digest_algorithm().output_len()
    }
}

/// aws-lc's TLS 1.3 suites, in its order, each with the key schedule above.
pub fn tls13_suites() -> &'static [SupportedCipherSuite] {
    static SUITES: OnceLock<Vec<SupportedCipherSuite>> = OnceLock::new();
    SUITES.get_or_init(|| {
        rustls::crypto::aws_lc_rs::default_provider()
            .cipher_suites
            .iter()
            .filter_map(|s| match s {
                SupportedCipherSuite::Tls13(s) => Some(SupportedCipherSuite::Tls13(rekeyed(s))),
                SupportedCipherSuite::Tls12(_) => None,
            })
            .collect()
    })
}

/// One suite with the once-keyed HKDF; made once per process (three of them), so leaked.
fn rekeyed(s: &'static Tls13CipherSuite) -> &'static Tls13CipherSuite {
    let hkdf = match s.common.hash_provider.algorithm() {
        HashAlgorithm::SHA384 => &HKDF_SHA384,
        HashAlgorithm::SHA256 => &HKDF_SHA256,
        // A hash this code does not know: aws-lc's own key schedule.
        _ => return s,
    };
    Box::leak(Box::new(Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: s.common.suite,
            hash_provider: s.common.hash_provider,
            confidentiality_limit: s.common.confidentiality_limit,
        },
        hkdf_provider: hkdf,
        aead_alg: s.aead_alg,
        quic: s.quic,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The once-keyed schedule derives what aws-lc's own HKDF derives, for both hashes.
    #[test]
    fn derives_the_same_keys_as_aws_lc() {
        let theirs = rustls::crypto::aws_lc_rs::default_provider();
        for s in &theirs.cipher_suites {
            let SupportedCipherSuite::Tls13(theirs) = s else {
                continue;
            };
            let ours = rekeyed(theirs);
            assert!(!std::ptr::eq(ours, *theirs));
            let (a, b) = (ours.hkdf_provider, theirs.hkdf_provider);
            let salt = b"salt";
            let ikm = [7u8; 48];
            let ea = a.extract_from_secret(Some(salt), &ikm);
            let eb = b.extract_from_secret(Some(salt), &ikm);
            for info in [&b"tls13 c hs traffic"[..], b"", &[1u8; 200]] {
                assert_eq!(
                    ea.expand_block(&[info]).as_ref(),
                    eb.expand_block(&[info]).as_ref()
                );
            }
            let sa = a.hmac_sign(&a.extract_from_zero_ikm(None).expand_block(&[b"k"]), b"m");
            let sb = b.hmac_sign(&b.extract_from_zero_ikm(None).expand_block(&[b"k"]), b"m");
            assert_eq!(sa.as_ref(), sb.as_ref());
        }
        assert_eq!(tls13_suites().len(), 3);
    }
}
