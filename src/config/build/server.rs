//! `server` blocks: listen addresses, names, locations (matchers, nesting, `return`, `rewrite`)
//! and `proxy_pass` targets; phase B turns the locations into the model's.

use std::collections::HashSet;
use std::net::SocketAddr;

use crate::config::directives::{LOCATION, SERVER};
use crate::config::error::{Pos, Result};
use crate::config::model::*;
use crate::config::parser::Directive;
use crate::config::values::{
    capture_names, check_regex, has_variables, listen_addrs, parse_num, parse_size, parse_time,
    split_authority,
};

use super::*;

#[derive(Debug)]
pub(super) struct PListen {
    pub(super) addr: SocketAddr,
    pub(super) default_server: bool,
    pub(super) backlog: Option<i32>,
    pub(super) deferred: bool,
    /// `listen ... ssl` (every server on the address then speaks TLS).
    pub(super) ssl: bool,
    /// `listen ... http2` (every server on the address then speaks HTTP/2 too).
    pub(super) http2: bool,
    pub(super) pos: Pos,
}

#[derive(Debug)]
pub(super) struct PLocation {
    pub(super) matcher: LocationMatch,
    pub(super) pos: Pos,
    pub(super) proxy: Option<ProxyPass>,
    pub(super) ret: Option<Return>,
    /// `ringway_metrics`, `stub_status`, `ringway_status`.
    pub(super) builtin: Option<Builtin>,
    pub(super) rewrites: Vec<Rewrite>,
    pub(super) layer: Layer,
    pub(super) children: Vec<PLocation>,
    pub(super) internal: bool,
}

#[derive(Debug)]
pub(super) struct PServer {
    pub(super) pos: Pos,
    pub(super) listen: Vec<PListen>,
    pub(super) names: Vec<String>,
    pub(super) layer: Layer,
    pub(super) rewrites: Vec<Rewrite>,
    pub(super) ret: Option<Return>,
    pub(super) locations: Vec<PLocation>,
    /// `acme_certificate` (checked once every `acme_issuer` is known).
    pub(super) acme: Option<Directive>,
}

/// Named captures of every regex in a server (they may be used as variables anywhere in it).
pub(super) fn server_captures(block: &[Directive], into: &mut HashSet<String>) {
    for d in block {
        let pattern = match (d.name.as_str(), d.args.as_slice()) {
            ("server_name", args) => {
                for a in args {
                    if let Some(p) = a.value.strip_prefix('~')
                        && let Ok(re) = check_regex(p, false)
                    {
                        capture_names(&re, into);
                    }
                }
                None
            }
            ("location", [m, p]) if m.value.starts_with('~') => Some(p.value.as_str()),
            ("location", [p]) => p
                .value
                .strip_prefix("~*")
                .or_else(|| p.value.strip_prefix('~')),
            ("rewrite", [p, ..]) => Some(p.value.as_str()),
            _ => None,
        };
        if let Some(p) = pattern
            && let Ok(re) = check_regex(p, false)
        {
            capture_names(&re, into);
        }
        if let Some(b) = &d.block {
            server_captures(b, into);
        }
    }
}

