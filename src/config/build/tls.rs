//! ngx_http_ssl_module's `ssl_*` (http and server level) and ngx_http_proxy_module's
//! `proxy_ssl_*` (http, server, location): what one level sets, nginx's merge, the model they
//! give and the checks nginx makes on the merged settings.
//!
//! Only paths are stored (made absolute from the main file's folder); the TLS layer reads the
//! files. `ssl_session_ticket_key` is the exception: its size is checked here, as nginx does.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::ciphers;
use crate::config::error::{Pos, Result};
use crate::config::parser::{Arg, Directive};
use crate::config::tls::*;
use crate::config::values::{has_variables, parse_num};

use super::*;

/// What one level sets of `ssl_*`; None = inherit. Lists (certificates, keys, ticket keys)
/// replace the parent's whole list, as nginx merges them.
#[derive(Debug, Default, Clone)]
pub(super) struct SslLayer {
    /// `ssl on|off` (removed in nginx 1.25): every listen of the server is TLS.
    pub(super) on: Option<bool>,
    certs: Option<Vec<(PathBuf, Pos)>>,
    keys: Option<Vec<PathBuf>>,
    protocols: Option<Protocols>,
    ciphers: Option<Ciphers>,
    prefer: Option<bool>,
    curves: Option<Option<Vec<Curve>>>,
    session_cache: Option<SessionCache>,
    session_timeout: Option<Duration>,
    tickets: Option<bool>,
    ticket_keys: Option<Vec<FileAt>>,
    stapling: Option<(bool, Pos)>,
    stapling_file: Option<FileAt>,
    verify: Option<(VerifyClient, Pos)>,
    client_cert: Option<FileAt>,
    trusted: Option<FileAt>,
    depth: Option<u32>,
    crl: Option<FileAt>,
    reject: Option<bool>,
    early: Option<bool>,
    buffer: Option<usize>,
    handshake_timeout: Option<Duration>,
    password_file: Option<FileAt>,
}

/// What one level sets of `proxy_ssl_*`; None = inherit.
#[derive(Debug, Default, Clone)]
pub(super) struct ProxySslLayer {
    verify: Option<(bool, Pos)>,
    trusted: Option<FileAt>,
    depth: Option<u32>,
    server_name: Option<bool>,
    name: Option<String>,
    protocols: Option<Protocols>,
    ciphers: Option<Ciphers>,
    cert: Option<(PathBuf, Pos)>,
    key: Option<PathBuf>,
    password_file: Option<FileAt>,
    session_reuse: Option<bool>,
    crl: Option<FileAt>,
}

/// `child` where it is set, else `parent`.
fn or<T: Clone>(child: &Option<T>, parent: &Option<T>) -> Option<T> {
    child.clone().or_else(|| parent.clone())
}

/// The defaults ringway's builder gives (nginx's strings evaluated in OpenSSL's order).
pub(crate) fn default_server_tls() -> ServerTls {
    ServerTls {
        ciphers: default_ciphers(DEFAULT_CIPHERS),
        ..ServerTls::default()
    }
}

pub(crate) fn default_proxy_tls() -> ProxyTls {
    ProxyTls {
        ciphers: default_ciphers("DEFAULT"),
        ..ProxyTls::default()
    }
}

fn default_ciphers(text: &str) -> Ciphers {
    let tls12 = ciphers::evaluate(text)
        .map(|s| s.tls12)
        .unwrap_or_else(|_| ALL_TLS12.to_vec());
    Ciphers {
        written: text.into(),
        tls12,
    }
}

