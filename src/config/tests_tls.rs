//! Front-end tests for TLS: `listen … ssl`, the `ssl_*` directives, `proxy_pass https://`,
//! `proxy_ssl_*`, the TLS variables and the `-T` dump of all of them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::tls::*;
use super::*;

/// A folder holding `ringway.conf` and ticket key files, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("ringway-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("k48.key"), [7u8; 48]).unwrap();
        std::fs::write(d.join("k80.key"), [9u8; 80]).unwrap();
        std::fs::write(d.join("k47.key"), [1u8; 47]).unwrap();
        Dir(d)
    }

    fn conf(&self) -> PathBuf {
        self.0.join("ringway.conf")
    }

    fn load(&self, text: &str) -> Result<Config, ConfigError> {
        parse_str(text, &self.conf())
    }

    fn err(&self, text: &str) -> String {
        match self.load(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string().replace(&format!("{}/", self.0.display()), ""),
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_str(text, Path::new("/etc/ringway/ringway.conf"))
}

fn ok(text: &str) -> Config {
    parse(text).unwrap_or_else(|e| panic!("expected the config to load, got: {e}\n{text}"))
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string().replace("/etc/ringway/", ""),
    }
}

/// `http { BODY server { SERVER } }`: the server's first line is line 4, column 9.
fn conf(http: &str, server: &str) -> String {
    format!("http {{\n{http}\n    server {{\n{server}\n    }}\n}}\n")
}

const CERT: &str = "        ssl_certificate a.crt;\n        ssl_certificate_key a.key;";

fn tls_server(body: &str) -> ServerTls {
    let c = ok(&conf(
        "",
        &format!("        listen 443 ssl;\n{CERT}\n{body}"),
    ));
    c.servers[0].tls.clone()
}

/// The dump reads back to the same dump.
fn round_trip(cfg: &Config) -> String {
    let first = dump(cfg);
    let mut again = parse_str(&first, &cfg.source).unwrap_or_else(|e| panic!("{e}\n{first}"));
    // Notices are comments in the dump, not directives.
    again.notices = cfg.notices.clone();
    assert_eq!(first, dump(&again));
    first
}

#[test]
fn listen_ssl_and_certificates() {
    let c = ok(&conf(
        "",
        &format!("        listen 443 ssl;\n        listen 80;\n{CERT}"),
    ));
    let s = &c.servers[0];
    assert!(s.listen[0].ssl);
    assert!(!s.listen[1].ssl);
    assert_eq!(
        s.tls.certificates,
        vec![CertPair {
            cert: "/etc/ringway/a.crt".into(),
            key: "/etc/ringway/a.key".into(),
            at: "/etc/ringway/ringway.conf:6".into(),
        }]
    );
    // Two pairs (RSA and ECDSA), paired in order; absolute paths stay as written.
    let t =
        tls_server("        ssl_certificate /x/ec.crt;\n        ssl_certificate_key /x/ec.key;");
    assert_eq!(t.certificates.len(), 2);
    assert_eq!(t.certificates[1].cert, PathBuf::from("/x/ec.crt"));
    assert_eq!(t.certificates[1].key, PathBuf::from("/x/ec.key"));
}

/// `ssl` belongs to the address: every server listening there speaks TLS; only the default
/// server must have a certificate (the others answer with its certificate), as in nginx.
#[test]
fn ssl_is_per_address() {
    let c = ok(&format!(
        "http {{\n    server {{\n        listen 443 ssl;\n{CERT}\n    }}\n    \
         server {{\n        listen 443;\n        server_name b;\n    }}\n    \
         server {{\n        listen 127.0.0.1:443;\n    }}\n}}\n"
    ));
    assert!(c.servers[1].listen[0].ssl);
    assert!(c.servers[1].tls.certificates.is_empty());
    assert!(
        !c.servers[2].listen[0].ssl,
        "another address is another socket"
    );
    // The default server (here: by default_server) lacks a certificate.
    assert_eq!(
        err(&format!(
            "http {{\n    server {{\n        listen 443 ssl;\n{CERT}\n    }}\n    \
             server {{\n        listen 443 default_server;\n    }}\n}}\n"
        )),
        "ringway.conf:8:9: no \"ssl_certificate\" is defined for the \"listen ... ssl\" \
         directive in ringway.conf:7 (every server on 0.0.0.0:443 speaks TLS)"
    );
    // `ssl_reject_handshake on` in the default server: then every server needs one.
    let reject = "    server {\n        listen 443 ssl default_server;\n        \
                  ssl_reject_handshake on;\n    }\n";
    let c = ok(&format!(
        "http {{\n{reject}    server {{\n        listen 443;\n        server_name a;\n{CERT}\n    }}\n}}\n"
    ));
    assert!(c.servers[0].tls.reject_handshake);
    assert_eq!(
        err(&format!(
            "http {{\n{reject}    server {{\n        listen 443;\n        server_name a;\n    }}\n}}\n"
        )),
        "ringway.conf:7:9: no \"ssl_certificate\" is defined for the \"listen ... ssl\" \
         directive in ringway.conf:6 (every server on 0.0.0.0:443 speaks TLS)"
    );
}

