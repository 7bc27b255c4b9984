//! ACME Renewal Information (RFC 9773): when the issuer's directory has `renewalInfo`, the
//! server suggests a window in which to renew each certificate. The certificate's thread asks
//! for it (`GET renewalInfo/CERT-ID`, unauthenticated), picks a uniformly random time inside the
//! window (§4.2, so that many clients do not all renew at its start), asks again when the
//! server's `Retry-After` says (bounded to one minute .. one day), and renews when the chosen
//! time comes. The replacement's newOrder names the old certificate in `replaces` (§5).
//!
//! Without `renewalInfo`, or while the server's answer is unusable (an error, no window, an
//! end not after the start), the certificate is renewed at two thirds of its lifetime, as
//! before, and the reason is logged.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tracing::{info, warn};

use super::client::{Client, Refusal};
use super::jws::{AccountKey, b64};
use crate::config::acme::{AcmeCert, Issuer};

/// Bounds on how soon to ask again (RFC 9773 §4.3.2's example): a `Retry-After` under a
/// minute is read as a minute, one over a day as a day.
const MIN_CHECK: Duration = Duration::from_secs(60);
const MAX_CHECK: Duration = Duration::from_secs(24 * 3600);
/// When the server sends no `Retry-After` with a window (RFC 9773 suggests a few hours).
const DEFAULT_CHECK: Duration = Duration::from_secs(6 * 3600);

/// The certificate's ARI identifier (RFC 9773 §4.1): base64url of its Authority Key
/// Identifier's keyIdentifier, ".", base64url of its serial number's DER content bytes (the
/// leading zero byte of a serial with its top bit set included).
pub fn cert_id(leaf_der: &[u8]) -> Result<String, String> {
    let (_, leaf) = x509_parser::parse_x509_certificate(leaf_der)
        .map_err(|e| format!("the certificate does not parse: {e}"))?;
    let aki = leaf
        .iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0)
            }
            _ => None,
        })
        .ok_or("the certificate has no authority key identifier")?;
    Ok(id_of(aki, leaf.tbs_certificate.raw_serial()))
}

fn id_of(key_identifier: &[u8], serial: &[u8]) -> String {
    format!("{}.{}", b64(key_identifier), b64(serial))
}

/// The ARI identifier of the certificate stored for `cert`.
pub fn stored_cert_id(cert: &AcmeCert) -> Result<String, String> {
    let pem = std::fs::read(&cert.cert_path)
        .map_err(|e| format!("\"{}\": {e}", cert.cert_path.display()))?;
    let chain = crate::tls::certs::chain(&pem)
        .map_err(|e| format!("\"{}\": {e}", cert.cert_path.display()))?;
    cert_id(chain[0].as_ref())
}

/// The server's suggested renewal window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: SystemTime,
    pub end: SystemTime,
}

/// The window in a renewalInfo answer (RFC 9773 §4.2: `suggestedWindow` with RFC 3339
/// `start` and `end`, the end after the start).
pub fn parse_window(body: &[u8]) -> Result<Window, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let w = &v["suggestedWindow"];
    let at = |k: &str| -> Result<SystemTime, String> {
        let text = w[k]
            .as_str()
            .ok_or_else(|| format!("no suggestedWindow.{k}"))?;
        rfc3339(text).ok_or_else(|| format!("suggestedWindow.{k} is not an RFC 3339 time: {text}"))
    };
    let (start, end) = (at("start")?, at("end")?);
    if end <= start {
        return Err("suggestedWindow ends before it starts".into());
    }
    Ok(Window { start, end })
}

fn rfc3339(text: &str) -> Option<SystemTime> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(text, &Rfc3339).ok()?;
    let nanos = t.unix_timestamp_nanos();
    let abs = Duration::from_nanos(u64::try_from(nanos.unsigned_abs()).ok()?);
    if nanos >= 0 {
        UNIX_EPOCH.checked_add(abs)
    } else {
        UNIX_EPOCH.checked_sub(abs)
    }
}

/// A uniformly random time in `[start, end)`; `fraction` is a random value over the whole
/// `u64` range.
fn pick(w: &Window, fraction: u64) -> SystemTime {
    let span = w.end.duration_since(w.start).unwrap_or_default().as_nanos();
    // Without overflow for any window shorter than ~10^13 years; past that, its middle.
    let offset = span
        .checked_mul(u128::from(fraction))
        .map_or(span / 2, |x| x >> 64);
    w.start + Duration::from_nanos(u64::try_from(offset).unwrap_or(u64::MAX))
}

