//! Front-end tests: every error kind with its position, includes, inheritance, the seed configs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_str(text, Path::new("ringway.conf"))
}

fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("expected the config to load, got: {e}"),
    }
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Wraps `body` in `http { server { ... } }` so that its first line is line 3, column 9.
fn in_server(body: &str) -> String {
    format!("http {{\n    server {{\n{body}\n    }}\n}}\n")
}

/// A location body at line 4, column 13.
fn in_location(body: &str) -> String {
    format!("http {{\n    server {{\n        location / {{\n{body}\n        }}\n    }}\n}}\n")
}

fn seed_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seed-configs"))
}

/// A fresh, empty folder under the system temp dir (removed on drop).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ringway-config-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// Seed configs

#[test]
fn seed_single_backend_loads() {
    let cfg = load(&seed_dir().join("single-backend.conf")).unwrap();
    assert_eq!(cfg.workers, None);
    assert_eq!(cfg.pid_file.as_deref(), Some(Path::new("/run/nginx.pid")));
    assert_eq!(cfg.shutdown_timeout, Duration::from_secs(10));
    assert_eq!(cfg.servers.len(), 1);
    let s = &cfg.servers[0];
    assert_eq!(s.listen[0].addr.to_string(), "0.0.0.0:80");
    assert_eq!(s.listen[0].backlog, 511);
    assert_eq!(s.server_names, vec![String::new()]);
    let Action::Proxy(p) = &s.locations[0].action else {
        panic!("expected proxy_pass");
    };
    assert_eq!(p.target, "localhost:8080");
    assert!(!p.is_upstream);
    assert_eq!(p.uri, None);
    assert_eq!(cfg.worker_connections, Some(768));
    for word in [
        "ignored: user",
        "ignored: sendfile",
        "ignored: tcp_nopush",
        "ignored: types_hash_max_size",
        "ignored: default_type",
        "ignored: error_log",
    ] {
        assert!(
            cfg.notices.iter().any(|n| n.contains(word)),
            "no notice {word:?} in {:#?}",
            cfg.notices
        );
    }
    assert!(
        cfg.notices.iter().any(|n| n.ends_with(
            "single-backend.conf:2: ignored: user (process matter in nginx, no effect in ringway)"
        )),
        "{:#?}",
        cfg.notices
    );
}

#[test]
fn seed_named_host_loads() {
    let cfg = load(&seed_dir().join("named-host.conf")).unwrap();
    let s = &cfg.servers[0];
    assert_eq!(s.server_names, ["yourdomain.com", "www.yourdomain.com"]);
    let l = &s.locations[0];
    assert_eq!(l.matcher, LocationMatch::Prefix("/".into()));
    let Action::Proxy(p) = &l.action else {
        panic!()
    };
    assert_eq!(p.target, "127.0.0.1:3000");
    assert_eq!(l.settings.proxy_set_header.len(), 4);
    assert_eq!(
        l.settings.proxy_set_header[2],
        (
            "X-Forwarded-For".to_string(),
            "$proxy_add_x_forwarded_for".to_string()
        )
    );
    assert!(s.settings.proxy_set_header.is_empty());
}

#[test]
fn seed_api_pool_loads() {
    let cfg = load(&seed_dir().join("api-pool.conf")).unwrap();
    let names: Vec<&str> = cfg.upstreams.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["app", "admin", "users"]);
    let app = &cfg.upstreams[0];
    assert_eq!(app.method, BalanceMethod::LeastConn);
    assert_eq!(app.servers.len(), 4);
    assert_eq!(app.servers[2].weight, 2);
    assert_eq!(app.servers[3].max_fails, 3);
    assert_eq!(app.servers[3].fail_timeout, Duration::from_secs(10));
    assert_eq!(app.keepalive, DEFAULT_UPSTREAM_KEEPALIVE);
    assert!(cfg.upstreams[2].servers[1].backup);
    let s = &cfg.servers[0];
    let l = &s.locations[0];
    let Action::Proxy(p) = &l.action else {
        panic!()
    };
    assert!(p.is_upstream);
    assert_eq!(p.target, "app");
    assert_eq!(p.uri, None);
    assert!(l.settings.proxy_http_version_11);
    assert_eq!(
        l.settings.proxy_set_header[0],
        ("Connection".to_string(), String::new())
    );
    let Action::Proxy(p) = &s.locations[2].action else {
        panic!()
    };
    assert_eq!((p.target.as_str(), p.uri.as_deref()), ("users", Some("/")));
    // location /admin does not inherit the other location's headers.
    assert!(s.locations[1].settings.proxy_set_header.is_empty());
    let d = &cfg.servers[1];
    assert!(d.listen[0].default_server);
    assert_eq!(d.server_names, ["_"]);
    assert_eq!(
        d.server_return.as_ref().map(|r| (r.code, r.text.clone())),
        Some((404, None))
    );
}

#[test]
fn seed_site_with_symlinked_include_loads() {
    let cfg = load(&seed_dir().join("site/nginx.conf")).unwrap();
    assert_eq!(cfg.servers.len(), 1);
    let s = &cfg.servers[0];
    assert_eq!(s.server_names, ["_"]);
    assert_eq!(s.settings.keepalive_timeout, Duration::from_secs(65));
    assert_eq!(
        s.locations[0].settings.keepalive_timeout,
        Duration::from_secs(65)
    );
    let Action::Proxy(p) = &s.locations[0].action else {
        panic!()
    };
    assert_eq!(p.target, "127.0.0.1:8000");
}

#[test]
fn seed_edge_full_reads_up_to_its_missing_files() {
    // Every directive of edge-full.conf is now understood (proxy_cache* included); what stops
    // it is the first file it names that this machine lacks.
    let path = seed_dir().join("edge-full.conf");
    let e = load(&path).unwrap_err();
    assert_eq!(e.file, path);
    assert_eq!((e.line, e.col), (61, 34), "{e}");
    assert!(
        e.message
            .starts_with("cannot read auth_basic_user_file \"/etc/ringway/htpasswd\": "),
        "{e}"
    );
}

#[test]
fn seeds_dump_and_read_back_the_same() {
    for f in [
        "single-backend.conf",
        "named-host.conf",
        "api-pool.conf",
        "site/nginx.conf",
    ] {
        let cfg = load(&seed_dir().join(f)).unwrap();
        let text = dump(&cfg);
        let again = parse_str(&text, &seed_dir().join(f))
            .unwrap_or_else(|e| panic!("dump of {f} does not read back: {e}\n{text}"));
        let mut again = again;
        again.notices = cfg.notices.clone();
        assert_eq!(dump(&again), text, "{f}");
    }
}

// ---------------------------------------------------------------------------------------------
// Error messages, each with its position

#[test]
fn error_display_without_position() {
    let e = load(Path::new("/nonexistent/ringway.conf")).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(
        e.to_string()
            .starts_with("/nonexistent/ringway.conf: open() failed ("),
        "{e}"
    );
    let _: &dyn std::error::Error = &e;
}

#[test]
fn unknown_directive_with_suggestion() {
    let text = "http {\n\n\n\n\n\n\n\n    server {\n\n        location / {\n        proxy_pas http://a;\n        }\n    }\n}\n";
    assert_eq!(
        err(text),
        "ringway.conf:12:9: unknown directive \"proxy_pas\", did you mean \"proxy_pass\"?"
    );
    assert_eq!(
        err(&in_server("        lisen 80;")),
        "ringway.conf:3:9: unknown directive \"lisen\", did you mean \"listen\"?"
    );
    assert_eq!(
        err("frobnicate_everything on;"),
        "ringway.conf:1:1: unknown directive \"frobnicate_everything\""
    );
}

#[test]
fn directive_not_allowed_here() {
    assert_eq!(
        err(&in_server("        proxy_pass http://a;")),
        "ringway.conf:3:9: \"proxy_pass\" directive is not allowed here"
    );
    assert_eq!(
        err("http {\n    listen 80;\n}"),
        "ringway.conf:2:5: \"listen\" directive is not allowed here"
    );
    assert_eq!(
        err("events {\n  gzip on;\n}"),
        "ringway.conf:2:3: \"gzip\" directive is not allowed here"
    );
    // With an explicit http block, a bare server outside it is misplaced.
    assert_eq!(
        err("http {}\nserver {}\n"),
        "ringway.conf:2:1: \"server\" directive is not allowed here"
    );
    assert_eq!(
        err("http {\n upstream u { server a; proxy_pass http://x; }\n}"),
        "ringway.conf:2:25: \"proxy_pass\" directive is not allowed here"
    );
}

