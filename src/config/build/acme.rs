//! nginx's ngx_http_acme_module directives: `acme_issuer` blocks, `acme_certificate` in a
//! server, and `ssl_certificate $acme_certificate` / `ssl_certificate_key
//! $acme_certificate_key`. What this slice does not do is refused here with "not supported
//! yet", never ignored.

use std::path::PathBuf;

use super::Builder;
use super::args::{arg_err, flag_arg, set_once};
use crate::config::acme::{AccountKeySource, Acme, AcmeCert, Challenge, Issuer, KeyAlg};
use crate::config::error::{Pos, Result};
use crate::config::parser::Directive;
use crate::config::tls::ServerTls;

/// What `ssl_certificate $acme_certificate` is held as until the server's files are known.
pub(super) const CERT_VAR: &str = "$acme_certificate";
pub(super) const KEY_VAR: &str = "$acme_certificate_key";

impl Builder {
    /// `acme_issuer NAME { … }`.
    pub(super) fn acme_issuer(&mut self, d: &Directive, acme: &mut Acme) -> Result<()> {
        let name = d.args[0].value.clone();
        if let Some(first) = acme.issuers.iter().find(|i| i.name == name) {
            return Err(d.pos.err(format!(
                "duplicate acme_issuer \"{name}\" (first defined at {})",
                first.at
            )));
        }
        let (mut uri, mut state, mut tos, mut trusted, mut verify) = (None, None, None, None, None);
        let mut contact = Vec::new();
        let mut account_key = None;
        let mut challenge = None;
        let mut proto = crate::config::acme_proto::IssuerProto::default();
        for c in d.block.as_deref().unwrap_or_default() {
            let one = |c: &Directive| -> Result<()> {
                if c.args.len() != 1 {
                    return Err(c.pos.err(format!(
                        "invalid number of arguments in \"{}\" directive",
                        c.name
                    )));
                }
                Ok(())
            };
            match c.name.as_str() {
                "uri" => {
                    one(c)?;
                    let u = &c.args[0];
                    if !(u.value.starts_with("https://") || u.value.starts_with("http://")) {
                        return Err(arg_err(u, c, "expected an http:// or https:// URL"));
                    }
                    set_once(&mut uri, c, u.value.clone())?
                }
                "account_key" => {
                    one(c)?;
                    let source = super::acme_keys::account_key(&self.base_dir, &c.args[0])?;
                    set_once(&mut account_key, c, source)?
                }
                "challenge" => {
                    one(c)?;
                    match c.args[0].value.as_str() {
                        "http" | "http-01" => set_once(&mut challenge, c, Challenge::Http01)?,
                        "tls-alpn" | "tls-alpn-01" => {
                            set_once(&mut challenge, c, Challenge::TlsAlpn01)?
                        }
                        _ => {
                            return Err(arg_err(
                                &c.args[0],
                                c,
                                "expected http, http-01, tls-alpn or tls-alpn-01",
                            ));
                        }
                    }
                }
                "contact" => {
                    one(c)?;
                    let v = &c.args[0].value;
                    // nginx takes a bare address as mailto:.
                    contact.push(if v.contains(':') {
                        v.clone()
                    } else {
                        format!("mailto:{v}")
                    });
                }
                "state_path" => {
                    one(c)?;
                    // `off`: a private directory of this process (acme/private_state.rs).
                    if c.args[0].value == "off" {
                        let p = crate::acme::private_state::root().join(format!("acme_{name}"));
                        set_once(&mut state, c, (p, true))?;
                        continue;
                    }
                    let p = self.base_dir.join(&c.args[0].value);
                    set_once(&mut state, c, (std::path::absolute(&p).unwrap_or(p), false))?
                }
                "accept_terms_of_service" => {
                    if !c.args.is_empty() {
                        return Err(c.pos.err(
                            "invalid number of arguments in \"accept_terms_of_service\" directive",
                        ));
                    }
                    set_once(&mut tos, c, true)?
                }
                "ssl_trusted_certificate" => {
                    one(c)?;
                    let p = self.base_dir.join(&c.args[0].value);
                    set_once(&mut trusted, c, std::path::absolute(&p).unwrap_or(p))?
                }
                "ssl_verify" => {
                    one(c)?;
                    set_once(&mut verify, c, flag_arg(c, &c.args[0])?)?
                }
                "external_account_key" | "preferred_chain" | "profile" => {
                    super::acme_proto::issuer_option(c, &self.base_dir, &mut proto)?
                }
                other => {
                    return Err(c
                        .pos
                        .err(format!("unknown directive \"{other}\" in acme_issuer")));
                }
            }
        }
        let Some(uri) = uri else {
            return Err(d.pos.err(format!("acme_issuer \"{name}\" has no \"uri\"")));
        };
        let (state_path, state_off) = match state {
            Some(p) => p,
            None => {
                let p = self.base_dir.join(format!("acme_{name}"));
                (std::path::absolute(&p).unwrap_or(p), false)
            }
        };
        acme.issuers.push(Issuer {
            name,
            uri,
            contact,
            state_path,
            state_off,
            account_key: account_key.unwrap_or(AccountKeySource::Generated(KeyAlg::EcdsaP256)),
            accept_tos: tos.unwrap_or(false),
            trusted,
            verify: verify.unwrap_or(true),
            challenge: challenge.unwrap_or_default(),
            proto,
            at: d.pos.short(),
        });
        Ok(())
    }
}