#[test]
fn old_ssl_on_directive() {
    let c = ok(&conf(
        "",
        &format!("        listen 8443;\n        ssl on;\n{CERT}"),
    ));
    assert!(c.servers[0].listen[0].ssl);
    assert!(
        c.notices
            .iter()
            .any(|n| n.contains("\"ssl\" directive is deprecated"))
    );
    // Without listen: the default address, over TLS.
    let c = ok(&conf("    ssl on;", CERT));
    assert!(c.servers[0].listen[0].ssl);
    let c = ok(&conf("", "        listen 80;\n        ssl off;"));
    assert!(!c.servers[0].listen[0].ssl);
}

#[test]
fn every_server_directive() {
    let d = Dir::new("all");
    let text = conf(
        "",
        &format!(
            "        listen 443 ssl;\n{CERT}\n        ssl_protocols TLSv1.3;\n        \
             ssl_ciphers ECDHE+AESGCM;\n        ssl_prefer_server_ciphers on;\n        \
             ssl_ecdh_curve X25519MLKEM768:X25519:P-256;\n        ssl_session_cache builtin:1000 shared:SSL:10m;\n        \
             ssl_session_timeout 1h;\n        ssl_session_tickets off;\n        \
             ssl_session_ticket_key k80.key;\n        ssl_session_ticket_key k48.key;\n        \
             ssl_stapling on;\n        ssl_stapling_file ocsp.der;\n        ssl_stapling_verify on;\n        \
             ssl_verify_client optional;\n        ssl_client_certificate ca.pem;\n        \
             ssl_trusted_certificate chain.pem;\n        ssl_verify_depth 3;\n        ssl_crl crl.pem;\n        \
             ssl_reject_handshake off;\n        ssl_early_data on;\n        ssl_buffer_size 4k;\n        \
             ssl_handshake_timeout 10s;\n        ssl_password_file pass.txt;\n        \
             ssl_dhparam dh.pem;"
        ),
    );
    let c = d.load(&text).unwrap();
    let t = &c.servers[0].tls;
    let p = |f: &str| d.0.join(f);
    assert_eq!(
        t.protocols,
        Protocols {
            tls12: false,
            tls13: true
        }
    );
    assert_eq!(t.ciphers.written, "ECDHE+AESGCM");
    assert_eq!(t.ciphers.tls12.len(), 4);
    assert!(t.prefer_server_ciphers);
    assert_eq!(
        t.ecdh_curves,
        Some(vec![Curve::X25519Mlkem768, Curve::X25519, Curve::P256])
    );
    assert_eq!(t.session_cache, SessionCache::Sessions(1000 + 40000));
    assert_eq!(t.session_timeout, Duration::from_secs(3600));
    assert!(!t.session_tickets);
    let keys: Vec<&PathBuf> = t.session_ticket_keys.iter().map(|k| &k.path).collect();
    assert_eq!(keys, vec![&p("k80.key"), &p("k48.key")]);
    assert!(t.stapling);
    assert_eq!(t.stapling_file.as_ref().unwrap().path, p("ocsp.der"));
    assert_eq!(t.verify_client, VerifyClient::Optional);
    assert_eq!(t.client_certificate.as_ref().unwrap().path, p("ca.pem"));
    assert_eq!(t.trusted_certificate.as_ref().unwrap().path, p("chain.pem"));
    assert_eq!(t.verify_depth, 3);
    assert_eq!(t.crl.as_ref().unwrap().path, p("crl.pem"));
    assert!(!t.reject_handshake);
    assert!(t.early_data);
    assert_eq!(t.buffer_size, 4096);
    assert_eq!(t.handshake_timeout, Duration::from_secs(10));
    assert_eq!(t.password_file.as_ref().unwrap().path, p("pass.txt"));
    assert_eq!(
        t.crl.as_ref().unwrap().at,
        format!("{}:23", d.conf().display())
    );
    let notices = c.notices.join("\n");
    assert!(
        notices.contains("ignored: ssl_stapling_verify"),
        "{notices}"
    );
    assert!(
        notices.contains("ignored: ssl_dhparam (ringway offers no DHE"),
        "{notices}"
    );
    // ECDHE+AESGCM selects only suites ringway offers: no notice.
    assert!(!notices.contains("ssl_ciphers"), "{notices}");
    let dumped = round_trip(&c);
    for line in [
        "listen 0.0.0.0:443 ssl backlog=511;",
        "ssl_protocols TLSv1.3;",
        "ssl_ciphers ECDHE+AESGCM;",
        "ssl_ecdh_curve X25519MLKEM768:X25519:prime256v1;",
        "ssl_session_cache builtin:41000;",
        "ssl_verify_client optional;",
        "ssl_handshake_timeout 10s;",
        "ssl_buffer_size 4k;",
    ] {
        assert!(dumped.contains(line), "{line} in\n{dumped}");
    }
}

