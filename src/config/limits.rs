//! `limit_req_zone`, `limit_req*`, `limit_conn_zone`, `limit_conn*`: the model, the directive
//! front end (nginx's argument syntax and errors) and their `-T` lines. Kept apart from
//! `build.rs` so the limits are read in one place.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::error::{Pos, Result};
use super::parser::{Arg, Directive};
use super::values::{check_variables, fmt_size, parse_size};

/// nginx refuses zones smaller than 8 pages.
pub const MIN_ZONE_SIZE: u64 = 32 * 1024;

/// `limit_req_zone KEY zone=NAME:SIZE rate=R` or `limit_conn_zone KEY zone=NAME:SIZE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitZone {
    pub name: String,
    /// The key template as written (`$binary_remote_addr`).
    pub key: String,
    pub size: u64,
    /// A `limit_req_zone`'s rate in milli-requests per second (nginx's unit: `10r/s` is 10000,
    /// `30r/m` is 500); None for a `limit_conn_zone`.
    pub rate: Option<u64>,
    /// The rate was written per minute (for `-T`).
    pub per_minute: bool,
}

/// `limit_req zone=NAME [burst=N] [nodelay | delay=N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitReq {
    pub zone: String,
    /// Requests allowed above the rate (nginx's `burst`, default 0).
    pub burst: u64,
    /// Excess requests passed without delay: 0 by default (every excess request waits), all of
    /// them with `nodelay` (None).
    pub delay: Option<u64>,
}

/// `limit_conn ZONE N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitConn {
    pub zone: String,
    pub max: u32,
}

/// `limit_req_log_level` / `limit_conn_log_level` (nginx's default `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    Info,
    Notice,
    Warn,
    #[default]
    Error,
}

impl LogLevel {
    fn name(self) -> &'static str {
        match self {
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// The effective limits of a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub req: Vec<LimitReq>,
    pub req_status: u16,
    pub req_log_level: LogLevel,
    pub req_dry_run: bool,
    pub conn: Vec<LimitConn>,
    pub conn_status: u16,
    pub conn_log_level: LogLevel,
    pub conn_dry_run: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            req: Vec::new(),
            req_status: 503,
            req_log_level: LogLevel::Error,
            req_dry_run: false,
            conn: Vec::new(),
            conn_status: 503,
            conn_log_level: LogLevel::Error,
            conn_dry_run: false,
        }
    }
}

/// What one level sets; None inherits. A level with any `limit_req` (or `limit_conn`) replaces
/// the inherited list, as nginx merges them.
#[derive(Debug, Default, Clone)]
pub(crate) struct LimitLayer {
    req: Option<Vec<LimitReq>>,
    req_status: Option<u16>,
    req_log_level: Option<LogLevel>,
    req_dry_run: Option<bool>,
    conn: Option<Vec<LimitConn>>,
    conn_status: Option<u16>,
    conn_log_level: Option<LogLevel>,
    conn_dry_run: Option<bool>,
}

impl LimitLayer {
    pub fn apply(&self, p: &Limits) -> Limits {
        Limits {
            req: self.req.clone().unwrap_or_else(|| p.req.clone()),
            req_status: self.req_status.unwrap_or(p.req_status),
            req_log_level: self.req_log_level.unwrap_or(p.req_log_level),
            req_dry_run: self.req_dry_run.unwrap_or(p.req_dry_run),
            conn: self.conn.clone().unwrap_or_else(|| p.conn.clone()),
            conn_status: self.conn_status.unwrap_or(p.conn_status),
            conn_log_level: self.conn_log_level.unwrap_or(p.conn_log_level),
            conn_dry_run: self.conn_dry_run.unwrap_or(p.conn_dry_run),
        }
    }
}

/// A zone named by `limit_req` / `limit_conn`, checked once every zone is known.
#[derive(Debug)]
pub(crate) struct ZoneRef {
    pub pos: Pos,
    pub name: String,
    pub req: bool,
}

fn bad(a: &Arg, what: &str) -> super::ConfigError {
    a.pos.err(format!("invalid {what} \"{}\"", a.value))
}

/// Sets a directive's slot, refusing a second one at the same level (nginx's "is duplicate").
pub(crate) fn once<T>(slot: &mut Option<T>, d: &Directive, v: T) -> Result<()> {
    if slot.is_some() {
        return Err(d.pos.err(format!("\"{}\" directive is duplicate", d.name)));
    }
    *slot = Some(v);
    Ok(())
}

