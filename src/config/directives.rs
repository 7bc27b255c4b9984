//! Every directive name ringway knows: where it may stand, whether it takes a block, how many
//! arguments, and what ringway does with it (honours it, accepts it with a notice, or refuses it
//! because honouring it is not implemented yet).

/// Contexts, as bits.
pub(crate) const MAIN: u8 = 1;
pub(crate) const EVENTS: u8 = 2;
pub(crate) const HTTP: u8 = 4;
pub(crate) const SERVER: u8 = 8;
pub(crate) const LOCATION: u8 = 16;
pub(crate) const UPSTREAM: u8 = 32;

const HSL: u8 = HTTP | SERVER | LOCATION;
const HS: u8 = HTTP | SERVER;
const SL: u8 = SERVER | LOCATION;

/// Any number of arguments.
const N: u8 = u8::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Built into the model.
    Handled,
    /// Accepted; one notice line per use, with this reason.
    Notice(&'static str),
    /// Refused with "is not supported yet" (it would change how requests are handled).
    Unsupported,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    pub name: &'static str,
    pub ctx: u8,
    pub block: bool,
    pub min: u8,
    pub max: u8,
    pub kind: Kind,
}

const PROCESS: &str = "process matter in nginx, no effect in ringway";
const EVENTS_R: &str = "event loop tuning in nginx; ringway runs one io_uring shard per core";
const LOG: &str = "ringway's logs have no such events or settings";
const FILES: &str = "file-serving matter; ringway serves no files";
const SOCKET: &str = "socket tuning; ringway sets its sockets itself";
const HASH: &str = "nginx hash-table sizing; ringway needs none";
const BUFFER: &str = "buffering tuning; ringway streams bodies with its own buffers";
const GZIP_BUFFERS: &str = "ringway sizes its own compression buffers";
const BROTLI_WINDOW: &str = "ringway's brotli window is at most 512k, sized to the body";
const TOKENS: &str = "ringway does not advertise a version";
const CHARSET: &str = "ringway passes Content-Type through unchanged";
const ZONE: &str = "each ringway shard keeps its own upstream state";
const NO_DHE: &str = "ringway offers no DHE cipher suites";
const STAPLE: &str = "ringway sends the ssl_stapling_file staple as it is";
const OCSP: &str = "ringway never fetches OCSP responses; use ssl_stapling_file";
const H2_OBSOLETE: &str = "obsolete since nginx 1.19.7: keepalive_timeout, keepalive_requests and \
     large_client_header_buffers apply to HTTP/2";
const H2_RECV: &str = "ringway reads each HTTP/2 connection into the shard's pooled 32k buffers";
const H2_PUSH: &str =
    "ringway sends no HTTP/2 server push (nginx 1.25.1 removed it; browsers ignore it)";
const ACME_ZONE: &str = "ringway keeps ACME state in its ACME threads and under state_path; \
     certificates reach the shards by reload, HTTP-01 tokens through a table only challenge \
     requests read";
const CERT_CACHE: &str = "ringway reads certificates when the config is loaded or reloaded";

const fn h(name: &'static str, ctx: u8, min: u8, max: u8) -> Spec {
    Spec {
        name,
        ctx,
        block: false,
        min,
        max,
        kind: Kind::Handled,
    }
}

const fn hb(name: &'static str, ctx: u8, min: u8, max: u8) -> Spec {
    Spec {
        name,
        ctx,
        block: true,
        min,
        max,
        kind: Kind::Handled,
    }
}

const fn n(name: &'static str, ctx: u8, min: u8, max: u8, why: &'static str) -> Spec {
    Spec {
        name,
        ctx,
        block: false,
        min,
        max,
        kind: Kind::Notice(why),
    }
}

const fn u(name: &'static str, ctx: u8) -> Spec {
    Spec {
        name,
        ctx,
        block: false,
        min: 0,
        max: N,
        kind: Kind::Unsupported,
    }
}

const fn ub(name: &'static str, ctx: u8) -> Spec {
    Spec {
        name,
        ctx,
        block: true,
        min: 0,
        max: N,
        kind: Kind::Unsupported,
    }
}

