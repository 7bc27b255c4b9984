//! nginx routing semantics end to end: server_name selection, location matching (exact, `^~`,
//! regex order, longest prefix, nested), `proxy_pass` URI replacement, the rewrite phase,
//! `return`, `add_header`, `proxy_hide_header`, `proxy_set_header` inheritance and variables,
//! `client_max_body_size`. Tests marked `#[ignore = "bug: …"]` show where ringway differs from
//! nginx.

mod common;

use std::net::SocketAddr;

use common::*;

fn send(addr: SocketAddr, raw: &str) -> Response {
    let (_c, r) = exchange(addr, raw.as_bytes());
    r
}

fn get(addr: SocketAddr, host: &str, path: &str) -> Response {
    send(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"),
    )
}

/// (status, body) of a GET with this Host and path.
fn answer(addr: SocketAddr, host: &str, path: &str) -> (u16, String) {
    let r = get(addr, host, path);
    (r.status, r.body_str())
}

/// The request line and fields a `tagged_backend`/`echo_backend` saw, from its response.
fn upstream_saw(r: &Response) -> (String, Vec<(String, String)>) {
    assert_eq!(r.status, 200, "expected a proxied 200: {}", r.describe());
    echoed_head(&r.body)
}

fn target_of(r: &Response) -> String {
    let (line, _) = upstream_saw(r);
    line.split(' ').nth(1).unwrap_or("").to_string()
}

#[track_caller]
fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    let v = field_values(fields, name);
    assert!(v.len() <= 1, "{name} sent {} times: {v:?}", v.len());
    v.first().map(|s| s.to_string())
}

// ---------------------------------------------------------------------------------------------
// server_name
// ---------------------------------------------------------------------------------------------

const SERVER_NAMES: &str = r#"
http {
    server { listen @LISTEN@; server_name first.test; return 200 "first"; }
    server { listen @LISTEN@; server_name www.example.com; return 200 "exact"; }
    server { listen @LISTEN@; server_name *.example.com; return 200 "leading"; }
    server { listen @LISTEN@; server_name *.deep.example.com; return 200 "leading-longer"; }
    server { listen @LISTEN@; server_name mail.*; return 200 "trailing"; }
    server { listen @LISTEN@; server_name mail.example.*; return 200 "trailing-longer"; }
    server { listen @LISTEN@; server_name example.*; return 200 "example-trailing"; }
    server { listen @LISTEN@; server_name .dot.test; return 200 "dot"; }
    server { listen @LISTEN@; server_name ~^api\d+\.regex\.test$; return 200 "regex1"; }
    server { listen @LISTEN@; server_name ~^api ~\.regex\.test$; return 200 "regex2"; }
    server { listen @LISTEN@ default_server; server_name default.test; return 200 "default"; }
    server { listen @LISTEN2@; server_name a.two; return 200 "two-first"; }
    server { listen @LISTEN2@; server_name b.two; return 200 "two-second"; }
}
"#;

#[test]
fn server_name_selection_order() {
    let rw = Ringway::start(SERVER_NAMES);
    let a = rw.addr;
    let cases = [
        ("first.test", "first"),
        ("www.example.com", "exact"),
        ("WWW.Example.COM:8080", "exact"),
        ("www.example.com.", "exact"),
        ("foo.example.com", "leading"),
        ("a.b.example.com", "leading"),
        ("x.deep.example.com", "leading-longer"),
        // The bare domain is not matched by `*.example.com`, but by `example.*`.
        ("example.com", "example-trailing"),
        ("example.net", "example-trailing"),
        ("www.example.net", "default"),
        // A leading wildcard beats a trailing one.
        ("mail.example.com", "leading"),
        ("mail.foo.org", "trailing"),
        ("mail.example.org", "trailing-longer"),
        // `.dot.test` is `dot.test` and `*.dot.test`.
        ("dot.test", "dot"),
        ("x.dot.test", "dot"),
        // Regexes last, the first matching one in config order.
        ("api7.regex.test", "regex1"),
        ("api.other", "regex2"),
        ("zzz.regex.test", "regex2"),
        ("unknown.test", "default"),
        ("127.0.0.1", "default"),
    ];
    for (host, want) in cases {
        assert_eq!(
            answer(a, host, "/"),
            (200, want.to_string()),
            "Host: {host}"
        );
    }
    let r = send(a, "GET / HTTP/1.0\r\n\r\n");
    assert_eq!(r.body_str(), "default", "no Host: the default server");

    // Names belong to their address; without default_server the first server is the default.
    let two = rw.addrs[1];
    assert_eq!(answer(two, "b.two", "/").1, "two-second");
    assert_eq!(answer(two, "a.two", "/").1, "two-first");
    assert_eq!(answer(two, "www.example.com", "/").1, "two-first");
    assert_eq!(answer(two, "unknown.test", "/").1, "two-first");
}