impl SslLayer {
    /// nginx's merge of this (server) level over `parent` (http).
    pub(super) fn over(&self, parent: &SslLayer) -> SslLayer {
        SslLayer {
            on: or(&self.on, &parent.on),
            certs: or(&self.certs, &parent.certs),
            keys: or(&self.keys, &parent.keys),
            protocols: or(&self.protocols, &parent.protocols),
            ciphers: or(&self.ciphers, &parent.ciphers),
            prefer: or(&self.prefer, &parent.prefer),
            curves: or(&self.curves, &parent.curves),
            session_cache: or(&self.session_cache, &parent.session_cache),
            session_timeout: or(&self.session_timeout, &parent.session_timeout),
            tickets: or(&self.tickets, &parent.tickets),
            ticket_keys: or(&self.ticket_keys, &parent.ticket_keys),
            stapling: or(&self.stapling, &parent.stapling),
            stapling_file: or(&self.stapling_file, &parent.stapling_file),
            verify: or(&self.verify, &parent.verify),
            client_cert: or(&self.client_cert, &parent.client_cert),
            trusted: or(&self.trusted, &parent.trusted),
            depth: or(&self.depth, &parent.depth),
            crl: or(&self.crl, &parent.crl),
            reject: or(&self.reject, &parent.reject),
            early: or(&self.early, &parent.early),
            buffer: or(&self.buffer, &parent.buffer),
            handshake_timeout: or(&self.handshake_timeout, &parent.handshake_timeout),
            password_file: or(&self.password_file, &parent.password_file),
        }
    }

    /// The model of a merged layer. `header_timeout` is the server's `client_header_timeout`,
    /// which bounds the handshake in nginx (`ssl_handshake_timeout` is ringway's own).
    /// Checks what nginx checks when it merges: every certificate has its key; a client
    /// certificate demand has a CA to check it against (`tls_server`: the server speaks TLS).
    pub(super) fn model(&self, header_timeout: Duration, tls_server: bool) -> Result<ServerTls> {
        let d = default_server_tls();
        let certs = self.certs.as_deref().unwrap_or_default();
        let keys = self.keys.as_deref().unwrap_or_default();
        if let Some((cert, pos)) = certs.get(keys.len()) {
            return Err(pos.err(format!(
                "no \"ssl_certificate_key\" is defined for certificate \"{}\"",
                cert.display()
            )));
        }
        let certificates = certs
            .iter()
            .zip(keys)
            .map(|((cert, pos), key)| CertPair {
                cert: cert.clone(),
                key: key.clone(),
                at: pos.short(),
            })
            .collect::<Vec<_>>();
        let verify_client = self.verify.as_ref().map_or(d.verify_client, |v| v.0);
        if let Some((v, pos)) = &self.verify
            && matches!(v, VerifyClient::On | VerifyClient::Optional)
            && self.client_cert.is_none()
            && self.trusted.is_none()
            && (tls_server || !certificates.is_empty() || self.reject == Some(true))
        {
            return Err(pos.err(
                "no ssl_client_certificate or ssl_trusted_certificate for ssl_verify_client",
            ));
        }
        Ok(ServerTls {
            http2: false,
            certificates,
            protocols: self.protocols.unwrap_or(d.protocols),
            ciphers: self.ciphers.clone().unwrap_or(d.ciphers),
            prefer_server_ciphers: self.prefer.unwrap_or(d.prefer_server_ciphers),
            ecdh_curves: self.curves.clone().unwrap_or(d.ecdh_curves),
            session_cache: self.session_cache.clone().unwrap_or(d.session_cache),
            session_timeout: self.session_timeout.unwrap_or(d.session_timeout),
            session_tickets: self.tickets.unwrap_or(d.session_tickets),
            session_ticket_keys: self.ticket_keys.clone().unwrap_or_default(),
            stapling: self.stapling.as_ref().is_some_and(|s| s.0),
            stapling_file: self.stapling_file.clone(),
            verify_client,
            client_certificate: self.client_cert.clone(),
            trusted_certificate: self.trusted.clone(),
            verify_depth: self.depth.unwrap_or(d.verify_depth),
            crl: self.crl.clone(),
            reject_handshake: self.reject.unwrap_or(d.reject_handshake),
            early_data: self.early.unwrap_or(d.early_data),
            buffer_size: self.buffer.unwrap_or(d.buffer_size),
            handshake_timeout: self.handshake_timeout.unwrap_or(header_timeout),
            password_file: self.password_file.clone(),
        })
    }

    /// `ssl_stapling on` with no file: where to say that no staple will be sent.
    pub(super) fn stapling_without_file(&self) -> Option<&Pos> {
        match (&self.stapling, &self.stapling_file) {
            (Some((true, pos)), None) => Some(pos),
            _ => None,
        }
    }
}

