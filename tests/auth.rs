//! `auth_basic` against htpasswd files and `auth_request` subrequests to a real auth service,
//! over real sockets.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;

fn basic(user_pass: &str) -> String {
    format!("Authorization: Basic {}\r\n", B64.encode(user_pass))
}

fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n").into_bytes()
}

/// A user file with one entry per scheme (bcrypt made here, the others Apache's examples).
fn user_file() -> std::path::PathBuf {
    let dir = temp_dir("auth-users");
    let bc = bcrypt::hash("bcpass", 4).unwrap();
    let text = format!(
        "# users\nbc:{bc}\nmyName:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\n\
         sha:{{SHA}}VBPuJHI7uixaa6LQGWx4s+5GKNE=\nplain:{{PLAIN}}plainpass\n"
    );
    let p = dir.join("htpasswd");
    std::fs::write(&p, text).unwrap();
    p
}

fn basic_conf(app: &Backend, users: &std::path::Path) -> String {
    format!(
        "http {{\n    server {{\n        listen {LISTEN};\n        auth_basic \"Staff \\\"only\\\"\";\n        \
         auth_basic_user_file {};\n        location / {{ proxy_pass http://{}; }}\n        \
         location /open/ {{ auth_basic off; proxy_pass http://{}; }}\n        \
         location = /health {{ return 200 \"ok\"; }}\n    }}\n}}\n",
        users.display(),
        app.addr,
        app.addr
    )
}

#[test]
fn basic_auth_challenges_then_accepts_every_scheme() {
    let app = echo_backend();
    let users = user_file();
    let rw = Ringway::start(&basic_conf(&app, &users));
    let (mut c, r) = exchange(rw.addr, &get("/a", ""));
    assert_eq!(r.status, 401, "{}", r.describe());
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"Staff \\\"only\\\"\"")
    );
    app.assert_untouched("no credentials");
    // The connection stays open: a browser retries with credentials on it.
    for creds in [
        "bc:bcpass",
        "myName:myPassword",
        "sha:myPassword",
        "plain:plainpass",
    ] {
        c.send(&get("/a", &basic(creds)));
        let r = c.read_response();
        assert_eq!(r.status, 200, "{creds}: {}", r.describe());
        let (_, fields) = echoed_head(&r.body);
        assert_eq!(
            field_values(&fields, "authorization"),
            [format!("Basic {}", B64.encode(creds))],
            "the credentials reach the upstream, as with nginx"
        );
    }
    for creds in [
        "bc:wrong",
        "myName:mypassword",
        "sha:",
        "plain:plainpass ",
        "nobody:x",
    ] {
        c.send(&get("/a", &basic(creds)));
        let r = c.read_response();
        assert_eq!(r.status, 401, "{creds}");
        assert!(r.has("www-authenticate"));
    }
    c.send(&get("/a", "Authorization: Bearer abc\r\n"));
    assert_eq!(c.read_response().status, 401);
    c.send(&get("/a", "Authorization: Basic !!notbase64\r\n"));
    assert_eq!(c.read_response().status, 401);
    assert_eq!(app.request_count(), 4);
    // `auth_basic off` below, and `return` (nginx's rewrite phase runs before access).
    assert_eq!(rw.get("/open/x").status, 200);
    let r = rw.get("/health");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
    assert_eq!(app.request_count(), 5);
}

