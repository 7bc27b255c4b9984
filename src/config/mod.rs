//! nginx-syntax configuration: lexer, parser (with `include`), the typed model, validation with
//! file:line:column errors, and the `-T` dump.
//!
//! Where ringway deliberately differs from nginx:
//! - An `upstream` without `keepalive` keeps [`DEFAULT_UPSTREAM_KEEPALIVE`] idle connections per
//!   shard (nginx keeps none): connection pooling is the point of ringway. `keepalive 0` turns
//!   pooling off (nginx refuses 0).
//! - A main file made only of `server`/`upstream` blocks (a sites-enabled snippet) is read as if
//!   wrapped in `http { }`; no `events` block is required.
//! - Directives ringway cannot honour yet are refused ("is not supported yet by ringway")
//!   rather than ignored; tuning and process directives with no effect are accepted with a notice.
//! - `proxy_pass http://name` to a host that is not an `upstream` is not resolved while reading
//!   the config (nginx resolves it then): the name is resolved at start and reload.
//! - Regexes (`location ~`, `server_name ~`, `rewrite`) use the `regex` crate's syntax, not PCRE
//!   (no look-around or backreferences).
//! - A relative `pid` path starts at the main file's folder (nginx: at its prefix).
//! - A `server` without `listen` listens on `0.0.0.0:80` (nginx's default when run as root).
//! - A `server` without `server_name` gets the name `""`, as in nginx.
//! - A file whose whole content is one bare path to an existing file (what git writes for a
//!   symlink where it cannot make one) is read as that file; nginx would report a syntax error.
//! - Variables nginx knows but ringway does not provide yet, and `server_name $hostname`, are
//!   refused; names with suspicious symbols and a redefined balancing method give notices where
//!   nginx gives warnings.
//! - `rewrite`s after a `return` at the same level are dropped (never reached, as in nginx);
//!   a location with both `return` and `proxy_pass` returns (nginx's rewrite phase runs first).
//! - `auth_basic_user_file` is read when the config is loaded or reloaded, not per request: an
//!   unreadable file or an entry in a scheme ringway cannot check is an error at `-t`.
//!
//! - `worker_connections` caps client connections per shard (nginx counts upstream connections
//!   too) and is no cap when absent (nginx: 512); `max_connections` (events) is ringway's own
//!   process-wide cap.
//! - `io_uring_entries`, `io_uring_sqpoll` and `io_uring_sqpoll_idle` (events) are ringway's own:
//!   how each shard's ring is set up, read at start only.
//! - `set_real_ip_from` takes addresses and CIDR ranges only (no hostnames); `unix:` is ignored
//!   with a notice; `real_ip_header proxy_protocol` is refused.
//!
//! - `$binary_remote_addr` is allowed only in keys (`hash`, `limit_req_zone`, `limit_conn_zone`):
//!   its raw bytes could split a header line.
//! - Limit zones are per shard; see `access::zones` for how each shard takes its share.
//! - `proxy_cache_path`: a relative path starts at the main file's folder; temporary files are
//!   written inside the cache path whatever `use_temp_path` says (a notice says so for `on`);
//!   `proxy_cache` takes a zone name, not variables; nginx Plus's `purger=` and
//!   `proxy_cache_purge` are read.
//!
//! - TLS (`build/tls.rs`, `ciphers.rs`): TLS 1.2/1.3 and ECDHE suites only (older protocols and
//!   other suites give notices); a cipher-string token that is no suite or alias is an error;
//!   staples come only from `ssl_stapling_file`; certificate paths take no variables and start at
//!   the main file's folder; `ssl on` is read as `ssl` on every listen of the server.
//!
//! - `gzip_buffers` is accepted with a notice (ringway sizes its own buffers); `gzip_static` is
//!   refused (ringway serves no files); `gzip_disable` regexes use the `regex` crate's syntax.
//!
//! Notices read `<file>:<line>: ignored: <directive> (<why>)`.

mod access;
pub mod acme;
pub mod acme_proto;
mod auth;
mod build;
pub mod cache;
pub mod ciphers;
pub mod compress;
mod directives;
mod dump;
mod error;
pub mod htpasswd;
pub mod http2;
mod lexer;
pub mod limits;
pub mod model;
mod parser;
pub mod tls;
mod values;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_access;
#[cfg(test)]
mod tests_acme;
#[cfg(test)]
mod tests_acme_keys;
#[cfg(test)]
mod tests_acme_proto;
#[cfg(test)]
mod tests_auth;
#[cfg(test)]
mod tests_cache;
#[cfg(test)]
mod tests_compress;
#[cfg(test)]
mod tests_http2;
#[cfg(test)]
mod tests_logs;
#[cfg(test)]
mod tests_metrics;
#[cfg(test)]
mod tests_tls;

use std::path::Path;

pub use build::{
    DEFAULT_BACKLOG, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_UPSTREAM_KEEPALIVE,
    DEFAULT_UPSTREAM_KEEPALIVE_REQUESTS, DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT,
};
pub use cache::{CacheSettings, CacheValid, CacheZone, IgnoreHeaders, Methods, UseStale};
pub use compress::CompressSettings;
pub use dump::dump;
pub use error::ConfigError;
pub use limits::{LimitConn, LimitReq, LimitZone, Limits, LogLevel};
pub use model::*;
pub use values::SUPPORTED_VARIABLES;

/// Reads the main config file at `path`, follows its includes and builds the model.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let dirs = parser::parse_main(path)?;
    build::build(&dirs, path)
}

/// Builds the model from `text` as if it were the file at `path` (named in errors; relative
/// includes resolve against its folder).
pub fn parse_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let dirs = parser::Parser::new(path).parse_text(text, path)?;
    build::build(&dirs, path)
}
