//! What one level (http, server, location) sets itself, the settings directives that fill it,
//! and nginx's merge of a level over its parent.

use std::collections::HashSet;
use std::time::Duration;

use crate::config::access;
use crate::config::auth::AuthLayer;
use crate::config::cache::{self, CacheLayer};
use crate::config::error::Result;
use crate::config::limits::{self, LimitLayer};
use crate::config::model::*;
use crate::config::parser::Directive;
use crate::config::values::{parse_num, parse_size};

use super::*;

/// What one level (http, server or location) sets itself; None = inherit.
#[derive(Debug, Default, Clone)]
pub(super) struct Layer {
    pub(super) proxy_set_header: Option<Vec<(String, String)>>,
    pub(super) proxy_hide_header: Option<Vec<String>>,
    pub(super) proxy_pass_header: Option<Vec<String>>,
    pub(super) add_header: Option<Vec<AddHeader>>,
    proxy_http_version_11: Option<bool>,
    pub(super) proxy_connect_timeout: Option<Duration>,
    pub(super) proxy_read_timeout: Option<Duration>,
    pub(super) proxy_send_timeout: Option<Duration>,
    pub(super) send_timeout: Option<Duration>,
    lingering_close: Option<LingeringClose>,
    lingering_time: Option<Duration>,
    lingering_timeout: Option<Duration>,
    pub(super) client_max_body_size: Option<u64>,
    pub(super) client_header_timeout: Option<Duration>,
    pub(super) client_body_timeout: Option<Duration>,
    pub(super) keepalive_timeout: Option<Duration>,
    pub(super) keepalive_requests: Option<u64>,
    /// (max_header_size, max_request_line)
    pub(super) header_buffers: Option<(usize, usize)>,
    pub(super) via: Option<bool>,
    pub(super) proxy_redirect: Option<Vec<RedirectRule>>,
    /// `proxy_redirect off` at this level: later rules here are ignored (nginx's rule).
    redirect_off: bool,
    pub(super) proxy_next_upstream: Option<Vec<String>>,
    pub(super) proxy_next_upstream_tries: Option<u32>,
    pub(super) proxy_next_upstream_timeout: Option<Duration>,
    pub(super) auth: AuthLayer,
    pub(super) access: Option<Vec<AccessRule>>,
    pub(super) real_ip_from: Option<Vec<Cidr>>,
    pub(super) real_ip_header: Option<String>,
    pub(super) real_ip_recursive: Option<bool>,
    pub(super) limits: LimitLayer,
    pub(super) cache: CacheLayer,
    /// `gzip*` and `brotli*`.
    pub(super) compress: crate::config::compress::CompressLayer,
    /// `http2*`.
    pub(super) http2: crate::config::http2::Http2Layer,
    /// The first `root` or `index` at this level (they matter only where files would be served).
    pub(super) files: Option<FilesDirective>,
    /// `ssl_*` (http and server level; merged into the server's `tls`).
    pub(super) ssl: SslLayer,
    /// `proxy_ssl_*` (merged along the levels into `Settings::proxy_ssl`).
    pub(super) proxy_ssl: ProxySslLayer,
    /// `access_log` lines (a level with any replaces the inherited list).
    pub(super) access_log: super::logs::AccessLogLayer,
}

