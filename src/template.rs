//! Header values and `return` texts with nginx variables, compiled once at config time into
//! literal and variable parts, rendered per request without parsing.

use crate::http::util::push_u64;

/// The request facts a template may read. Filled by the proxy from the parsed head.
#[derive(Clone, Copy)]
pub struct Vars<'a> {
    /// The Host field's name part as sent (empty without Host); `$host` lower-cases it.
    pub host: &'a [u8],
    pub remote_addr: &'a [u8],
    /// The address behind `remote_addr` (`$binary_remote_addr`: 4 or 16 bytes).
    pub remote_ip: std::net::IpAddr,
    /// The connection's peer before `set_real_ip_from` applied (`$realip_remote_addr`).
    pub realip_remote_addr: &'a [u8],
    /// 0 renders empty (a real address taken from a header without a port).
    pub remote_port: u16,
    pub scheme: &'a [u8],
    pub request_uri: &'a [u8],
    pub method: &'a [u8],
    pub server_name: &'a [u8],
    pub server_port: u16,
    /// Looks up a request field (lower-case name); all values joined by ", " into `out`.
    /// Returns false when the field is absent.
    pub header: &'a dyn Fn(&[u8], &mut Vec<u8>) -> bool,
    /// The upstream group or address a proxied request goes to (`$proxy_host`).
    pub proxy_host: &'a [u8],
    /// The current URI with its arguments (`$uri`, `$args`): differs from `request_uri` once a
    /// `rewrite` changed it.
    pub uri: &'a [u8],
    /// Captures of the `rewrite` regex being applied (`$1`…`$9`, named groups).
    pub captures: Option<&'a regex::bytes::Captures<'a>>,
    /// Values of the `auth_request_set` variables, by their index in the config's list (empty
    /// or short: not set, renders empty).
    pub user: &'a [Vec<u8>],
    /// The auth subrequest's response while `auth_request_set` values are evaluated.
    pub auth_response: Option<&'a AuthResponse<'a>>,
    /// The connection's TLS facts (None on plain connections).
    pub tls: Option<&'a TlsFacts>,
    /// `$upstream_cache_status` (`HIT`, `MISS`, …; empty where no cache was consulted).
    pub cache_status: &'a [u8],
}

/// What a TLS connection's handshake settled, rendered once after it (`$https`, `$ssl_*`).
#[derive(Debug, Default)]
pub struct TlsFacts {
    /// `TLSv1.2`, `TLSv1.3`.
    pub protocol: &'static str,
    /// OpenSSL's name of the suite (`ECDHE-ECDSA-AES128-GCM-SHA256`, `TLS_AES_256_GCM_SHA384`).
    pub cipher: &'static str,
    /// OpenSSL's name of the key-exchange group (`X25519`, `prime256v1`).
    pub curve: &'static str,
    pub server_name: Box<[u8]>,
    pub alpn: Box<[u8]>,
    pub session_reused: bool,
    /// Set for a request whose head arrived in early data, before the handshake finished.
    pub early_data: std::cell::Cell<bool>,
    /// `NONE`, `SUCCESS`, `FAILED:reason`.
    pub client_verify: Box<[u8]>,
    pub client: Option<ClientCertFacts>,
}

/// The client certificate's facts, as nginx renders them.
#[derive(Debug, Default)]
pub struct ClientCertFacts {
    /// RFC 2253 subject and issuer.
    pub s_dn: Box<[u8]>,
    pub i_dn: Box<[u8]>,
    /// Upper-case hex.
    pub serial: Box<[u8]>,
    /// SHA-1 of the DER, lower-case hex.
    pub fingerprint: Box<[u8]>,
    /// The PEM, URL-escaped (`$ssl_client_escaped_cert`).
    pub escaped: Box<[u8]>,
    /// The PEM (`$ssl_client_raw_cert`).
    pub pem: Box<[u8]>,
}

/// The `$ssl_*` variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslVar {
    Protocol,
    Cipher,
    Curve,
    ServerName,
    Alpn,
    SessionReused,
    EarlyData,
    ClientVerify,
    ClientSDn,
    ClientIDn,
    ClientSerial,
    ClientFingerprint,
    ClientEscapedCert,
    ClientRawCert,
    /// nginx's deprecated `$ssl_client_cert`: the PEM with continuation lines tab-prefixed.
    ClientCert,
}

