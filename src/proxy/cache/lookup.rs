//! Finding a request's entry, Vary included: the key's own hash holds the first variant stored
//! (with the Vary names and this variant's request values); a request whose values differ looks
//! under the variant's hash (`KeyHash::variant`). The common case, no Vary or the same values,
//! opens one file.

use super::super::request::{Request, find_header};
use crate::cache::entry::{encode_vary, split_vary};
use crate::cache::settings::LocCache;
use crate::cache::store::{self, Found, Lookup};
use crate::cache::{KeyHash, policy};

pub struct Looked {
    pub entry: Option<Box<Found>>,
    /// The hash `entry` was found under.
    pub hash: KeyHash,
    /// Where a new response is stored: the key's own hash, unless it holds another variant.
    pub store_at: Option<KeyHash>,
    /// The Vary names of the entry under the key's own hash (a new response with the same names
    /// and different values goes under its variant's hash).
    pub vary_main: Option<Vec<u8>>,
}

pub fn find(c: &LocCache, key: &[u8], hash: &KeyHash, r: &Request<'_>, b: &[u8]) -> Looked {
    let main = match store::open(&c.zone, hash) {
        Lookup::Found(f) if f.key() == key => f,
        // Nothing there, or an MD5 collision: stored under the key's own hash.
        Lookup::Found(_) | Lookup::Missing => {
            return Looked {
                entry: None,
                hash: *hash,
                store_at: Some(*hash),
                vary_main: None,
            };
        }
    };
    let Some((names, values)) = split_vary(main.vary()).map(|(n, v)| (n.to_vec(), v.to_vec()))
    else {
        return Looked {
            entry: Some(main),
            hash: *hash,
            store_at: Some(*hash),
            vary_main: None,
        };
    };
    let mine = request_values(&names, r, b);
    if mine == values {
        return Looked {
            entry: Some(main),
            hash: *hash,
            store_at: Some(*hash),
            vary_main: Some(names),
        };
    }
    let vh = hash.variant(&encode_vary(&names, &mine));
    let entry = match store::open(&c.zone, &vh) {
        Lookup::Found(f) if f.key() == key => Some(f),
        _ => None,
    };
    Looked {
        entry,
        hash: vh,
        store_at: Some(vh),
        vary_main: Some(names),
    }
}

/// Whether the request has the values a Vary record (`encode_vary`) was stored for.
pub fn vary_matches(record: &[u8], r: &Request<'_>, b: &[u8]) -> bool {
    split_vary(record).is_some_and(|(names, values)| request_values(names, r, b) == values)
}

/// The request's values of the Vary fields `names` (comma-separated, lower-case).
pub fn request_values(names: &[u8], r: &Request<'_>, b: &[u8]) -> Vec<u8> {
    policy::vary_values(names, |name| {
        let mut out = Vec::new();
        find_header(r.head, b, name, &mut out).then_some(out)
    })
}