#[test]
fn defaults() {
    let t = tls_server("");
    assert_eq!(t.protocols, Protocols::default());
    assert_eq!(t.ciphers.written, "HIGH:!aNULL:!MD5");
    // OpenSSL's order for nginx's default string.
    assert_eq!(t.ciphers.tls12[0], Tls12Suite::EcdheEcdsaAes256Gcm);
    assert_eq!(t.ciphers.tls12[1], Tls12Suite::EcdheRsaAes256Gcm);
    assert_eq!(t.session_cache, SessionCache::None);
    assert_eq!(t.session_timeout, Duration::from_secs(300));
    assert!(t.session_tickets);
    assert_eq!(t.verify_client, VerifyClient::Off);
    assert_eq!(t.verify_depth, 1);
    assert_eq!(t.buffer_size, 16384);
    assert_eq!(t.handshake_timeout, Duration::from_secs(60));
    assert!(!t.early_data);
    // The handshake is bounded by client_header_timeout unless ssl_handshake_timeout says.
    let t = tls_server("        client_header_timeout 7s;");
    assert_eq!(t.handshake_timeout, Duration::from_secs(7));
    let c = ok(&conf("", "        listen 80;"));
    assert!(!c.servers[0].listen[0].ssl);
    assert_eq!(c.servers[0].settings.proxy_ssl.ciphers.written, "DEFAULT");
    assert!(!dump(&c).contains("ssl"));
}

#[test]
fn http_level_inherits_into_servers() {
    let http = "    ssl_certificate a.crt;\n    ssl_certificate_key a.key;\n    \
                ssl_protocols TLSv1.2;\n    ssl_session_cache shared:SSL:1m;";
    let c = ok(&format!(
        "http {{\n{http}\n    server {{\n        listen 443 ssl;\n    }}\n    \
         server {{\n        listen 8443 ssl;\n        ssl_protocols TLSv1.3;\n        \
         ssl_certificate b.crt;\n    }}\n}}\n"
    ));
    let (a, b) = (&c.servers[0].tls, &c.servers[1].tls);
    assert_eq!(a.certificates[0].cert, PathBuf::from("/etc/ringway/a.crt"));
    assert_eq!(
        a.protocols,
        Protocols {
            tls12: true,
            tls13: false
        }
    );
    assert_eq!(a.session_cache, SessionCache::Sessions(4000));
    assert_eq!(
        b.protocols,
        Protocols {
            tls12: false,
            tls13: true
        }
    );
    // Certificates and keys inherit separately, as in nginx: b.crt pairs with the http key.
    assert_eq!(b.certificates[0].cert, PathBuf::from("/etc/ringway/b.crt"));
    assert_eq!(b.certificates[0].key, PathBuf::from("/etc/ringway/a.key"));
    assert_eq!(b.session_cache, SessionCache::Sessions(4000));
    round_trip(&c);
}