fn random_u64() -> u64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    // A failing system RNG leaves the window's start: still inside the window.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u64::from_le_bytes(b)
}

/// How soon to ask the server again after an answer with this `Retry-After`.
fn next_check(retry_after: Option<Duration>) -> Duration {
    retry_after
        .unwrap_or(DEFAULT_CHECK)
        .clamp(MIN_CHECK, MAX_CHECK)
}

/// Why a certificate is renewed when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A time chosen inside the server's renewalInfo window.
    ServerWindow,
    /// Two thirds of the lifetime (no renewalInfo, or none usable).
    TwoThirds,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::ServerWindow => "inside the ACME server's renewal window",
            Reason::TwoThirds => "two thirds of its lifetime",
        })
    }
}

/// What one certificate's thread knows of the server's renewal window for it.
pub struct Plan {
    /// The certificate the rest is about (a renewal changes it and starts over).
    id: Option<String>,
    window: Option<Window>,
    chosen: Option<SystemTime>,
    /// When to ask the server next (None: now).
    check_at: Option<SystemTime>,
    /// Failed checks in a row, for the backoff between them.
    failures: u32,
    /// The issuer's directory had no renewalInfo at the last look (logged once).
    unsupported_logged: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Self::new()
    }
}

impl Plan {
    pub fn new() -> Plan {
        Plan {
            id: None,
            window: None,
            chosen: None,
            check_at: None,
            failures: 0,
            unsupported_logged: false,
        }
    }

    /// When to renew the stored certificate for `cert`, whose two-thirds time is `fallback`,
    /// and why: asks the server first when a check is due.
    pub fn renew_at(
        &mut self,
        issuer: &Issuer,
        cert: &AcmeCert,
        fallback: SystemTime,
    ) -> (SystemTime, Reason) {
        let names = cert.names.join(", ");
        let id = match stored_cert_id(cert) {
            Ok(id) => id,
            Err(e) => {
                if self.id.is_some() || self.check_at.is_none() {
                    warn!(
                        "ACME: no renewalInfo identifier for {names} ({e}); renewing at two \
                         thirds of its lifetime"
                    );
                }
                *self = Plan {
                    check_at: Some(SystemTime::now() + MAX_CHECK),
                    ..Plan::new()
                };
                return (fallback, Reason::TwoThirds);
            }
        };
        if self.id.as_deref() != Some(id.as_str()) {
            *self = Plan {
                id: Some(id.clone()),
                unsupported_logged: self.unsupported_logged,
                ..Plan::new()
            };
        }
        let now = SystemTime::now();
        if self.check_at.is_none_or(|at| at <= now) {
            self.check(issuer, &names, &id, now);
        }
        match self.chosen {
            Some(t) => (t, Reason::ServerWindow),
            None => (fallback, Reason::TwoThirds),
        }
    }

    /// Asks the server for the window of certificate `id` and updates the plan.
    fn check(&mut self, issuer: &Issuer, names: &str, id: &str, now: SystemTime) {
        match ask(issuer, id) {
            Ok(Answer::Unsupported) => {
                if !self.unsupported_logged {
                    info!(
                        "ACME: issuer \"{}\" offers no renewalInfo (RFC 9773); {names} is \
                         renewed at two thirds of its lifetime",
                        issuer.name
                    );
                    self.unsupported_logged = true;
                }
                self.chosen = None;
                self.check_at = Some(now + MAX_CHECK);
            }
            Ok(Answer::Window(w, retry_after)) => {
                self.failures = 0;
                self.unsupported_logged = false;
                // The same window keeps its chosen time: asking again must not re-roll it
                // towards the start each time.
                if self.window != Some(w) || self.chosen.is_none() {
                    let t = pick(&w, random_u64());
                    info!(
                        "ACME: renewal window for {names} from the server: {} .. {}; renewing at \
                         {}",
                        httpdate::fmt_http_date(w.start),
                        httpdate::fmt_http_date(w.end),
                        httpdate::fmt_http_date(t)
                    );
                    self.window = Some(w);
                    self.chosen = Some(t);
                }
                self.check_at = Some(now + next_check(retry_after));
            }
            Err((e, retry_after)) => {
                // Exponential backoff from a minute, or the server's Retry-After, bounded.
                let backoff = MIN_CHECK * 2u32.saturating_pow(self.failures.min(11));
                let wait = next_check(Some(retry_after.unwrap_or(backoff)));
                self.failures += 1;
                let keep = if self.chosen.is_some() {
                    "keeping the time chosen before"
                } else {
                    "renewing at two thirds of its lifetime meanwhile"
                };
                warn!(
                    "ACME: renewalInfo for {names} from issuer \"{}\" unusable: {e}; {keep}; \
                     asking again in {wait:?}",
                    issuer.name
                );
                self.check_at = Some(now + wait);
            }
        }
    }
}