impl ProxySslLayer {
    pub(super) fn over(&self, parent: &ProxySslLayer) -> ProxySslLayer {
        ProxySslLayer {
            verify: or(&self.verify, &parent.verify),
            trusted: or(&self.trusted, &parent.trusted),
            depth: or(&self.depth, &parent.depth),
            server_name: or(&self.server_name, &parent.server_name),
            name: or(&self.name, &parent.name),
            protocols: or(&self.protocols, &parent.protocols),
            ciphers: or(&self.ciphers, &parent.ciphers),
            cert: or(&self.cert, &parent.cert),
            key: or(&self.key, &parent.key),
            password_file: or(&self.password_file, &parent.password_file),
            session_reuse: or(&self.session_reuse, &parent.session_reuse),
            crl: or(&self.crl, &parent.crl),
        }
    }

    pub(super) fn model(&self) -> ProxyTls {
        let d = default_proxy_tls();
        let certificate = match (&self.cert, &self.key) {
            (Some((cert, pos)), Some(key)) => Some(CertPair {
                cert: cert.clone(),
                key: key.clone(),
                at: pos.short(),
            }),
            _ => None,
        };
        ProxyTls {
            verify: self.verify.as_ref().is_some_and(|v| v.0),
            trusted_certificate: self.trusted.clone(),
            verify_depth: self.depth.unwrap_or(d.verify_depth),
            server_name: self.server_name.unwrap_or(d.server_name),
            name: self.name.clone(),
            protocols: self.protocols.unwrap_or(d.protocols),
            ciphers: self.ciphers.clone().unwrap_or(d.ciphers),
            certificate,
            password_file: self.password_file.clone(),
            session_reuse: self.session_reuse.unwrap_or(d.session_reuse),
            crl: self.crl.clone(),
        }
    }

    /// nginx's checks for a location whose `proxy_pass` is `https://`.
    pub(super) fn check(&self) -> Result<()> {
        if let Some((cert, pos)) = &self.cert
            && self.key.is_none()
        {
            return Err(pos.err(format!(
                "no \"proxy_ssl_certificate_key\" is defined for certificate \"{}\"",
                cert.display()
            )));
        }
        if let Some((true, pos)) = &self.verify
            && self.trusted.is_none()
        {
            return Err(pos.err("no proxy_ssl_trusted_certificate for proxy_ssl_verify"));
        }
        Ok(())
    }
}

/// A file named by a directive: no variables; relative paths start at the main file's folder
/// (as `auth_basic_user_file`), made absolute so the TLS layer finds them from anywhere.
fn file_path(d: &Directive, a: &Arg, base: &Path) -> Result<PathBuf> {
    if has_variables(&a.value) {
        return Err(a.pos.err(format!(
            "variables in \"{}\" are not supported (ringway reads the file when the config is \
             loaded)",
            d.name
        )));
    }
    for prefix in ["data:", "engine:"] {
        if a.value.starts_with(prefix) {
            return Err(a.pos.err(format!(
                "\"{prefix}\" in \"{}\" is not supported (ringway reads certificates and keys \
                 from files)",
                d.name
            )));
        }
    }
    if a.value.is_empty() {
        return Err(arg_err(a, d, "expected a file name"));
    }
    let p = base.join(&a.value);
    Ok(std::path::absolute(&p).unwrap_or(p))
}

fn file_at(d: &Directive, a: &Arg, base: &Path) -> Result<FileAt> {
    Ok(FileAt {
        path: file_path(d, a, base)?,
        at: d.pos.short(),
    })
}

/// `ssl_session_ticket_key`: nginx refuses a file that is not 48 or 80 bytes when it loads.
/// Only the size is read here (a FIFO or device is not opened).
fn ticket_key(d: &Directive, a: &Arg, base: &Path) -> Result<FileAt> {
    let f = file_at(d, a, base)?;
    let meta = std::fs::metadata(&f.path).map_err(|e| {
        a.pos.err(format!(
            "cannot read \"ssl_session_ticket_key\" file \"{}\": {e}",
            f.path.display()
        ))
    })?;
    if !meta.is_file() || !matches!(meta.len(), 48 | 80) {
        return Err(a.pos.err(format!(
            "\"ssl_session_ticket_key\" file \"{}\" must be 48 or 80 bytes",
            f.path.display()
        )));
    }
    Ok(f)
}