pub(crate) static SPECS: &[Spec] = &[
    // main
    h("worker_processes", MAIN, 1, 1),
    h("pid", MAIN, 1, 1),
    h("worker_shutdown_timeout", MAIN, 1, 1),
    hb("events", MAIN, 0, 0),
    hb("http", MAIN, 0, 0),
    n("user", MAIN, 1, 2, PROCESS),
    n("worker_rlimit_nofile", MAIN, 1, 1, PROCESS),
    n("worker_rlimit_core", MAIN, 1, 1, PROCESS),
    n("worker_cpu_affinity", MAIN, 1, N, PROCESS),
    n("worker_priority", MAIN, 1, 1, PROCESS),
    n("working_directory", MAIN, 1, 1, PROCESS),
    n("daemon", MAIN, 1, 1, PROCESS),
    n("master_process", MAIN, 1, 1, PROCESS),
    n("timer_resolution", MAIN, 1, 1, PROCESS),
    n("pcre_jit", MAIN, 1, 1, PROCESS),
    n("lock_file", MAIN, 1, 1, PROCESS),
    n("env", MAIN, 1, 1, PROCESS),
    n("thread_pool", MAIN, 1, 3, PROCESS),
    h("error_log", MAIN | HSL, 1, 2),
    u("load_module", MAIN),
    ub("stream", MAIN),
    ub("mail", MAIN),
    n("ssl_engine", MAIN, 1, 1, "ringway uses no OpenSSL engine"),
    // events
    h("worker_connections", EVENTS, 1, 1),
    h("max_connections", EVENTS, 1, 1),
    h("io_uring_entries", EVENTS, 1, 1),
    h("io_uring_sqpoll", EVENTS, 1, 1),
    h("io_uring_sqpoll_idle", EVENTS, 1, 1),
    n("use", EVENTS, 1, 1, EVENTS_R),
    n("multi_accept", EVENTS, 1, 1, EVENTS_R),
    n("accept_mutex", EVENTS, 1, 1, EVENTS_R),
    n("accept_mutex_delay", EVENTS, 1, 1, EVENTS_R),
    n("worker_aio_requests", EVENTS, 1, 1, EVENTS_R),
    n("debug_connection", EVENTS, 1, 1, LOG),
    // http structure
    hb("upstream", HTTP, 1, 1),
    hb("server", HTTP, 0, 0),
    hb("location", SL, 1, 2),
    // server
    h("listen", SERVER, 1, N),
    h("server_name", SERVER, 1, N),
    h("return", SL, 1, 2),
    h("rewrite", SL, 2, 3),
    // location
    h("proxy_pass", LOCATION, 1, 1),
    h("ringway_metrics", LOCATION, 0, 0),
    h("ringway_status", LOCATION, 0, 0),
    h("stub_status", LOCATION, 0, 1),
    // settings
    h("proxy_set_header", HSL, 2, 2),
    h("proxy_hide_header", HSL, 1, 1),
    h("proxy_pass_header", HSL, 1, 1),
    h("add_header", HSL, 2, 3),
    h("proxy_http_version", HSL, 1, 1),
    h("proxy_connect_timeout", HSL, 1, 1),
    h("proxy_read_timeout", HSL, 1, 1),
    h("proxy_send_timeout", HSL, 1, 1),
    h("send_timeout", HSL, 1, 1),
    h("lingering_close", HSL, 1, 1),
    h("lingering_time", HSL, 1, 1),
    h("lingering_timeout", HSL, 1, 1),
    h("client_max_body_size", HSL, 1, 1),
    h("client_header_timeout", HS, 1, 1),
    h("client_body_timeout", HSL, 1, 1),
    h("keepalive_timeout", HSL, 1, 2),
    h("keepalive_requests", HSL, 1, 1),
    h("large_client_header_buffers", HS, 2, 2),
    h("proxy_add_via", HSL, 1, 1),
    h("proxy_next_upstream", HSL, 1, N),
    h("proxy_next_upstream_tries", HSL, 1, 1),
    h("proxy_next_upstream_timeout", HSL, 1, 1),
    // upstream
    h("server", UPSTREAM, 1, N),
    h("keepalive", UPSTREAM, 1, 1),
    h("keepalive_timeout", UPSTREAM, 1, 1),
    h("keepalive_requests", UPSTREAM, 1, 1),
    h("least_conn", UPSTREAM, 0, 0),
    h("ip_hash", UPSTREAM, 0, 0),
    h("hash", UPSTREAM, 1, 2),
    h("random", UPSTREAM, 0, 2),
    n("zone", UPSTREAM, 1, 2, ZONE),
    u("ntlm", UPSTREAM),
    h("queue", UPSTREAM, 1, 2),
    u("sticky", UPSTREAM),
    // accepted with a notice in http/server/location
    n("sendfile", HSL, 1, 1, FILES),
    n("sendfile_max_chunk", HSL, 1, 1, FILES),
    n("tcp_nopush", HSL, 1, 1, SOCKET),
    n("tcp_nodelay", HSL, 1, 1, SOCKET),
    n("types_hash_max_size", HSL, 1, 1, HASH),
    n("types_hash_bucket_size", HSL, 1, 1, HASH),
    n("server_names_hash_max_size", HTTP, 1, 1, HASH),
    n("server_names_hash_bucket_size", HTTP, 1, 1, HASH),
    n("variables_hash_max_size", HTTP, 1, 1, HASH),
    n("variables_hash_bucket_size", HTTP, 1, 1, HASH),
    n("proxy_headers_hash_max_size", HSL, 1, 1, HASH),
    n("proxy_headers_hash_bucket_size", HSL, 1, 1, HASH),
    n("default_type", HSL, 1, 1, FILES),
    Spec {
        name: "types",
        ctx: HSL,
        block: true,
        min: 0,
        max: 0,
        kind: Kind::Notice(FILES),
    },
    // A notice where every location they reach proxies or returns; an error where nginx would
    // serve files with them (build/files.rs).
    h("root", HSL, 1, 1),
    h("index", HSL, 1, N),
    n("open_file_cache", HSL, 1, 2, FILES),
    n("open_file_cache_valid", HSL, 1, 1, FILES),
    n("open_file_cache_min_uses", HSL, 1, 1, FILES),
    n("open_file_cache_errors", HSL, 1, 1, FILES),
    n("aio", HSL, 1, 1, FILES),
    n("directio", HSL, 1, 1, FILES),
    n("output_buffers", HSL, 2, 2, BUFFER),
    n("postpone_output", HSL, 1, 1, BUFFER),
    h("access_log", HSL, 1, N),
    h("log_format", HTTP, 2, N),
    n(
        "open_log_file_cache",
        HSL,
        1,
        4,
        "ringway opens each access log once, when the config is loaded or logs are reopened",
    ),
    n("log_not_found", HSL, 1, 1, LOG),
    n("log_subrequest", HSL, 1, 1, LOG),
    n("rewrite_log", HSL, 1, 1, LOG),
    n("uninitialized_variable_warn", HSL, 1, 1, LOG),
    h("gzip", HSL, 1, 1),
    h("gzip_comp_level", HSL, 1, 1),
    h("gzip_types", HSL, 1, N),
    h("gzip_proxied", HSL, 1, N),
    h("gzip_vary", HSL, 1, 1),
    h("gzip_min_length", HSL, 1, 1),
    n("gzip_buffers", HSL, 2, 2, GZIP_BUFFERS),
    h("gzip_http_version", HSL, 1, 1),
    h("gzip_disable", HSL, 1, N),
    h("gzip_static", HSL, 1, 1),
    h("brotli", HSL, 1, 1),
    h("brotli_types", HSL, 1, N),
    h("brotli_comp_level", HSL, 1, 1),
    h("brotli_min_length", HSL, 1, 1),
    h("brotli_static", HSL, 1, 1),
    n("brotli_window", HSL, 1, 1, BROTLI_WINDOW),
    n("brotli_buffers", HSL, 2, 2, GZIP_BUFFERS),
    h("zstd", HSL, 1, 1),
    h("zstd_types", HSL, 1, N),
    h("zstd_comp_level", HSL, 1, 1),
    h("zstd_min_length", HSL, 1, 1),
    h("zstd_static", HSL, 1, 1),
    h("zstd_dict_file", HSL, 1, 1),
    n("zstd_buffers", HSL, 2, 2, GZIP_BUFFERS),
    n("server_tokens", HSL, 1, 1, TOKENS),
    n("charset", HSL, 1, 1, CHARSET),
    n("charset_types", HSL, 1, N, CHARSET),
    n("source_charset", HSL, 1, 1, CHARSET),
    n("client_body_buffer_size", HSL, 1, 1, BUFFER),
    n("client_header_buffer_size", HS, 1, 1, BUFFER),
    n("client_body_temp_path", HSL, 1, 4, BUFFER),
    n("proxy_buffering", HSL, 1, 1, BUFFER),
    n("proxy_request_buffering", HSL, 1, 1, BUFFER),
    n("proxy_buffer_size", HSL, 1, 1, BUFFER),
    n("proxy_buffers", HSL, 2, 2, BUFFER),
    n("proxy_busy_buffers_size", HSL, 1, 1, BUFFER),
    n("proxy_temp_path", HSL, 1, 4, BUFFER),
    n("proxy_temp_file_write_size", HSL, 1, 1, BUFFER),
    n("proxy_max_temp_file_size", HSL, 1, 1, BUFFER),
    n("proxy_socket_keepalive", HSL, 1, 1, SOCKET),
    n("reset_timedout_connection", HSL, 1, 1, SOCKET),
    // known to nginx, would change behaviour: refused for now
    u("proxy_store", HSL),
    // ngx_http_proxy_module's cache (cache.rs)
    h("proxy_cache_path", HTTP, 2, N),
    h("proxy_cache", HSL, 1, 1),
    h("proxy_cache_key", HSL, 1, 1),
    h("proxy_cache_valid", HSL, 1, N),
    h("proxy_cache_methods", HSL, 1, N),
    h("proxy_cache_min_uses", HSL, 1, 1),
    h("proxy_cache_bypass", HSL, 1, N),
    h("proxy_no_cache", HSL, 1, N),
    h("proxy_cache_use_stale", HSL, 1, N),
    h("proxy_cache_background_update", HSL, 1, 1),
    h("proxy_cache_lock", HSL, 1, 1),
    h("proxy_cache_lock_timeout", HSL, 1, 1),
    h("proxy_cache_lock_age", HSL, 1, 1),
    h("proxy_cache_revalidate", HSL, 1, 1),
    h("proxy_cache_convert_head", HSL, 1, 1),
    h("proxy_cache_max_range_offset", HSL, 1, 1),
    h("proxy_cache_purge", HSL, 1, N),
    h("proxy_ignore_headers", HSL, 1, N),
    h("limit_req", HSL, 1, 3),
    h("limit_req_zone", HTTP, 2, 3),
    h("limit_req_status", HSL, 1, 1),
    h("limit_req_log_level", HSL, 1, 1),
    h("limit_req_dry_run", HSL, 1, 1),
    h("limit_conn", HSL, 2, 2),
    h("limit_conn_zone", HTTP, 2, 2),
    h("limit_conn_status", HSL, 1, 1),
    h("limit_conn_log_level", HSL, 1, 1),
    h("limit_conn_dry_run", HSL, 1, 1),
    u("limit_rate", HSL),
    u("limit_rate_after", HSL),
    h("allow", HSL, 1, 1),
    h("deny", HSL, 1, 1),
    u("satisfy", HSL),
    h("auth_basic", HSL, 1, 1),
    h("auth_basic_user_file", HSL, 1, 1),
    h("auth_request", HSL, 1, 1),
    h("auth_request_set", HSL, 2, 2),
    // ngx_http_ssl_module (build/tls.rs)
    h("ssl", HS, 1, 1),
    // ngx_http_acme_module (build/acme.rs; the client is src/acme/)
    hb("acme_issuer", HTTP, 1, 1),
    h("acme_certificate", SERVER, 1, N),
    n("acme_shared_zone", HTTP, 1, 1, ACME_ZONE),
    h("ssl_certificate", HS, 1, 1),
    h("ssl_certificate_key", HS, 1, 1),
    h("ssl_protocols", HS, 1, N),
    h("ssl_ciphers", HS, 1, 1),
    h("ssl_prefer_server_ciphers", HS, 1, 1),
    h("ssl_ecdh_curve", HS, 1, 1),
    n("ssl_dhparam", HS, 1, 1, NO_DHE),
    h("ssl_session_cache", HS, 1, 2),
    h("ssl_session_timeout", HS, 1, 1),
    h("ssl_session_tickets", HS, 1, 1),
    h("ssl_session_ticket_key", HS, 1, 1),
    h("ssl_stapling", HS, 1, 1),
    h("ssl_stapling_file", HS, 1, 1),
    n("ssl_stapling_verify", HS, 1, 1, STAPLE),
    n("ssl_stapling_responder", HS, 1, 1, OCSP),
    h("ssl_verify_client", HS, 1, 1),
    h("ssl_client_certificate", HS, 1, 1),
    h("ssl_trusted_certificate", HS, 1, 1),
    h("ssl_verify_depth", HS, 1, 1),
    h("ssl_crl", HS, 1, 1),
    h("ssl_reject_handshake", HS, 1, 1),
    h("ssl_early_data", HS, 1, 1),
    h("ssl_buffer_size", HS, 1, 1),
    h("ssl_handshake_timeout", HS, 1, 1),
    h("ssl_password_file", HS, 1, 1),
    n("ssl_certificate_cache", HS, 1, 3, CERT_CACHE),
    u("ssl_conf_command", HS),
    u("ssl_ocsp", HS),
    u("ssl_ocsp_cache", HS),
    u("ssl_ocsp_responder", HS),
    u("ssl_key_log", HS),
    // ngx_http_v2_module (build/http2.rs)
    h("http2", HS, 1, 1),
    h("http2_max_concurrent_streams", HS, 1, 1),
    n("http2_recv_buffer_size", HTTP, 1, 1, H2_RECV),
    h("http2_chunk_size", HSL, 1, 1),
    h("http2_body_preread_size", HS, 1, 1),
    n("http2_idle_timeout", HS, 1, 1, H2_OBSOLETE),
    n("http2_recv_timeout", HS, 1, 1, H2_OBSOLETE),
    n("http2_max_requests", HS, 1, 1, H2_OBSOLETE),
    n("http2_max_field_size", HS, 1, 1, H2_OBSOLETE),
    n("http2_max_header_size", HS, 1, 1, H2_OBSOLETE),
    n("http2_streams_index_size", HS, 1, 1, HASH),
    n("http2_push", HSL, 1, 1, H2_PUSH),
    n("http2_push_preload", HSL, 1, 1, H2_PUSH),
    n("http2_max_concurrent_pushes", HS, 1, 1, H2_PUSH),
    u("http3", HS),
    // ngx_http_proxy_module's upstream TLS (build/tls.rs)
    h("proxy_ssl_verify", HSL, 1, 1),
    h("proxy_ssl_trusted_certificate", HSL, 1, 1),
    h("proxy_ssl_verify_depth", HSL, 1, 1),
    h("proxy_ssl_server_name", HSL, 1, 1),
    h("proxy_ssl_name", HSL, 1, 1),
    h("proxy_ssl_protocols", HSL, 1, N),
    h("proxy_ssl_ciphers", HSL, 1, 1),
    h("proxy_ssl_certificate", HSL, 1, 1),
    h("proxy_ssl_certificate_key", HSL, 1, 1),
    h("proxy_ssl_password_file", HSL, 1, 1),
    h("proxy_ssl_session_reuse", HSL, 1, 1),
    h("proxy_ssl_crl", HSL, 1, 1),
    n("proxy_ssl_certificate_cache", HSL, 1, 3, CERT_CACHE),
    u("proxy_ssl_conf_command", HSL),
    u("proxy_ssl_key_log", HSL),
    h("real_ip_header", HSL, 1, 1),
    h("set_real_ip_from", HSL, 1, 1),
    h("real_ip_recursive", HSL, 1, 1),
    h("health_check", UPSTREAM, 0, N),
    h("resolver", HSL, 1, N),
    h("resolver_timeout", HSL, 1, 1),
    ub("map", HTTP),
    ub("geo", HTTP),
    ub("split_clients", HTTP),
    ub("if", SL),
    ub("limit_except", LOCATION),
    u("set", SL),
    u("break", SL),
    u("error_page", HSL),
    u("recursive_error_pages", HSL),
    u("proxy_intercept_errors", HSL),
    u("try_files", SL),
    u("alias", LOCATION),
    u("autoindex", HSL),
    h("internal", LOCATION, 0, 0),
    u("expires", HSL),
    h("proxy_redirect", HSL, 1, 2),
    u("proxy_cookie_domain", HSL),
    u("proxy_cookie_path", HSL),
    u("proxy_method", HSL),
    h("proxy_pass_request_body", HSL, 1, 1),
    u("proxy_pass_request_headers", HSL),
    u("proxy_set_body", HSL),
    u("proxy_ignore_client_abort", HSL),
    u("proxy_bind", HSL),
    u("proxy_store_access", HSL),
    u("absolute_redirect", HSL),
    u("server_name_in_redirect", HSL),
    u("port_in_redirect", HSL),
    u("underscores_in_headers", HS),
    u("ignore_invalid_headers", HS),
    u("merge_slashes", HS),
    u("keepalive_disable", HSL),
    u("chunked_transfer_encoding", HSL),
    u("sub_filter", HSL),
    u("sub_filter_once", HSL),
    u("sub_filter_types", HSL),
    u("ssi", HSL),
    u("mirror", HSL),
    u("slice", HSL),
    u("secure_link", HSL),
    u("valid_referers", SL),
    u("add_trailer", HSL),
    u("fastcgi_pass", LOCATION),
    u("fastcgi_param", HSL),
    u("uwsgi_pass", LOCATION),
    u("uwsgi_param", HSL),
    u("scgi_pass", LOCATION),
    u("scgi_param", HSL),
    u("grpc_pass", LOCATION),
    u("memcached_pass", LOCATION),
    u("dav_methods", HSL),
];

