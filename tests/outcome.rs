//! The per-request outcome record: finished exactly once for every request, whatever path it
//! took (proxied, answered by ringway, refused before routing, failed upstream), and never for
//! a connection that sent nothing. Read through its log target, `ringway::request`.

mod common;

use std::time::Duration;

use common::*;

fn records(rw: &Ringway) -> Vec<String> {
    rw.log_plain()
        .lines()
        .filter(|l| l.contains("ringway::request") && l.contains("request done"))
        .map(str::to_string)
        .collect()
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let at = line
        .find(&format!(" {name}="))
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    let rest = &line[at + name.len() + 2..];
    rest.split(' ').next().unwrap_or("")
}

#[test]
fn every_request_is_recorded_once_with_its_status_and_bytes() {
    let b = tagged_backend("up");
    let dead = dead_addr();
    let conf = format!(
        "http {{\n server {{\n listen {LISTEN};\n client_header_timeout 1s;\n location = /r {{ return 200 \"hi\"; }}\n location /dead/ {{ proxy_pass http://{dead}; }}\n location / {{ proxy_pass http://{}; }}\n }}\n}}\n",
        b.addr
    );
    let env = [("RINGWAY_LOG", "info,ringway::request=debug")];
    let rw = Ringway::start_with_env(&conf, 1, &env);

    // Proxied, then two pipelined on one connection (one answered by ringway).
    let (_c, r) = exchange(rw.addr, b"GET /p HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    let mut c = rw.connect();
    c.send(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\nGET /q HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_response().status, 200);
    assert_eq!(c.read_response().status, 200);
    drop(c);
    // Refused before routing, failed upstream.
    expect_rejected(
        &rw,
        b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        &[400],
        "bad target",
    );
    let (_c, r) = exchange(rw.addr, b"GET /dead/ HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 502);
    // Half a head, then silence: 408 after client_header_timeout.
    let mut c = rw.connect();
    c.send(b"GET /slow HTTP/1.1\r\n");
    let r = c
        .try_read_response(false, Duration::from_secs(5))
        .expect("408");
    assert_eq!(r.status, 408);
    // Connections that send nothing make no request.
    for _ in 0..3 {
        drop(rw.connect());
    }
    assert!(
        rw.wait_log_all(&["request done", "status=408"], 1, IO_TIMEOUT),
        "{}",
        rw.log_plain()
    );
    std::thread::sleep(Duration::from_millis(300));
    let recs = records(&rw);
    let statuses: Vec<&str> = recs.iter().map(|l| field(l, "status")).collect();
    assert_eq!(
        statuses,
        ["200", "200", "200", "400", "502", "408"],
        "one record per request, in order:\n{}",
        recs.join("\n")
    );
    let proxied = &recs[0];
    assert!(
        field(proxied, "upstream").contains(&b.addr.to_string()),
        "{proxied}"
    );
    assert_eq!(field(proxied, "upstream_status"), "200");
    assert!(
        field(proxied, "sent").parse::<u64>().unwrap() > 0,
        "{proxied}"
    );
    assert_eq!(
        field(proxied, "received"),
        "28",
        "the request's head: {proxied}"
    );
    assert_eq!(field(&recs[1], "received"), "28", "{}", recs[1]);
    assert_eq!(field(&recs[4], "failed"), "Some(Upstream)", "{}", recs[4]);
    assert_eq!(field(&recs[3], "failed"), "Some(Client)", "{}", recs[3]);
}
