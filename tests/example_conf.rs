//! `conf/example.conf`, the config the README runs: it passes `-t` as it is, and a copy of it
//! (only the listen port changed) serves, and takes `-s reload` and `-s quit` through the pid
//! file its `pid` directive names.

mod common;

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/example.conf");
const EXAMPLE_LISTEN: &str = "127.0.0.1:8080";

fn example_text() -> String {
    let text = std::fs::read_to_string(EXAMPLE).unwrap_or_else(|e| panic!("{EXAMPLE}: {e}"));
    assert_eq!(
        text.matches(EXAMPLE_LISTEN).count(),
        1,
        "conf/example.conf should listen on {EXAMPLE_LISTEN} once"
    );
    text
}

/// Starts ringway on a copy of the example config in a temporary folder (the pid file lands
/// there too), listening on a free port; `edit` may change the text further.
fn start_example(edit: impl Fn(String) -> String) -> (Ringway, PathBuf) {
    let mut last = String::new();
    for _ in 0..3 {
        let dir = temp_dir("example");
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let text = edit(example_text().replace(EXAMPLE_LISTEN, &listen.to_string()));
        let path = dir.join("example.conf");
        std::fs::write(&path, text).unwrap();
        match Ringway::start_file(dir, path.clone(), 1, &[listen]) {
            Ok(rw) => return (rw, path),
            Err(e) => last = e,
        }
    }
    panic!("ringway did not start on the example config:\n{last}");
}

fn ringway(args: &[&OsStr]) -> String {
    let (st, out, err) = run_ringway(args);
    assert!(st.success(), "ringway {args:?}: {st}\n{out}{err}");
    err
}

fn wait_for_file(p: &Path) -> String {
    let t0 = Instant::now();
    loop {
        match std::fs::read_to_string(p) {
            Ok(t) if !t.is_empty() => return t,
            _ if t0.elapsed() < Duration::from_secs(3) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            r => panic!("{}: {r:?}", p.display()),
        }
    }
}

#[test]
fn the_example_config_passes_dash_t_as_it_is() {
    let err = ringway(&["-t".as_ref(), "-c".as_ref(), EXAMPLE.as_ref()]);
    assert!(err.contains("test is successful"), "{err}");
}

#[test]
fn the_example_config_serves_reloads_and_quits_through_its_pid_file() {
    let (mut rw, path) = start_example(|t| t);
    let r = rw.get("/health");
    assert_eq!(
        (r.status, r.body_str()),
        (200, "ok\n".into()),
        "{}",
        r.describe()
    );
    assert_eq!(rw.get("/").body_str(), "hello from ringway\n");
    // `http2 on`: the same port answers HTTP/2 with prior knowledge (as the comment says).
    let h2 = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "5", "--http2-prior-knowledge"])
        .args(["-w", "|%{http_version}"])
        .arg(format!("http://{}/health", rw.addr))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&h2.stdout), "ok\n|2");

    // `pid ringway.pid;` is relative: it lands beside the config, not in the working directory.
    let pid_file = path.with_file_name("ringway.pid");
    assert_eq!(wait_for_file(&pid_file).trim(), rw.pid().to_string());

    // `-s reload` with the same -c finds the process through that file.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"ok\\n\"", "\"reloaded\\n\"")).unwrap();
    let cfg = path.as_os_str();
    ringway(&["-s".as_ref(), "reload".as_ref(), "-c".as_ref(), cfg]);
    assert!(
        rw.wait_log(RELOADED, 1, Duration::from_secs(5)),
        "no reload after -s reload:\n{}",
        rw.stderr()
    );
    assert_eq!(rw.get("/health").body_str(), "reloaded\n");

    // `-s quit`: a graceful stop; the pid file goes with the process.
    ringway(&["-s".as_ref(), "quit".as_ref(), "-c".as_ref(), cfg]);
    let st = rw
        .wait_exit(Duration::from_secs(5))
        .expect("ringway did not exit after -s quit");
    assert!(st.success(), "exit status {st}");
    assert!(!pid_file.exists(), "the pid file is removed at exit");
}
