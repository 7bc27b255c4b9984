//! The typed config model: what the nginx-syntax front end produces and what `route::compile`
//! turns into per-shard runtime state. Inheritance (http → server → location) is already resolved
//! here: every `Location` carries its complete, effective settings, so nothing downstream needs to
//! know how the file was written.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::htpasswd::Htpasswd;

#[derive(Debug, Clone)]
pub struct Config {
    /// The main file the config was read from (reload re-reads it).
    pub source: PathBuf,
    /// `acme_issuer` blocks and the servers' `acme_certificate`s.
    pub acme: crate::config::acme::Acme,
    /// `worker_processes N` (None for `auto` or absent: one per online core).
    pub workers: Option<usize>,
    /// `worker_shutdown_timeout`: how long a graceful stop waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// `pid FILE` (used by `-s reload|stop|quit`).
    pub pid_file: Option<PathBuf>,
    pub upstreams: Vec<Upstream>,
    pub servers: Vec<Server>,
    /// `resolver …` at http level: the DNS servers that re-resolve upstream `resolve` servers.
    pub resolver: Option<Resolver>,
    /// Names (without `$`) of every variable an `auth_request_set` declares: like nginx's
    /// variables they are known config-wide, so any template may use them.
    pub auth_vars: Vec<String>,
    /// `worker_connections N` (events): most client connections one shard serves at once.
    pub worker_connections: Option<usize>,
    /// `max_connections N` (events, a ringway extension): most client connections over all
    /// shards together.
    pub max_connections: Option<usize>,
    /// `io_uring_entries` / `io_uring_sqpoll` / `io_uring_sqpoll_idle` (events, ringway
    /// extensions): how each shard's ring is set up. Read at start; a reload keeps the running
    /// rings (and says so when these changed).
    pub uring: UringSetup,
    /// `limit_req_zone` and `limit_conn_zone` (http level).
    pub limit_zones: Vec<super::LimitZone>,
    /// `proxy_cache_path` zones (http level), in file order.
    pub cache_zones: Vec<super::cache::CacheZone>,
    /// One line per accepted-but-ignored directive (`user`, `sendfile`, ...), shown by `-t`.
    pub notices: Vec<String>,
    /// Every file an `access_log` names, once per path (`AccessLog::file` indexes it).
    pub log_files: Vec<LogFile>,
    /// The `log_format`s defined (`combined`, predefined, is not among them), for `-T`.
    pub log_formats: Vec<Arc<crate::observe::format::LogFormat>>,
    /// `error_log` at main level (None: ringway's own stderr log, `RINGWAY_LOG`).
    pub error_log: Option<ErrorLog>,
}

/// One `access_log` line in force at a level.
#[derive(Debug, Clone)]
pub struct AccessLog {
    /// Index into `Config::log_files`.
    pub file: usize,
    pub format: Arc<crate::observe::format::LogFormat>,
    /// `if=COND`: the line is skipped when COND renders empty or "0".
    pub cond: Option<Arc<crate::observe::format::LogFormat>>,
}

/// An access log file: the path and its buffering, shared by every `access_log` naming it.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// Absolute (a relative path starts at the main file's folder).
    pub path: PathBuf,
    /// `file:line:col` of the first `access_log` naming it (for errors opening it).
    pub at: String,
    /// `buffer=SIZE` (0: each event-loop turn's lines are written at its end).
    pub buffer: usize,
    /// `flush=TIME`: most time a buffered line waits.
    pub flush: Duration,
    /// The file, opened by the main thread when the config is loaded (`observe::files`).
    pub fd: Option<Arc<std::os::fd::OwnedFd>>,
}

/// `error_log FILE|stderr [LEVEL]` at main level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLog {
    /// None: stderr.
    pub path: Option<PathBuf>,
    pub level: ErrorLevel,
    /// `file:line:col` of the directive.
    pub at: String,
}

/// nginx's error log levels, most verbose first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorLevel {
    Debug,
    Info,
    Notice,
    Warn,
    Error,
    Crit,
    Alert,
    Emerg,
}

impl ErrorLevel {
    pub const NAMES: [&'static str; 8] = [
        "debug", "info", "notice", "warn", "error", "crit", "alert", "emerg",
    ];
    const ALL: [ErrorLevel; 8] = [
        ErrorLevel::Debug,
        ErrorLevel::Info,
        ErrorLevel::Notice,
        ErrorLevel::Warn,
        ErrorLevel::Error,
        ErrorLevel::Crit,
        ErrorLevel::Alert,
        ErrorLevel::Emerg,
    ];

