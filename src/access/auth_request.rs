//! `auth_request URI` (ngx_http_auth_request_module), its decisions: the compiled setting, what
//! the auth service's answer means (`verdict`). The subrequest itself — routed through the same
//! server's locations and sent over the upstream exchange like any request — is the proxy's
//! (`proxy::subrequest`).

use crate::config::Settings;
use crate::template::Template;

#[derive(Debug)]
pub struct AuthRequest {
    /// The subrequest's URI (path and arguments), as written.
    pub uri: Box<[u8]>,
    /// `auth_request_set`: (index into the config's variables, value).
    pub sets: Vec<(usize, Template)>,
    /// How many `auth_request_set` variables the config declares.
    pub vars: usize,
}

pub fn compile(s: &Settings, user: &[String]) -> Result<Option<AuthRequest>, String> {
    let Some(uri) = &s.auth_request else {
        return Ok(None);
    };
    let mut sets = Vec::new();
    for (name, value) in &s.auth_request_set {
        let i = user
            .iter()
            .position(|u| u == name)
            .ok_or_else(|| format!("auth_request_set: undeclared variable \"${name}\""))?;
        sets.push((i, Template::compile_with(value, user)?));
    }
    Ok(Some(AuthRequest {
        uri: uri.as_bytes().into(),
        sets,
        vars: user.len(),
    }))
}

/// What the auth service answered.
pub struct Answer {
    pub status: u16,
    /// Its `WWW-Authenticate` fields, as header lines (copied to the client's 401).
    pub challenge: Vec<u8>,
    /// Values of the `auth_request_set` variables (by index; empty when not set).
    pub vars: Vec<Vec<u8>>,
}

/// What the auth service's status means for the request (nginx's rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the request goes on.
    Allow,
    /// 401 or 403: the client gets it.
    Deny(u16),
    /// Anything else: the client gets 500.
    Error,
}

pub fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Allow,
        401 | 403 => Verdict::Deny(status),
        _ => Verdict::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_as_nginx() {
        assert_eq!(verdict(204), Verdict::Allow);
        assert_eq!(verdict(401), Verdict::Deny(401));
        assert_eq!(verdict(403), Verdict::Deny(403));
        assert_eq!(verdict(404), Verdict::Error);
        assert_eq!(verdict(302), Verdict::Error);
        assert_eq!(verdict(500), Verdict::Error);
    }
}