#[test]
fn empty_server_name_catches_requests_without_host() {
    // nginx: `server_name ""` (also the implicit name of a server without server_name) matches
    // requests that have no Host, even when another server is the default.
    let rw = Ringway::start(
        r#"http {
            server { listen @LISTEN@ default_server; server_name default.test; return 200 "default"; }
            server { listen @LISTEN@; server_name ""; return 200 "no-host"; }
        }"#,
    );
    assert_eq!(answer(rw.addr, "other.test", "/").1, "default");
    let r = send(rw.addr, "GET / HTTP/1.0\r\n\r\n");
    assert_eq!(r.body_str(), "no-host", "{}", r.describe());
}

#[test]
fn absolute_form_target_host_selects_the_server() {
    // RFC 9112 §3.2.2 and nginx: the target's host wins over the Host field.
    let rw = Ringway::start(SERVER_NAMES);
    let r = send(
        rw.addr,
        "GET http://www.example.com/p HTTP/1.1\r\nHost: unknown.test\r\n\r\n",
    );
    assert_eq!(r.body_str(), "exact", "{}", r.describe());
}

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

#[test]
fn location_matching_order() {
    let rw = Ringway::start(
        r#"http { server {
            listen @LISTEN@;
            location = / { return 200 "exact-root"; }
            location / { return 200 "prefix-root"; }
            location /docs/ { return 200 "docs"; }
            location /docs/api/ { return 200 "docs-api"; }
            location = /docs/exact { return 200 "exact-docs"; }
            location ^~ /static/ { return 200 "static-noregex"; }
            location /static/js/ { return 200 "static-js"; }
            location /images/ { return 200 "images"; }
            location ~ \.(png|jpg)$ { return 200 "regex-img"; }
            location ~* \.pdf$ { return 200 "regex-pdf-ci"; }
            location ~ ^/docs/.*\.png$ { return 200 "regex-docs-png"; }
        } }"#,
    );
    let cases = [
        ("/", "exact-root"),
        ("/?q=1", "exact-root"),
        ("/index.html", "prefix-root"),
        ("/docs", "prefix-root"),
        ("/docs/x", "docs"),
        ("/docs/api/v1", "docs-api"),
        ("/docs/exact", "exact-docs"),
        ("/docs/exact?x=1", "exact-docs"),
        ("/docs/exact/more", "docs"),
        // `^~` on the longest prefix: no regex is tried.
        ("/static/a.png", "static-noregex"),
        // A longer plain prefix inside it: regexes are tried again.
        ("/static/js/a.png", "regex-img"),
        ("/static/js/a.js", "static-js"),
        // A regex beats the longest plain prefix; the first matching regex wins.
        ("/images/a.png", "regex-img"),
        ("/images/a.gif", "images"),
        ("/docs/a.png", "regex-img"),
        ("/x/file.pdf", "regex-pdf-ci"),
        ("/x/file.PdF", "regex-pdf-ci"),
        // `~` is case-sensitive; the query is not part of the match.
        ("/x/a.PNG", "prefix-root"),
        ("/x/a?f=b.png", "prefix-root"),
    ];
    for (path, want) in cases {
        assert_eq!(
            answer(rw.addr, "h", path),
            (200, want.to_string()),
            "{path}"
        );
    }
}

