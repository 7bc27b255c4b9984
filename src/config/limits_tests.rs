//! The limit directives: values, inheritance, errors with positions, the `-T` round trip.

use std::path::Path;

use crate::config::{Config, LimitConn, LimitReq, LogLevel, dump, parse_str};

fn parse(text: &str) -> Result<Config, String> {
    parse_str(text, Path::new("ringway.conf")).map_err(|e| e.to_string())
}

const ZONES: &str = "    limit_req_zone $binary_remote_addr zone=one:1m rate=10r/s;\n    limit_req_zone \"$server_name $http_x_key\" zone=two:64k rate=30r/m;\n    limit_conn_zone $remote_addr zone=c:1m;\n";

/// `ZONES`, then a server whose first line (line 5) holds `server` and whose location holds
/// `loc` (line 6).
fn conf(server: &str, loc: &str) -> String {
    format!(
        "http {{\n{ZONES}    server {{ listen 127.0.0.1:8080; {server}\n        location /a {{ proxy_pass http://127.0.0.1:9; {loc} }}\n        location /b {{ proxy_pass http://127.0.0.1:9; }}\n    }}\n}}\n"
    )
}

#[test]
fn zones_rules_and_inheritance() {
    let cfg = parse(&conf(
        "limit_req zone=one burst=5; limit_conn c 2; limit_req_status 429; limit_conn_log_level warn;",
        "limit_req zone=one burst=20 nodelay; limit_req zone=two delay=3 burst=8; limit_req_dry_run on;",
    ))
    .unwrap();
    let z = &cfg.limit_zones;
    assert_eq!(z.len(), 3);
    assert_eq!(
        (z[0].name.as_str(), z[0].key.as_str(), z[0].size, z[0].rate),
        ("one", "$binary_remote_addr", 1 << 20, Some(10_000))
    );
    assert_eq!(
        (z[1].size, z[1].rate, z[1].per_minute),
        (64 << 10, Some(500), true)
    );
    assert_eq!(z[2].rate, None);
    let s = &cfg.servers[0];
    let own = &s.locations[0].settings.limits;
    assert_eq!(
        own.req,
        vec![
            LimitReq {
                zone: "one".into(),
                burst: 20,
                delay: None
            },
            LimitReq {
                zone: "two".into(),
                burst: 8,
                delay: Some(3)
            }
        ]
    );
    assert!(own.req_dry_run);
    // Inherited: the list the location did not set, and the scalars.
    assert_eq!(
        own.conn,
        vec![LimitConn {
            zone: "c".into(),
            max: 2
        }]
    );
    assert_eq!(own.req_status, 429);
    assert_eq!(own.conn_log_level, LogLevel::Warn);
    let inherited = &s.locations[1].settings.limits;
    assert_eq!(inherited.req.len(), 1);
    assert_eq!(
        (inherited.req[0].burst, inherited.req[0].delay),
        (5, Some(0))
    );
    assert!(!inherited.req_dry_run);
    assert_eq!(inherited.conn_status, 503);
}