#[test]
fn invalid_number_of_arguments() {
    assert_eq!(
        err(&in_location("            proxy_pass http://a http://b;")),
        "ringway.conf:4:13: invalid number of arguments in \"proxy_pass\" directive"
    );
    assert_eq!(
        err(&in_server("        listen;")),
        "ringway.conf:3:9: invalid number of arguments in \"listen\" directive"
    );
    assert_eq!(
        err("include;"),
        "ringway.conf:1:1: invalid number of arguments in \"include\" directive"
    );
}

#[test]
fn structural_errors() {
    assert_eq!(err("http {\n}\n}\n"), "ringway.conf:3:1: unexpected \"}\"");
    assert_eq!(
        err("http {\n    server {\n"),
        "ringway.conf:2:13: unexpected end of file, expecting \"}\""
    );
    assert_eq!(
        err("http {\n    server {\n        listen 80"),
        "ringway.conf:3:18: unexpected end of file, expecting \";\" or \"}\""
    );
    assert_eq!(err("; http {}"), "ringway.conf:1:1: unexpected \";\"");
    assert_eq!(err("{ }"), "ringway.conf:1:1: unexpected \"{\"");
    assert_eq!(
        err("http;"),
        "ringway.conf:1:1: directive \"http\" has no opening \"{\""
    );
    assert_eq!(
        err(&in_location("            proxy_pass http://a { }")),
        "ringway.conf:4:13: directive \"proxy_pass\" is not terminated by \";\""
    );
    assert_eq!(
        err("server { listen \"80\"x; }"),
        "ringway.conf:1:21: unexpected \"x\" after a quoted string"
    );
    assert_eq!(
        err("server {\n  server_name \"abc;\n}\n"),
        "ringway.conf:2:15: unexpected end of file, the string opened here has no closing \""
    );
}

#[test]
fn missing_semicolon() {
    // Before a closing brace: points just after the last argument.
    assert_eq!(
        err("server {\n    listen 80\n}\n"),
        "ringway.conf:2:14: directive \"listen\" is not terminated by \";\""
    );
    // Before the next directive on the following line.
    assert_eq!(
        err("server {\n    listen 80\n    server_name a;\n}\n"),
        "ringway.conf:2:14: directive \"listen\" is not terminated by \";\""
    );
    assert_eq!(
        err(&in_location(
            "            proxy_pass http://a\n            proxy_set_header Host $host;"
        )),
        "ringway.conf:4:32: directive \"proxy_pass\" is not terminated by \";\""
    );
    // Arguments continued on the next line are fine when that line is no directive.
    let cfg = ok(&in_location(
        "            proxy_next_upstream error\n                timeout http_502;\n            proxy_pass http://a;",
    ));
    assert_eq!(
        cfg.servers[0].locations[0].settings.proxy_next_upstream,
        ["error", "timeout", "http_502"]
    );
}

#[test]
fn unsupported_directives_are_named_with_position() {
    let msg = |d: &str| {
        format!(
            "\"{d}\" is not supported yet by ringway (it would change how requests are handled)"
        )
    };
    for d in [
        "limit_rate 1k",
        "satisfy any",
        "proxy_store on",
        "error_page 404 /x",
    ] {
        let name = d.split(' ').next().unwrap();
        assert_eq!(
            err(&in_location(&format!("            {d};"))),
            format!("ringway.conf:4:13: {}", msg(name)),
            "{d}"
        );
    }
    assert_eq!(
        err(&in_server(
            "        ssl_conf_command Options PrioritizeChaCha;"
        )),
        format!("ringway.conf:3:9: {}", msg("ssl_conf_command"))
    );
    assert_eq!(
        err(&in_server("        if ($host = a) { return 404; }")),
        format!("ringway.conf:3:9: {}", msg("if"))
    );
    assert_eq!(
        err(&in_server("        listen 443 ssl;")),
        "ringway.conf:3:9: no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in ringway.conf:2"
    );
    assert_eq!(
        err(&in_server("        listen 443 quic;")),
        "ringway.conf:3:20: the \"quic\" parameter of \"listen\" is not supported yet by ringway (it would change how requests are handled)"
    );
    assert_eq!(
        err(&in_location("            proxy_pass http://$host;")),
        "ringway.conf:4:24: \"proxy_pass\" with variables is not supported yet by ringway (it would change how requests are handled)"
    );
    assert_eq!(
        err("upstream u { server unix:/tmp/s; }"),
        "ringway.conf:1:21: a \"unix:\" upstream server is not supported yet by ringway (it would change how requests are handled)"
    );
    assert_eq!(
        err(&in_server("        location @x { }")),
        "ringway.conf:3:9: the named location \"@x\" is not supported yet by ringway (it would change how requests are handled)"
    );
}

#[test]
fn accepted_with_notice() {
    let cfg = ok(
        "user nobody;\nworker_rlimit_nofile 1024;\nerror_log /x;\nevents { worker_connections 10; use epoll; multi_accept on; }\n\
         http {\n  tcp_nodelay on;\n  server_tokens off;\n  charset utf-8;\n  log_format main '$remote_addr';\n\
         types { text/html html; application/json json; }\n  gzip_buffers 16 8k;\n  proxy_buffering off;\n\
         proxy_buffers 8 16k;\n  proxy_buffer_size 4k;\n  proxy_request_buffering off;\n  server { listen 8080; }\n}\n",
    );
    // `error_log` (main level) and `log_format` are honoured: no notice for them.
    assert_eq!(cfg.notices.len(), 13, "{:#?}", cfg.notices);
    assert_eq!(cfg.worker_connections, Some(10));
    assert_eq!(
        cfg.notices[0],
        "ringway.conf:1: ignored: user (process matter in nginx, no effect in ringway)"
    );
    assert!(cfg.notices.iter().any(|n| n.contains("ignored: types")));
}

#[test]
fn bad_values() {
    assert_eq!(
        err(&in_server("        listen abc:xyz;")),
        "ringway.conf:3:16: invalid port in \"abc:xyz\" of the \"listen\" directive"
    );
    assert_eq!(
        err(&in_server("        listen 0;")),
        "ringway.conf:3:16: invalid port in \"0\" of the \"listen\" directive"
    );
    assert_eq!(
        err(&in_server("        listen 80 backlog=x;")),
        "ringway.conf:3:19: invalid backlog \"x\""
    );
    assert_eq!(
        err(&in_server("        listen 80 fancy;")),
        "ringway.conf:3:19: invalid parameter \"fancy\""
    );
    assert_eq!(
        err(&in_server("        client_max_body_size 10x;")),
        "ringway.conf:3:30: invalid value \"10x\" in \"client_max_body_size\" directive, expected a size such as 512, 1k or 10m"
    );
    assert_eq!(
        err(&in_location("            proxy_read_timeout 30q;")),
        "ringway.conf:4:32: invalid value \"30q\" in \"proxy_read_timeout\" directive, expected a time such as 30s, 5m, 1h, 500ms or plain seconds"
    );
    assert_eq!(
        err(&in_location("            proxy_add_via maybe;")),
        "ringway.conf:4:27: invalid value \"maybe\" in \"proxy_add_via\" directive, it must be \"on\" or \"off\""
    );
    assert_eq!(
        err(&in_location("            proxy_http_version 2.0;")),
        "ringway.conf:4:32: invalid value \"2.0\" in \"proxy_http_version\" directive, it must be \"1.0\" or \"1.1\""
    );
    assert_eq!(
        err(&in_location("            keepalive_requests many;")),
        "ringway.conf:4:32: invalid value \"many\" in \"keepalive_requests\" directive, expected a number"
    );
    assert_eq!(
        err(&in_location(
            "            proxy_next_upstream error http_501;"
        )),
        "ringway.conf:4:39: invalid value \"http_501\" in \"proxy_next_upstream\" directive, it must be one of error timeout invalid_header http_500 http_502 http_503 http_504 http_403 http_404 http_429 non_idempotent off"
    );
    assert_eq!(
        err("worker_processes lots;"),
        "ringway.conf:1:18: invalid value \"lots\" in \"worker_processes\" directive, it must be \"auto\" or a number"
    );
    assert_eq!(
        err(&in_location("            proxy_set_header \"Bad Name\" x;")),
        "ringway.conf:4:30: invalid header name \"Bad Name\""
    );
    assert_eq!(
        err(&in_location("            add_header X-A b sometimes;")),
        "ringway.conf:4:30: invalid parameter \"sometimes\""
    );
    assert_eq!(
        err(&in_server("        return abc;")),
        "ringway.conf:3:16: invalid return code \"abc\""
    );
    assert_eq!(
        err(&in_server("        return 1000;")),
        "ringway.conf:3:16: invalid return code \"1000\""
    );
    assert_eq!(
        err(&in_server("        rewrite ^/a /b sideways;")),
        "ringway.conf:3:24: invalid parameter \"sideways\""
    );
    assert_eq!(
        err(&in_location("            proxy_pass ftp://a;")),
        "ringway.conf:4:24: invalid URL prefix in \"ftp://a\""
    );
    assert_eq!(
        err(&in_location("            proxy_pass http://a:99999/;")),
        "ringway.conf:4:24: invalid port in upstream \"a:99999\""
    );
    assert_eq!(
        err(&in_location("            proxy_pass http:///x;")),
        "ringway.conf:4:24: no host in upstream \"\""
    );
}

