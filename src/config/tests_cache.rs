//! Front-end tests for the cache directives: `proxy_cache_path` zones, the `proxy_cache*`
//! settings with nginx's defaults and inheritance, every error with its position, `-T`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cache::*;
use super::*;

use super::test_util::{err, ok, parse};

/// `file:line:column` of the first `needle` in `text` (1-based, as errors give it).
fn at(text: &str, needle: &str) -> String {
    let i = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in {text}"));
    let line = text[..i].matches('\n').count() + 1;
    let col = i - text[..i].rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("/etc/ringway/ringway.conf:{line}:{col}")
}

const ZONE: &str = "    proxy_cache_path /var/cache/a levels=1:2 keys_zone=a:10m;\n";

/// `ZONE` (line 2), `http` (line 3), a server whose first line (4) holds `server`, its
/// location `/a` (line 5) holding `loc`, and a location `/b` (line 6) that sets nothing.
fn conf(http: &str, server: &str, loc: &str) -> String {
    format!(
        "http {{\n{ZONE}    {http}\n    server {{ listen 127.0.0.1:8080; {server}\n        location /a {{ proxy_pass http://127.0.0.1:9; {loc} }}\n        location /b {{ proxy_pass http://127.0.0.1:9; }}\n    }}\n}}\n"
    )
}

/// The error a config made by `conf` gives, which must point at `needle`.
fn err_at(http: &str, server: &str, loc: &str, needle: &str, msg: &str) {
    let text = conf(http, server, loc);
    assert_eq!(
        err(&text),
        format!("{}: {msg}", at(&text, needle)),
        "{text}"
    );
}

#[test]
fn zone_defaults_and_the_temp_path_notice() {
    let cfg = ok(&conf("", "", "proxy_cache a;"));
    let z = &cfg.cache_zones[0];
    assert_eq!(
        *z,
        CacheZone {
            name: "a".into(),
            path: PathBuf::from("/var/cache/a"),
            levels: vec![1, 2],
            keys_size: 10 << 20,
            inactive: Duration::from_secs(600),
            max_size: None,
            min_free: None,
            use_temp_path: true,
            manager: DEFAULT_WALKER,
            loader: DEFAULT_WALKER,
            purger: false,
            purger_batch: DEFAULT_PURGER,
        }
    );
    assert_eq!(DEFAULT_WALKER.files, 100);
    assert_eq!(DEFAULT_WALKER.threshold, Duration::from_millis(200));
    let notice = "/etc/ringway/ringway.conf:2: ignored: proxy_cache_path use_temp_path=on";
    assert!(
        cfg.notices.iter().any(|n| n.starts_with(notice)),
        "{:#?}",
        cfg.notices
    );
}

#[test]
fn zone_parameters() {
    let cfg = ok(
        "http {\n    proxy_cache_path cache/b/ levels=2 use_temp_path=off keys_zone=b:8k \
         inactive=1h max_size=1g min_free=100m manager_files=50 manager_sleep=100ms \
         manager_threshold=1s loader_files=10 loader_sleep=1s loader_threshold=300ms purger=on \
         purger_files=5 purger_sleep=1s purger_threshold=2s;\n    proxy_cache_path /c \
         levels=1:2:2 keys_zone=c:1m;\n}\n",
    );
    let b = &cfg.cache_zones[0];
    // A relative path starts at the main file's folder; the trailing slash goes.
    assert_eq!(b.path, Path::new("/etc/ringway/cache/b"));
    assert_eq!(
        (b.levels.as_slice(), b.keys_size, b.inactive),
        (&[2u8][..], 8192, Duration::from_secs(3600))
    );
    assert_eq!((b.max_size, b.min_free), (Some(1 << 30), Some(100 << 20)));
    assert!(!b.use_temp_path && b.purger);
    assert_eq!(
        b.manager,
        CacheBatch {
            files: 50,
            sleep: Duration::from_millis(100),
            threshold: Duration::from_secs(1)
        }
    );
    assert_eq!(b.loader.files, 10);
    assert_eq!(b.loader.threshold, Duration::from_millis(300));
    assert_eq!(b.purger_batch.threshold, Duration::from_secs(2));
    assert_eq!(cfg.cache_zones[1].levels, [1, 2, 2]);
    // Only the zone that keeps nginx's use_temp_path=on gets the notice.
    let n: Vec<_> = cfg
        .notices
        .iter()
        .filter(|n| n.contains("use_temp_path"))
        .collect();
    assert_eq!(n.len(), 1, "{n:?}");
    assert!(n[0].starts_with("/etc/ringway/ringway.conf:3: "), "{n:?}");
}