impl Layer {
    /// nginx's merge: what this level sets wins, the rest comes from `parent`; a list set here
    /// replaces the parent's whole list.
    pub(super) fn apply(&self, parent: &Settings) -> Settings {
        let p = parent.clone();
        let (max_header_size, max_request_line) = self
            .header_buffers
            .unwrap_or((p.max_header_size, p.max_request_line));
        Settings {
            proxy_set_header: self.proxy_set_header.clone().unwrap_or(p.proxy_set_header),
            proxy_hide_header: self
                .proxy_hide_header
                .clone()
                .unwrap_or(p.proxy_hide_header),
            proxy_pass_header: self
                .proxy_pass_header
                .clone()
                .unwrap_or(p.proxy_pass_header),
            add_header: self.add_header.clone().unwrap_or(p.add_header),
            proxy_http_version_11: self
                .proxy_http_version_11
                .unwrap_or(p.proxy_http_version_11),
            proxy_connect_timeout: self
                .proxy_connect_timeout
                .unwrap_or(p.proxy_connect_timeout),
            proxy_read_timeout: self.proxy_read_timeout.unwrap_or(p.proxy_read_timeout),
            proxy_send_timeout: self.proxy_send_timeout.unwrap_or(p.proxy_send_timeout),
            send_timeout: self.send_timeout.unwrap_or(p.send_timeout),
            lingering: Lingering {
                close: self.lingering_close.unwrap_or(p.lingering.close),
                time: self.lingering_time.unwrap_or(p.lingering.time),
                timeout: self.lingering_timeout.unwrap_or(p.lingering.timeout),
            },
            client_max_body_size: self.client_max_body_size.unwrap_or(p.client_max_body_size),
            client_header_timeout: self
                .client_header_timeout
                .unwrap_or(p.client_header_timeout),
            client_body_timeout: self.client_body_timeout.unwrap_or(p.client_body_timeout),
            keepalive_timeout: self.keepalive_timeout.unwrap_or(p.keepalive_timeout),
            keepalive_requests: self.keepalive_requests.unwrap_or(p.keepalive_requests),
            max_header_size,
            max_request_line,
            via: self.via.unwrap_or(p.via),
            proxy_redirect: self.proxy_redirect.clone().unwrap_or(p.proxy_redirect),
            proxy_next_upstream: self
                .proxy_next_upstream
                .clone()
                .unwrap_or(p.proxy_next_upstream),
            proxy_next_upstream_tries: self
                .proxy_next_upstream_tries
                .unwrap_or(p.proxy_next_upstream_tries),
            proxy_next_upstream_timeout: self
                .proxy_next_upstream_timeout
                .unwrap_or(p.proxy_next_upstream_timeout),
            limits: self.limits.apply(&p.limits),
            cache: self.cache.apply(&p.cache),
            compress: self.compress.apply(&p.compress),
            http2: self.http2.apply(&p.http2),
            access: self.access.clone().unwrap_or(p.access),
            realip: RealIp {
                from: self.real_ip_from.clone().unwrap_or(p.realip.from),
                header: self.real_ip_header.clone().unwrap_or(p.realip.header),
                recursive: self.real_ip_recursive.unwrap_or(p.realip.recursive),
            },
            access_log: self.access_log.apply(&p.access_log),
            ..self.auth.apply(parent)
        }
    }
}