#[test]
fn duplicates() {
    assert_eq!(
        err(&in_location(
            "            proxy_read_timeout 1s;\n            proxy_read_timeout 2s;"
        )),
        "ringway.conf:5:13: \"proxy_read_timeout\" directive is duplicate"
    );
    assert_eq!(
        err(&in_location(
            "            proxy_pass http://a;\n            proxy_pass http://b;"
        )),
        "ringway.conf:5:13: \"proxy_pass\" directive is duplicate"
    );
    assert_eq!(
        err(&in_server(
            "        location /a { }\n        location /a { }"
        )),
        "ringway.conf:4:9: duplicate location \"/a\" (first at ringway.conf:3)"
    );
    assert_eq!(
        err(&in_server(
            "        location /a { }\n        location ^~ /a { }"
        )),
        "ringway.conf:4:9: duplicate location \"/a\" (first at ringway.conf:3)"
    );
    assert_eq!(
        err(&in_server(
            "        location = /a { }\n        location =/a { }"
        )),
        "ringway.conf:4:9: duplicate location \"/a\" (first at ringway.conf:3)"
    );
    // An exact and a prefix location for the same path are different locations.
    ok(&in_server(
        "        location = /a { }\n        location /a { }",
    ));
    assert_eq!(
        err("upstream a { server x; }\nupstream A { server y; }\n"),
        "ringway.conf:2:1: duplicate upstream \"A\" (first defined at ringway.conf:1)"
    );
    assert_eq!(
        err("http {}\nhttp {}\n"),
        "ringway.conf:2:1: \"http\" directive is duplicate"
    );
    assert_eq!(
        err("server { listen 80 default_server; }\nserver { listen 80 default_server; }\n"),
        "ringway.conf:2:10: a duplicate default server for 0.0.0.0:80 (the first is at ringway.conf:1)"
    );
    assert_eq!(
        err("server { listen 80; listen *:80; }"),
        "ringway.conf:1:21: a duplicate listen 0.0.0.0:80"
    );
    assert_eq!(
        err("server { listen 80 backlog=10; }\nserver { listen 80 backlog=20; }\n"),
        "ringway.conf:2:10: duplicate listen options for 0.0.0.0:80 (also set at ringway.conf:1)"
    );
}

#[test]
fn location_nesting_rules() {
    assert_eq!(
        err(&in_server(
            "        location = /a {\n            location /a/b { }\n        }"
        )),
        "ringway.conf:4:13: location \"/a/b\" cannot be inside the exact location \"/a\""
    );
    assert_eq!(
        err(&in_server(
            "        location /a {\n            location /b { }\n        }"
        )),
        "ringway.conf:4:13: location \"/b\" is outside location \"/a\""
    );
    assert_eq!(
        err(&in_server(
            "        location /a {\n            location /a/x { }\n            location /a/x { }\n        }"
        )),
        "ringway.conf:5:13: duplicate location \"/a/x\" (first at ringway.conf:4)"
    );
    assert_eq!(
        err(&in_server("        location < /a { }")),
        "ringway.conf:3:18: invalid location modifier \"<\""
    );
    let cfg = ok(&in_server(
        "        location /a {\n            location /a/b { proxy_pass http://x; }\n            location ~ \\.png$ { return 403; }\n        }",
    ));
    let a = &cfg.servers[0].locations[0];
    assert!(matches!(a.action, Action::None));
    assert_eq!(a.locations.len(), 2);
    assert!(matches!(a.locations[0].action, Action::Proxy(_)));
    assert_eq!(
        a.locations[1].matcher,
        LocationMatch::Regex {
            pattern: "\\.png$".into(),
            case_insensitive: false
        }
    );
}

#[test]
fn regex_errors() {
    assert_eq!(
        err(&in_server("        location ~ ^/(a { }")),
        "ringway.conf:3:20: invalid regular expression \"^/(a\": unclosed group"
    );
    assert!(
        err(&in_server("        server_name ~^(www.example.com;"))
            .starts_with("ringway.conf:3:21: invalid regular expression \"^(www.example.com\": ")
    );
    assert!(
        err(&in_server("        rewrite ^/(x /y;"))
            .starts_with("ringway.conf:3:17: invalid regular expression \"^/(x\": ")
    );
    // PCRE look-ahead is not in the regex crate.
    assert!(
        err(&in_server("        location ~ ^/(?!api) { }")).contains("invalid regular expression")
    );
}

#[test]
fn proxy_pass_rules() {
    assert_eq!(
        err(&in_server(
            "        location ~ ^/api { proxy_pass http://a/x; }"
        )),
        "ringway.conf:3:28: \"proxy_pass\" cannot have URI part in location given by regular expression, or inside named location, or inside \"if\" statement, or inside \"limit_except\" block"
    );
    assert_eq!(
        err("upstream app { server a; }\nserver { location / { proxy_pass http://app:8080; } }\n"),
        "ringway.conf:2:34: upstream \"app\" may not have port 8080"
    );
    let cfg = ok(&in_server(
        "        location ~ ^/api { proxy_pass http://a; }\n\
         location /b { proxy_pass http://example.com/; }\n\
         location /c { proxy_pass http://[::1]:9000/c?x=1; }\n\
         location /d { proxy_pass http://App; }\n\
         location /e { proxy_pass http://10.0.0.1:81; }",
    ));
    let p = |i: usize| match &cfg.servers[0].locations[i].action {
        Action::Proxy(p) => (p.target.clone(), p.is_upstream, p.uri.clone()),
        _ => panic!(),
    };
    assert_eq!(p(0), ("a:80".into(), false, None));
    assert_eq!(p(1), ("example.com:80".into(), false, Some("/".into())));
    assert_eq!(p(2), ("[::1]:9000".into(), false, Some("/c?x=1".into())));
    assert_eq!(p(3), ("App:80".into(), false, None));
    assert_eq!(p(4), ("10.0.0.1:81".into(), false, None));

    // An upstream defined after its use, matched without regard to case.
    let cfg = ok(
        "server { location / { proxy_pass http://Pool/v1/; } }\nupstream pool { server 10.0.0.1:81; }\n",
    );
    let Action::Proxy(p) = &cfg.servers[0].locations[0].action else {
        panic!()
    };
    assert_eq!((p.target.as_str(), p.is_upstream), ("pool", true));
    assert_eq!(p.uri.as_deref(), Some("/v1/"));
}

