//! An `acme_issuer`'s protocol options beyond RFC 8555's basics: `external_account_key` (RFC
//! 8555 §7.3.4), `preferred_chain` (§7.4.2's alternate chains) and `profile`
//! (draft-ietf-acme-profiles). Built in build/acme_proto.rs; used by src/acme/.

/// `external_account_key KID FILE | data:KEY`: the CA's key identifier and the decoded MAC
/// key the account is bound with.
#[derive(Clone, PartialEq, Eq)]
pub struct ExternalAccountKey {
    pub kid: String,
    pub mac_key: Vec<u8>,
}

/// The MAC key is a secret: a dump or a debug line shows its length only.
impl std::fmt::Debug for ExternalAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalAccountKey")
            .field("kid", &self.kid)
            .field("mac_key", &format_args!("<{} bytes>", self.mac_key.len()))
            .finish()
    }
}

/// `profile NAME [require]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// `require`: an order fails where the server does not offer the profile (without it,
    /// the order is placed without a profile, with a warning).
    pub require: bool,
}

/// The three options of one issuer (all unset by default).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IssuerProto {
    pub eab: Option<ExternalAccountKey>,
    /// `preferred_chain`: the Subject CN that the topmost certificate's issuer of the wanted
    /// chain has.
    pub preferred_chain: Option<String>,
    pub profile: Option<Profile>,
}
