//! Argument values: times, sizes, flags, numbers, `$variable` templates, regexes, addresses.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Variables ringway evaluates (plus `$http_NAME` for any request field, and regex captures
/// `$1`..`$9` and named captures). The request path's template code implements exactly these.
pub const SUPPORTED_VARIABLES: &[&str] = &[
    "host",
    "remote_addr",
    "remote_port",
    "proxy_add_x_forwarded_for",
    "scheme",
    "request_uri",
    "uri",
    "args",
    "server_name",
    "server_port",
    "request_method",
    "proxy_host",
    "binary_remote_addr",
    "realip_remote_addr",
    "https",
    "ssl_protocol",
    "ssl_cipher",
    "ssl_server_name",
    "ssl_session_reused",
    "ssl_early_data",
    "ssl_client_verify",
    "ssl_client_s_dn",
    "ssl_client_i_dn",
    "ssl_client_serial",
    "ssl_client_fingerprint",
    "ssl_client_escaped_cert",
    "ssl_client_cert",
    "ssl_client_raw_cert",
    "ssl_alpn_protocol",
    "ssl_curve",
    "upstream_cache_status",
];

/// Variables nginx knows that ringway does not provide yet (so the error can say "not supported
/// yet" rather than "unknown").
const NGINX_VARIABLES: &[&str] = &[
    // rustls does not expose the session ID.
    "ssl_session_id",
    "body_bytes_sent",
    "bytes_sent",
    "connection",
    "connection_requests",
    "connection_time",
    "content_length",
    "content_type",
    "date_gmt",
    "date_local",
    "document_root",
    "document_uri",
    "gzip_ratio",
    "hostname",
    "http2",
    "http3",
    "invalid_referer",
    "is_args",
    "limit_conn_status",
    "limit_rate",
    "limit_req_status",
    "msec",
    "nginx_version",
    "pid",
    "pipe",
    "proxy_add_via",
    "proxy_port",
    "proxy_protocol_addr",
    "proxy_protocol_port",
    "query_string",
    "realip_remote_port",
    "realpath_root",
    "remote_user",
    "request",
    "request_body",
    "request_body_file",
    "request_completion",
    "request_filename",
    "request_id",
    "request_length",
    "request_time",
    "secure_link",
    "secure_link_expires",
    "server_addr",
    "server_protocol",
    "status",
    "time_iso8601",
    "time_local",
    "uid_got",
    "uid_set",
    "upstream_addr",
    "upstream_bytes_received",
    "upstream_bytes_sent",
    "upstream_connect_time",
    "upstream_header_time",
    "upstream_queue_time",
    "upstream_response_length",
    "upstream_response_time",
    "upstream_status",
];

const NGINX_VARIABLE_PREFIXES: &[&str] = &[
    "arg_",
    "cookie_",
    "sent_http_",
    "sent_trailer_",
    "upstream_http_",
    "upstream_cookie_",
    "upstream_trailer_",
    "ssl_",
    "tcpinfo_",
    "geoip_",
    "jwt_",
];

/// Checks every `$name` / `${name}` in a template. `captures` holds named regex captures in scope.
/// Err is the message.
pub(crate) fn check_variables(text: &str, captures: &HashSet<String>) -> Result<(), String> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        i += 1;
        let name = if b.get(i) == Some(&b'{') {
            let Some(close) = text[i..].find('}') else {
                return Err(format!(
                    "the closing bracket in \"{}\" variable is missing",
                    &text[i + 1..]
                ));
            };
            let name = &text[i + 1..i + close];
            i += close + 1;
            name
        } else if b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        } else {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            &text[start..i]
        };
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
            return Err(format!("invalid variable name in \"{text}\""));
        }
        if name.bytes().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if SUPPORTED_VARIABLES.contains(&name)
            || (name.len() > 5 && name.starts_with("http_"))
            || (name.len() > 4 && name.starts_with("arg_"))
            || captures.contains(name)
        {
            continue;
        }
        if NGINX_VARIABLES.contains(&name)
            || NGINX_VARIABLE_PREFIXES
                .iter()
                .any(|p| name.len() > p.len() && name.starts_with(p))
        {
            return Err(format!(
                "variable \"${name}\" is not supported yet by ringway"
            ));
        }
        return Err(format!("unknown \"{name}\" variable"));
    }
    Ok(())
}

pub(crate) fn has_variables(text: &str) -> bool {
    text.contains('$')
}