#[test]
fn return_and_rewrite() {
    let cfg = ok(&in_server(
        "        rewrite ^/old/(.*)$ /new/$1 permanent;\n\
         return 301 https://$host$request_uri;\n\
         rewrite ^/never /x;\n\
         location /a { return https://example.com/; proxy_pass http://x; }\n\
         location /b { return 200 \"hello $remote_addr\\n\"; }\n\
         location /c { return 444; }\n\
         location /d { rewrite ^ /e break; rewrite ^/f /g last; rewrite ^/h /i redirect; rewrite ^/j /k; proxy_pass http://x; }",
    ));
    let s = &cfg.servers[0];
    assert_eq!(
        s.rewrites.len(),
        1,
        "a rewrite after return is never reached"
    );
    assert_eq!(s.rewrites[0].flag, RewriteFlag::Permanent);
    assert_eq!(s.rewrites[0].replacement, "/new/$1");
    let r = s.server_return.as_ref().unwrap();
    assert_eq!(
        (r.code, r.text.as_deref()),
        (301, Some("https://$host$request_uri"))
    );
    let ret = |i: usize| match &s.locations[i].action {
        Action::Return(r) => (r.code, r.text.clone()),
        _ => panic!("location {i} should return"),
    };
    // return wins over proxy_pass (nginx runs it in the rewrite phase).
    assert_eq!(ret(0), (302, Some("https://example.com/".into())));
    assert_eq!(ret(1), (200, Some("hello $remote_addr\n".into())));
    assert_eq!(ret(2), (444, None));
    let flags: Vec<RewriteFlag> = s.locations[3].rewrites.iter().map(|r| r.flag).collect();
    assert_eq!(
        flags,
        [
            RewriteFlag::Break,
            RewriteFlag::Last,
            RewriteFlag::Redirect,
            RewriteFlag::None
        ]
    );
}

#[test]
fn variables_are_checked() {
    assert_eq!(
        err(&in_location(
            "            proxy_set_header X-Id $request_idd;"
        )),
        "ringway.conf:4:35: unknown \"request_idd\" variable"
    );
    assert_eq!(
        err(&in_location(
            "            add_header X-Time $upstream_connect_time;"
        )),
        "ringway.conf:4:31: variable \"$upstream_connect_time\" is not supported yet by ringway"
    );
    assert_eq!(
        err(&in_server("        return 200 \"$nope\";")),
        "ringway.conf:3:20: unknown \"nope\" variable"
    );
    assert_eq!(
        err("upstream u { hash $cookie_session; server a; }"),
        "ringway.conf:1:19: variable \"$cookie_session\" is not supported yet by ringway"
    );
    // Named captures of the server's regexes are variables.
    ok(&in_server(
        "        server_name ~^(?<sub>\\w+)\\.example\\.com$;\n        location ~ ^/u/(?P<user>[a-z]+) { proxy_set_header X-User $user; add_header X-Sub ${sub}; return 200 $1; }",
    ));
    ok(&in_location(
        "            proxy_set_header X-Real-IP $remote_addr;\n            proxy_set_header X-Ua $http_user_agent;\n            proxy_set_header H \"$scheme://$host:$server_port$uri?$args\";",
    ));
}

#[test]
fn upstream_blocks() {
    let cfg = ok(
        "resolver 10.0.0.53;\nupstream a {\n  hash $request_uri consistent;\n  server 10.0.0.1 weight=3 max_fails=0 fail_timeout=30s max_conns=100;\n  server [::1]:8080 down;\n  server backend.local:9000 resolve;\n  keepalive 16;\n  keepalive_timeout 5m;\n  keepalive_requests 50;\n  zone a 64k;\n}\n\
         upstream b { ip_hash; server x; }\nupstream c { random two least_conn; server x; }\nupstream d { random; server x; }\nupstream e { random two; server x; }\nupstream f { server x; keepalive 0; }\n",
    );
    let a = &cfg.upstreams[0];
    assert_eq!(a.method, BalanceMethod::Hash { consistent: true });
    assert_eq!(a.hash_key.as_deref(), Some("$request_uri"));
    let s0 = &a.servers[0];
    assert_eq!(s0.addr, "10.0.0.1:80");
    assert_eq!((s0.weight, s0.max_fails, s0.max_conns), (3, 0, 100));
    assert_eq!(s0.fail_timeout, Duration::from_secs(30));
    assert_eq!(a.servers[1].addr, "[::1]:8080");
    assert!(a.servers[1].down);
    assert_eq!(a.servers[2].addr, "backend.local:9000");
    assert_eq!(a.keepalive, 16);
    assert_eq!(a.keepalive_timeout, Duration::from_secs(300));
    assert_eq!(a.keepalive_requests, 50);
    assert!(cfg.notices.iter().any(|n| n.contains("ignored: zone")));
    assert!(a.servers[2].resolve && !a.servers[0].resolve);
    assert_eq!(cfg.upstreams[1].method, BalanceMethod::IpHash);
    assert_eq!(
        cfg.upstreams[2].method,
        BalanceMethod::Random {
            two: true,
            least_conn: true
        }
    );
    assert_eq!(
        cfg.upstreams[3].method,
        BalanceMethod::Random {
            two: false,
            least_conn: false
        }
    );
    assert_eq!(
        cfg.upstreams[4].method,
        BalanceMethod::Random {
            two: true,
            least_conn: false
        }
    );
    assert_eq!(cfg.upstreams[5].keepalive, 0);
    // Defaults.
    let cfg = ok("upstream d { server x:1; }");
    let d = &cfg.upstreams[0];
    assert_eq!(d.method, BalanceMethod::RoundRobin);
    assert_eq!(d.keepalive, 32);
    assert_eq!(d.keepalive_timeout, Duration::from_secs(60));
    assert_eq!(d.keepalive_requests, 1000);
    let s = &d.servers[0];
    assert_eq!(
        (s.weight, s.max_fails, s.fail_timeout),
        (1, 1, Duration::from_secs(10))
    );
    assert!(!s.backup && !s.down);

    assert_eq!(
        err("http {\n  upstream empty {\n    keepalive 4;\n  }\n}"),
        "ringway.conf:2:3: no servers are inside upstream \"empty\""
    );
    assert_eq!(
        err("upstream u { server a weight=0; }"),
        "ringway.conf:1:23: invalid value in \"weight=0\" of the upstream \"server\""
    );
    assert_eq!(
        err("upstream u { server a heavy; }"),
        "ringway.conf:1:23: invalid parameter \"heavy\""
    );
    assert_eq!(
        err("upstream u { server a:x; }"),
        "ringway.conf:1:21: invalid port in upstream \"a:x\""
    );
    assert_eq!(
        err("upstream u { ip_hash; server a; server b backup; }"),
        "ringway.conf:1:42: balancing method \"ip_hash\" does not support parameter \"backup\""
    );
    assert_eq!(
        err("upstream u { random three; server a; }"),
        "ringway.conf:1:21: invalid parameter \"three\""
    );
    assert_eq!(
        err("upstream u { server a; keepalive 1; keepalive 2; }"),
        "ringway.conf:1:37: \"keepalive\" directive is duplicate"
    );
}

#[test]
fn listen_forms() {
    let cfg = ok(
        "server { listen 127.0.0.1:8080 default_server backlog=1024 reuseport; listen [::1]:81 ipv6only=on; listen *:82 so_keepalive=on; listen localhost:83; listen 84 so_keepalive=30m::10; }\nserver { server_name a; }\n",
    );
    let l: Vec<(String, bool, i32)> = cfg.servers[0]
        .listen
        .iter()
        .map(|l| (l.addr.to_string(), l.default_server, l.backlog))
        .collect();
    assert_eq!(
        l,
        [
            ("127.0.0.1:8080".into(), true, 1024),
            ("[::1]:81".into(), false, 511),
            ("0.0.0.0:82".into(), false, 511),
            ("127.0.0.1:83".into(), false, 511),
            ("0.0.0.0:84".into(), false, 511),
        ]
    );
    // No listen: nginx's default as root.
    assert_eq!(cfg.servers[1].listen[0].addr.to_string(), "0.0.0.0:80");
    // An explicit backlog on one server applies to the shared socket.
    let cfg = ok("server { listen 80 backlog=64; }\nserver { listen 80; server_name b; }\n");
    assert_eq!(cfg.servers[1].listen[0].backlog, 64);
    assert!(!cfg.servers[1].listen[0].deferred);
}