#[test]
fn settings_default_to_nginx_s() {
    let cfg = ok(&conf("", "", ""));
    let s = &cfg.servers[0].locations[0].settings.cache;
    assert_eq!(*s, CacheSettings::default());
    assert_eq!(s.zone, None);
    assert_eq!(s.key, "$scheme$proxy_host$request_uri");
    assert_eq!(s.min_uses, 1);
    assert!(s.methods.get && s.methods.head && !s.methods.post);
    assert_eq!(s.use_stale, UseStale::default());
    assert_eq!(
        (s.lock_timeout, s.lock_age),
        (Duration::from_secs(5), Duration::from_secs(5))
    );
    assert!(s.convert_head && !s.lock && !s.revalidate && !s.background_update);
    assert_eq!(s.max_range_offset, None);
}

#[test]
fn inheritance_and_list_replacement() {
    let cfg = ok(&conf(
        "proxy_cache a; proxy_cache_key $host$uri; proxy_cache_valid 200 10m; proxy_cache_bypass $http_x_nocache; proxy_cache_lock on; proxy_cache_use_stale error timeout;",
        "proxy_cache_valid 404 1m; proxy_cache_valid any 30s; proxy_no_cache $http_arg_x $http_pragma;",
        "proxy_cache off; proxy_cache_bypass $http_a; proxy_cache_bypass $http_b $http_c; proxy_cache_use_stale off; proxy_cache_min_uses 3;",
    ));
    let srv = &cfg.servers[0];
    let a = &srv.locations[0].settings.cache;
    let b = &srv.locations[1].settings.cache;
    // The server replaced the http-level valid list; both locations inherit the server's.
    let server_valid = vec![
        CacheValid {
            statuses: vec![404],
            time: Duration::from_secs(60),
        },
        CacheValid {
            statuses: vec![],
            time: Duration::from_secs(30),
        },
    ];
    assert_eq!(srv.settings.cache.valid, server_valid);
    assert_eq!(b.valid, server_valid);
    assert_eq!(a.valid, server_valid);
    // Location /a: its own zone (off), bypass list (accumulated over two lines), use_stale.
    assert_eq!(a.zone, None);
    assert_eq!(a.bypass, ["$http_a", "$http_b", "$http_c"]);
    assert_eq!(a.use_stale, UseStale::default());
    assert_eq!(a.min_uses, 3);
    // Location /b: all inherited.
    assert_eq!(b.zone.as_deref(), Some("a"));
    assert_eq!(b.key, "$host$uri");
    assert_eq!(b.bypass, ["$http_x_nocache"]);
    assert_eq!(b.no_cache, ["$http_arg_x", "$http_pragma"]);
    assert!(b.lock && a.lock);
    assert!(b.use_stale.error && b.use_stale.timeout && !b.use_stale.updating);
    assert_eq!(b.min_uses, 1);
}

