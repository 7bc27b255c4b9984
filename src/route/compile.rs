//! The one place where the config model becomes runtime state: called once per shard at start and
//! at each reload. Everything the data path reads per request is precomputed here.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use super::location::{PrefixEntry, RegexEntry};
use super::{
    Action, AddHeader, Location, LocationTable, ProxyRedirect, RedirectPattern, Rewrite, ServerRt,
    SetHeader, Template, UriRewrite, VirtualHosts,
};
use crate::access::{LocationLimits, ZoneSpec};
use crate::config::{self, LocationMatch};
use crate::http::rewrite::NameSet;

#[derive(Debug)]
pub struct CompileError(pub String);

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CompileError {}

#[derive(Debug, Clone)]
pub struct UpstreamServerSpec {
    pub addr: SocketAddr,
    pub weight: u32,
    pub backup: bool,
    pub down: bool,
    pub max_fails: u32,
    pub fail_timeout: Duration,
    /// 0 = no limit.
    pub max_conns: u32,
}

/// An upstream group as the shard's balancer and pools need it (addresses resolved).
#[derive(Debug, Clone)]
pub struct UpstreamSpec {
    pub name: String,
    pub method: crate::config::BalanceMethod,
    /// `hash KEY`: the key, compiled.
    pub hash_key: Option<Template>,
    pub health_check: Option<config::HealthCheck>,
    pub queue: Option<(usize, Duration)>,
    pub servers: Vec<UpstreamServerSpec>,
    pub keepalive: usize,
    pub keepalive_timeout: Duration,
    pub keepalive_requests: u64,
    /// `proxy_pass https://`: the locations' `proxy_ssl_*` and the name the server's
    /// certificate must carry (`proxy_ssl_name`, else the host of `proxy_pass`).
    pub tls: Option<(config::tls::ProxyTls, String)>,
    /// A location uses this group (its scheme is settled).
    pub claimed: bool,
}

pub struct Listener {
    pub addr: SocketAddr,
    pub backlog: i32,
    pub deferred: bool,
    /// `listen … ssl`: connections begin with a TLS handshake.
    pub ssl: bool,
    /// `listen … http2`: HTTP/2 for every server on the address.
    pub http2: bool,
    pub hosts: VirtualHosts,
}

/// One shard's compiled view of a config generation.
pub struct Compiled {
    pub listeners: Vec<Listener>,
    pub upstreams: Vec<UpstreamSpec>,
    /// `limit_req_zone` / `limit_conn_zone`, in config order.
    pub limit_zones: Vec<ZoneSpec>,
    /// The access log files, opened (`Config::log_files`).
    pub log_files: Vec<config::LogFile>,
}

/// Idle upstream connections kept per shard for a `proxy_pass` straight to an address.
const DEFAULT_KEEPALIVE: usize = 32;

/// The addresses DNS gave for each upstream `server HOST:PORT resolve` line, keyed by the line's
/// `HOST:PORT` as written (the resolver thread keeps it current; see `shard::resolver`).
pub type Resolved = HashMap<String, Vec<SocketAddr>>;

/// The system resolver's answers for the other hostnames (`server` lines without `resolve`,
/// `proxy_pass` targets), keyed by `HOST:PORT`. The main thread looks them up once per start
/// or reload and hands them to every shard, so that no shard ever blocks on a lookup.
pub type Lookups = HashMap<String, SocketAddr>;

/// Where compiling finds the address of a `HOST:PORT` that is not a literal address: route/
/// does no DNS of its own. The main thread answers from the system resolver (it may block:
/// `shard::SystemLookup`); a shard answers from what the main thread found (`Lookups`).
pub trait HostLookup {
    fn lookup(&mut self, host_port: &str) -> Result<SocketAddr, String>;
}

impl HostLookup for Lookups {
    fn lookup(&mut self, host_port: &str) -> Result<SocketAddr, String> {
        self.get(host_port)
            .copied()
            .ok_or_else(|| format!("host not found in upstream \"{host_port}\""))
    }
}

/// Compiles with no DNS answers at all: every `resolve` server has zero addresses and a
/// hostname anywhere else is an error (tests and benchmarks, with literal addresses).
pub fn compile(cfg: &config::Config) -> Result<Compiled, CompileError> {
    compile_with(cfg, &Resolved::new(), &mut Lookups::new())
}

