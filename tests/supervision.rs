//! No input can take down a shard: a panic in one connection's task closes that connection, is
//! logged, and the shard goes on serving the others (the debug build's fault hook makes one
//! panic on request); a shard thread that dies anyway stops the whole process with an error
//! exit, so that no listener is left accepting connections nobody serves.

mod common;

use std::time::Duration;

use common::*;

const PANIC: &str = "RINGWAY_TEST_PANIC_TARGET";
const KILL: &str = "RINGWAY_TEST_KILL_SHARD_TARGET";

#[test]
fn a_panicking_connection_is_closed_and_the_shard_serves_on() {
    let b = tagged_backend("up");
    let rw = Ringway::start_with_env(&proxy_conf(b.addr, ""), 1, &[(PANIC, "/boom")]);
    // A kept-alive connection opened before the panic, served before and after it.
    let mut kept = rw.connect();
    kept.send(b"GET /before HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(kept.read_response().status, 200);
    let base = rw.fds();

    let mut victim = rw.connect();
    let _ = victim.try_send(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        victim.try_read_response(false, IO_TIMEOUT).is_err(),
        "the panicking request gets no answer"
    );
    assert!(victim.is_closed(), "its connection is closed");
    assert!(
        rw.wait_log_all(
            &["connection task panicked", "test fault hook"],
            1,
            IO_TIMEOUT
        ),
        "the panic is logged with its message:\n{}",
        rw.log_plain()
    );

    kept.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        kept.read_response().status,
        200,
        "the other connection is served"
    );
    for _ in 0..20 {
        assert_eq!(rw.get("/new").status, 200, "new connections are served");
    }
    let settled = rw.wait_fds(Duration::from_secs(3), |f| f.total <= base.total);
    assert!(
        settled.is_ok(),
        "descriptors back to the count before the panic: {base:?} then {settled:?}"
    );
}

#[test]
fn a_dead_shard_stops_the_process_with_an_error() {
    let b = tagged_backend("up");
    let mut rw = Ringway::start_with_env(&proxy_conf(b.addr, ""), 2, &[(KILL, "/die")]);
    // Each shard has its own listener: whichever takes the connection dies.
    let mut c = rw.connect();
    let _ = c.try_send(b"GET /die HTTP/1.1\r\nHost: x\r\n\r\n");
    let status = rw.wait_exit(Duration::from_secs(10));
    let log = rw.log_plain();
    let status = status.unwrap_or_else(|| panic!("ringway still runs after a shard died:\n{log}"));
    assert!(!status.success(), "exit status {status}\n{log}");
    assert!(log.contains("died"), "the log says a shard died:\n{log}");
    assert!(
        log.contains("test fault hook: shard task panic requested"),
        "and why:\n{log}"
    );
}