enum Answer {
    /// The directory has no renewalInfo.
    Unsupported,
    Window(Window, Option<Duration>),
}

fn ask(issuer: &Issuer, id: &str) -> Result<Answer, Refusal> {
    let key = AccountKey::for_issuer(issuer).map_err(|e| (e, None))?;
    let c = Client::connect(issuer, key)?;
    let Some(reply) = c.renewal_info(id) else {
        return Ok(Answer::Unsupported);
    };
    let super::client::RenewalInfo { body, retry_after } = reply?;
    let w = parse_window(&body).map_err(|e| {
        let text: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        (format!("{e} (answer: {})", text.trim()), retry_after)
    })?;
    Ok(Answer::Window(w, retry_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_as_rfc_9773_example() {
        // RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
        // serial 00:87:65:43:21 (a leading zero: the top bit of 0x87 is set).
        let aki = [
            0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0,
            0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4,
        ];
        let serial = [0x00, 0x87, 0x65, 0x43, 0x21];
        assert_eq!(id_of(&aki, &serial), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    }

    #[test]
    fn identifier_of_a_signed_certificate() {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyIdMethod, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_identifier_method = KeyIdMethod::PreSpecified(vec![7; 20]);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
        let mut leaf = CertificateParams::new(vec!["a.test".to_string()]).unwrap();
        leaf.use_authority_key_identifier_extension = true;
        leaf.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x00, 0x87, 0x65]));
        let leaf = leaf
            .signed_by(&KeyPair::generate().unwrap(), &issuer)
            .unwrap();
        assert_eq!(
            cert_id(leaf.der()).unwrap(),
            format!("{}.AIdl", b64(&[7; 20]))
        );
        // A certificate without an authority key identifier has none.
        assert!(cert_id(ca_cert.der()).is_err());
        assert!(cert_id(b"junk").is_err());
    }

    #[test]
    fn window_parsing() {
        let w = parse_window(
            br#"{"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00.5+00:00"},"explanationURL":"https://x"}"#,
        )
        .unwrap();
        assert_eq!(
            w.start.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_735_790_400
        );
        assert_eq!(
            w.end.duration_since(UNIX_EPOCH).unwrap().as_millis(),
            1_735_876_800_500
        );
        for bad in [
            &br#"{"suggestedWindow":{"start":"2025-01-03T04:00:00Z","end":"2025-01-02T04:00:00Z"}}"#[..],
            br#"{"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-02T04:00:00Z"}}"#,
            br#"{"suggestedWindow":{"start":"yesterday","end":"2025-01-02T04:00:00Z"}}"#,
            br#"{"suggestedWindow":{"start":"2025-01-02T04:00:00Z"}}"#,
            br#"{}"#,
            b"<html>",
        ] {
            assert!(parse_window(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn picked_time_is_inside_the_window() {
        let start = UNIX_EPOCH + Duration::from_secs(1000);
        let w = Window {
            start,
            end: start + Duration::from_secs(100),
        };
        assert_eq!(pick(&w, 0), start);
        assert_eq!(pick(&w, 1 << 63), start + Duration::from_secs(50));
        assert!(pick(&w, u64::MAX) < w.end);
        for _ in 0..100 {
            let t = pick(&w, random_u64());
            assert!(t >= w.start && t < w.end);
        }
    }

    #[test]
    fn checks_are_bounded() {
        assert_eq!(next_check(None), DEFAULT_CHECK);
        assert_eq!(next_check(Some(Duration::from_secs(1))), MIN_CHECK);
        assert_eq!(next_check(Some(Duration::from_secs(7 * 86400))), MAX_CHECK);
        assert_eq!(
            next_check(Some(Duration::from_secs(3600))),
            Duration::from_secs(3600)
        );
    }
}
