//! `ringway -T`: the effective configuration in nginx syntax. Every server states all of its
//! settings (defaults included); a location states what differs from its parent, which under
//! nginx's inheritance rules reads back to the same settings. Reading the dump back gives the
//! same model (notices aside).

use std::fmt::Write as _;

use super::build::{default_proxy_tls, default_server_tls};
use super::model::*;
use super::tls::{
    CertPair, Ciphers, Curve, FileAt, Protocols, ProxyTls, ServerTls, SessionCache, VerifyClient,
};
use super::values::{fmt_size, fmt_time};

/// Quotes an argument when nginx's lexer would otherwise split or alter it.
fn q(s: &str) -> String {
    let plain = !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, ';' | '{' | '}' | '#' | '"' | '\'' | '\\'));
    if plain {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A comment line: control characters (a newline in a quoted server name, say) are escaped, so
/// the text after them cannot leave the comment and read back as directives.
fn comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push_str("# ");
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

struct Out {
    text: String,
    depth: usize,
    /// The access log files (`access_log` lines name them by index).
    log_files: Vec<LogFile>,
}

impl Out {
    fn line(&mut self, s: &str) {
        for _ in 0..self.depth {
            self.text.push_str("    ");
        }
        self.text.push_str(s);
        self.text.push('\n');
    }

    fn open(&mut self, s: &str) {
        self.line(&format!("{s} {{"));
        self.depth += 1;
    }

    fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.line("}");
    }
}

/// Settings lines; with `parent` None every setting is written, else only what differs.
fn escape_name(e: crate::observe::format::Escape) -> &'static str {
    use crate::observe::format::Escape;
    match e {
        Escape::Default => "default",
        Escape::Json => "json",
        Escape::None => "none",
    }
}

/// `access_log` lines where they differ from the parent's (`off` for none under some).
fn access_logs(o: &mut Out, s: &Settings, parent: Option<&Settings>) {
    let line = |o: &Out, l: &AccessLog| {
        let mut t = match o.log_files.get(l.file) {
            Some(f) => {
                let mut t = format!("{} {}", q(&f.path.to_string_lossy()), q(&l.format.name));
                if f.buffer > 0 {
                    let _ = write!(
                        t,
                        " buffer={} flush={}",
                        fmt_size(f.buffer as u64),
                        fmt_time(f.flush)
                    );
                }
                t
            }
            None => String::new(),
        };
        if let Some(c) = &l.cond {
            let _ = write!(t, " {}", q(&format!("if={}", c.text)));
        }
        t
    };
    let items: Vec<String> = s.access_log.iter().map(|l| line(o, l)).collect();
    let parent_items: Option<Vec<String>> =
        parent.map(|p| p.access_log.iter().map(|l| line(o, l)).collect());
    if parent_items.as_ref() == Some(&items) || (parent.is_none() && items.is_empty()) {
        return;
    }
    if items.is_empty() {
        o.line("access_log off;");
    }
    for i in items {
        o.line(&format!("access_log {i};"));
    }
}

