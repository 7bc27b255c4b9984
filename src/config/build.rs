//! Directive tree → typed model: context and argument checks, values, nginx's inheritance
//! (http → server → location), cross-checks (listen, upstream references, duplicate locations).
//!
//! Phase A walks the tree in file order (so the first problem in the file is the one reported)
//! and records what each level sets; phase B resolves inheritance and the cross-checks.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::access;
use super::directives::{self, EVENTS, HTTP, Kind, LOCATION, Lookup, MAIN, SERVER, Spec, UPSTREAM};
use super::error::{Pos, Result};
use super::limits::{self, LimitLayer, LimitZone, ZoneRef};
use super::model::*;
use super::parser::{Arg, Directive};
use super::values::{
    capture_names, check_regex, check_variables, has_variables, listen_addrs, parse_num,
    parse_size, parse_time, split_authority,
};

/// Idle upstream connections kept per shard when an `upstream` has no `keepalive` (nginx keeps
/// none; pooling is the point of ringway, so it keeps some by default).
pub const DEFAULT_UPSTREAM_KEEPALIVE: usize = 32;
pub const DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_UPSTREAM_KEEPALIVE_REQUESTS: u64 = 1000;
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// nginx's default listen backlog on Linux.
pub const DEFAULT_BACKLOG: i32 = 511;

const NEXT_UPSTREAM_TOKENS: &[&str] = &[
    "error",
    "timeout",
    "invalid_header",
    "http_500",
    "http_502",
    "http_503",
    "http_504",
    "http_403",
    "http_404",
    "http_429",
    "non_idempotent",
    "off",
];

fn unsupported(what: &str) -> String {
    format!("{what} is not supported yet by ringway (it would change how requests are handled)")
}

/// What one level (http, server or location) sets itself; None = inherit.
#[derive(Debug, Default, Clone)]
struct Layer {
    proxy_set_header: Option<Vec<(String, String)>>,
    proxy_hide_header: Option<Vec<String>>,
    proxy_pass_header: Option<Vec<String>>,
    add_header: Option<Vec<AddHeader>>,
    proxy_http_version_11: Option<bool>,
    proxy_connect_timeout: Option<Duration>,
    proxy_read_timeout: Option<Duration>,
    proxy_send_timeout: Option<Duration>,
    send_timeout: Option<Duration>,
    client_max_body_size: Option<u64>,
    client_header_timeout: Option<Duration>,
    client_body_timeout: Option<Duration>,
    keepalive_timeout: Option<Duration>,
    keepalive_requests: Option<u64>,
    /// (max_header_size, max_request_line)
    header_buffers: Option<(usize, usize)>,
    via: Option<bool>,
    proxy_next_upstream: Option<Vec<String>>,
    proxy_next_upstream_tries: Option<u32>,
    proxy_next_upstream_timeout: Option<Duration>,
    auth: super::auth::AuthLayer,
    access: Option<Vec<AccessRule>>,
    real_ip_from: Option<Vec<Cidr>>,
    real_ip_header: Option<String>,
    real_ip_recursive: Option<bool>,
    limits: LimitLayer,
}

impl Layer {
    /// nginx's merge: what this level sets wins, the rest comes from `parent`; a list set here
    /// replaces the parent's whole list.
    fn apply(&self, parent: &Settings) -> Settings {
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
            access: self.access.clone().unwrap_or(p.access),
            realip: RealIp {
                from: self.real_ip_from.clone().unwrap_or(p.realip.from),
                header: self.real_ip_header.clone().unwrap_or(p.realip.header),
                recursive: self.real_ip_recursive.unwrap_or(p.realip.recursive),
            },
            ..self.auth.apply(parent)
        }
    }
}

#[derive(Debug)]
struct PListen {
    addr: SocketAddr,
    default_server: bool,
    backlog: Option<i32>,
    deferred: bool,
    pos: Pos,
}

#[derive(Debug)]
struct PLocation {
    matcher: LocationMatch,
    pos: Pos,
    proxy: Option<ProxyPass>,
    ret: Option<Return>,
    rewrites: Vec<Rewrite>,
    layer: Layer,
    children: Vec<PLocation>,
    internal: bool,
}

#[derive(Debug)]
struct PServer {
    pos: Pos,
    listen: Vec<PListen>,
    names: Vec<String>,
    layer: Layer,
    rewrites: Vec<Rewrite>,
    ret: Option<Return>,
    locations: Vec<PLocation>,
}

#[derive(Debug, Default)]
struct Http {
    layer: Layer,
    upstreams: Vec<(Upstream, Pos)>,
    servers: Vec<PServer>,
    resolver: Option<Resolver>,
    resolver_timeout: Option<Duration>,
    limit_zones: Vec<(LimitZone, Pos)>,
}