    pub fn parse(s: &str) -> Option<ErrorLevel> {
        let i = Self::NAMES.iter().position(|n| *n == s)?;
        Some(Self::ALL[i])
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// A shard's io_uring ring, as the `events` block sets it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UringSetup {
    /// Submission queue entries (a power of two, at most 32768); completions get twice as many.
    pub entries: u32,
    /// A kernel thread per ring polls the submission queue (IORING_SETUP_SQPOLL), so a busy
    /// shard submits without `io_uring_enter`.
    pub sqpoll: bool,
    /// How long that thread keeps polling an idle ring before it sleeps.
    pub sqpoll_idle: Duration,
}

impl Default for UringSetup {
    fn default() -> UringSetup {
        UringSetup {
            entries: 4096,
            sqpoll: false,
            // The kernel's own default (sq_thread_idle 0 means one second).
            sqpoll_idle: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BalanceMethod {
    #[default]
    RoundRobin,
    LeastConn,
    IpHash,
    Hash {
        consistent: bool,
    },
    Random {
        two: bool,
        least_conn: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub name: String,
    pub method: BalanceMethod,
    /// For `hash KEY`: the raw key template text.
    pub hash_key: Option<String>,
    pub servers: Vec<UpstreamServer>,
    /// `keepalive N`: idle connections kept per shard (0 = no pooling).
    pub keepalive: usize,
    pub keepalive_timeout: Duration,
    pub keepalive_requests: u64,
    /// `health_check …` (active checks, an nginx Plus / HAProxy feature).
    pub health_check: Option<HealthCheck>,
    /// `queue N [timeout=T]`: requests that find every server at `max_conns` wait (per shard).
    pub queue: Option<(usize, Duration)>,
}

/// `health_check [interval=T] [fails=N] [passes=N] [uri=PATH] [match_status=LO-HI] [timeout=T]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub interval: Duration,
    /// Consecutive failed probes that take a server out.
    pub fails: u32,
    /// Consecutive passed probes that bring it back.
    pub passes: u32,
    pub uri: String,
    /// Statuses that pass, inclusive.
    pub status_lo: u16,
    pub status_hi: u16,
    pub timeout: Duration,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            interval: Duration::from_secs(5),
            fails: 1,
            passes: 1,
            uri: "/".into(),
            status_lo: 200,
            status_hi: 399,
            timeout: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone)]
pub struct UpstreamServer {
    /// `host:port` as written (a hostname is resolved at start/reload).
    pub addr: String,
    pub weight: u32,
    pub max_fails: u32,
    pub fail_timeout: Duration,
    pub backup: bool,
    pub down: bool,
    /// `max_conns=N`: most simultaneous connections to this server (0 = no limit).
    pub max_conns: u32,
    /// `resolve`: the host is looked up periodically through the `resolver`, and every address
    /// it has becomes one server with this line's parameters (DNS-based discovery).
    pub resolve: bool,
}

/// `resolver ADDR… [valid=T] [ipv4=on|off] [ipv6=on|off]` plus `resolver_timeout T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolver {
    /// DNS servers, tried in order (port 53 unless written).
    pub addrs: Vec<SocketAddr>,
    /// `valid=T`: re-resolve period; None: the answer's TTL (at least 1 s).
    pub valid: Option<Duration>,
    /// Ask for A records (`ipv4=off` turns it off).
    pub ipv4: bool,
    /// Ask for AAAA records (nginx's default `ipv6=on`).
    pub ipv6: bool,
    /// `resolver_timeout`: how long one query waits for an answer.
    pub timeout: Duration,
}

/// ringway's `resolver_timeout` default (nginx: 30 s; shorter so one dead DNS server does not
/// hold up the refresh of every other name for long).
pub const DEFAULT_RESOLVER_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Listen {
    pub addr: SocketAddr,
    pub default_server: bool,
    pub backlog: i32,
    /// `listen ... deferred`: TCP_DEFER_ACCEPT on the socket (shared by every server on it).
    pub deferred: bool,
    /// `listen ... ssl`: connections on this address start with a TLS handshake (every server
    /// on an address must agree, as nginx requires).
    pub ssl: bool,
    /// `listen ... http2` (nginx before 1.25): HTTP/2 on this address for every server on it.
    pub http2: bool,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: Vec<Listen>,
    /// As written: exact names, `*.example.com`, `example.*`, `~regex`, `_`, or "".
    pub server_names: Vec<String>,
    pub locations: Vec<Location>,
    /// Settings for requests that match no location (nginx answers them 404).
    pub settings: Settings,
    /// `return` / `rewrite` at server level, applied before location matching.
    pub rewrites: Vec<Rewrite>,
    pub server_return: Option<Return>,
    /// `ssl_*` (used when one of `listen` has `ssl`).
    pub tls: super::tls::ServerTls,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationMatch {
    /// `location /path`
    Prefix(String),
    /// `location = /path`
    Exact(String),
    /// `location ^~ /path`
    PrefixNoRegex(String),
    /// `location ~ re` / `location ~* re`
    Regex {
        pattern: String,
        case_insensitive: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Location {
    pub matcher: LocationMatch,
    pub action: Action,
    pub settings: Settings,
    pub rewrites: Vec<Rewrite>,
    pub locations: Vec<Location>,
    /// `internal`: only auth_request subrequests and rewrites may land here; a client's own
    /// request gets 404.
    pub internal: bool,
}

#[derive(Debug, Clone)]
pub enum Action {
    Proxy(ProxyPass),
    Return(Return),
    /// Answered by ringway itself: `ringway_metrics`, `stub_status`, `ringway_status`.
    Builtin(Builtin),
    /// No content handler: nginx would serve files; ringway answers 404.
    None,
}

/// The answers ringway makes from its own counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `ringway_metrics;`: Prometheus text.
    Metrics,
    /// `stub_status;`: nginx's stub_status text.
    StubStatus,
    /// `ringway_status;`: the live HTML status page (and its JSON view).
    StatusPage,
}

impl Builtin {
    /// The directive that asks for it.
    pub fn directive(self) -> &'static str {
        match self {
            Builtin::Metrics => "ringway_metrics",
            Builtin::StubStatus => "stub_status",
            Builtin::StatusPage => "ringway_status",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProxyPass {
    /// The URL as written (`http://app/v1/`): `proxy_redirect default` rewrites redirects
    /// that start with it.
    pub url: String,
    /// `upstream` name or `host:port` (port defaulted from the scheme).
    pub target: String,
    /// True when `target` names an `upstream` block.
    pub is_upstream: bool,
    /// `https://`: the upstream connection speaks TLS (the location's `proxy_ssl_*`).
    pub tls: bool,
    /// The URI part after the authority (`proxy_pass http://users/;` → Some("/")), None if absent.
    pub uri: Option<String>,
}

/// One `proxy_redirect` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectRule {
    /// `default`: the `proxy_pass` URL replaced by the location's prefix.
    Default,
    /// `REDIRECT REPLACEMENT`: a prefix (variables allowed) or, with `~`/`~*`, a regex.
    Rule {
        pattern: String,
        regex: Option<RedirectRegex>,
        replacement: String,
    },
}

/// A `~` (case-sensitive) or `~*` pattern of `proxy_redirect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRegex {
    pub source: String,
    pub case_insensitive: bool,
}

#[derive(Debug, Clone)]
pub struct Return {
    pub code: u16,
    /// Body text for non-redirect codes, URL for 301/302/303/307/308 (may hold variables).
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteFlag {
    Last,
    Break,
    Redirect,
    Permanent,
    None,
}

#[derive(Debug, Clone)]
pub struct Rewrite {
    pub regex: String,
    pub replacement: String,
    pub flag: RewriteFlag,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddHeader {
    pub name: String,
    pub value: String,
    pub always: bool,
}

/// `auth_basic_user_file`: the path as written and the entries read from it when the config was
/// loaded (nginx reads the file on every request; ringway at load and reload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFile {
    pub path: String,
    pub users: Arc<Htpasswd>,
}

/// An address with a prefix length (`10.0.0.0/8`, `2001:db8::/32`; a bare address is /32 or
/// /128). Host bits below the prefix are already cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// One `allow` / `deny` line; `net` None is `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRule {
    pub deny: bool,
    pub net: Option<Cidr>,
}

/// `set_real_ip_from`, `real_ip_header`, `real_ip_recursive` (ngx_http_realip_module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealIp {
    /// Trusted peers: only their header is believed. Empty: the module is off.
    pub from: Vec<Cidr>,
    /// The header as written (`X-Real-IP` by default).
    pub header: String,
    pub recursive: bool,
}

impl Default for RealIp {
    fn default() -> Self {
        RealIp {
            from: Vec::new(),
            header: "X-Real-IP".into(),
            recursive: false,
        }
    }
}

/// Effective per-location settings after nginx's inheritance rules.
/// `lingering_close off|on|always`: whether a connection ringway closes first keeps reading
/// (and discarding) what its client still sends, so that the kernel does not answer those bytes
/// with a reset, which can destroy the answer before the client reads it (nginx's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LingeringClose {
    Off,
    /// When the client may still be sending: the request declared a body, or its head was
    /// refused.
    On,
    Always,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lingering {
    pub close: LingeringClose,
    /// `lingering_time`: the longest a connection reads on.
    pub time: Duration,
    /// `lingering_timeout`: the longest wait for the client's next bytes.
    pub timeout: Duration,
}

impl Default for Lingering {
    fn default() -> Self {
        Lingering {
            close: LingeringClose::On,
            time: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `proxy_set_header`: (name, value template). An empty value removes the field (nginx's rule).
    /// nginx's rule: a level that sets any replaces the whole inherited list.
    pub proxy_set_header: Vec<(String, String)>,
    pub proxy_hide_header: Vec<String>,
    pub proxy_pass_header: Vec<String>,
    pub add_header: Vec<AddHeader>,
    /// `proxy_http_version 1.0|1.1` (ringway defaults to 1.1 so upstream keep-alive works).
    pub proxy_http_version_11: bool,
    pub proxy_connect_timeout: Duration,
    pub proxy_read_timeout: Duration,
    pub proxy_send_timeout: Duration,
    /// `send_timeout`: most time between two successful writes to the client.
    pub send_timeout: Duration,
    /// `lingering_close`, `lingering_time`, `lingering_timeout`: reading on after the answer
    /// when a closing client may still be sending.
    pub lingering: Lingering,
    /// 0 = unlimited.
    pub client_max_body_size: u64,
    pub client_header_timeout: Duration,
    pub client_body_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub keepalive_requests: u64,
    /// Largest request line + headers accepted (from `large_client_header_buffers`: NUMBER ×
    /// SIZE; nginx's default `4 8k`, 32 KiB).
    pub max_header_size: usize,
    /// The size of one `large_client_header_buffers` buffer (8 KiB by default): the request
    /// line (longer → 414) and each field line (longer → 400) must fit one, CRLF included.
    pub max_request_line: usize,
    /// ringway extension `proxy_add_via on|off` (RFC 9110 §7.6.3), default on.
    pub via: bool,
    /// `proxy_redirect` rules in order; empty: `off`. Default: `default`.
    pub proxy_redirect: Vec<RedirectRule>,
    /// `proxy_next_upstream` raw tokens (interpreted by the balancing issue).
    pub proxy_next_upstream: Vec<String>,
    /// `proxy_next_upstream_tries N` (0 = no limit).
    pub proxy_next_upstream_tries: u32,
    /// `proxy_next_upstream_timeout T` (zero = no limit).
    pub proxy_next_upstream_timeout: Duration,
    /// `auth_basic "realm"` (None: `off`). Checked only together with a user file, as nginx.
    pub auth_basic: Option<String>,
    pub auth_basic_user_file: Option<UserFile>,
    /// `auth_request URI` (None: `off`).
    pub auth_request: Option<String>,
    /// `auth_request_set $name VALUE`: (name without `$`, value template text).
    pub auth_request_set: Vec<(String, String)>,
    /// `proxy_pass_request_body on|off` (off only in `internal` locations).
    pub proxy_pass_request_body: bool,
    /// `allow` / `deny` in order (first match wins); a level with any replaces the inherited list.
    pub access: Vec<AccessRule>,
    pub realip: RealIp,
    /// `limit_req*` and `limit_conn*`.
    pub limits: super::Limits,
    /// `proxy_cache*`, `proxy_no_cache`, `proxy_ignore_headers`.
    pub cache: super::cache::CacheSettings,
    /// `gzip*` and `brotli*`.
    pub compress: super::compress::CompressSettings,
    /// `http2*` (http and server level; locations inherit them).
    pub http2: super::http2::Http2Settings,
    /// `proxy_ssl_*`: how `proxy_pass https://` connects.
    pub proxy_ssl: super::tls::ProxyTls,
    /// `access_log` lines in force (empty: `off`, or none configured anywhere).
    pub access_log: Vec<AccessLog>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            proxy_set_header: Vec::new(),
            proxy_hide_header: Vec::new(),
            proxy_pass_header: Vec::new(),
            add_header: Vec::new(),
            proxy_http_version_11: true,
            proxy_connect_timeout: Duration::from_secs(60),
            proxy_read_timeout: Duration::from_secs(60),
            proxy_send_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            lingering: Lingering::default(),
            client_max_body_size: 1024 * 1024,
            client_header_timeout: Duration::from_secs(60),
            client_body_timeout: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(75),
            keepalive_requests: 1000,
            max_header_size: 4 * 8 * 1024,
            max_request_line: 8 * 1024,
            via: true,
            proxy_redirect: vec![RedirectRule::Default],
            proxy_next_upstream: vec!["error".into(), "timeout".into()],
            proxy_next_upstream_tries: 0,
            proxy_next_upstream_timeout: Duration::ZERO,
            auth_basic: None,
            auth_basic_user_file: None,
            auth_request: None,
            auth_request_set: Vec::new(),
            proxy_pass_request_body: true,
            access: Vec::new(),
            realip: RealIp::default(),
            limits: super::Limits::default(),
            cache: super::cache::CacheSettings::default(),
            compress: Default::default(),
            http2: Default::default(),
            proxy_ssl: super::tls::ProxyTls::default(),
            access_log: Vec::new(),
        }
    }
}
