//! `proxy_cache_path` and the `proxy_cache*` location settings: the model, the directive front
//! end (nginx's argument syntax, defaults and errors) and their `-T` lines. Kept apart from
//! `build` so the cache configuration is read in one place; nothing here touches the disk.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{Pos, Result};
use super::limits::{flag, once};
use super::parser::{Arg, Directive};
use super::values::{check_variables, fmt_size, parse_num, parse_size, parse_time};

#[path = "cache_dump.rs"]
mod dump;
pub(crate) use dump::{dump_settings, dump_zones};

/// nginx refuses a keys zone smaller than two pages.
pub const MIN_KEYS_ZONE_SIZE: u64 = 8 * 1024;

/// nginx's `proxy_cache_key` default.
pub const DEFAULT_CACHE_KEY: &str = "$scheme$proxy_host$request_uri";

/// How one of a cache's background walkers paces itself: at most `files` entries per
/// iteration, an iteration stops after `threshold`, then it sleeps `sleep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheBatch {
    pub files: u32,
    pub sleep: Duration,
    pub threshold: Duration,
}

impl CacheBatch {
    const fn new(files: u32, sleep_ms: u64, threshold_ms: u64) -> CacheBatch {
        CacheBatch {
            files,
            sleep: Duration::from_millis(sleep_ms),
            threshold: Duration::from_millis(threshold_ms),
        }
    }
}

/// nginx's defaults for the manager and the loader (`*_files=100 *_sleep=50ms *_threshold=200ms`).
pub const DEFAULT_WALKER: CacheBatch = CacheBatch::new(100, 50, 200);
/// nginx Plus's purger defaults (`purger_files=10 purger_sleep=50ms purger_threshold=50ms`).
pub const DEFAULT_PURGER: CacheBatch = CacheBatch::new(10, 50, 50);

/// `proxy_cache_path PATH [levels=…] keys_zone=NAME:SIZE [inactive=T] [max_size=S] …` (http).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheZone {
    pub name: String,
    /// Absolute (a relative path starts at the main file's folder), no trailing `/`.
    pub path: PathBuf,
    /// Characters of the key's hash per directory level (each 1 or 2; empty: one flat folder).
    pub levels: Vec<u8>,
    /// The keys zone's size (nginx: shared memory for keys and metadata).
    pub keys_size: u64,
    /// Entries not used for this long are removed (nginx's default 10m).
    pub inactive: Duration,
    pub max_size: Option<u64>,
    pub min_free: Option<u64>,
    /// As written (nginx's default on); ringway keeps temporary files inside `path` either way.
    pub use_temp_path: bool,
    pub manager: CacheBatch,
    pub loader: CacheBatch,
    /// nginx Plus's `purger=on` (wildcard purges removed in the background) and its pacing.
    pub purger: bool,
    pub purger_batch: CacheBatch,
}

/// One `proxy_cache_valid` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheValid {
    /// Empty: `any` status.
    pub statuses: Vec<u16>,
    pub time: Duration,
}

/// `proxy_cache_methods`: GET and HEAD are always cached (nginx adds them whatever is written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Methods {
    pub get: bool,
    pub head: bool,
    pub post: bool,
}

impl Default for Methods {
    fn default() -> Methods {
        Methods {
            get: true,
            head: true,
            post: false,
        }
    }
}

/// `proxy_cache_use_stale`: when a stale entry may answer (all false: `off`, the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UseStale {
    pub error: bool,
    pub timeout: bool,
    pub invalid_header: bool,
    pub updating: bool,
    pub http_500: bool,
    pub http_502: bool,
    pub http_503: bool,
    pub http_504: bool,
    pub http_403: bool,
    pub http_404: bool,
    pub http_429: bool,
}

/// `proxy_ignore_headers`: upstream fields whose caching (or X-Accel) meaning is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IgnoreHeaders {
    pub x_accel_expires: bool,
    pub expires: bool,
    pub cache_control: bool,
    pub set_cookie: bool,
    pub vary: bool,
    /// Accepted as nginx does; ringway never acts on these fields anyway.
    pub x_accel_redirect: bool,
    pub x_accel_limit_rate: bool,
    pub x_accel_buffering: bool,
    pub x_accel_charset: bool,
}

