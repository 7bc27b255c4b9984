//! Config tests for `ringway_metrics`, `stub_status` and `ringway_status`.

use std::path::Path;

use super::*;

fn load(text: &str) -> Result<Config, ConfigError> {
    parse_str(text, Path::new("/t/ringway.conf"))
}

fn err(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn conf(loc: &str) -> String {
    format!("http {{ server {{ listen 127.0.0.1:8080; location /s {{ {loc} }} }} }}")
}

#[test]
fn the_three_handlers_become_actions_and_dump_back() {
    for (d, b) in [
        ("ringway_metrics;", Builtin::Metrics),
        ("stub_status;", Builtin::StubStatus),
        ("stub_status on;", Builtin::StubStatus),
        ("ringway_status;", Builtin::StatusPage),
    ] {
        let cfg = load(&conf(d)).unwrap();
        let loc = &cfg.servers[0].locations[0];
        assert!(matches!(loc.action, Action::Builtin(x) if x == b), "{d}");
        let text = dump(&cfg);
        assert!(text.contains(&format!("{};", b.directive())), "{d}: {text}");
        // The dump loads again to the same action.
        let again = load(&text).unwrap();
        assert!(matches!(again.servers[0].locations[0].action, Action::Builtin(x) if x == b));
    }
}

#[test]
fn bad_uses_are_refused_with_their_line() {
    let e = err(&conf("stub_status off;"));
    assert!(
        e.contains("invalid value \"off\" in \"stub_status\""),
        "{e}"
    );
    assert!(e.contains("ringway.conf:1"), "{e}");
    let e = err(&conf("ringway_metrics; proxy_pass http://127.0.0.1:9;"));
    assert!(
        e.contains("has both \"ringway_metrics\" and \"proxy_pass\""),
        "{e}"
    );
    let e = err(&conf("ringway_status; ringway_status;"));
    assert!(e.contains("duplicate"), "{e}");
    let e = err("http { server { listen 127.0.0.1:8080; stub_status; } }");
    assert!(e.contains("stub_status"), "{e}");
    let e = err(&conf("ringway_metrics on;"));
    assert!(e.contains("ringway_metrics"), "{e}");
}

#[test]
fn return_in_the_same_location_wins_as_in_nginx() {
    let cfg = load(&conf("return 204; stub_status;")).unwrap();
    assert!(matches!(
        cfg.servers[0].locations[0].action,
        Action::Return(_)
    ));
}
