//! server_name selection for one listen address, in nginx's order: exact name, longest leading
//! wildcard (`*.example.com`, `.example.com`), longest trailing wildcard (`mail.*`), first
//! matching regex, else the default server.

use std::rc::Rc;

use rustc_hash::FxHashMap;

use super::LocationTable;

pub struct ServerRt {
    /// The server block's place in the config (its TLS site has the same index).
    pub index: usize,
    /// The first name, as `$server_name` renders it.
    pub name: Box<[u8]>,
    pub locations: LocationTable,
    /// Server-level `rewrite`s, run before the location search.
    pub rewrites: Vec<super::Rewrite>,
    /// Any rewrite in this server or its locations: requests then go through `rewrite::route`.
    pub has_rewrites: bool,
}

/// Every table is a hash lookup: a host is checked against at most one key per dot it holds,
/// however many names the config lists.
#[derive(Default)]
pub struct VirtualHosts {
    pub(super) exact: FxHashMap<Box<[u8]>, Rc<ServerRt>>,
    /// `*.example.com` and `.example.com`, keyed by the suffix with its leading dot.
    pub(super) leading: FxHashMap<Box<[u8]>, Rc<ServerRt>>,
    /// `.example.com` also matches `example.com` itself.
    pub(super) dot_exact: FxHashMap<Box<[u8]>, Rc<ServerRt>>,
    /// `mail.*`, keyed by the prefix with its trailing dot.
    pub(super) trailing: FxHashMap<Box<[u8]>, Rc<ServerRt>>,
    pub(super) regexes: Vec<(regex::bytes::Regex, Rc<ServerRt>)>,
    /// `server_name ""` (nginx's implicit name when none is given): requests without Host.
    pub(super) no_host: Option<Rc<ServerRt>>,
    pub(super) default: Option<Rc<ServerRt>>,
}

impl VirtualHosts {
    pub fn default_server(&self) -> Option<&Rc<ServerRt>> {
        self.default.as_ref()
    }

    /// Every server of the address (one reachable by several names may come more than once).
    pub fn servers(&self) -> impl Iterator<Item = &Rc<ServerRt>> {
        self.exact
            .values()
            .chain(self.leading.values())
            .chain(self.dot_exact.values())
            .chain(self.trailing.values())
            .chain(self.regexes.iter().map(|(_, s)| s))
            .chain(&self.no_host)
            .chain(&self.default)
    }

    /// `host` is the Host field value (or empty when absent); port and trailing dot are ignored
    /// and the comparison is case-insensitive.
    pub fn find(&self, host: &[u8]) -> Option<&Rc<ServerRt>> {
        let mut name = strip_port(host);
        if let [rest @ .., b'.'] = name {
            name = rest;
        }
        if name.is_empty() && self.no_host.is_some() {
            return self.no_host.as_ref();
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
            if !self.dot_exact.is_empty()
                && let Some(s) = self.dot_exact.get(l)
            {
                return Some(s);
            }
            if !self.leading.is_empty() {
                // Longest suffix first: scan dots from the left.
                for i in (1..l.len()).filter(|&i| l[i] == b'.') {
                    if let Some(s) = self.leading.get(&l[i..]) {
                        return Some(s);
                    }
                }
            }
            if !self.trailing.is_empty() {
                // Longest prefix first: scan dots from the right.
                for i in (0..l.len() - 1).rev().filter(|&i| l[i] == b'.') {
                    if let Some(s) = self.trailing.get(&l[..=i]) {
                        return Some(s);
                    }
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

/// The host part of a Host value (`[v6]` kept whole), port dropped.
pub fn strip_port(host: &[u8]) -> &[u8] {
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
            index: 0,
            name: n.as_bytes().into(),
            locations: LocationTable::default(),
            rewrites: Vec::new(),
            has_rewrites: false,
        })
    }

    #[test]
    fn nginx_selection_order() {
        let mut v = VirtualHosts::default();
        v.exact.insert(b"www.example.com"[..].into(), srv("exact"));
        v.leading.insert(b".example.com"[..].into(), srv("star"));
        v.leading
            .insert(b".b.example.com"[..].into(), srv("longer"));
        v.leading.insert(b".example.org"[..].into(), srv("dot"));
        v.dot_exact.insert(b"example.org"[..].into(), srv("dot"));
        v.trailing.insert(b"mail."[..].into(), srv("trail"));
        v.trailing.insert(b"mail.x."[..].into(), srv("trail2"));
        v.regexes.push((
            regex::bytes::Regex::new("^api[0-9]+\\.").unwrap(),
            srv("re"),
        ));
        v.default = Some(srv("default"));
        let name = |h: &[u8]| String::from_utf8(v.find(h).unwrap().name.to_vec()).unwrap();
        assert_eq!(name(b"WWW.Example.com:8080"), "exact");
        assert_eq!(name(b"www.example.com."), "exact");
        assert_eq!(name(b"a.example.com"), "star");
        assert_eq!(name(b"a.b.example.com"), "longer");
        assert_eq!(name(b"mail.x.y"), "trail2");
        assert_eq!(name(b"example.com"), "default");
        assert_eq!(name(b"example.org"), "dot");
        assert_eq!(name(b"x.example.org"), "dot");
        assert_eq!(name(b"mail.foo"), "trail");
        assert_eq!(name(b"api7.x"), "re");
        assert_eq!(name(b""), "default");
        assert_eq!(name(b"[::1]:80"), "default");
    }
}