/// The effective cache settings of a location (nginx's defaults in `Default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// `proxy_cache ZONE` (None: `off`).
    pub zone: Option<String>,
    /// `proxy_cache_key` template.
    pub key: String,
    /// `proxy_cache_valid` lines in order (the first that matches a status wins).
    pub valid: Vec<CacheValid>,
    pub methods: Methods,
    pub min_uses: u32,
    /// `proxy_cache_bypass` templates: any non-empty and not "0" → answered from upstream.
    pub bypass: Vec<String>,
    /// `proxy_no_cache` templates: any non-empty and not "0" → the response is not stored.
    pub no_cache: Vec<String>,
    pub use_stale: UseStale,
    pub background_update: bool,
    pub lock: bool,
    pub lock_timeout: Duration,
    pub lock_age: Duration,
    pub revalidate: bool,
    pub convert_head: bool,
    pub ignore: IgnoreHeaders,
    /// `proxy_cache_max_range_offset` (None: no limit).
    pub max_range_offset: Option<u64>,
    /// nginx Plus's `proxy_cache_purge` templates: any non-empty and not "0" → a purge request.
    pub purge: Vec<String>,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            zone: None,
            key: DEFAULT_CACHE_KEY.into(),
            valid: Vec::new(),
            methods: Methods::default(),
            min_uses: 1,
            bypass: Vec::new(),
            no_cache: Vec::new(),
            use_stale: UseStale::default(),
            background_update: false,
            lock: false,
            lock_timeout: Duration::from_secs(5),
            lock_age: Duration::from_secs(5),
            revalidate: false,
            convert_head: true,
            ignore: IgnoreHeaders::default(),
            max_range_offset: None,
            purge: Vec::new(),
        }
    }
}

/// What one level sets; None inherits. A list set at a level replaces the inherited one.
#[derive(Debug, Default, Clone)]
pub(crate) struct CacheLayer {
    zone: Option<Option<String>>,
    key: Option<String>,
    valid: Option<Vec<CacheValid>>,
    methods: Option<Methods>,
    min_uses: Option<u32>,
    bypass: Option<Vec<String>>,
    no_cache: Option<Vec<String>>,
    use_stale: Option<UseStale>,
    background_update: Option<bool>,
    lock: Option<bool>,
    lock_timeout: Option<Duration>,
    lock_age: Option<Duration>,
    revalidate: Option<bool>,
    convert_head: Option<bool>,
    ignore: Option<IgnoreHeaders>,
    max_range_offset: Option<u64>,
    purge: Option<Vec<String>>,
}

impl CacheLayer {
    pub fn apply(&self, p: &CacheSettings) -> CacheSettings {
        let list = |mine: &Option<Vec<String>>, theirs: &Vec<String>| {
            mine.clone().unwrap_or_else(|| theirs.clone())
        };
        CacheSettings {
            zone: self.zone.clone().unwrap_or_else(|| p.zone.clone()),
            key: self.key.clone().unwrap_or_else(|| p.key.clone()),
            valid: self.valid.clone().unwrap_or_else(|| p.valid.clone()),
            methods: self.methods.unwrap_or(p.methods),
            min_uses: self.min_uses.unwrap_or(p.min_uses),
            bypass: list(&self.bypass, &p.bypass),
            no_cache: list(&self.no_cache, &p.no_cache),
            use_stale: self.use_stale.unwrap_or(p.use_stale),
            background_update: self.background_update.unwrap_or(p.background_update),
            lock: self.lock.unwrap_or(p.lock),
            lock_timeout: self.lock_timeout.unwrap_or(p.lock_timeout),
            lock_age: self.lock_age.unwrap_or(p.lock_age),
            revalidate: self.revalidate.unwrap_or(p.revalidate),
            convert_head: self.convert_head.unwrap_or(p.convert_head),
            ignore: self.ignore.unwrap_or(p.ignore),
            max_range_offset: self.max_range_offset.or(p.max_range_offset),
            purge: list(&self.purge, &p.purge),
        }
    }
}

/// A zone named by `proxy_cache`, checked once every `proxy_cache_path` is known.
#[derive(Debug)]
pub(crate) struct CacheRef {
    pub pos: Pos,
    pub name: String,
}

