//! `gzip*`, `brotli*` and `zstd*`: values, inheritance, errors with their position, `-T`.

use std::path::Path;

use super::*;

use super::test_util::{err, ok};

fn http(body: &str) -> String {
    format!(
        "http {{\n{body}\n  server {{ listen 8080; location / {{ proxy_pass http://127.0.0.1:9; }} }}\n}}\n"
    )
}

#[test]
fn settings_inherit_along_the_levels() {
    let cfg = ok(
        "http {\n  gzip on;\n  gzip_types text/css application/json;\n  gzip_vary on;\n  \
                  brotli on;\n  brotli_comp_level 4;\n  gzip_proxied no-cache auth;\n  \
                  server {\n    listen 8080;\n    gzip_comp_level 6;\n    \
                  location /a { gzip off; brotli_types *; proxy_pass http://127.0.0.1:9; }\n    \
                  location /b { gzip_min_length 1k; gzip_disable msie6 \"^Bot\"; gzip_http_version 1.0; proxy_pass http://127.0.0.1:9; }\n  }\n}\n",
    );
    let s = &cfg.servers[0];
    let c = &s.settings.compress;
    assert!(c.gzip.on && c.brotli.on && c.vary);
    assert_eq!(c.gzip.types, ["text/css", "application/json"]);
    assert_eq!((c.gzip.level, c.brotli.level), (6, 4));
    assert!(c.proxied.no_cache && c.proxied.auth && !c.proxied.any);
    let a = &s.locations[0].settings.compress;
    assert!(!a.gzip.on && a.brotli.on);
    assert_eq!(a.brotli.types, ["*"]);
    assert_eq!(a.gzip.level, 6);
    let b = &s.locations[1].settings.compress;
    assert_eq!(b.gzip.min_length, 1024);
    assert_eq!(b.disable, ["msie6", "^Bot"]);
    assert!(b.http10);
    // Defaults.
    let d = CompressSettings::default();
    assert_eq!(
        (d.gzip.min_length, d.gzip.level, d.brotli.level),
        (20, 1, 6)
    );
    // -T writes them back.
    let text = dump(&cfg);
    for line in [
        "gzip on;",
        "gzip_types text/css application/json;",
        "brotli_comp_level 4;",
        "gzip_proxied no-cache auth;",
        "gzip_disable \"msie6\" \"^Bot\";",
        "gzip_http_version 1.0;",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    let again = parse_str(&text, Path::new("/etc/ringway/ringway.conf")).unwrap();
    assert_eq!(again.servers[0].locations[1].settings.compress, *b);
}

#[test]
fn bad_values_are_errors_with_their_position() {
    assert_eq!(
        err(&http("  gzip_comp_level 10;")),
        "/etc/ringway/ringway.conf:2:19: invalid value \"10\" in \"gzip_comp_level\" directive, it must be between 1 and 9"
    );
    assert_eq!(
        err(&http("  brotli_comp_level 12;")),
        "/etc/ringway/ringway.conf:2:21: invalid value \"12\" in \"brotli_comp_level\" directive, it must be between 0 and 11"
    );
    assert_eq!(
        err(&http("  gzip yes;")),
        "/etc/ringway/ringway.conf:2:8: invalid value \"yes\" in \"gzip\" directive, it must be \"on\" or \"off\""
    );
    assert!(err(&http("  gzip_proxied expired sometimes;")).starts_with(
        "/etc/ringway/ringway.conf:2:24: invalid value \"sometimes\" in \"gzip_proxied\" directive, it must be one of off, expired"
    ));
    assert!(
        err(&http("  gzip_types texthtml;"))
            .starts_with("/etc/ringway/ringway.conf:2:14: invalid value \"texthtml\"")
    );
    assert!(
        err(&http("  gzip_min_length lots;"))
            .starts_with("/etc/ringway/ringway.conf:2:19: invalid value \"lots\"")
    );
    assert!(
        err(&http("  gzip_http_version 2.0;"))
            .starts_with("/etc/ringway/ringway.conf:2:21: invalid value \"2.0\"")
    );
    assert!(
        err(&http("  gzip_disable \"(\";"))
            .starts_with("/etc/ringway/ringway.conf:2:16: invalid regex \"(\"")
    );
    assert_eq!(
        err(&http("  gzip_static on;")),
        "/etc/ringway/ringway.conf:2:3: \"gzip_static\" is not supported: ringway serves no files (only \"gzip_static off\" is accepted)"
    );
    assert_eq!(
        err(&http("  gzip on;\n  gzip off;")),
        "/etc/ringway/ringway.conf:3:3: \"gzip\" directive is duplicate"
    );
    assert!(err(&http("  brotli_static always;")).ends_with(
        "\"brotli_static\" is not supported: ringway serves no files (only \"brotli_static off\" is accepted)"
    ));
    let cfg = ok(&http(
        "  gzip_static off;\n  gzip_buffers 32 4k;\n  brotli_static off;\n  brotli_window 1m;",
    ));
    assert_eq!(
        cfg.notices,
        [
            "/etc/ringway/ringway.conf:3: ignored: gzip_buffers (ringway sizes its own compression buffers)",
            "/etc/ringway/ringway.conf:5: ignored: brotli_window (ringway's brotli window is at most 512k, sized to the body)"
        ]
    );
}

#[test]
fn zstd_directives_as_zstd_nginx_module_spells_them() {
    let cfg = ok(&http(
        "  zstd on;\n  zstd_comp_level 19;\n  zstd_min_length 256;\n  zstd_types application/json;\n  \
         zstd_buffers 32 4k;\n  zstd_static off;",
    ));
    let c = &cfg.servers[0].settings.compress;
    assert!(c.zstd.on && !c.gzip.on && !c.brotli.on);
    assert_eq!((c.zstd.level, c.zstd.min_length), (19, 256));
    assert_eq!(c.zstd.types, ["application/json"]);
    assert_eq!(
        cfg.notices,
        [
            "/etc/ringway/ringway.conf:6: ignored: zstd_buffers (ringway sizes its own compression buffers)"
        ]
    );
    let d = CompressSettings::default();
    assert_eq!((d.zstd.on, d.zstd.level, d.zstd.min_length), (false, 1, 20));
    let text = dump(&cfg);
    for line in [
        "zstd on;",
        "zstd_comp_level 19;",
        "zstd_min_length 256;",
        "zstd_types application/json;",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    assert_eq!(
        err(&http("  zstd_comp_level 23;")),
        "/etc/ringway/ringway.conf:2:19: invalid value \"23\" in \"zstd_comp_level\" directive, it must be between 1 and 22"
    );
    assert_eq!(
        err(&http("  zstd_comp_level 0;")),
        "/etc/ringway/ringway.conf:2:19: invalid value \"0\" in \"zstd_comp_level\" directive, it must be between 1 and 22"
    );
    assert!(err(&http("  zstd_dict_file /etc/dict;")).ends_with(
        "\"zstd_dict_file\" is not supported: a browser cannot decode a body compressed with a dictionary it was never given"
    ));
    assert!(err(&http("  zstd_static on;")).ends_with(
        "\"zstd_static\" is not supported: ringway serves no files (only \"zstd_static off\" is accepted)"
    ));
}