/// What `$upstream_status` and `$upstream_http_NAME` read in an `auth_request_set` value.
pub struct AuthResponse<'a> {
    pub status: u16,
    /// Looks up a response field (lower-case name), values joined by ", ".
    pub header: &'a dyn Fn(&[u8], &mut Vec<u8>) -> bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    Host,
    Http(Box<[u8]>),
    /// `$arg_NAME`: the first query argument named NAME, as sent (not decoded).
    Arg(Box<[u8]>),
    RemoteAddr,
    BinaryRemoteAddr,
    RealipRemoteAddr,
    RemotePort,
    ProxyAddXForwardedFor,
    Scheme,
    RequestUri,
    Uri,
    Args,
    ServerName,
    ServerPort,
    RequestMethod,
    ProxyHost,
    Capture(usize),
    Named(Box<str>),
    /// `$is_args`: "?" when the URI has arguments.
    IsArgs,
    /// A variable declared by `auth_request_set` (index into the config's list).
    User(usize),
    /// `$upstream_http_NAME` of the auth response (lower-case field name).
    UpstreamHttp(Box<[u8]>),
    UpstreamStatus,
    /// `$upstream_cache_status`.
    UpstreamCacheStatus,
    /// `$https`: "on" over TLS.
    Https,
    Ssl(SslVar),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(Box<[u8]>),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Compiles nginx's `$name` / `${name}` syntax. Unknown variables are an error naming them.
    pub fn compile(text: &str) -> Result<Template, String> {
        Template::compile_with(text, &[])
    }

    /// As `compile`, with the names `auth_request_set` declares (`Var::User` by index).
    pub fn compile_with(text: &str, user: &[String]) -> Result<Template, String> {
        let pieces = scan(text, |name| match user.iter().position(|u| u == name) {
            Some(i) => Ok(Var::User(i)),
            None => parse_var(name).ok_or_else(|| format!("unknown variable \"${name}\"")),
        })?;
        let parts = pieces
            .into_iter()
            .map(|p| match p {
                Piece::Lit(l) => Part::Lit(l),
                Piece::Var(v) => Part::Var(v),
            })
            .collect();
        Ok(Template { parts })
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// A template of literal text only (no `$` is read as a variable).
    pub fn literal(text: &[u8]) -> Template {
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Lit(text.into())]
        };
        Template { parts }
    }

    /// The template is one variable and nothing else.
    pub fn as_single_var(&self) -> Option<&Var> {
        match self.parts.as_slice() {
            [Part::Var(v)] => Some(v),
            _ => None,
        }
    }

    pub fn render(&self, v: &Vars<'_>, out: &mut Vec<u8>) {
        for p in &self.parts {
            match p {
                Part::Lit(l) => out.extend_from_slice(l),
                Part::Var(var) => render_var(var, v, out),
            }
        }
    }
}

/// A piece of a text with variables: literal bytes or a variable resolved by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<T> {
    Lit(Box<[u8]>),
    Var(T),
}

/// Splits nginx's `$name` / `${name}` syntax into literal runs and variables, each name
/// resolved by `resolve` (its error names the problem). A lone `$` is literal, as in nginx.
/// Shared by templates and access log formats (`observe::format`).
pub(crate) fn scan<T>(
    text: &str,
    mut resolve: impl FnMut(&str) -> Result<T, String>,
) -> Result<Vec<Piece<T>>, String> {
    let mut parts = Vec::new();
    let mut lit = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            lit.push(b[i]);
            i += 1;
            continue;
        }
        let (name, next) = if b.get(i + 1) == Some(&b'{') {
            let end = text[i + 2..]
                .find('}')
                .ok_or_else(|| format!("unterminated variable in \"{text}\""))?;
            (&text[i + 2..i + 2 + end], i + 3 + end)
        } else {
            let len = b[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            (&text[i + 1..i + 1 + len], i + 1 + len)
        };
        if name.is_empty() {
            lit.push(b'$');
            i += 1;
            continue;
        }
        let var = resolve(name)?;
        if !lit.is_empty() {
            parts.push(Piece::Lit(std::mem::take(&mut lit).into_boxed_slice()));
        }
        parts.push(Piece::Var(var));
        i = next;
    }
    if !lit.is_empty() {
        parts.push(Piece::Lit(lit.into_boxed_slice()));
    }
    Ok(parts)
}

