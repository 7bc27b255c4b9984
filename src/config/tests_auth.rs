//! Config tests for `auth_basic`, `auth_basic_user_file`, `auth_request`, `auth_request_set`,
//! `internal` and `proxy_pass_request_body`.

use std::path::{Path, PathBuf};

use super::*;

/// A folder holding `ringway.conf` and a user file, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("ringway-auth-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("users"),
            "alice:{PLAIN}pw\nbob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n",
        )
        .unwrap();
        Dir(d)
    }

    fn load(&self, text: &str) -> Result<Config, ConfigError> {
        parse_str(text, &self.0.join("ringway.conf"))
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

fn server(body: &str) -> String {
    format!("http {{\n    server {{\n{body}\n    }}\n}}\n")
}

#[test]
fn auth_basic_inherits_and_reads_the_file_relative_to_the_config() {
    let d = Dir::new("inherit");
    let cfg = d
        .load(&server(
            "        auth_basic \"Staff only\";\n        auth_basic_user_file users;\n        \
             location /a { proxy_pass http://127.0.0.1:1; }\n        \
             location /open { auth_basic off; proxy_pass http://127.0.0.1:1; }",
        ))
        .unwrap();
    let s = &cfg.servers[0];
    assert_eq!(s.settings.auth_basic.as_deref(), Some("Staff only"));
    let a = &s.locations[0].settings;
    assert_eq!(a.auth_basic.as_deref(), Some("Staff only"));
    let f = a.auth_basic_user_file.as_ref().unwrap();
    assert_eq!(f.path, "users");
    assert_eq!(f.users.len(), 2);
    assert!(f.users.find(b"bob").unwrap().verify(b"secret"));
    let open = &s.locations[1].settings;
    assert_eq!(open.auth_basic, None);
    assert!(open.auth_basic_user_file.is_some());
}

#[test]
fn user_file_errors_name_the_directive() {
    let d = Dir::new("errors");
    assert_eq!(
        d.err(&server("        auth_basic_user_file missing;")),
        "ringway.conf:3:30: cannot read auth_basic_user_file \"missing\": No such file or \
         directory (os error 2)"
    );
    std::fs::write(d.0.join("des"), "ok:{PLAIN}x\nold:rqXexS6ZhobKA\n").unwrap();
    let e = d.err(&server("        auth_basic_user_file des;"));
    assert!(
        e.starts_with("ringway.conf:3:30: auth_basic_user_file \"")
            && e.ends_with("des\", line 2: DES crypt is not supported (use bcrypt, $apr1$, {SHA}, {SSHA} or {PLAIN})"),
        "{e}"
    );
    assert_eq!(
        d.err(&server("        auth_basic_user_file /etc/$host;")),
        "ringway.conf:3:30: variables in \"auth_basic_user_file\" are not supported (ringway reads \
         the file when the config is loaded)"
    );
    assert_eq!(
        d.err(&server("        auth_basic a;\n        auth_basic b;")),
        "ringway.conf:4:9: \"auth_basic\" directive is duplicate"
    );
    assert_eq!(
        d.err(&server("        auth_basic a b;")),
        "ringway.conf:3:9: invalid number of arguments in \"auth_basic\" directive"
    );
    assert_eq!(
        d.err(&server("        satisfy any;")),
        "ringway.conf:3:9: \"satisfy\" is not supported yet by ringway (it would change how \
         requests are handled)"
    );
}

#[test]
fn auth_request_and_its_variables() {
    let d = Dir::new("request");
    let cfg = d
        .load(&server(
            "        proxy_set_header X-User $auth_user;\n        auth_request /auth;\n        \
             auth_request_set $auth_user $upstream_http_x_user;\n        \
             auth_request_set $auth_status ${upstream_status};\n        \
             location = /auth { internal; proxy_pass_request_body off; proxy_pass http://127.0.0.1:1; }\n        \
             location /free { auth_request off; proxy_pass http://127.0.0.1:1; }",
        ))
        .unwrap();
    assert_eq!(cfg.auth_vars, ["auth_status", "auth_user"]);
    let s = &cfg.servers[0];
    assert_eq!(s.settings.auth_request.as_deref(), Some("/auth"));
    assert_eq!(s.settings.auth_request_set.len(), 2);
    assert!(s.locations[0].internal);
    assert!(!s.locations[0].settings.proxy_pass_request_body);
    assert_eq!(s.locations[1].settings.auth_request, None);
    assert!(!s.locations[1].internal);
}

#[test]
fn auth_request_errors() {
    let d = Dir::new("request-errors");
    assert_eq!(
        d.err(&server("        auth_request auth;")),
        "ringway.conf:3:22: invalid URI \"auth\" in \"auth_request\" directive (a path without \
         variables, or \"off\")"
    );
    assert_eq!(
        d.err(&server("        auth_request_set user $upstream_http_x;")),
        "ringway.conf:3:26: invalid variable name \"user\""
    );
    assert_eq!(
        d.err(&server("        auth_request_set $host $upstream_http_x;")),
        "ringway.conf:3:26: the \"$host\" variable cannot be changed"
    );
    // `$upstream_http_*` reads the auth response: only auth_request_set may use it.
    assert_eq!(
        d.err(&server("        add_header X-U $upstream_http_x_user;")),
        "ringway.conf:3:24: variable \"$upstream_http_x_user\" is not supported yet by ringway"
    );
    assert_eq!(
        d.err(&server("        add_header X-U $nobody_set_this;")),
        "ringway.conf:3:24: unknown \"nobody_set_this\" variable"
    );
    assert_eq!(
        d.err(&server("        internal;")),
        "ringway.conf:3:9: \"internal\" directive is not allowed here"
    );
    assert_eq!(
        d.err(&server("        location /a { internal; internal; }")),
        "ringway.conf:3:33: \"internal\" directive is duplicate"
    );
    assert_eq!(
        d.err(&server(
            "        location /a { proxy_pass_request_body off; proxy_pass http://127.0.0.1:1; }"
        )),
        "ringway.conf:3:9: location \"/a\": \"proxy_pass_request_body off\" is supported only in \
         \"internal\" locations (auth_request targets)"
    );
}

#[test]
fn auth_settings_dump_and_read_back() {
    let d = Dir::new("dump");
    let cfg = d
        .load(&server(
            "        auth_basic \"the realm\";\n        auth_basic_user_file users;\n        \
             auth_request /auth;\n        auth_request_set $u $upstream_http_x_user;\n        \
             location = /auth { internal; auth_basic off; auth_request off; \
             proxy_pass_request_body off; proxy_pass http://127.0.0.1:1; }\n        \
             location / { proxy_set_header X-User $u; proxy_pass http://127.0.0.1:1; }",
        ))
        .unwrap();
    let text = dump(&cfg);
    for line in [
        "auth_basic \"the realm\";",
        "auth_basic_user_file users;",
        "auth_request /auth;",
        "auth_request_set $u $upstream_http_x_user;",
        "internal;",
        "auth_basic off;",
        "auth_request off;",
        "proxy_pass_request_body off;",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    let mut again = parse_str(&text, &d.0.join("ringway.conf"))
        .unwrap_or_else(|e| panic!("dump does not read back: {e}\n{text}"));
    again.notices = cfg.notices.clone();
    assert_eq!(dump(&again), text);
    let plain = parse_str(
        &server("        location / { return 200; }"),
        Path::new("x.conf"),
    )
    .unwrap();
    assert!(
        !dump(&plain).contains("auth"),
        "no auth lines when none is used"
    );
}