impl Builder {
    pub(super) fn server(&mut self, d: &Directive) -> Result<PServer> {
        let block = d.block.as_deref().unwrap_or_default();
        let mut caps = self.auth_vars.clone();
        server_captures(block, &mut caps);
        let mut s = PServer {
            pos: d.pos.clone(),
            listen: Vec::new(),
            names: Vec::new(),
            layer: Layer::default(),
            rewrites: Vec::new(),
            ret: None,
            locations: Vec::new(),
            acme: None,
        };
        for c in block {
            let Some(_) = self.spec(c, SERVER)? else {
                continue;
            };
            match c.name.as_str() {
                "listen" => self.listen(c, &mut s.listen)?,
                "acme_certificate" => set_once(&mut s.acme, c, c.clone())?,
                "server_name" => {
                    for a in &c.args {
                        if let Some(re) = a.value.strip_prefix('~') {
                            check_regex(re, false).map_err(|m| a.pos.err(m))?;
                        } else if a.value == "$hostname" {
                            return Err(a.pos.err(unsupported("\"server_name $hostname\"")));
                        } else if a.value.contains(['/', ' ', '\t']) {
                            // nginx warns and carries on.
                            self.notices.push(format!(
                                "{}: server name \"{}\" has suspicious symbols",
                                a.pos.short(),
                                a.value
                            ));
                        }
                        s.names.push(a.value.clone());
                    }
                }
                "location" => {
                    let loc = self.location(c, None, &caps)?;
                    push_location(&mut s.locations, loc)?;
                }
                "return" => {
                    let r = parse_return(c, &caps)?;
                    s.ret.get_or_insert(r);
                }
                "rewrite" => {
                    let r = parse_rewrite(c, &caps)?;
                    // A rewrite after a return is never reached (nginx runs them in order).
                    if s.ret.is_none() {
                        s.rewrites.push(r);
                    }
                }
                _ => self.setting(c, &mut s.layer, &caps)?,
            }
        }
        Ok(s)
    }

    pub(super) fn listen(&mut self, c: &Directive, out: &mut Vec<PListen>) -> Result<()> {
        let a0 = &c.args[0];
        if a0.value.starts_with("unix:") {
            return Err(a0.pos.err(unsupported("listening on a \"unix:\" socket")));
        }
        let addrs = listen_addrs(&a0.value).map_err(|m| a0.pos.err(m))?;
        let mut default_server = false;
        let mut backlog = None;
        let mut deferred = false;
        let mut ssl = false;
        let mut http2 = false;
        for p in &c.args[1..] {
            let v = p.value.as_str();
            let (key, val) = v.split_once('=').unwrap_or((v, ""));
            match (key, v.contains('=')) {
                ("default_server" | "default", false) => default_server = true,
                ("backlog", true) => match val.parse::<i32>() {
                    Ok(n) if n != 0 && n >= -1 => backlog = Some(n),
                    _ => return Err(p.pos.err(format!("invalid backlog \"{val}\""))),
                },
                ("reuseport", false) => {}
                ("ipv6only", true) => {
                    if val != "on" && val != "off" {
                        return Err(p.pos.err(format!("invalid ipv6only flags \"{val}\"")));
                    }
                }
                ("so_keepalive", true) => {
                    let ok = val == "on"
                        || val == "off"
                        || (val.split(':').count() == 3
                            && val
                                .split(':')
                                .all(|x| x.is_empty() || parse_time(x).is_some()));
                    if !ok {
                        return Err(p.pos.err(format!("invalid so_keepalive value: \"{val}\"")));
                    }
                }
                ("rcvbuf" | "sndbuf", true) => {
                    if parse_size(val).is_none() {
                        return Err(p.pos.err(format!("invalid {key}: \"{val}\"")));
                    }
                    self.notices.push(format!(
                        "{}: ignored: listen {key}= (socket tuning; ringway sets its sockets itself)",
                        p.pos.short()
                    ));
                }
                ("deferred", false) => deferred = true,
                ("bind", false) | ("fastopen" | "accept_filter" | "setfib", true) => {
                    self.notices.push(format!(
                        "{}: ignored: listen {key} (socket tuning; ringway sets its sockets itself)",
                        p.pos.short()
                    ));
                }
                ("ssl", false) => ssl = true,
                ("http2", false) => http2 = true,
                ("quic" | "proxy_protocol", false) => {
                    return Err(p.pos.err(unsupported(&format!(
                        "the \"{key}\" parameter of \"listen\""
                    ))));
                }
                _ => return Err(invalid_param(p)),
            }
        }
        for addr in addrs {
            out.push(PListen {
                addr,
                default_server,
                backlog,
                deferred,
                ssl,
                http2,
                pos: c.pos.clone(),
            });
        }
        Ok(())
    }