#[test]
fn locations_match_the_normalized_uri() {
    let rw = Ringway::start(
        r#"http { server {
            listen @LISTEN@;
            location ^~ /admin/ { return 403; }
            location / { return 200 "root"; }
        } }"#,
    );
    let mut wrong = Vec::new();
    for path in [
        "/admin/",
        "/x/../admin/",
        "/%61dmin/",
        "//admin/",
        "/./admin/x",
    ] {
        let (status, body) = answer(rw.addr, "h", path);
        if status != 403 {
            wrong.push(format!("GET {path} -> {status} {body:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "expected 403 from `location ^~ /admin/`: {wrong:#?}"
    );
}

#[test]
fn nested_locations() {
    let up = tagged_backend("A");
    let rw = Ringway::start(&format!(
        r#"http {{ server {{
            listen {LISTEN};
            location /app/ {{
                proxy_pass http://{up};
                proxy_set_header X-Outer outer;
                add_header X-Loc app;
                location /app/admin/ {{ proxy_pass http://{up}/adm/; }}
                location ~ \.php$ {{ return 200 "nested-php"; }}
                location /app/static/ {{ }}
            }}
            location ~ \.php$ {{ return 200 "outer-php"; }}
            location / {{ return 200 "root"; }}
        }} }}"#,
        up = up.addr
    ));
    let r = get(rw.addr, "h", "/app/x?y=1");
    let (line, f) = upstream_saw(&r);
    assert_eq!(line, "GET /app/x?y=1 HTTP/1.1");
    assert_eq!(field(&f, "x-outer").as_deref(), Some("outer"));
    assert_eq!(r.header("x-loc"), Some("app"));
    // The nested location inherits the outer one's settings, with its own proxy_pass.
    let r = get(rw.addr, "h", "/app/admin/u");
    let (line, f) = upstream_saw(&r);
    assert_eq!(line, "GET /adm/u HTTP/1.1");
    assert_eq!(field(&f, "x-outer").as_deref(), Some("outer"));
    assert_eq!(r.header("x-loc"), Some("app"));
    // A regex nested in the matched prefix comes before the outer regexes.
    assert_eq!(answer(rw.addr, "h", "/app/x.php").1, "nested-php");
    assert_eq!(answer(rw.addr, "h", "/other/x.php").1, "outer-php");
    // proxy_pass is not inherited by a nested location: it has no handler (nginx: 404).
    let before = up.request_count();
    assert_eq!(answer(rw.addr, "h", "/app/static/a.css").0, 404);
    assert_eq!(up.request_count(), before);
}

#[test]
fn nested_regex_applies_under_a_deeper_nested_prefix() {
    let up = tagged_backend("A");
    let rw = Ringway::start(&format!(
        r#"http {{ server {{
            listen {LISTEN};
            location /app/ {{
                proxy_pass http://{up};
                location /app/admin/ {{ proxy_pass http://{up}; }}
                location ~ \.php$ {{ return 200 "nested-php"; }}
            }}
            location ~ \.php$ {{ return 200 "outer-php"; }}
        }} }}"#,
        up = up.addr
    ));
    // nginx searches /app/'s nested locations (finding /app/admin/), then /app/'s regexes,
    // then the server's: `\.php$` inside /app/ matches first.
    assert_eq!(answer(rw.addr, "h", "/app/admin/x.php").1, "nested-php");
}

// ---------------------------------------------------------------------------------------------
// proxy_pass URI part
// ---------------------------------------------------------------------------------------------

