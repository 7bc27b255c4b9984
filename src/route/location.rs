//! Location matching with nginx's order: `=` exact, then the longest prefix (`^~` stops there),
//! then regular expressions in config order, falling back to the longest prefix.

use std::rc::Rc;

use rustc_hash::FxHashMap;
use std::time::Duration;

use super::Template;
use crate::http::rewrite::NameSet;

/// How the request URI is rewritten for the upstream (`proxy_pass http://up/new/;`).
#[derive(Debug, Clone)]
pub struct UriRewrite {
    /// Bytes of the matched location prefix replaced by `replacement`.
    pub strip: usize,
    pub replacement: Box<[u8]>,
}

#[derive(Debug, Clone)]
pub enum Action {
    Proxy {
        /// Index into the shard's upstream groups.
        upstream: usize,
        uri: Option<UriRewrite>,
        /// `$proxy_host`: the group name or `host:port` from `proxy_pass`.
        proxy_host: Box<[u8]>,
    },
    Return {
        code: u16,
        text: Template,
    },
    /// An answer from ringway's own counters (metrics, stub_status, the status page).
    Builtin(crate::config::Builtin),
    NotFound,
}

#[derive(Debug, Clone)]
pub struct SetHeader {
    /// As the operator wrote it (sent with this spelling).
    pub name: Box<[u8]>,
    pub value: Template,
}

#[derive(Debug, Clone)]
pub struct AddHeader {
    pub name: Box<[u8]>,
    pub value: Template,
    pub always: bool,
}

/// One `proxy_redirect` rule: a redirect target the upstream sends (`Location`, `Refresh`)
/// that matches `pattern` is rewritten to `replacement`.
#[derive(Debug, Clone)]
pub struct ProxyRedirect {
    pub pattern: RedirectPattern,
    pub replacement: Template,
}

#[derive(Debug, Clone)]
pub enum RedirectPattern {
    /// The target starts with this text (variables allowed): that prefix is replaced.
    Prefix(Template),
    /// `~` / `~*`: the target matches; the whole of it is replaced (captures available).
    Regex(regex::bytes::Regex),
}

/// `proxy_next_upstream`: which failures move a request to the next server, and the limits.
#[derive(Debug, Clone, Copy, Default)]
pub struct NextUpstream {
    /// `NU_*` bits.
    pub on: u16,
    /// 0 = no limit.
    pub tries: u32,
    /// Zero = no limit.
    pub timeout: Duration,
}

pub const NU_ERROR: u16 = 1;
pub const NU_TIMEOUT: u16 = 1 << 1;
pub const NU_INVALID_HEADER: u16 = 1 << 2;
pub const NU_500: u16 = 1 << 3;
pub const NU_502: u16 = 1 << 4;
pub const NU_503: u16 = 1 << 5;
pub const NU_504: u16 = 1 << 6;
pub const NU_403: u16 = 1 << 7;
pub const NU_404: u16 = 1 << 8;
pub const NU_429: u16 = 1 << 9;
pub const NU_NON_IDEMPOTENT: u16 = 1 << 10;

impl NextUpstream {
    /// The bit for an upstream status, if `proxy_next_upstream` can name it.
    pub fn status_bit(status: u16) -> Option<u16> {
        Some(match status {
            500 => NU_500,
            502 => NU_502,
            503 => NU_503,
            504 => NU_504,
            403 => NU_403,
            404 => NU_404,
            429 => NU_429,
            _ => return None,
        })
    }

    /// nginx: these statuses count against `max_fails` only when listed; 403/404 never.
    pub fn status_is_failure(status: u16) -> bool {
        matches!(status, 500 | 502 | 503 | 504 | 429)
    }
}

/// Everything the data path needs for one location, precomputed.
#[derive(Debug)]
pub struct Location {
    pub name: String,
    pub action: Action,
    /// `rewrite`s run when the request lands here.
    pub rewrites: Vec<super::Rewrite>,
    pub set_headers: Vec<SetHeader>,
    /// Lower-case names of every configured `proxy_set_header` (the client's fields of these
    /// names are not copied, even when the configured value is empty and so sends nothing).
    pub replace: NameSet,
    /// Lower-case `proxy_hide_header` names.
    pub hide: NameSet,
    /// `proxy_redirect` rules in config order (empty: `off`, or nothing proxied here).
    pub redirects: Vec<ProxyRedirect>,
    pub add_headers: Vec<AddHeader>,
    pub http11: bool,
    pub via: bool,
    pub client_max_body_size: u64,
    pub client_header_timeout: Duration,
    pub client_body_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub keepalive_requests: u64,
    /// `large_client_header_buffers` NUMBER × SIZE: the largest request head.
    pub max_header_size: usize,
    /// `large_client_header_buffers` SIZE: the longest request line and field line.
    pub max_request_line: usize,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// `proxy_send_timeout`: writes to the upstream.
    pub send_timeout: Duration,
    /// `send_timeout`: writes to the client.
    pub client_send_timeout: Duration,
    /// `lingering_*`: reading on when ringway closes while the client may still be sending.
    pub lingering: crate::config::Lingering,
    pub next_upstream: NextUpstream,
    /// `auth_basic` with a user file (None: no check).
    pub auth_basic: Option<crate::access::auth_basic::AuthBasic>,
    /// `auth_request` (None: no subrequest).
    pub auth_request: Option<crate::access::auth_request::AuthRequest>,
    /// `internal`: a client's own request routed here gets 404.
    pub internal: bool,
    /// `allow` / `deny`.
    pub access: crate::access::rules::Rules,
    /// `set_real_ip_from` & co., None when no proxy is trusted.
    pub realip: Option<crate::access::realip::RealIp>,
    /// `limit_conn` / `limit_req` (the access step).
    pub limits: crate::access::LocationLimits,
    /// `http2*`: read from the listener's default server (h2c, limits) and the server SNI chose.
    pub http2: crate::config::http2::Http2Settings,
    /// `gzip*` / `brotli*` (None: both off).
    pub compress: Option<Box<crate::compress::Policy>>,
    /// `proxy_cache` (None: `off`).
    pub cache: Option<crate::cache::settings::LocCache>,
    /// This location's counters (attached by the shard's metrics registry).
    pub stats: crate::observe::metrics::counters::Slot<crate::observe::metrics::counters::LocStats>,
    /// `access_log` lines in force (empty: none).
    pub access_log: Rc<[crate::config::AccessLog]>,
}