struct Builder {
    notices: Vec<String>,
    /// Names of every `upstream` block (collected before the walk, so `proxy_pass` may name an
    /// upstream defined further down, as in nginx).
    upstream_names: Vec<String>,
    /// The first upstream `server … resolve` (it needs an http-level `resolver`).
    first_resolve: Option<(Pos, String)>,
    /// Variables declared by any `auth_request_set` (usable in every template, as in nginx).
    auth_vars: HashSet<String>,
    /// Where relative `auth_basic_user_file` paths start: the main file's folder.
    base_dir: PathBuf,
    /// Zones named by `limit_req` / `limit_conn` (checked once all zones are known).
    limit_refs: Vec<ZoneRef>,
}

/// Named captures of every regex in a server (they may be used as variables anywhere in it).
fn server_captures(block: &[Directive], into: &mut HashSet<String>) {
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

fn arg_err(a: &Arg, d: &Directive, expected: &str) -> super::ConfigError {
    a.pos.err(format!(
        "invalid value \"{}\" in \"{}\" directive, {expected}",
        a.value, d.name
    ))
}

fn time_arg(d: &Directive, a: &Arg) -> Result<Duration> {
    parse_time(&a.value).ok_or_else(|| {
        arg_err(
            a,
            d,
            "expected a time such as 30s, 5m, 1h, 500ms or plain seconds",
        )
    })
}

fn size_arg(d: &Directive, a: &Arg) -> Result<u64> {
    parse_size(&a.value).ok_or_else(|| arg_err(a, d, "expected a size such as 512, 1k or 10m"))
}

fn num_arg<T: std::str::FromStr>(d: &Directive, a: &Arg) -> Result<T> {
    parse_num(&a.value).ok_or_else(|| arg_err(a, d, "expected a number"))
}

fn flag_arg(d: &Directive, a: &Arg) -> Result<bool> {
    match a.value.as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(arg_err(a, d, "it must be \"on\" or \"off\"")),
    }
}

/// Variables in text that ends up in a message head (fields, `return` texts, redirect targets,
/// rewritten URIs). `$binary_remote_addr` is refused there (nginx allows it): its raw bytes may
/// form CR LF (13.10.x.x), which would split a header line; it belongs in keys (`hash`,
/// `limit_req_zone`, `limit_conn_zone`).
fn text_vars(a: &Arg, caps: &HashSet<String>) -> Result<()> {
    check_variables(&a.value, caps).map_err(|m| a.pos.err(m))?;
    let t = &a.value;
    let raw = t.match_indices("binary_remote_addr").any(|(i, m)| {
        let before = &t[..i];
        let after = &t[i + m.len()..];
        (before.ends_with('$')
            && !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
            || (before.ends_with("${") && after.starts_with('}'))
    });
    if raw {
        return Err(a.pos.err(
            "variable \"$binary_remote_addr\" holds raw address bytes and cannot be used here \
             (use $remote_addr; it is for keys: hash, limit_req_zone, limit_conn_zone)",
        ));
    }
    Ok(())
}

fn header_name(a: &Arg) -> Result<String> {
    if super::values::is_token(&a.value) {
        Ok(a.value.clone())
    } else {
        Err(a.pos.err(format!("invalid header name \"{}\"", a.value)))
    }
}

fn set_once<T>(slot: &mut Option<T>, d: &Directive, v: T) -> Result<()> {
    if slot.is_some() {
        return Err(d.pos.err(format!("\"{}\" directive is duplicate", d.name)));
    }
    *slot = Some(v);
    Ok(())
}

/// `health_check interval=2s fails=2 passes=2 uri=/healthz match_status=200-399 timeout=1s`
fn health_check(d: &Directive) -> Result<super::model::HealthCheck> {
    let mut hc = super::model::HealthCheck::default();
    for a in &d.args {
        let Some((k, v)) = a.value.split_once('=') else {
            return Err(invalid_param(a));
        };
        let bad = |what: &str| {
            a.pos.err(format!(
                "invalid value \"{v}\" for \"{k}\" in \"health_check\": {what}"
            ))
        };
        match k {
            "interval" | "timeout" => {
                let t = parse_time(v)
                    .filter(|t| !t.is_zero())
                    .ok_or_else(|| bad("expected a time such as 2s"))?;
                if k == "interval" {
                    hc.interval = t;
                } else {
                    hc.timeout = t;
                }
            }
            "fails" | "passes" => {
                let n: u32 = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("expected a number above 0"))?;
                if k == "fails" {
                    hc.fails = n;
                } else {
                    hc.passes = n;
                }
            }
            "uri" => {
                if !v.starts_with('/') || v.bytes().any(|c| c <= b' ' || c == 0x7f) {
                    return Err(bad("expected a path starting with /"));
                }
                hc.uri = v.to_string();
            }
            "match_status" => {
                let (lo, hi) = v.split_once('-').unwrap_or((v, v));
                let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) else {
                    return Err(bad("expected a status or a range such as 200-399"));
                };
                if !(100..=999).contains(&lo) || !(lo..=999).contains(&hi) {
                    return Err(bad("expected statuses from 100 to 999, low first"));
                }
                hc.status_lo = lo;
                hc.status_hi = hi;
            }
            _ => return Err(invalid_param(a)),
        }
    }
    Ok(hc)
}

