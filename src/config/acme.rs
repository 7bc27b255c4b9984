//! The model of nginx's ngx_http_acme_module directives: `acme_issuer` blocks (http level) and
//! each server's `acme_certificate`. Built in build/acme.rs; used by src/acme/ (the client
//! thread) and src/tls/ (the certificate files it writes).

use std::path::PathBuf;

/// Every issuer and every certificate the config asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acme {
    pub issuers: Vec<Issuer>,
    pub certificates: Vec<AcmeCert>,
}

/// One `acme_issuer NAME { … }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    pub name: String,
    /// The ACME directory URL (`uri`).
    pub uri: String,
    /// `contact` (mailto: URLs, sent with the account).
    pub contact: Vec<String>,
    /// `state_path`: the account key and the issued certificates live here.
    pub state_path: PathBuf,
    /// `accept_terms_of_service`.
    pub accept_tos: bool,
    /// `ssl_trusted_certificate`: CA bundle for the ACME server's HTTPS (None: the bundled
    /// Mozilla roots).
    pub trusted: Option<PathBuf>,
    /// `ssl_verify` (on by default).
    pub verify: bool,
    /// Where the block was written.
    pub at: String,
}

/// The key type of an issued certificate (`key=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    EcdsaP256,
    EcdsaP384,
}

/// One server's `acme_certificate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeCert {
    /// Index into `Acme::issuers`.
    pub issuer: usize,
    /// The identifiers (DNS names) the certificate covers; the first names the files.
    pub names: Vec<String>,
    pub key: KeyAlg,
    /// Index of the server block (in `Config::servers`).
    pub server: usize,
    /// Where the chain and key are kept (`$acme_certificate`, `$acme_certificate_key`).
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub at: String,
}