/// The names `include` (handled by the parser) and every table entry: what "did you mean" picks from.
fn all_names() -> impl Iterator<Item = &'static str> {
    std::iter::once("include").chain(SPECS.iter().map(|s| s.name))
}

pub(crate) fn is_known(name: &str) -> bool {
    all_names().any(|n| n == name)
}

pub(crate) enum Lookup {
    Unknown,
    NotAllowed,
    Found(&'static Spec),
}

pub(crate) fn lookup(name: &str, ctx: u8) -> Lookup {
    let mut seen = false;
    for s in SPECS.iter().filter(|s| s.name == name) {
        seen = true;
        if s.ctx & ctx != 0 {
            return Lookup::Found(s);
        }
    }
    if seen {
        Lookup::NotAllowed
    } else {
        Lookup::Unknown
    }
}

/// Is `name` allowed in `ctx` (for deciding implicit `http`)?
pub(crate) fn allowed_in(name: &str, ctx: u8) -> bool {
    SPECS.iter().any(|s| s.name == name && s.ctx & ctx != 0)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest known directive name, if it is close enough to be a likely typo.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    all_names()
        .map(|n| (levenshtein(name, n), n))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("proxy_pas", "proxy_pass"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(suggest("proxy_pas"), Some("proxy_pass"));
        assert_eq!(suggest("lisen"), Some("listen"));
        assert_eq!(suggest("completely_unrelated"), None);
    }

    #[test]
    fn table_is_consistent() {
        for s in SPECS {
            assert!(s.min <= s.max, "{}", s.name);
            let dup = SPECS
                .iter()
                .filter(|o| o.name == s.name && o.ctx & s.ctx != 0)
                .count();
            assert_eq!(dup, 1, "{} listed twice for one context", s.name);
        }
    }
}
