//! The TLS part of the config model: ngx_http_ssl_module's settings of a server (downstream) and
//! ngx_http_proxy_module's `proxy_ssl_*` of a location (upstream). Paths only: the files are read
//! and checked by `crate::tls` when the config is loaded or reloaded, which reports errors with
//! the `at` position kept here.

use std::path::PathBuf;
use std::time::Duration;

/// Where a directive was written (`file:line`), for errors found when its files are read.
pub type At = String;

/// `ssl_protocols` / `proxy_ssl_protocols`: the versions ringway can offer (rustls has no TLS
/// below 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols {
    pub tls12: bool,
    pub tls13: bool,
}

impl Default for Protocols {
    fn default() -> Self {
        Protocols {
            tls12: true,
            tls13: true,
        }
    }
}

/// The TLS 1.2 cipher suites rustls implements (TLS 1.3's are always offered, as nginx does
/// unless `ssl_conf_command Ciphersuites` says otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tls12Suite {
    EcdheEcdsaAes128Gcm,
    EcdheEcdsaAes256Gcm,
    EcdheEcdsaChacha20,
    EcdheRsaAes128Gcm,
    EcdheRsaAes256Gcm,
    EcdheRsaChacha20,
}

/// `ssl_ciphers` / `proxy_ssl_ciphers`: the string as written and the TLS 1.2 suites it selects,
/// in its order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ciphers {
    pub written: String,
    pub tls12: Vec<Tls12Suite>,
}

/// `ssl_ecdh_curve`: key-exchange groups in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    X25519,
    P256,
    P384,
    /// The post-quantum hybrid (X25519 with ML-KEM-768), as OpenSSL 3.5 names it.
    X25519Mlkem768,
}

/// `ssl_certificate` + `ssl_certificate_key` (the n-th of each pair up, as in nginx).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPair {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Where `ssl_certificate` was written.
    pub at: At,
}

/// A file named by a directive, with where the directive was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAt {
    pub path: PathBuf,
    pub at: At,
}

/// `ssl_session_cache`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SessionCache {
    /// `off`: no session IDs at all.
    Off,
    /// `none` (nginx's default): clients are told sessions may be reused, nothing is stored.
    #[default]
    None,
    /// `builtin[:size]` and/or `shared:name:size`: ringway keeps one cache of this many sessions
    /// that every shard can resume from.
    Sessions(usize),
}

/// `ssl_verify_client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyClient {
    #[default]
    Off,
    On,
    Optional,
    OptionalNoCa,
}

/// A server's downstream TLS settings (http → server inheritance already applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// ALPN offers `h2` (the server's `http2 on`, or `listen … http2` on one of its addresses).
    pub http2: bool,
    /// In the order written; one RSA and one ECDSA pair may be given.
    pub certificates: Vec<CertPair>,
    pub protocols: Protocols,
    pub ciphers: Ciphers,
    pub prefer_server_ciphers: bool,
    /// None: `auto` (X25519, P-256, P-384).
    pub ecdh_curves: Option<Vec<Curve>>,
    pub session_cache: SessionCache,
    pub session_timeout: Duration,
    pub session_tickets: bool,
    /// `ssl_session_ticket_key` files in order: the first encrypts, all decrypt.
    pub session_ticket_keys: Vec<FileAt>,
    /// `ssl_stapling on` with `ssl_stapling_file`: the staple sent with the certificates.
    pub stapling: bool,
    pub stapling_file: Option<FileAt>,
    pub verify_client: VerifyClient,
    pub client_certificate: Option<FileAt>,
    pub trusted_certificate: Option<FileAt>,
    pub verify_depth: u32,
    /// `ssl_crl`: revoked client certificates (PEM CRLs), checked with `verify_client`.
    pub crl: Option<FileAt>,
    pub reject_handshake: bool,
    pub early_data: bool,
    /// `ssl_buffer_size`: the largest TLS record ringway sends.
    pub buffer_size: usize,
    pub handshake_timeout: Duration,
    /// `ssl_password_file`: pass phrases for encrypted keys, tried in order.
    pub password_file: Option<FileAt>,
}

/// nginx's `ssl_ciphers` default.
pub const DEFAULT_CIPHERS: &str = "HIGH:!aNULL:!MD5";

impl Default for ServerTls {
    fn default() -> Self {
        ServerTls {
            http2: false,
            certificates: Vec::new(),
            protocols: Protocols::default(),
            ciphers: Ciphers {
                written: DEFAULT_CIPHERS.into(),
                tls12: ALL_TLS12.to_vec(),
            },
            prefer_server_ciphers: false,
            ecdh_curves: None,
            session_cache: SessionCache::None,
            session_timeout: Duration::from_secs(300),
            session_tickets: true,
            session_ticket_keys: Vec::new(),
            stapling: false,
            stapling_file: None,
            verify_client: VerifyClient::Off,
            client_certificate: None,
            trusted_certificate: None,
            verify_depth: 1,
            crl: None,
            reject_handshake: false,
            early_data: false,
            buffer_size: 16 * 1024,
            handshake_timeout: Duration::from_secs(60),
            password_file: None,
        }
    }
}

/// Every TLS 1.2 suite rustls implements (the parser fills unset `ssl_ciphers` by evaluating
/// nginx's default string, in OpenSSL's order).
pub const ALL_TLS12: [Tls12Suite; 6] = [
    Tls12Suite::EcdheEcdsaAes256Gcm,
    Tls12Suite::EcdheEcdsaAes128Gcm,
    Tls12Suite::EcdheEcdsaChacha20,
    Tls12Suite::EcdheRsaAes256Gcm,
    Tls12Suite::EcdheRsaAes128Gcm,
    Tls12Suite::EcdheRsaChacha20,
];

/// A location's upstream TLS settings (`proxy_ssl_*`), used when `proxy_pass` is `https://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTls {
    /// `proxy_ssl_verify` (nginx's default: off).
    pub verify: bool,
    pub trusted_certificate: Option<FileAt>,
    pub verify_depth: u32,
    /// `proxy_ssl_server_name` (off: no SNI, as in nginx).
    pub server_name: bool,
    /// `proxy_ssl_name` (None: the `proxy_pass` host).
    pub name: Option<String>,
    pub protocols: Protocols,
    pub ciphers: Ciphers,
    /// `proxy_ssl_certificate` + `proxy_ssl_certificate_key`.
    pub certificate: Option<CertPair>,
    pub password_file: Option<FileAt>,
    pub session_reuse: bool,
    /// `proxy_ssl_crl`: revoked upstream certificates (PEM CRLs), checked with `verify`.
    pub crl: Option<FileAt>,
}

impl Default for ProxyTls {
    fn default() -> Self {
        ProxyTls {
            verify: false,
            trusted_certificate: None,
            verify_depth: 1,
            server_name: false,
            name: None,
            protocols: Protocols::default(),
            ciphers: Ciphers {
                written: "DEFAULT".into(),
                tls12: ALL_TLS12.to_vec(),
            },
            certificate: None,
            password_file: None,
            session_reuse: true,
            crl: None,
        }
    }
}
