//! server_name selection for one listen address, in nginx's order: exact name, longest leading
//! wildcard (`*.example.com`, `.example.com`), longest trailing wildcard (`mail.*`), first
//! matching regex, else the default server.

use std::collections::HashMap;
use std::rc::Rc;

use super::LocationTable;

pub struct ServerRt {
    /// The first name, as `$server_name` renders it.
    pub name: Box<[u8]>,
    pub locations: LocationTable,
}

#[derive(Default)]
pub struct VirtualHosts {
    pub(super) exact: HashMap<Box<[u8]>, Rc<ServerRt>>,
    /// Reversed suffixes (`.example.com` reversed), longest first; `exact_too` for `.example.com`.
    pub(super) leading: Vec<(Box<[u8]>, bool, Rc<ServerRt>)>,
    /// Prefixes before the `*` (`mail.`), longest first.
    pub(super) trailing: Vec<(Box<[u8]>, Rc<ServerRt>)>,
    pub(super) regexes: Vec<(regex::bytes::Regex, Rc<ServerRt>)>,
    pub(super) default: Option<Rc<ServerRt>>,
}

impl VirtualHosts {
    pub fn default_server(&self) -> Option<&Rc<ServerRt>> {
        self.default.as_ref()
    }

    /// `host` is the Host field value (or empty when absent); port and trailing dot are ignored
    /// and the comparison is case-insensitive.
    pub fn find(&self, host: &[u8]) -> Option<&Rc<ServerRt>> {
        let mut name = strip_port(host);
        if let [rest @ .., b'.'] = name {
            name = rest;
        }
        let mut lower = [0u8; 256];
        if name.len() <= lower.len() && !name.is_empty() {
            let l = &mut lower[..name.len()];
            l.copy_from_slice(name);
            l.make_ascii_lowercase();
            let l: &[u8] = l;
            if let Some(s) = self.exact.get(l) {
                return Some(s);
            }
            for (suffix, exact_too, s) in &self.leading {
                if l.len() > suffix.len() && ends_with_rev(l, suffix) {
                    return Some(s);
                }
                if *exact_too
                    && l.len() + 1 == suffix.len()
                    && ends_with_rev(l, &suffix[..suffix.len() - 1])
                {
                    return Some(s);
                }
            }
            for (prefix, s) in &self.trailing {
                if l.len() > prefix.len() && l.starts_with(prefix) {
                    return Some(s);
                }
            }
            for (re, s) in &self.regexes {
                if re.is_match(l) {
                    return Some(s);
                }
            }
        }
        self.default.as_ref()
    }
}

/// `suffix_rev` holds the suffix reversed (so the table sorts by specificity): compare from the end.
fn ends_with_rev(name: &[u8], suffix_rev: &[u8]) -> bool {
    name.iter()
        .rev()
        .zip(suffix_rev.iter())
        .all(|(a, b)| a == b)
        && name.len() >= suffix_rev.len()
}

fn strip_port(host: &[u8]) -> &[u8] {
    if host.first() == Some(&b'[') {
        // IPv6 literal: keep through the closing bracket.
        return match host.iter().position(|&c| c == b']') {
            Some(i) => &host[..=i],
            None => host,
        };
    }
    match host.iter().rposition(|&c| c == b':') {
        Some(i) => &host[..i],
        None => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(n: &str) -> Rc<ServerRt> {
        Rc::new(ServerRt {
            name: n.as_bytes().into(),
            locations: LocationTable::default(),
        })
    }

    #[test]
    fn nginx_selection_order() {
        let mut v = VirtualHosts::default();
        v.exact.insert(b"www.example.com"[..].into(), srv("exact"));
        let rev = |s: &str| s.bytes().rev().collect::<Vec<_>>().into_boxed_slice();
        v.leading.push((rev(".example.com"), false, srv("star")));
        v.leading.push((rev(".example.org"), true, srv("dot")));
        v.trailing.push((b"mail."[..].into(), srv("trail")));
        v.regexes.push((
            regex::bytes::Regex::new("^api[0-9]+\\.").unwrap(),
            srv("re"),
        ));
        v.default = Some(srv("default"));
        let name = |h: &[u8]| String::from_utf8(v.find(h).unwrap().name.to_vec()).unwrap();
        assert_eq!(name(b"WWW.Example.com:8080"), "exact");
        assert_eq!(name(b"www.example.com."), "exact");
        assert_eq!(name(b"a.example.com"), "star");
        assert_eq!(name(b"example.com"), "default");
        assert_eq!(name(b"example.org"), "dot");
        assert_eq!(name(b"x.example.org"), "dot");
        assert_eq!(name(b"mail.foo"), "trail");
        assert_eq!(name(b"api7.x"), "re");
        assert_eq!(name(b""), "default");
        assert_eq!(name(b"[::1]:80"), "default");
    }
}
