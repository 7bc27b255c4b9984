//! Front-end tests for `allow`/`deny`, the realip directives and the connection caps.

use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_str(text, Path::new("ringway.conf"))
}

fn ok(text: &str) -> Config {
    parse(text).unwrap_or_else(|e| panic!("expected the config to load, got: {e}\n{text}"))
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// A location body at line 4, column 13.
fn in_location(body: &str) -> String {
    format!("http {{\n    server {{\n        location / {{\n{body}\n        }}\n    }}\n}}\n")
}

fn rules(s: &Settings) -> Vec<String> {
    s.access
        .iter()
        .map(|r| {
            let net = r.net.map_or("all".to_string(), |n| n.to_string());
            format!("{} {net}", if r.deny { "deny" } else { "allow" })
        })
        .collect()
}

#[test]
fn access_rule_errors() {
    let expected =
        "expected an IP address or a CIDR range such as 10.0.0.0/8 or 2001:db8::/32 or \"all\"";
    for (line, bad) in [
        ("allow 10.0.0.0/33;", "10.0.0.0/33"),
        ("deny 300.1.1.1;", "300.1.1.1"),
        ("allow ::1/129;", "::1/129"),
        ("deny example.com;", "example.com"),
        ("allow 10.0.0.0/;", "10.0.0.0/"),
    ] {
        let name = line.split(' ').next().unwrap();
        let col = 13 + name.len() + 1;
        assert_eq!(
            err(&in_location(&format!("            {line}"))),
            format!(
                "ringway.conf:4:{col}: invalid value \"{bad}\" in \"{name}\" directive, {expected}"
            ),
        );
    }
    assert_eq!(
        err(&in_location("            deny;")),
        "ringway.conf:4:13: invalid number of arguments in \"deny\" directive"
    );
    assert_eq!(
        err(&in_location("            allow 1.2.3.4 5.6.7.8;")),
        "ringway.conf:4:13: invalid number of arguments in \"allow\" directive"
    );
    assert_eq!(
        err("http {\n  upstream u {\n    server 127.0.0.1:1;\n    allow all;\n  }\n}\n"),
        "ringway.conf:4:5: \"allow\" directive is not allowed here"
    );
}

#[test]
fn realip_errors() {
    assert_eq!(
        err(&in_location("            set_real_ip_from proxy.example;")),
        "ringway.conf:4:30: invalid value \"proxy.example\" in \"set_real_ip_from\" directive, expected an IP address or a CIDR range such as 10.0.0.0/8 or 2001:db8::/32"
    );
    assert_eq!(
        err(&in_location("            real_ip_header proxy_protocol;")),
        "ringway.conf:4:28: \"real_ip_header proxy_protocol\" is not supported: ringway does not speak the PROXY protocol (use X-Real-IP, X-Forwarded-For or another header)"
    );
    assert_eq!(
        err(&in_location("            real_ip_header \"X Bad\";")),
        "ringway.conf:4:28: invalid header name \"X Bad\""
    );
    assert_eq!(
        err(&in_location("            real_ip_recursive yes;")),
        "ringway.conf:4:31: invalid value \"yes\" in \"real_ip_recursive\" directive, it must be \"on\" or \"off\""
    );
    assert_eq!(
        err(&in_location(
            "            real_ip_header X-Forwarded-For;\n            real_ip_header X-Real-IP;"
        )),
        "ringway.conf:5:13: \"real_ip_header\" directive is duplicate"
    );
}

#[test]
fn connection_cap_errors() {
    assert_eq!(
        err("events { worker_connections 0; }\nhttp { server { listen 1; } }"),
        "ringway.conf:1:29: invalid value \"0\" in \"worker_connections\" directive, expected a number above 0"
    );
    assert_eq!(
        err("events { max_connections lots; }\nhttp { server { listen 1; } }"),
        "ringway.conf:1:26: invalid value \"lots\" in \"max_connections\" directive, expected a number above 0"
    );
    assert_eq!(
        err("events { worker_connections 5; worker_connections 6; }"),
        "ringway.conf:1:32: \"worker_connections\" directive is duplicate"
    );
    assert_eq!(
        err("http { max_connections 5; }"),
        "ringway.conf:1:8: \"max_connections\" directive is not allowed here"
    );
    let cfg =
        ok("events { worker_connections 5; max_connections 9; }\nhttp { server { listen 1; } }");
    assert_eq!(
        (cfg.worker_connections, cfg.max_connections),
        (Some(5), Some(9))
    );
    let cfg = ok("http { server { listen 1; } }");
    assert_eq!((cfg.worker_connections, cfg.max_connections), (None, None));
}

#[test]
fn a_level_with_rules_replaces_the_inherited_list() {
    let cfg = ok("http {
    allow 10.0.0.0/8;
    deny all;
    set_real_ip_from 10.0.0.0/8;
    set_real_ip_from 2001:db8::/32;
    real_ip_header X-Forwarded-For;
    server {
        listen 1;
        location /inherit/ {
            location /inherit/nested/ { }
        }
        location /own/ {
            deny 127.0.0.1;
            allow ::1;
            set_real_ip_from 192.0.2.1;
            real_ip_recursive on;
            location /own/nested/ { }
            location /own/again/ { allow all; }
        }
    }
    server {
        listen 2;
        deny 192.0.2.0/24;
        real_ip_header X-Client-IP;
        location / { }
    }
}");
    let s = &cfg.servers[0];
    assert_eq!(rules(&s.settings), ["allow 10.0.0.0/8", "deny all"]);
    let inherit = &s.locations[0];
    assert_eq!(rules(&inherit.settings), ["allow 10.0.0.0/8", "deny all"]);
    assert_eq!(
        rules(&inherit.locations[0].settings),
        ["allow 10.0.0.0/8", "deny all"]
    );
    assert_eq!(inherit.settings.realip.from.len(), 2);
    assert_eq!(inherit.settings.realip.header, "X-Forwarded-For");
    let own = &s.locations[1];
    assert_eq!(rules(&own.settings), ["deny 127.0.0.1", "allow ::1"]);
    assert_eq!(
        rules(&own.locations[0].settings),
        ["deny 127.0.0.1", "allow ::1"]
    );
    assert_eq!(rules(&own.locations[1].settings), ["allow all"]);
    // The trusted list is replaced; the header and the flag are inherited one by one.
    let r = &own.settings.realip;
    assert_eq!(
        r.from.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        ["192.0.2.1"]
    );
    assert_eq!((r.header.as_str(), r.recursive), ("X-Forwarded-For", true));
    assert_eq!(own.locations[0].settings.realip, *r);
    let other = &cfg.servers[1];
    assert_eq!(rules(&other.locations[0].settings), ["deny 192.0.2.0/24"]);
    assert_eq!(other.locations[0].settings.realip.header, "X-Client-IP");
    assert_eq!(other.locations[0].settings.realip.from.len(), 2);
}

#[test]
fn low_address_bits_give_a_notice() {
    let cfg = ok(&in_location(
        "            allow 10.1.2.3/8;\n            set_real_ip_from 192.168.7.7/16;\n            set_real_ip_from unix:;",
    ));
    let l = &cfg.servers[0].locations[0].settings;
    assert_eq!(rules(l), ["allow 10.0.0.0/8"]);
    assert_eq!(l.realip.from[0].to_string(), "192.168.0.0/16");
    assert_eq!(l.realip.from.len(), 1);
    assert_eq!(
        cfg.notices,
        [
            "ringway.conf:4: low address bits of 10.1.2.3/8 are meaningless",
            "ringway.conf:5: low address bits of 192.168.7.7/16 are meaningless",
            "ringway.conf:6: ignored: set_real_ip_from unix: (ringway listens on no unix sockets)",
        ]
    );
}

#[test]
fn dump_states_access_realip_and_caps_and_reads_back() {
    let cfg = ok("events { worker_connections 100; max_connections 1000; }
http {
    deny 192.0.2.1;
    allow 2001:db8::/32;
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    server {
        listen 127.0.0.1:8080;
        location / { proxy_pass http://127.0.0.1:9000; }
        location /admin/ { allow 127.0.0.0/8; deny all; proxy_pass http://127.0.0.1:9000; }
    }
}");
    let out = dump(&cfg);
    for line in [
        "worker_connections 100;",
        "max_connections 1000;",
        "deny 192.0.2.1;",
        "allow 2001:db8::/32;",
        "set_real_ip_from 127.0.0.1;",
        "real_ip_header X-Forwarded-For;",
        "real_ip_recursive on;",
        "allow 127.0.0.0/8;",
        "deny all;",
    ] {
        assert!(out.contains(line), "{line} missing from:\n{out}");
    }
    // The location inheriting the server's list does not restate it.
    assert_eq!(out.matches("deny 192.0.2.1;").count(), 1, "{out}");
    let again = ok(&out);
    assert_eq!(dump(&again), out);
    let a = &again.servers[0];
    assert_eq!(
        rules(&a.locations[1].settings),
        ["allow 127.0.0.0/8", "deny all"]
    );
    assert_eq!(
        rules(&a.locations[0].settings),
        ["deny 192.0.2.1", "allow 2001:db8::/32"]
    );
}

#[test]
fn binary_remote_addr_is_for_keys_not_heads() {
    let msg = "variable \"$binary_remote_addr\" holds raw address bytes and cannot be used here (use $remote_addr; it is for keys: hash, limit_req_zone, limit_conn_zone)";
    assert_eq!(
        err(&in_location(
            "            proxy_set_header X-A $binary_remote_addr;"
        )),
        format!("ringway.conf:4:34: {msg}")
    );
    assert_eq!(
        err(&in_location(
            "            add_header X-A \"a${binary_remote_addr}b\";"
        )),
        format!("ringway.conf:4:28: {msg}")
    );
    assert_eq!(
        err(&in_location(
            "            return 302 http://x/$binary_remote_addr;"
        )),
        format!("ringway.conf:4:24: {msg}")
    );
    ok(&in_location(
        "            proxy_set_header X-A $remote_addr;",
    ));
    ok(
        "http {\n upstream u { hash $binary_remote_addr; server 127.0.0.1:1; }\n server { listen 1; }\n}\n",
    );
}
