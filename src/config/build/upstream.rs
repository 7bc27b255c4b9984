//! `upstream` blocks and their `server` lines, active health checks, and the `resolver` that
//! `server … resolve` needs.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::config::directives::UPSTREAM;
use crate::config::error::{Pos, Result};
use crate::config::model::*;
use crate::config::parser::{Arg, Directive};
use crate::config::values::{check_variables, parse_num, parse_time, split_authority};

use super::*;

impl Builder {
    pub(super) fn upstream(&mut self, d: &Directive) -> Result<Upstream> {
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
    pub(super) fn upstream_server<'d>(
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
}

/// `health_check interval=2s fails=2 passes=2 uri=/healthz match_status=200-399 timeout=1s`
pub(super) fn health_check(d: &Directive) -> Result<HealthCheck> {
    let mut hc = HealthCheck::default();
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
pub(super) fn resolver(d: &Directive) -> Result<Resolver> {
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
pub(super) fn resolver_addr(s: &str) -> Option<SocketAddr> {
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

/// Collects the names of every `upstream` block, wherever an `upstream` may stand.
pub(super) fn upstream_names(dirs: &[Directive], explicit_http: bool) -> Vec<String> {
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