#[test]
fn basic_auth_401_with_a_body_in_hand_keeps_the_connection() {
    let app = echo_backend();
    let users = user_file();
    let rw = Ringway::start(&basic_conf(&app, &users));
    let mut c = rw.connect();
    c.send(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(c.read_response().status, 401);
    c.send(&get("/a", &basic("plain:plainpass")));
    assert_eq!(c.read_response().status, 200);
    assert_eq!(app.request_count(), 1);
}

/// The auth service: by the request's `X-Token`: `good` → 200 with `X-User: alice`, `forbid` →
/// 403, `boom` → 500, anything else → 401 with a Bearer challenge.
fn auth_service() -> Backend {
    Backend::start(|c| {
        while let Some(req) = c.read_request() {
            let ok = match req.header("x-token") {
                Some("good") => c.respond_with(
                    200,
                    &[("X-User", "alice"), ("Content-Type", "text/plain")],
                    b"fine, go",
                ),
                Some("forbid") => c.respond(403, b"no"),
                Some("boom") => c.respond(500, b""),
                _ => c.respond_with(
                    401,
                    &[("WWW-Authenticate", "Bearer realm=\"api\"")],
                    b"who?",
                ),
            };
            if !ok {
                return;
            }
        }
    })
}

fn request_conf(auth: std::net::SocketAddr, app: &Backend) -> String {
    format!(
        "http {{\n    server {{\n        listen {LISTEN};\n        \
         location = /auth {{\n            internal;\n            proxy_pass http://{auth}/check;\n            \
         proxy_pass_request_body off;\n            proxy_set_header Content-Length \"\";\n            \
         proxy_set_header X-Original-URI $request_uri;\n            \
         proxy_set_header X-Original-Method $request_method;\n        }}\n        \
         location / {{\n            auth_request /auth;\n            \
         auth_request_set $auth_user $upstream_http_x_user;\n            \
         auth_request_set $auth_status $upstream_status;\n            \
         proxy_set_header X-User $auth_user;\n            \
         add_header X-Auth-Status $auth_status;\n            proxy_pass http://{};\n        }}\n        \
         location /public/ {{ auth_request off; proxy_pass http://{}; }}\n        \
         location = /via-rewrite {{ rewrite ^ /auth last; }}\n    }}\n}}\n",
        app.addr, app.addr
    )
}

#[test]
fn auth_request_allows_and_passes_variables_without_the_body() {
    let auth = auth_service();
    let app = echo_backend();
    let rw = Ringway::start(&request_conf(auth.addr, &app));
    let mut c = rw.connect();
    c.send(
        b"POST /items?x=1 HTTP/1.1\r\nHost: x\r\nX-Token: good\r\nContent-Length: 11\r\n\r\nsecret-body",
    );
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.header("x-auth-status"), Some("200"));
    assert_eq!(r.header("x-body-len"), Some("11"), "the app gets the body");
    let (line, fields) = echoed_head(&r.body);
    assert_eq!(line, "POST /items?x=1 HTTP/1.1");
    assert_eq!(field_values(&fields, "x-user"), ["alice"]);
    let seen = auth.requests();
    assert_eq!(seen.len(), 1);
    let a = &seen[0];
    // nginx's subrequest: GET to the auth location's URI, the client's fields, no body.
    assert_eq!((a.method.as_str(), a.target.as_str()), ("GET", "/check"));
    assert_eq!(a.header("x-original-uri"), Some("/items?x=1"));
    assert_eq!(a.header("x-original-method"), Some("POST"));
    assert_eq!(a.header("x-token"), Some("good"));
    assert!(
        !a.has("content-length") && !a.has("transfer-encoding"),
        "{}",
        a.head
    );
    assert!(a.body.is_empty());
    assert!(
        !contains(&auth.raw(0), b"secret-body"),
        "the auth service never sees the body"
    );
    // Kept alive both ways: the auth connection is pooled and reused.
    c.send(&get("/again", "X-Token: good\r\n"));
    assert_eq!(c.read_response().status, 200);
    assert_eq!(auth.request_count(), 2);
    assert_eq!(auth.accepted(), 1, "the auth connection is reused");
}

#[test]
fn auth_request_denials_and_failures() {
    let auth = auth_service();
    let app = echo_backend();
    let rw = Ringway::start(&request_conf(auth.addr, &app));
    let mut c = rw.connect();
    c.send(&get("/x", ""));
    let r = c.read_response();
    assert_eq!(r.status, 401, "{}", r.describe());
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"api\""));
    assert!(!r.says_close(), "a denial keeps the connection");
    c.send(&get("/x", "X-Token: forbid\r\n"));
    let r = c.read_response();
    assert_eq!(r.status, 403);
    assert!(!r.has("www-authenticate"));
    c.send(&get("/x", "X-Token: boom\r\n"));
    assert_eq!(c.read_response().status, 500, "other statuses are 500");
    app.assert_untouched("denied requests");
    // The internal location is not reachable directly.
    let n = auth.request_count();
    assert_eq!(rw.get("/auth").status, 404);
    assert_eq!(auth.request_count(), n);
    // A rewrite is an internal redirect: it may land there (nginx's rule).
    let r = rw.get("/via-rewrite");
    assert_eq!(
        (r.status, r.header("x-user")),
        (401, None),
        "{}",
        r.describe()
    );
    assert_eq!(auth.request_count(), n + 1);
    assert_eq!(rw.get("/public/p").status, 200, "auth_request off");
    assert_eq!(auth.request_count(), n + 1);
}

#[test]
fn auth_request_to_an_unreachable_service_is_500() {
    let app = echo_backend();
    let rw = Ringway::start(&request_conf(dead_addr(), &app));
    let r = rw.get("/x");
    assert_eq!(r.status, 500, "{}", r.describe());
    app.assert_untouched("auth service down");
}

#[test]
fn user_file_is_read_again_on_reload() {
    let app = echo_backend();
    let dir = temp_dir("auth-reload");
    let users = dir.join("htpasswd");
    std::fs::write(&users, "u:{PLAIN}one\n").unwrap();
    let conf = basic_conf(&app, &users);
    let rw = Ringway::start(&conf);
    let status = |creds: &str| exchange(rw.addr, &get("/a", &basic(creds))).1.status;
    assert_eq!(status("u:one"), 200);
    std::fs::write(&users, "u:{PLAIN}two\n").unwrap();
    assert_eq!(status("u:one"), 200, "read at load, not per request");
    rw.reload_with(&conf, &[]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while status("u:two") != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "new password not taken"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(status("u:one"), 401);
    // A file that no longer loads fails the reload; the running config stays.
    std::fs::write(&users, "u:rqXexS6ZhobKA\n").unwrap();
    rw.write_config_text(&conf, &[]);
    rw.signal(libc::SIGHUP);
    assert!(
        rw.wait_log(
            "DES crypt is not supported",
            1,
            std::time::Duration::from_secs(5)
        ),
        "{}",
        rw.stderr()
    );
    assert_eq!(status("u:two"), 200);
}