    pub(super) fn location(
        &mut self,
        d: &Directive,
        parent: Option<&LocationMatch>,
        caps: &HashSet<String>,
    ) -> Result<PLocation> {
        let matcher = parse_matcher(d)?;
        if let Some(p) = parent {
            let (pname, exact) = match p {
                LocationMatch::Exact(s) => (s.as_str(), true),
                LocationMatch::Prefix(s) | LocationMatch::PrefixNoRegex(s) => (s.as_str(), false),
                LocationMatch::Regex { pattern, .. } => (pattern.as_str(), false),
            };
            let cname = match_text(&matcher);
            if exact {
                return Err(d.pos.err(format!(
                    "location \"{cname}\" cannot be inside the exact location \"{pname}\""
                )));
            }
            if !matches!(matcher, LocationMatch::Regex { .. }) && !cname.starts_with(pname) {
                return Err(d.pos.err(format!(
                    "location \"{cname}\" is outside location \"{pname}\""
                )));
            }
        }
        let regex = matches!(matcher, LocationMatch::Regex { .. });
        let mut loc = PLocation {
            matcher,
            pos: d.pos.clone(),
            proxy: None,
            ret: None,
            builtin: None,
            rewrites: Vec::new(),
            layer: Layer::default(),
            children: Vec::new(),
            internal: false,
        };
        let mut proxy_seen = None;
        for c in d.block.as_deref().unwrap_or_default() {
            let Some(_) = self.spec(c, LOCATION)? else {
                continue;
            };
            match c.name.as_str() {
                "location" => {
                    let child = self.location(c, Some(&loc.matcher), caps)?;
                    push_location(&mut loc.children, child)?;
                }
                "proxy_pass" => {
                    set_once(&mut proxy_seen, c, ())?;
                    let p = self.proxy_pass(c)?;
                    if regex && p.uri.is_some() {
                        return Err(c.pos.err(
                            "\"proxy_pass\" cannot have URI part in location given by regular \
                             expression, or inside named location, or inside \"if\" statement, \
                             or inside \"limit_except\" block",
                        ));
                    }
                    loc.proxy = Some(p);
                }
                "return" => {
                    let r = parse_return(c, caps)?;
                    loc.ret.get_or_insert(r);
                }
                "ringway_metrics" | "stub_status" | "ringway_status" => {
                    let b = parse_builtin(c)?;
                    set_once(&mut loc.builtin, c, b)?;
                }
                "rewrite" => {
                    let r = parse_rewrite(c, caps)?;
                    if loc.ret.is_none() {
                        loc.rewrites.push(r);
                    }
                }
                "internal" => {
                    if loc.internal {
                        return Err(c.pos.err("\"internal\" directive is duplicate"));
                    }
                    loc.internal = true;
                }
                _ => self.setting(c, &mut loc.layer, caps)?,
            }
        }
        if let (Some(b), Some(_)) = (loc.builtin, &loc.proxy) {
            return Err(loc.pos.err(format!(
                "location \"{}\" has both \"{}\" and \"proxy_pass\": a location has one \
                 content handler",
                match_text(&loc.matcher),
                b.directive()
            )));
        }
        Ok(loc)
    }

