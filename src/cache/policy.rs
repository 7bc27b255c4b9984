//! Whether an upstream response may be stored, until when, and under which `Vary` names: nginx's
//! rules (1.22 and later), ported from `ngx_http_upstream.c` (`_process_cache_control`,
//! `_process_expires`, `_process_accel_expires`, `_process_set_cookie`, `_process_vary`, the
//! `cacheable` checks of `_process_headers` and `_send_response`) and `ngx_http_file_cache.c`
//! (`ngx_http_file_cache_valid`, `_vary`, `_vary_header`).
//!
//! nginx reads the fields in the order the upstream sent them, each handler seeing what the
//! earlier ones left; [`storable`] does the same, so the odd cases (`Expires` before
//! `Cache-Control`, a second `X-Accel-Expires`) come out as nginx's. The usual effect is the
//! precedence X-Accel-Expires > Cache-Control > Expires > `proxy_cache_valid`.

use crate::http::util::trim_ows;
use std::time::Duration;

/// nginx's `NGX_HTTP_CACHE_VARY_LEN`: a longer `Vary` (all its lines joined with ", ") is not
/// cached.
pub const MAX_VARY_LEN: usize = 128;

/// nginx's `NGX_HTTP_CACHE_ETAG_LEN`: a longer ETag is not kept for revalidation.
pub const MAX_ETAG_LEN: usize = 128;

/// `proxy_ignore_headers`: each field set here plays no part in the decision.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Ignore {
    pub x_accel_expires: bool,
    pub expires: bool,
    pub cache_control: bool,
    pub set_cookie: bool,
    pub vary: bool,
}

/// The location's caching rules.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    /// `proxy_cache_valid`, in config order: statuses (empty = `any`) and time. The first entry
    /// that is `any` or names the status wins (`ngx_http_file_cache_valid`). A bare
    /// `proxy_cache_valid 10m` means statuses 200, 301 and 302 (the config model expands it).
    pub valid: &'a [(Vec<u16>, Duration)],
    pub ignore: Ignore,
}

/// The decision for one response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storable {
    /// Not stored; why, for the debug log.
    No(&'static str),
    Yes {
        /// Unix seconds after which the entry is stale. It may already be past (an
        /// `X-Accel-Expires: @<past>`): nginx stores such a response anyway.
        valid_until: i64,
        /// `Cache-Control: stale-while-revalidate=` seconds (0 when absent).
        stale_while_revalidate: u32,
        /// `stale-if-error=` seconds; `stale-while-revalidate=` sets it too, as in nginx.
        stale_if_error: u32,
        /// The `Vary` field names, lower-case, joined with `,`; `None` when the response does
        /// not vary (or `Vary` is ignored).
        vary: Option<Vec<u8>>,
    },
}

/// nginx's per-request state while it reads the upstream's fields (`u->cacheable`,
/// `u->headers_in.no_cache`, `.expired`, `r->cache->valid_sec`, `updating_sec`, `error_sec`).
/// Each flag keeps the reason it was set, for [`Storable::No`].
#[derive(Default)]
struct State {
    uncacheable: Option<&'static str>,
    no_cache: Option<&'static str>,
    expired: Option<&'static str>,
    /// 0 = not set, as in nginx (so `X-Accel-Expires: @0` unsets it).
    valid_sec: i64,
    updating_sec: u32,
    error_sec: u32,
    x_accel_expires_seen: bool,
    expires_seen: bool,
}