/// `resolver ADDR… [valid=T] [ipv4=on|off] [ipv6=on|off]` (http level).
fn resolver(d: &Directive) -> Result<Resolver> {
    let mut r = Resolver {
        addrs: Vec::new(),
        valid: None,
        ipv4: true,
        ipv6: true,
        timeout: DEFAULT_RESOLVER_TIMEOUT,
    };
    for a in &d.args {
        match a.value.split_once('=') {
            Some(("valid", v)) => {
                let t = parse_time(v)
                    .filter(|t| !t.is_zero())
                    .ok_or_else(|| arg_err(a, d, "expected a time above 0 such as 10s"))?;
                r.valid = Some(t);
            }
            Some((k @ ("ipv4" | "ipv6"), v)) => {
                let on = match v {
                    "on" => true,
                    "off" => false,
                    _ => return Err(arg_err(a, d, "it must be \"on\" or \"off\"")),
                };
                if k == "ipv4" {
                    r.ipv4 = on;
                } else {
                    r.ipv6 = on;
                }
            }
            Some(_) => return Err(invalid_param(a)),
            None => {
                let addr = resolver_addr(&a.value).ok_or_else(|| {
                    a.pos.err(format!(
                        "invalid resolver address \"{}\": ringway needs an IP address with an optional port",
                        a.value
                    ))
                })?;
                r.addrs.push(addr);
            }
        }
    }
    if r.addrs.is_empty() {
        return Err(d.pos.err("no name servers defined in \"resolver\""));
    }
    if !r.ipv4 && !r.ipv6 {
        return Err(d.pos.err("\"ipv4\" and \"ipv6\" cannot both be \"off\""));
    }
    Ok(r)
}

/// `1.2.3.4`, `1.2.3.4:5353`, `[::1]`, `[::1]:5353` or `::1` (port 53 unless written).
fn resolver_addr(s: &str) -> Option<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 53))
}

fn invalid_param(a: &Arg) -> super::ConfigError {
    a.pos.err(format!("invalid parameter \"{}\"", a.value))
}

