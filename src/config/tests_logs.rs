//! `log_format`, `access_log` and `error_log`: inheritance, shared files and errors.

use std::path::Path;

use super::*;

use super::test_util::{err, ok, parse};

#[test]
fn access_logs_inherit_and_a_level_with_any_replaces_the_list() {
    let cfg = ok(
        "http {\n  log_format small '$status';\n  access_log /var/log/a.log;\n  \
                  access_log logs/b.log small buffer=32k flush=2s;\n  server {\n    listen 8080;\n    \
                  location /x { access_log /var/log/a.log small; }\n    \
                  location /off { access_log off; }\n    location /y { }\n  }\n}\n",
    );
    assert_eq!(cfg.log_files.len(), 2, "{:?}", cfg.log_files);
    assert_eq!(cfg.log_files[0].path, Path::new("/var/log/a.log"));
    assert_eq!(cfg.log_files[1].path, Path::new("/etc/ringway/logs/b.log"));
    assert_eq!(cfg.log_files[1].buffer, 32 * 1024);
    assert_eq!(cfg.log_files[1].flush, std::time::Duration::from_secs(2));
    let s = &cfg.servers[0];
    assert_eq!(s.settings.access_log.len(), 2);
    assert_eq!(s.settings.access_log[0].format.name, "combined");
    let by = |p: &str| {
        let l = s
            .locations
            .iter()
            .find(|l| matches!(&l.matcher, LocationMatch::Prefix(x) if x == p));
        l.map(|l| l.settings.access_log.clone()).unwrap_or_default()
    };
    let x = by("/x");
    assert_eq!(x.len(), 1);
    assert_eq!((x[0].file, x[0].format.name.as_str()), (0, "small"));
    assert!(by("/off").is_empty());
    assert_eq!(by("/y").len(), 2);
}

#[test]
fn log_errors_name_the_place() {
    let e = err("http {\n  log_format bad '$nope';\n}\n");
    assert_eq!(
        e,
        "/etc/ringway/ringway.conf:2:18: unknown \"nope\" variable"
    );
    let e = err("http {\n  access_log /tmp/a.log missing;\n}\n");
    assert_eq!(
        e,
        "/etc/ringway/ringway.conf:2:25: unknown log format \"missing\""
    );
    let e = err("http {\n  access_log /tmp/a.log combined gzip;\n}\n");
    assert!(
        e.starts_with("/etc/ringway/ringway.conf:2:34: access_log gzip is not supported"),
        "{e}"
    );
    let e = err("http {\n  log_format combined '$status';\n}\n");
    assert!(
        e.contains("duplicate \"log_format\" name \"combined\""),
        "{e}"
    );
    let e = err(
        "http {\n  access_log /tmp/a.log combined buffer=8k;\n  server { access_log /tmp/a.log combined buffer=16k; }\n}\n",
    );
    assert!(e.contains("conflicting parameters"), "{e}");
    let e = err("error_log /tmp/e.log loud;\n");
    assert_eq!(
        e,
        "/etc/ringway/ringway.conf:1:22: invalid log level \"loud\""
    );
    let e = err("http {\n  log_format j escape=xml '$status';\n}\n");
    assert!(e.contains("unknown log format escaping \"xml\""), "{e}");
    let e = err("http {\n  access_log syslog:server=x;\n}\n");
    assert!(e.contains("syslog is not supported"), "{e}");
}

#[test]
fn error_log_main_and_nested() {
    let cfg = ok(
        "error_log /var/log/ringway/error.log warn;\nhttp {\n  error_log /x.log;\n  server { listen 8080; }\n}\n",
    );
    let el = cfg.error_log.expect("error_log");
    assert_eq!(
        el.path.as_deref(),
        Some(Path::new("/var/log/ringway/error.log"))
    );
    assert_eq!(el.level, ErrorLevel::Warn);
    assert!(
        cfg.notices
            .iter()
            .any(|n| n.contains(":3: ignored: error_log (only the main-level error_log")),
        "{:?}",
        cfg.notices
    );
    let cfg = ok("error_log stderr;\nhttp { server { listen 8080; } }\n");
    let el = cfg.error_log.expect("error_log");
    assert_eq!((el.path, el.level), (None, ErrorLevel::Error));
}

#[test]
fn log_format_joins_strings_and_reads_escape() {
    let cfg = ok(
        "http {\n  log_format j escape=json '{\"s\":\"$status\",'\n    '\"u\":\"$request_uri\"}';\n  \
                  access_log /tmp/j.log j if=$arg_log;\n  server { listen 8080; }\n}\n",
    );
    let l = &cfg.servers[0].settings.access_log[0];
    assert_eq!(l.format.escape, crate::observe::format::Escape::Json);
    assert_eq!(l.format.items.len(), 5);
    assert!(l.cond.is_some());
}

#[test]
fn dump_states_the_logs_and_reads_back() {
    let cfg = ok(
        "error_log /var/log/r/error.log warn;\nhttp {\n  log_format small escape=json '$status $uri';\n  \
                  access_log /var/log/a.log;\n  server {\n    listen 8080;\n    access_log /var/log/b.log small buffer=8k flush=3s if=$arg_x;\n    \
                  location /off { access_log off; }\n    location /in { }\n  }\n}\n",
    );
    let text = dump(&cfg);
    for want in [
        "error_log /var/log/r/error.log warn;",
        "log_format small escape=json \"$status $uri\";",
        "access_log /var/log/b.log small buffer=8k flush=3s if=$arg_x;",
        "access_log off;",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    let again = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(dump(&again), text);
}