/// Whether a response with `status` and `fields` (name/value pairs, names in any case) received
/// at `now` (unix seconds) may be stored under `rules`.
pub fn storable(status: u16, fields: &[(&[u8], &[u8])], now: i64, rules: &Rules) -> Storable {
    let ig = rules.ignore;
    let mut st = State::default();
    let mut vary_lines: Vec<&[u8]> = Vec::new();
    for &(name, value) in fields {
        let value = trim_ows(value);
        if name.eq_ignore_ascii_case(b"x-accel-expires") {
            st.x_accel_expires(value, now, ig.x_accel_expires);
        } else if name.eq_ignore_ascii_case(b"cache-control") {
            if !ig.cache_control {
                st.cache_control(value, now);
            }
        } else if name.eq_ignore_ascii_case(b"expires") {
            st.expires(value, now, ig.expires);
        } else if name.eq_ignore_ascii_case(b"set-cookie") {
            if !ig.set_cookie {
                st.uncacheable.get_or_insert("Set-Cookie");
            }
        } else if name.eq_ignore_ascii_case(b"vary") && !ig.vary {
            vary_lines.push(value);
        }
    }
    if let Some(why) = st.uncacheable.or(st.no_cache).or(st.expired) {
        return Storable::No(why);
    }
    // 1xx are interim (and a 101 hands the connection over); nginx never caches them.
    if status < 200 {
        return Storable::No("interim (1xx) response");
    }
    let vary = match vary_names(&vary_lines) {
        Ok(v) => v,
        Err(why) => return Storable::No(why),
    };
    let valid_until = if st.valid_sec != 0 {
        st.valid_sec
    } else {
        match valid_for(rules.valid, status) {
            Some(d) if !d.is_zero() => now.saturating_add(secs(d)),
            Some(_) => return Storable::No("proxy_cache_valid time is 0 for this status"),
            None => return Storable::No("no proxy_cache_valid for this status"),
        }
    };
    Storable::Yes {
        valid_until,
        stale_while_revalidate: st.updating_sec,
        stale_if_error: st.error_sec,
        vary,
    }
}

impl State {
    /// `ngx_http_upstream_process_accel_expires`: seconds from now, or `@` unix time; 0 means
    /// "do not cache"; anything unreadable is ignored. It clears an earlier `no-cache` and a
    /// past `Expires`. Only the first such field counts.
    fn x_accel_expires(&mut self, v: &[u8], now: i64, ignored: bool) {
        if std::mem::replace(&mut self.x_accel_expires_seen, true) || ignored {
            return;
        }
        let at = match v.split_first() {
            Some((b'@', rest)) => match atoi(rest) {
                Some(t) => t,
                None => return,
            },
            _ => match atoi(v) {
                Some(0) => {
                    self.uncacheable.get_or_insert("X-Accel-Expires: 0");
                    return;
                }
                Some(n) => now.saturating_add(n),
                None => return,
            },
        };
        self.valid_sec = at;
        self.no_cache = None;
        self.expired = None;
    }

    /// `ngx_http_upstream_process_cache_control`. nginx looks for each directive as a
    /// case-insensitive substring (so `no-cache="Set-Cookie"` is `no-cache`); `s-maxage=` wins
    /// over `max-age=`; a value that is not digits up to `,`, `;`, space or the end makes the
    /// response uncacheable. After an `X-Accel-Expires` that set a time, only the
    /// stale-* extensions are read.
    fn cache_control(&mut self, v: &[u8], now: i64) {
        if !(self.valid_sec != 0 && self.x_accel_expires_seen) {
            if find_ci(v, b"no-cache").is_some()
                || find_ci(v, b"no-store").is_some()
                || find_ci(v, b"private").is_some()
            {
                self.no_cache = Some("Cache-Control: no-cache, no-store or private");
                return;
            }
            let age = directive(v, b"s-maxage=").or_else(|| directive(v, b"max-age="));
            if let Some(rest) = age {
                match delta_seconds(rest) {
                    None => return self.bad_delta(),
                    Some(0) => {
                        self.no_cache = Some("Cache-Control: max-age=0");
                        return;
                    }
                    Some(n) => {
                        self.valid_sec = now.saturating_add(n);
                        self.expired = None;
                    }
                }
            }
        }
        if let Some(rest) = directive(v, b"stale-while-revalidate=") {
            let Some(n) = delta_seconds(rest) else {
                return self.bad_delta();
            };
            self.updating_sec = clamp_u32(n);
            self.error_sec = clamp_u32(n);
        }
        if let Some(rest) = directive(v, b"stale-if-error=") {
            let Some(n) = delta_seconds(rest) else {
                return self.bad_delta();
            };
            self.error_sec = clamp_u32(n);
        }
    }

    fn bad_delta(&mut self) {
        self.uncacheable
            .get_or_insert("Cache-Control: invalid delta-seconds");
    }

    /// `ngx_http_upstream_process_expires`: read only when nothing set a time before it; an
    /// unreadable or past date marks the response expired (not cached) unless a later
    /// `Cache-Control: max-age` or `X-Accel-Expires` sets a time. Only the first counts.
    fn expires(&mut self, v: &[u8], now: i64, ignored: bool) {
        if std::mem::replace(&mut self.expires_seen, true) || ignored || self.valid_sec != 0 {
            return;
        }
        match super::parse_http_date(v) {
            Some(t) if t >= now => self.valid_sec = t,
            _ => self.expired = Some("Expires in the past or not a date"),
        }
    }
}

