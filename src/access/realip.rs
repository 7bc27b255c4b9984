//! The real client address behind trusted proxies, with ngx_http_realip_module's semantics:
//! the header is believed only when the connection's peer is in `set_real_ip_from`. From the
//! header's last address: without `real_ip_recursive` that address is the client; with it, the
//! walk goes on leftwards while the address in hand is trusted too, so the result is the
//! rightmost address not in `set_real_ip_from` (or the leftmost one, when all are trusted).
//! An address that does not parse ends the walk with what was found before it.

use std::net::{IpAddr, SocketAddr};

use super::rules::{mask32, mask128};
use crate::config;

/// A location's compiled realip settings (present only when `set_real_ip_from` lists any).
#[derive(Debug, Clone)]
pub struct RealIp {
    from4: Box<[(u32, u32)]>,
    from6: Box<[(u128, u128)]>,
    /// Lower-case header name.
    pub header: Box<[u8]>,
    /// X-Forwarded-For: every field line counts, in order; any other header: its first line.
    pub every_line: bool,
    pub recursive: bool,
}

impl RealIp {
    pub fn compile(c: &config::RealIp) -> Option<RealIp> {
        if c.from.is_empty() {
            return None;
        }
        let mut from4 = Vec::new();
        let mut from6 = Vec::new();
        for n in &c.from {
            match n.addr {
                IpAddr::V4(a) => from4.push((u32::from(a), mask32(n.prefix))),
                IpAddr::V6(a) => from6.push((u128::from(a), mask128(n.prefix))),
            }
        }
        let header: Box<[u8]> = c.header.to_ascii_lowercase().into_bytes().into();
        Some(RealIp {
            from4: from4.into(),
            from6: from6.into(),
            every_line: &header[..] == b"x-forwarded-for",
            header,
            recursive: c.recursive,
        })
    }

    /// Is `ip` a trusted proxy? An IPv4-mapped IPv6 address counts as its IPv4 address.
    pub fn trusted(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.from4.iter().any(|(n, m)| a & m == *n)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.from6.iter().any(|(n, m)| a & m == *n)
            }
        }
    }

    /// The client address for a connection from `peer` whose header field values are `lines`,
    /// last line first. None: the peer is not trusted, or the field gave no address. The port
    /// is 0 unless the address was written with one.
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        lines: impl Iterator<Item = &'a [u8]>,
    ) -> Option<(IpAddr, u16)> {
        let mut addr = peer;
        let mut port = 0;
        let mut found = false;
        for line in lines {
            let mut rest = line;
            loop {
                if !self.trusted(addr) {
                    return found.then_some((addr, port));
                }
                while let [head @ .., b' ' | b','] = rest {
                    rest = head;
                }
                let start = rest
                    .iter()
                    .rposition(|&c| c == b' ' || c == b',')
                    .map_or(0, |i| i + 1);
                let Some((a, p)) = parse_addr(&rest[start..]) else {
                    return found.then_some((addr, port));
                };
                (addr, port, found) = (a, p, true);
                rest = &rest[..start];
                if !self.recursive {
                    return Some((addr, port));
                }
                if rest.is_empty() {
                    break;
                }
            }
        }
        found.then_some((addr, port))
    }
}

/// `1.2.3.4`, `::1`, `1.2.3.4:80`, `[::1]:80` or `[::1]` (nginx's ngx_parse_addr_port).
fn parse_addr(s: &[u8]) -> Option<(IpAddr, u16)> {
    let s = std::str::from_utf8(s).ok()?;
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some((ip, 0));
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some((sa.ip(), sa.port()));
    }
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|a| (a.into(), 0))
}

/// An address as `$remote_addr` renders it, kept on the stack (the longest IPv6 text is 45
/// bytes), so a rewritten client address costs no allocation.
#[derive(Clone, Copy)]
pub struct IpText {
    buf: [u8; 46],
    len: u8,
}