#[test]
fn valid_methods_stale_and_ignore_headers() {
    let cfg = ok(&conf(
        "",
        "",
        "proxy_cache_valid 5m; proxy_cache_valid 200 any 1h; proxy_cache_methods post; \
         proxy_cache_use_stale updating http_500 http_429 non_idempotent; \
         proxy_ignore_headers x-accel-expires Set-Cookie Vary X-Accel-Buffering; \
         proxy_cache_max_range_offset 1m; proxy_cache_purge $http_purge; \
         proxy_cache_lock_timeout 500ms; proxy_cache_lock_age 2s; proxy_cache_convert_head off; \
         proxy_cache_revalidate on; proxy_cache_background_update on;",
    ));
    let s = &cfg.servers[0].locations[0].settings.cache;
    assert_eq!(s.valid[0].statuses, [200, 301, 302]);
    assert_eq!(s.valid[0].time, Duration::from_secs(300));
    assert!(s.valid[1].statuses.is_empty());
    assert_eq!(
        s.methods,
        Methods {
            get: true,
            head: true,
            post: true
        }
    );
    let u = s.use_stale;
    assert!(u.updating && u.http_500 && u.http_429 && !u.error && !u.http_404);
    let i = s.ignore;
    assert!(i.x_accel_expires && i.set_cookie && i.vary && i.x_accel_buffering);
    assert!(!i.expires && !i.cache_control && !i.x_accel_redirect);
    assert_eq!(s.max_range_offset, Some(1 << 20));
    assert_eq!(s.purge, ["$http_purge"]);
    assert_eq!(s.lock_timeout, Duration::from_millis(500));
    assert_eq!(s.lock_age, Duration::from_secs(2));
    assert!(!s.convert_head && s.revalidate && s.background_update);
    assert!(
        cfg.notices
            .iter()
            .any(|n| n.starts_with("/etc/ringway/ringway.conf:5:") && n.contains("non_idempotent")),
        "{:#?}",
        cfg.notices
    );
}

#[test]
fn upstream_cache_status_is_a_variable() {
    let cfg = ok(&conf(
        "",
        "",
        "proxy_cache a; add_header X-Cache-Status $upstream_cache_status;",
    ));
    assert_eq!(
        cfg.servers[0].locations[0].settings.add_header[0].value,
        "$upstream_cache_status"
    );
}

#[test]
fn zone_errors() {
    let p = "/etc/ringway/ringway.conf";
    for (args, needle, msg) in [
        (
            "levels=3 keys_zone=z:1m",
            "levels=3",
            "invalid \"levels\" \"levels=3\"",
        ),
        (
            "levels=1:2:2:1 keys_zone=z:1m",
            "levels=",
            "invalid \"levels\" \"levels=1:2:2:1\"",
        ),
        (
            "levels= keys_zone=z:1m",
            "levels=",
            "invalid \"levels\" \"levels=\"",
        ),
        (
            "levels=1:2",
            "proxy_cache_path",
            "\"proxy_cache_path\" must have \"keys_zone\" parameter",
        ),
        (
            "keys_zone=z",
            "keys_zone",
            "invalid keys zone size \"keys_zone=z\"",
        ),
        (
            "keys_zone=:1m",
            "keys_zone",
            "invalid keys zone size \"keys_zone=:1m\"",
        ),
        (
            "keys_zone=z:4k",
            "keys_zone",
            "keys zone \"z\" is too small (at least 8k)",
        ),
        (
            "keys_zone=z:1m inactive=10x",
            "inactive",
            "invalid inactive value \"inactive=10x\"",
        ),
        (
            "keys_zone=z:1m inactive=500ms",
            "inactive",
            "invalid inactive value \"inactive=500ms\"",
        ),
        (
            "keys_zone=z:1m max_size=lots",
            "max_size",
            "invalid max_size value \"max_size=lots\"",
        ),
        (
            "keys_zone=z:1m loader_sleep=x",
            "loader_sleep",
            "invalid loader_sleep value \"loader_sleep=x\"",
        ),
        (
            "keys_zone=z:1m manager_files=-1",
            "manager_files",
            "invalid manager_files value \"manager_files=-1\"",
        ),
        (
            "keys_zone=z:1m use_temp_path=yes",
            "use_temp_path",
            "invalid use_temp_path value \"use_temp_path=yes\", it must be \"on\" or \"off\"",
        ),
        ("keys_zone=z:1m fast", "fast", "invalid parameter \"fast\""),
        (
            "keys_zone=z:1m loader_speed=1",
            "loader_speed",
            "invalid parameter \"loader_speed=1\"",
        ),
    ] {
        let text = format!("http {{\n    proxy_cache_path /var/cache/z {args};\n}}\n");
        let e = err(&text);
        let want = format!("{}: {msg}", at(&text, needle));
        // Levels errors carry a hint after nginx's words.
        assert!(
            e == want || e.starts_with(&format!("{want} (")),
            "{e}\nwant {want}"
        );
        assert!(e.starts_with(&format!("{p}:2:")), "{e}");
    }
    assert_eq!(
        err("http {\n    proxy_cache_path /x;\n}\n"),
        format!("{p}:2:5: invalid number of arguments in \"proxy_cache_path\" directive")
    );
    assert_eq!(
        err(&in_server("proxy_cache_path /x keys_zone=x:1m;")),
        format!("{p}:3:9: \"proxy_cache_path\" directive is not allowed here")
    );
}

