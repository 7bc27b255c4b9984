//! `proxy_redirect` as nginx has it: `default` (on unless turned off) rewrites the `Location`
//! and `Refresh` an upstream sends when they start with the `proxy_pass` URL, so a client is
//! never sent to an address only the proxy can reach; `off`; explicit rules with variables and
//! regexes (first match wins).

mod common;

use common::*;

/// A backend answering every request with a 302 to its `X-Loc` field, and a `Refresh` to its
/// `X-Refresh` field when sent.
fn redirecting_backend() -> Backend {
    Backend::start(|c: &mut Conn| {
        while let Some(req) = c.read_request() {
            let loc = req.header("x-loc").unwrap_or("/").to_string();
            let mut fields = vec![("Location", loc.as_str())];
            let refresh = req.header("x-refresh").map(str::to_string);
            if let Some(r) = &refresh {
                fields.push(("Refresh", r.as_str()));
            }
            if !c.respond_with(302, &fields, b"") {
                return;
            }
        }
    })
}

fn redirect(rw: &Ringway, path: &str, loc: &str, refresh: Option<&str>) -> Response {
    let refresh = refresh.map_or(String::new(), |r| format!("X-Refresh: {r}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: edge.example\r\nX-Loc: {loc}\r\n{refresh}\r\n");
    let (_c, resp) = exchange(rw.addr, req.as_bytes());
    assert_eq!(resp.status, 302, "{}", resp.describe());
    resp
}

#[test]
fn default_turns_the_proxy_pass_address_into_the_client_facing_path() {
    let b = redirecting_backend();
    let rw = Ringway::start(&proxy_conf(b.addr, ""));
    let up = format!("http://{}", b.addr);
    let r = redirect(
        &rw,
        "/a",
        &format!("{up}/login?next=/a"),
        Some(&format!("5; url={up}/x")),
    );
    assert_eq!(
        r.header("location"),
        Some("/login?next=/a"),
        "{}",
        r.describe()
    );
    assert_eq!(r.header("refresh"), Some("5; url=/x"));
    // Anything else passes unchanged: another host, a relative path.
    let r = redirect(&rw, "/a", "http://elsewhere.example/x", None);
    assert_eq!(r.header("location"), Some("http://elsewhere.example/x"));
    let r = redirect(&rw, "/a", "/already/relative", None);
    assert_eq!(r.header("location"), Some("/already/relative"));
}

#[test]
fn default_with_a_uri_part_maps_it_back_to_the_location_prefix() {
    let b = redirecting_backend();
    let conf = format!(
        "http {{ upstream app {{ server {}; }}\n server {{ listen {LISTEN};\n location /one/ {{ proxy_pass http://app/two/; }} }} }}\n",
        b.addr
    );
    let rw = Ringway::start(&conf);
    let r = redirect(&rw, "/one/x", "http://app/two/page", None);
    assert_eq!(r.header("location"), Some("/one/page"), "{}", r.describe());
    // Only the proxy_pass URL with its URI part matches.
    let r = redirect(&rw, "/one/x", "http://app/other", None);
    assert_eq!(r.header("location"), Some("http://app/other"));
}

#[test]
fn off_and_explicit_rules() {
    let b = redirecting_backend();
    let up = format!("http://{}", b.addr);
    let rw = Ringway::start(&proxy_conf(b.addr, "proxy_redirect off;"));
    let r = redirect(&rw, "/", &format!("{up}/x"), None);
    assert_eq!(r.header("location"), Some(format!("{up}/x").as_str()));

    let rules = format!(
        "proxy_redirect ~^http://internal\\.example/(.*)$ /int/$1;\n\
         proxy_redirect {up}/ http://$host:8443/;\n\
         proxy_redirect http://app/ /first/;\n\
         proxy_redirect http://app/ /second/;"
    );
    let rw = Ringway::start(&proxy_conf(b.addr, &rules));
    let r = redirect(&rw, "/", "http://internal.example/a/b?c", None);
    assert_eq!(r.header("location"), Some("/int/a/b?c"), "{}", r.describe());
    let r = redirect(&rw, "/", &format!("{up}/y"), None);
    assert_eq!(r.header("location"), Some("http://edge.example:8443/y"));
    let r = redirect(&rw, "/", "http://app/z", None);
    assert_eq!(
        r.header("location"),
        Some("/first/z"),
        "the first matching rule wins"
    );
    // Explicit rules replace `default` at their level.
    let r = redirect(&rw, "/", "/kept", None);
    assert_eq!(r.header("location"), Some("/kept"));
}

#[test]
fn a_level_with_rules_replaces_the_inherited_ones() {
    let b = redirecting_backend();
    let conf = format!(
        "http {{ proxy_redirect http://app/ /from-http/;\n server {{ listen {LISTEN};\n \
         location /a/ {{ proxy_pass http://{addr}; }}\n \
         location /b/ {{ proxy_pass http://{addr}; proxy_redirect default; }} }} }}\n",
        addr = b.addr
    );
    let rw = Ringway::start(&conf);
    let r = redirect(&rw, "/a/", "http://app/x", None);
    assert_eq!(r.header("location"), Some("/from-http/x"));
    let r = redirect(&rw, "/b/", "http://app/x", None);
    assert_eq!(r.header("location"), Some("http://app/x"));
    let r = redirect(&rw, "/b/", &format!("http://{}/x", b.addr), None);
    assert_eq!(r.header("location"), Some("/x"));
}

#[test]
fn bad_rules_are_config_errors_with_their_line() {
    let dir = temp_dir("redirect-conf");
    for (rule, want) in [
        ("proxy_redirect ~^(unclosed /;", "invalid regex"),
        ("proxy_redirect somewhere;", "invalid value \"somewhere\""),
        (
            "proxy_redirect http://a/ /$nosuchvar/;",
            "unknown \"nosuchvar\" variable",
        ),
    ] {
        let path = write_config(
            &dir,
            &format!(
                "http {{\n  server {{\n    listen 127.0.0.1:1;\n    location / {{\n      proxy_pass http://127.0.0.1:2;\n      {rule}\n    }}\n  }}\n}}\n"
            ),
        );
        let (st, _out, err) = run_ringway(&["-t".as_ref(), "-c".as_ref(), path.as_os_str()]);
        assert!(!st.success(), "{rule}: accepted\n{err}");
        assert!(err.contains(want), "{rule}: {err}");
        assert!(
            err.contains("ringway.conf:6:"),
            "{rule}: names file and line: {err}"
        );
    }
}