pub(crate) fn parse_var(name: &str) -> Option<Var> {
    Some(match name {
        "host" => Var::Host,
        "remote_addr" => Var::RemoteAddr,
        "binary_remote_addr" => Var::BinaryRemoteAddr,
        "realip_remote_addr" => Var::RealipRemoteAddr,
        "remote_port" => Var::RemotePort,
        "proxy_add_x_forwarded_for" => Var::ProxyAddXForwardedFor,
        "scheme" => Var::Scheme,
        "request_uri" => Var::RequestUri,
        "uri" | "document_uri" => Var::Uri,
        "args" | "query_string" => Var::Args,
        "server_name" => Var::ServerName,
        "server_port" => Var::ServerPort,
        "request_method" => Var::RequestMethod,
        "proxy_host" => Var::ProxyHost,
        "is_args" => Var::IsArgs,
        "upstream_status" => Var::UpstreamStatus,
        "upstream_cache_status" => Var::UpstreamCacheStatus,
        "https" => Var::Https,
        n if n.starts_with("ssl_") => Var::Ssl(ssl_var(&n[4..])?),
        n if n.len() > 4 && n.starts_with("arg_") => Var::Arg(n.as_bytes()[4..].into()),
        n if n.len() > 14 && n.starts_with("upstream_http_") => {
            Var::UpstreamHttp(field_name(&n[14..]).into_boxed_slice())
        }
        n if n.len() == 1 && n.as_bytes()[0].is_ascii_digit() => {
            Var::Capture((n.as_bytes()[0] - b'0') as usize)
        }
        _ => {
            let Some(h) = name.strip_prefix("http_") else {
                // A named regex group (`(?P<id>…)` then `$id`); unknown names render empty.
                return name
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_')
                    .then(|| Var::Named(name.into()));
            };
            if h.is_empty() {
                return None;
            }
            Var::Http(field_name(h).into_boxed_slice())
        }
    })
}

/// nginx's `$arg_NAME`: the value of the first `NAME=` (NAME compared without case) in `args`.
fn query_arg<'a>(args: &'a [u8], name: &[u8]) -> &'a [u8] {
    for pair in args.split(|&c| c == b'&') {
        let (k, v) = match pair.iter().position(|&c| c == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        if k.eq_ignore_ascii_case(name) {
            return v;
        }
    }
    b""
}

fn ssl_var(name: &str) -> Option<SslVar> {
    Some(match name {
        "protocol" => SslVar::Protocol,
        "cipher" => SslVar::Cipher,
        "curve" => SslVar::Curve,
        "server_name" => SslVar::ServerName,
        "alpn_protocol" => SslVar::Alpn,
        "session_reused" => SslVar::SessionReused,
        "early_data" => SslVar::EarlyData,
        "client_verify" => SslVar::ClientVerify,
        "client_s_dn" => SslVar::ClientSDn,
        "client_i_dn" => SslVar::ClientIDn,
        "client_serial" => SslVar::ClientSerial,
        "client_fingerprint" => SslVar::ClientFingerprint,
        "client_escaped_cert" => SslVar::ClientEscapedCert,
        "client_raw_cert" => SslVar::ClientRawCert,
        "client_cert" => SslVar::ClientCert,
        _ => return None,
    })
}

fn render_ssl(var: SslVar, t: &TlsFacts, out: &mut Vec<u8>) {
    let cert = t.client.as_ref();
    let field = |f: fn(&ClientCertFacts) -> &[u8]| cert.map(f).unwrap_or(b"");
    match var {
        SslVar::Protocol => out.extend_from_slice(t.protocol.as_bytes()),
        SslVar::Cipher => out.extend_from_slice(t.cipher.as_bytes()),
        SslVar::Curve => out.extend_from_slice(t.curve.as_bytes()),
        SslVar::ServerName => out.extend_from_slice(&t.server_name),
        SslVar::Alpn => out.extend_from_slice(&t.alpn),
        SslVar::SessionReused => out.push(if t.session_reused { b'r' } else { b'.' }),
        SslVar::EarlyData => {
            if t.early_data.get() {
                out.push(b'1');
            }
        }
        SslVar::ClientVerify => out.extend_from_slice(&t.client_verify),
        SslVar::ClientSDn => out.extend_from_slice(field(|c| &c.s_dn)),
        SslVar::ClientIDn => out.extend_from_slice(field(|c| &c.i_dn)),
        SslVar::ClientSerial => out.extend_from_slice(field(|c| &c.serial)),
        SslVar::ClientFingerprint => out.extend_from_slice(field(|c| &c.fingerprint)),
        SslVar::ClientEscapedCert => out.extend_from_slice(field(|c| &c.escaped)),
        SslVar::ClientRawCert => out.extend_from_slice(field(|c| &c.pem)),
        SslVar::ClientCert => {
            for (i, line) in field(|c| &c.pem).split(|&b| b == b'\n').enumerate() {
                if line.is_empty() {
                    continue;
                }
                if i > 0 {
                    out.extend_from_slice(b"\n\t");
                }
                out.extend_from_slice(line);
            }
        }
    }
}