/// nginx time syntax: `30s`, `5m`, `1h`, `500ms`, `1d`, `1w`, `1M` (30 days), `1y`, combinations
/// like `1h30m`, and a plain number of seconds.
pub(crate) fn parse_time(s: &str) -> Option<Duration> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total_ms: u64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
        let n: u64 = s[start..i].parse().ok()?;
        let unit_ms: u64 = if s[i..].starts_with("ms") {
            i += 2;
            1
        } else {
            let u = b.get(i).copied();
            if u.is_some() {
                i += 1;
            }
            match u {
                None | Some(b's') => 1000,
                Some(b'm') => 60_000,
                Some(b'h') => 3_600_000,
                Some(b'd') => 86_400_000,
                Some(b'w') => 7 * 86_400_000,
                Some(b'M') => 30 * 86_400_000,
                Some(b'y') => 365 * 86_400_000,
                _ => return None,
            }
        };
        total_ms = total_ms.checked_add(n.checked_mul(unit_ms)?)?;
    }
    Some(Duration::from_millis(total_ms))
}

/// nginx size syntax: bytes, or with `k`/`K`, `m`/`M`, `g`/`G`.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1024),
        b'm' | b'M' => (&s[..s.len() - 1], 1024 * 1024),
        b'g' | b'G' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    if num.is_empty() || !num.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    num.parse::<u64>().ok()?.checked_mul(mult)
}

pub(crate) fn parse_num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Renders a duration the way it can be written back (`60s`, `500ms`, `5m`).
pub(crate) fn fmt_time(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if ms == 0 {
        "0s".into()
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

pub(crate) fn fmt_size(n: u64) -> String {
    if n == 0 {
        "0".into()
    } else if n.is_multiple_of(1024 * 1024 * 1024) {
        format!("{}g", n / (1024 * 1024 * 1024))
    } else if n.is_multiple_of(1024 * 1024) {
        format!("{}m", n / (1024 * 1024))
    } else if n.is_multiple_of(1024) {
        format!("{}k", n / 1024)
    } else {
        n.to_string()
    }
}

/// Compiles a regex the way the router will; Err is a one-line reason.
pub(crate) fn check_regex(pattern: &str, case_insensitive: bool) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .build()
        .map_err(|e| {
            let text = e.to_string();
            // regex's messages span lines (pattern, caret, reason): keep the reason.
            let reason = text
                .lines()
                .rev()
                .find(|l| l.trim_start().starts_with("error:"))
                .map(|l| {
                    l.trim_start()
                        .trim_start_matches("error:")
                        .trim()
                        .to_string()
                })
                .unwrap_or_else(|| text.lines().last().unwrap_or("").trim().to_string());
            format!("invalid regular expression \"{pattern}\": {reason}")
        })
}

/// Named capture groups of a compiled regex (they become variables).
pub(crate) fn capture_names(re: &regex::Regex, into: &mut HashSet<String>) {
    into.extend(re.capture_names().flatten().map(str::to_string));
}

/// A `host[:port]` / `[v6][:port]` authority split into host and optional port. Err: message.
pub(crate) fn split_authority(s: &str) -> Result<(&str, Option<u16>), &'static str> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return Err("invalid IPv6 address");
        };
        let host = &s[..close + 2];
        let after = &rest[close + 1..];
        if after.is_empty() {
            (host, None)
        } else if let Some(p) = after.strip_prefix(':') {
            (host, Some(p))
        } else {
            return Err("invalid host");
        }
    } else if let Some((h, p)) = s.rsplit_once(':') {
        (h, Some(p))
    } else {
        (s, None)
    };
    if host.is_empty() || host.contains(':') && !host.starts_with('[') {
        return Err("no host");
    }
    if host.starts_with('[')
        && host[1..host.len() - 1]
            .parse::<std::net::Ipv6Addr>()
            .is_err()
    {
        return Err("invalid IPv6 address");
    }
    let port = match port {
        None => None,
        Some(p) => match parse_num::<u16>(p) {
            Some(n) if n > 0 => Some(n),
            _ => return Err("invalid port"),
        },
    };
    Ok((host, port))
}