#[test]
fn dump_reads_back_the_same() {
    let cfg = parse(&conf(
        "limit_req zone=one burst=5; limit_conn c 2; limit_conn_status 444; limit_conn_dry_run on;",
        "limit_req zone=two delay=3 burst=8; limit_req_log_level info;",
    ))
    .unwrap();
    let text = dump(&cfg);
    for line in [
        "limit_req_zone $binary_remote_addr zone=one:1m rate=10r/s;",
        "limit_req_zone \"$server_name $http_x_key\" zone=two:64k rate=30r/m;",
        "limit_conn_zone $remote_addr zone=c:1m;",
        "limit_req zone=one burst=5;",
        "limit_req zone=two burst=8 delay=3;",
        "limit_conn c 2;",
        "limit_conn_status 444;",
        "limit_req_log_level info;",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let again = parse(&text).unwrap();
    assert_eq!(again.limit_zones, cfg.limit_zones);
    for (a, b) in again.servers[0]
        .locations
        .iter()
        .zip(&cfg.servers[0].locations)
    {
        assert_eq!(a.settings.limits, b.settings.limits);
    }
    assert_eq!(
        again.servers[0].settings.limits,
        cfg.servers[0].settings.limits
    );
}

#[test]
fn errors_name_the_place_and_the_problem() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "",
            "limit_req zone=nope;",
            "ringway.conf:6:54: \"limit_req\" names zone \"nope\", which no \"limit_req_zone\" defines (add \"limit_req_zone KEY zone=NAME:SIZE rate=R;\" at http level)",
        ),
        (
            "",
            "limit_conn one 1;",
            "ringway.conf:6:65: \"limit_conn\" names zone \"one\", which no \"limit_conn_zone\" defines (add \"limit_conn_zone KEY zone=NAME:SIZE;\" at http level)",
        ),
        (
            "",
            "limit_req zone=one burst=0;",
            "ringway.conf:6:73: invalid burst value \"burst=0\"",
        ),
        (
            "",
            "limit_req zone=one fast;",
            "ringway.conf:6:73: invalid parameter \"fast\"",
        ),
        (
            "",
            "limit_req burst=2;",
            "ringway.conf:6:54: \"limit_req\" must have \"zone\" parameter",
        ),
        (
            "",
            "limit_req zone=one; limit_req zone=one nodelay;",
            "ringway.conf:6:74: duplicate \"limit_req\" for zone \"one\"",
        ),
        (
            "",
            "limit_conn c 0;",
            "ringway.conf:6:67: invalid number of connections \"0\" (1 to 65535)",
        ),
        (
            "",
            "limit_req_status 302;",
            "ringway.conf:6:71: value must be between 400 and 599",
        ),
        (
            "",
            "limit_conn_log_level debug;",
            "ringway.conf:6:75: invalid value \"debug\" in \"limit_conn_log_level\" directive, it must be \"info\", \"notice\", \"warn\" or \"error\"",
        ),
        (
            "limit_req_zone $remote_addr zone=x:1m rate=1r/s;",
            "",
            "ringway.conf:5:37: \"limit_req_zone\" directive is not allowed here",
        ),
    ];
    for (server, loc, want) in cases {
        assert_eq!(
            parse(&conf(server, loc)).unwrap_err(),
            *want,
            "{server} {loc}"
        );
    }
    let http = |z: &str| parse(&format!("http {{\n  {z}\n}}\n")).unwrap_err();
    assert_eq!(
        http("limit_req_zone $binary_remote_addr zone=z:1m rate=10r/h;"),
        "ringway.conf:2:48: invalid rate \"rate=10r/h\""
    );
    assert_eq!(
        http("limit_req_zone $binary_remote_addr zone=z:4k;"),
        "ringway.conf:2:38: zone \"z\" is too small (at least 32k)"
    );
    assert_eq!(
        http("limit_conn_zone $binary_remote_addr zone=z;"),
        "ringway.conf:2:39: invalid zone size \"zone=z\""
    );
    assert_eq!(
        http("limit_conn_zone $binary_remote_addr rate=1r/s;"),
        "ringway.conf:2:39: invalid parameter \"rate=1r/s\""
    );
    assert_eq!(
        http("limit_req_zone $nope zone=z:1m;"),
        "ringway.conf:2:18: unknown \"nope\" variable"
    );
    assert_eq!(
        parse("http {\n  limit_conn_zone $binary_remote_addr zone=z:1m;\n  limit_req_zone $binary_remote_addr zone=z:1m;\n}\n").unwrap_err(),
        "ringway.conf:3:3: duplicate zone \"z\" (first declared at ringway.conf:2)"
    );
}

#[test]
fn binary_address_only_in_keys() {
    let cfg = parse(
        "http {\n  upstream u { hash $binary_remote_addr; server 127.0.0.1:9; }\n  server { listen 127.0.0.1:8080; location / { proxy_pass http://u; } }\n}\n",
    );
    assert!(cfg.is_ok(), "{cfg:?}");
    assert_eq!(
        parse(&conf(
            "",
            "proxy_set_header X-A \"a ${binary_remote_addr}\";"
        ))
        .unwrap_err(),
        "ringway.conf:6:75: variable \"$binary_remote_addr\" holds raw address bytes and cannot be used here (use $remote_addr; it is for keys: hash, limit_req_zone, limit_conn_zone)"
    );
}