fn settings(o: &mut Out, s: &Settings, parent: Option<&Settings>) {
    access_logs(o, s, parent);
    let differs = |f: &dyn Fn(&Settings) -> String| parent.is_none_or(|p| f(p) != f(s));
    let mut list = |name: &str, items: Vec<String>, parent_items: Option<Vec<String>>| {
        if parent_items.as_ref() == Some(&items) || (parent_items.is_none() && items.is_empty()) {
            return;
        }
        if items.is_empty() {
            o.line(&format!(
                "# {name}: none here, which nginx syntax cannot state under an inherited list"
            ));
        }
        for i in items {
            o.line(&format!("{name} {i};"));
        }
    };
    let psh = |s: &Settings| {
        s.proxy_set_header
            .iter()
            .map(|(n, v)| format!("{} {}", q(n), q(v)))
            .collect::<Vec<_>>()
    };
    list("proxy_set_header", psh(s), parent.map(psh));
    let hide = |s: &Settings| s.proxy_hide_header.iter().map(|n| q(n)).collect::<Vec<_>>();
    list("proxy_hide_header", hide(s), parent.map(hide));
    let pass = |s: &Settings| s.proxy_pass_header.iter().map(|n| q(n)).collect::<Vec<_>>();
    list("proxy_pass_header", pass(s), parent.map(pass));
    let add = |s: &Settings| {
        s.add_header
            .iter()
            .map(|h| {
                format!(
                    "{} {}{}",
                    q(&h.name),
                    q(&h.value),
                    if h.always { " always" } else { "" }
                )
            })
            .collect::<Vec<_>>()
    };
    list("add_header", add(s), parent.map(add));
    let sets = |s: &Settings| {
        s.auth_request_set
            .iter()
            .map(|(n, v)| format!("${n} {}", q(v)))
            .collect::<Vec<_>>()
    };
    list("auth_request_set", sets(s), parent.map(sets));
    let from = |s: &Settings| {
        s.realip
            .from
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
    };
    list("set_real_ip_from", from(s), parent.map(from));
    auth(o, s, parent);
    // allow/deny lines in their order; a level that has any states them all.
    if parent.is_none_or(|p| p.access != s.access) {
        if s.access.is_empty() {
            o.line(
                "# allow/deny: none here, which nginx syntax cannot state under an inherited list",
            );
        }
        for r in &s.access {
            let what = if r.deny { "deny" } else { "allow" };
            match r.net {
                Some(n) => o.line(&format!("{what} {n};")),
                None => o.line(&format!("{what} all;")),
            }
        }
    }

    type Field = (&'static str, fn(&Settings) -> String);
    let fields: &[Field] = &[
        ("proxy_http_version", |s| {
            if s.proxy_http_version_11 {
                "1.1"
            } else {
                "1.0"
            }
            .into()
        }),
        ("proxy_connect_timeout", |s| {
            fmt_time(s.proxy_connect_timeout)
        }),
        ("proxy_read_timeout", |s| fmt_time(s.proxy_read_timeout)),
        ("proxy_send_timeout", |s| fmt_time(s.proxy_send_timeout)),
        ("send_timeout", |s| fmt_time(s.send_timeout)),
        ("lingering_close", |s| {
            match s.lingering.close {
                LingeringClose::Off => "off",
                LingeringClose::On => "on",
                LingeringClose::Always => "always",
            }
            .into()
        }),
        ("lingering_time", |s| fmt_time(s.lingering.time)),
        ("lingering_timeout", |s| fmt_time(s.lingering.timeout)),
        ("proxy_next_upstream", |s| {
            s.proxy_next_upstream
                .iter()
                .map(|t| q(t))
                .collect::<Vec<_>>()
                .join(" ")
        }),
        ("proxy_next_upstream_tries", |s| {
            s.proxy_next_upstream_tries.to_string()
        }),
        ("proxy_next_upstream_timeout", |s| {
            fmt_time(s.proxy_next_upstream_timeout)
        }),
        ("proxy_add_via", |s| if s.via { "on" } else { "off" }.into()),
        ("proxy_redirect", |s| {
            if s.proxy_redirect.is_empty() {
                return "off".into();
            }
            s.proxy_redirect
                .iter()
                .map(|r| match r {
                    RedirectRule::Default => "default".to_string(),
                    RedirectRule::Rule {
                        pattern,
                        replacement,
                        ..
                    } => format!("{} {}", q(pattern), q(replacement)),
                })
                .collect::<Vec<_>>()
                .join("; proxy_redirect ")
        }),
        ("real_ip_header", |s| q(&s.realip.header)),
        ("real_ip_recursive", |s| {
            if s.realip.recursive { "on" } else { "off" }.into()
        }),
        ("client_max_body_size", |s| fmt_size(s.client_max_body_size)),
        ("client_body_timeout", |s| fmt_time(s.client_body_timeout)),
        ("keepalive_timeout", |s| fmt_time(s.keepalive_timeout)),
        ("keepalive_requests", |s| s.keepalive_requests.to_string()),
        // These two exist at http and server level only (see the comment form below).
        ("client_header_timeout", |s| {
            fmt_time(s.client_header_timeout)
        }),
        ("large_client_header_buffers", |s| {
            let (total, one) = (s.max_header_size, s.max_request_line);
            if one > 0 && total.is_multiple_of(one) && total >= one {
                format!("{} {}", total / one, fmt_size(one as u64))
            } else {
                format!("(max_header_size {total}, max_request_line {one})")
            }
        }),
    ];
    proxy_tls(o, &s.proxy_ssl, parent.map(|p| &p.proxy_ssl));
    for line in super::limits::dump_settings(&s.limits, parent.map(|p| &p.limits)) {
        o.line(&line);
    }
    for line in super::cache::dump_settings(&s.cache, parent.map(|p| &p.cache), q) {
        o.line(&line);
    }
    for line in super::compress::dump_settings(&s.compress, parent.map(|p| &p.compress)) {
        o.line(&line);
    }
    for &(name, f) in fields {
        if !differs(&f) {
            continue;
        }
        let v = f(s);
        let server_only = matches!(
            name,
            "client_header_timeout" | "large_client_header_buffers"
        );
        if v.is_empty() || v.starts_with('(') || (server_only && parent.is_some()) {
            o.line(&comment(&format!(
                "{name} {v} (not expressible here in nginx syntax)"
            )));
        } else {
            o.line(&format!("{name} {v};"));
        }
    }
}

/// The auth settings, written where they differ from the parent's (or, for a server, from
/// the defaults: a server that uses none gets no lines).
fn auth(o: &mut Out, s: &Settings, parent: Option<&Settings>) {
    let base = parent.cloned().unwrap_or_default();
    if s.auth_basic != base.auth_basic {
        o.line(&format!(
            "auth_basic {};",
            s.auth_basic
                .as_deref()
                .map(q)
                .unwrap_or_else(|| "off".into())
        ));
    }
    if s.auth_basic_user_file != base.auth_basic_user_file
        && let Some(f) = &s.auth_basic_user_file
    {
        o.line(&format!("auth_basic_user_file {};", q(&f.path)));
    }
    if s.auth_request != base.auth_request {
        o.line(&format!(
            "auth_request {};",
            s.auth_request
                .as_deref()
                .map(q)
                .unwrap_or_else(|| "off".into())
        ));
    }
    if s.proxy_pass_request_body != base.proxy_pass_request_body {
        let v = if s.proxy_pass_request_body {
            "on"
        } else {
            "off"
        };
        o.line(&format!("proxy_pass_request_body {v};"));
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn path(p: &std::path::Path) -> String {
    q(&p.to_string_lossy())
}

fn protocols(p: Protocols) -> String {
    let mut v = Vec::new();
    if p.tls12 {
        v.push("TLSv1.2");
    }
    if p.tls13 {
        v.push("TLSv1.3");
    }
    v.join(" ")
}

/// Lines for the directives that name one file.
fn files(o: &mut Out, items: &[(&str, &Option<FileAt>, &Option<FileAt>)]) {
    for (name, mine, base) in items {
        if mine != base
            && let Some(f) = mine
        {
            o.line(&format!("{name} {};", path(&f.path)));
        }
    }
}

fn cert_pair(o: &mut Out, prefix: &str, c: &CertPair) {
    o.line(&format!("{prefix}ssl_certificate {};", path(&c.cert)));
    o.line(&format!("{prefix}ssl_certificate_key {};", path(&c.key)));
}

fn ciphers_line(o: &mut Out, name: &str, c: &Ciphers, base: &Ciphers) {
    if c != base {
        o.line(&format!("{name} {};", q(&c.written)));
    }
}

/// A server's `ssl_*`, where they differ from ringway's defaults.
fn server_tls(o: &mut Out, t: &ServerTls, header_timeout: std::time::Duration) {
    let d = default_server_tls();
    for c in &t.certificates {
        cert_pair(o, "", c);
    }
    if t.protocols != d.protocols {
        o.line(&format!("ssl_protocols {};", protocols(t.protocols)));
    }
    ciphers_line(o, "ssl_ciphers", &t.ciphers, &d.ciphers);
    if t.prefer_server_ciphers != d.prefer_server_ciphers {
        o.line(&format!(
            "ssl_prefer_server_ciphers {};",
            on_off(t.prefer_server_ciphers)
        ));
    }
    if let Some(curves) = &t.ecdh_curves {
        let names: Vec<&str> = curves
            .iter()
            .map(|c| match c {
                Curve::X25519 => "X25519",
                Curve::P256 => "prime256v1",
                Curve::P384 => "secp384r1",
                Curve::X25519Mlkem768 => "X25519MLKEM768",
            })
            .collect();
        o.line(&format!("ssl_ecdh_curve {};", names.join(":")));
    }
    match &t.session_cache {
        SessionCache::Off => o.line("ssl_session_cache off;"),
        SessionCache::None => {}
        SessionCache::Sessions(n) => o.line(&format!("ssl_session_cache builtin:{n};")),
    }
    if t.session_timeout != d.session_timeout {
        o.line(&format!(
            "ssl_session_timeout {};",
            fmt_time(t.session_timeout)
        ));
    }
    if t.session_tickets != d.session_tickets {
        o.line(&format!(
            "ssl_session_tickets {};",
            on_off(t.session_tickets)
        ));
    }
    for k in &t.session_ticket_keys {
        o.line(&format!("ssl_session_ticket_key {};", path(&k.path)));
    }
    if t.stapling {
        o.line("ssl_stapling on;");
    }
    let verify = match t.verify_client {
        VerifyClient::Off => None,
        VerifyClient::On => Some("on"),
        VerifyClient::Optional => Some("optional"),
        VerifyClient::OptionalNoCa => Some("optional_no_ca"),
    };
    if let Some(v) = verify {
        o.line(&format!("ssl_verify_client {v};"));
    }
    files(
        o,
        &[
            ("ssl_stapling_file", &t.stapling_file, &None),
            ("ssl_client_certificate", &t.client_certificate, &None),
            ("ssl_trusted_certificate", &t.trusted_certificate, &None),
            ("ssl_crl", &t.crl, &None),
            ("ssl_password_file", &t.password_file, &None),
        ],
    );
    if t.verify_depth != d.verify_depth {
        o.line(&format!("ssl_verify_depth {};", t.verify_depth));
    }
    for (name, v, dv) in [
        (
            "ssl_reject_handshake",
            t.reject_handshake,
            d.reject_handshake,
        ),
        ("ssl_early_data", t.early_data, d.early_data),
    ] {
        if v != dv {
            o.line(&format!("{name} {};", on_off(v)));
        }
    }
    if t.buffer_size != d.buffer_size {
        o.line(&format!(
            "ssl_buffer_size {};",
            fmt_size(t.buffer_size as u64)
        ));
    }
    if t.handshake_timeout != header_timeout {
        o.line(&format!(
            "ssl_handshake_timeout {};",
            fmt_time(t.handshake_timeout)
        ));
    }
}

/// `proxy_ssl_*` where they differ from the parent's (a server: from ringway's defaults).
fn proxy_tls(o: &mut Out, t: &ProxyTls, parent: Option<&ProxyTls>) {
    let base = parent.cloned().unwrap_or_else(default_proxy_tls);
    if t.verify != base.verify {
        o.line(&format!("proxy_ssl_verify {};", on_off(t.verify)));
    }
    files(
        o,
        &[
            (
                "proxy_ssl_trusted_certificate",
                &t.trusted_certificate,
                &base.trusted_certificate,
            ),
            ("proxy_ssl_crl", &t.crl, &base.crl),
            (
                "proxy_ssl_password_file",
                &t.password_file,
                &base.password_file,
            ),
        ],
    );
    if t.verify_depth != base.verify_depth {
        o.line(&format!("proxy_ssl_verify_depth {};", t.verify_depth));
    }
    for (name, v, b) in [
        ("proxy_ssl_server_name", t.server_name, base.server_name),
        (
            "proxy_ssl_session_reuse",
            t.session_reuse,
            base.session_reuse,
        ),
    ] {
        if v != b {
            o.line(&format!("{name} {};", on_off(v)));
        }
    }
    if t.name != base.name
        && let Some(n) = &t.name
    {
        o.line(&format!("proxy_ssl_name {};", q(n)));
    }
    if t.protocols != base.protocols {
        o.line(&format!("proxy_ssl_protocols {};", protocols(t.protocols)));
    }
    ciphers_line(o, "proxy_ssl_ciphers", &t.ciphers, &base.ciphers);
    if t.certificate != base.certificate
        && let Some(c) = &t.certificate
    {
        cert_pair(o, "proxy_", c);
    }
}

fn rewrites(o: &mut Out, rw: &[Rewrite]) {
    for r in rw {
        let flag = match r.flag {
            RewriteFlag::Last => " last",
            RewriteFlag::Break => " break",
            RewriteFlag::Redirect => " redirect",
            RewriteFlag::Permanent => " permanent",
            RewriteFlag::None => "",
        };
        o.line(&format!(
            "rewrite {} {}{flag};",
            q(&r.regex),
            q(&r.replacement)
        ));
    }
}

fn ret(o: &mut Out, r: &Return) {
    match &r.text {
        Some(t) => o.line(&format!("return {} {};", r.code, q(t))),
        None => o.line(&format!("return {};", r.code)),
    }
}

fn location(o: &mut Out, l: &Location, parent: &Settings) {
    let m = match &l.matcher {
        LocationMatch::Prefix(p) => q(p),
        LocationMatch::Exact(p) => format!("= {}", q(p)),
        LocationMatch::PrefixNoRegex(p) => format!("^~ {}", q(p)),
        LocationMatch::Regex {
            pattern,
            case_insensitive,
        } => format!(
            "{} {}",
            if *case_insensitive { "~*" } else { "~" },
            q(pattern)
        ),
    };
    o.open(&format!("location {m}"));
    if l.internal {
        o.line("internal;");
    }
    rewrites(o, &l.rewrites);
    match &l.action {
        Action::Proxy(p) => o.line(&format!(
            "proxy_pass {};",
            q(&format!(
                "{}://{}{}",
                if p.tls { "https" } else { "http" },
                p.target,
                p.uri.as_deref().unwrap_or("")
            ))
        )),
        Action::Return(r) => ret(o, r),
        Action::Builtin(b) => o.line(&format!("{};", b.directive())),
        Action::None => {}
    }
    settings(o, &l.settings, Some(parent));
    for c in &l.locations {
        location(o, c, &l.settings);
    }
    o.close();
}

fn upstream(o: &mut Out, u: &Upstream) {
    o.open(&format!("upstream {}", q(&u.name)));
    match u.method {
        BalanceMethod::RoundRobin => {}
        BalanceMethod::LeastConn => o.line("least_conn;"),
        BalanceMethod::IpHash => o.line("ip_hash;"),
        BalanceMethod::Hash { consistent } => o.line(&format!(
            "hash {}{};",
            q(u.hash_key.as_deref().unwrap_or("")),
            if consistent { " consistent" } else { "" }
        )),
        BalanceMethod::Random { two, least_conn } => o.line(match (two, least_conn) {
            (false, _) => "random;",
            (true, false) => "random two;",
            (true, true) => "random two least_conn;",
        }),
    }
    for s in &u.servers {
        let mut line = format!(
            "server {} weight={} max_fails={} fail_timeout={}",
            q(&s.addr),
            s.weight,
            s.max_fails,
            fmt_time(s.fail_timeout)
        );
        if s.max_conns > 0 {
            let _ = write!(line, " max_conns={}", s.max_conns);
        }
        if s.backup {
            line.push_str(" backup");
        }
        if s.down {
            line.push_str(" down");
        }
        if s.resolve {
            line.push_str(" resolve");
        }
        line.push(';');
        o.line(&line);
    }
    o.line(&format!("keepalive {};", u.keepalive));
    o.line(&format!(
        "keepalive_timeout {};",
        fmt_time(u.keepalive_timeout)
    ));
    o.line(&format!("keepalive_requests {};", u.keepalive_requests));
    if let Some((n, t)) = u.queue {
        o.line(&format!("queue {n} timeout={};", fmt_time(t)));
    }
    if let Some(h) = &u.health_check {
        o.line(&format!(
            "health_check interval={} fails={} passes={} uri={} match_status={}-{} timeout={};",
            fmt_time(h.interval),
            h.fails,
            h.passes,
            h.uri,
            h.status_lo,
            h.status_hi,
            fmt_time(h.timeout)
        ));
    }
    o.close();
}

/// Renders the effective configuration in nginx syntax (for `ringway -T`).
pub fn dump(cfg: &Config) -> String {
    let mut o = Out {
        text: String::new(),
        depth: 0,
        log_files: cfg.log_files.clone(),
    };
    o.line(&comment(&format!(
        "ringway: effective configuration read from {}",
        cfg.source.display()
    )));
    for n in &cfg.notices {
        o.line(&comment(n));
    }
    match cfg.workers {
        Some(n) => o.line(&format!("worker_processes {n};")),
        None => o.line("worker_processes auto;"),
    }
    o.line(&format!(
        "worker_shutdown_timeout {};",
        fmt_time(cfg.shutdown_timeout)
    ));
    if let Some(p) = &cfg.pid_file {
        o.line(&format!("pid {};", q(&p.to_string_lossy())));
    }
    if let Some(e) = &cfg.error_log {
        let target = e
            .path
            .as_ref()
            .map_or("stderr".to_string(), |p| q(&p.to_string_lossy()));
        o.line(&format!("error_log {target} {};", e.level.name()));
    }
    let ring = cfg.uring;
    let dflt = UringSetup::default();
    if cfg.worker_connections.is_some() || cfg.max_connections.is_some() || ring != dflt {
        o.open("events");
        if let Some(n) = cfg.worker_connections {
            o.line(&format!("worker_connections {n};"));
        }
        if let Some(n) = cfg.max_connections {
            o.line(&format!("max_connections {n};"));
        }
        if ring != dflt {
            o.line(&format!("io_uring_entries {};", ring.entries));
            o.line(&format!(
                "io_uring_sqpoll {};",
                if ring.sqpoll { "on" } else { "off" }
            ));
            o.line(&format!(
                "io_uring_sqpoll_idle {};",
                fmt_time(ring.sqpoll_idle)
            ));
        }
        o.close();
    }
    o.line("");
    o.open("http");
    if let Some(r) = &cfg.resolver {
        let mut line = String::from("resolver");
        for a in &r.addrs {
            let _ = write!(line, " {a}");
        }
        if let Some(v) = r.valid {
            let _ = write!(line, " valid={}", fmt_time(v));
        }
        if !r.ipv4 {
            line.push_str(" ipv4=off");
        }
        if !r.ipv6 {
            line.push_str(" ipv6=off");
        }
        line.push(';');
        o.line(&line);
        o.line(&format!("resolver_timeout {};", fmt_time(r.timeout)));
    }
    for line in super::limits::dump_zones(&cfg.limit_zones, q) {
        o.line(&line);
    }
    for line in super::cache::dump_zones(&cfg.cache_zones, q) {
        o.line(&line);
    }
    for f in &cfg.log_formats {
        o.line(&format!(
            "log_format {} escape={} {};",
            q(&f.name),
            escape_name(f.escape),
            q(&f.text)
        ));
    }
    for u in &cfg.upstreams {
        upstream(&mut o, u);
    }
    for s in &cfg.servers {
        o.open("server");
        for l in &s.listen {
            o.line(&format!(
                "listen {}{}{} backlog={}{};",
                l.addr,
                if l.ssl { " ssl" } else { "" },
                if l.default_server {
                    " default_server"
                } else {
                    ""
                },
                l.backlog,
                if l.deferred { " deferred" } else { "" }
            ));
        }
        let names: Vec<String> = s.server_names.iter().map(|n| q(n)).collect();
        o.line(&format!("server_name {};", names.join(" ")));
        server_tls(&mut o, &s.tls, s.settings.client_header_timeout);
        settings(&mut o, &s.settings, None);
        rewrites(&mut o, &s.rewrites);
        if let Some(r) = &s.server_return {
            ret(&mut o, r);
        }
        for l in &s.locations {
            location(&mut o, l, &s.settings);
        }
        o.close();
    }
    o.close();
    o.text
}