impl Builder {
    /// `ssl_protocols` / `proxy_ssl_protocols`: versions below TLS 1.2 give a notice.
    fn protocols(&mut self, d: &Directive) -> Result<Protocols> {
        let mut p = Protocols {
            tls12: false,
            tls13: false,
        };
        let mut old = Vec::new();
        for a in &d.args {
            match a.value.as_str() {
                "TLSv1.2" => p.tls12 = true,
                "TLSv1.3" => p.tls13 = true,
                "SSLv2" | "SSLv3" | "TLSv1" | "TLSv1.1" => old.push(a.value.as_str()),
                _ => {
                    return Err(arg_err(
                        a,
                        d,
                        "it must be SSLv2, SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3",
                    ));
                }
            }
        }
        if !p.tls12 && !p.tls13 {
            return Err(d.pos.err(format!(
                "\"{}\" enables no protocol ringway offers (TLSv1.2, TLSv1.3)",
                d.name
            )));
        }
        if !old.is_empty() {
            self.notices.push(format!(
                "{}: ignored: {} {} (ringway offers only TLSv1.2 and TLSv1.3)",
                d.pos.short(),
                d.name,
                old.join(" ")
            ));
        }
        Ok(p)
    }

    /// `ssl_ciphers` / `proxy_ssl_ciphers`: one notice lists what ringway cannot offer.
    fn ciphers(&mut self, d: &Directive) -> Result<Ciphers> {
        let a = &d.args[0];
        let sel = ciphers::evaluate(&a.value).map_err(|m| a.pos.err(m))?;
        if sel.tls12.is_empty() {
            return Err(a.pos.err(format!(
                "\"{}\" selects no cipher suite ringway offers (ECDHE-ECDSA or ECDHE-RSA with \
                 AES-GCM or CHACHA20-POLY1305) in \"{}\"",
                d.name, a.value
            )));
        }
        let mut skipped: Vec<String> = sel.skipped().iter().map(|s| s.to_string()).collect();
        skipped.extend(sel.ignored.iter().cloned());
        if !skipped.is_empty() {
            const SHOWN: usize = 8;
            let mut list = skipped
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if skipped.len() > SHOWN {
                list.push_str(&format!(" and {} more", skipped.len() - SHOWN));
            }
            self.notices.push(format!(
                "{}: {}: ringway offers only ECDHE with AES-GCM and ChaCha20 in TLS 1.2 (TLS 1.3 \
                 suites are always offered): skipped {list}",
                d.pos.short(),
                d.name
            ));
        }
        Ok(Ciphers {
            written: a.value.clone(),
            tls12: sel.tls12,
        })
    }