/// Compiles `cfg`; a `resolve` server becomes one server per address `resolved` holds for it
/// (none while its name is unknown there: an upstream left with no server answers 502). Other
/// hostnames are asked of `lookups`.
pub fn compile_with(
    cfg: &config::Config,
    resolved: &Resolved,
    lookups: &mut dyn HostLookup,
) -> Result<Compiled, CompileError> {
    let mut upstreams = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for u in &cfg.upstreams {
        if by_name.contains_key(&u.name) {
            return Err(CompileError(format!("duplicate upstream \"{}\"", u.name)));
        }
        let mut servers = Vec::new();
        for s in &u.servers {
            let addrs = if s.resolve {
                resolved.get(&s.addr).cloned().unwrap_or_default()
            } else {
                vec![resolve(&s.addr, lookups)?]
            };
            for addr in addrs {
                servers.push(UpstreamServerSpec {
                    addr,
                    weight: s.weight.max(1),
                    backup: s.backup,
                    down: s.down,
                    max_fails: s.max_fails,
                    fail_timeout: s.fail_timeout,
                    max_conns: s.max_conns,
                });
            }
        }
        let hash_key = match &u.hash_key {
            Some(k) => Some(
                Template::compile(k)
                    .map_err(|e| CompileError(format!("upstream \"{}\": hash key: {e}", u.name)))?,
            ),
            None => None,
        };
        by_name.insert(u.name.clone(), upstreams.len());
        upstreams.push(UpstreamSpec {
            name: u.name.clone(),
            method: u.method,
            hash_key,
            health_check: u.health_check.clone(),
            queue: u.queue,
            servers,
            keepalive: u.keepalive,
            keepalive_timeout: u.keepalive_timeout,
            keepalive_requests: u.keepalive_requests,
            tls: None,
            claimed: false,
        });
    }

    let limit_zones = cfg
        .limit_zones
        .iter()
        .map(|z| {
            Ok(ZoneSpec {
                name: z.name.clone(),
                key_text: z.key.clone(),
                key: Template::compile(&z.key)
                    .map_err(|e| CompileError(format!("zone \"{}\": {e}", z.name)))?,
                size: z.size,
                rate: z.rate,
            })
        })
        .collect::<Result<Vec<_>, CompileError>>()?;
    let mut listeners: Vec<Listener> = Vec::new();
    for (index, server) in cfg.servers.iter().enumerate() {
        let rt = Rc::new(compile_server(
            index,
            server,
            &mut upstreams,
            &mut by_name,
            lookups,
            &cfg.auth_vars,
            &Zones {
                limit: &limit_zones,
                cache: &cfg.cache_zones,
            },
        )?);
        for listen in &server.listen {
            let idx = match listeners.iter().position(|l| l.addr == listen.addr) {
                Some(i) => i,
                None => {
                    listeners.push(Listener {
                        addr: listen.addr,
                        backlog: listen.backlog,
                        deferred: listen.deferred,
                        ssl: listen.ssl,
                        http2: listen.http2,
                        hosts: VirtualHosts::default(),
                    });
                    listeners.len() - 1
                }
            };
            let l = &mut listeners[idx];
            if listen.default_server {
                if l.hosts
                    .default
                    .as_ref()
                    .is_some_and(|_| explicit_default(cfg, listen.addr) > 1)
                {
                    return Err(CompileError(format!(
                        "a duplicate default server for {}",
                        listen.addr
                    )));
                }
                l.backlog = listen.backlog;
                l.hosts.default = Some(rt.clone());
            } else if l.hosts.default.is_none() {
                l.hosts.default = Some(rt.clone());
            }
            add_names(&mut l.hosts, &server.server_names, &rt)?;
        }
    }
    Ok(Compiled {
        listeners,
        upstreams,
        limit_zones,
        log_files: cfg.log_files.clone(),
    })
}

fn explicit_default(cfg: &config::Config, addr: SocketAddr) -> usize {
    cfg.servers
        .iter()
        .flat_map(|s| s.listen.iter())
        .filter(|l| l.addr == addr && l.default_server)
        .count()
}

