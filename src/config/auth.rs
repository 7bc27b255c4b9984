//! The access-control directives of ngx_http_auth_basic_module and ngx_http_auth_request_module
//! (`auth_basic`, `auth_basic_user_file`, `auth_request`, `auth_request_set`) and
//! `proxy_pass_request_body`: what one level sets, and nginx's merge.
//!
//! Differences from nginx: the user file is read when the config is loaded (and on reload), not
//! on every request, so an unreadable file or an entry in an unsupported scheme is a config
//! error at `-t`; its path cannot hold variables.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::error::Result;
use super::model::{Settings, UserFile};
use super::parser::{Arg, Directive};
use super::values::{SUPPORTED_VARIABLES, check_variables, has_variables};
use crate::config::htpasswd::Htpasswd;

/// What one level sets itself; None = inherit.
#[derive(Debug, Default, Clone)]
pub(super) struct AuthLayer {
    auth_basic: Option<Option<String>>,
    user_file: Option<UserFile>,
    auth_request: Option<Option<String>>,
    sets: Option<Vec<(String, String)>>,
    pass_body: Option<bool>,
}

fn once<T>(slot: &mut Option<T>, d: &Directive, v: T) -> Result<()> {
    if slot.is_some() {
        return Err(d.pos.err(format!("\"{}\" directive is duplicate", d.name)));
    }
    *slot = Some(v);
    Ok(())
}

fn vars(a: &Arg, caps: &HashSet<String>) -> Result<()> {
    check_variables(&a.value, caps).map_err(|m| a.pos.err(m))
}

impl AuthLayer {
    pub(super) fn setting(
        &mut self,
        d: &Directive,
        caps: &HashSet<String>,
        base: &Path,
    ) -> Result<()> {
        let a = &d.args;
        match d.name.as_str() {
            "auth_basic" => {
                let realm = (a[0].value != "off").then(|| a[0].value.clone());
                vars(&a[0], caps)?;
                once(&mut self.auth_basic, d, realm)
            }
            "auth_basic_user_file" => {
                let f = user_file(&a[0], base)?;
                once(&mut self.user_file, d, f)
            }
            "auth_request" => {
                let uri = match a[0].value.as_str() {
                    "off" => None,
                    u if u.starts_with('/') && !has_variables(u) => Some(u.to_string()),
                    _ => {
                        return Err(a[0].pos.err(format!(
                            "invalid URI \"{}\" in \"auth_request\" directive (a path \
                             without variables, or \"off\")",
                            a[0].value
                        )));
                    }
                };
                once(&mut self.auth_request, d, uri)
            }
            "auth_request_set" => {
                let name = declared_name(&a[0])?;
                // The value is evaluated against the auth response: `$upstream_http_NAME`
                // and `$upstream_status` read it.
                let mut allowed = caps.clone();
                allowed.extend(upstream_names(&a[1].value));
                vars(&a[1], &allowed)?;
                self.sets
                    .get_or_insert_default()
                    .push((name, a[1].value.clone()));
                Ok(())
            }
            "proxy_pass_request_body" => {
                let on = match a[0].value.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => {
                        return Err(a[0].pos.err(format!(
                            "invalid value \"{}\" in \"{}\" directive, it must be \"on\" or \"off\"",
                            a[0].value, d.name
                        )));
                    }
                };
                once(&mut self.pass_body, d, on)
            }
            _ => Err(d.pos.err(format!(
                "internal error: directive \"{}\" has no handler",
                d.name
            ))),
        }
    }

    /// `parent` with what this level sets.
    pub(super) fn apply(&self, parent: &Settings) -> Settings {
        let mut s = parent.clone();
        if let Some(v) = &self.auth_basic {
            s.auth_basic = v.clone();
        }
        if let Some(f) = &self.user_file {
            s.auth_basic_user_file = Some(f.clone());
        }
        if let Some(v) = &self.auth_request {
            s.auth_request = v.clone();
        }
        if let Some(v) = &self.sets {
            s.auth_request_set = v.clone();
        }
        if let Some(v) = self.pass_body {
            s.proxy_pass_request_body = v;
        }
        s
    }
}

fn user_file(a: &Arg, base: &Path) -> Result<UserFile> {
    if has_variables(&a.value) {
        return Err(a.pos.err(
            "variables in \"auth_basic_user_file\" are not supported (ringway reads the file \
             when the config is loaded)",
        ));
    }
    let path = base.join(&a.value);
    let text = std::fs::read(&path).map_err(|e| {
        a.pos.err(format!(
            "cannot read auth_basic_user_file \"{}\": {e}",
            path.display()
        ))
    })?;
    let users = Htpasswd::parse(&text).map_err(|e| {
        a.pos
            .err(format!("auth_basic_user_file \"{}\", {e}", path.display()))
    })?;
    Ok(UserFile {
        path: a.value.clone(),
        users: Arc::new(users),
    })
}

/// `$name` of `auth_request_set`, without the `$`.
fn declared_name(a: &Arg) -> Result<String> {
    let bad = || a.pos.err(format!("invalid variable name \"{}\"", a.value));
    let name = a.value.strip_prefix('$').ok_or_else(bad)?;
    if name.is_empty()
        || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        || name.as_bytes()[0].is_ascii_digit()
    {
        return Err(bad());
    }
    if SUPPORTED_VARIABLES.contains(&name)
        || name.starts_with("http_")
        || name.starts_with("upstream_")
    {
        return Err(a
            .pos
            .err(format!("the \"${name}\" variable cannot be changed")));
    }
    Ok(name.to_string())
}

/// The `$upstream_http_NAME` and `$upstream_status` names used in `text`.
fn upstream_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split('$').skip(1) {
        let part = part.strip_prefix('{').unwrap_or(part);
        let len = part
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .count();
        let name = &part[..len];
        if name == "upstream_status" || (name.len() > 14 && name.starts_with("upstream_http_")) {
            out.push(name.to_string());
        }
    }
    out
}

/// Every variable declared by an `auth_request_set` anywhere in the tree.
pub(super) fn declared_vars(dirs: &[Directive], into: &mut HashSet<String>) {
    for d in dirs {
        if d.name == "auth_request_set"
            && let Some(a) = d.args.first()
            && let Some(n) = a.value.strip_prefix('$')
        {
            into.insert(n.to_string());
        }
        if let Some(b) = &d.block {
            declared_vars(b, into);
        }
    }
}