/// The addresses a `listen` address argument stands for. Err: message.
pub(crate) fn listen_addrs(s: &str) -> Result<Vec<SocketAddr>, String> {
    let bad_port = || format!("invalid port in \"{s}\" of the \"listen\" directive");
    let bad_host = || format!("invalid host in \"{s}\" of the \"listen\" directive");
    let (host, port): (&str, u16) = if s.bytes().all(|c| c.is_ascii_digit()) {
        match parse_num::<u16>(s) {
            Some(p) if p > 0 => ("*", p),
            _ => return Err(bad_port()),
        }
    } else if s == "*" {
        ("*", 80)
    } else {
        match split_authority(s) {
            Ok((h, p)) => (h, p.unwrap_or(80)),
            Err("invalid port") => return Err(bad_port()),
            Err(_) => return Err(bad_host()),
        }
    };
    let ip: IpAddr = if host == "*" {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        match v6.parse() {
            Ok(ip) => IpAddr::V6(ip),
            Err(_) => return Err(bad_host()),
        }
    } else if let Ok(ip) = host.parse::<Ipv4Addr>() {
        IpAddr::V4(ip)
    } else {
        // A hostname: nginx resolves it when reading the config and listens on every address.
        // Fuzz builds never ask DNS (slow, and off the loopback): the name is not found.
        if cfg!(fuzzing) {
            return Err(format!(
                "host not found in \"{s}\" of the \"listen\" directive"
            ));
        }
        let mut out: Vec<SocketAddr> = Vec::new();
        match (host, port).to_socket_addrs() {
            Ok(addrs) => {
                for a in addrs {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
            Err(_) => {
                return Err(format!(
                    "host not found in \"{s}\" of the \"listen\" directive"
                ));
            }
        }
        if out.is_empty() {
            return Err(format!(
                "host not found in \"{s}\" of the \"listen\" directive"
            ));
        }
        return Ok(out);
    };
    Ok(vec![SocketAddr::new(ip, port)])
}

/// Is `name` a valid HTTP field name (RFC 9110 token)?
pub(crate) fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(crate::http::util::is_tchar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_time("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_time("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_time("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_time("1d"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_time("0"), Some(Duration::ZERO));
        for bad in ["", "s", "30x", "-1", "1.5s", "m5", "30 s"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        for d in [0, 500, 1000, 60_000, 90_000, 3_600_000, 5_400_000] {
            let d = Duration::from_millis(d);
            assert_eq!(parse_time(&fmt_time(d)), Some(d));
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("8K"), Some(8192));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("0"), Some(0));
        for bad in ["", "k", "10x", "1.5m", "-1", "10mb"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        for n in [0, 1, 1024, 1536, 1 << 20, 3 << 30] {
            assert_eq!(parse_size(&fmt_size(n)), Some(n));
        }
    }

    #[test]
    fn variables() {
        let none = HashSet::new();
        assert!(check_variables("$host", &none).is_ok());
        assert!(check_variables("${host}x$1 $http_x_real_ip", &none).is_ok());
        assert!(check_variables("https://$host$request_uri", &none).is_ok());
        assert!(check_variables("plain text", &none).is_ok());
        assert_eq!(
            check_variables("$hots", &none),
            Err("unknown \"hots\" variable".into())
        );
        assert_eq!(
            check_variables("$upstream_connect_time", &none),
            Err("variable \"$upstream_connect_time\" is not supported yet by ringway".into())
        );
        assert_eq!(
            check_variables("cost $", &none),
            Err("invalid variable name in \"cost $\"".into())
        );
        assert!(check_variables("${host", &none).is_err());
        let caps: HashSet<String> = ["rest".to_string()].into();
        assert!(check_variables("/x/$rest", &caps).is_ok());
    }

    #[test]
    fn listen_forms() {
        let one = |s: &str| listen_addrs(s).map(|v| v[0].to_string());
        assert_eq!(one("80").as_deref(), Ok("0.0.0.0:80"));
        assert_eq!(one("127.0.0.1:8080").as_deref(), Ok("127.0.0.1:8080"));
        assert_eq!(one("127.0.0.1").as_deref(), Ok("127.0.0.1:80"));
        assert_eq!(one("[::1]:80").as_deref(), Ok("[::1]:80"));
        assert_eq!(one("[::]").as_deref(), Ok("[::]:80"));
        assert_eq!(one("*:80").as_deref(), Ok("0.0.0.0:80"));
        assert_eq!(one("*").as_deref(), Ok("0.0.0.0:80"));
        assert_eq!(one("localhost:80").as_deref(), Ok("127.0.0.1:80"));
        assert!(one("0").is_err());
        assert!(one("70000").is_err());
        assert!(one("1.2.3.4:x").is_err());
        assert!(one("[::1").is_err());
        assert!(one("::1").is_err());
    }

    #[test]
    fn authority() {
        assert_eq!(split_authority("app"), Ok(("app", None)));
        assert_eq!(split_authority("a:81"), Ok(("a", Some(81))));
        assert_eq!(split_authority("[::1]:81"), Ok(("[::1]", Some(81))));
        assert!(split_authority(":81").is_err());
        assert!(split_authority("a:0").is_err());
        assert!(split_authority("a:").is_err());
    }

    #[test]
    fn regexes() {
        assert!(check_regex(r"\.(gif|jpg)$", false).is_ok());
        let e = check_regex("(", false).unwrap_err();
        assert!(e.starts_with("invalid regular expression \"(\": "), "{e}");
        assert!(!e.contains('\n'));
    }
}
