//! What the upstream receives: request line, hop-by-hop removal, X-Forwarded-*, Via, Host and
//! `proxy_set_header`, `proxy_pass` URIs and upstream groups; and the response head the client
//! gets back.

mod common;

use common::*;

/// Sends one request and returns (the request as the backend got it, the client's response).
fn one(conf_loc: &str, req: &[u8]) -> (Req, Response) {
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, conf_loc));
    let (_c, resp) = exchange(rw.addr, req);
    assert_eq!(resp.status, 200, "{}", resp.describe());
    let got = b.requests();
    assert_eq!(got.len(), 1, "backend requests: {got:?}");
    (got.into_iter().next().unwrap(), resp)
}

#[test]
fn default_forwarded_fields_and_via() {
    let (req, _) = one(
        "",
        b"GET /path/to?q=1&r=%20 HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: it\r\nAccept: */*\r\n\r\n",
    );
    assert_eq!(req.method, "GET");
    assert_eq!(req.target, "/path/to?q=1&r=%20");
    assert_eq!(req.version, "HTTP/1.1");
    assert_eq!(
        req.headers_named("host"),
        vec!["Example.COM:8080"],
        "Host must pass unchanged: {}",
        req.head
    );
    assert_eq!(
        req.headers_named("x-real-ip"),
        vec!["127.0.0.1"],
        "{}",
        req.head
    );
    assert_eq!(
        req.headers_named("x-forwarded-for"),
        vec!["127.0.0.1"],
        "{}",
        req.head
    );
    assert_eq!(
        req.headers_named("x-forwarded-proto"),
        vec!["http"],
        "{}",
        req.head
    );
    assert_eq!(
        req.headers_named("via"),
        vec!["1.1 ringway"],
        "{}",
        req.head
    );
    assert_eq!(req.header("user-agent"), Some("it"));
    assert_eq!(req.header("accept"), Some("*/*"));
    // End-to-end fields keep their order relative to each other.
    let ua = req.head.find("User-Agent").unwrap();
    let acc = req.head.find("Accept").unwrap();
    assert!(ua < acc, "{}", req.head);
}

#[test]
fn x_forwarded_for_is_appended_not_replaced() {
    let (req, _) = one(
        "",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n\r\n",
    );
    assert_eq!(
        req.joined("x-forwarded-for").as_deref(),
        Some("10.0.0.1, 10.0.0.2, 127.0.0.1"),
        "{}",
        req.head
    );
    assert_eq!(
        req.headers_named("x-forwarded-for").len(),
        1,
        "one XFF field expected: {}",
        req.head
    );
}

#[test]
fn x_forwarded_for_from_several_fields_is_combined() {
    let (req, _) = one(
        "",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n\r\n",
    );
    assert_eq!(
        req.joined("x-forwarded-for").as_deref(),
        Some("10.0.0.1, 10.0.0.2, 127.0.0.1"),
        "{}",
        req.head
    );
}

#[test]
fn client_supplied_real_ip_and_proto_are_overwritten() {
    let (req, _) = one(
        "",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n\r\n",
    );
    assert_eq!(
        req.headers_named("x-real-ip"),
        vec!["127.0.0.1"],
        "{}",
        req.head
    );
    assert_eq!(
        req.headers_named("x-forwarded-proto"),
        vec!["http"],
        "{}",
        req.head
    );
}

#[test]
fn hop_by_hop_fields_are_removed() {
    let (req, _) = one(
        "",
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop, x-other-hop\r\nX-Hop: secret\r\nX-Other-Hop: secret2\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-End-To-End: kept\r\n\r\n",
    );
    for name in [
        "x-hop",
        "x-other-hop",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    ] {
        assert!(
            !req.has(name),
            "{name} must not be forwarded:\n{}",
            req.head
        );
    }
    assert!(!contains(req.head.as_bytes(), b"secret"), "{}", req.head);
    // Connection, if present, may only carry ringway's own choice (keep-alive/close).
    for v in req.headers_named("connection") {
        for t in v.split(',') {
            let t = t.trim().to_ascii_lowercase();
            assert!(
                t == "keep-alive" || t == "close",
                "Connection: {v} forwarded:\n{}",
                req.head
            );
        }
    }
    assert_eq!(req.header("x-end-to-end"), Some("kept"));
}

