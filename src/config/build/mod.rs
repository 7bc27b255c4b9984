//! Directive tree → typed model: context and argument checks, values, nginx's inheritance
//! (http → server → location), cross-checks (listen, upstream references, duplicate locations).
//!
//! Phase A walks the tree in file order (so the first problem in the file is the one reported)
//! and records what each level sets; phase B resolves inheritance and the cross-checks.
//!
//! Here: the walk (main, http, phase B). `server` (servers, listens, locations), `upstream`
//! (upstreams, health checks, resolver), `layer` (settings directives and their merge) and
//! `args` (argument readers) hold the rest.

mod acme;
mod acme_keys;
mod acme_proto;
mod args;
mod compress;
mod files;
mod http2;
mod layer;
mod logs;
mod server;
mod tls;
mod upstream;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cache::{self, CacheRef, CacheZone};
use super::directives::{self, EVENTS, HTTP, Kind, Lookup, MAIN, Spec};
use super::error::{Pos, Result};
use super::limits::{self, LimitZone, ZoneRef};
use super::model::*;
use super::parser::{Arg, Directive};
use super::values::parse_num;
use args::*;
use files::FilesDirective;
use layer::*;
use server::*;
use tls::{ProxySslLayer, SslLayer};
pub(crate) use tls::{default_proxy_tls, default_server_tls};
use upstream::*;

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

#[derive(Debug, Default)]
struct Http {
    pub(super) layer: Layer,
    pub(super) upstreams: Vec<(Upstream, Pos)>,
    pub(super) servers: Vec<PServer>,
    pub(super) resolver: Option<Resolver>,
    pub(super) resolver_timeout: Option<Duration>,
    pub(super) limit_zones: Vec<(LimitZone, Pos)>,
    pub(super) cache_zones: Vec<(CacheZone, Pos)>,
    pub(super) acme: super::acme::Acme,
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
    /// Zones named by `proxy_cache` (checked once all `proxy_cache_path`s are known).
    cache_refs: Vec<CacheRef>,
    /// `log_format`s, access log files and the main `error_log`.
    logs: logs::Logs,
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
            cache_zones: Vec::new(),
            notices: Vec::new(),
            log_files: Vec::new(),
            log_formats: Vec::new(),
            error_log: None,
            acme: Default::default(),
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
                    cfg.pid_file = Some(pid_path(&self.base_dir, &a[0].value));
                }
                "error_log" => self.error_log_main(d)?,
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
        cfg.log_files = std::mem::take(&mut self.logs.files);
        cfg.log_formats = self.logs.formats.iter().skip(1).cloned().collect();
        cfg.error_log = self.logs.error_log.take();
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
            "acme_issuer" => self.acme_issuer(d, &mut http.acme)?,
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
                other_use(
                    d,
                    &z.name,
                    http.cache_zones.iter().map(|(z, p)| (&z.name, p)),
                )?;
                http.limit_zones.push((z, d.pos.clone()));
            }
            "proxy_cache_path" => self.cache_zone(d, http)?,
            "log_format" => self.log_format(d)?,
            _ => {
                let caps = self.auth_vars.clone();
                self.setting(d, &mut http.layer, &caps)?
            }
        }
        Ok(())
    }

    /// Phase B: inheritance, defaults and the checks that need the whole file.
    fn finish(&mut self, mut http: Http, cfg: &mut Config) -> Result<()> {
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
        cfg.cache_zones = http.cache_zones.iter().map(|(z, _)| z.clone()).collect();
        cache::check_refs(&self.cache_refs, &cfg.cache_zones)?;
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
        let http2_of = |addr: SocketAddr| all.iter().any(|o| o.addr == addr && o.http2);
        let default_listen: SocketAddr = SocketAddr::from(([0, 0, 0, 0], 80));
        let ssl_on = |s: &PServer| s.layer.ssl.on.or(http.layer.ssl.on).unwrap_or(false);
        // As nginx: `ssl` is the address's, so one listen (or `ssl on`) with it makes every
        // server on that address speak TLS.
        let mut ssl_addrs: Vec<SocketAddr> = Vec::new();
        for s in &http.servers {
            for l in &s.listen {
                if l.ssl || ssl_on(s) {
                    ssl_addrs.push(l.addr);
                }
            }
            if s.listen.is_empty() && ssl_on(s) {
                ssl_addrs.push(default_listen);
            }
        }
        let mut base = base;
        base.proxy_ssl = http.layer.proxy_ssl.model();
        let mut servers = Vec::new();
        for s in &http.servers {
            files::check_server(s, http.layer.files.as_ref())?;
            let mut settings = s.layer.apply(&base);
            let pssl = s.layer.proxy_ssl.over(&http.layer.proxy_ssl);
            settings.proxy_ssl = pssl.model();
            let listen_of = |addr: SocketAddr, default_server: bool| Listen {
                addr,
                default_server,
                backlog: backlog_of(addr),
                deferred: deferred_of(addr),
                ssl: ssl_addrs.contains(&addr),
                http2: http2_of(addr),
            };
            let listen: Vec<Listen> = if s.listen.is_empty() {
                vec![listen_of(default_listen, false)]
            } else {
                s.listen
                    .iter()
                    .map(|l| listen_of(l.addr, l.default_server))
                    .collect()
            };
            let ssl = s.layer.ssl.over(&http.layer.ssl);
            let mut tls =
                ssl.model(settings.client_header_timeout, listen.iter().any(|l| l.ssl))?;
            if let Some(d) = &s.acme {
                acme::server_certificate(d, &mut http.acme, servers.len(), &s.names, &mut tls)?;
            }
            acme::check_unresolved(&mut tls, listen.iter().any(|l| l.ssl), &s.pos)?;
            tls.http2 = settings.http2.on || listen.iter().any(|l| l.http2);
            if let Some(pos) = ssl.stapling_without_file() {
                self.notices.push(format!(
                    "{}: ssl_stapling on without ssl_stapling_file: ringway never fetches OCSP \
                     responses, so no staple is sent",
                    pos.short()
                ));
            }
            let server_names = if s.names.is_empty() {
                vec![String::new()]
            } else {
                s.names.clone()
            };
            servers.push(Server {
                listen,
                server_names,
                locations: resolve_locations(&s.locations, &settings, &pssl)?,
                settings,
                rewrites: s.rewrites.clone(),
                server_return: s.ret.clone(),
                tls,
            });
        }
        check_tls_addrs(&http.servers, &servers, &ssl_addrs)?;
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
        cfg.acme = std::mem::take(&mut http.acme);
        Ok(())
    }
}