#[test]
fn proxy_pass_uri_part_replaces_the_matched_prefix() {
    let up = tagged_backend("A");
    let u = up.addr;
    let rw = Ringway::start(&format!(
        r#"http {{
            upstream pool {{ server {u}; }}
            server {{
                listen {LISTEN};
                location /api/ {{ proxy_pass http://{u}/v2/; }}
                location /short {{ proxy_pass http://{u}/long; }}
                location /root/ {{ proxy_pass http://{u}/; }}
                location = /exact {{ proxy_pass http://{u}/target; }}
                location /grp/ {{ proxy_pass http://pool/g/; }}
                location /plain/ {{ proxy_pass http://{u}; }}
                location /grp-plain/ {{ proxy_pass http://pool; }}
            }}
        }}"#
    ));
    let cases = [
        ("/api/users?x=1", "/v2/users?x=1"),
        ("/api/", "/v2/"),
        ("/short/x", "/long/x"),
        ("/shortcut", "/longcut"),
        ("/root/a/b?c=d", "/a/b?c=d"),
        ("/exact", "/target"),
        ("/exact?z=1", "/target?z=1"),
        ("/grp/x", "/g/x"),
        // Without a URI part the request target passes unchanged.
        ("/plain/a%20b?q=%2F", "/plain/a%20b?q=%2F"),
        ("/grp-plain/x?y", "/grp-plain/x?y"),
    ];
    for (path, want) in cases {
        assert_eq!(target_of(&get(rw.addr, "h", path)), want, "{path}");
    }
}

#[test]
fn prefix_location_with_slash_redirects_the_bare_path() {
    // nginx: a prefix location ending in `/` handled by proxy_pass answers a request for the
    // same URI without the slash with 301 to the URI with the slash (arguments kept).
    let up = tagged_backend("A");
    let rw = Ringway::start(&format!(
        "http {{ server {{ listen {LISTEN}; location /user/ {{ proxy_pass http://{}/; }} }} }}",
        up.addr
    ));
    let r = get(rw.addr, "h.test", "/user?x=1");
    assert_eq!(r.status, 301, "{}", r.describe());
    let loc = r.header("location").unwrap_or("");
    assert!(loc.ends_with("/user/?x=1"), "Location: {loc}");
    up.assert_untouched("the bare path is redirected");
}

// ---------------------------------------------------------------------------------------------
// rewrite and return
// ---------------------------------------------------------------------------------------------

fn rewrite_conf(u: SocketAddr) -> String {
    format!(
        r#"http {{ server {{
            listen {LISTEN};
            rewrite ^/srv/(.*)$ /new/srv-$1;
            location / {{ return 200 "root"; }}
            location /new/ {{
                proxy_pass http://{u};
                proxy_set_header X-Request-URI $request_uri;
                proxy_set_header X-URI $uri;
                proxy_set_header X-Args $args;
            }}
            location /old/ {{ rewrite ^/old/(.*)$ /new/$1 last; return 500; }}
            location /brk/ {{
                rewrite ^/brk/(.*)$ /internal/$1 break;
                proxy_pass http://{u}/ignored/;
            }}
            location /chain/ {{
                rewrite ^/chain/(.*)$ /step/$1;
                rewrite ^/step/(.*)$ /new/chained-$1 last;
            }}
            location /noargs/ {{ rewrite ^/noargs/(.*)$ /new/$1? last; }}
            location /named/ {{ rewrite "^/named/(?P<id>[0-9]+)/(?P<rest>.*)$" /new/$rest/$id last; }}
            location /tmp/ {{ rewrite ^/tmp/(.*)$ /dest/$1 redirect; }}
            location /perm/ {{ rewrite ^/perm/(.*)$ /dest/$1 permanent; }}
            location /ext/ {{ rewrite ^/ext/(.*)$ https://other.example/$1; }}
            location /loop/ {{ rewrite ^/loop/(.*)$ /loop/$1 last; }}
            location /nomatch/ {{ rewrite ^/zzz/ /new/never last; proxy_pass http://{u}; }}
        }} }}"#
    )
}

#[test]
fn rewrite_flags_captures_and_arguments() {
    let up = tagged_backend("A");
    let rw = Ringway::start(&rewrite_conf(up.addr));
    let a = rw.addr;

    // `last`: the location search runs again on the new URI; the original arguments follow.
    let r = get(a, "h", "/old/a/b?x=1&y=2");
    let (line, f) = upstream_saw(&r);
    assert_eq!(line, "GET /new/a/b?x=1&y=2 HTTP/1.1");
    assert_eq!(
        field(&f, "x-request-uri").as_deref(),
        Some("/old/a/b?x=1&y=2")
    );
    assert_eq!(field(&f, "x-uri").as_deref(), Some("/new/a/b"));
    assert_eq!(field(&f, "x-args").as_deref(), Some("x=1&y=2"));

    // `break`: stays in the location and sends the new URI as it is (proxy_pass's URI part is
    // not applied).
    assert_eq!(target_of(&get(a, "h", "/brk/p?q=1")), "/internal/p?q=1");
    // No flag: the next rewrite sees the new URI.
    assert_eq!(target_of(&get(a, "h", "/chain/c")), "/new/chained-c");
    // A trailing `?` drops the original arguments.
    assert_eq!(target_of(&get(a, "h", "/noargs/n?drop=me")), "/new/n");
    // Named captures.
    assert_eq!(
        target_of(&get(a, "h", "/named/42/rest?k=v")),
        "/new/rest/42?k=v"
    );
    // Server-level rewrites run before the location search.
    assert_eq!(target_of(&get(a, "h", "/srv/s?z")), "/new/srv-s?z");
    // A rewrite that does not match leaves the request alone.
    assert_eq!(target_of(&get(a, "h", "/nomatch/x")), "/nomatch/x");

    // redirect / permanent / an absolute replacement: redirects with the arguments kept.
    let r = get(a, "h", "/tmp/x?q=1");
    assert_eq!(r.status, 302, "{}", r.describe());
    let loc = r.header("location").unwrap_or("").to_string();
    assert!(loc.ends_with("/dest/x?q=1"), "Location: {loc}");
    let r = get(a, "h", "/perm/x/y?q=1");
    assert_eq!(r.status, 301, "{}", r.describe());
    let loc = r.header("location").unwrap_or("").to_string();
    assert!(loc.ends_with("/dest/x/y?q=1"), "Location: {loc}");
    let r = get(a, "h", "/ext/e?q=1");
    assert_eq!(r.status, 302, "{}", r.describe());
    assert_eq!(r.header("location"), Some("https://other.example/e?q=1"));

    // A rewrite cycle ends after 10 rounds with 500.
    let r = get(a, "h", "/loop/x");
    assert_eq!(r.status, 500, "{}", r.describe());
    // The redirects and the loop reached no backend.
    assert!(up.requests().iter().all(|q| !q.target.contains("dest")));
}

#[test]
fn rewrite_with_new_arguments_appends_the_original_ones() {
    let up = tagged_backend("A");
    let rw = Ringway::start(&format!(
        r#"http {{ server {{
            listen {LISTEN};
            location /new/ {{ proxy_pass http://{}; }}
            location /args/ {{ rewrite ^/args/(.*)$ /new/args?id=$1 last; }}
        }} }}"#,
        up.addr
    ));
    assert_eq!(target_of(&get(rw.addr, "h", "/args/7")), "/new/args?id=7");
    assert_eq!(
        target_of(&get(rw.addr, "h", "/args/7?q=1&r=2")),
        "/new/args?id=7&q=1&r=2"
    );
}

#[test]
fn return_redirects_and_texts() {
    let rw = Ringway::start(
        r#"http { server {
            listen @LISTEN@;
            location / { return 301 https://$host$request_uri; }
            location /url { return https://example.org/x; }
            location /text { return 200 "method=$request_method uri=$request_uri"; }
            location /gone { return 410; }
            location /empty { return 204; }
        } }"#,
    );
    let r = get(
        rw.addr,
        &format!("shop.example.com:{}", rw.port),
        "/a/b?x=1&y",
    );
    assert_eq!(r.status, 301, "{}", r.describe());
    assert_eq!(
        r.header("location"),
        Some("https://shop.example.com/a/b?x=1&y")
    );
    let r = get(rw.addr, "shop.example.com", "/url");
    assert_eq!(r.status, 302, "{}", r.describe());
    assert_eq!(r.header("location"), Some("https://example.org/x"));
    let r = send(rw.addr, "DELETE /text?k=v HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(
        (r.status, r.body_str().as_str()),
        (200, "method=DELETE uri=/text?k=v")
    );
    assert_eq!(get(rw.addr, "h", "/gone").status, 410);
    let r = get(rw.addr, "h", "/empty");
    assert_eq!((r.status, r.body.len()), (204, 0));
}

#[test]
fn relative_redirects_are_made_absolute() {
    let rw = Ringway::start(
        r#"http { server {
            listen @LISTEN@;
            location /perm/ { rewrite ^/perm/(.*)$ /dest/$1 permanent; }
            location /ret { return 302 /elsewhere?a=1; }
        } }"#,
    );
    let host = format!("site.example:{}", rw.port);
    let r = get(rw.addr, &host, "/perm/x?q=1");
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some(format!("http://site.example:{}/dest/x?q=1", rw.port).as_str())
    );
    let r = get(rw.addr, &host, "/ret");
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("http://site.example:{}/elsewhere?a=1", rw.port).as_str())
    );
}

#[test]
fn host_variable_is_lower_case_and_falls_back_to_server_name() {
    let rw = Ringway::start(
        r#"http { server {
            listen @LISTEN@;
            server_name main.example;
            location / { return 200 "host=$host"; }
        } }"#,
    );
    let mut wrong = Vec::new();
    let got = answer(rw.addr, &format!("Shop.EXAMPLE.com:{}", rw.port), "/").1;
    if got != "host=shop.example.com" {
        wrong.push(format!("Host: Shop.EXAMPLE.com:PORT -> {got:?}"));
    }
    let got = send(rw.addr, "GET / HTTP/1.0\r\n\r\n").body_str();
    if got != "host=main.example" {
        wrong.push(format!("HTTP/1.0 without Host -> {got:?}"));
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

// ---------------------------------------------------------------------------------------------
// Response fields: add_header, proxy_hide_header
// ---------------------------------------------------------------------------------------------

/// Answers `/status/N` with status N and fields X-Secret, X-Powered-By, X-Srv-Secret, X-Keep.
fn status_backend() -> Backend {
    Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let code: u16 = req
                .target
                .strip_prefix("/status/")
                .and_then(|s| s.split(['/', '?']).next())
                .and_then(|s| s.parse().ok())
                .unwrap_or(200);
            if !c.respond_with(
                code,
                &[
                    ("X-Secret", "s"),
                    ("x-powered-by", "php"),
                    ("X-Srv-Secret", "srv"),
                    ("X-Other", "o"),
                    ("X-Keep", "k"),
                ],
                if code == 204 { b"" } else { b"body" },
            ) {
                return;
            }
        }
    })
}

#[test]
fn add_header_statuses_always_and_inheritance() {
    let up = status_backend();
    let rw = Ringway::start(&format!(
        r#"http {{ server {{
            listen {LISTEN};
            add_header X-Server srv;
            location /inherit/ {{ proxy_pass http://{u}/status/; }}
            location /own/ {{
                proxy_pass http://{u}/status/;
                add_header X-Own own;
                add_header X-Own again;
                add_header X-Method $request_method;
                add_header X-Always yes always;
            }}
        }} }}"#,
        u = up.addr
    ));
    let a = rw.addr;
    // Server-level add_header is inherited by a location without its own.
    let r = get(a, "h", "/inherit/200");
    assert_eq!(r.header("x-server"), Some("srv"));
    for code in [200, 201, 204, 301, 302, 303, 307, 308] {
        let r = get(a, "h", &format!("/inherit/{code}"));
        assert_eq!(r.status, code);
        assert_eq!(r.header("x-server"), Some("srv"), "status {code}");
    }
    for code in [404, 500, 503] {
        let r = get(a, "h", &format!("/inherit/{code}"));
        assert_eq!(r.status, code);
        assert_eq!(r.header("x-server"), None, "status {code} without always");
    }
    // A location's own add_header list replaces the server's.
    let r = send(
        a,
        "POST /own/200 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.header("x-server"), None);
    assert_eq!(r.headers_named("x-own"), vec!["own", "again"]);
    assert_eq!(r.header("x-method"), Some("POST"));
    assert_eq!(r.header("x-always"), Some("yes"));
    // `always` on upstream 404/500: only the `always` one.
    for code in [404, 500] {
        let r = get(a, "h", &format!("/own/{code}"));
        assert_eq!(r.status, code);
        assert_eq!(r.header("x-always"), Some("yes"), "status {code}");
        assert_eq!(r.header("x-own"), None, "status {code}");
    }
}

#[test]
fn add_header_applies_to_builtin_responses() {
    let dead = dead_addr();
    let rw = Ringway::start(&format!(
        r#"http {{ server {{
            listen {LISTEN};
            add_header X-Always yes always;
            location = /ok {{ add_header X-Ok ok; return 200 "fine"; }}
            location = /redir {{ add_header X-Ok ok; return 302 https://e.example/; }}
            location = /nf {{ return 404; }}
            location /dead/ {{ proxy_pass http://{dead}; }}
        }} }}"#
    ));
    let a = rw.addr;
    let mut wrong = Vec::new();
    for (path, status, name, value) in [
        ("/ok", 200, "x-ok", "ok"),
        // (not X-Always on /ok: a level with its own add_header inherits none, as in nginx)
        ("/redir", 302, "x-ok", "ok"),
        ("/nf", 404, "x-always", "yes"),
        ("/nowhere", 404, "x-always", "yes"),
        ("/dead/x", 502, "x-always", "yes"),
    ] {
        let r = get(a, "h", path);
        if r.status != status || r.header(name) != Some(value) {
            wrong.push(format!(
                "GET {path}: want {status} with {name}: {value}, got {}",
                show(r.head.as_bytes())
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn proxy_hide_header_and_inheritance() {
    let up = status_backend();
    let rw = Ringway::start(&format!(
        r#"http {{ server {{
            listen {LISTEN};
            proxy_hide_header X-Srv-Secret;
            location /inherit/ {{ proxy_pass http://{u}; }}
            location /own/ {{
                proxy_pass http://{u};
                proxy_hide_header x-secret;
                proxy_hide_header X-POWERED-BY;
            }}
        }} }}"#,
        u = up.addr
    ));
    let r = get(rw.addr, "h", "/inherit/x");
    assert_eq!(r.header("x-srv-secret"), None);
    assert_eq!(r.header("x-secret"), Some("s"));
    assert_eq!(r.header("x-keep"), Some("k"));
    let r = get(rw.addr, "h", "/own/x");
    assert_eq!(r.header("x-secret"), None);
    assert_eq!(r.header("x-powered-by"), None);
    // The location's own list replaces the server's.
    assert_eq!(r.header("x-srv-secret"), Some("srv"));
    assert_eq!(r.header("x-other"), Some("o"));
    assert_eq!(r.body_str(), "body");
}

// ---------------------------------------------------------------------------------------------
// Request fields: proxy_set_header inheritance and variables
// ---------------------------------------------------------------------------------------------

#[test]
fn proxy_set_header_inheritance() {
    let up = tagged_backend("A");
    let u = up.addr;
    let rw = Ringway::start(&format!(
        r#"http {{
            proxy_set_header X-Http http-level;
            server {{
                listen {LISTEN};
                location / {{ proxy_pass http://{u}; }}
            }}
            server {{
                listen @LISTEN2@;
                proxy_set_header X-Srv server-level;
                proxy_set_header X-Client replaced;
                location / {{ proxy_pass http://{u}; }}
                location /loc/ {{
                    proxy_pass http://{u};
                    proxy_set_header X-Loc location-level;
                    proxy_set_header User-Agent "";
                }}
            }}
        }}"#
    ));
    let req = |addr: SocketAddr, path: &str| {
        let r = send(
            addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: h\r\nUser-Agent: ua/1\r\nX-Client: original\r\n\r\n"
            ),
        );
        upstream_saw(&r).1
    };
    // The server sets none: the http level's list applies.
    let f = req(rw.addr, "/");
    assert_eq!(field(&f, "x-http").as_deref(), Some("http-level"));
    assert_eq!(field(&f, "x-client").as_deref(), Some("original"));
    assert_eq!(field(&f, "user-agent").as_deref(), Some("ua/1"));
    // The server sets some: the http level's are gone; a set name replaces the client's field.
    let f = req(rw.addrs[1], "/");
    assert_eq!(field(&f, "x-http"), None);
    assert_eq!(field(&f, "x-srv").as_deref(), Some("server-level"));
    assert_eq!(field(&f, "x-client").as_deref(), Some("replaced"));
    // The location sets some: only its own; an empty value removes the client's field.
    let f = req(rw.addrs[1], "/loc/x");
    assert_eq!(field(&f, "x-loc").as_deref(), Some("location-level"));
    assert_eq!(field(&f, "x-srv"), None);
    assert_eq!(field(&f, "x-http"), None);
    assert_eq!(field(&f, "x-client").as_deref(), Some("original"));
    assert_eq!(field(&f, "user-agent"), None);
}

#[test]
fn proxy_set_header_variables() {
    let up = tagged_backend("A");
    let rw = Ringway::start(&format!(
        r#"http {{ server {{
            listen {LISTEN};
            location / {{
                proxy_pass http://{};
                proxy_set_header X-V-Host $host;
                proxy_set_header X-V-Addr $remote_addr;
                proxy_set_header X-V-UA $http_user_agent;
                proxy_set_header X-V-Custom $http_x_custom_field;
                proxy_set_header X-V-URI $request_uri;
                proxy_set_header X-V-Args $args;
                proxy_set_header X-V-Scheme $scheme;
                proxy_set_header X-V-Port $server_port;
                proxy_set_header X-V-Method $request_method;
                proxy_set_header X-V-Combo "$request_method $scheme://$host:$server_port$request_uri";
            }}
        }} }}"#,
        up.addr
    ));
    let p = rw.port;
    let r = send(
        rw.addr,
        &format!(
            "POST /v/path?a=1&b=%20 HTTP/1.1\r\nHost: vars.example:{p}\r\nUser-Agent: tester/1.0\r\nX-Custom-Field: c1\r\nX-Custom-Field: c2\r\nContent-Length: 2\r\n\r\nhi"
        ),
    );
    let (line, f) = upstream_saw(&r);
    assert_eq!(line, "POST /v/path?a=1&b=%20 HTTP/1.1");
    let v = |n: &str| field(&f, n);
    assert_eq!(v("x-v-host").as_deref(), Some("vars.example"));
    assert_eq!(v("x-v-addr").as_deref(), Some("127.0.0.1"));
    assert_eq!(v("x-v-ua").as_deref(), Some("tester/1.0"));
    assert_eq!(v("x-v-custom").as_deref(), Some("c1, c2"));
    assert_eq!(v("x-v-uri").as_deref(), Some("/v/path?a=1&b=%20"));
    assert_eq!(v("x-v-args").as_deref(), Some("a=1&b=%20"));
    assert_eq!(v("x-v-scheme").as_deref(), Some("http"));
    assert_eq!(v("x-v-port"), Some(p.to_string()));
    assert_eq!(v("x-v-method").as_deref(), Some("POST"));
    assert_eq!(
        v("x-v-combo"),
        Some(format!("POST http://vars.example:{p}/v/path?a=1&b=%20"))
    );
    // Values that render empty are not sent.
    let r = send(rw.addr, "GET /novars HTTP/1.1\r\nHost: h\r\n\r\n");
    let (_, f) = upstream_saw(&r);
    assert_eq!(field(&f, "x-v-ua"), None);
    assert_eq!(field(&f, "x-v-args"), None);
    assert_eq!(field(&f, "x-v-custom"), None);
    assert_eq!(field(&f, "x-v-method").as_deref(), Some("GET"));
}

// ---------------------------------------------------------------------------------------------
// client_max_body_size
// ---------------------------------------------------------------------------------------------

#[test]
fn client_max_body_size_limits() {
    let up = body_echo_backend();
    let u = up.addr;
    let rw = Ringway::start(&format!(
        r#"http {{ server {{
            listen {LISTEN};
            client_max_body_size 1k;
            location /small/ {{ proxy_pass http://{u}; client_max_body_size 10; }}
            location /any/ {{ proxy_pass http://{u}; client_max_body_size 0; }}
            location / {{ proxy_pass http://{u}; }}
        }} }}"#
    ));
    let post = |path: &str, body: &[u8]| {
        let mut c = rw.connect();
        c.send(
            format!(
                "POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        let _ = c.try_send(body);
        c.read_response()
    };
    let r = post("/small/x", b"0123456789");
    assert_eq!((r.status, r.body_str().as_str()), (200, "0123456789"));
    let before = up.request_count();
    let r = post("/small/x", b"0123456789A");
    assert_eq!(r.status, 413, "{}", r.describe());
    assert_eq!(
        up.request_count(),
        before,
        "a 413 body must not reach the backend"
    );
    // Chunked: the limit applies to the decoded body.
    let mut c = rw.connect();
    c.send(b"POST /small/c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    let _ = c.try_send(&chunk(b"0123456789ABCDEF", &[5]));
    let r = c.read_response();
    assert_eq!(r.status, 413, "{}", r.describe());
    // Server level 1k; 0 = no limit.
    assert_eq!(post("/x", &pattern(1024)).status, 200);
    assert_eq!(post("/x", &pattern(1025)).status, 413);
    let big = pattern(300 * 1024);
    let r = post("/any/x", &big);
    assert_eq!(r.status, 200);
    assert_bytes_eq(&r.body, &big, "unlimited location");
}

#[test]
fn client_max_body_size_default_is_one_megabyte() {
    let up = body_echo_backend();
    let rw = Ringway::start(&proxy_conf(up.addr, ""));
    // Only the head: the length alone decides.
    let mut c = rw.connect();
    c.send(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 413, "{}", r.describe());
    up.assert_untouched("over the default limit");
    let body = pattern(1024 * 1024);
    let mut c = rw.connect();
    c.send(
        format!(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    c.send(&body);
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), body.len());
}