#[test]
fn listen_deferred_is_the_sockets() {
    // `deferred` on one server's listen line sets TCP_DEFER_ACCEPT for every server on that
    // address, and only there.
    let cfg =
        ok("server { listen 80; listen 81; }\nserver { listen 80 deferred; server_name b; }\n");
    assert!(cfg.notices.is_empty(), "{:?}", cfg.notices);
    let deferred: Vec<(u16, bool)> = cfg
        .servers
        .iter()
        .flat_map(|s| s.listen.iter().map(|l| (l.addr.port(), l.deferred)))
        .collect();
    assert_eq!(deferred, [(80, true), (81, false), (80, true)]);
    let text = super::dump::dump(&cfg);
    assert!(
        text.contains("listen 0.0.0.0:80 backlog=511 deferred;"),
        "{text}"
    );
    assert!(text.contains("listen 0.0.0.0:81 backlog=511;"), "{text}");
    assert_eq!(
        err("server { listen 80 deferred=on; }"),
        "ringway.conf:1:20: invalid parameter \"deferred=on\""
    );
}

#[test]
fn inheritance() {
    let cfg = ok("http {\n\
           proxy_set_header A http;\n  proxy_read_timeout 10s;\n  client_max_body_size 0;\n  add_header X-H h;\n\
           server {\n\
             proxy_read_timeout 20s;\n\
             location /inherit { }\n\
             location /own { proxy_set_header B loc; proxy_read_timeout 30s; client_max_body_size 5m; add_header X-L l always; proxy_hide_header X-Powered-By; }\n\
             location /nest { proxy_connect_timeout 1s; location /nest/inner { proxy_set_header C inner; } }\n\
           }\n\
           server { server_name two; proxy_set_header D server; large_client_header_buffers 4 16k; keepalive_timeout 5s 5s; proxy_add_via off; location / { } }\n\
           # http-level settings after a server still apply to it (nginx merges at the end)\n\
           keepalive_requests 7;\n\
         }\n");
    let s = &cfg.servers[0];
    assert_eq!(s.settings.proxy_read_timeout, Duration::from_secs(20));
    assert_eq!(
        s.settings.proxy_set_header,
        [("A".to_string(), "http".to_string())]
    );
    assert_eq!(s.settings.keepalive_requests, 7);
    let inh = &s.locations[0].settings;
    assert_eq!(inh.proxy_read_timeout, Duration::from_secs(20));
    assert_eq!(inh.client_max_body_size, 0);
    assert_eq!(
        inh.proxy_set_header,
        [("A".to_string(), "http".to_string())]
    );
    assert_eq!(inh.add_header[0].name, "X-H");
    assert_eq!(inh.proxy_connect_timeout, Duration::from_secs(60));
    let own = &s.locations[1].settings;
    // A level that sets any entry of a list replaces the whole inherited list.
    assert_eq!(own.proxy_set_header, [("B".to_string(), "loc".to_string())]);
    assert_eq!(
        own.add_header,
        [AddHeader {
            name: "X-L".into(),
            value: "l".into(),
            always: true
        }]
    );
    assert_eq!(own.proxy_hide_header, ["X-Powered-By"]);
    assert_eq!(own.proxy_read_timeout, Duration::from_secs(30));
    assert_eq!(own.client_max_body_size, 5 << 20);
    let nest = &s.locations[2];
    let inner = &nest.locations[0].settings;
    assert_eq!(inner.proxy_connect_timeout, Duration::from_secs(1));
    assert_eq!(inner.proxy_read_timeout, Duration::from_secs(20));
    assert_eq!(
        inner.proxy_set_header,
        [("C".to_string(), "inner".to_string())]
    );
    assert_eq!(
        nest.settings.proxy_set_header,
        [("A".to_string(), "http".to_string())]
    );
    let two = &cfg.servers[1];
    let l = &two.locations[0].settings;
    assert_eq!(
        l.proxy_set_header,
        [("D".to_string(), "server".to_string())]
    );
    assert_eq!(
        (l.max_header_size, l.max_request_line),
        (64 * 1024, 16 * 1024)
    );
    assert_eq!(l.keepalive_timeout, Duration::from_secs(5));
    assert!(!l.via);
    assert_eq!(l.proxy_read_timeout, Duration::from_secs(10));
    assert_eq!(l.add_header[0].name, "X-H");
    // Untouched settings keep the model's defaults.
    let d = Settings::default();
    assert_eq!(l.max_request_line, 16 * 1024);
    assert_eq!(cfg.servers[0].settings.max_header_size, d.max_header_size);
    assert_eq!(l.proxy_next_upstream, d.proxy_next_upstream);
}

#[test]
fn more_settings() {
    let cfg = ok(&in_location(
        "            proxy_next_upstream error timeout http_502 non_idempotent;\n\
         proxy_next_upstream_tries 3;\n\
         proxy_next_upstream_timeout 10s;\n\
         proxy_http_version 1.0;\n\
         proxy_send_timeout 500ms;\n\
         client_body_timeout 1m;\n\
         proxy_pass_header Server;",
    ));
    let s = &cfg.servers[0].locations[0].settings;
    assert_eq!(
        s.proxy_next_upstream,
        ["error", "timeout", "http_502", "non_idempotent"]
    );
    assert_eq!(s.proxy_next_upstream_tries, 3);
    assert_eq!(s.proxy_next_upstream_timeout, Duration::from_secs(10));
    assert!(!s.proxy_http_version_11);
    assert_eq!(s.proxy_send_timeout, Duration::from_millis(500));
    assert_eq!(s.client_body_timeout, Duration::from_secs(60));
    assert_eq!(s.proxy_pass_header, ["Server"]);
    let cfg = ok(
        "worker_processes 4;\nworker_shutdown_timeout 1m;\nserver { client_header_timeout 5s; }",
    );
    assert_eq!(cfg.workers, Some(4));
    assert_eq!(cfg.shutdown_timeout, Duration::from_secs(60));
    assert_eq!(
        cfg.servers[0].settings.client_header_timeout,
        Duration::from_secs(5)
    );
    assert_eq!(
        err("server { location / { client_header_timeout 5s; } }"),
        "ringway.conf:1:23: \"client_header_timeout\" directive is not allowed here"
    );
}

#[test]
fn lexer_forms() {
    let cfg = ok(&in_server(
        "        # a comment; with { braces }\n\
         server_name 'single' \"dou\\\"ble\" un#hashed; # trailing\n\
         location \"/a b\" { add_header X-V ${host}x; add_header X-Q \"tab\\there\"; add_header X-S 'it\\'s'; add_header X-E \"\"; }\n\
         location ~ \\.(gif|jpg)$ { }\n\
         location ~* \"^/x{2}\" { }",
    ));
    let s = &cfg.servers[0];
    assert_eq!(s.server_names, ["single", "dou\"ble", "un#hashed"]);
    assert_eq!(s.locations[0].matcher, LocationMatch::Prefix("/a b".into()));
    let h = &s.locations[0].settings.add_header;
    assert_eq!(h[0].value, "${host}x");
    assert_eq!(h[1].value, "tab\there");
    assert_eq!(h[2].value, "it's");
    assert_eq!(h[3].value, "");
    assert_eq!(
        s.locations[1].matcher,
        LocationMatch::Regex {
            pattern: "\\.(gif|jpg)$".into(),
            case_insensitive: false
        }
    );
    assert_eq!(
        s.locations[2].matcher,
        LocationMatch::Regex {
            pattern: "^/x{2}".into(),
            case_insensitive: true
        }
    );
}

#[test]
fn implicit_http_for_a_file_of_server_blocks() {
    let cfg = ok(
        "proxy_read_timeout 5s;\nupstream u { server a:1; }\nserver { location / { proxy_pass http://u; } }\n",
    );
    assert_eq!(cfg.upstreams.len(), 1);
    assert_eq!(
        cfg.servers[0].locations[0].settings.proxy_read_timeout,
        Duration::from_secs(5)
    );
    // location is never top-level.
    assert_eq!(
        err("location / { }"),
        "ringway.conf:1:1: \"location\" directive is not allowed here"
    );
}