    pub(super) fn proxy_pass(&mut self, c: &Directive) -> Result<ProxyPass> {
        let a = &c.args[0];
        let url = a.value.as_str();
        if has_variables(url) {
            return Err(a.pos.err(unsupported("\"proxy_pass\" with variables")));
        }
        let lower = url.to_ascii_lowercase();
        let (rest, tls) = if lower.starts_with("http://") {
            (&url[7..], false)
        } else if lower.starts_with("https://") {
            (&url[8..], true)
        } else {
            return Err(a.pos.err(format!("invalid URL prefix in \"{url}\"")));
        };
        if rest.starts_with("unix:") {
            return Err(a.pos.err(unsupported("\"proxy_pass\" to a unix: socket")));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, uri) = rest.split_at(split);
        let uri = (!uri.is_empty()).then(|| uri.to_string());
        let (host, port) = split_authority(authority)
            .map_err(|why| a.pos.err(format!("{why} in upstream \"{authority}\"")))?;
        let upstream = self
            .upstream_names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(host));
        match (upstream, port) {
            (Some(name), None) => Ok(ProxyPass {
                url: url.to_string(),
                target: name.clone(),
                is_upstream: true,
                tls,
                uri,
            }),
            (Some(name), Some(p)) => Err(a
                .pos
                .err(format!("upstream \"{name}\" may not have port {p}"))),
            (None, p) => Ok(ProxyPass {
                url: url.to_string(),
                target: format!("{host}:{}", p.unwrap_or(if tls { 443 } else { 80 })),
                is_upstream: false,
                tls,
                uri,
            }),
        }
    }
}

/// The model's locations under `parent` (settings) and `pssl` (the merged `proxy_ssl_*` above).
pub(super) fn resolve_locations(
    locs: &[PLocation],
    parent: &Settings,
    pssl: &ProxySslLayer,
) -> Result<Vec<Location>> {
    locs.iter()
        .map(|l| {
            let pssl = l.layer.proxy_ssl.over(pssl);
            let mut settings = l.layer.apply(parent);
            settings.proxy_ssl = pssl.model();
            if l.proxy.as_ref().is_some_and(|p| p.tls) {
                pssl.check()?;
            }
            let action = match (&l.ret, &l.proxy, l.builtin) {
                (Some(r), _, _) => Action::Return(r.clone()),
                (None, Some(p), _) => Action::Proxy(p.clone()),
                (None, None, Some(b)) => Action::Builtin(b),
                (None, None, None) => Action::None,
            };
            if !settings.proxy_pass_request_body && !l.internal && l.proxy.is_some() {
                // Only an auth_request subrequest (which never carries a body) may go there.
                return Err(l.pos.err(format!(
                    "location \"{}\": \"proxy_pass_request_body off\" is supported only in \
                     \"internal\" locations (auth_request targets)",
                    match_text(&l.matcher)
                )));
            }
            Ok(Location {
                matcher: l.matcher.clone(),
                action,
                locations: resolve_locations(&l.children, &settings, &pssl)?,
                settings,
                rewrites: l.rewrites.clone(),
                internal: l.internal,
            })
        })
        .collect()
}

pub(super) fn match_text(m: &LocationMatch) -> &str {
    match m {
        LocationMatch::Prefix(s) | LocationMatch::Exact(s) | LocationMatch::PrefixNoRegex(s) => s,
        LocationMatch::Regex { pattern, .. } => pattern,
    }
}

/// Adds a location to its siblings, refusing a second one for the same exact or prefix URI.
pub(super) fn push_location(siblings: &mut Vec<PLocation>, loc: PLocation) -> Result<()> {
    let key = |m: &LocationMatch| match m {
        LocationMatch::Exact(s) => Some((true, s.clone())),
        LocationMatch::Prefix(s) | LocationMatch::PrefixNoRegex(s) => Some((false, s.clone())),
        LocationMatch::Regex { .. } => None,
    };
    if let Some(k) = key(&loc.matcher)
        && let Some(first) = siblings
            .iter()
            .find(|s| key(&s.matcher).as_ref() == Some(&k))
    {
        return Err(loc.pos.err(format!(
            "duplicate location \"{}\" (first at {})",
            k.1,
            first.pos.short()
        )));
    }
    siblings.push(loc);
    Ok(())
}