impl Builder {
    /// Context, shape and argument-count checks shared by every directive. None: the directive
    /// was accepted with a notice and needs nothing more.
    fn spec(&mut self, d: &Directive, ctx: u8) -> Result<Option<&'static Spec>> {
        let spec = match directives::lookup(&d.name, ctx) {
            Lookup::Found(s) => s,
            Lookup::NotAllowed => {
                return Err(d
                    .pos
                    .err(format!("\"{}\" directive is not allowed here", d.name)));
            }
            Lookup::Unknown => {
                let msg = match directives::suggest(&d.name) {
                    Some(s) => format!("unknown directive \"{}\", did you mean \"{s}\"?", d.name),
                    None => format!("unknown directive \"{}\"", d.name),
                };
                return Err(d.pos.err(msg));
            }
        };
        if spec.kind == Kind::Unsupported {
            return Err(d.pos.err(unsupported(&format!("\"{}\"", d.name))));
        }
        match (spec.block, d.block.is_some()) {
            (true, false) => {
                return Err(d
                    .pos
                    .err(format!("directive \"{}\" has no opening \"{{\"", d.name)));
            }
            (false, true) => {
                return Err(d.pos.err(format!(
                    "directive \"{}\" is not terminated by \";\"",
                    d.name
                )));
            }
            _ => {}
        }
        let n = d.args.len();
        if n < usize::from(spec.min) || (spec.max != u8::MAX && n > usize::from(spec.max)) {
            return Err(d.pos.err(format!(
                "invalid number of arguments in \"{}\" directive",
                d.name
            )));
        }
        if let Kind::Notice(why) = spec.kind {
            self.notice(d, why);
            return Ok(None);
        }
        Ok(Some(spec))
    }

    /// nginx warns about `10.1.2.3/8`: the bits below the prefix are dropped.
    fn low_bits(&mut self, a: &Arg, set: bool) {
        if set {
            self.notices.push(format!(
                "{}: low address bits of {} are meaningless",
                a.pos.short(),
                a.value
            ));
        }
    }

    fn notice(&mut self, d: &Directive, why: &str) {
        self.notices
            .push(format!("{}: ignored: {} ({why})", d.pos.short(), d.name));
    }

    fn main(&mut self, dirs: &[Directive], source: &Path) -> Result<Config> {
        let explicit_http = dirs.iter().any(|d| d.name == "http");
        let mut cfg = Config {
            source: source.to_path_buf(),
            workers: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            pid_file: None,
            upstreams: Vec::new(),
            servers: Vec::new(),
            resolver: None,
            auth_vars: Vec::new(),
            worker_connections: None,
            max_connections: None,
            uring: UringSetup::default(),
            limit_zones: Vec::new(),
            notices: Vec::new(),
        };
        let mut http = Http::default();
        let (mut seen_workers, mut seen_pid, mut seen_shutdown) = (None, None, None);
        let mut seen_http = false;
        let mut seen_events = false;
        for d in dirs {
            if !explicit_http
                && !directives::allowed_in(&d.name, MAIN)
                && directives::allowed_in(&d.name, HTTP)
            {
                // A file of bare `server`/`upstream` blocks: an implicit `http { }` around them.
                self.http_directive(d, &mut http)?;
                continue;
            }
            let Some(_) = self.spec(d, MAIN)? else {
                continue;
            };
            let a = &d.args;
            match d.name.as_str() {
                "worker_processes" => {
                    let v = if a[0].value == "auto" {
                        None
                    } else {
                        match parse_num::<usize>(&a[0].value) {
                            Some(n) if n > 0 => Some(n),
                            _ => return Err(arg_err(&a[0], d, "it must be \"auto\" or a number")),
                        }
                    };
                    set_once(&mut seen_workers, d, ())?;
                    cfg.workers = v;
                }
                "pid" => {
                    set_once(&mut seen_pid, d, ())?;
                    cfg.pid_file = Some(a[0].value.clone().into());
                }
                "worker_shutdown_timeout" => {
                    set_once(&mut seen_shutdown, d, ())?;
                    cfg.shutdown_timeout = time_arg(d, &a[0])?;
                }
                "events" => {
                    if seen_events {
                        return Err(d.pos.err("\"events\" directive is duplicate"));
                    }
                    seen_events = true;
                    let (mut entries, mut sqpoll, mut idle) = (None, None, None);
                    for e in d.block.as_deref().unwrap_or_default() {
                        // The connection caps and the ring setup are honoured; the rest is
                        // notice-only.
                        if self.spec(e, EVENTS)?.is_none() {
                            continue;
                        }
                        let a = &e.args[0];
                        let slot = match e.name.as_str() {
                            "worker_connections" => &mut cfg.worker_connections,
                            "max_connections" => &mut cfg.max_connections,
                            "io_uring_entries" => {
                                // The kernel's IORING_MAX_ENTRIES; it rounds other sizes up,
                                // which would make the dump disagree with the running ring.
                                let n = match parse_num::<u32>(&a.value) {
                                    Some(n) if n.is_power_of_two() && n <= 32768 => n,
                                    _ => {
                                        return Err(arg_err(
                                            a,
                                            e,
                                            "expected a power of two from 1 to 32768",
                                        ));
                                    }
                                };
                                set_once(&mut entries, e, n)?;
                                continue;
                            }
                            "io_uring_sqpoll" => {
                                set_once(&mut sqpoll, e, flag_arg(e, a)?)?;
                                continue;
                            }
                            "io_uring_sqpoll_idle" => {
                                let t = time_arg(e, a)?;
                                // The kernel takes whole milliseconds in a u32; 0 means 1 s.
                                if t < Duration::from_millis(1) || t > Duration::from_secs(3600) {
                                    return Err(arg_err(a, e, "expected a time from 1ms to 1h"));
                                }
                                set_once(&mut idle, e, t)?;
                                continue;
                            }
                            _ => return Err(internal(e)),
                        };
                        let n = match parse_num::<usize>(&e.args[0].value) {
                            Some(n) if n > 0 => n,
                            _ => return Err(arg_err(&e.args[0], e, "expected a number above 0")),
                        };
                        set_once(slot, e, n)?;
                    }
                    let dflt = UringSetup::default();
                    cfg.uring = UringSetup {
                        entries: entries.unwrap_or(dflt.entries),
                        sqpoll: sqpoll.unwrap_or(dflt.sqpoll),
                        sqpoll_idle: idle.unwrap_or(dflt.sqpoll_idle),
                    };
                }
                "http" => {
                    if seen_http {
                        return Err(d.pos.err("\"http\" directive is duplicate"));
                    }
                    seen_http = true;
                    for h in d.block.as_deref().unwrap_or_default() {
                        self.http_directive(h, &mut http)?;
                    }
                }
                _ => return Err(internal(d)),
            }
        }
        self.finish(http, &mut cfg)?;
        cfg.auth_vars = self.auth_vars.iter().cloned().collect();
        cfg.auth_vars.sort();
        cfg.notices = std::mem::take(&mut self.notices);
        Ok(cfg)
    }

    fn http_directive(&mut self, d: &Directive, http: &mut Http) -> Result<()> {
        let Some(_) = self.spec(d, HTTP)? else {
            return Ok(());
        };
        match d.name.as_str() {
            "upstream" => {
                let up = self.upstream(d)?;
                if let Some((_, first)) = http
                    .upstreams
                    .iter()
                    .find(|(u, _)| u.name.eq_ignore_ascii_case(&up.name))
                {
                    return Err(d.pos.err(format!(
                        "duplicate upstream \"{}\" (first defined at {})",
                        up.name,
                        first.short()
                    )));
                }
                http.upstreams.push((up, d.pos.clone()));
            }
            "server" => {
                let s = self.server(d)?;
                http.servers.push(s);
            }
            "resolver" => {
                let r = resolver(d)?;
                set_once(&mut http.resolver, d, r)?;
            }
            "resolver_timeout" => {
                let t = time_arg(d, &d.args[0])?;
                if t.is_zero() {
                    return Err(arg_err(&d.args[0], d, "it must be above 0"));
                }
                set_once(&mut http.resolver_timeout, d, t)?;
            }
            "limit_req_zone" | "limit_conn_zone" => {
                let z = limits::zone(d)?;
                if let Some((_, first)) = http.limit_zones.iter().find(|(o, _)| o.name == z.name) {
                    return Err(d.pos.err(format!(
                        "duplicate zone \"{}\" (first declared at {})",
                        z.name,
                        first.short()
                    )));
                }
                http.limit_zones.push((z, d.pos.clone()));
            }
            _ => {
                let caps = self.auth_vars.clone();
                self.setting(d, &mut http.layer, &caps)?
            }
        }
        Ok(())
    }

    fn upstream(&mut self, d: &Directive) -> Result<Upstream> {
        let mut up = Upstream {
            name: d.args[0].value.clone(),
            method: BalanceMethod::RoundRobin,
            hash_key: None,
            servers: Vec::new(),
            keepalive: DEFAULT_UPSTREAM_KEEPALIVE,
            keepalive_timeout: DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT,
            keepalive_requests: DEFAULT_UPSTREAM_KEEPALIVE_REQUESTS,
            health_check: None,
            queue: None,
        };
        if up.name.is_empty() || up.name.contains(['/', ':', '$']) {
            return Err(d.args[0]
                .pos
                .err(format!("invalid upstream name \"{}\"", up.name)));
        }
        let (mut ka, mut kat, mut kar) = (None, None, None);
        let mut method: Option<(&str, Pos)> = None;
        let mut backup_at: Option<&Arg> = None;
        for c in d.block.as_deref().unwrap_or_default() {
            let Some(_) = self.spec(c, UPSTREAM)? else {
                continue;
            };
            let a = &c.args;
            match c.name.as_str() {
                "server" => {
                    let (s, backup) = self.upstream_server(c)?;
                    if backup_at.is_none() {
                        backup_at = backup;
                    }
                    up.servers.push(s);
                }
                "queue" => {
                    let n = num_arg::<usize>(c, &a[0])?;
                    let timeout = match a.get(1) {
                        None => Duration::from_secs(60),
                        Some(t) => match t.value.strip_prefix("timeout=") {
                            Some(v) => parse_time(v).ok_or_else(|| invalid_param(t))?,
                            None => return Err(invalid_param(t)),
                        },
                    };
                    set_once(&mut up.queue, c, (n, timeout))?;
                }
                "health_check" => {
                    let hc = health_check(c)?;
                    set_once(&mut up.health_check, c, hc)?;
                }
                "keepalive" => set_once(&mut ka, c, num_arg::<usize>(c, &a[0])?)?,
                "keepalive_timeout" => set_once(&mut kat, c, time_arg(c, &a[0])?)?,
                "keepalive_requests" => set_once(&mut kar, c, num_arg::<u64>(c, &a[0])?)?,
                "least_conn" | "ip_hash" | "hash" | "random" => {
                    if let Some((prev, at)) = &method {
                        self.notices.push(format!(
                            "{}: load balancing method redefined: \"{}\" replaces \"{prev}\" from {}",
                            c.pos.short(),
                            c.name,
                            at.short()
                        ));
                    }
                    up.hash_key = None;
                    up.method = match c.name.as_str() {
                        "least_conn" => BalanceMethod::LeastConn,
                        "ip_hash" => BalanceMethod::IpHash,
                        "hash" => {
                            check_variables(&a[0].value, &HashSet::new())
                                .map_err(|m| a[0].pos.err(m))?;
                            let consistent = match a.get(1) {
                                None => false,
                                Some(x) if x.value == "consistent" => true,
                                Some(x) => return Err(invalid_param(x)),
                            };
                            up.hash_key = Some(a[0].value.clone());
                            BalanceMethod::Hash { consistent }
                        }
                        _ => {
                            for (x, want) in a.iter().zip(["two", "least_conn"]) {
                                if x.value != want {
                                    return Err(invalid_param(x));
                                }
                            }
                            BalanceMethod::Random {
                                two: !a.is_empty(),
                                least_conn: a.len() == 2,
                            }
                        }
                    };
                    method = Some((c.name.as_str(), c.pos.clone()));
                }
                _ => return Err(internal(c)),
            }
        }
        if up.servers.is_empty() {
            return Err(d
                .pos
                .err(format!("no servers are inside upstream \"{}\"", up.name)));
        }
        if let (Some(b), Some((m, _))) = (backup_at, &method)
            && matches!(*m, "ip_hash" | "hash" | "random")
        {
            return Err(b.pos.err(format!(
                "balancing method \"{m}\" does not support parameter \"backup\""
            )));
        }
        up.keepalive = ka.unwrap_or(up.keepalive);
        up.keepalive_timeout = kat.unwrap_or(up.keepalive_timeout);
        up.keepalive_requests = kar.unwrap_or(up.keepalive_requests);
        Ok(up)
    }

    /// One `server ADDR [params]` line of an upstream; also returns the `backup` argument if any.
    fn upstream_server<'d>(
        &mut self,
        c: &'d Directive,
    ) -> Result<(UpstreamServer, Option<&'d Arg>)> {
        let a0 = &c.args[0];
        if a0.value.starts_with("unix:") {
            return Err(a0.pos.err(unsupported("a \"unix:\" upstream server")));
        }
        let addr = match split_authority(&a0.value) {
            Ok((_, Some(_))) => a0.value.clone(),
            Ok((host, None)) => format!("{host}:80"),
            Err(why) => {
                return Err(a0.pos.err(format!("{why} in upstream \"{}\"", a0.value)));
            }
        };
        let mut s = UpstreamServer {
            addr,
            weight: 1,
            max_fails: 1,
            fail_timeout: Duration::from_secs(10),
            backup: false,
            down: false,
            max_conns: 0,
            resolve: false,
        };
        let mut backup = None;
        for p in &c.args[1..] {
            let v = p.value.as_str();
            let (key, val) = v.split_once('=').unwrap_or((v, ""));
            let bad_val = || {
                p.pos.err(format!(
                    "invalid value in \"{v}\" of the upstream \"server\""
                ))
            };
            match (key, v.contains('=')) {
                ("weight", true) => match parse_num::<u32>(val) {
                    Some(n) if n > 0 => s.weight = n,
                    _ => return Err(bad_val()),
                },
                ("max_fails", true) => s.max_fails = parse_num(val).ok_or_else(bad_val)?,
                ("fail_timeout", true) => s.fail_timeout = parse_time(val).ok_or_else(bad_val)?,
                ("max_conns", true) => s.max_conns = parse_num(val).ok_or_else(bad_val)?,
                ("backup", false) => {
                    s.backup = true;
                    backup = Some(p);
                }
                ("down", false) => s.down = true,
                ("resolve", false) => {
                    s.resolve = true;
                    if self.first_resolve.is_none() {
                        let host = split_authority(&a0.value).map_or("", |(h, _)| h);
                        self.first_resolve = Some((p.pos.clone(), host.to_string()));
                    }
                }
                ("slow_start" | "route" | "service" | "drain", _) => {
                    return Err(p.pos.err(unsupported(&format!("the \"{key}\" parameter"))));
                }
                _ => return Err(invalid_param(p)),
            }
        }
        Ok((s, backup))
    }

    fn server(&mut self, d: &Directive) -> Result<PServer> {
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
        };
        for c in block {
            let Some(_) = self.spec(c, SERVER)? else {
                continue;
            };
            match c.name.as_str() {
                "listen" => self.listen(c, &mut s.listen)?,
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

    fn listen(&mut self, c: &Directive, out: &mut Vec<PListen>) -> Result<()> {
        let a0 = &c.args[0];
        if a0.value.starts_with("unix:") {
            return Err(a0.pos.err(unsupported("listening on a \"unix:\" socket")));
        }
        let addrs = listen_addrs(&a0.value).map_err(|m| a0.pos.err(m))?;
        let mut default_server = false;
        let mut backlog = None;
        let mut deferred = false;
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
                ("ssl" | "http2" | "quic" | "proxy_protocol", false) => {
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
                pos: c.pos.clone(),
            });
        }
        Ok(())
    }

    fn location(
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
        Ok(loc)
    }

    fn proxy_pass(&mut self, c: &Directive) -> Result<ProxyPass> {
        let a = &c.args[0];
        let url = a.value.as_str();
        if has_variables(url) {
            return Err(a.pos.err(unsupported("\"proxy_pass\" with variables")));
        }
        let lower = url.to_ascii_lowercase();
        let rest = if lower.starts_with("http://") {
            &url[7..]
        } else if lower.starts_with("https://") {
            return Err(a.pos.err(unsupported("\"proxy_pass\" to https://")));
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
                target: name.clone(),
                is_upstream: true,
                uri,
            }),
            (Some(name), Some(p)) => Err(a
                .pos
                .err(format!("upstream \"{name}\" may not have port {p}"))),
            (None, p) => Ok(ProxyPass {
                target: format!("{host}:{}", p.unwrap_or(80)),
                is_upstream: false,
                uri,
            }),
        }
    }

    /// The settings directives, valid at http, server and location level.
    fn setting(&mut self, d: &Directive, l: &mut Layer, caps: &HashSet<String>) -> Result<()> {
        let a = &d.args;
        match d.name.as_str() {
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
            _ => return Err(internal(d)),
        }
        Ok(())
    }

    /// Phase B: inheritance, defaults and the checks that need the whole file.
    fn finish(&mut self, http: Http, cfg: &mut Config) -> Result<()> {
        cfg.resolver = http.resolver.clone().map(|mut r| {
            r.timeout = http.resolver_timeout.unwrap_or(DEFAULT_RESOLVER_TIMEOUT);
            r
        });
        if let (Some((pos, host)), None) = (&self.first_resolve, &cfg.resolver) {
            return Err(pos.err(format!(
                "no resolver defined to resolve {host} (add \"resolver ADDRESS;\" at http level)"
            )));
        }
        cfg.limit_zones = http.limit_zones.iter().map(|(z, _)| z.clone()).collect();
        limits::check_refs(&self.limit_refs, &cfg.limit_zones)?;
        let base = http.layer.apply(&Settings::default());
        // Listen checks across servers.
        let mut all: Vec<&PListen> = Vec::new();
        for s in &http.servers {
            let mut mine: Vec<SocketAddr> = Vec::new();
            for l in &s.listen {
                if mine.contains(&l.addr) {
                    return Err(l.pos.err(format!("a duplicate listen {}", l.addr)));
                }
                mine.push(l.addr);
                if l.default_server
                    && let Some(o) = all.iter().find(|o| o.addr == l.addr && o.default_server)
                {
                    return Err(l.pos.err(format!(
                        "a duplicate default server for {} (the first is at {})",
                        l.addr,
                        o.pos.short()
                    )));
                }
                if let Some(b) = l.backlog
                    && let Some(o) = all
                        .iter()
                        .find(|o| o.addr == l.addr && o.backlog.is_some_and(|ob| ob != b))
                {
                    return Err(l.pos.err(format!(
                        "duplicate listen options for {} (also set at {})",
                        l.addr,
                        o.pos.short()
                    )));
                }
                all.push(l);
            }
        }
        let backlog_of = |addr: SocketAddr| {
            all.iter()
                .find_map(|o| (o.addr == addr).then_some(o.backlog).flatten())
                .unwrap_or(DEFAULT_BACKLOG)
        };
        // As nginx: the option is the socket's, so one listen line with it sets it for all.
        let deferred_of = |addr: SocketAddr| all.iter().any(|o| o.addr == addr && o.deferred);
        let default_listen: SocketAddr = SocketAddr::from(([0, 0, 0, 0], 80));
        let mut servers = Vec::new();
        for s in &http.servers {
            let settings = s.layer.apply(&base);
            let listen = if s.listen.is_empty() {
                vec![Listen {
                    addr: default_listen,
                    default_server: false,
                    backlog: backlog_of(default_listen),
                    deferred: deferred_of(default_listen),
                }]
            } else {
                s.listen
                    .iter()
                    .map(|l| Listen {
                        addr: l.addr,
                        default_server: l.default_server,
                        backlog: backlog_of(l.addr),
                        deferred: deferred_of(l.addr),
                    })
                    .collect()
            };
            let server_names = if s.names.is_empty() {
                vec![String::new()]
            } else {
                s.names.clone()
            };
            servers.push(Server {
                listen,
                server_names,
                locations: resolve_locations(&s.locations, &settings)?,
                settings,
                rewrites: s.rewrites.clone(),
                server_return: s.ret.clone(),
            });
        }
        // nginx warns about (and ignores) a name claimed twice on one address.
        let mut claimed: Vec<(SocketAddr, String, &Pos)> = Vec::new();
        for (s, ps) in servers.iter().zip(&http.servers) {
            for l in &s.listen {
                for n in &s.server_names {
                    if n.starts_with('~') {
                        continue;
                    }
                    let key = n.to_ascii_lowercase();
                    if let Some((_, _, first)) =
                        claimed.iter().find(|(a, k, _)| *a == l.addr && *k == key)
                    {
                        self.notices.push(format!(
                            "{}: conflicting server name \"{n}\" on {}, ignored (first at {})",
                            ps.pos.short(),
                            l.addr,
                            first.short()
                        ));
                    } else {
                        claimed.push((l.addr, key, &ps.pos));
                    }
                }
            }
        }
        cfg.upstreams = http.upstreams.into_iter().map(|(u, _)| u).collect();
        cfg.servers = servers;
        Ok(())
    }
}