#[test]
fn server_directive_errors() {
    let at = |body: &str| {
        err(&conf(
            "",
            &format!("        listen 443 ssl;\n{CERT}\n{body}"),
        ))
    };
    assert_eq!(
        err(&conf(
            "",
            "        listen 443 ssl;\n        ssl_certificate a.crt;"
        )),
        "ringway.conf:5:9: no \"ssl_certificate_key\" is defined for certificate \"a.crt\""
    );
    assert_eq!(
        at("        ssl_verify_client on;"),
        "ringway.conf:7:9: no ssl_client_certificate or ssl_trusted_certificate for ssl_verify_client"
    );
    assert!(
        tls_server("        ssl_verify_client optional_no_ca;").verify_client
            == VerifyClient::OptionalNoCa
    );
    assert_eq!(
        at("        ssl_protocols TLSv1 TLSv1.1;"),
        "ringway.conf:7:9: \"ssl_protocols\" enables no protocol ringway offers (TLSv1.2, TLSv1.3)"
    );
    assert_eq!(
        at("        ssl_protocols TLSv1.4;"),
        "ringway.conf:7:23: invalid value \"TLSv1.4\" in \"ssl_protocols\" directive, it must be \
         SSLv2, SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3"
    );
    assert_eq!(
        at("        ssl_ciphers HIGH:!aNULL:!MD6;"),
        "ringway.conf:7:21: unknown cipher or alias \"MD6\" in \"HIGH:!aNULL:!MD6\""
    );
    assert_eq!(
        at("        ssl_ciphers DHE-RSA-AES128-GCM-SHA256:AES128-SHA;"),
        "ringway.conf:7:21: \"ssl_ciphers\" selects no cipher suite ringway offers (ECDHE-ECDSA \
         or ECDHE-RSA with AES-GCM or CHACHA20-POLY1305) in \"DHE-RSA-AES128-GCM-SHA256:AES128-SHA\""
    );
    assert_eq!(
        at("        ssl_ecdh_curve X25519:secp521r1;"),
        "ringway.conf:7:24: the curve \"secp521r1\" in \"ssl_ecdh_curve\" is not supported by \
         ringway (it offers X25519, P-256, P-384 and X25519MLKEM768)"
    );
    assert_eq!(
        at("        ssl_session_cache shared:SSL:1k;"),
        "ringway.conf:7:27: session cache \"shared:SSL:1k\" is too small"
    );
    assert_eq!(
        at("        ssl_session_cache lru:10;"),
        "ringway.conf:7:27: invalid session cache \"lru:10\""
    );
    assert_eq!(
        at("        ssl_session_cache none builtin;"),
        "ringway.conf:7:27: invalid session cache \"none\""
    );
    assert_eq!(
        at("        ssl_certificate $ssl_server_name.crt;"),
        "ringway.conf:7:25: variables in \"ssl_certificate\" are not supported (ringway reads \
         the file when the config is loaded)"
    );
    assert_eq!(
        at("        ssl_certificate_key engine:pkcs11:key;"),
        "ringway.conf:7:29: \"engine:\" in \"ssl_certificate_key\" is not supported (ringway \
         reads certificates and keys from files)"
    );
    assert_eq!(
        at("        ssl_buffer_size 100;"),
        "ringway.conf:7:25: invalid value \"100\" in \"ssl_buffer_size\" directive, expected a \
         size of at least 512"
    );
    assert_eq!(
        at("        ssl_verify_client maybe;"),
        "ringway.conf:7:27: invalid value \"maybe\" in \"ssl_verify_client\" directive, it must be \
         \"on\", \"off\", \"optional\" or \"optional_no_ca\""
    );
    assert_eq!(
        at("        ssl_protocols TLSv1.2;\n        ssl_protocols TLSv1.3;"),
        "ringway.conf:8:9: \"ssl_protocols\" directive is duplicate"
    );
    assert_eq!(
        at("        ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;"),
        "ringway.conf:7:9: \"ssl_conf_command\" is not supported yet by ringway (it would \
         change how requests are handled)"
    );
    assert_eq!(
        err(&conf(
            "",
            "        location / {\n            ssl_protocols TLSv1.2;\n        }"
        )),
        "ringway.conf:5:13: \"ssl_protocols\" directive is not allowed here"
    );
}