    /// The `ssl_*` directives and `ssl` (http and server level).
    pub(super) fn ssl_setting(&mut self, d: &Directive, l: &mut SslLayer) -> Result<()> {
        let a = &d.args;
        let base = self.base_dir.clone();
        match d.name.as_str() {
            "ssl" => {
                let on = flag_arg(d, &a[0])?;
                set_once(&mut l.on, d, on)?;
                if on {
                    self.notices.push(format!(
                        "{}: the \"ssl\" directive is deprecated (nginx 1.25 removed it): read as \
                         \"listen ... ssl\" on every listen of this server",
                        d.pos.short()
                    ));
                }
            }
            "ssl_certificate" if a[0].value == super::acme::CERT_VAR => {
                let p = PathBuf::from(super::acme::CERT_VAR);
                l.certs.get_or_insert_default().push((p, d.pos.clone()));
            }
            "ssl_certificate_key" if a[0].value == super::acme::KEY_VAR => {
                l.keys
                    .get_or_insert_default()
                    .push(PathBuf::from(super::acme::KEY_VAR));
            }
            "ssl_certificate" => {
                let p = file_path(d, &a[0], &base)?;
                l.certs.get_or_insert_default().push((p, d.pos.clone()));
            }
            "ssl_certificate_key" => {
                let p = file_path(d, &a[0], &base)?;
                l.keys.get_or_insert_default().push(p);
            }
            "ssl_protocols" => {
                let p = self.protocols(d)?;
                set_once(&mut l.protocols, d, p)?
            }
            "ssl_ciphers" => {
                let c = self.ciphers(d)?;
                set_once(&mut l.ciphers, d, c)?
            }
            "ssl_prefer_server_ciphers" => set_once(&mut l.prefer, d, flag_arg(d, &a[0])?)?,
            "ssl_ecdh_curve" => set_once(&mut l.curves, d, curves(d, &a[0])?)?,
            "ssl_session_cache" => set_once(&mut l.session_cache, d, session_cache(d)?)?,
            "ssl_session_timeout" => set_once(&mut l.session_timeout, d, time_arg(d, &a[0])?)?,
            "ssl_session_tickets" => set_once(&mut l.tickets, d, flag_arg(d, &a[0])?)?,
            "ssl_session_ticket_key" => {
                let f = ticket_key(d, &a[0], &base)?;
                l.ticket_keys.get_or_insert_default().push(f);
            }
            "ssl_stapling" => {
                let on = flag_arg(d, &a[0])?;
                set_once(&mut l.stapling, d, (on, d.pos.clone()))?
            }
            "ssl_stapling_file" => set_once(&mut l.stapling_file, d, file_at(d, &a[0], &base)?)?,
            "ssl_verify_client" => {
                let v = match a[0].value.as_str() {
                    "on" => VerifyClient::On,
                    "off" => VerifyClient::Off,
                    "optional" => VerifyClient::Optional,
                    "optional_no_ca" => VerifyClient::OptionalNoCa,
                    _ => {
                        return Err(arg_err(
                            &a[0],
                            d,
                            "it must be \"on\", \"off\", \"optional\" or \"optional_no_ca\"",
                        ));
                    }
                };
                set_once(&mut l.verify, d, (v, d.pos.clone()))?
            }
            "ssl_client_certificate" => set_once(&mut l.client_cert, d, file_at(d, &a[0], &base)?)?,
            "ssl_trusted_certificate" => set_once(&mut l.trusted, d, file_at(d, &a[0], &base)?)?,
            "ssl_verify_depth" => set_once(&mut l.depth, d, num_arg(d, &a[0])?)?,
            "ssl_crl" => set_once(&mut l.crl, d, file_at(d, &a[0], &base)?)?,
            "ssl_reject_handshake" => set_once(&mut l.reject, d, flag_arg(d, &a[0])?)?,
            "ssl_early_data" => set_once(&mut l.early, d, flag_arg(d, &a[0])?)?,
            "ssl_buffer_size" => {
                let b = self.buffer_size(d)?;
                set_once(&mut l.buffer, d, b)?
            }
            "ssl_handshake_timeout" => {
                let t = time_arg(d, &a[0])?;
                if t.is_zero() {
                    return Err(arg_err(&a[0], d, "it must be above 0"));
                }
                set_once(&mut l.handshake_timeout, d, t)?
            }
            "ssl_password_file" => set_once(&mut l.password_file, d, file_at(d, &a[0], &base)?)?,
            _ => return Err(internal(d)),
        }
        Ok(())
    }

    /// `ssl_buffer_size`: no TLS record is larger than 16k, so a larger size acts as 16k.
    fn buffer_size(&mut self, d: &Directive) -> Result<usize> {
        let a = &d.args[0];
        let n = size_arg(d, a)?;
        if n < 512 {
            return Err(arg_err(a, d, "expected a size of at least 512"));
        }
        if n > 16 * 1024 {
            self.notices.push(format!(
                "{}: ssl_buffer_size {} is read as 16k (the largest TLS record)",
                a.pos.short(),
                a.value
            ));
        }
        Ok(usize::try_from(n.min(16 * 1024)).unwrap_or(16 * 1024))
    }