impl IpText {
    pub fn new(ip: IpAddr) -> IpText {
        use std::io::Write;
        let mut buf = [0u8; 46];
        let mut w = &mut buf[..];
        // Cannot fail: the text fits by construction.
        let _ = write!(w, "{ip}");
        let left = w.len();
        IpText {
            buf,
            len: (46 - left) as u8,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn realip(from: &[&str], recursive: bool) -> RealIp {
        let from = from
            .iter()
            .map(|f| {
                let (a, p) = f.split_once('/').unwrap_or((f, ""));
                let addr: IpAddr = a.parse().unwrap();
                let full = if addr.is_ipv4() { 32 } else { 128 };
                config::Cidr {
                    addr,
                    prefix: p.parse().unwrap_or(full),
                }
            })
            .collect();
        RealIp::compile(&config::RealIp {
            from,
            header: "X-Forwarded-For".into(),
            recursive,
        })
        .unwrap()
    }

    /// `lines` in field order, as a client sends them.
    fn client(r: &RealIp, peer: &str, lines: &[&str]) -> Option<String> {
        r.client(
            peer.parse().unwrap(),
            lines.iter().rev().map(|l| l.as_bytes()),
        )
        .map(|(a, p)| {
            if p == 0 {
                a.to_string()
            } else {
                format!("{a} {p}")
            }
        })
    }

    #[test]
    fn untrusted_peer_is_never_replaced() {
        let r = realip(&["10.0.0.0/8"], true);
        assert_eq!(client(&r, "192.0.2.1", &["1.1.1.1"]), None);
        assert_eq!(client(&r, "10.0.0.1", &[]), None);
    }

    #[test]
    fn non_recursive_takes_the_last_address() {
        let r = realip(&["10.0.0.0/8"], false);
        let got = client(&r, "10.0.0.1", &["1.1.1.1, 10.0.0.2"]);
        assert_eq!(got.as_deref(), Some("10.0.0.2"));
        let got = client(&r, "10.0.0.1", &["1.1.1.1", "2.2.2.2 , "]);
        assert_eq!(got.as_deref(), Some("2.2.2.2"));
    }

    #[test]
    fn recursive_skips_trusted_addresses_from_the_right() {
        let r = realip(&["10.0.0.0/8", "2001:db8::/32"], true);
        let got = client(&r, "10.0.0.1", &["6.6.6.6, 1.1.1.1, 10.0.0.3,2001:db8::5"]);
        assert_eq!(
            got.as_deref(),
            Some("1.1.1.1"),
            "spoofed 6.6.6.6 must be ignored"
        );
        // Across field lines.
        let got = client(&r, "10.0.0.1", &["6.6.6.6, 1.1.1.1", "10.0.0.3"]);
        assert_eq!(got.as_deref(), Some("1.1.1.1"));
        // All trusted: the leftmost.
        let got = client(&r, "10.0.0.1", &["10.0.0.9, 10.0.0.3"]);
        assert_eq!(got.as_deref(), Some("10.0.0.9"));
        // Garbage stops the walk with what was found.
        let got = client(&r, "10.0.0.1", &["1.1.1.1, junk, 10.0.0.3"]);
        assert_eq!(got.as_deref(), Some("10.0.0.3"));
        assert_eq!(client(&r, "10.0.0.1", &["junk"]), None);
        assert_eq!(client(&r, "10.0.0.1", &[" , "]), None);
    }

    #[test]
    fn ports_brackets_and_mapped_peers() {
        let r = realip(&["127.0.0.1"], false);
        assert_eq!(
            client(&r, "::ffff:127.0.0.1", &["1.2.3.4:5678"]).as_deref(),
            Some("1.2.3.4 5678")
        );
        assert_eq!(
            client(&r, "127.0.0.1", &["[2001:db8::1]:80"]).as_deref(),
            Some("2001:db8::1 80")
        );
        assert_eq!(
            client(&r, "127.0.0.1", &["[2001:db8::1]"]).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(client(&r, "::1", &["1.2.3.4"]), None);
    }

    #[test]
    fn text_fits_every_address() {
        for ip in [
            "1.2.3.4",
            "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
            "::1",
        ] {
            let a: IpAddr = ip.parse().unwrap();
            assert_eq!(IpText::new(a).as_bytes(), a.to_string().as_bytes());
        }
        let a: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap();
        assert_eq!(IpText::new(a).as_bytes(), a.to_string().as_bytes());
    }
}