fn in_server(body: &str) -> String {
    format!("http {{\n    server {{\n        {body}\n    }}\n}}\n")
}

#[test]
fn duplicate_zones_and_paths() {
    let p = "/etc/ringway/ringway.conf";
    assert_eq!(
        err(&conf(
            "proxy_cache_path /var/cache/other keys_zone=a:1m;",
            "",
            ""
        )),
        format!("{p}:3:5: duplicate zone \"a\" (first declared at {p}:2)")
    );
    assert_eq!(
        err(&conf(
            "proxy_cache_path /var/cache/a/ keys_zone=b:1m;",
            "",
            ""
        )),
        format!(
            "{p}:3:5: the same path name \"/var/cache/a\" is used by two caches (first declared at {p}:2)"
        )
    );
    // Cache and limit zones share nginx's namespace of shared memory zones, either way round.
    assert_eq!(
        err(&conf("limit_conn_zone $remote_addr zone=a:1m;", "", "")),
        format!("{p}:3:5: zone \"a\" is already declared for a different use (at {p}:2)")
    );
    assert_eq!(
        err(
            "http {\n    limit_conn_zone $remote_addr zone=a:1m;\n    proxy_cache_path /c keys_zone=a:1m;\n}\n"
        ),
        format!("{p}:3:5: zone \"a\" is already declared for a different use (at {p}:2)")
    );
}

#[test]
fn setting_errors() {
    let unknown = "\"proxy_cache\" zone \"nope\" is unknown (add \"proxy_cache_path PATH keys_zone=nope:SIZE;\" at http level)";
    err_at("", "", "proxy_cache nope;", "nope", unknown);
    // A zone defined further down still counts; one defined nowhere is reported where named.
    let text = "http {\n    server {\n        proxy_cache late;\n    }\n    proxy_cache_path /l keys_zone=late:1m;\n}\n";
    assert!(parse(text).is_ok());
    err_at("", "proxy_cache nope;", "", "nope", unknown);
    err_at(
        "",
        "",
        "proxy_cache $host;",
        "$host",
        "\"proxy_cache\" with variables is not supported yet by ringway (name the zone)",
    );
    err_at(
        "",
        "",
        "proxy_cache a; proxy_cache off;",
        "proxy_cache off",
        "\"proxy_cache\" directive is duplicate",
    );
    err_at(
        "",
        "",
        "proxy_cache_use_stale error stale;",
        "stale;",
        "invalid value \"stale\" in \"proxy_cache_use_stale\" directive, it must be one of error timeout invalid_header updating http_500 http_502 http_503 http_504 http_403 http_404 http_429 off",
    );
    err_at(
        "",
        "",
        "proxy_cache_methods GET PUT;",
        "PUT",
        "invalid value \"PUT\" in \"proxy_cache_methods\" directive, it must be one of GET HEAD POST",
    );
    err_at(
        "",
        "",
        "proxy_ignore_headers Server;",
        "Server",
        "invalid value \"Server\" in \"proxy_ignore_headers\" directive, it must be one of X-Accel-Redirect X-Accel-Expires X-Accel-Limit-Rate X-Accel-Buffering X-Accel-Charset Expires Cache-Control Set-Cookie Vary",
    );
    err_at(
        "",
        "",
        "proxy_cache_valid 200 10x;",
        "10x",
        "invalid time value \"10x\"",
    );
    err_at(
        "",
        "",
        "proxy_cache_valid 200 500ms;",
        "500ms",
        "invalid time value \"500ms\"",
    );
    err_at(
        "",
        "",
        "proxy_cache_valid 99 1m;",
        "99",
        "invalid status \"99\"",
    );
    err_at(
        "",
        "",
        "proxy_cache_lock_timeout soon;",
        "soon",
        "invalid value \"soon\" in \"proxy_cache_lock_timeout\" directive, expected a time such as 30s, 5m, 1h or 500ms",
    );
    err_at(
        "",
        "",
        "proxy_cache_lock maybe;",
        "maybe",
        "invalid value \"maybe\" in \"proxy_cache_lock\" directive, it must be \"on\" or \"off\"",
    );
    err_at(
        "",
        "",
        "proxy_cache_min_uses x;",
        "x;",
        "invalid value \"x\" in \"proxy_cache_min_uses\" directive, expected a number",
    );
    err_at(
        "",
        "",
        "proxy_cache_key $nope;",
        "$nope",
        "unknown \"nope\" variable",
    );
    err_at(
        "",
        "",
        "proxy_no_cache $http_arg_x $nope;",
        "$nope",
        "unknown \"nope\" variable",
    );
    err_at(
        "",
        "",
        "proxy_cache_bypass $upstream_connect_time;",
        "$upstream",
        "variable \"$upstream_connect_time\" is not supported yet by ringway",
    );
    err_at(
        "",
        "",
        "proxy_cache_purge $x1;",
        "$x1",
        "unknown \"x1\" variable",
    );
}