fn add_names(
    hosts: &mut VirtualHosts,
    names: &[String],
    rt: &Rc<ServerRt>,
) -> Result<(), CompileError> {
    for name in names {
        let lower = name.to_ascii_lowercase();
        if let Some(re) = name.strip_prefix('~') {
            let re = regex::bytes::Regex::new(re)
                .map_err(|e| CompileError(format!("server_name \"{name}\": {e}")))?;
            hosts.regexes.push((re, rt.clone()));
        } else if let Some(rest) = lower.strip_prefix('*') {
            hosts
                .leading
                .entry(rest.as_bytes().into())
                .or_insert_with(|| rt.clone());
        } else if let Some(bare) = lower.strip_prefix('.') {
            hosts
                .leading
                .entry(lower.as_bytes().into())
                .or_insert_with(|| rt.clone());
            hosts
                .dot_exact
                .entry(bare.as_bytes().into())
                .or_insert_with(|| rt.clone());
        } else if let Some(prefix) = lower.strip_suffix('*') {
            hosts
                .trailing
                .entry(prefix.as_bytes().into())
                .or_insert_with(|| rt.clone());
        } else if lower.is_empty() {
            if hosts.no_host.is_none() {
                hosts.no_host = Some(rt.clone());
            }
        } else if lower != "_" {
            // The first server to claim a name keeps it, as in nginx (which warns).
            hosts
                .exact
                .entry(lower.into_bytes().into_boxed_slice())
                .or_insert_with(|| rt.clone());
        }
    }
    Ok(())
}

/// The zones locations refer to by name.
struct Zones<'a> {
    limit: &'a [ZoneSpec],
    cache: &'a [crate::config::cache::CacheZone],
}

fn compile_server(
    index: usize,
    server: &config::Server,
    upstreams: &mut Vec<UpstreamSpec>,
    by_name: &mut HashMap<String, usize>,
    lookups: &mut dyn HostLookup,
    user: &[String],
    zones: &Zones<'_>,
) -> Result<ServerRt, CompileError> {
    let mut table = LocationTable::default();
    let not_found = config::Action::None;
    let fallback_action = match &server.server_return {
        Some(r) => config::Action::Return(r.clone()),
        None => not_found,
    };
    table.fallback = Some(Rc::new(compile_location(
        "(server)",
        &LocationMatch::Prefix(String::new()),
        &fallback_action,
        &server.settings,
        upstreams,
        by_name,
        lookups,
        user,
        zones,
    )?));
    // A server-level `return` answers every request before locations are looked at.
    if server.server_return.is_none() {
        add_locations(
            &mut table,
            &server.locations,
            upstreams,
            by_name,
            lookups,
            zones,
            None,
            user,
        )?;
    }
    add_slash_redirects(&mut table)?;
    for (i, p) in table.prefixes.iter().enumerate() {
        table.trie.insert(&p.prefix, i);
    }
    let rewrites = compile_rewrites(&server.rewrites, "(server)")?;
    let has_rewrites = !rewrites.is_empty()
        || table.exact.values().any(|l| !l.rewrites.is_empty())
        || table.prefixes.iter().any(|p| {
            !p.loc.rewrites.is_empty() || p.nested_regex.iter().any(|r| !r.loc.rewrites.is_empty())
        })
        || table.regexes.iter().any(|r| !r.loc.rewrites.is_empty());
    Ok(ServerRt {
        index,
        name: server
            .server_names
            .first()
            .map(|n| n.as_bytes().into())
            .unwrap_or_default(),
        locations: table,
        rewrites,
        has_rewrites,
    })
}