/// The first `proxy_cache_valid` entry for `status` (`ngx_http_file_cache_valid`).
fn valid_for(valid: &[(Vec<u16>, Duration)], status: u16) -> Option<Duration> {
    valid
        .iter()
        .find(|(statuses, _)| statuses.is_empty() || statuses.contains(&status))
        .map(|&(_, d)| d)
}

/// The names of the `Vary` lines (nginx joins them with ", " and limits that to
/// [`MAX_VARY_LEN`]), lower-case and joined with `,`. `Vary: *` anywhere in the list is not
/// cached: nginx only catches a line that is exactly `*`, but RFC 9111 §4.1 says `*` never
/// matches, so ringway refuses `Vary: Accept, *` too.
fn vary_names(lines: &[&[u8]]) -> Result<Option<Vec<u8>>, &'static str> {
    if lines.is_empty() {
        return Ok(None);
    }
    let joined_len = lines.iter().map(|l| l.len()).sum::<usize>() + 2 * (lines.len() - 1);
    let mut out = Vec::new();
    for name in lines.iter().flat_map(|l| vary_tokens(l)) {
        if name == b"*" {
            return Err("Vary: *");
        }
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend(name.iter().map(u8::to_ascii_lowercase));
    }
    if joined_len > MAX_VARY_LEN {
        return Err("Vary longer than 128 bytes");
    }
    Ok((!out.is_empty()).then_some(out))
}

/// nginx's tokenizer for `Vary` names and for the values of `Accept-*`: runs of bytes other
/// than space and comma.
fn vary_tokens(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b' ' || b == b',')
        .filter(|t| !t.is_empty())
}

/// The request's values for the `Vary` names `names` (as in [`Storable::Yes`]), in the form
/// nginx hashes into the variant (`ngx_http_file_cache_vary`): `name:value\r\n` per name, the
/// name lower-case. `request_field(name)` gives the request's value of that field, its lines
/// joined with `,`, or `None` when absent. The values of Accept-Charset, Accept-Encoding and
/// Accept-Language are normalized as nginx does: split at spaces and commas, joined with `,`
/// (so `gzip, br` and `gzip,br` share a variant).
pub fn vary_values(names: &[u8], request_field: impl Fn(&[u8]) -> Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for name in vary_tokens(names) {
        let name = name.to_ascii_lowercase();
        out.extend_from_slice(&name);
        out.push(b':');
        if let Some(v) = request_field(&name) {
            if matches!(
                &name[..],
                b"accept-charset" | b"accept-encoding" | b"accept-language"
            ) {
                for (i, t) in vary_tokens(&v).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(t);
                }
            } else {
                out.extend_from_slice(&v);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The validators nginx keeps for revalidation (`$upstream_cache_etag`,
/// `$upstream_cache_last_modified`): only for 200 and 206 responses; an ETag longer than
/// [`MAX_ETAG_LEN`] is not kept; a Last-Modified that is not a date is none.
pub fn validators<'a>(
    status: u16,
    fields: &[(&[u8], &'a [u8])],
) -> (Option<&'a [u8]>, Option<i64>) {
    if status != 200 && status != 206 {
        return (None, None);
    }
    let etag = super::first_field(fields, b"etag").filter(|e| e.len() <= MAX_ETAG_LEN);
    let lm = super::first_field(fields, b"last-modified").and_then(super::parse_http_date);
    (etag, lm)
}

/// The bytes after the first case-insensitive occurrence of `name` (which ends in `=`).
fn directive<'a>(v: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let at = find_ci(v, name)?;
    v.get(at + name.len()..)
}

/// `ngx_strlcasestrn`: the first case-insensitive occurrence of `needle` in `hay`.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// `ngx_http_upstream_process_delta_seconds`: digits up to `,`, `;`, space or the end (none at
/// all reads as 0); any other byte is an error; an overflow saturates.
fn delta_seconds(v: &[u8]) -> Option<i64> {
    let mut n: i64 = 0;
    for &b in v {
        if matches!(b, b',' | b';' | b' ') {
            break;
        }
        if !b.is_ascii_digit() {
            return None;
        }
        n = match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(i64::from(b - b'0')))
        {
            Some(n) => n,
            None => return Some(i64::MAX),
        };
    }
    Some(n)
}

/// `ngx_atoi`: one or more digits and nothing else; an overflow is an error.
fn atoi(v: &[u8]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0i64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

fn clamp_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
