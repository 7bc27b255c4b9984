//! `limit_req`: nginx's leaky bucket (ngx_http_limit_req_module), per shard.
//!
//! A key's state is its `excess` in milli-requests and the time it was last updated. A request
//! computes `excess = max(0, excess - rate × elapsed + 1000)`; above `burst` it is refused;
//! otherwise the excess is stored and a request whose excess is above `delay` waits
//! `(excess - delay) / rate` (nginx's `delay=N`; 0 by default: every excess request waits;
//! `nodelay`: none does). A key seen for the first time passes with excess 0. With several
//! `limit_req`s, each is checked in order and nothing is stored unless all pass; the longest
//! delay wins.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::log;
use super::table::Table;
use super::zones::{LocationLimits, Zones};
use crate::template::{Template, Vars};

/// nginx skips keys longer than this.
const MAX_KEY: usize = 65535;

#[derive(Debug, Default)]
pub struct ReqState {
    /// Milli-requests above the rate.
    excess: u64,
    /// Milliseconds since the zone's epoch at the last update.
    last: u64,
}

pub struct ReqZone {
    pub name: Box<str>,
    pub key_text: String,
    pub key: Template,
    /// This shard's rate, milli-requests per second (never 0).
    pub rate: u64,
    pub table: Rc<RefCell<Table<ReqState>>>,
    /// Time zero of the table's `last` values (kept with the table across reloads).
    pub epoch: Instant,
    /// Requests this shard refused for the zone (metrics; kept with the table).
    pub refused: Rc<Cell<u64>>,
}

/// One `limit_req` line: burst and delay as configured, in milli-requests (`delay` u64::MAX:
/// `nodelay`). Each shard applies its share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReqRule {
    pub zone: usize,
    pub burst: u64,
    pub delay: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Pass after waiting this long.
    Delay(Duration),
    /// Answer with `limit_req_status`.
    Reject,
}

/// The leaked excess plus this request, at `now_ms`.
fn excess_now(st: &ReqState, rate: u64, now_ms: u64) -> u64 {
    let ms = now_ms.saturating_sub(st.last);
    let leaked = u128::from(rate) * u128::from(ms) / 1000;
    (u128::from(st.excess) + 1000).saturating_sub(leaked) as u64
}

/// Checks and accounts one request against the location's `limit_req`s.
pub fn check(l: &LocationLimits, zones: &Zones, vars: &Vars<'_>, now: Instant) -> Verdict {
    let Some(last_rule) = l.req.len().checked_sub(1) else {
        return Verdict::Pass;
    };
    let share = zones.share;
    let mut key = zones.key.borrow_mut();
    let mut staged = zones.staged.borrow_mut();
    staged.clear();
    // (excess, rule) of the last rule, which is accounted at once (nginx's `account` flag).
    let mut last: Option<(u64, usize)> = None;
    for (ri, rule) in l.req.iter().enumerate() {
        let Some(z) = zones.req.get(rule.zone) else {
            continue;
        };
        key.clear();
        z.key.render(vars, &mut key);
        if key.is_empty() || key.len() > MAX_KEY {
            continue;
        }
        let now_ms = now.saturating_duration_since(z.epoch).as_millis() as u64;
        let mut t = z.table.borrow_mut();
        let Some((i, new)) = t.entry(&key) else {
            // No room and nothing evictable (only with a zero-sized table): nginx's
            // allocation failure, answered with the status.
            drop(t);
            return reject(l, z, vars, 0);
        };
        let st = t.get_mut(i);
        let excess = if new {
            st.last = now_ms;
            0
        } else {
            excess_now(st, z.rate, now_ms)
        };
        if excess > share.part(rule.burst) {
            drop(t);
            return reject(l, z, vars, excess);
        }
        if ri == last_rule {
            if now_ms > st.last {
                st.last = now_ms;
            }
            st.excess = excess;
            last = Some((excess, ri));
        } else {
            staged.push((ri, i, new));
        }
    }
    // All passed: account the others and find the longest delay.
    let delay_of = |excess: u64, rule: &ReqRule, rate: u64| {
        let d = if rule.delay == u64::MAX {
            u64::MAX
        } else {
            share.part(rule.delay)
        };
        excess.saturating_sub(d).saturating_mul(1000) / rate
    };
    let mut worst: Option<(u64, u64, usize)> = last.and_then(|(excess, ri)| {
        let rule = &l.req[ri];
        let z = zones.req.get(rule.zone)?;
        Some((delay_of(excess, rule, z.rate), excess, ri))
    });
    for &(ri, i, new) in staged.iter() {
        let rule = &l.req[ri];
        let Some(z) = zones.req.get(rule.zone) else {
            continue;
        };
        let now_ms = now.saturating_duration_since(z.epoch).as_millis() as u64;
        let mut t = z.table.borrow_mut();
        let st = t.get_mut(i);
        // A key new to this zone starts empty here too (nginx marks it so for this step).
        let excess = if new {
            0
        } else {
            excess_now(st, z.rate, now_ms)
        };
        if now_ms > st.last {
            st.last = now_ms;
        }
        st.excess = excess;
        let d = delay_of(excess, rule, z.rate);
        if worst.is_none_or(|(w, _, _)| d > w) {
            worst = Some((d, excess, ri));
        }
    }
    match worst {
        Some((ms, excess, ri)) if ms > 0 => {
            let name = zones.req.get(l.req[ri].zone).map_or("", |z| &z.name);
            over(
                l,
                name,
                vars,
                excess,
                Verdict::Delay(Duration::from_millis(ms)),
            )
        }
        _ => Verdict::Pass,
    }
}

fn reject(l: &LocationLimits, z: &ReqZone, vars: &Vars<'_>, excess: u64) -> Verdict {
    if !l.req_dry_run {
        z.refused.set(z.refused.get() + 1);
    }
    over(l, &z.name, vars, excess, Verdict::Reject)
}

/// A request over a zone's rate: logged as nginx words it, then `verdict` unless dry run.
fn over(l: &LocationLimits, zone: &str, vars: &Vars<'_>, excess: u64, verdict: Verdict) -> Verdict {
    let delaying = matches!(verdict, Verdict::Delay(_));
    log::event(
        l.req_level,
        delaying,
        format_args!(
            "{}{}, excess: {}.{:03} by zone \"{zone}\", client: {}",
            if delaying {
                "delaying request"
            } else {
                "limiting requests"
            },
            if l.req_dry_run { ", dry run" } else { "" },
            excess / 1000,
            excess % 1000,
            String::from_utf8_lossy(vars.remote_addr)
        ),
    );
    if l.req_dry_run {
        Verdict::Pass
    } else {
        verdict
    }
}