/// `limit_req_zone` / `limit_conn_zone` (http level).
pub(crate) fn zone(d: &Directive) -> Result<LimitZone> {
    let req = d.name == "limit_req_zone";
    let key = &d.args[0];
    check_variables(&key.value, &HashSet::new()).map_err(|m| key.pos.err(m))?;
    let mut zone: Option<(String, u64)> = None;
    let (mut rate, mut per_minute) = (None, false);
    for a in &d.args[1..] {
        if let Some(v) = a.value.strip_prefix("zone=") {
            let (name, size) = v.split_once(':').unwrap_or((v, ""));
            let size = parse_size(size).filter(|_| !name.is_empty());
            let size = size.ok_or_else(|| bad(a, "zone size"))?;
            if size < MIN_ZONE_SIZE {
                return Err(a.pos.err(format!(
                    "zone \"{name}\" is too small (at least {})",
                    fmt_size(MIN_ZONE_SIZE)
                )));
            }
            zone = Some((name.to_string(), size));
        } else if let Some(v) = a.value.strip_prefix("rate=").filter(|_| req) {
            let (n, minute) = match (v.strip_suffix("r/s"), v.strip_suffix("r/m")) {
                (Some(n), _) => (n, false),
                (_, Some(n)) => (n, true),
                _ => return Err(bad(a, "rate")),
            };
            let n: u64 = n
                .parse()
                .ok()
                .filter(|n| (1..=1_000_000_000).contains(n))
                .ok_or_else(|| bad(a, "rate"))?;
            rate = Some(if minute { n * 1000 / 60 } else { n * 1000 }.max(1));
            per_minute = minute;
        } else {
            return Err(a.pos.err(format!("invalid parameter \"{}\"", a.value)));
        }
    }
    let Some((name, size)) = zone else {
        return Err(d
            .pos
            .err(format!("\"{}\" must have \"zone\" parameter", d.name)));
    };
    Ok(LimitZone {
        name,
        key: key.value.clone(),
        size,
        // nginx's default when no rate is written: 1r/s.
        rate: req.then(|| rate.unwrap_or(1000)),
        per_minute,
    })
}

fn status(d: &Directive) -> Result<u16> {
    let a = &d.args[0];
    a.value
        .parse::<u16>()
        .ok()
        .filter(|c| (400..=599).contains(c))
        .ok_or_else(|| a.pos.err("value must be between 400 and 599"))
}

fn level(d: &Directive) -> Result<LogLevel> {
    let a = &d.args[0];
    Ok(match a.value.as_str() {
        "info" => LogLevel::Info,
        "notice" => LogLevel::Notice,
        "warn" => LogLevel::Warn,
        "error" => LogLevel::Error,
        _ => {
            return Err(a.pos.err(format!(
                "invalid value \"{}\" in \"{}\" directive, it must be \"info\", \"notice\", \"warn\" or \"error\"",
                a.value, d.name
            )));
        }
    })
}

/// `on` / `off` as the directive's only argument.
pub(crate) fn flag(d: &Directive) -> Result<bool> {
    let a = &d.args[0];
    match a.value.as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(a.pos.err(format!(
            "invalid value \"{}\" in \"{}\" directive, it must be \"on\" or \"off\"",
            a.value, d.name
        ))),
    }
}

fn positive(a: &Arg, v: &str, what: &str) -> Result<u64> {
    v.parse::<u64>()
        .ok()
        .filter(|n| (1..=1_000_000_000).contains(n))
        .ok_or_else(|| bad(a, what))
}

/// The `limit_*` directives allowed at http, server and location level.
pub(crate) fn setting(d: &Directive, l: &mut LimitLayer, refs: &mut Vec<ZoneRef>) -> Result<()> {
    match d.name.as_str() {
        "limit_req" => {
            let mut r = LimitReq {
                zone: String::new(),
                burst: 0,
                delay: Some(0),
            };
            for a in &d.args {
                if let Some(v) = a.value.strip_prefix("zone=") {
                    r.zone = v.to_string();
                } else if let Some(v) = a.value.strip_prefix("burst=") {
                    r.burst = positive(a, v, "burst value")?;
                } else if let Some(v) = a.value.strip_prefix("delay=") {
                    r.delay = Some(positive(a, v, "delay value")?);
                } else if a.value == "nodelay" {
                    r.delay = None;
                } else {
                    return Err(a.pos.err(format!("invalid parameter \"{}\"", a.value)));
                }
            }
            if r.zone.is_empty() {
                return Err(d.pos.err("\"limit_req\" must have \"zone\" parameter"));
            }
            let list = l.req.get_or_insert_default();
            if list.iter().any(|x| x.zone == r.zone) {
                return Err(d
                    .pos
                    .err(format!("duplicate \"limit_req\" for zone \"{}\"", r.zone)));
            }
            refs.push(ZoneRef {
                pos: d.pos.clone(),
                name: r.zone.clone(),
                req: true,
            });
            list.push(r);
        }
        "limit_conn" => {
            let (z, n) = (&d.args[0], &d.args[1]);
            let max = n
                .value
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=65535).contains(n))
                .ok_or_else(|| {
                    n.pos.err(format!(
                        "invalid number of connections \"{}\" (1 to 65535)",
                        n.value
                    ))
                })?;
            let list = l.conn.get_or_insert_default();
            if list.iter().any(|x| x.zone == z.value) {
                return Err(d
                    .pos
                    .err(format!("duplicate \"limit_conn\" for zone \"{}\"", z.value)));
            }
            refs.push(ZoneRef {
                pos: z.pos.clone(),
                name: z.value.clone(),
                req: false,
            });
            list.push(LimitConn {
                zone: z.value.clone(),
                max,
            });
        }
        "limit_req_status" => once(&mut l.req_status, d, status(d)?)?,
        "limit_conn_status" => once(&mut l.conn_status, d, status(d)?)?,
        "limit_req_log_level" => once(&mut l.req_log_level, d, level(d)?)?,
        "limit_conn_log_level" => once(&mut l.conn_log_level, d, level(d)?)?,
        "limit_req_dry_run" => once(&mut l.req_dry_run, d, flag(d)?)?,
        "limit_conn_dry_run" => once(&mut l.conn_dry_run, d, flag(d)?)?,
        _ => {
            return Err(d
                .pos
                .err(format!("internal error: no handler for \"{}\"", d.name)));
        }
    }
    Ok(())
}

