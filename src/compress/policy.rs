//! A location's compression policy, compiled from the config, and the per-response decision:
//! whether the response is eligible (nginx's gzip header filter), and which coding the client
//! gets (nginx's `ngx_http_gzip_ok`, plus `br` and `zstd` negotiated by q-value).

use std::time::SystemTime;

use super::Coding;
use super::accept::parse_accept_encoding;
use crate::config::compress::{CodingSettings, CompressSettings, Proxied};
use crate::http::{HeaderSpan, ResponseFraming, ResponseHead};

/// One coding's compiled settings.
#[derive(Debug)]
pub struct CodingPolicy {
    /// Lower-case media types besides `text/html`.
    types: Vec<Box<[u8]>>,
    any_type: bool,
    min_length: u64,
    pub level: u32,
}

impl CodingPolicy {
    fn compile(s: &CodingSettings) -> Option<CodingPolicy> {
        s.on.then(|| CodingPolicy {
            types: s.types.iter().map(|t| t.as_bytes().into()).collect(),
            any_type: s.types.iter().any(|t| t == "*"),
            min_length: s.min_length,
            level: s.level,
        })
    }

    /// The type is listed and the length (when known) reaches `min_length`.
    fn fits(&self, media_type: &[u8], len: Option<u64>) -> bool {
        let typed = self.any_type
            || media_type.eq_ignore_ascii_case(b"text/html")
            || self
                .types
                .iter()
                .any(|t| media_type.eq_ignore_ascii_case(t));
        typed && len.is_none_or(|n| n >= self.min_length)
    }
}

/// A location's `gzip*` / `brotli*` / `zstd*` settings, ready for requests.
#[derive(Debug)]
pub struct Policy {
    pub gzip: Option<CodingPolicy>,
    pub brotli: Option<CodingPolicy>,
    pub zstd: Option<CodingPolicy>,
    vary: bool,
    proxied: Proxied,
    disable: Vec<regex::bytes::Regex>,
    disable_msie6: bool,
    http10: bool,
}

/// What the decision needs of the request.
pub struct RequestView<'a> {
    pub headers: &'a [HeaderSpan],
    pub buf: &'a [u8],
    pub http10: bool,
}

/// The outcome for one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    /// The coding to apply (None: the body passes as it is).
    pub coding: Option<Coding>,
    /// Add `Vary: Accept-Encoding`.
    pub vary: bool,
    /// The level for `coding`.
    pub level: u32,
}

impl Policy {
    /// None when no coding is on (the common case costs one branch).
    pub fn compile(s: &CompressSettings) -> Result<Option<Policy>, String> {
        let gzip = CodingPolicy::compile(&s.gzip);
        let brotli = CodingPolicy::compile(&s.brotli);
        let zstd = CodingPolicy::compile(&s.zstd);
        if gzip.is_none() && brotli.is_none() && zstd.is_none() {
            return Ok(None);
        }
        let mut disable = Vec::new();
        for d in s.disable.iter().filter(|d| *d != "msie6") {
            let re = regex::bytes::RegexBuilder::new(d)
                .case_insensitive(true)
                .build()
                .map_err(|e| format!("gzip_disable \"{d}\": {e}"))?;
            disable.push(re);
        }
        Ok(Some(Policy {
            gzip,
            brotli,
            zstd,
            vary: s.vary,
            proxied: s.proxied,
            disable,
            disable_msie6: s.disable.iter().any(|d| d == "msie6"),
            http10: s.http10,
        }))
    }