fn compile_rewrites(list: &[config::Rewrite], at: &str) -> Result<Vec<Rewrite>, CompileError> {
    list.iter()
        .map(|r| {
            let re = regex::bytes::Regex::new(&r.regex)
                .map_err(|e| CompileError(format!("rewrite in {at}: {e}")))?;
            let replacement = Template::compile(&r.replacement)
                .map_err(|e| CompileError(format!("rewrite in {at}: {e}")))?;
            let external = ["http://", "https://", "$scheme"]
                .iter()
                .any(|p| r.replacement.starts_with(p));
            Ok(Rewrite {
                re,
                replacement,
                flag: r.flag,
                external,
            })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn add_locations(
    table: &mut LocationTable,
    locations: &[config::Location],
    upstreams: &mut Vec<UpstreamSpec>,
    by_name: &mut HashMap<String, usize>,
    lookups: &mut dyn HostLookup,
    zones: &Zones<'_>,
    parent_prefix: Option<usize>,
    user: &[String],
) -> Result<(), CompileError> {
    for loc in locations {
        let name = describe(&loc.matcher);
        let mut compiled = compile_location(
            &name,
            &loc.matcher,
            &loc.action,
            &loc.settings,
            upstreams,
            by_name,
            lookups,
            user,
            zones,
        )?;
        compiled.rewrites = compile_rewrites(&loc.rewrites, &name)?;
        compiled.internal = loc.internal;
        let rt = Rc::new(compiled);
        match &loc.matcher {
            LocationMatch::Exact(p) => {
                table.exact.insert(p.as_bytes().into(), rt);
            }
            LocationMatch::Prefix(p) | LocationMatch::PrefixNoRegex(p) => {
                table.prefixes.push(PrefixEntry {
                    prefix: p.as_bytes().into(),
                    no_regex: matches!(loc.matcher, LocationMatch::PrefixNoRegex(_)),
                    loc: rt,
                    nested_regex: Vec::new(),
                    parent: parent_prefix,
                });
                let me = table.prefixes.len() - 1;
                add_locations(
                    table,
                    &loc.locations,
                    upstreams,
                    by_name,
                    lookups,
                    zones,
                    Some(me),
                    user,
                )?;
            }
            LocationMatch::Regex {
                pattern,
                case_insensitive,
            } => {
                let re = regex::bytes::RegexBuilder::new(pattern)
                    .case_insensitive(*case_insensitive)
                    .build()
                    .map_err(|e| CompileError(format!("location {name}: {e}")))?;
                let entry = RegexEntry { re, loc: rt };
                match parent_prefix {
                    Some(p) => table.prefixes[p].nested_regex.push(entry),
                    None => table.regexes.push(entry),
                }
            }
        }
    }
    Ok(())
}

/// The group a location uses: group `base` as its `proxy_pass` scheme wants it (plain, or TLS
/// with these settings). The first location to use a group sets its scheme (health checks
/// follow it); a location wanting another gets a copy of the group, named `NAME (https N)` or
/// `NAME (http N)` in logs.
fn scheme_group(
    upstreams: &mut Vec<UpstreamSpec>,
    base: usize,
    tls: Option<(&config::tls::ProxyTls, &str)>,
) -> usize {
    let wanted = tls.map(|(settings, target)| {
        let host = target.rsplit_once(':').map_or(target, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = settings.name.clone().unwrap_or_else(|| host.to_string());
        (settings.clone(), name)
    });
    let base_name = upstreams[base].name.clone();
    let copy_of = |u: &UpstreamSpec| u.name.starts_with(&format!("{base_name} (http"));
    if !upstreams[base].claimed || upstreams[base].tls == wanted {
        upstreams[base].claimed = true;
        upstreams[base].tls = wanted;
        return base;
    }
    if let Some(i) = upstreams.iter().position(|u| copy_of(u) && u.tls == wanted) {
        return i;
    }
    let mut copy = upstreams[base].clone();
    let scheme = if wanted.is_some() { "https" } else { "http" };
    copy.name = format!("{base_name} ({scheme} {})", upstreams.len());
    copy.tls = wanted;
    upstreams.push(copy);
    upstreams.len() - 1
}

fn describe(m: &LocationMatch) -> String {
    match m {
        LocationMatch::Prefix(p) => p.clone(),
        LocationMatch::Exact(p) => format!("= {p}"),
        LocationMatch::PrefixNoRegex(p) => format!("^~ {p}"),
        LocationMatch::Regex {
            pattern,
            case_insensitive,
        } => format!("{} {pattern}", if *case_insensitive { "~*" } else { "~" }),
    }
}

/// ringway's default forwarded fields, applied unless the location sets the same name
/// (nginx users add these by hand in nearly every config; the client's Host passes unchanged).
const DEFAULT_SET_HEADERS: &[(&str, &str)] = &[
    ("X-Real-IP", "$remote_addr"),
    ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    ("X-Forwarded-Proto", "$scheme"),
];

#[allow(clippy::too_many_arguments)]
fn compile_location(
    name: &str,
    matcher: &LocationMatch,
    action: &config::Action,
    s: &config::Settings,
    upstreams: &mut Vec<UpstreamSpec>,
    by_name: &mut HashMap<String, usize>,
    lookups: &mut dyn HostLookup,
    user: &[String],
    zones: &Zones<'_>,
) -> Result<Location, CompileError> {
    let tpl = |text: &str| {
        Template::compile_with(text, user)
            .map_err(|e| CompileError(format!("location {name}: {e}")))
    };
    let action_cfg = action;
    let action = match action {
        config::Action::Return(r) => Action::Return {
            code: r.code,
            text: tpl(r.text.as_deref().unwrap_or(""))?,
        },
        config::Action::None => Action::NotFound,
        config::Action::Builtin(b) => Action::Builtin(*b),
        config::Action::Proxy(p) => {
            let upstream = if p.is_upstream {
                *by_name.get(&p.target).ok_or_else(|| {
                    CompileError(format!("no upstream \"{}\" for location {name}", p.target))
                })?
            } else {
                match by_name.get(&p.target) {
                    Some(i) => *i,
                    None => {
                        upstreams.push(UpstreamSpec {
                            name: p.target.clone(),
                            method: crate::config::BalanceMethod::RoundRobin,
                            hash_key: None,
                            health_check: None,
                            queue: None,
                            servers: vec![UpstreamServerSpec {
                                addr: resolve(&p.target, lookups)?,
                                weight: 1,
                                backup: false,
                                down: false,
                                max_fails: 1,
                                fail_timeout: Duration::from_secs(10),
                                max_conns: 0,
                            }],
                            keepalive: DEFAULT_KEEPALIVE,
                            keepalive_timeout: Duration::from_secs(60),
                            keepalive_requests: 1000,
                            tls: None,
                            claimed: false,
                        });
                        by_name.insert(p.target.clone(), upstreams.len() - 1);
                        upstreams.len() - 1
                    }
                }
            };
            let tls = p.tls.then_some((&s.proxy_ssl, p.target.as_str()));
            let upstream = scheme_group(upstreams, upstream, tls);
            let uri = match (&p.uri, matcher) {
                (None, _) => None,
                (Some(u), LocationMatch::Prefix(pre))
                | (Some(u), LocationMatch::PrefixNoRegex(pre))
                | (Some(u), LocationMatch::Exact(pre)) => Some(UriRewrite {
                    strip: pre.len(),
                    replacement: u.as_bytes().into(),
                }),
                (Some(_), LocationMatch::Regex { .. }) => {
                    return Err(CompileError(format!(
                        "\"proxy_pass\" cannot have URI part in location given by regular expression ({name})"
                    )));
                }
            };
            Action::Proxy {
                upstream,
                uri,
                proxy_host: p.target.as_bytes().into(),
            }
        }
    };
    let redirects = match action_cfg {
        config::Action::Proxy(p) => redirects(name, matcher, p, s, &tpl)?,
        _ => Vec::new(),
    };
    let mut set_headers = Vec::new();
    let mut replace: Vec<String> = Vec::new();
    for (n, v) in &s.proxy_set_header {
        let lower = n.to_ascii_lowercase();
        // Connection and framing are the proxy's to decide (hop-by-hop); configs that clear
        // Connection for nginx's keep-alive need nothing here.
        if matches!(
            lower.as_str(),
            "connection" | "content-length" | "transfer-encoding"
        ) {
            continue;
        }
        replace.push(lower);
        let value = tpl(v)?;
        if !value.is_empty() {
            set_headers.push(SetHeader {
                name: n.as_bytes().into(),
                value,
            });
        }
    }
    for (n, v) in DEFAULT_SET_HEADERS {
        let lower = n.to_ascii_lowercase();
        if !replace.contains(&lower) {
            replace.push(lower);
            set_headers.push(SetHeader {
                name: n.as_bytes().into(),
                value: tpl(v)?,
            });
        }
    }
    if s.cache.zone.is_some() {
        // nginx's proxy_cache headers: an entry needs the whole, unconditional response, so
        // the client's conditions and ranges stay here (answered from the entry).
        for n in CACHE_DROPPED_FIELDS {
            if !replace.iter().any(|r| r == n) {
                replace.push(n.to_string());
            }
        }
    }
    let mut add_headers = Vec::new();
    for a in &s.add_header {
        add_headers.push(AddHeader {
            name: a.name.as_bytes().into(),
            value: tpl(&a.value)?,
            always: a.always,
        });
    }
    Ok(Location {
        name: name.to_string(),
        action,
        rewrites: Vec::new(),
        set_headers,
        replace: NameSet::new(replace),
        hide: hidden_fields(s),
        redirects,
        add_headers,
        http11: s.proxy_http_version_11,
        via: s.via,
        client_max_body_size: s.client_max_body_size,
        client_header_timeout: s.client_header_timeout,
        client_body_timeout: s.client_body_timeout,
        keepalive_timeout: s.keepalive_timeout,
        keepalive_requests: s.keepalive_requests,
        max_header_size: s.max_header_size,
        max_request_line: s.max_request_line,
        connect_timeout: s.proxy_connect_timeout,
        read_timeout: s.proxy_read_timeout,
        send_timeout: s.proxy_send_timeout,
        client_send_timeout: s.send_timeout,
        lingering: s.lingering,
        next_upstream: next_upstream(s),
        auth_basic: crate::access::auth_basic::compile(s, user)
            .map_err(|e| CompileError(format!("location {name}: {e}")))?,
        auth_request: crate::access::auth_request::compile(s, user)
            .map_err(|e| CompileError(format!("location {name}: {e}")))?,
        internal: false,
        access: crate::access::rules::Rules::compile(&s.access),
        realip: crate::access::realip::RealIp::compile(&s.realip),
        limits: LocationLimits::compile(&s.limits, zones.limit),
        http2: s.http2,
        compress: crate::compress::Policy::compile(&s.compress)
            .map_err(|e| CompileError(format!("location {name}: {e}")))?
            .map(Box::new),
        cache: crate::cache::settings::LocCache::compile(&s.cache, zones.cache, user)
            .map_err(|e| CompileError(format!("location {name}: {e}")))?,
        stats: Default::default(),
        access_log: s.access_log.as_slice().into(),
    })
}

/// The address of `host:port`: a literal address as it is, a name from `lookups`.
fn resolve(addr: &str, lookups: &mut dyn HostLookup) -> Result<SocketAddr, CompileError> {
    if let Ok(a) = addr.parse::<SocketAddr>() {
        return Ok(a);
    }
    lookups.lookup(addr).map_err(CompileError)
}

/// The location's `proxy_redirect` rules. `default` is nginx's: the `proxy_pass` URL with its
/// URI part becomes the location's prefix; a URL without one, followed by `/`, becomes `/`.
fn redirects(
    name: &str,
    matcher: &LocationMatch,
    p: &config::ProxyPass,
    s: &config::Settings,
    tpl: &dyn Fn(&str) -> Result<Template, CompileError>,
) -> Result<Vec<ProxyRedirect>, CompileError> {
    let mut out = Vec::with_capacity(s.proxy_redirect.len());
    for rule in &s.proxy_redirect {
        out.push(match rule {
            config::RedirectRule::Default => {
                let prefix = match matcher {
                    LocationMatch::Prefix(pre)
                    | LocationMatch::PrefixNoRegex(pre)
                    | LocationMatch::Exact(pre) => pre.as_str(),
                    LocationMatch::Regex { .. } => "",
                };
                let (pattern, replacement) = match &p.uri {
                    Some(_) if !prefix.is_empty() => (p.url.clone(), prefix.to_string()),
                    _ => {
                        let base = p.url.find('?').map_or(&p.url[..], |q| &p.url[..q]);
                        let base = base.strip_suffix('/').unwrap_or(base);
                        (format!("{base}/"), "/".to_string())
                    }
                };
                ProxyRedirect {
                    pattern: RedirectPattern::Prefix(Template::literal(pattern.as_bytes())),
                    replacement: Template::literal(replacement.as_bytes()),
                }
            }
            config::RedirectRule::Rule {
                pattern,
                regex,
                replacement,
            } => ProxyRedirect {
                pattern: match regex {
                    Some(re) => RedirectPattern::Regex(
                        regex::bytes::RegexBuilder::new(&re.source)
                            .case_insensitive(re.case_insensitive)
                            .build()
                            .map_err(|e| CompileError(format!("location {name}: {e}")))?,
                    ),
                    None => RedirectPattern::Prefix(tpl(pattern)?),
                },
                replacement: tpl(replacement)?,
            },
        });
    }
    Ok(out)
}

/// nginx: a request for a proxied prefix location's path without its final slash (`/user` for
/// `location /user/`) gets a 301 to the path with the slash, unless a location claims it.
fn add_slash_redirects(table: &mut LocationTable) -> Result<(), CompileError> {
    let mut add = Vec::new();
    for p in &table.prefixes {
        let Some(bare) = p.prefix.strip_suffix(b"/") else {
            continue;
        };
        if bare.is_empty() || !matches!(p.loc.action, Action::Proxy { .. }) {
            continue;
        }
        let claimed =
            table.exact.contains_key(bare) || table.prefixes.iter().any(|q| &*q.prefix == bare);
        if !claimed {
            add.push((bare.to_vec(), p.loc.clone()));
        }
    }
    for (bare, loc) in add {
        let text = Template::compile("$uri/$is_args$args").map_err(CompileError)?;
        let redirect = Location {
            name: format!("{} (slash redirect)", loc.name),
            action: Action::Return { code: 301, text },
            rewrites: Vec::new(),
            set_headers: Vec::new(),
            replace: NameSet::default(),
            hide: NameSet::default(),
            add_headers: loc.add_headers.clone(),
            ..clone_settings(&loc)
        };
        table
            .exact
            .insert(bare.into_boxed_slice(), Rc::new(redirect));
    }
    Ok(())
}

/// The scalar settings of a location (for a location derived from it).
fn clone_settings(l: &Location) -> Location {
    Location {
        name: l.name.clone(),
        action: Action::NotFound,
        rewrites: Vec::new(),
        set_headers: Vec::new(),
        replace: NameSet::default(),
        hide: NameSet::default(),
        redirects: Vec::new(),
        add_headers: Vec::new(),
        http11: l.http11,
        via: l.via,
        client_max_body_size: l.client_max_body_size,
        client_header_timeout: l.client_header_timeout,
        client_body_timeout: l.client_body_timeout,
        keepalive_timeout: l.keepalive_timeout,
        keepalive_requests: l.keepalive_requests,
        max_header_size: l.max_header_size,
        max_request_line: l.max_request_line,
        connect_timeout: l.connect_timeout,
        read_timeout: l.read_timeout,
        send_timeout: l.send_timeout,
        client_send_timeout: l.client_send_timeout,
        lingering: l.lingering,
        next_upstream: l.next_upstream,
        // nginx sends the slash redirect before the access phase, but after the `internal`
        // check.
        auth_basic: None,
        auth_request: None,
        internal: l.internal,
        access: l.access.clone(),
        realip: l.realip.clone(),
        limits: l.limits.clone(),
        http2: l.http2,
        compress: None,
        cache: None,
        stats: Default::default(),
        access_log: l.access_log.clone(),
    }
}

/// Request fields not sent upstream from a location with `proxy_cache` (nginx's
/// `ngx_http_proxy_cache_headers`).
const CACHE_DROPPED_FIELDS: &[&str] = &[
    "if-modified-since",
    "if-unmodified-since",
    "if-none-match",
    "if-match",
    "range",
    "if-range",
];

/// Upstream response fields nginx never passes to clients unless `proxy_pass_header` names
/// them (its internal X-Accel-* controls), plus the location's `proxy_hide_header` list.
const HIDDEN_BY_DEFAULT: &[&str] = &[
    "x-accel-expires",
    "x-accel-redirect",
    "x-accel-limit-rate",
    "x-accel-buffering",
    "x-accel-charset",
    "x-pad",
];

fn hidden_fields(s: &config::Settings) -> NameSet {
    let passed = |n: &str| {
        s.proxy_pass_header
            .iter()
            .any(|p| p.eq_ignore_ascii_case(n))
    };
    let defaults = HIDDEN_BY_DEFAULT.iter().filter(|n| !passed(n));
    NameSet::new(
        defaults
            .map(|n| n.as_bytes())
            .chain(s.proxy_hide_header.iter().map(|h| h.as_bytes())),
    )
}

fn next_upstream(s: &config::Settings) -> super::NextUpstream {
    use super::location::*;
    let mut on = 0;
    for t in &s.proxy_next_upstream {
        on |= match t.as_str() {
            "error" => NU_ERROR,
            "timeout" => NU_TIMEOUT,
            "invalid_header" => NU_INVALID_HEADER,
            "http_500" => NU_500,
            "http_502" => NU_502,
            "http_503" => NU_503,
            "http_504" => NU_504,
            "http_403" => NU_403,
            "http_404" => NU_404,
            "http_429" => NU_429,
            "non_idempotent" => NU_NON_IDEMPOTENT,
            // `off` (validated by the config front end to stand alone).
            _ => 0,
        };
    }
    super::NextUpstream {
        on,
        tries: s.proxy_next_upstream_tries,
        timeout: s.proxy_next_upstream_timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_servers_take_their_addresses_from_the_map() {
        let text = "resolver 127.0.0.1;\n\
            upstream u { server app.test:81 resolve weight=3; server 127.0.0.9:82; }\n\
            server { listen 127.0.0.1:8080; location / { proxy_pass http://u; }\n\
              location /d { proxy_pass http://localhost:83; } }\n";
        let cfg = config::parse_str(text, std::path::Path::new("t.conf")).unwrap();
        let servers = |c: &Compiled, name: &str| -> Vec<(SocketAddr, u32)> {
            let u = c.upstreams.iter().find(|u| u.name == name).unwrap();
            u.servers.iter().map(|s| (s.addr, s.weight)).collect()
        };
        // Without answers for its hostnames a config does not compile: route/ looks nothing up.
        let e = compile(&cfg).err().unwrap();
        assert!(
            e.0.contains("host not found in upstream \"localhost:83\""),
            "{e}"
        );
        let mut lookups = Lookups::new();
        lookups.insert("localhost:83".into(), "127.0.0.7:83".parse().unwrap());
        // The resolve server not resolved yet: its name has no servers.
        let c = compile_with(&cfg, &Resolved::new(), &mut lookups).unwrap();
        assert_eq!(servers(&c, "u"), vec![("127.0.0.9:82".parse().unwrap(), 1)]);

        let mut dns = Resolved::new();
        dns.insert(
            "app.test:81".into(),
            vec![
                "127.0.0.2:81".parse().unwrap(),
                "127.0.0.3:81".parse().unwrap(),
            ],
        );
        let c = compile_with(&cfg, &dns, &mut lookups).unwrap();
        assert_eq!(
            servers(&c, "u"),
            vec![
                ("127.0.0.2:81".parse().unwrap(), 3),
                ("127.0.0.3:81".parse().unwrap(), 3),
                ("127.0.0.9:82".parse().unwrap(), 1)
            ]
        );
        assert_eq!(
            servers(&c, "localhost:83"),
            vec![("127.0.0.7:83".parse().unwrap(), 1)]
        );
    }

    /// `auth_request_set` variables compile wherever they are used (a config test of the
    /// front end stops at the model).
    #[test]
    fn auth_request_variables_compile_into_templates() {
        let text = "server { listen 127.0.0.1:8080;\n\
            proxy_set_header X-User $auth_user;\n\
            auth_request /auth;\n\
            auth_request_set $auth_user $upstream_http_x_user;\n\
            auth_request_set $auth_status ${upstream_status};\n\
            location = /auth { internal; proxy_pass_request_body off; proxy_pass http://127.0.0.1:1; }\n\
            location /free { auth_request off; proxy_pass http://127.0.0.1:1; } }\n";
        let cfg = config::parse_str(text, std::path::Path::new("t.conf")).unwrap();
        let c = compile(&cfg).unwrap();
        let hosts = &c.listeners[0].hosts;
        let server = hosts.find(b"x").unwrap();
        let free = server.locations.find(b"/free").unwrap();
        assert!(free.auth_request.is_none());
        let other = server.locations.find(b"/other").unwrap();
        assert_eq!(other.auth_request.as_ref().map(|a| a.vars), Some(2));
    }
}