/// Every `limit_req`/`limit_conn` must name a zone of its kind.
pub(crate) fn check_refs(refs: &[ZoneRef], zones: &[LimitZone]) -> Result<()> {
    for r in refs {
        let found = zones
            .iter()
            .any(|z| z.name == r.name && z.rate.is_some() == r.req);
        if !found {
            let (d, z) = if r.req {
                ("limit_req", "limit_req_zone KEY zone=NAME:SIZE rate=R")
            } else {
                ("limit_conn", "limit_conn_zone KEY zone=NAME:SIZE")
            };
            return Err(r.pos.err(format!(
                "\"{d}\" names zone \"{}\", which no \"{}\" defines (add \"{z};\" at http level)",
                r.name,
                z.split(' ').next().unwrap_or(z)
            )));
        }
    }
    Ok(())
}

/// `-T` lines for the zones (http level).
pub(crate) fn dump_zones(zones: &[LimitZone], q: fn(&str) -> String) -> Vec<String> {
    zones
        .iter()
        .map(|z| {
            let mut s = format!(
                "{} {} zone={}:{}",
                if z.rate.is_some() {
                    "limit_req_zone"
                } else {
                    "limit_conn_zone"
                },
                q(&z.key),
                z.name,
                fmt_size(z.size)
            );
            match z.rate {
                Some(r) if z.per_minute => {
                    let _ = write!(s, " rate={}r/m", (r * 60).div_ceil(1000));
                }
                Some(r) => {
                    let _ = write!(s, " rate={}r/s", r / 1000);
                }
                None => {}
            }
            s.push(';');
            s
        })
        .collect()
}

/// `-T` lines for a level's limits: all of them with no parent, else what differs.
pub(crate) fn dump_settings(s: &Limits, parent: Option<&Limits>) -> Vec<String> {
    let mut out = Vec::new();
    if parent.is_none_or(|p| p.req != s.req) {
        if s.req.is_empty() && parent.is_some() {
            out.push("# limit_req: none here, which nginx syntax cannot state".into());
        }
        for r in &s.req {
            let mut line = format!("limit_req zone={}", r.zone);
            if r.burst > 0 {
                let _ = write!(line, " burst={}", r.burst);
            }
            match r.delay {
                None => line.push_str(" nodelay"),
                Some(0) => {}
                Some(d) => {
                    let _ = write!(line, " delay={d}");
                }
            }
            line.push(';');
            out.push(line);
        }
    }
    if parent.is_none_or(|p| p.conn != s.conn) {
        if s.conn.is_empty() && parent.is_some() {
            out.push("# limit_conn: none here, which nginx syntax cannot state".into());
        }
        for c in &s.conn {
            out.push(format!("limit_conn {} {};", c.zone, c.max));
        }
    }
    let on = |b: bool| if b { "on" } else { "off" };
    let scalars: [(&str, String, Option<String>); 6] = [
        (
            "limit_req_status",
            s.req_status.to_string(),
            parent.map(|p| p.req_status.to_string()),
        ),
        (
            "limit_req_log_level",
            s.req_log_level.name().into(),
            parent.map(|p| p.req_log_level.name().into()),
        ),
        (
            "limit_req_dry_run",
            on(s.req_dry_run).into(),
            parent.map(|p| on(p.req_dry_run).into()),
        ),
        (
            "limit_conn_status",
            s.conn_status.to_string(),
            parent.map(|p| p.conn_status.to_string()),
        ),
        (
            "limit_conn_log_level",
            s.conn_log_level.name().into(),
            parent.map(|p| p.conn_log_level.name().into()),
        ),
        (
            "limit_conn_dry_run",
            on(s.conn_dry_run).into(),
            parent.map(|p| on(p.conn_dry_run).into()),
        ),
    ];
    for (name, v, p) in scalars {
        if p.as_ref() != Some(&v) {
            out.push(format!("{name} {v};"));
        }
    }
    out
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