/// nginx maps `$http_x_real_ip` to the field `X-Real-IP` (compared lower-case).
pub(crate) fn field_name(v: &str) -> Vec<u8> {
    v.bytes()
        .map(|c| {
            if c == b'_' {
                b'-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

pub(crate) fn render_var(var: &Var, v: &Vars<'_>, out: &mut Vec<u8>) {
    // Where `$uri` ends and `$args` begins; only those variables look for it.
    let split = || v.uri.iter().position(|&c| c == b'?').unwrap_or(v.uri.len());
    match var {
        // nginx's $host: the Host name lower-cased, else the server's name.
        Var::Host if v.host.is_empty() => out.extend_from_slice(v.server_name),
        Var::Host => out.extend(v.host.iter().map(u8::to_ascii_lowercase)),
        Var::Http(name) => {
            (v.header)(name, out);
        }
        Var::RemoteAddr => out.extend_from_slice(v.remote_addr),
        Var::BinaryRemoteAddr => match v.remote_ip {
            std::net::IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
            std::net::IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
        },
        Var::RealipRemoteAddr => out.extend_from_slice(v.realip_remote_addr),
        Var::RemotePort if v.remote_port == 0 => {}
        Var::RemotePort => push_u64(out, u64::from(v.remote_port)),
        Var::ProxyAddXForwardedFor => {
            if (v.header)(b"x-forwarded-for", out) {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(v.remote_addr);
        }
        Var::Scheme => out.extend_from_slice(v.scheme),
        Var::RequestUri => out.extend_from_slice(v.request_uri),
        Var::Uri => out.extend_from_slice(&v.uri[..split()]),
        Var::Args => {
            let split = split();
            if split < v.uri.len() {
                out.extend_from_slice(&v.uri[split + 1..]);
            }
        }
        Var::Arg(name) => {
            let split = split();
            if split < v.uri.len() {
                out.extend_from_slice(query_arg(&v.uri[split + 1..], name));
            }
        }
        Var::IsArgs => {
            if split() + 1 < v.uri.len() {
                out.push(b'?');
            }
        }
        Var::Capture(n) => {
            if let Some(m) = v.captures.and_then(|c| c.get(*n)) {
                out.extend_from_slice(m.as_bytes());
            }
        }
        Var::Named(name) => {
            if let Some(m) = v.captures.and_then(|c| c.name(name)) {
                out.extend_from_slice(m.as_bytes());
            }
        }
        Var::ServerName => out.extend_from_slice(v.server_name),
        Var::ServerPort => push_u64(out, u64::from(v.server_port)),
        Var::RequestMethod => out.extend_from_slice(v.method),
        Var::ProxyHost => out.extend_from_slice(v.proxy_host),
        Var::User(i) => {
            if let Some(val) = v.user.get(*i) {
                out.extend_from_slice(val);
            }
        }
        Var::UpstreamHttp(name) => {
            if let Some(r) = v.auth_response {
                (r.header)(name, out);
            }
        }
        Var::UpstreamStatus => {
            if let Some(r) = v.auth_response {
                push_u64(out, u64::from(r.status));
            }
        }
        Var::UpstreamCacheStatus => out.extend_from_slice(v.cache_status),
        Var::Https => {
            if v.tls.is_some() {
                out.extend_from_slice(b"on");
            }
        }
        Var::Ssl(s) => {
            if let Some(t) = v.tls {
                render_ssl(*s, t, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(h: &'a dyn Fn(&[u8], &mut Vec<u8>) -> bool) -> Vars<'a> {
        Vars {
            host: b"example.com",
            remote_addr: b"10.0.0.1",
            remote_ip: std::net::IpAddr::from([10, 0, 0, 1]),
            realip_remote_addr: b"192.0.2.7",
            remote_port: 5555,
            scheme: b"http",
            request_uri: b"/a/b?x=1",
            method: b"GET",
            server_name: b"ex",
            server_port: 80,
            header: h,
            proxy_host: b"app",
            uri: b"/a/b?x=1",
            captures: None,
            user: &[],
            auth_response: None,
            tls: None,
            cache_status: b"",
        }
    }

    #[test]
    fn renders_literals_and_variables() {
        let none = |_: &[u8], _: &mut Vec<u8>| false;
        let t =
            Template::compile("$scheme://$host${request_uri}!$uri?$args $remote_port $").unwrap();
        let mut out = Vec::new();
        t.render(&vars(&none), &mut out);
        assert_eq!(out, b"http://example.com/a/b?x=1!/a/b?x=1 5555 $");
        out.clear();
        Template::compile("$binary_remote_addr|$remote_addr")
            .unwrap()
            .render(&vars(&none), &mut out);
        assert_eq!(out, b"\x0a\x00\x00\x01|10.0.0.1");
    }

    #[test]
    fn arg_variables_take_the_first_argument_of_that_name() {
        let none = |_: &[u8], _: &mut Vec<u8>| false;
        let v = Vars {
            uri: b"/p?a=1&nocache=yes&A=2&flag&nocache=no",
            cache_status: b"HIT",
            ..vars(&none)
        };
        let mut out = Vec::new();
        Template::compile("$arg_nocache|$arg_a|$arg_flag|$arg_missing|$upstream_cache_status")
            .unwrap()
            .render(&v, &mut out);
        assert_eq!(out, b"yes|1|||HIT");
        out.clear();
        let bare = Vars {
            uri: b"/p",
            ..vars(&none)
        };
        Template::compile("[$arg_a]")
            .unwrap()
            .render(&bare, &mut out);
        assert_eq!(out, b"[]");
    }

    #[test]
    fn address_variables() {
        let none = |_: &[u8], _: &mut Vec<u8>| false;
        let t = Template::compile("$binary_remote_addr|$realip_remote_addr").unwrap();
        let mut out = Vec::new();
        t.render(&vars(&none), &mut out);
        assert_eq!(out, b"\x0a\x00\x00\x01|192.0.2.7");
        let mut v = vars(&none);
        v.remote_ip = "2001:db8::1".parse().unwrap();
        v.remote_port = 0;
        out.clear();
        Template::compile("$binary_remote_addr$remote_port")
            .unwrap()
            .render(&v, &mut out);
        assert_eq!(out.len(), 16, "16 raw bytes and no port: {out:?}");
        assert_eq!(out[..2], [0x20, 0x01]);
    }

    #[test]
    fn forwarded_for_appends_to_client_value() {
        let some = |name: &[u8], out: &mut Vec<u8>| {
            if name == b"x-forwarded-for" {
                out.extend_from_slice(b"1.2.3.4");
                true
            } else {
                false
            }
        };
        let t = Template::compile("$proxy_add_x_forwarded_for").unwrap();
        let mut out = Vec::new();
        t.render(&vars(&some), &mut out);
        assert_eq!(out, b"1.2.3.4, 10.0.0.1");
        let none = |_: &[u8], _: &mut Vec<u8>| false;
        out.clear();
        t.render(&vars(&none), &mut out);
        assert_eq!(out, b"10.0.0.1");
    }

    #[test]
    fn auth_request_set_variables() {
        let none = |_: &[u8], _: &mut Vec<u8>| false;
        let user = ["a".to_string(), "who".to_string()];
        let t = Template::compile_with("[$who|${a}]", &user).unwrap();
        let vals = [b"1".to_vec(), b"alice".to_vec()];
        let mut v = vars(&none);
        v.user = &vals;
        let mut out = Vec::new();
        t.render(&v, &mut out);
        assert_eq!(out, b"[alice|1]");
        out.clear();
        t.render(&vars(&none), &mut out);
        assert_eq!(out, b"[|]", "unset: empty");
        let resp = |name: &[u8], out: &mut Vec<u8>| {
            name == b"x-user-id" && {
                out.extend_from_slice(b"42");
                true
            }
        };
        let auth = AuthResponse {
            status: 204,
            header: &resp,
        };
        let t = Template::compile("$upstream_status $upstream_http_x_user_id").unwrap();
        let mut v = vars(&none);
        v.auth_response = Some(&auth);
        out.clear();
        t.render(&v, &mut out);
        assert_eq!(out, b"204 42");
        out.clear();
        t.render(&vars(&none), &mut out);
        assert_eq!(out, b" ", "no auth response: empty");
    }

    #[test]
    fn http_variables_map_to_field_names() {
        let t = Template::compile("$http_x_real_ip").unwrap();
        assert_eq!(
            t.as_single_var(),
            Some(&Var::Http(b"x-real-ip".to_vec().into_boxed_slice()))
        );
        assert!(
            Template::compile("$no-pe").is_ok(),
            "`-` ends a variable name"
        );
        assert!(Template::compile("${no-pe}").unwrap_err().contains("no-pe"));
    }
}
