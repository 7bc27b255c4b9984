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
    /// `state_path off`: `state_path` is a private directory of this process, made at start
    /// and removed at exit (acme/private_state.rs).
    pub state_off: bool,
    /// `account_key`: a kind of key made and kept under `state_path`, or a file.
    pub account_key: AccountKeySource,
    /// `accept_terms_of_service`.
    pub accept_tos: bool,
    /// `ssl_trusted_certificate`: CA bundle for the ACME server's HTTPS (None: the bundled
    /// Mozilla roots).
    pub trusted: Option<PathBuf>,
    /// `ssl_verify` (on by default).
    pub verify: bool,
    /// `challenge`: how its authorizations are answered.
    pub challenge: Challenge,
    /// `external_account_key`, `preferred_chain`, `profile`.
    pub proto: crate::config::acme_proto::IssuerProto,
    /// Where the block was written.
    pub at: String,
}

/// The challenge type an issuer's authorizations are answered with (`challenge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Challenge {
    /// HTTP-01 (RFC 8555 §8.3), nginx's `http`: the default.
    #[default]
    Http01,
    /// TLS-ALPN-01 (RFC 8737), nginx's `tls-alpn`.
    TlsAlpn01,
}

impl Challenge {
    /// The challenge's `type` in ACME's authorization objects.
    pub fn acme_type(self) -> &'static str {
        match self {
            Challenge::Http01 => "http-01",
            Challenge::TlsAlpn01 => "tls-alpn-01",
        }
    }
}

/// A kind of private key: of an issued certificate (`key=`, never P-521: ring cannot sign
/// with it) or of an account (`account_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyAlg {
    /// nginx's spelling (`ecdsa:256` …, `ecdsa` alone is `ecdsa:256`, `rsa` alone `rsa:2048`).
    pub fn parse(v: &str) -> Option<KeyAlg> {
        Some(match v {
            "ecdsa" | "ecdsa:256" => KeyAlg::EcdsaP256,
            "ecdsa:384" => KeyAlg::EcdsaP384,
            "ecdsa:521" => KeyAlg::EcdsaP521,
            "rsa" | "rsa:2048" => KeyAlg::Rsa2048,
            "rsa:3072" => KeyAlg::Rsa3072,
            "rsa:4096" => KeyAlg::Rsa4096,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::EcdsaP256 => "ecdsa:256",
            KeyAlg::EcdsaP384 => "ecdsa:384",
            KeyAlg::EcdsaP521 => "ecdsa:521",
            KeyAlg::Rsa2048 => "rsa:2048",
            KeyAlg::Rsa3072 => "rsa:3072",
            KeyAlg::Rsa4096 => "rsa:4096",
        }
    }

    /// The modulus size of an RSA kind (0 for ECDSA).
    pub fn rsa_bits(self) -> usize {
        match self {
            KeyAlg::Rsa2048 => 2048,
            KeyAlg::Rsa3072 => 3072,
            KeyAlg::Rsa4096 => 4096,
            _ => 0,
        }
    }
}

/// Where an issuer's account key comes from (`account_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountKeySource {
    /// Made on first use and kept under `state_path` (ecdsa:256 when not given).
    Generated(KeyAlg),
    /// A PEM key file of the operator's, read and never written.
    File(PathBuf),
}

/// One server's `acme_certificate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeCert {
    /// Index into `Acme::issuers`.
    pub issuer: usize,
    /// The identifiers (DNS names) the certificate covers; the first names the files.
    pub names: Vec<String>,
    pub key: KeyAlg,
    /// The issuer's `challenge` (copied here: the ACME thread orders with this alone).
    pub challenge: Challenge,
    /// Index of the server block (in `Config::servers`).
    pub server: usize,
    /// Where the chain and key are kept (`$acme_certificate`, `$acme_certificate_key`).
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub at: String,
}