// ---------------------------------------------------------------------------------------------
// Includes

#[test]
fn includes_with_globs_and_relative_paths() {
    let t = TempDir::new("glob");
    let main = t.write(
        "etc/ringway.conf",
        "events {}\nhttp {\n    include conf.d/*.conf;\n    include none.d/*.conf;\n    include upstreams/pool;\n}\n",
    );
    // Relative paths inside included files still resolve against the main file's folder.
    t.write(
        "etc/conf.d/b.conf",
        "server { server_name b; include snippets/h.conf; }\n",
    );
    t.write(
        "etc/conf.d/a.conf",
        "server { server_name a; location / { proxy_pass http://pool; } }\n",
    );
    t.write("etc/conf.d/.hidden.conf", "this is not read;\n");
    t.write("etc/conf.d/c.txt", "nor this;\n");
    t.write("etc/snippets/h.conf", "add_header X-From snippet;\n");
    t.write(
        "etc/upstreams/pool",
        "upstream pool { server 10.0.0.9:80; }\n",
    );
    let cfg = load(&main).unwrap();
    let names: Vec<&str> = cfg
        .servers
        .iter()
        .map(|s| s.server_names[0].as_str())
        .collect();
    assert_eq!(names, ["a", "b"], "glob matches are read in sorted order");
    assert_eq!(cfg.servers[1].settings.add_header[0].value, "snippet");
    assert_eq!(cfg.upstreams[0].name, "pool");
    assert_eq!(cfg.source, main);

    // parse_str resolves against the folder of the path it is given, and includes anywhere.
    let cfg = parse_str(
        "http { server { location / { include snippets/h.conf; } } }",
        &t.0.join("etc/virtual.conf"),
    )
    .unwrap();
    assert_eq!(
        cfg.servers[0].locations[0].settings.add_header[0].name,
        "X-From"
    );
}

#[test]
fn include_errors_point_into_the_right_file() {
    let t = TempDir::new("inc-err");
    let main = t.write("main.conf", "http {\n    include sites/*;\n}\n");
    let site = t.write(
        "sites/one",
        "server {\n    location / {\n        proxy_pas http://x;\n    }\n}\n",
    );
    let e = load(&main).unwrap_err();
    assert_eq!(e.file, site);
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3:9: unknown directive \"proxy_pas\", did you mean \"proxy_pass\"?",
            site.display()
        )
    );

    // A missing non-glob include is an error at the include line.
    let main = t.write("missing.conf", "http {\n  include nothing/here.conf;\n}\n");
    let e = load(&main).unwrap_err();
    assert_eq!((e.file.as_path(), e.line, e.col), (main.as_path(), 2, 11));
    assert!(
        e.message.starts_with(&format!(
            "open() \"{}\" failed (",
            t.0.join("nothing/here.conf").display()
        )),
        "{e}"
    );

    // A block left open in an included file is that file's error.
    let inc = t.write("open.inc", "server {\n");
    let main = t.write("open.conf", "http { include open.inc; }\n");
    let e = load(&main).unwrap_err();
    assert_eq!(e.file, inc);
    assert_eq!(e.message, "unexpected end of file, expecting \"}\"");

    // Cycles are refused.
    let main = t.write("loop.conf", "http { include loop2.conf; }\n");
    t.write("loop2.conf", "include loop.conf;\n");
    let e = load(&main).unwrap_err();
    assert!(e.message.starts_with("include cycle: "), "{e}");
    assert_eq!(e.line, 1);
}

#[test]
fn a_relative_pid_path_starts_at_the_main_files_folder() {
    let t = TempDir::new("pid");
    let main = t.write(
        "etc/ringway.conf",
        "pid run/ringway.pid;\nhttp { server { listen 127.0.0.1:1; return 204; } }\n",
    );
    let cfg = load(&main).unwrap();
    assert_eq!(cfg.pid_file, Some(t.0.join("etc/run/ringway.pid")));
    // An absolute path stays as written; a file read by a relative name still gets an
    // absolute pid path, so `-s` finds it from any working directory.
    assert_eq!(
        ok("pid /run/r.pid;\nhttp {}\n").pid_file.as_deref(),
        Some(Path::new("/run/r.pid"))
    );
    let p = ok("pid r.pid;\nhttp {}\n").pid_file.unwrap();
    assert!(p.is_absolute(), "{}", p.display());
    assert_eq!(p, std::env::current_dir().unwrap().join("r.pid"));
}

#[cfg(unix)]
#[test]
fn include_follows_symlinks() {
    let t = TempDir::new("symlink");
    t.write("available/site", "server { server_name linked; }\n");
    std::fs::create_dir_all(t.0.join("enabled")).unwrap();
    std::os::unix::fs::symlink("../available/site", t.0.join("enabled/site")).unwrap();
    let main = t.write("nginx.conf", "http { include enabled/*; }\n");
    let cfg = load(&main).unwrap();
    assert_eq!(cfg.servers[0].server_names, ["linked"]);
}

// ---------------------------------------------------------------------------------------------
// DNS resolver

#[test]
fn resolver_and_resolve_servers() {
    let cfg = ok(
        "http {\n  resolver 10.0.0.53 127.0.0.1:5353 [::1] valid=30s ipv6=off;\n  resolver_timeout 2s;\n  upstream a { server app.internal:8000 resolve weight=2; server 10.0.0.1; }\n}\n",
    );
    let r = cfg.resolver.as_ref().unwrap();
    assert_eq!(
        r.addrs,
        vec![
            "10.0.0.53:53".parse().unwrap(),
            "127.0.0.1:5353".parse().unwrap(),
            "[::1]:53".parse().unwrap()
        ]
    );
    assert_eq!(r.valid, Some(Duration::from_secs(30)));
    assert!(r.ipv4 && !r.ipv6);
    assert_eq!(r.timeout, Duration::from_secs(2));
    let s = &cfg.upstreams[0].servers;
    assert!(s[0].resolve && s[0].weight == 2 && !s[1].resolve);
    assert_eq!(s[0].addr, "app.internal:8000");
    // Defaults: both families, the TTL, a 5 s timeout.
    let cfg = ok("resolver 10.0.0.53;\n");
    let r = cfg.resolver.unwrap();
    assert!(r.ipv4 && r.ipv6 && r.valid.is_none());
    assert_eq!(r.timeout, DEFAULT_RESOLVER_TIMEOUT);
}

#[test]
fn resolver_errors() {
    assert_eq!(
        err("http {\n  upstream a {\n    server app.internal:8000 resolve;\n  }\n}\n"),
        "ringway.conf:3:30: no resolver defined to resolve app.internal (add \"resolver ADDRESS;\" at http level)"
    );
    // The resolver may come after the upstream (it is http-wide).
    ok("upstream a { server app.internal resolve; }\nresolver 127.0.0.1;\n");
    assert_eq!(
        err("resolver dns.example;\n"),
        "ringway.conf:1:10: invalid resolver address \"dns.example\": ringway needs an IP address with an optional port"
    );
    assert!(err("resolver 1.1.1.1 valid=0;\n").contains("invalid value \"valid=0\""));
    assert!(err("resolver 1.1.1.1 ipv6=maybe;\n").contains("must be \"on\" or \"off\""));
    assert!(err("resolver 1.1.1.1 ipv4=off ipv6=off;\n").contains("cannot both be \"off\""));
    assert!(err("resolver valid=1s;\n").contains("no name servers defined"));
    assert!(err("resolver 1.1.1.1 status_zone=x;\n").contains("invalid parameter"));
    assert!(err("resolver 1.1.1.1;\nresolver 1.1.1.2;\n").contains("is duplicate"));
    // In a server or location only the http-level one counts: a notice.
    let cfg = ok(&in_location("            resolver 1.1.1.1;"));
    assert!(cfg.notices.iter().any(|n| n.contains("ignored: resolver")));
}

#[test]
fn resolver_dump_reads_back() {
    let cfg = ok(
        "resolver 10.0.0.53 [::1]:5353 valid=3s ipv6=off;\nupstream a { server app:81 resolve; }\n",
    );
    let out = dump(&cfg);
    assert!(
        out.contains("resolver 10.0.0.53:53 [::1]:5353 valid=3s ipv6=off;"),
        "{out}"
    );
    assert!(out.contains("resolve;"), "{out}");
    let again = ok(&out);
    assert_eq!(again.resolver, cfg.resolver);
    assert_eq!(dump(&again), out);
}