impl Builder {
    /// The settings directives, valid at http, server and location level.
    pub(super) fn setting(
        &mut self,
        d: &Directive,
        l: &mut Layer,
        caps: &HashSet<String>,
    ) -> Result<()> {
        let a = &d.args;
        match d.name.as_str() {
            "root" | "index" => {
                self.notice(d, files::NOTICE);
                l.files.get_or_insert_with(|| FilesDirective {
                    name: d.name.clone(),
                    pos: d.pos.clone(),
                });
            }
            // Only upstream `resolve` servers use a resolver, and they take the http-level one.
            "resolver" | "resolver_timeout" => self.notice(
                d,
                "only the http-level resolver is used, by upstream servers with \"resolve\"",
            ),
            "proxy_set_header" => {
                let name = header_name(&a[0])?;
                text_vars(&a[1], caps)?;
                l.proxy_set_header
                    .get_or_insert_default()
                    .push((name, a[1].value.clone()));
            }
            "proxy_hide_header" => {
                let name = header_name(&a[0])?;
                l.proxy_hide_header.get_or_insert_default().push(name);
            }
            "proxy_pass_header" => {
                let name = header_name(&a[0])?;
                l.proxy_pass_header.get_or_insert_default().push(name);
            }
            "add_header" => {
                let name = header_name(&a[0])?;
                text_vars(&a[1], caps)?;
                let always = match a.get(2) {
                    None => false,
                    Some(x) if x.value == "always" => true,
                    Some(x) => return Err(invalid_param(x)),
                };
                l.add_header.get_or_insert_default().push(AddHeader {
                    name,
                    value: a[1].value.clone(),
                    always,
                });
            }
            "proxy_http_version" => {
                let v = match a[0].value.as_str() {
                    "1.1" => true,
                    "1.0" => false,
                    _ => return Err(arg_err(&a[0], d, "it must be \"1.0\" or \"1.1\"")),
                };
                set_once(&mut l.proxy_http_version_11, d, v)?;
            }
            "proxy_connect_timeout" => {
                set_once(&mut l.proxy_connect_timeout, d, time_arg(d, &a[0])?)?
            }
            "proxy_read_timeout" => set_once(&mut l.proxy_read_timeout, d, time_arg(d, &a[0])?)?,
            "proxy_send_timeout" => set_once(&mut l.proxy_send_timeout, d, time_arg(d, &a[0])?)?,
            "send_timeout" => set_once(&mut l.send_timeout, d, time_arg(d, &a[0])?)?,
            "lingering_close" => {
                let v = match a[0].value.as_str() {
                    "off" => LingeringClose::Off,
                    "on" => LingeringClose::On,
                    "always" => LingeringClose::Always,
                    _ => {
                        return Err(arg_err(
                            &a[0],
                            d,
                            "it must be \"off\", \"on\" or \"always\"",
                        ));
                    }
                };
                set_once(&mut l.lingering_close, d, v)?;
            }
            "lingering_time" => set_once(&mut l.lingering_time, d, time_arg(d, &a[0])?)?,
            "lingering_timeout" => set_once(&mut l.lingering_timeout, d, time_arg(d, &a[0])?)?,
            "client_header_timeout" => {
                set_once(&mut l.client_header_timeout, d, time_arg(d, &a[0])?)?
            }
            "client_body_timeout" => set_once(&mut l.client_body_timeout, d, time_arg(d, &a[0])?)?,
            "client_max_body_size" => {
                set_once(&mut l.client_max_body_size, d, size_arg(d, &a[0])?)?
            }
            "keepalive_timeout" => {
                let t = time_arg(d, &a[0])?;
                if let Some(h) = a.get(1) {
                    time_arg(d, h)?;
                    self.notices.push(format!(
                        "{}: ignored: the second argument of keepalive_timeout (ringway sends no Keep-Alive header)",
                        h.pos.short()
                    ));
                }
                set_once(&mut l.keepalive_timeout, d, t)?;
            }
            "keepalive_requests" => set_once(&mut l.keepalive_requests, d, num_arg(d, &a[0])?)?,
            "large_client_header_buffers" => {
                let n: usize = match parse_num(&a[0].value) {
                    Some(n) if n > 0 => n,
                    _ => return Err(arg_err(&a[0], d, "expected a number of buffers")),
                };
                let size = match parse_size(&a[1].value).and_then(|s| usize::try_from(s).ok()) {
                    Some(s) if s > 0 => s,
                    _ => return Err(arg_err(&a[1], d, "expected a size such as 8k")),
                };
                let total = n
                    .checked_mul(size)
                    .ok_or_else(|| arg_err(&a[1], d, "the total is too large"))?;
                set_once(&mut l.header_buffers, d, (total, size))?;
            }
            "proxy_add_via" => set_once(&mut l.via, d, flag_arg(d, &a[0])?)?,
            "proxy_redirect" => redirect_rule(d, l, caps)?,
            "proxy_next_upstream" => {
                let mut v = Vec::new();
                for x in a {
                    if !NEXT_UPSTREAM_TOKENS.contains(&x.value.as_str()) {
                        return Err(arg_err(
                            x,
                            d,
                            &format!("it must be one of {}", NEXT_UPSTREAM_TOKENS.join(" ")),
                        ));
                    }
                    v.push(x.value.clone());
                }
                set_once(&mut l.proxy_next_upstream, d, v)?;
            }
            "proxy_next_upstream_tries" => {
                set_once(&mut l.proxy_next_upstream_tries, d, num_arg(d, &a[0])?)?
            }
            "proxy_next_upstream_timeout" => {
                set_once(&mut l.proxy_next_upstream_timeout, d, time_arg(d, &a[0])?)?
            }
            "auth_basic"
            | "auth_basic_user_file"
            | "auth_request"
            | "auth_request_set"
            | "proxy_pass_request_body" => l.auth.setting(d, caps, &self.base_dir)?,
            "allow" | "deny" => {
                let (rule, low_bits) = access::access_rule(d.name == "deny", &a[0].value)
                    .ok_or_else(|| {
                        arg_err(&a[0], d, &format!("{} or \"all\"", access::EXPECTED_CIDR))
                    })?;
                self.low_bits(&a[0], low_bits);
                l.access.get_or_insert_default().push(rule);
            }
            "set_real_ip_from" => {
                let from = l.real_ip_from.get_or_insert_default();
                if a[0].value.starts_with("unix:") {
                    self.notices.push(format!(
                        "{}: ignored: set_real_ip_from unix: (ringway listens on no unix sockets)",
                        a[0].pos.short()
                    ));
                    return Ok(());
                }
                let (net, low_bits) = access::parse_cidr(&a[0].value)
                    .ok_or_else(|| arg_err(&a[0], d, access::EXPECTED_CIDR))?;
                self.low_bits(&a[0], low_bits);
                from.push(net);
            }
            "real_ip_header" => {
                if a[0].value == "proxy_protocol" {
                    return Err(a[0].pos.err(
                        "\"real_ip_header proxy_protocol\" is not supported: ringway does not \
                         speak the PROXY protocol (use X-Real-IP, X-Forwarded-For or another header)",
                    ));
                }
                let name = header_name(&a[0])?;
                set_once(&mut l.real_ip_header, d, name)?;
            }
            "real_ip_recursive" => set_once(&mut l.real_ip_recursive, d, flag_arg(d, &a[0])?)?,
            "limit_req"
            | "limit_req_status"
            | "limit_req_log_level"
            | "limit_req_dry_run"
            | "limit_conn"
            | "limit_conn_status"
            | "limit_conn_log_level"
            | "limit_conn_dry_run" => limits::setting(d, &mut l.limits, &mut self.limit_refs)?,
            "proxy_no_cache" | "proxy_ignore_headers" => self.cache_setting(d, l, caps)?,
            n if n.starts_with("proxy_cache") => self.cache_setting(d, l, caps)?,
            n if n == "ssl" || n.starts_with("ssl_") => self.ssl_setting(d, &mut l.ssl)?,
            n if n.starts_with("proxy_ssl_") => {
                self.proxy_ssl_setting(d, &mut l.proxy_ssl, caps)?
            }
            n if n.starts_with("gzip") || n.starts_with("brotli") || n.starts_with("zstd") => {
                self.compress_setting(d, &mut l.compress)?
            }
            n if n.starts_with("http2") => self.http2_setting(d, &mut l.http2)?,
            "access_log" => self.access_log(d, l)?,
            "error_log" => self.error_log_nested(d)?,
            _ => return Err(internal(d)),
        }
        Ok(())
    }
}