#[test]
fn old_protocols_and_ciphers_give_notices() {
    let c = ok(&conf(
        "",
        &format!(
            "        listen 443 ssl;\n{CERT}\n        ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n        \
             ssl_ciphers EECDH+AESGCM:EDH+AESGCM:TLS_AES_128_GCM_SHA256;"
        ),
    ));
    let n = c.notices.join("\n");
    assert!(
        n.contains(
            "ringway.conf:7: ignored: ssl_protocols TLSv1 TLSv1.1 (ringway offers only TLSv1.2 and TLSv1.3)"
        ),
        "{n}"
    );
    assert!(
        n.contains(
            "ringway.conf:8: ssl_ciphers: ringway offers only ECDHE with AES-GCM and ChaCha20 in \
             TLS 1.2 (TLS 1.3 suites are always offered): skipped DHE-DSS-AES256-GCM-SHA384, \
             DHE-RSA-AES256-GCM-SHA384, DHE-DSS-AES128-GCM-SHA256, DHE-RSA-AES128-GCM-SHA256, \
             TLS_AES_128_GCM_SHA256"
        ),
        "{n}"
    );
    assert_eq!(
        c.servers[0].tls.protocols,
        Protocols {
            tls12: true,
            tls13: false
        }
    );
}

#[test]
fn session_ticket_key_files_are_checked() {
    let d = Dir::new("keys");
    let body = |f: &str| {
        conf(
            "",
            &format!("        listen 443 ssl;\n{CERT}\n        ssl_session_ticket_key {f};"),
        )
    };
    assert!(d.load(&body("k48.key")).is_ok());
    assert_eq!(
        d.err(&body("k47.key")),
        "ringway.conf:7:32: \"ssl_session_ticket_key\" file \"k47.key\" must be 48 or 80 bytes"
    );
    let e = d.err(&body("missing.key"));
    assert!(
        e.starts_with(
            "ringway.conf:7:32: cannot read \"ssl_session_ticket_key\" file \"missing.key\": "
        ),
        "{e}"
    );
    assert!(
        d.err(&body("$host.key"))
            .contains("variables in \"ssl_session_ticket_key\"")
    );
}

#[test]
fn proxy_pass_https() {
    let c = ok(
        "http {\n    upstream app {\n        server 10.0.0.1:443;\n    }\n    server {\n        \
         location /a { proxy_pass https://app/v1/; }\n        \
         location /b { proxy_pass https://api.example.com; }\n        \
         location /c { proxy_pass https://10.0.0.2:8443; }\n        \
         location /d { proxy_pass http://10.0.0.2; }\n    }\n}\n",
    );
    let p = |i: usize| match &c.servers[0].locations[i].action {
        Action::Proxy(p) => p.clone(),
        a => panic!("{a:?}"),
    };
    assert!(p(0).tls && p(0).is_upstream);
    assert_eq!(
        (p(0).target.as_str(), p(0).url.as_str()),
        ("app", "https://app/v1/")
    );
    assert_eq!(p(1).target, "api.example.com:443");
    assert_eq!(p(2).target, "10.0.0.2:8443");
    assert!(!p(3).tls);
    let dumped = round_trip(&c);
    assert!(dumped.contains("proxy_pass https://app/v1/;"), "{dumped}");
    assert!(
        dumped.contains("proxy_pass https://api.example.com:443;"),
        "{dumped}"
    );
}