#[test]
fn chunked_request_is_reframed_with_one_transfer_encoding() {
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    let req = &b.requests()[0];
    assert_eq!(req.body, b"abc");
    let framing =
        req.headers_named("transfer-encoding").len() + req.headers_named("content-length").len();
    assert_eq!(
        framing, 1,
        "exactly one framing field expected:\n{}",
        req.head
    );
}

#[test]
fn proxy_set_header_host_and_custom_fields() {
    let (req, _) = one(
        "proxy_set_header Host backend.internal;\n proxy_set_header X-Custom \"$request_method $remote_addr\";\n proxy_set_header X-From-Client $http_x_in;",
        b"GET / HTTP/1.1\r\nHost: public.example\r\nX-In: hello\r\n\r\n",
    );
    assert_eq!(
        req.headers_named("host"),
        vec!["backend.internal"],
        "{}",
        req.head
    );
    assert_eq!(
        req.header("x-custom"),
        Some("GET 127.0.0.1"),
        "{}",
        req.head
    );
    assert_eq!(req.header("x-from-client"), Some("hello"), "{}", req.head);
    // Setting other fields keeps ringway's defaults.
    assert_eq!(
        req.headers_named("x-real-ip"),
        vec!["127.0.0.1"],
        "{}",
        req.head
    );
    assert_eq!(
        req.headers_named("x-forwarded-for"),
        vec!["127.0.0.1"],
        "{}",
        req.head
    );
}

#[test]
fn proxy_set_header_host_variable() {
    let (req, _) = one(
        "proxy_set_header Host $host;",
        b"GET / HTTP/1.1\r\nHost: public.example:9999\r\n\r\n",
    );
    assert_eq!(
        req.headers_named("host"),
        vec!["public.example"],
        "{}",
        req.head
    );
}

#[test]
fn proxy_set_header_empty_value_removes_field() {
    let (req, _) = one(
        "proxy_set_header X-Real-IP \"\";\n proxy_set_header Accept-Encoding \"\";",
        b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n",
    );
    assert!(!req.has("x-real-ip"), "{}", req.head);
    assert!(!req.has("accept-encoding"), "{}", req.head);
    assert_eq!(
        req.headers_named("x-forwarded-for"),
        vec!["127.0.0.1"],
        "{}",
        req.head
    );
}

#[test]
fn proxy_set_header_overrides_x_forwarded_for() {
    let (req, _) = one(
        "proxy_set_header X-Forwarded-For $remote_addr;",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n",
    );
    assert_eq!(
        req.headers_named("x-forwarded-for"),
        vec!["127.0.0.1"],
        "{}",
        req.head
    );
}

#[test]
fn via_is_appended_to_existing_via() {
    let (req, _) = one("", b"GET / HTTP/1.1\r\nHost: x\r\nVia: 1.0 fred\r\n\r\n");
    let via = req.joined("via").unwrap_or_default();
    assert!(
        via.starts_with("1.0 fred") && via.ends_with("1.1 ringway"),
        "Via should list the earlier hop then ringway: {via:?}\n{}",
        req.head
    );
}

