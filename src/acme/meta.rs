//! The directory's `meta` object (RFC 8555 §7.1.1) as far as the issuer's options need it:
//! `externalAccountRequired`, and `profiles` (draft-ietf-acme-profiles), with the choice of the
//! profile a newOrder names.

use serde_json::Value;
use tracing::warn;

use crate::config::acme_proto::Profile;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// The server accepts new accounts only with an external account binding.
    pub eab_required: bool,
    /// The profiles the server offers, by name (empty: none, or no `profiles` member).
    pub profiles: Vec<String>,
}

impl Meta {
    /// From the whole directory; a missing or malformed `meta` counts as an empty one.
    pub fn parse(directory: &Value) -> Meta {
        let meta = &directory["meta"];
        Meta {
            eab_required: meta["externalAccountRequired"].as_bool().unwrap_or(false),
            // An object: profile name -> a description (a string, or a URL).
            profiles: meta["profiles"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// The profile newOrder names (None: none). A configured profile the server does not offer
    /// is left out with a warning, or, with `require`, fails the order with the reason.
    pub fn order_profile<'p>(
        &self,
        wanted: Option<&'p Profile>,
        issuer: &str,
    ) -> Result<Option<&'p str>, String> {
        let Some(p) = wanted else {
            return Ok(None);
        };
        if self.profiles.contains(&p.name) {
            return Ok(Some(&p.name));
        }
        let offered = if self.profiles.is_empty() {
            "none".to_string()
        } else {
            self.profiles.join(", ")
        };
        if p.require {
            return Err(format!(
                "ACME issuer \"{issuer}\" requires profile \"{}\" (profile … require), which \
                 the server does not offer (its profiles: {offered})",
                p.name
            ));
        }
        warn!(
            "ACME issuer \"{issuer}\": the server does not offer profile \"{}\" (its profiles: \
             {offered}); ordering without a profile",
            p.name
        );
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile(name: &str, require: bool) -> Profile {
        Profile {
            name: name.into(),
            require,
        }
    }

    #[test]
    fn meta_members_are_read_and_absent_ones_default() {
        let dir = json!({"newOrder": "x", "meta": {
            "externalAccountRequired": true,
            "profiles": {"classic": "the default", "shortlived": "https://ca.example/sl"},
            "termsOfService": "https://ca.example/tos"}});
        let m = Meta::parse(&dir);
        assert!(m.eab_required);
        assert_eq!(m.profiles, vec!["classic", "shortlived"]);
        assert_eq!(Meta::parse(&json!({"newOrder": "x"})), Meta::default());
        // Malformed members are not there.
        let odd = Meta::parse(&json!({"meta": {"externalAccountRequired": "yes", "profiles": []}}));
        assert_eq!(odd, Meta::default());
    }

    #[test]
    fn profile_choice() {
        let m = Meta::parse(&json!({"meta": {"profiles": {"classic": "", "shortlived": ""}}}));
        assert_eq!(m.order_profile(None, "le"), Ok(None));
        let sl = profile("shortlived", false);
        assert_eq!(m.order_profile(Some(&sl), "le"), Ok(Some("shortlived")));
        let sl_req = profile("shortlived", true);
        assert_eq!(m.order_profile(Some(&sl_req), "le"), Ok(Some("shortlived")));
        // Not offered: left out, or with require an error that names the profile and offer.
        let other = profile("tlsserver", false);
        assert_eq!(m.order_profile(Some(&other), "le"), Ok(None));
        let other_req = profile("tlsserver", true);
        let e = m.order_profile(Some(&other_req), "le").unwrap_err();
        assert!(
            e.contains("\"tlsserver\"") && e.contains("classic, shortlived"),
            "{e}"
        );
        let none = Meta::default();
        let e = none.order_profile(Some(&sl_req), "le").unwrap_err();
        assert!(e.contains("its profiles: none"), "{e}");
    }
}