#[test]
fn proxy_ssl_inherits_http_server_location() {
    let c = ok(&conf(
        "    proxy_ssl_verify on;\n    proxy_ssl_trusted_certificate ca.pem;\n    \
         proxy_ssl_protocols TLSv1.2 TLSv1.3;",
        "        proxy_ssl_server_name on;\n        proxy_ssl_name backend.internal;\n        \
         location / {\n            proxy_ssl_verify_depth 4;\n            \
         proxy_ssl_certificate c.crt;\n            proxy_ssl_certificate_key c.key;\n            \
         proxy_ssl_session_reuse off;\n            proxy_ssl_ciphers ECDHE+CHACHA20;\n            \
         proxy_ssl_crl crl.pem;\n            proxy_ssl_password_file pw;\n            \
         location /inner {\n                proxy_ssl_verify off;\n                \
         proxy_pass https://backend;\n            }\n            proxy_pass https://backend;\n        }",
    ));
    let s = &c.servers[0];
    assert!(s.settings.proxy_ssl.verify && s.settings.proxy_ssl.server_name);
    let l = &s.locations[0].settings.proxy_ssl;
    assert!(l.verify && l.server_name && !l.session_reuse);
    assert_eq!(l.name.as_deref(), Some("backend.internal"));
    assert_eq!(l.verify_depth, 4);
    assert_eq!(
        l.trusted_certificate.as_ref().unwrap().path,
        PathBuf::from("/etc/ringway/ca.pem")
    );
    let cert = l.certificate.as_ref().unwrap();
    assert_eq!(cert.key, PathBuf::from("/etc/ringway/c.key"));
    assert_eq!(l.ciphers.tls12.len(), 2);
    assert_eq!(
        l.crl.as_ref().unwrap().path,
        PathBuf::from("/etc/ringway/crl.pem")
    );
    let inner = &s.locations[0].locations[0].settings.proxy_ssl;
    assert!(!inner.verify);
    assert_eq!(inner.verify_depth, 4);
    assert!(inner.certificate.is_some());
    let dumped = round_trip(&c);
    assert!(
        dumped.contains("proxy_ssl_name backend.internal;"),
        "{dumped}"
    );
    assert!(dumped.contains("proxy_ssl_verify off;"), "{dumped}");
}

#[test]
fn proxy_ssl_errors() {
    let loc = |body: &str| conf("", &format!("        location / {{\n{body}\n        }}"));
    assert_eq!(
        err(&loc(
            "            proxy_ssl_verify on;\n            proxy_pass https://a;"
        )),
        "ringway.conf:5:13: no proxy_ssl_trusted_certificate for proxy_ssl_verify"
    );
    // nginx checks only where the upstream connection is TLS.
    ok(&loc(
        "            proxy_ssl_verify on;\n            proxy_pass http://a;",
    ));
    assert_eq!(
        err(&loc(
            "            proxy_ssl_certificate c.crt;\n            proxy_pass https://a;"
        )),
        "ringway.conf:5:13: no \"proxy_ssl_certificate_key\" is defined for certificate \"c.crt\""
    );
    assert_eq!(
        err(&loc(
            "            proxy_ssl_name $nope;\n            proxy_pass https://a;"
        )),
        "ringway.conf:5:28: unknown \"nope\" variable"
    );
    assert_eq!(
        err(&loc(
            "            proxy_ssl_name $host;\n            proxy_pass https://a;"
        )),
        "ringway.conf:5:28: \"proxy_ssl_name\" with variables is not supported yet by ringway \
         (it would change how requests are handled)"
    );
    assert_eq!(
        err(&loc("            proxy_ssl_protocols SSLv3;")),
        "ringway.conf:5:13: \"proxy_ssl_protocols\" enables no protocol ringway offers (TLSv1.2, TLSv1.3)"
    );
    assert_eq!(
        err(&loc(
            "            proxy_ssl_conf_command Options -SessionTicket;"
        )),
        "ringway.conf:5:13: \"proxy_ssl_conf_command\" is not supported yet by ringway (it would \
         change how requests are handled)"
    );
}

#[test]
fn tls_variables_are_known() {
    for v in [
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
    ] {
        ok(&conf("", &format!("        proxy_set_header X-V ${v};")));
    }
    assert_eq!(
        err(&conf("", "        proxy_set_header X-V $ssl_ciphers;")),
        "ringway.conf:4:30: variable \"$ssl_ciphers\" is not supported yet by ringway"
    );
}

#[test]
fn ssl_engine_and_stapling_notices() {
    let c = ok(&format!(
        "ssl_engine pkcs11;\nhttp {{\n    server {{\n        listen 443 ssl;\n{CERT}\n        \
         ssl_stapling on;\n        ssl_stapling_responder http://ocsp.example/;\n    }}\n}}\n"
    ));
    let n = c.notices.join("\n");
    assert!(n.contains("ringway.conf:1: ignored: ssl_engine"), "{n}");
    assert!(
        n.contains("ignored: ssl_stapling_responder (ringway never fetches OCSP"),
        "{n}"
    );
    assert!(
        n.contains("ringway.conf:7: ssl_stapling on without ssl_stapling_file"),
        "{n}"
    );
}