#[test]
fn dump_round_trips() {
    let mut cfg = ok(&conf(
        "proxy_cache_path /var/cache/b levels=2:1:1 use_temp_path=off keys_zone=b:64k inactive=2h max_size=5g min_free=1g loader_files=7 purger=on purger_sleep=1s; proxy_cache a; proxy_cache_valid 200 10m; proxy_cache_bypass $http_x_nocache \"$http_a b\";",
        "proxy_cache_use_stale error updating http_503; proxy_ignore_headers Expires Cache-Control; proxy_cache_max_range_offset 4096;",
        "proxy_cache b; proxy_cache_key $host$request_uri; proxy_cache_valid any 1m; proxy_cache_methods POST; proxy_cache_min_uses 2; proxy_no_cache $http_nc; proxy_cache_purge $http_purge; proxy_cache_lock on; proxy_cache_lock_timeout 1500ms; proxy_cache_lock_age 9s; proxy_cache_revalidate on; proxy_cache_convert_head off; proxy_cache_background_update on; proxy_cache_use_stale off;",
    ));
    // Notices name lines of the file they came from; the dump's lines differ.
    cfg.notices.clear();
    let text = dump(&cfg);
    for line in [
        "proxy_cache_path /var/cache/a levels=1:2 keys_zone=a:10m inactive=10m;",
        "proxy_cache_path /var/cache/b levels=2:1:1 use_temp_path=off keys_zone=b:64k inactive=2h max_size=5g min_free=1g loader_files=7 purger=on purger_sleep=1s;",
        "proxy_cache_bypass $http_x_nocache \"$http_a b\";",
        "proxy_cache a;",
        "proxy_cache_use_stale error updating http_503;",
        "proxy_ignore_headers Expires Cache-Control;",
        "proxy_cache_methods GET HEAD POST;",
        "proxy_cache_lock_timeout 1500ms;",
        "proxy_cache_valid any 1m;",
        "proxy_cache_use_stale off;",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    let mut again = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    again.notices.clear();
    assert_eq!(again.cache_zones, cfg.cache_zones);
    for (s, t) in cfg.servers.iter().zip(&again.servers) {
        assert_eq!(s.settings.cache, t.settings.cache);
        for (l, m) in s.locations.iter().zip(&t.locations) {
            assert_eq!(l.settings.cache, m.settings.cache, "{text}");
        }
    }
    assert_eq!(dump(&again), text);
}

#[test]
fn a_server_without_cache_gets_no_cache_lines() {
    let text = dump(&ok("http {\n    server { listen 127.0.0.1:8080; }\n}\n"));
    assert!(!text.contains("proxy_cache"), "{text}");
    assert!(!text.contains("proxy_ignore_headers"), "{text}");
}