/// A server's `acme_certificate ISSUER [names…] [key=…]`, checked against the issuers and the
/// server's names; the files it names replace `$acme_certificate` in `tls`.
pub(super) fn server_certificate(
    d: &Directive,
    acme: &mut Acme,
    server: usize,
    server_names: &[String],
    tls: &mut ServerTls,
) -> Result<()> {
    let issuer_name = &d.args[0].value;
    let Some(issuer) = acme.issuers.iter().position(|i| &i.name == issuer_name) else {
        return Err(d.args[0]
            .pos
            .err(format!("unknown acme_issuer \"{issuer_name}\"")));
    };
    let mut key = KeyAlg::EcdsaP256;
    let mut names = Vec::new();
    for a in &d.args[1..] {
        if let Some(k) = a.value.strip_prefix("key=") {
            key = super::acme_keys::certificate_key(a, k)?;
        } else {
            names.push((a.value.to_ascii_lowercase(), &a.pos));
        }
    }
    if names.is_empty() {
        names = server_names
            .iter()
            .filter(|n| !n.is_empty() && !n.starts_with('~') && *n != "_")
            .map(|n| (n.to_ascii_lowercase(), &d.pos))
            .collect();
    }
    if names.is_empty() {
        return Err(d.pos.err(
            "acme_certificate has no identifiers: give them, or server_name entries \
             (regular expressions and \"_\" do not count)",
        ));
    }
    let challenge = acme.issuers[issuer].challenge;
    for (n, pos) in &names {
        if n.starts_with('*') || n.starts_with('.') {
            let why = match challenge {
                Challenge::Http01 => "the http challenge (HTTP-01) cannot validate it",
                Challenge::TlsAlpn01 => {
                    "the tls-alpn challenge cannot validate it (RFC 8737 forbids wildcard \
                     identifiers with TLS-ALPN-01)"
                }
            };
            return Err(pos.err(format!(
                "acme_certificate: wildcard \"{n}\" of issuer \"{issuer_name}\": {why}"
            )));
        }
        let ok = n
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !ok {
            return Err(pos.err(format!(
                "acme_certificate: \"{n}\" is not a DNS name ACME can issue for"
            )));
        }
    }
    let state = &acme.issuers[issuer].state_path;
    let first = names[0].0.clone();
    let (cert_path, key_path) = files(state, &first);
    for pair in &mut tls.certificates {
        if pair.cert.as_os_str() == CERT_VAR {
            pair.cert = cert_path.clone();
        }
        if pair.key.as_os_str() == KEY_VAR {
            pair.key = key_path.clone();
        }
    }
    acme.certificates.push(AcmeCert {
        issuer,
        names: names.into_iter().map(|(n, _)| n).collect(),
        key,
        challenge,
        server,
        cert_path,
        key_path,
        at: d.pos.short(),
    });
    Ok(())
}

/// Where the certificate named by its first identifier is kept.
fn files(state: &std::path::Path, first: &str) -> (PathBuf, PathBuf) {
    let dir = state.join("certificates");
    (
        dir.join(format!("{first}.crt")),
        dir.join(format!("{first}.key")),
    )
}

/// A TLS server still naming `$acme_certificate` has no `acme_certificate`: an error there.
/// A plain server that inherited it uses no certificate: the pair is dropped.
pub(super) fn check_unresolved(tls: &mut ServerTls, is_tls: bool, pos: &Pos) -> Result<()> {
    let is_var = |p: &crate::config::tls::CertPair| {
        p.cert.as_os_str() == CERT_VAR || p.key.as_os_str() == KEY_VAR
    };
    if !is_tls {
        tls.certificates.retain(|p| !is_var(p));
        return Ok(());
    }
    match tls.certificates.iter().find(|p| is_var(p)) {
        Some(p) => Err(pos.err(format!(
            "this server's certificate ({}) names $acme_certificate / $acme_certificate_key \
             but the server has no \"acme_certificate\"",
            p.at
        ))),
        None => Ok(()),
    }
}
