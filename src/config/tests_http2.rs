//! `http2*` and `listen … http2`: values, inheritance, where `h2` is offered, errors, notices.

use super::http2::Http2Settings;
use super::test_util::{err, ok};

const LOC: &str = "location / { proxy_pass http://127.0.0.1:9; }";

#[test]
fn settings_inherit_from_http_to_server_and_its_locations() {
    let cfg = ok(&format!(
        "http {{\n  http2 on;\n  http2_max_concurrent_streams 64;\n  http2_chunk_size 16k;\n  \
         server {{ listen 8080; http2_body_preread_size 128k; {LOC} }}\n  \
         server {{ listen 8081; http2 off; {LOC} }}\n}}\n"
    ));
    let a = &cfg.servers[0];
    assert_eq!(
        a.settings.http2,
        Http2Settings {
            on: true,
            max_concurrent_streams: 64,
            chunk_size: 16 * 1024,
            body_preread_size: 128 * 1024,
        }
    );
    assert_eq!(a.locations[0].settings.http2, a.settings.http2);
    assert!(a.tls.http2, "ALPN offers h2 where http2 is on");
    let b = &cfg.servers[1];
    assert!(!b.settings.http2.on && !b.tls.http2);
    assert_eq!(b.settings.http2.max_concurrent_streams, 64);
    let d = Http2Settings::default();
    assert_eq!(
        (
            d.on,
            d.max_concurrent_streams,
            d.chunk_size,
            d.body_preread_size
        ),
        (false, 128, 8192, 65536)
    );
}

#[test]
fn listen_http2_is_the_address_for_every_server_on_it() {
    let cfg = ok(&format!(
        "http {{\n  server {{ listen 8080 http2; {LOC} }}\n  \
         server {{ listen 8080; server_name b; {LOC} }}\n  server {{ listen 8081; {LOC} }}\n}}\n"
    ));
    assert!(cfg.servers[0].listen[0].http2 && cfg.servers[1].listen[0].http2);
    assert!(cfg.servers[1].tls.http2);
    assert!(!cfg.servers[2].listen[0].http2 && !cfg.servers[2].tls.http2);
}

#[test]
fn bad_values_are_errors_with_their_position() {
    assert_eq!(
        err(&format!(
            "http {{\n  http2 maybe;\n  server {{ listen 80; {LOC} }}\n}}\n"
        )),
        "/etc/ringway/ringway.conf:2:9: invalid value \"maybe\" in \"http2\" directive, it must be \"on\" or \"off\""
    );
    assert!(
        err(&format!(
            "http {{\n  http2_chunk_size 0;\n  server {{ listen 80; {LOC} }}\n}}\n"
        ))
        .starts_with("/etc/ringway/ringway.conf:2:20: ")
    );
    assert!(
        err("http {\n  server { listen 80; location / { http2 on; proxy_pass http://127.0.0.1:9; } }\n}\n")
        .contains("\"http2\" directive is not allowed here")
    );
}

#[test]
fn obsolete_and_push_directives_are_accepted_with_a_notice() {
    let cfg = ok(&format!(
        "http {{\n  http2_idle_timeout 3m;\n  http2_push_preload on;\n  http2_recv_buffer_size 512k;\n  \
         server {{ listen 80; {LOC} }}\n}}\n"
    ));
    let notices = cfg.notices.join("\n");
    assert!(notices.contains("http2_idle_timeout"), "{notices}");
    assert!(notices.contains("keepalive_timeout"), "{notices}");
    assert!(notices.contains("http2_push_preload"), "{notices}");
    assert!(notices.contains("http2_recv_buffer_size"), "{notices}");
}
