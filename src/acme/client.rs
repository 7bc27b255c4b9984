//! A blocking ACME client (RFC 8555) for the ACME thread: directory, nonces, account, order,
//! HTTP-01 or TLS-ALPN-01 authorizations, finalize with a CSR, polling with backoff and
//! Retry-After, and the chain's download. Every failure carries the server's problem document.
//! The issuer's options: external account binding (`eab`), `profile` (`meta`), and the choice
//! among alternate chains (`chains`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tracing::{debug, info};

use super::answer;
use super::jws::{AccountKey, b64};
use super::meta::Meta;
use crate::config::acme::{AcmeCert, Challenge, Issuer};
use crate::config::acme_proto::IssuerProto;

/// How long one order may take, all polling included.
const ORDER_DEADLINE: Duration = Duration::from_secs(120);

pub struct Client {
    agent: ureq::Agent,
    new_nonce: String,
    new_account: String,
    new_order: String,
    /// The directory's `renewalInfo` (RFC 9773), if the server offers it.
    renewal_info: Option<String>,
    nonce: Option<String>,
    key: AccountKey,
    kid: Option<String>,
    /// The last error answer's Retry-After (a rate limit, RFC 8555 §6.6): the earliest time
    /// to try again.
    pub refused_for: Option<Duration>,
    /// The last error answer's problem type (`urn:ietf:params:acme:error:…`).
    refused_type: Option<String>,
    /// The directory's `meta` (external account binding required, profiles).
    meta: Meta,
    /// The issuer's name and its `external_account_key`, `preferred_chain`, `profile`.
    issuer_name: String,
    proto: IssuerProto,
}

struct Reply {
    status: u16,
    location: Option<String>,
    retry_after: Option<Duration>,
    /// The `Link` header values (alternate chains, RFC 8555 §7.4.2).
    links: Vec<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("ACME answer is not JSON: {e}"))
    }
}

/// An error and the server's Retry-After with it, if it sent one.
pub type Refusal = (String, Option<Duration>);

/// A renewalInfo answer (RFC 9773 §4.2) and its Retry-After.
pub struct RenewalInfo {
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
}

/// An issued certificate: the chain and its key, both PEM.
pub struct Issued {
    pub chain: String,
    pub key: String,
}