impl Builder {
    fn cache_setting(
        &mut self,
        d: &Directive,
        l: &mut Layer,
        caps: &HashSet<String>,
    ) -> Result<()> {
        if let Some(n) = cache::setting(d, &mut l.cache, &mut self.cache_refs, caps)? {
            self.notices.push(n);
        }
        Ok(())
    }
}

/// One `proxy_redirect` line into the level's list: `default`, `off`, or a rule whose pattern
/// is a prefix (variables allowed) or a `~`/`~*` regex checked here.
fn redirect_rule(d: &Directive, l: &mut Layer, caps: &HashSet<String>) -> Result<()> {
    let a = &d.args;
    if l.redirect_off {
        return Ok(());
    }
    let rule = match (a[0].value.as_str(), a.len()) {
        ("off", 1) => {
            l.redirect_off = true;
            l.proxy_redirect = Some(Vec::new());
            return Ok(());
        }
        ("default", 1) => RedirectRule::Default,
        (_, 1) => {
            return Err(arg_err(
                &a[0],
                d,
                "expected default, off, or a redirect and its replacement",
            ));
        }
        (pattern, _) => {
            text_vars(&a[1], caps)?;
            let regex = match pattern.strip_prefix("~*") {
                Some(re) => Some((re, true)),
                None => pattern.strip_prefix('~').map(|re| (re, false)),
            };
            let regex = match regex {
                Some((source, case_insensitive)) => {
                    crate::config::values::check_regex(source, case_insensitive).map_err(
                        |why| a[0].pos.err(format!("invalid regex \"{source}\": {why}")),
                    )?;
                    Some(RedirectRegex {
                        source: source.to_string(),
                        case_insensitive,
                    })
                }
                None => {
                    text_vars(&a[0], caps)?;
                    None
                }
            };
            RedirectRule::Rule {
                pattern: pattern.to_string(),
                regex,
                replacement: a[1].value.clone(),
            }
        }
    };
    l.proxy_redirect.get_or_insert_default().push(rule);
    Ok(())
}