pub(super) struct PrefixEntry {
    pub prefix: Box<[u8]>,
    pub no_regex: bool,
    pub loc: Rc<Location>,
    /// Regex locations nested inside this prefix location: tried before the outer ones.
    pub nested_regex: Vec<RegexEntry>,
    /// The prefix location this one is nested in (its nested regexes apply here too).
    pub parent: Option<usize>,
}

pub(super) struct RegexEntry {
    pub re: regex::bytes::Regex,
    pub loc: Rc<Location>,
}

/// A byte trie over location prefixes: one walk along the path finds the longest prefix, in
/// time bounded by the path's length whatever the number of locations.
#[derive(Default)]
pub(super) struct PrefixTrie {
    nodes: Vec<TrieNode>,
}

#[derive(Default)]
struct TrieNode {
    /// Sorted by byte for binary search.
    children: Vec<(u8, u32)>,
    /// Index into `LocationTable::prefixes` of the location ending here.
    entry: Option<u32>,
}

impl PrefixTrie {
    pub(super) fn insert(&mut self, prefix: &[u8], entry: usize) {
        if self.nodes.is_empty() {
            self.nodes.push(TrieNode::default());
        }
        let mut at = 0usize;
        for &c in prefix {
            let node = &self.nodes[at];
            at = match node.children.binary_search_by_key(&c, |&(b, _)| b) {
                Ok(i) => node.children[i].1 as usize,
                Err(i) => {
                    let new = self.nodes.len();
                    self.nodes[at].children.insert(i, (c, new as u32));
                    self.nodes.push(TrieNode::default());
                    new
                }
            };
        }
        // The first of duplicate prefixes wins (the config front end rejects duplicates).
        if self.nodes[at].entry.is_none() {
            self.nodes[at].entry = Some(entry as u32);
        }
    }

    fn longest(&self, path: &[u8]) -> Option<usize> {
        let mut node = self.nodes.first()?;
        let mut best = node.entry;
        for &c in path {
            match node.children.binary_search_by_key(&c, |&(b, _)| b) {
                Ok(i) => node = &self.nodes[node.children[i].1 as usize],
                Err(_) => break,
            }
            if node.entry.is_some() {
                best = node.entry;
            }
        }
        best.map(|e| e as usize)
    }
}

/// One server's locations, compiled.
#[derive(Default)]
pub struct LocationTable {
    pub(super) exact: FxHashMap<Box<[u8]>, Rc<Location>>,
    pub(super) prefixes: Vec<PrefixEntry>,
    pub(super) trie: PrefixTrie,
    pub(super) regexes: Vec<RegexEntry>,
    /// Used when nothing matches (nginx answers 404 there).
    pub(super) fallback: Option<Rc<Location>>,
}

impl LocationTable {
    /// The server-level settings (used before a request is routed, and when nothing matches).
    pub fn fallback(&self) -> Option<&Rc<Location>> {
        self.fallback.as_ref()
    }

    /// Every location of the table (one that is reachable two ways may come twice).
    pub fn all(&self) -> impl Iterator<Item = &Rc<Location>> {
        let nested = self.prefixes.iter().flat_map(|p| &p.nested_regex);
        self.exact
            .values()
            .chain(self.prefixes.iter().map(|p| &p.loc))
            .chain(nested.chain(&self.regexes).map(|r| &r.loc))
            .chain(&self.fallback)
    }

    /// `path` is the request path without the query string.
    pub fn find(&self, path: &[u8]) -> Option<&Rc<Location>> {
        if let Some(l) = self.exact.get(path) {
            return Some(l);
        }
        let prefix = self.trie.longest(path).map(|i| &self.prefixes[i]);
        if let Some(p) = prefix {
            if p.no_regex {
                return Some(&p.loc);
            }
            // Regexes nested in the matched prefix, then in each enclosing one, innermost first.
            let mut at = Some(p);
            while let Some(e) = at {
                if let Some(r) = e.nested_regex.iter().find(|r| r.re.is_match(path)) {
                    return Some(&r.loc);
                }
                at = e.parent.map(|i| &self.prefixes[i]);
            }
        }
        if let Some(r) = self.regexes.iter().find(|r| r.re.is_match(path)) {
            return Some(&r.loc);
        }
        prefix.map(|p| &p.loc).or(self.fallback.as_ref())
    }
}