// Dump

#[test]
fn dump_reads_back_the_same() {
    let text = "worker_processes 3;\npid /tmp/r.pid;\nhttp {\n\
        upstream w { hash \"$request_uri\" consistent; server d:1; }\n\
        upstream u { server 10.0.0.1:81 weight=2 max_conns=5 backup; server b:82 down; keepalive 8; }\n\
        upstream v { random two least_conn; server c:1; }\n\
        proxy_set_header Host $host;\n  client_max_body_size 1536;\n\
        server { listen 127.0.0.1:81 default_server backlog=77; listen [::1]:81; server_name a \"\" ~^w\\.(?<d>.+)$;\n\
          rewrite ^/old(.*)$ /new$1 permanent;\n\
          location = /x { return 200 \"a \\\"quoted\\\" {text};\\n\"; }\n\
          location ^~ /static/ { proxy_pass http://u/s/; proxy_set_header X \"\"; add_header A \"b c\" always; proxy_read_timeout 1500ms;\n\
            location /static/img { proxy_pass http://v; large_client_header_buffers 1 1k; } }\n\
          location ~* \\.php$ { rewrite ^ /index break; proxy_pass http://c:9; proxy_http_version 1.0; proxy_add_via off; }\n\
        }\n\
        server { large_client_header_buffers 2 4k; client_header_timeout 7s; keepalive_timeout 0; proxy_next_upstream off; return https://x/; }\n\
      }\n";
    // large_client_header_buffers is not allowed in a location: the text above must be refused.
    let e = err(text);
    assert!(
        e.contains("\"large_client_header_buffers\" directive is not allowed here"),
        "{e}"
    );
    let text = text.replace("large_client_header_buffers 1 1k; ", "");
    let cfg = ok(&text);
    let out = dump(&cfg);
    let again = ok(&out);
    assert_eq!(dump(&again), out, "dump:\n{out}");
    assert!(out.contains("location ~* \"\\\\.php$\" {"), "{out}");
    assert!(
        out.contains("return 200 \"a \\\"quoted\\\" {text};\\n\";"),
        "{out}"
    );
    assert!(
        out.contains(
            "server 10.0.0.1:81 weight=2 max_fails=1 fail_timeout=10s max_conns=5 backup;"
        ),
        "{out}"
    );
    assert!(
        out.contains("listen 127.0.0.1:81 default_server backlog=77;"),
        "{out}"
    );
    assert!(out.contains("client_max_body_size 1536;"), "{out}");
    assert!(out.contains("large_client_header_buffers 2 4k;"), "{out}");
    assert!(out.contains("proxy_read_timeout 1500ms;"), "{out}");
    assert!(out.contains("return 302 https://x/;"), "{out}");
    let s = &again.servers[0];
    assert_eq!(
        s.locations[1].locations[0].settings.proxy_read_timeout,
        Duration::from_millis(1500)
    );
    assert_eq!(s.server_names, ["a", "", "~^w\\.(?<d>.+)$"]);
}

#[test]
fn git_symlink_placeholders_are_followed() {
    // What git writes for a symlink where it cannot make one: the target path as the content.
    let t = TempDir::new("placeholder");
    let real = t.write(
        "available/site",
        "server {\n    server_name placeholder;\n    bogus_directive;\n}\n",
    );
    t.write("enabled/site", "../available/site");
    let main = t.write("nginx.conf", "http { include enabled/*; }\n");
    let e = load(&main).unwrap_err();
    // Errors point into the file actually read.
    let real = std::fs::canonicalize(real).unwrap();
    assert_eq!((e.file.as_path(), e.line, e.col), (real.as_path(), 3, 5));
    t.write("available/site", "server { server_name placeholder; }\n");
    let cfg = load(&main).unwrap();
    assert_eq!(cfg.servers[0].server_names, ["placeholder"]);
    // A bare word that names no file stays an ordinary (broken) config.
    t.write("enabled/site", "../available/nothing");
    let e = load(&main).unwrap_err();
    assert_eq!(
        e.message,
        "unexpected end of file, expecting \";\" or \"}\""
    );
}

#[test]
fn odds_and_ends() {
    assert_eq!(
        err("events {}\nevents {}\n"),
        "ringway.conf:2:1: \"events\" directive is duplicate"
    );
    assert_eq!(
        err(&in_server("        server_name $hostname;")),
        "ringway.conf:3:21: \"server_name $hostname\" is not supported yet by ringway (it would change how requests are handled)"
    );
    let cfg = ok(&in_server("        server_name example.com/x;"));
    assert!(cfg.notices[0].ends_with("server name \"example.com/x\" has suspicious symbols"));
    // Found by the config fuzzer: a notice quoting a name with a newline broke out of its
    // comment line in the `-T` dump, and the rest read back as directives.
    let cfg = ok(&in_server("        server_name \"a/\nlisten 1.2.3.4:1;\";"));
    let text = dump(&cfg);
    assert!(text.contains("\\nlisten 1.2.3.4:1;"), "{text}");
    let mut again = parse_str(&text, Path::new("ringway.conf")).unwrap();
    again.notices = cfg.notices.clone();
    assert_eq!(dump(&again), text);
    assert_eq!(
        err(&in_location("            proxy_pass http://unix:/tmp/s:/;")),
        "ringway.conf:4:24: \"proxy_pass\" to a unix: socket is not supported yet by ringway (it would change how requests are handled)"
    );
    assert_eq!(
        err(&in_server("        listen unix:/run/r.sock;")),
        "ringway.conf:3:16: listening on a \"unix:\" socket is not supported yet by ringway (it would change how requests are handled)"
    );
    assert!(
        err("http { include \"[\"; }")
            .starts_with("ringway.conf:1:16: invalid include pattern \"[\": "),
        "{}",
        err("http { include \"[\"; }")
    );
    // Inside a regex location, a nested prefix location must start with the pattern (nginx's rule).
    assert_eq!(
        err(&in_server(
            "        location ~ ^/img {\n            location /x { }\n        }"
        )),
        "ringway.conf:4:13: location \"/x\" is outside location \"^/img\""
    );
    ok(&in_server(
        "        location ~ ^/img {\n            location ~ \\.png$ { }\n        }",
    ));
    // A method declared twice: the last wins, with a notice.
    let cfg = ok("upstream u { least_conn; server a; ip_hash; }");
    assert_eq!(cfg.upstreams[0].method, BalanceMethod::IpHash);
    assert!(cfg.notices[0].contains("load balancing method redefined"));
}