pub(super) fn parse_matcher(d: &Directive) -> Result<LocationMatch> {
    let (modifier, arg) = match d.args.as_slice() {
        [m, a] => (m.value.as_str(), a),
        [a] => {
            let v = a.value.as_str();
            let m = ["=", "^~", "~*", "~", "@"]
                .into_iter()
                .find(|m| v.starts_with(m) && v.len() > m.len())
                .unwrap_or("");
            (m, a)
        }
        _ => return Err(internal(d)),
    };
    let text = if d.args.len() == 1 {
        &arg.value[modifier.len()..]
    } else {
        arg.value.as_str()
    };
    let regex = |ci: bool| -> Result<LocationMatch> {
        check_regex(text, ci).map_err(|m| arg.pos.err(m))?;
        Ok(LocationMatch::Regex {
            pattern: text.to_string(),
            case_insensitive: ci,
        })
    };
    match modifier {
        "" => Ok(LocationMatch::Prefix(text.to_string())),
        "=" => Ok(LocationMatch::Exact(text.to_string())),
        "^~" => Ok(LocationMatch::PrefixNoRegex(text.to_string())),
        "~" => regex(false),
        "~*" => regex(true),
        "@" => Err(d
            .pos
            .err(unsupported(&format!("the named location \"@{text}\"")))),
        m => Err(d.args[0]
            .pos
            .err(format!("invalid location modifier \"{m}\""))),
    }
}

pub(super) fn is_redirect_url(s: &str) -> bool {
    (s.len() > 7 && s.starts_with("http://"))
        || (s.len() > 8 && s.starts_with("https://"))
        || s.starts_with("$scheme")
}

/// `ringway_metrics;`, `ringway_status;`, `stub_status;` (nginx before 1.7.5 wanted an
/// argument: `stub_status on;` is accepted; nginx ignored the value, ringway refuses any other,
/// which would read as turning it off).
fn parse_builtin(d: &Directive) -> Result<Builtin> {
    if let Some(a) = d.args.first()
        && a.value != "on"
    {
        return Err(a.pos.err(format!(
            "invalid value \"{}\" in \"stub_status\": write \"stub_status;\" (or \"stub_status on;\")",
            a.value
        )));
    }
    Ok(match d.name.as_str() {
        "ringway_metrics" => Builtin::Metrics,
        "ringway_status" => Builtin::StatusPage,
        _ => Builtin::StubStatus,
    })
}

pub(super) fn parse_return(d: &Directive, caps: &HashSet<String>) -> Result<Return> {
    let a0 = &d.args[0];
    if a0.value.bytes().all(|c| c.is_ascii_digit()) && !a0.value.is_empty() {
        let code = match parse_num::<u32>(&a0.value) {
            Some(c) if c <= 999 => c as u16,
            _ => return Err(a0.pos.err(format!("invalid return code \"{}\"", a0.value))),
        };
        let text = match d.args.get(1) {
            Some(t) => {
                text_vars(t, caps)?;
                Some(t.value.clone())
            }
            None => None,
        };
        return Ok(Return { code, text });
    }
    if is_redirect_url(&a0.value) {
        if d.args.len() != 1 {
            return Err(d
                .pos
                .err("invalid number of arguments in \"return\" directive"));
        }
        text_vars(a0, caps)?;
        return Ok(Return {
            code: 302,
            text: Some(a0.value.clone()),
        });
    }
    Err(a0.pos.err(format!("invalid return code \"{}\"", a0.value)))
}

pub(super) fn parse_rewrite(d: &Directive, caps: &HashSet<String>) -> Result<Rewrite> {
    let a = &d.args;
    check_regex(&a[0].value, false).map_err(|m| a[0].pos.err(m))?;
    text_vars(&a[1], caps)?;
    let flag = match a.get(2).map(|x| x.value.as_str()) {
        None => RewriteFlag::None,
        Some("last") => RewriteFlag::Last,
        Some("break") => RewriteFlag::Break,
        Some("redirect") => RewriteFlag::Redirect,
        Some("permanent") => RewriteFlag::Permanent,
        Some(_) => return Err(invalid_param(&a[2])),
    };
    Ok(Rewrite {
        regex: a[0].value.clone(),
        replacement: a[1].value.clone(),
        flag,
    })
}