fn agent(issuer: &Issuer) -> Result<ureq::Agent, String> {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let mut tls = TlsConfig::builder().disable_verification(!issuer.verify);
    if let Some(path) = &issuer.trusted {
        let pem = std::fs::read(path)
            .map_err(|e| format!("ssl_trusted_certificate \"{}\": {e}", path.display()))?;
        let certs: Vec<Certificate<'static>> = crate::tls::certs::chain(&pem)
            .map_err(|e| format!("ssl_trusted_certificate \"{}\": {e}", path.display()))?
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        tls = tls.root_certs(RootCerts::new_with_certs(&certs));
    }
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(tls.build())
        .user_agent(concat!("ringway/", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(config.into())
}

fn header(r: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A problem document (RFC 7807) as one log-friendly line.
fn problem(url: &str, reply: &Reply) -> String {
    let text = String::from_utf8_lossy(&reply.body);
    let text: String = text.chars().take(1000).collect();
    // A pretty-printed document (pebble's) is joined into one line.
    let text: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    format!(
        "ACME server answered {} to {url}: {}",
        reply.status,
        text.join(" ")
    )
}

impl Client {
    /// Reads the issuer's directory. An error comes with the server's Retry-After, if any.
    pub fn connect(issuer: &Issuer, key: AccountKey) -> Result<Client, Refusal> {
        let agent = agent(issuer).map_err(|e| (e, None))?;
        let reply = get(&agent, &issuer.uri).map_err(|e| (e, None))?;
        if reply.status >= 400 {
            return Err((problem(&issuer.uri, &reply), reply.retry_after));
        }
        Self::from_directory(issuer, key, agent, &reply.body).map_err(|e| (e, None))
    }

    fn from_directory(
        issuer: &Issuer,
        key: AccountKey,
        agent: ureq::Agent,
        body: &[u8],
    ) -> Result<Client, String> {
        let dir: Value = serde_json::from_slice(body)
            .map_err(|e| format!("ACME directory {}: not JSON: {e}", issuer.uri))?;
        let url = |k: &str| {
            dir[k]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("ACME directory {} has no {k}", issuer.uri))
        };
        Ok(Client {
            new_nonce: url("newNonce")?,
            new_account: url("newAccount")?,
            new_order: url("newOrder")?,
            renewal_info: dir["renewalInfo"].as_str().map(str::to_string),
            meta: Meta::parse(&dir),
            issuer_name: issuer.name.clone(),
            proto: issuer.proto.clone(),
            agent,
            nonce: None,
            key,
            kid: None,
            refused_for: None,
            refused_type: None,
        })
    }

    /// The server's renewal information for certificate `id` (RFC 9773 §4.1, a plain GET):
    /// the answer's body and Retry-After, or None when the directory has no renewalInfo.
    pub fn renewal_info(&self, id: &str) -> Option<Result<RenewalInfo, Refusal>> {
        let base = self.renewal_info.as_deref()?;
        let url = format!("{}/{id}", base.trim_end_matches('/'));
        Some(match get(&self.agent, &url) {
            Ok(reply) if reply.status == 200 => Ok(RenewalInfo {
                body: reply.body,
                retry_after: reply.retry_after,
            }),
            Ok(reply) => Err((problem(&url, &reply), reply.retry_after)),
            Err(e) => Err((e, None)),
        })
    }

    fn fresh_nonce(&mut self) -> Result<String, String> {
        if let Some(n) = self.nonce.take() {
            return Ok(n);
        }
        let r = self
            .agent
            .head(&self.new_nonce)
            .call()
            .map_err(|e| format!("ACME newNonce: {e}"))?;
        header(&r, "replay-nonce").ok_or_else(|| "ACME newNonce: no Replay-Nonce".to_string())
    }

    /// A signed POST (`payload` None: POST-as-GET); a `badNonce` answer is retried (twice)
    /// with the nonce it carries, as RFC 8555 §6.5 expects.
    fn post(&mut self, url: &str, payload: Option<&Value>) -> Result<Reply, String> {
        for attempt in 0..3 {
            let nonce = self.fresh_nonce()?;
            let body = self.key.sign(url, &nonce, self.kid.as_deref(), payload)?;
            let mut r = self
                .agent
                .post(url)
                .header("Content-Type", "application/jose+json")
                .send(body)
                .map_err(|e| format!("ACME {url}: {e}"))?;
            self.nonce = header(&r, "replay-nonce");
            let reply = Reply {
                status: r.status().as_u16(),
                location: header(&r, "location"),
                retry_after: header(&r, "retry-after").and_then(|v| retry_after(&v)),
                links: r
                    .headers()
                    .get_all("link")
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_string))
                    .collect(),
                body: r
                    .body_mut()
                    .read_to_vec()
                    .map_err(|e| format!("ACME {url}: {e}"))?,
            };
            if reply.status < 400 {
                // An earlier refusal (alreadyReplaced, then ordered again) is no longer the
                // last word on when to retry.
                self.refused_for = None;
                return Ok(reply);
            }
            let bad_nonce = reply
                .json()
                .ok()
                .and_then(|p| p["type"].as_str().map(|t| t.ends_with(":badNonce")))
                .unwrap_or(false);
            if !(bad_nonce && attempt < 2) {
                self.refused_for = reply.retry_after;
                self.refused_type = reply
                    .json()
                    .ok()
                    .and_then(|p| p["type"].as_str().map(str::to_string));
                return Err(problem(url, &reply));
            }
            debug!("ACME badNonce at {url}: retrying with a fresh nonce");
        }
        Err(format!("ACME {url}: badNonce three times"))
    }

    /// Finds or creates the account (RFC 8555 §7.3); its URL signs every later request.
    pub fn account(&mut self, issuer: &Issuer) -> Result<(), String> {
        let mut payload = json!({"termsOfServiceAgreed": issuer.accept_tos});
        if !issuer.contact.is_empty() {
            payload["contact"] = json!(issuer.contact);
        }
        let url = self.new_account.clone();
        match &issuer.proto.eab {
            Some(eab) => {
                payload["externalAccountBinding"] = super::eab::binding(eab, &url, &self.key.jwk())
            }
            None if self.meta.eab_required => {
                return Err(format!(
                    "ACME server {} requires an external account binding \
                     (meta.externalAccountRequired) and issuer \"{}\" has no \
                     external_account_key",
                    issuer.uri, issuer.name
                ));
            }
            None => {}
        }
        let reply = self.post(&url, Some(&payload))?;
        let kid = reply
            .location
            .ok_or_else(|| "ACME newAccount: no Location".to_string())?;
        debug!("ACME account {kid}");
        self.kid = Some(kid);
        Ok(())
    }

    /// Runs one order to its end and downloads the chain. `replaces`: the ARI identifier of
    /// the certificate this one renews (sent where the server offers renewalInfo, RFC 9773 §5).
    pub fn issue(&mut self, cert: &AcmeCert, replaces: Option<&str>) -> Result<Issued, String> {
        let deadline = Instant::now() + ORDER_DEADLINE;
        let reply = self.new_order(cert, replaces)?;
        let order_url = reply
            .location
            .clone()
            .ok_or_else(|| "ACME newOrder: no Location".to_string())?;
        let order = reply.json()?;
        info!(
            "ACME order {order_url} for {}: {}",
            cert.names.join(", "),
            order["status"]
        );
        for authz in order["authorizations"].as_array().into_iter().flatten() {
            let Some(authz) = authz.as_str() else {
                continue;
            };
            self.authorize(authz, cert.challenge, deadline)?;
        }
        let (key_pem, public, csr) = csr(cert)?;
        let finalize = order["finalize"]
            .as_str()
            .ok_or_else(|| "ACME order has no finalize URL".to_string())?
            .to_string();
        let order = self
            .post(&finalize, Some(&json!({"csr": b64(&csr)})))?
            .json()?;
        let order = if order["status"] == "valid" {
            order
        } else {
            self.poll(&order_url, deadline, &["valid"], &["invalid"])?
        };
        let cert_url = order["certificate"]
            .as_str()
            .ok_or_else(|| "ACME order is valid but names no certificate".to_string())?
            .to_string();
        let reply = self.post(&cert_url, None)?;
        let alternates = super::chains::alternates(&reply.links, &cert_url);
        let chain = String::from_utf8(reply.body)
            .map_err(|_| "ACME certificate is not PEM text".to_string())?;
        let chain = match self.proto.preferred_chain.clone() {
            Some(name) => super::chains::choose(&name, chain, &alternates, |url| {
                let alt = self.post(url, None)?;
                String::from_utf8(alt.body).map_err(|_| "not PEM text".to_string())
            }),
            None => chain,
        };
        // A chain that does not fit the key would fail the reload that swaps it in (and every
        // reload after it, keeping the running config): checked before it is stored.
        let certs = crate::tls::certs::chain(chain.as_bytes())
            .map_err(|e| format!("ACME certificate: {e}"))?;
        let leaf_public = x509_parser::parse_x509_certificate(certs[0].as_ref())
            .map(|(_, leaf)| leaf.public_key().subject_public_key.data.to_vec())
            .map_err(|e| format!("ACME certificate: {e}"))?;
        if leaf_public != public {
            return Err("ACME certificate: its public key is not the one in the CSR".into());
        }
        Ok(Issued {
            chain,
            key: key_pem,
        })
    }

    /// newOrder for every identifier of `cert`. A server that says the certificate named in
    /// `replaces` was replaced already (RFC 9773 §5: `alreadyReplaced`) gets the order again
    /// without it: the certificate is still wanted.
    fn new_order(&mut self, cert: &AcmeCert, replaces: Option<&str>) -> Result<Reply, String> {
        let ids: Vec<Value> = cert
            .names
            .iter()
            .map(|n| json!({"type": "dns", "value": n}))
            .collect();
        let mut payload = json!({"identifiers": ids});
        let profile = self
            .meta
            .order_profile(self.proto.profile.as_ref(), &self.issuer_name)?
            .map(str::to_string);
        if let Some(p) = &profile {
            payload["profile"] = json!(p);
        }
        let replaces = replaces.filter(|_| self.renewal_info.is_some());
        if let Some(old) = replaces {
            payload["replaces"] = json!(old);
        }
        let url = self.new_order.clone();
        match self.post(&url, Some(&payload)) {
            Err(e)
                if replaces.is_some()
                    && self
                        .refused_type
                        .as_deref()
                        .is_some_and(|t| t.ends_with(":alreadyReplaced")) =>
            {
                info!("{e}; ordering again without \"replaces\"");
                if let Some(p) = payload.as_object_mut() {
                    p.remove("replaces");
                }
                self.post(&url, Some(&payload))
            }
            other => other,
        }
    }

    /// One authorization: answers its challenge of type `kind` and waits until it is valid.
    fn authorize(&mut self, url: &str, kind: Challenge, deadline: Instant) -> Result<(), String> {
        let kind_name = kind.acme_type();
        let authz = self.post(url, None)?.json()?;
        let name = authz["identifier"]["value"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        if authz["status"] == "valid" {
            debug!("ACME authorization for {name} already valid");
            return Ok(());
        }
        let ch = authz["challenges"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == kind_name)
            .ok_or_else(|| format!("ACME offers no {kind_name} challenge for {name}"))?;
        let token = ch["token"]
            .as_str()
            .filter(|t| {
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .ok_or_else(|| format!("ACME {kind_name} challenge for {name} has no usable token"))?
            .to_string();
        let ch_url = ch["url"]
            .as_str()
            .ok_or_else(|| format!("ACME {kind_name} challenge for {name} has no URL"))?
            .to_string();
        let published = answer::publish(
            kind,
            &name,
            &token,
            format!("{token}.{}", self.key.thumbprint()),
        )?;
        let result = self.post(&ch_url, Some(&json!({}))).and_then(|_| {
            self.poll(
                url,
                deadline,
                &["valid"],
                &["invalid", "deactivated", "expired", "revoked"],
            )
        });
        drop(published);
        match result {
            Ok(_) => {
                info!("ACME: {name} validated ({kind_name})");
                Ok(())
            }
            Err(e) => Err(format!("ACME: validation of {name} failed: {e}")),
        }
    }

    /// POST-as-GET `url` until its status is one of `done` (Ok) or `failed` (Err with the
    /// object, which holds the problem), backing off from 100 ms to 5 s, or as Retry-After
    /// says.
    fn poll(
        &mut self,
        url: &str,
        deadline: Instant,
        done: &[&str],
        failed: &[&str],
    ) -> Result<Value, String> {
        let mut wait = Duration::from_millis(100);
        loop {
            let reply = self.post(url, None)?;
            let v = reply.json()?;
            let status = v["status"].as_str().unwrap_or("");
            if done.contains(&status) {
                return Ok(v);
            }
            if failed.contains(&status) {
                return Err(format!("{url} is {status}: {v}"));
            }
            let pause = reply
                .retry_after
                .unwrap_or(wait)
                .min(Duration::from_secs(60));
            if Instant::now() + pause > deadline {
                return Err(format!("{url} still {status} after {ORDER_DEADLINE:?}"));
            }
            std::thread::sleep(pause);
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

/// A plain GET (the directory, renewalInfo).
fn get(agent: &ureq::Agent, url: &str) -> Result<Reply, String> {
    let mut r = agent
        .get(url)
        .call()
        .map_err(|e| format!("ACME {url}: {e}"))?;
    Ok(Reply {
        status: r.status().as_u16(),
        location: None,
        retry_after: header(&r, "retry-after").and_then(|v| retry_after(&v)),
        links: Vec::new(),
        body: r
            .body_mut()
            .read_to_vec()
            .map_err(|e| format!("ACME {url}: {e}"))?,
    })
}

/// Retry-After in seconds (the HTTP-date form is rare from ACME servers).
fn retry_after(v: &str) -> Option<Duration> {
    if let Ok(s) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let when = httpdate::parse_http_date(v.trim()).ok()?;
    when.duration_since(std::time::SystemTime::now()).ok()
}

/// A fresh key for the certificate (PEM, and its raw public key: the EC point, or RSA's
/// PKCS#1 public key) and a CSR naming every identifier.
fn csr(cert: &AcmeCert) -> Result<(String, Vec<u8>, Vec<u8>), String> {
    let key = super::keys::certificate_key(cert.key)?;
    let params = rcgen::CertificateParams::new(cert.names.clone())
        .map_err(|e| format!("CSR for {}: {e}", cert.names.join(", ")))?;
    let csr = params
        .serialize_request(&key)
        .map_err(|e| format!("CSR for {}: {e}", cert.names.join(", ")))?;
    Ok((
        key.serialize_pem(),
        key.public_key_raw().to_vec(),
        csr.der().to_vec(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("soon"), None);
    }
}