#[test]
fn health_check_in_an_upstream_block() {
    let cfg = parse_str(
        "events {} http { upstream u { server 127.0.0.1:9; health_check interval=2s fails=3 passes=2 uri=/healthz match_status=200-299 timeout=1s; } server { listen 127.0.0.1:1; location / { proxy_pass http://u; } } }",
        Path::new("ringway.conf"),
    )
    .unwrap();
    let hc = cfg.upstreams[0].health_check.clone().unwrap();
    assert_eq!(
        (
            hc.interval.as_secs(),
            hc.fails,
            hc.passes,
            hc.uri.as_str(),
            hc.status_lo,
            hc.status_hi
        ),
        (2, 3, 2, "/healthz", 200, 299)
    );
    for bad in [
        "interval=0s",
        "fails=0",
        "uri=healthz",
        "match_status=400-200",
        "nope=1",
        "interval",
    ] {
        let text = format!(
            "events {{}} http {{ upstream u {{ server 127.0.0.1:9; health_check {bad}; }} server {{ listen 127.0.0.1:1; location / {{ proxy_pass http://u; }} }} }}"
        );
        assert!(
            parse_str(&text, Path::new("ringway.conf")).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn queue_in_an_upstream_block() {
    let text = |q: &str| {
        format!(
            "events {{}} http {{ upstream u {{ server 127.0.0.1:9 max_conns=2; {q} }} server {{ listen 127.0.0.1:1; location / {{ proxy_pass http://u; }} }} }}"
        )
    };
    let cfg = parse_str(&text("queue 10 timeout=5s;"), Path::new("ringway.conf")).unwrap();
    assert_eq!(cfg.upstreams[0].queue, Some((10, Duration::from_secs(5))));
    let cfg = parse_str(&text("queue 3;"), Path::new("ringway.conf")).unwrap();
    assert_eq!(cfg.upstreams[0].queue, Some((3, Duration::from_secs(60))));
    for bad in [
        "queue;",
        "queue x;",
        "queue 3 wait=1s;",
        "queue 3 timeout=zz;",
    ] {
        assert!(
            parse_str(&text(bad), Path::new("ringway.conf")).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn io_uring_ring_setup() {
    let srv = "\nhttp { server { listen 1; } }";
    let cfg = ok(&format!(
        "events {{ io_uring_entries 256; io_uring_sqpoll on; io_uring_sqpoll_idle 20ms; }}{srv}"
    ));
    assert_eq!(
        cfg.uring,
        UringSetup {
            entries: 256,
            sqpoll: true,
            sqpoll_idle: Duration::from_millis(20)
        }
    );
    // Defaults when absent, and the dump says nothing of them.
    let cfg = ok(srv);
    assert_eq!(cfg.uring, UringSetup::default());
    assert!(!dump(&cfg).contains("io_uring"));
    // A non-default setup dumps in full and reads back the same.
    let cfg = ok(&format!("events {{ io_uring_entries 32768; }}{srv}"));
    let text = dump(&cfg);
    assert!(
        text.contains("io_uring_entries 32768;") && text.contains("io_uring_sqpoll off;"),
        "{text}"
    );
    assert_eq!(parse(&text).unwrap().uring, cfg.uring);
    assert_eq!(
        err(&format!("events {{ io_uring_entries 1000; }}{srv}")),
        "ringway.conf:1:27: invalid value \"1000\" in \"io_uring_entries\" directive, expected a power of two from 1 to 32768"
    );
    assert_eq!(
        err(&format!("events {{ io_uring_entries 65536; }}{srv}")),
        "ringway.conf:1:27: invalid value \"65536\" in \"io_uring_entries\" directive, expected a power of two from 1 to 32768"
    );
    assert_eq!(
        err(&format!("events {{ io_uring_sqpoll yes; }}{srv}")),
        "ringway.conf:1:26: invalid value \"yes\" in \"io_uring_sqpoll\" directive, it must be \"on\" or \"off\""
    );
    assert_eq!(
        err(&format!("events {{ io_uring_sqpoll_idle 2h; }}{srv}")),
        "ringway.conf:1:31: invalid value \"2h\" in \"io_uring_sqpoll_idle\" directive, expected a time from 1ms to 1h"
    );
    assert_eq!(
        err(&format!(
            "events {{ io_uring_sqpoll on; io_uring_sqpoll off; }}{srv}"
        )),
        "ringway.conf:1:30: \"io_uring_sqpoll\" directive is duplicate"
    );
    assert_eq!(
        err("http { io_uring_sqpoll on; }"),
        "ringway.conf:1:8: \"io_uring_sqpoll\" directive is not allowed here"
    );
}

// ---------------------------------------------------------------------------------------------
// root and index: a notice where every location they reach answers without files, an error
// where nginx would serve files with them

#[test]
fn root_beside_proxied_locations_is_a_notice() {
    // The common nginx shape: `root` at server level, every location proxies or returns, and a
    // catch-all `location /`.
    let cfg = ok(&in_server(
        "        root /var/www/html;\n        index index.html;\n        location / { proxy_pass http://127.0.0.1:9; }\n        location = /health { return 200 ok; }\n        location /api/ { root /srv/api; proxy_pass http://127.0.0.1:9; location /api/v2/ { return 410; } }",
    ));
    let files: Vec<&String> = cfg
        .notices
        .iter()
        .filter(|n| n.contains("ignored: root") || n.contains("ignored: index"))
        .collect();
    assert_eq!(files.len(), 3, "{:#?}", cfg.notices);
    assert_eq!(
        files[0],
        "ringway.conf:3: ignored: root (ringway serves no files; every location it applies to proxies or returns)"
    );
    // A server-level `return` answers every request: nothing falls through to files.
    ok(
        "http {\n root /var/www;\n server { listen 127.0.0.1:1; return 301 https://$host$request_uri; }\n}\n",
    );
    // `^~ /` catches everything too.
    ok(&in_server(
        "        root /srv;\n        location ^~ / { proxy_pass http://127.0.0.1:9; }",
    ));
}

#[test]
fn root_in_a_location_that_would_serve_files_is_an_error() {
    // In the location itself: the error points at `root` and names the location.
    let text = in_server(
        "        location / { proxy_pass http://127.0.0.1:9; }\n        location /static/ {\n            root /var/www;\n        }",
    );
    assert_eq!(
        err(&text),
        "ringway.conf:5:13: \"root\" applies to location \"/static/\" at ringway.conf:4, which has \
         no proxy_pass or return: nginx would serve files there, ringway serves none (it would \
         answer 404); give that location a proxy_pass or a return (\"return 404;\" keeps \
         ringway's answer), or remove \"root\""
    );
    // Inherited from the server: the server's `root` is named.
    let e = err(&in_server(
        "        root /var/www;\n        location / { proxy_pass http://127.0.0.1:9; }\n        location /files/ { add_header X-A b; }",
    ));
    assert!(
        e.starts_with(
            "ringway.conf:3:9: \"root\" applies to location \"/files/\" at ringway.conf:5,"
        ),
        "{e}"
    );
    // proxy_pass is not inherited by a nested location; `root` is.
    let e = err(&in_server(
        "        location / {\n            root /var/www;\n            proxy_pass http://127.0.0.1:9;\n            location /img/ { }\n        }",
    ));
    assert!(
        e.starts_with(
            "ringway.conf:4:13: \"root\" applies to location \"/img/\" at ringway.conf:6,"
        ),
        "{e}"
    );
    // `index` likewise, from the http level.
    let e = err(
        "http {\n    index index.html;\n    server {\n        listen 127.0.0.1:1;\n        location / { }\n    }\n}\n",
    );
    assert!(
        e.starts_with("ringway.conf:2:5: \"index\" applies to location \"/\" at ringway.conf:5,"),
        "{e}"
    );
}

#[test]
fn root_for_requests_that_match_no_location_is_an_error() {
    // No catch-all location and no server-level return: nginx serves the rest from `root`.
    assert_eq!(
        err(&in_server(
            "        root /var/www;\n        location /api/ { proxy_pass http://127.0.0.1:9; }"
        )),
        "ringway.conf:3:9: \"root\" applies to the requests that match no location in the server \
         at ringway.conf:2: nginx would serve files for them, ringway serves none (it would \
         answer 404); add \"location / { return 404; }\" or a proxy_pass, or remove \"root\""
    );
    // A server with no location at all, `root` from the http level.
    let e = err("http {\n root /var/www;\n server { listen 127.0.0.1:1; }\n}\n");
    assert!(
        e.starts_with("ringway.conf:2:2: \"root\" applies to the requests that match no location"),
        "{e}"
    );
    // An exact `location = /` is not a catch-all.
    let e = err(&in_server(
        "        root /var/www;\n        location = / { proxy_pass http://127.0.0.1:9; }",
    ));
    assert!(e.contains("match no location"), "{e}");
}

#[test]
fn lingering_settings_inherit_and_refuse_an_unknown_mode() {
    let cfg = ok(
        "lingering_time 10s;\nserver { lingering_close always;\n location / { lingering_timeout 2s; } }",
    );
    let l = cfg.servers[0].locations[0].settings.lingering;
    assert_eq!(l.close, LingeringClose::Always);
    assert_eq!(l.time, Duration::from_secs(10));
    assert_eq!(l.timeout, Duration::from_secs(2));
    assert_eq!(
        ok("server { }").servers[0].settings.lingering,
        Lingering::default()
    );
    assert_eq!(
        err("lingering_close sometimes;"),
        "ringway.conf:1:17: invalid value \"sometimes\" in \"lingering_close\" directive, it must be \"off\", \"on\" or \"always\""
    );
}