fn internal(d: &Directive) -> super::ConfigError {
    d.pos.err(format!(
        "internal error: directive \"{}\" has no handler",
        d.name
    ))
}

fn resolve_locations(locs: &[PLocation], parent: &Settings) -> Result<Vec<Location>> {
    locs.iter()
        .map(|l| {
            let settings = l.layer.apply(parent);
            let action = match (&l.ret, &l.proxy) {
                (Some(r), _) => Action::Return(r.clone()),
                (None, Some(p)) => Action::Proxy(p.clone()),
                (None, None) => Action::None,
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
                locations: resolve_locations(&l.children, &settings)?,
                settings,
                rewrites: l.rewrites.clone(),
                internal: l.internal,
            })
        })
        .collect()
}

fn match_text(m: &LocationMatch) -> &str {
    match m {
        LocationMatch::Prefix(s) | LocationMatch::Exact(s) | LocationMatch::PrefixNoRegex(s) => s,
        LocationMatch::Regex { pattern, .. } => pattern,
    }
}

/// Adds a location to its siblings, refusing a second one for the same exact or prefix URI.
fn push_location(siblings: &mut Vec<PLocation>, loc: PLocation) -> Result<()> {
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

fn parse_matcher(d: &Directive) -> Result<LocationMatch> {
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

fn is_redirect_url(s: &str) -> bool {
    (s.len() > 7 && s.starts_with("http://"))
        || (s.len() > 8 && s.starts_with("https://"))
        || s.starts_with("$scheme")
}

fn parse_return(d: &Directive, caps: &HashSet<String>) -> Result<Return> {
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

fn parse_rewrite(d: &Directive, caps: &HashSet<String>) -> Result<Rewrite> {
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

/// Collects the names of every `upstream` block, wherever an `upstream` may stand.
fn upstream_names(dirs: &[Directive], explicit_http: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut take = |list: &[Directive]| {
        for d in list {
            if d.name == "upstream"
                && d.block.is_some()
                && let [name] = d.args.as_slice()
            {
                out.push(name.value.clone());
            }
        }
    };
    if explicit_http {
        for d in dirs.iter().filter(|d| d.name == "http") {
            take(d.block.as_deref().unwrap_or_default());
        }
    } else {
        take(dirs);
    }
    out
}

pub(crate) fn build(dirs: &[Directive], source: &Path) -> Result<Config> {
    let explicit_http = dirs.iter().any(|d| d.name == "http");
    let mut auth_vars = HashSet::new();
    super::auth::declared_vars(dirs, &mut auth_vars);
    let mut b = Builder {
        notices: Vec::new(),
        upstream_names: upstream_names(dirs, explicit_http),
        first_resolve: None,
        auth_vars,
        base_dir: source.parent().map(Path::to_path_buf).unwrap_or_default(),
        limit_refs: Vec::new(),
    };
    b.main(dirs, source)
}