impl Builder {
    /// `proxy_cache_path`: a zone name and a path used once each; zone names are shared with
    /// the limit zones (nginx's shared memory zones).
    fn cache_zone(&mut self, d: &Directive, http: &mut Http) -> Result<()> {
        let z = cache::zone(d, &self.base_dir)?;
        for (o, first) in &http.cache_zones {
            let what = if o.name == z.name {
                format!("duplicate zone \"{}\"", z.name)
            } else if o.path == z.path {
                format!(
                    "the same path name \"{}\" is used by two caches",
                    z.path.display()
                )
            } else {
                continue;
            };
            return Err(d
                .pos
                .err(format!("{what} (first declared at {})", first.short())));
        }
        other_use(
            d,
            &z.name,
            http.limit_zones.iter().map(|(z, p)| (&z.name, p)),
        )?;
        if z.use_temp_path {
            self.notices.push(cache::temp_path_notice(&d.pos));
        }
        http.cache_zones.push((z, d.pos.clone()));
        Ok(())
    }
}

/// A zone name already taken by a zone of another kind (nginx: one namespace for all).
fn other_use<'a>(
    d: &Directive,
    name: &str,
    mut others: impl Iterator<Item = (&'a String, &'a Pos)>,
) -> Result<()> {
    match others.find(|(n, _)| *n == name) {
        Some((_, first)) => Err(d.pos.err(format!(
            "zone \"{name}\" is already declared for a different use (at {})",
            first.short()
        ))),
        None => Ok(()),
    }
}

/// nginx's check of every TLS address: its default server has a certificate, or refuses
/// handshakes (`ssl_reject_handshake on`), and then every other server there has one or refuses
/// too. A non-default server without certificates answers with the default server's.
fn check_tls_addrs(parsed: &[PServer], servers: &[Server], ssl_addrs: &[SocketAddr]) -> Result<()> {
    let mut seen: Vec<SocketAddr> = Vec::new();
    for &addr in ssl_addrs {
        if seen.contains(&addr) {
            continue;
        }
        seen.push(addr);
        let on_addr: Vec<(&PServer, &Server)> = parsed
            .iter()
            .zip(servers)
            .filter(|(_, s)| s.listen.iter().any(|l| l.addr == addr))
            .collect();
        let default = on_addr
            .iter()
            .find(|(_, s)| s.listen.iter().any(|l| l.addr == addr && l.default_server))
            .or(on_addr.first());
        let Some(&(dp, ds)) = default else {
            continue;
        };
        let lacks = |s: &Server| s.tls.certificates.is_empty() && !s.tls.reject_handshake;
        let culprit = if lacks(ds) {
            Some(dp)
        } else if ds.tls.certificates.is_empty() {
            on_addr.iter().find(|(_, s)| lacks(s)).map(|(p, _)| *p)
        } else {
            None
        };
        if let Some(p) = culprit {
            let at = p.listen.iter().find(|l| l.addr == addr);
            let pos = at.map_or(&p.pos, |l| &l.pos);
            let why = if at.is_some_and(|l| l.ssl) {
                String::new()
            } else {
                format!(" (every server on {addr} speaks TLS)")
            };
            return Err(pos.err(format!(
                "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in {}{why}",
                p.pos.short()
            )));
        }
    }
    Ok(())
}

/// A relative `pid` path starts at the main file's folder (nginx starts at its prefix, which
/// ringway does not have), made absolute so that `-T`'s dump reads back the same path and
/// `-s` finds the file from any working directory.
fn pid_path(base_dir: &Path, value: &str) -> PathBuf {
    let p = base_dir.join(value);
    std::path::absolute(&p).unwrap_or(p)
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
        cache_refs: Vec::new(),
        logs: logs::Logs::default(),
    };
    b.main(dirs, source)
}