/// A flag token and where it lives in `T` (for the bitmask-like directives).
type Flag<T> = (&'static str, fn(&mut T) -> &mut bool);

const METHODS: &[Flag<Methods>] = &[
    ("GET", |m| &mut m.get),
    ("HEAD", |m| &mut m.head),
    ("POST", |m| &mut m.post),
];

const USE_STALE: &[Flag<UseStale>] = &[
    ("error", |s| &mut s.error),
    ("timeout", |s| &mut s.timeout),
    ("invalid_header", |s| &mut s.invalid_header),
    ("updating", |s| &mut s.updating),
    ("http_500", |s| &mut s.http_500),
    ("http_502", |s| &mut s.http_502),
    ("http_503", |s| &mut s.http_503),
    ("http_504", |s| &mut s.http_504),
    ("http_403", |s| &mut s.http_403),
    ("http_404", |s| &mut s.http_404),
    ("http_429", |s| &mut s.http_429),
];

const IGNORE: &[Flag<IgnoreHeaders>] = &[
    ("X-Accel-Redirect", |i| &mut i.x_accel_redirect),
    ("X-Accel-Expires", |i| &mut i.x_accel_expires),
    ("X-Accel-Limit-Rate", |i| &mut i.x_accel_limit_rate),
    ("X-Accel-Buffering", |i| &mut i.x_accel_buffering),
    ("X-Accel-Charset", |i| &mut i.x_accel_charset),
    ("Expires", |i| &mut i.expires),
    ("Cache-Control", |i| &mut i.cache_control),
    ("Set-Cookie", |i| &mut i.set_cookie),
    ("Vary", |i| &mut i.vary),
];

/// Sets the flags a directive names on `start` (matched without case, as nginx does); `also`:
/// other tokens the caller took care of, for the error message.
fn flags<'a, T>(
    d: &Directive,
    args: impl IntoIterator<Item = &'a Arg>,
    table: &[Flag<T>],
    also: &[&str],
    mut start: T,
) -> Result<T> {
    for a in args {
        let Some((_, f)) = table.iter().find(|(n, _)| n.eq_ignore_ascii_case(&a.value)) else {
            let names: Vec<&str> = table
                .iter()
                .map(|(n, _)| *n)
                .chain(also.iter().copied())
                .collect();
            return Err(a.pos.err(format!(
                "invalid value \"{}\" in \"{}\" directive, it must be one of {}",
                a.value,
                d.name,
                names.join(" ")
            )));
        };
        *f(&mut start) = true;
    }
    Ok(start)
}

/// The tokens of the flags set in `v`, in the table's order.
fn flag_names<T: Copy>(v: T, table: &[Flag<T>]) -> Vec<&'static str> {
    table
        .iter()
        .filter(|(_, f)| {
            let mut c = v;
            *f(&mut c)
        })
        .map(|(n, _)| *n)
        .collect()
}

fn time(d: &Directive, a: &Arg) -> Result<Duration> {
    parse_time(&a.value).ok_or_else(|| {
        a.pos.err(format!(
            "invalid value \"{}\" in \"{}\" directive, expected a time such as 30s, 5m, 1h or 500ms",
            a.value, d.name
        ))
    })
}

/// nginx reads these times in whole seconds (`ms` is refused).
fn seconds(s: &str) -> Option<Duration> {
    parse_time(s).filter(|_| !s.contains("ms"))
}

/// `levels=1:2`: one to three levels of 1 or 2 characters.
fn levels(v: &str) -> Option<Vec<u8>> {
    let l: Vec<u8> = v
        .split(':')
        .map(|p| match p {
            "1" => Some(1),
            "2" => Some(2),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (1..=3).contains(&l.len()).then_some(l)
}

/// The cache folder: trailing `/` dropped, a relative path started at the main file's folder.
fn cache_path(base_dir: &Path, v: &str) -> PathBuf {
    let trimmed = if v.len() > 1 {
        v.trim_end_matches('/')
    } else {
        v
    };
    let p = base_dir.join(trimmed);
    std::path::absolute(&p).unwrap_or(p)
}

/// `keys_zone=NAME:SIZE`.
fn keys_zone(a: &Arg, v: &str) -> Result<(String, u64)> {
    let invalid = || a.pos.err(format!("invalid keys zone size \"{}\"", a.value));
    let (name, size) = v.split_once(':').ok_or_else(invalid)?;
    let size = parse_size(size)
        .filter(|_| !name.is_empty())
        .ok_or_else(invalid)?;
    if size < MIN_KEYS_ZONE_SIZE {
        return Err(a.pos.err(format!(
            "keys zone \"{name}\" is too small (at least {})",
            fmt_size(MIN_KEYS_ZONE_SIZE)
        )));
    }
    Ok((name.to_string(), size))
}

/// `use_temp_path=` / `purger=`.
fn on_off_param(a: &Arg, name: &str, v: &str) -> Result<bool> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(a.pos.err(format!(
            "invalid {name} value \"{}\", it must be \"on\" or \"off\"",
            a.value
        ))),
    }
}

