//! `allow` / `deny` with ngx_http_access_module's semantics: IPv4 and IPv6 rules are separate
//! lists (`all` is in both), each checked in order, the first match decides; no match allows.
//! An IPv4-mapped IPv6 client (`::ffff:a.b.c.d`) is checked against the IPv4 rules when there
//! are any.

use std::net::IpAddr;

use crate::config::AccessRule;

/// A location's rules as (network, mask, deny) triples per address family.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    v4: Box<[(u32, u32, bool)]>,
    v6: Box<[(u128, u128, bool)]>,
}

impl Rules {
    pub fn compile(list: &[AccessRule]) -> Rules {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for r in list {
            match r.net {
                None => {
                    v4.push((0, 0, r.deny));
                    v6.push((0, 0, r.deny));
                }
                Some(c) => match c.addr {
                    IpAddr::V4(a) => {
                        let m = mask32(c.prefix);
                        v4.push((u32::from(a) & m, m, r.deny));
                    }
                    IpAddr::V6(a) => {
                        let m = mask128(c.prefix);
                        v6.push((u128::from(a) & m, m, r.deny));
                    }
                },
            }
        }
        Rules {
            v4: v4.into(),
            v6: v6.into(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Whether `ip` may pass.
    pub fn allows(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => first_v4(&self.v4, u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(m) if !self.v4.is_empty() => first_v4(&self.v4, u32::from(m)),
                _ => {
                    let a = u128::from(a);
                    !self
                        .v6
                        .iter()
                        .find(|(net, m, _)| a & m == *net)
                        .is_some_and(|r| r.2)
                }
            },
        }
    }
}

fn first_v4(rules: &[(u32, u32, bool)], a: u32) -> bool {
    !rules
        .iter()
        .find(|(net, m, _)| a & m == *net)
        .is_some_and(|r| r.2)
}

pub(crate) fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

pub(crate) fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Cidr;

    fn rule(deny: bool, net: &str) -> AccessRule {
        let net = (net != "all").then(|| {
            let (a, p) = net.split_once('/').unwrap_or((net, ""));
            let addr: IpAddr = a.parse().unwrap();
            let full = if addr.is_ipv4() { 32 } else { 128 };
            Cidr {
                addr,
                prefix: p.parse().unwrap_or(full),
            }
        });
        AccessRule { deny, net }
    }

    fn allows(rules: &[(bool, &str)], ip: &str) -> bool {
        let list: Vec<AccessRule> = rules.iter().map(|(d, n)| rule(*d, n)).collect();
        Rules::compile(&list).allows(ip.parse().unwrap())
    }

    #[test]
    fn first_match_wins() {
        let r = [(false, "10.0.0.0/8"), (false, "127.0.0.1"), (true, "all")];
        assert!(allows(&r, "10.200.3.4"));
        assert!(allows(&r, "127.0.0.1"));
        assert!(!allows(&r, "127.0.0.2"));
        assert!(!allows(&r, "11.0.0.1"));
        // `all` covers IPv6 too.
        assert!(!allows(&r, "::1"));
        let r = [(true, "127.0.0.1"), (false, "127.0.0.0/8")];
        assert!(!allows(&r, "127.0.0.1"));
        assert!(allows(&r, "127.0.0.9"));
        // No rule matches: allowed.
        assert!(allows(&r, "8.8.8.8"));
        assert!(allows(&[], "8.8.8.8"));
    }

    #[test]
    fn prefix_edges() {
        let r = [(false, "192.168.1.128/25"), (true, "all")];
        assert!(allows(&r, "192.168.1.128"));
        assert!(allows(&r, "192.168.1.255"));
        assert!(!allows(&r, "192.168.1.127"));
        let r = [(true, "0.0.0.0/0")];
        assert!(!allows(&r, "1.2.3.4"));
        assert!(
            allows(&r, "::2"),
            "an IPv4 rule says nothing about IPv6 clients"
        );
    }

    #[test]
    fn ipv6_ranges() {
        let r = [(false, "2001:db8::/32"), (false, "::1"), (true, "all")];
        assert!(allows(&r, "2001:db8:ffff::1"));
        assert!(!allows(&r, "2001:db9::1"));
        assert!(allows(&r, "::1"));
        assert!(!allows(&r, "::2"));
        assert!(!allows(&r, "10.0.0.1"));
        let r = [(true, "2001:db8::/32")];
        assert!(
            allows(&r, "10.0.0.1"),
            "an IPv6 rule says nothing about IPv4 clients"
        );
    }

    #[test]
    fn mapped_clients_use_ipv4_rules() {
        let r = [(true, "127.0.0.1"), (false, "all")];
        assert!(!allows(&r, "::ffff:127.0.0.1"));
        assert!(allows(&r, "::ffff:127.0.0.2"));
        // With no IPv4 rules, the IPv6 list decides (as nginx does).
        let r = [(true, "::ffff:0:0/96")];
        assert!(!allows(&r, "::ffff:127.0.0.1"));
        // With IPv4 rules, the IPv6 ones are not consulted for a mapped client.
        let r = [(true, "::ffff:0:0/96"), (false, "10.0.0.0/8")];
        assert!(allows(&r, "::ffff:127.0.0.1"));
    }
}
