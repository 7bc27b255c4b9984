//! Values of the access and real-address directives: `allow`/`deny`, `set_real_ip_from`,
//! `real_ip_header`. Pure parsing; `crate::access` turns the results into masks for matching.

use std::net::IpAddr;

use super::model::{AccessRule, Cidr};

/// Why an address argument was refused (the caller adds position and directive).
pub(crate) const EXPECTED_CIDR: &str =
    "expected an IP address or a CIDR range such as 10.0.0.0/8 or 2001:db8::/32";

/// `ADDR` or `ADDR/LEN`. Returns the range with its host bits cleared, and whether any were
/// set (nginx accepts `10.1.2.3/8` with a warning that the low bits are meaningless).
pub(crate) fn parse_cidr(s: &str) -> Option<(Cidr, bool)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let full: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match len {
        None => full,
        Some(l) if !l.is_empty() && l.len() <= 3 && l.bytes().all(|c| c.is_ascii_digit()) => {
            l.parse::<u8>().ok().filter(|p| *p <= full)?
        }
        Some(_) => return None,
    };
    let masked = mask(addr, prefix);
    Some((
        Cidr {
            addr: masked,
            prefix,
        },
        masked != addr,
    ))
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

/// The argument of `allow` / `deny`: `all` or a range. Err: nothing parsed. Ok(_, true): host
/// bits were set (a notice).
pub(crate) fn access_rule(deny: bool, arg: &str) -> Option<(AccessRule, bool)> {
    if arg == "all" {
        return Some((AccessRule { deny, net: None }, false));
    }
    let (net, low_bits) = parse_cidr(arg)?;
    Some((
        AccessRule {
            deny,
            net: Some(net),
        },
        low_bits,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> String {
        parse_cidr(s)
            .map(|(c, _)| c.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn cidr_forms() {
        assert_eq!(cidr("10.0.0.0/8"), "10.0.0.0/8");
        assert_eq!(cidr("127.0.0.1"), "127.0.0.1");
        assert_eq!(cidr("127.0.0.1/32"), "127.0.0.1");
        assert_eq!(cidr("0.0.0.0/0"), "0.0.0.0/0");
        assert_eq!(cidr("2001:db8::/32"), "2001:db8::/32");
        assert_eq!(cidr("::1"), "::1");
        assert_eq!(cidr("::/0"), "::/0");
        assert_eq!(
            parse_cidr("10.1.2.3/8").map(|(c, l)| (c.to_string(), l)),
            Some(("10.0.0.0/8".into(), true))
        );
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::1/129",
            "10.0.0/8",
            "host.example",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "[::1]",
            "1.2.3.4:80",
            "10.0.0.0/0008",
        ] {
            assert_eq!(parse_cidr(bad), None, "{bad}");
        }
    }
}