    /// The `proxy_ssl_*` directives (http, server and location level).
    pub(super) fn proxy_ssl_setting(
        &mut self,
        d: &Directive,
        l: &mut ProxySslLayer,
        caps: &HashSet<String>,
    ) -> Result<()> {
        let a = &d.args;
        let base = self.base_dir.clone();
        match d.name.as_str() {
            "proxy_ssl_verify" => {
                let on = flag_arg(d, &a[0])?;
                set_once(&mut l.verify, d, (on, d.pos.clone()))?
            }
            "proxy_ssl_trusted_certificate" => {
                set_once(&mut l.trusted, d, file_at(d, &a[0], &base)?)?
            }
            "proxy_ssl_verify_depth" => set_once(&mut l.depth, d, num_arg(d, &a[0])?)?,
            "proxy_ssl_server_name" => set_once(&mut l.server_name, d, flag_arg(d, &a[0])?)?,
            "proxy_ssl_name" => {
                text_vars(&a[0], caps)?;
                // One name per upstream group: its pooled connections were verified for it.
                if a[0].value.contains('$') {
                    return Err(a[0]
                        .pos
                        .err(super::unsupported("\"proxy_ssl_name\" with variables")));
                }
                set_once(&mut l.name, d, a[0].value.clone())?
            }
            "proxy_ssl_protocols" => {
                let p = self.protocols(d)?;
                set_once(&mut l.protocols, d, p)?
            }
            "proxy_ssl_ciphers" => {
                let c = self.ciphers(d)?;
                set_once(&mut l.ciphers, d, c)?
            }
            "proxy_ssl_certificate" => {
                let p = file_path(d, &a[0], &base)?;
                set_once(&mut l.cert, d, (p, d.pos.clone()))?
            }
            "proxy_ssl_certificate_key" => set_once(&mut l.key, d, file_path(d, &a[0], &base)?)?,
            "proxy_ssl_password_file" => {
                set_once(&mut l.password_file, d, file_at(d, &a[0], &base)?)?
            }
            "proxy_ssl_session_reuse" => set_once(&mut l.session_reuse, d, flag_arg(d, &a[0])?)?,
            "proxy_ssl_crl" => set_once(&mut l.crl, d, file_at(d, &a[0], &base)?)?,
            _ => return Err(internal(d)),
        }
        Ok(())
    }
}

/// `ssl_ecdh_curve auto | NAME[:NAME…]` (None: `auto`).
fn curves(d: &Directive, a: &Arg) -> Result<Option<Vec<Curve>>> {
    if a.value == "auto" {
        return Ok(None);
    }
    let mut out = Vec::new();
    for name in a.value.split(':') {
        let c = match name {
            "X25519" | "x25519" => Curve::X25519,
            "prime256v1" | "P-256" | "secp256r1" => Curve::P256,
            "secp384r1" | "P-384" => Curve::P384,
            "X25519MLKEM768" => Curve::X25519Mlkem768,
            "" => {
                return Err(arg_err(
                    a,
                    d,
                    "expected \"auto\" or curve names separated by \":\"",
                ));
            }
            other => {
                return Err(a.pos.err(format!(
                    "the curve \"{other}\" in \"ssl_ecdh_curve\" is not supported by ringway (it \
                     offers X25519, P-256, P-384 and X25519MLKEM768)"
                )));
            }
        };
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(Some(out))
}

/// `ssl_session_cache off | none | [builtin[:size]] [shared:name:size]`: one cache of as many
/// sessions as the parts hold together (nginx: about 4000 sessions per megabyte of shared
/// memory; builtin counts sessions).
fn session_cache(d: &Directive) -> Result<SessionCache> {
    let bad = |a: &Arg| a.pos.err(format!("invalid session cache \"{}\"", a.value));
    let mut total: usize = 0;
    for a in &d.args {
        let v = a.value.as_str();
        let n = match v {
            "off" | "none" if d.args.len() == 1 => {
                return Ok(if v == "off" {
                    SessionCache::Off
                } else {
                    SessionCache::None
                });
            }
            "builtin" => 20480,
            _ if v.starts_with("builtin:") => match parse_num::<usize>(&v[8..]) {
                Some(n) if n > 0 => n,
                _ => return Err(bad(a)),
            },
            _ if v.starts_with("shared:") => shared_sessions(a).ok_or_else(|| bad(a))??,
            _ => return Err(bad(a)),
        };
        total = total.saturating_add(n);
    }
    Ok(SessionCache::Sessions(total))
}

/// `shared:NAME:SIZE` → sessions (None: malformed; Err: too small, as nginx says).
fn shared_sessions(a: &Arg) -> Option<Result<usize>> {
    let rest = a.value.strip_prefix("shared:")?;
    let (name, size) = rest.rsplit_once(':')?;
    if name.is_empty() {
        return None;
    }
    let bytes = crate::config::values::parse_size(size)?;
    if bytes < 8 * 1024 {
        return Some(Err(a
            .pos
            .err(format!("session cache \"{}\" is too small", a.value))));
    }
    let n = bytes.saturating_mul(4000) / (1024 * 1024);
    Some(Ok(usize::try_from(n.max(1)).unwrap_or(usize::MAX)))
}
