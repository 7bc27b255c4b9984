//! `external_account_key`, `preferred_chain` and `profile` in an `acme_issuer` block, as
//! nginx-acme reads them (the model: config/acme_proto.rs).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::args::{arg_err, set_once};
use crate::config::acme_proto::{ExternalAccountKey, IssuerProto, Profile};
use crate::config::error::Result;
use crate::config::parser::Directive;

fn arity(c: &Directive, range: std::ops::RangeInclusive<usize>) -> Result<()> {
    if !range.contains(&c.args.len()) {
        return Err(c.pos.err(format!(
            "invalid number of arguments in \"{}\" directive",
            c.name
        )));
    }
    Ok(())
}

/// One of the three directives `c` (its name is one of them) into `proto`; `base_dir` is
/// where a relative key file is looked for.
pub(super) fn issuer_option(c: &Directive, base_dir: &Path, proto: &mut IssuerProto) -> Result<()> {
    match c.name.as_str() {
        "external_account_key" => {
            arity(c, 2..=2)?;
            set_once(&mut proto.eab, c, external_account_key(c, base_dir)?)
        }
        "preferred_chain" => {
            arity(c, 1..=1)?;
            if c.args[0].value.is_empty() {
                return Err(arg_err(&c.args[0], c, "expected an issuer's common name"));
            }
            set_once(&mut proto.preferred_chain, c, c.args[0].value.clone())
        }
        _ => {
            arity(c, 1..=2)?;
            let require = match c.args.get(1) {
                None => false,
                Some(a) if a.value == "require" => true,
                Some(a) => return Err(arg_err(a, c, "expected \"require\"")),
            };
            if c.args[0].value.is_empty() {
                return Err(arg_err(&c.args[0], c, "expected a profile name"));
            }
            let profile = Profile {
                name: c.args[0].value.clone(),
                require,
            };
            set_once(&mut proto.profile, c, profile)
        }
    }
}

/// `external_account_key KID FILE | data:KEY`: the key is base64url (RFC 4648 §5), read from
/// the file now (as nginx does), so a missing or bad key fails `-t`.
fn external_account_key(c: &Directive, base_dir: &Path) -> Result<ExternalAccountKey> {
    let (kid, source) = (&c.args[0], &c.args[1]);
    if kid.value.is_empty() {
        return Err(arg_err(kid, c, "expected a key identifier"));
    }
    let text = match source.value.strip_prefix("data:") {
        Some(inline) => inline.to_string(),
        None => {
            let path = base_dir.join(&source.value);
            std::fs::read_to_string(&path).map_err(|e| {
                source.pos.err(format!(
                    "external_account_key: cannot read \"{}\": {e}",
                    path.display()
                ))
            })?
        }
    };
    // Padding is optional in base64url; pebble's and most CAs' keys come without it.
    let encoded = text.trim().trim_end_matches('=');
    let mac_key = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            source
                .pos
                .err("external_account_key: the MAC key is not base64url (RFC 4648 §5) or is empty")
        })?;
    Ok(ExternalAccountKey {
        kid: kid.value.clone(),
        mac_key,
    })
}