/// `manager_*=`, `loader_*=`, `purger_*=`: the walker's pacing; false: no such parameter.
fn batch_param(z: &mut CacheZone, a: &Arg, name: &str, v: &str) -> Result<bool> {
    let Some((who, what)) = name.split_once('_') else {
        return Ok(false);
    };
    let b = match who {
        "manager" => &mut z.manager,
        "loader" => &mut z.loader,
        "purger" => &mut z.purger_batch,
        _ => return Ok(false),
    };
    let bad = || a.pos.err(format!("invalid {name} value \"{}\"", a.value));
    match what {
        "files" => b.files = parse_num(v).ok_or_else(bad)?,
        "sleep" => b.sleep = parse_time(v).ok_or_else(bad)?,
        "threshold" => b.threshold = parse_time(v).ok_or_else(bad)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// One `NAME=VALUE` parameter of `proxy_cache_path` other than `keys_zone`; false: not one.
fn zone_param(z: &mut CacheZone, a: &Arg, name: &str, v: &str) -> Result<bool> {
    let bad = || a.pos.err(format!("invalid {name} value \"{}\"", a.value));
    match name {
        "levels" => {
            z.levels = levels(v).ok_or_else(|| {
                a.pos.err(format!(
                    "invalid \"levels\" \"{}\" (1 to 3 levels of 1 or 2, such as levels=1:2)",
                    a.value
                ))
            })?
        }
        "use_temp_path" => z.use_temp_path = on_off_param(a, name, v)?,
        "purger" => z.purger = on_off_param(a, name, v)?,
        "inactive" => z.inactive = seconds(v).ok_or_else(bad)?,
        "max_size" => z.max_size = Some(parse_size(v).ok_or_else(bad)?),
        "min_free" => z.min_free = Some(parse_size(v).ok_or_else(bad)?),
        _ => return batch_param(z, a, name, v),
    }
    Ok(true)
}

/// `proxy_cache_path` (http level).
pub(crate) fn zone(d: &Directive, base_dir: &Path) -> Result<CacheZone> {
    let mut z = CacheZone {
        name: String::new(),
        path: cache_path(base_dir, &d.args[0].value),
        levels: Vec::new(),
        keys_size: 0,
        inactive: Duration::from_secs(600),
        max_size: None,
        min_free: None,
        use_temp_path: true,
        manager: DEFAULT_WALKER,
        loader: DEFAULT_WALKER,
        purger: false,
        purger_batch: DEFAULT_PURGER,
    };
    for a in &d.args[1..] {
        let (name, v) = a.value.split_once('=').unwrap_or((&a.value, ""));
        if name == "keys_zone" {
            (z.name, z.keys_size) = keys_zone(a, v)?;
        } else if !a.value.contains('=') || !zone_param(&mut z, a, name, v)? {
            return Err(a.pos.err(format!("invalid parameter \"{}\"", a.value)));
        }
    }
    if z.name.is_empty() {
        return Err(d
            .pos
            .err("\"proxy_cache_path\" must have \"keys_zone\" parameter"));
    }
    Ok(z)
}

/// `proxy_cache_valid [code ...|any] TIME`: one line into the level's list.
fn valid(d: &Directive) -> Result<CacheValid> {
    let (t, codes) = d.args.split_last().ok_or_else(|| d.pos.err("no time"))?;
    let time = seconds(&t.value)
        .ok_or_else(|| t.pos.err(format!("invalid time value \"{}\"", t.value)))?;
    if codes.is_empty() {
        return Ok(CacheValid {
            statuses: vec![200, 301, 302],
            time,
        });
    }
    let mut statuses = Vec::new();
    let mut any = false;
    for c in codes {
        if c.value == "any" {
            any = true;
            continue;
        }
        let s = parse_num::<u16>(&c.value)
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| c.pos.err(format!("invalid status \"{}\"", c.value)))?;
        statuses.push(s);
    }
    // With `any` on the line, the listed codes get the same time: `any` says it all.
    if any {
        statuses.clear();
    }
    Ok(CacheValid { statuses, time })
}

/// Templates of the predicate directives (`proxy_cache_bypass`, …), variables checked.
fn templates(d: &Directive, caps: &HashSet<String>, into: &mut Option<Vec<String>>) -> Result<()> {
    let list = into.get_or_insert_default();
    for a in &d.args {
        check_variables(&a.value, caps).map_err(|m| a.pos.err(m))?;
        list.push(a.value.clone());
    }
    Ok(())
}

/// `proxy_cache_use_stale`: `off` alone wins over the rest, as nginx merges it.
/// Some(notice) for nginx's `non_idempotent`, which means nothing for stale answers.
fn use_stale(d: &Directive, l: &mut CacheLayer) -> Result<Option<String>> {
    let off = d.args.iter().any(|a| a.value == "off");
    let (dropped, args): (Vec<&Arg>, Vec<&Arg>) = d
        .args
        .iter()
        .filter(|a| a.value != "off")
        .partition(|a| a.value == "non_idempotent");
    let s = flags(d, args, USE_STALE, &["off"], UseStale::default())?;
    once(
        &mut l.use_stale,
        d,
        if off { UseStale::default() } else { s },
    )?;
    Ok(dropped.first().map(|a| {
        format!(
            "{}: ignored: non_idempotent in proxy_cache_use_stale (it has no meaning there)",
            a.pos.short()
        )
    }))
}

/// The `proxy_cache*` settings (http, server, location). Some(line): a notice to show.
pub(crate) fn setting(
    d: &Directive,
    l: &mut CacheLayer,
    refs: &mut Vec<CacheRef>,
    caps: &HashSet<String>,
) -> Result<Option<String>> {
    let a = &d.args[0];
    match d.name.as_str() {
        "proxy_cache" => {
            let zone = match a.value.as_str() {
                "off" => None,
                v if v.contains('$') => {
                    return Err(a.pos.err(
                        "\"proxy_cache\" with variables is not supported yet by ringway (name the zone)",
                    ));
                }
                v => {
                    refs.push(CacheRef {
                        pos: a.pos.clone(),
                        name: v.to_string(),
                    });
                    Some(v.to_string())
                }
            };
            once(&mut l.zone, d, zone)?;
        }
        "proxy_cache_key" => {
            check_variables(&a.value, caps).map_err(|m| a.pos.err(m))?;
            once(&mut l.key, d, a.value.clone())?;
        }
        "proxy_cache_valid" => l.valid.get_or_insert_default().push(valid(d)?),
        "proxy_cache_methods" => {
            let m = flags(d, &d.args, METHODS, &[], Methods::default())?;
            once(&mut l.methods, d, m)?;
        }
        "proxy_cache_min_uses" => {
            let n = parse_num(&a.value).ok_or_else(|| number(d, a))?;
            once(&mut l.min_uses, d, n)?;
        }
        "proxy_cache_bypass" => templates(d, caps, &mut l.bypass)?,
        "proxy_no_cache" => templates(d, caps, &mut l.no_cache)?,
        "proxy_cache_purge" => templates(d, caps, &mut l.purge)?,
        "proxy_cache_use_stale" => return use_stale(d, l),
        "proxy_cache_background_update" => once(&mut l.background_update, d, flag(d)?)?,
        "proxy_cache_lock" => once(&mut l.lock, d, flag(d)?)?,
        "proxy_cache_lock_timeout" => once(&mut l.lock_timeout, d, time(d, a)?)?,
        "proxy_cache_lock_age" => once(&mut l.lock_age, d, time(d, a)?)?,
        "proxy_cache_revalidate" => once(&mut l.revalidate, d, flag(d)?)?,
        "proxy_cache_convert_head" => once(&mut l.convert_head, d, flag(d)?)?,
        "proxy_ignore_headers" => {
            let i = flags(d, &d.args, IGNORE, &[], IgnoreHeaders::default())?;
            once(&mut l.ignore, d, i)?;
        }
        "proxy_cache_max_range_offset" => {
            let n = parse_size(&a.value).ok_or_else(|| number(d, a))?;
            once(&mut l.max_range_offset, d, n)?;
        }
        _ => {
            return Err(d
                .pos
                .err(format!("internal error: no handler for \"{}\"", d.name)));
        }
    }
    Ok(None)
}

fn number(d: &Directive, a: &Arg) -> super::ConfigError {
    a.pos.err(format!(
        "invalid value \"{}\" in \"{}\" directive, expected a number",
        a.value, d.name
    ))
}

/// Every `proxy_cache ZONE` must name a `proxy_cache_path` zone.
pub(crate) fn check_refs(refs: &[CacheRef], zones: &[CacheZone]) -> Result<()> {
    match refs.iter().find(|r| !zones.iter().any(|z| z.name == r.name)) {
        Some(r) => Err(r.pos.err(format!(
            "\"proxy_cache\" zone \"{0}\" is unknown (add \"proxy_cache_path PATH keys_zone={0}:SIZE;\" at http level)",
            r.name
        ))),
        None => Ok(()),
    }
}

/// The notice for `use_temp_path=on` (written or nginx's default).
pub(crate) fn temp_path_notice(pos: &Pos) -> String {
    format!(
        "{}: ignored: proxy_cache_path use_temp_path=on (nginx's default; ringway writes a \
         cache's temporary files inside its path, as use_temp_path=off does)",
        pos.short()
    )
}
