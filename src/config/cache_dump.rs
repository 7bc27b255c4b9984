//! `-T` lines for `proxy_cache_path` and the `proxy_cache*` settings (see `cache.rs`).

use std::fmt::Write as _;

use super::*;
use crate::config::values::{fmt_size, fmt_time};

/// ` NAME_files=… NAME_sleep=… NAME_threshold=…` where they differ from `base`.
fn batch_params(out: &mut String, name: &str, b: &CacheBatch, base: &CacheBatch) {
    if b.files != base.files {
        let _ = write!(out, " {name}_files={}", b.files);
    }
    if b.sleep != base.sleep {
        let _ = write!(out, " {name}_sleep={}", fmt_time(b.sleep));
    }
    if b.threshold != base.threshold {
        let _ = write!(out, " {name}_threshold={}", fmt_time(b.threshold));
    }
}

/// The `-T` line of a zone.
fn zone_line(z: &CacheZone, q: fn(&str) -> String) -> String {
    let mut s = format!("proxy_cache_path {}", q(&z.path.to_string_lossy()));
    if !z.levels.is_empty() {
        let l: Vec<String> = z.levels.iter().map(u8::to_string).collect();
        let _ = write!(s, " levels={}", l.join(":"));
    }
    if !z.use_temp_path {
        s.push_str(" use_temp_path=off");
    }
    let _ = write!(
        s,
        " keys_zone={}:{} inactive={}",
        q(&z.name),
        fmt_size(z.keys_size),
        fmt_time(z.inactive)
    );
    if let Some(m) = z.max_size {
        let _ = write!(s, " max_size={}", fmt_size(m));
    }
    if let Some(m) = z.min_free {
        let _ = write!(s, " min_free={}", fmt_size(m));
    }
    batch_params(&mut s, "manager", &z.manager, &DEFAULT_WALKER);
    batch_params(&mut s, "loader", &z.loader, &DEFAULT_WALKER);
    if z.purger {
        s.push_str(" purger=on");
    }
    batch_params(&mut s, "purger", &z.purger_batch, &DEFAULT_PURGER);
    s.push(';');
    s
}

/// `-T` lines for the zones (http level).
pub(crate) fn dump_zones(zones: &[CacheZone], q: fn(&str) -> String) -> Vec<String> {
    zones.iter().map(|z| zone_line(z, q)).collect()
}

fn valid_line(v: &CacheValid) -> String {
    let codes: Vec<String> = v.statuses.iter().map(u16::to_string).collect();
    let codes = if codes.is_empty() {
        "any".to_string()
    } else {
        codes.join(" ")
    };
    format!("proxy_cache_valid {codes} {};", fmt_time(v.time))
}

/// The list directives' lines where they differ from `base`.
fn dump_lists(
    out: &mut Vec<String>,
    s: &CacheSettings,
    base: &CacheSettings,
    q: fn(&str) -> String,
) {
    let none = |out: &mut Vec<String>, name: &str| {
        out.push(format!(
            "# {name}: none here, which nginx syntax cannot state under an inherited list"
        ));
    };
    if s.valid != base.valid {
        if s.valid.is_empty() {
            none(out, "proxy_cache_valid");
        }
        out.extend(s.valid.iter().map(valid_line));
    }
    for (name, mine, theirs) in [
        ("proxy_cache_bypass", &s.bypass, &base.bypass),
        ("proxy_no_cache", &s.no_cache, &base.no_cache),
        ("proxy_cache_purge", &s.purge, &base.purge),
    ] {
        if mine == theirs {
            continue;
        }
        if mine.is_empty() {
            none(out, name);
        } else {
            let v: Vec<String> = mine.iter().map(|t| q(t)).collect();
            out.push(format!("{name} {};", v.join(" ")));
        }
    }
}

fn on(b: bool) -> String {
    if b { "on" } else { "off" }.into()
}

/// `-T` lines for a level's cache settings: what differs from the parent's (a server: from
/// nginx's defaults, so a server that caches nothing gets no lines).
pub(crate) fn dump_settings(
    s: &CacheSettings,
    parent: Option<&CacheSettings>,
    q: fn(&str) -> String,
) -> Vec<String> {
    let dflt = CacheSettings::default();
    let base = parent.unwrap_or(&dflt);
    let mut out = Vec::new();
    dump_lists(&mut out, s, base, q);
    type Field = (
        &'static str,
        fn(&CacheSettings, fn(&str) -> String) -> String,
    );
    let fields: &[Field] = &[
        ("proxy_cache", |s, q| {
            s.zone.as_deref().map_or("off".into(), q)
        }),
        ("proxy_cache_key", |s, q| q(&s.key)),
        ("proxy_cache_methods", |s, _| {
            flag_names(s.methods, METHODS).join(" ")
        }),
        ("proxy_cache_min_uses", |s, _| s.min_uses.to_string()),
        ("proxy_cache_use_stale", |s, _| {
            let v = flag_names(s.use_stale, USE_STALE);
            if v.is_empty() {
                "off".into()
            } else {
                v.join(" ")
            }
        }),
        ("proxy_cache_background_update", |s, _| {
            on(s.background_update)
        }),
        ("proxy_cache_lock", |s, _| on(s.lock)),
        ("proxy_cache_lock_timeout", |s, _| fmt_time(s.lock_timeout)),
        ("proxy_cache_lock_age", |s, _| fmt_time(s.lock_age)),
        ("proxy_cache_revalidate", |s, _| on(s.revalidate)),
        ("proxy_cache_convert_head", |s, _| on(s.convert_head)),
        ("proxy_ignore_headers", |s, _| {
            flag_names(s.ignore, IGNORE).join(" ")
        }),
        ("proxy_cache_max_range_offset", |s, _| {
            s.max_range_offset.map_or(String::new(), |n| n.to_string())
        }),
    ];
    for &(name, f) in fields {
        let v = f(s, q);
        if v == f(base, q) {
            continue;
        }
        if v.is_empty() {
            out.push(format!(
                "# {name}: none here, which nginx syntax cannot state under an inherited value"
            ));
        } else {
            out.push(format!("{name} {v};"));
        }
    }
    out
}