    /// The decision for the response `resp` (head in `ub`) to the request `req`.
    pub fn decide(&self, req: &RequestView<'_>, resp: &ResponseHead, ub: &[u8]) -> Decision {
        let none = Decision::default();
        // nginx compresses 200, 403 and 404 only; no body (HEAD, 204, 304) → nothing to do.
        if !matches!(resp.status, 200 | 403 | 404) || resp.framing == ResponseFraming::None {
            return none;
        }
        let field = |name: &[u8]| first(&resp.headers, ub, name);
        if field(b"content-encoding").is_some_and(|v| !v.trim_ascii().is_empty())
            || all_values(&resp.headers, ub, b"cache-control").any(|v| list_has(v, b"no-transform"))
        {
            return none;
        }
        let media_type = match field(b"content-type") {
            Some(v) => v
                .split(|&c| c == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii(),
            None => return none,
        };
        let len = match resp.framing {
            ResponseFraming::Length(n) => Some(n),
            _ => None,
        };
        let gzip = self.gzip.as_ref().filter(|c| c.fits(media_type, len));
        let brotli = self.brotli.as_ref().filter(|c| c.fits(media_type, len));
        let zstd = self.zstd.as_ref().filter(|c| c.fits(media_type, len));
        if gzip.is_none() && brotli.is_none() && zstd.is_none() {
            return none;
        }
        let vary = self.vary;
        let refused = Decision { vary, ..none };
        if (req.http10 && !self.http10) || self.disabled(req) || !self.proxied_ok(req, resp, ub) {
            return refused;
        }
        let mut accept = super::AcceptEncoding::default();
        for v in all_values(req.headers, req.buf, b"accept-encoding") {
            let a = parse_accept_encoding(v);
            accept.gzip = accept.gzip.max(a.gzip);
            accept.br = accept.br.max(a.br);
            accept.zstd = accept.zstd.max(a.zstd);
        }
        // The highest q-value wins; a tie goes to zstd, then br, then gzip. Browsers offer all
        // three at q=1, so with br first an operator's `zstd on` beside `brotli on` would never
        // be used; br before gzip: it compresses text better at a similar cost.
        let offers = [
            (zstd, accept.zstd, Coding::Zstd),
            (brotli, accept.br, Coding::Brotli),
            (gzip, accept.gzip, Coding::Gzip),
        ];
        let mut chosen: Option<(Coding, u32)> = None;
        let mut best = 0;
        for (policy, q, coding) in offers {
            if let (Some(p), Some(q)) = (policy, q)
                && q > best
            {
                best = q;
                chosen = Some((coding, p.level));
            }
        }
        match chosen {
            // A compressed answer always says it varies, whatever gzip_vary says: a shared
            // cache must not hand it to a client that did not ask for it.
            Some((coding, level)) => Decision {
                coding: Some(coding),
                vary: true,
                level,
            },
            None => refused,
        }
    }

    /// `gzip_disable`: the User-Agent matches one of the regexes (or is MSIE 4–6 for `msie6`).
    fn disabled(&self, req: &RequestView<'_>) -> bool {
        if self.disable.is_empty() && !self.disable_msie6 {
            return false;
        }
        let Some(ua) = first(req.headers, req.buf, b"user-agent") else {
            return false;
        };
        (self.disable_msie6 && is_msie6(ua)) || self.disable.iter().any(|re| re.is_match(ua))
    }

    /// `gzip_proxied`: a request that came through a proxy (it has `Via`), judged as nginx's
    /// `ngx_http_gzip_ok` does, step by step: `any`; `auth` with `Authorization`; a response
    /// with `Expires` only under `expired` and when it is past; one with `Cache-Control` only
    /// when a listed `no-cache`/`no-store`/`private` is in it; otherwise refused by
    /// `no_last_modified` with a `Last-Modified`, `no_etag` with an `ETag`, else compressed.
    fn proxied_ok(&self, req: &RequestView<'_>, resp: &ResponseHead, ub: &[u8]) -> bool {
        if first(req.headers, req.buf, b"via").is_none() {
            return true;
        }
        let p = &self.proxied;
        if *p == Proxied::default() {
            return false;
        }
        if p.any || (p.auth && first(req.headers, req.buf, b"authorization").is_some()) {
            return true;
        }
        let field = |name: &[u8]| first(&resp.headers, ub, name);
        if let Some(e) = field(b"expires") {
            return p.expired && expired(e, field(b"date"));
        }
        if field(b"cache-control").is_some() {
            let cc =
                |t: &[u8]| all_values(&resp.headers, ub, b"cache-control").any(|v| list_has(v, t));
            return (p.no_cache && cc(b"no-cache"))
                || (p.no_store && cc(b"no-store"))
                || (p.private && cc(b"private"));
        }
        let refused = (p.no_last_modified && field(b"last-modified").is_some())
            || (p.no_etag && field(b"etag").is_some());
        !refused
    }
}

/// `Expires` before the response's `Date` (else now): nginx's `expired`. An unreadable
/// `Expires` is not expired (nginx declines).
fn expired(expires: &[u8], date: Option<&[u8]>) -> bool {
    let parse = |v: &[u8]| {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| httpdate::parse_http_date(s.trim()).ok())
    };
    let Some(e) = parse(expires) else {
        return false;
    };
    let now = date.and_then(parse).unwrap_or_else(SystemTime::now);
    e < now
}

/// nginx's `msie6`: `MSIE 4.`–`MSIE 6.` without `SV1` (which fixed the bug).
fn is_msie6(ua: &[u8]) -> bool {
    let Some(at) = ua.windows(5).position(|w| w == b"MSIE ") else {
        return false;
    };
    let v = &ua[at + 5..];
    matches!(v, [b'4'..=b'6', b'.', ..]) && !ua.windows(3).any(|w| w == b"SV1")
}

/// The first value of the field `name`.
fn first<'b>(fields: &[HeaderSpan], b: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
    fields
        .iter()
        .find(|f| f.name.get(b).eq_ignore_ascii_case(name))
        .map(|f| f.value.get(b))
}

/// Every value of the field `name`, in order.
fn all_values<'b>(
    fields: &'b [HeaderSpan],
    b: &'b [u8],
    name: &'b [u8],
) -> impl Iterator<Item = &'b [u8]> + 'b {
    fields
        .iter()
        .filter(move |f| f.name.get(b).eq_ignore_ascii_case(name))
        .map(move |f| f.value.get(b))
}

/// The comma list `v` has the directive `token` (`no-cache`, `private="x"`).
fn list_has(v: &[u8], token: &[u8]) -> bool {
    v.split(|&c| c == b',').any(|item| {
        let name = item.split(|&c| c == b'=').next().unwrap_or_default();
        name.trim_ascii().eq_ignore_ascii_case(token)
    })
}