#[test]
fn proxy_add_via_off() {
    let (req, resp) = one("proxy_add_via off;", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(!req.has("via"), "{}", req.head);
    assert!(!resp.has("via"), "{}", resp.head);
}

#[test]
fn proxy_add_via_off_at_http_level() {
    let b = echo_backend();
    let conf = proxy_conf(b.addr, "").replacen("http {", "http {\n    proxy_add_via off;", 1);
    let rw = Ringway::start(&conf);
    let (_c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(!b.requests()[0].has("via"), "{}", b.requests()[0].head);
}

#[test]
fn response_gets_via_and_loses_hop_by_hop_fields() {
    let b = fixed_backend(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Up-Hop\r\nX-Up-Hop: secret\r\nKeep-Alive: timeout=10\r\nProxy-Connection: keep-alive\r\nTrailer: X-Sum\r\nX-App: yes\r\n\r\nhi",
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (mut c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.body, b"hi");
    for name in ["x-up-hop", "keep-alive", "proxy-connection", "trailer"] {
        assert!(
            !r.has(name),
            "{name} must not reach the client:\n{}",
            r.head
        );
    }
    assert_eq!(r.header("x-app"), Some("yes"));
    assert_eq!(r.headers_named("via"), vec!["1.1 ringway"], "{}", r.head);
    assert!(r.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", r.head);
    assert_closed_or_reusable(&mut c, &r, 200);
}

#[test]
fn response_status_line_and_fields_pass_through() {
    let b = fixed_backend(
        b"HTTP/1.1 418 I'm a teapot\r\nContent-Type: text/x-tea\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 3\r\n\r\ntea",
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (_c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 418);
    assert!(
        r.head.starts_with("HTTP/1.1 418 I'm a teapot\r\n"),
        "{}",
        r.head
    );
    assert_eq!(
        r.headers_named("set-cookie"),
        vec!["a=1", "b=2"],
        "{}",
        r.head
    );
    assert_eq!(r.header("content-type"), Some("text/x-tea"));
    assert_eq!(r.body, b"tea");
}

#[test]
fn proxy_pass_with_uri_replaces_the_location_prefix() {
    let b = echo_backend();
    let conf = format!(
        "http {{\n server {{\n listen {LISTEN};\n location /api/ {{ proxy_pass http://{}/v1/; }}\n location / {{ proxy_pass http://{}; }}\n }}\n}}\n",
        b.addr, b.addr
    );
    let rw = Ringway::start(&conf);
    let (_c, r) = exchange(rw.addr, b"GET /api/users?id=7 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    let (_c, r) = exchange(rw.addr, b"GET /other/x HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    let got = b.requests();
    assert_eq!(got[0].target, "/v1/users?id=7");
    assert_eq!(got[1].target, "/other/x");
}

/// nginx forwards the target as the client sent it when `proxy_pass` has no URI part: `%2F`
/// decoded to `/` would change which resource the application sees. Locations still match the
/// normalized path.
#[test]
fn target_goes_upstream_as_sent_without_a_uri_part() {
    let b = echo_backend();
    let conf = format!(
        "http {{\n server {{\n listen {LISTEN};\n location /a/ {{ proxy_pass http://{}; }}\n location / {{ return 404; }}\n }}\n}}\n",
        b.addr
    );
    let rw = Ringway::start(&conf);
    for target in [
        "/a%2Fb/%7Euser?q=%2F",
        "/a//double",
        "/x/../a/dots",
        "/%61/encoded",
    ] {
        let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        let (_c, r) = exchange(rw.addr, req.as_bytes());
        assert_eq!(r.status, 200, "{target} routes to /a/: {}", r.describe());
    }
    let got: Vec<String> = b.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        got,
        [
            "/a%2Fb/%7Euser?q=%2F",
            "/a//double",
            "/x/../a/dots",
            "/%61/encoded"
        ]
    );
}

/// With a URI part, the location prefix is replaced in the normalized URI (nginx: the decoded
/// `$uri`, escaped again), and a rewritten URI is sent as rewritten.
#[test]
fn uri_part_and_rewrites_use_the_normalized_uri() {
    let b = echo_backend();
    let conf = format!(
        "http {{\n server {{\n listen {LISTEN};\n location /p/ {{ proxy_pass http://{a}/q/; }}\n location /r/ {{ rewrite ^/r/(.*)$ /s/$1 break; proxy_pass http://{a}; }}\n }}\n}}\n",
        a = b.addr
    );
    let rw = Ringway::start(&conf);
    for target in ["/p/x%2Fy?k=v", "/p/./z", "/r/t%7E"] {
        let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        let (_c, r) = exchange(rw.addr, req.as_bytes());
        assert_eq!(r.status, 200, "{target}: {}", r.describe());
    }
    let got: Vec<String> = b.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(got, ["/q/x/y?k=v", "/q/z", "/s/t~"]);
}

/// nginx's `$host`: lower-cased, without the port and without a trailing dot.
#[test]
fn host_variable_is_lower_case_without_port_or_trailing_dot() {
    for host in ["Public.EXAMPLE.", "public.example.:8080", "PUBLIC.example"] {
        let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let (got, _) = one("proxy_set_header Host $host;", req.as_bytes());
        assert_eq!(got.headers_named("host"), vec!["public.example"], "{host}");
    }
}

#[test]
fn absolute_form_target_is_sent_in_origin_form() {
    let (req, _) = one("", b"GET http://x/abs/path?z=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(req.target, "/abs/path?z=1", "{}", req.head);
}

#[test]
fn upstream_group_round_robin() {
    let a = fixed_backend(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA");
    let b = fixed_backend(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB");
    let rw = Ringway::start(&upstream_conf(&[a.addr, b.addr], "", ""));
    let mut seq = String::new();
    for _ in 0..6 {
        let r = rw.get("/rr");
        assert_eq!(r.status, 200);
        seq.push_str(&r.body_str());
    }
    assert!(
        seq == "ABABAB" || seq == "BABABA",
        "round-robin order: {seq}"
    );
    assert_eq!(a.request_count(), 3);
    assert_eq!(b.request_count(), 3);
}

#[test]
fn methods_and_body_fields_forwarded() {
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    for m in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
        let req = format!(
            "{m} /m HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nabc"
        );
        let (_c, r) = exchange(rw.addr, req.as_bytes());
        assert_eq!(r.status, 200, "{m}: {}", r.describe());
    }
    let got = b.requests();
    assert_eq!(got.len(), 4);
    for (g, m) in got.iter().zip(["PUT", "DELETE", "PATCH", "OPTIONS"]) {
        assert_eq!(g.method, m);
        assert_eq!(g.body, b"abc");
        assert_eq!(g.headers_named("content-length"), vec!["3"], "{}", g.head);
        assert_eq!(g.header("content-type"), Some("text/plain"));
    }
}

#[test]
fn http10_client_request_to_upstream_is_well_formed() {
    // An HTTP/1.0 request without Host: if ringway speaks HTTP/1.1 upstream it must supply one
    // (RFC 9112 §3.2: a client MUST send Host in HTTP/1.1 requests).
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"GET /ten HTTP/1.0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    let req = &b.requests()[0];
    assert_eq!(req.target, "/ten");
    if req.version == "HTTP/1.1" {
        assert_eq!(
            req.headers_named("host").len(),
            1,
            "HTTP/1.1 upstream request without Host:\n{}",
            req.head
        );
    }
}

#[test]
fn explicit_nginx_style_forwarding_config_matches_defaults() {
    // What nginx users write by hand: the result must be the same, without duplicates.
    let (req, _) = one(
        "proxy_http_version 1.1;\n proxy_set_header Connection \"\";\n proxy_set_header Host $host;\n proxy_set_header X-Real-IP $remote_addr;\n proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n proxy_set_header X-Forwarded-Proto $scheme;",
        b"GET / HTTP/1.1\r\nHost: site.test\r\nX-Forwarded-For: 10.1.1.1\r\n\r\n",
    );
    assert_eq!(req.headers_named("host"), vec!["site.test"], "{}", req.head);
    assert_eq!(
        req.headers_named("x-real-ip"),
        vec!["127.0.0.1"],
        "{}",
        req.head
    );
    assert_eq!(
        req.headers_named("x-forwarded-for"),
        vec!["10.1.1.1, 127.0.0.1"],
        "{}",
        req.head
    );
    assert_eq!(
        req.headers_named("x-forwarded-proto"),
        vec!["http"],
        "{}",
        req.head
    );
    for v in req.headers_named("connection") {
        assert!(!v.is_empty(), "empty Connection field sent:\n{}", req.head);
    }
}

#[test]
fn head_request_is_forwarded_as_head() {
    let b = fixed_backend(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let mut c = rw.connect();
    c.send(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_head_response();
    assert_eq!(r.status, 200);
    assert_eq!(b.requests()[0].method, "HEAD");
}

#[test]
fn date_is_added_when_the_upstream_sends_none() {
    let b = fixed_backend(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (_c, resp) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 200, "{}", resp.describe());
    let date = resp.header("date").expect("Date added (RFC 9110 6.6.1)");
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date:?}");

    let b = fixed_backend(
        b"HTTP/1.1 200 OK\r\nDate: Tue, 01 Jan 2030 00:00:00 GMT\r\nContent-Length: 2\r\n\r\nok",
    );
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (_c, resp) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        resp.headers_named("date"),
        vec!["Tue, 01 Jan 2030 00:00:00 GMT"]
    );
}

#[test]
fn max_forwards_is_decremented_for_options() {
    let (req, _) = one(
        "",
        b"OPTIONS /x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 5\r\n\r\n",
    );
    assert_eq!(req.headers_named("max-forwards"), vec!["4"], "{}", req.head);
    let (req, _) = one("", b"GET /x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 5\r\n\r\n");
    assert_eq!(
        req.headers_named("max-forwards"),
        vec!["5"],
        "GET leaves it: {}",
        req.head
    );
}

#[test]
fn max_forwards_zero_is_answered_by_the_proxy() {
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (_c, resp) = exchange(
        rw.addr,
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n\r\n",
    );
    assert_eq!(resp.status, 200, "{}", resp.describe());
    assert!(
        resp.header("allow").is_some_and(|a| a.contains("GET")),
        "{}",
        resp.describe()
    );
    assert!(
        !resp.header("allow").is_some_and(|a| a.contains("TRACE")),
        "TRACE is not served: {}",
        resp.describe()
    );
    assert_eq!(b.accepted(), 0, "the upstream is never asked");
}

/// nginx answers TRACE with 405 whatever its Max-Forwards: echoing a request back would hand
/// its cookies and credentials to a script that can make the browser send it (cross-site
/// tracing).
#[test]
fn trace_is_refused_with_405_like_nginx() {
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    for req in [
        &b"TRACE /t HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n\r\n"[..],
        b"TRACE /t HTTP/1.1\r\nHost: x\r\nCookie: secret\r\n\r\n",
    ] {
        let (_c, resp) = exchange(rw.addr, req);
        assert_eq!(resp.status, 405, "{}", resp.describe());
        assert!(!contains(&resp.body, b"secret"), "{}", resp.describe());
    }
    assert_eq!(b.accepted(), 0, "the upstream is never asked");
}

#[test]
fn connect_is_refused_without_contacting_the_upstream() {
    let b = echo_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (_c, resp) = exchange(
        rw.addr,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    );
    assert_eq!(resp.status, 405, "{}", resp.describe());
    assert_eq!(b.accepted(), 0);
}

#[test]
fn x_accel_fields_are_hidden_unless_passed() {
    let resp = b"HTTP/1.1 200 OK\r\nX-Accel-Redirect: /internal\r\nX-Accel-Buffering: no\r\nX-Other: kept\r\nContent-Length: 2\r\n\r\nok";
    let b = fixed_backend(resp);
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let (_c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.header("x-accel-redirect"), None, "{}", r.describe());
    assert_eq!(r.header("x-accel-buffering"), None);
    assert_eq!(r.header("x-other"), Some("kept"));

    let b = fixed_backend(resp);
    let rw = Ringway::start(&proxy_conf(b.addr, "proxy_pass_header X-Accel-Buffering;"));
    let (_c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        r.header("x-accel-buffering"),
        Some("no"),
        "{}",
        r.describe()
    );
    assert_eq!(r.header("x-accel-redirect"), None);
}

/// RFC 9110 §6.6.1: an origin with a clock sends Date; ringway's own answers (return, errors
/// before and after routing, upstream failures) carry one like the ones it relays.
#[test]
fn ringways_own_answers_carry_date() {
    let dead = dead_addr();
    let conf = format!(
        "http {{\n server {{\n listen {LISTEN};\n client_max_body_size 10;\n location = /r {{ return 200 \"hi\"; }}\n location = /moved {{ return 301 /r; }}\n location / {{ proxy_pass http://{dead}; }}\n }}\n}}\n"
    );
    let rw = Ringway::start(&conf);
    for (req, status) in [
        (&b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n"[..], 200),
        (b"GET /moved HTTP/1.1\r\nHost: x\r\n\r\n", 301),
        (b"GET /up HTTP/1.1\r\nHost: x\r\n\r\n", 502),
        (
            b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
            413,
        ),
        (b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ] {
        let mut c = rw.connect();
        let _ = c.try_send(req);
        let r = c.try_read_response(false, IO_TIMEOUT).expect("an answer");
        assert_eq!(r.status, status, "{}", r.describe());
        let date = r
            .header("date")
            .unwrap_or_else(|| panic!("no Date: {}", r.describe()));
        assert!(httpdate_like(date), "Date is an IMF-fixdate: {date:?}");
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn httpdate_like(d: &str) -> bool {
    d.len() == 29 && d.ends_with(" GMT") && d.as_bytes()[3] == b','
}
