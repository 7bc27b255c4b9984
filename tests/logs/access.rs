//! Access log lines: the combined format's exact shape, many variables with a real upstream,
//! escaping, `access_log off` and inheritance, `if=`, `buffer=`/`flush=`, and requests refused
//! before routing (400, 414).

use std::time::{Duration, Instant};

use crate::common::*;
use crate::{curl, lines, log_dir, wait_lines};

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn combined_line_has_nginx_shape() {
    let dir = log_dir("combined");
    let log = dir.join("access.log");
    let conf = format!(
        "http {{\n access_log {};\n server {{\n listen {LISTEN};\n location / {{ return 200 \"hello\\n\"; }}\n }}\n}}\n",
        log.display()
    );
    let rw = Ringway::start(&conf);
    let url = format!("http://{}/path?q=1", rw.addr);
    assert_eq!(
        curl(
            &url,
            &[
                "-A",
                "test-agent/1.0",
                "-e",
                "http://ref.example/",
                "-u",
                "alice:pw"
            ]
        ),
        200
    );
    let got = wait_lines(&log, 1, WAIT);
    assert_eq!(got.len(), 1, "{got:?}");
    let line = &got[0];
    // 127.0.0.1 - alice [06/Dec/2026:10:20:11 +0000] "GET /path?q=1 HTTP/1.1" 200 6 "http://ref.example/" "test-agent/1.0"
    let (head, rest) = line.split_once(" [").expect("a [time]");
    assert_eq!(head, "127.0.0.1 - alice");
    let (time, rest) = rest.split_once("] ").expect("time ends");
    assert_eq!(time.len(), 26, "{time}");
    let b = time.as_bytes();
    assert_eq!(
        (b[2], b[6], b[11], b[20]),
        (b'/', b'/', b':', b' '),
        "{time}"
    );
    assert!(b[21] == b'+' || b[21] == b'-', "{time}");
    assert_eq!(
        rest,
        "\"GET /path?q=1 HTTP/1.1\" 200 6 \"http://ref.example/\" \"test-agent/1.0\""
    );
}

#[test]
fn custom_format_with_upstream_and_sent_fields() {
    let b = Backend::start(|c| {
        while let Some(req) = c.read_request() {
            c.record(&req);
            c.respond_with(
                201,
                &[("X-Test", "yes"), ("Content-Type", "text/x")],
                b"abcd",
            );
        }
    });
    let dir = log_dir("custom");
    let log = dir.join("full.log");
    let fmt = "$remote_addr|$request|$status|$body_bytes_sent|$bytes_sent|$request_length|\
               $request_time|$connection|$connection_requests|$pipe|$upstream_addr|\
               $upstream_status|$upstream_connect_time|$upstream_header_time|\
               $upstream_response_time|$upstream_bytes_received|$upstream_cache_status|\
               $sent_http_x_test|$sent_http_content_type|$http_x_in|$host|$uri|$args|\
               $request_method|$scheme|$server_name|$msec|$time_iso8601";
    let conf = format!(
        "http {{\n log_format full '{fmt}';\n access_log {} full;\n server {{\n listen {LISTEN};\n server_name logs.test;\n location / {{ proxy_pass http://{}; }}\n }}\n}}\n",
        log.display(),
        b.addr
    );
    let rw = Ringway::start(&conf);
    // Two requests on one connection, the second pipelined behind the first.
    let mut c = rw.connect();
    c.send(
        b"GET /a/b?x=1 HTTP/1.1\r\nHost: Logs.Test\r\nX-In: v1\r\n\r\n\
          GET /c HTTP/1.1\r\nHost: logs.test\r\n\r\n",
    );
    assert_eq!(c.read_response().status, 201);
    assert_eq!(c.read_response().status, 201);
    let got = wait_lines(&log, 2, WAIT);
    assert_eq!(got.len(), 2, "{got:?}");
    let f: Vec<&str> = got[0].split('|').collect();
    assert_eq!(f.len(), 28, "{}", got[0]);
    assert_eq!(f[0], "127.0.0.1");
    assert_eq!(f[1], "GET /a/b?x=1 HTTP/1.1");
    assert_eq!(f[2], "201");
    assert_eq!(f[3], "4");
    let bytes_sent: u64 = f[4].parse().unwrap();
    assert!(bytes_sent > 4 + 40, "head and body: {bytes_sent}");
    assert_eq!(f[5], "52", "request length: the whole head");
    let rt: f64 = f[6].parse().expect("request_time numeric");
    assert!((0.0..5.0).contains(&rt), "{rt}");
    assert_eq!(f[6].split('.').nth(1).map(str::len), Some(3), "{}", f[6]);
    assert_eq!(f[8], "1");
    assert_eq!(f[9], ".");
    assert_eq!(f[10], b.addr.to_string());
    assert_eq!(f[11], "201");
    for t in &f[12..15] {
        let v: f64 = t.parse().unwrap_or_else(|_| panic!("upstream time {t}"));
        assert!(v < 5.0);
    }
    let up_bytes: u64 = f[15].parse().unwrap();
    assert!(up_bytes > 4, "{up_bytes}");
    assert_eq!(f[16], "-", "no cache");
    assert_eq!((f[17], f[18]), ("yes", "text/x"));
    assert_eq!(f[19], "v1");
    assert_eq!((f[20], f[21], f[22]), ("logs.test", "/a/b", "x=1"));
    assert_eq!((f[23], f[24], f[25]), ("GET", "http", "logs.test"));
    let (s, ms) = f[26].split_once('.').expect("msec");
    assert!(s.len() >= 10 && ms.len() == 3, "{}", f[26]);
    assert_eq!(f[27].len(), 25, "{}", f[27]);
    let second: Vec<&str> = got[1].split('|').collect();
    assert_eq!(second[7], f[7], "one connection, one $connection");
    assert_eq!((second[8], second[9]), ("2", "p"));
    assert_eq!(second[19], "-", "absent field");
    assert_eq!(second[22], "-", "no arguments");
}

#[test]
fn escape_modes() {
    let dir = log_dir("escape");
    let (d, j, n) = (dir.join("d.log"), dir.join("j.log"), dir.join("n.log"));
    let conf = format!(
        "http {{\n log_format d '$http_x_v|$http_x_none';\n log_format j escape=json '{{\"v\":\"$http_x_v\",\"n\":\"$http_x_none\"}}';\n log_format n escape=none '$http_x_v';\n access_log {} d;\n access_log {} j;\n access_log {} n;\n server {{\n listen {LISTEN};\n location / {{ return 204; }}\n }}\n}}\n",
        d.display(),
        j.display(),
        n.display()
    );
    let rw = Ringway::start(&conf);
    let (_c, r) = exchange(
        rw.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-V: a\"b\\c\xc3\xa9\t!\r\n\r\n",
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        wait_lines(&d, 1, WAIT),
        vec!["a\\x22b\\x5Cc\\xC3\\xA9\\x09!|-"]
    );
    let jl = std::fs::read(&j).unwrap();
    assert_eq!(jl, "{\"v\":\"a\\\"b\\\\cé\\t!\",\"n\":\"\"}\n".as_bytes());
    assert_eq!(std::fs::read(&n).unwrap(), b"a\"b\\c\xc3\xa9\t!\n");
}

#[test]
fn off_inheritance_and_if() {
    let dir = log_dir("inherit");
    let (http, srv, loc) = (
        dir.join("http.log"),
        dir.join("srv.log"),
        dir.join("loc.log"),
    );
    let conf = format!(
        "http {{\n log_format u '$uri';\n access_log {http} u;\n server {{\n listen {LISTEN};\n access_log {srv} u;\n location /off {{ access_log off; return 204; }}\n location /loc {{ access_log {loc} u if=$arg_log; return 204; }}\n location / {{ return 204; }}\n }}\n server {{\n listen @LISTEN2@;\n location / {{ return 204; }}\n }}\n}}\n",
        http = http.display(),
        srv = srv.display(),
        loc = loc.display()
    );
    let rw = Ringway::start(&conf);
    let a = format!("http://{}", rw.addr);
    for p in ["/off", "/loc?log=1", "/loc?log=0", "/loc", "/plain"] {
        assert_eq!(curl(&format!("{a}{p}"), &[]), 204, "{p}");
    }
    assert_eq!(curl(&format!("http://{}/other", rw.addrs[1]), &[]), 204);
    // The last request of each file has been written once the others are: poll, then compare.
    assert_eq!(wait_lines(&srv, 1, WAIT), vec!["/plain"]);
    assert_eq!(wait_lines(&http, 1, WAIT), vec!["/other"]);
    assert_eq!(wait_lines(&loc, 1, WAIT), vec!["/loc"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(lines(&srv), vec!["/plain"], "server level replaces http");
    assert_eq!(lines(&loc), vec!["/loc"], "if= skips empty and 0");
}

#[test]
fn buffered_lines_wait_for_flush() {
    let dir = log_dir("buffer");
    let log = dir.join("b.log");
    let conf = format!(
        "http {{\n access_log {} combined buffer=64k flush=1s;\n server {{\n listen {LISTEN};\n location / {{ return 204; }}\n }}\n}}\n",
        log.display()
    );
    let rw = Ringway::start(&conf);
    let start = Instant::now();
    assert_eq!(curl(&format!("http://{}/one", rw.addr), &[]), 204);
    std::thread::sleep(Duration::from_millis(300));
    if start.elapsed() < Duration::from_millis(900) {
        assert!(lines(&log).is_empty(), "written before flush= time");
    }
    let got = wait_lines(&log, 1, Duration::from_secs(3));
    assert_eq!(got.len(), 1, "flush=1s writes the line");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    assert!(got[0].contains("\"GET /one HTTP/1.1\" 204"), "{got:?}");
}

#[test]
fn refused_requests_are_logged() {
    let dir = log_dir("refused");
    let log = dir.join("r.log");
    let conf = format!(
        "http {{\n log_format s '$status \"$request\" $server_name';\n large_client_header_buffers 4 1k;\n server {{\n listen {LISTEN};\n server_name dflt;\n access_log {} s;\n location / {{ return 204; }}\n }}\n}}\n",
        log.display()
    );
    let rw = Ringway::start(&conf);
    let (_c, r) = exchange(rw.addr, b"GET / HTTP/1.1\r\nBad Field\r\n\r\n");
    assert_eq!(r.status, 400);
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(2000));
    let (_c, r) = exchange(rw.addr, long.as_bytes());
    assert_eq!(r.status, 414);
    let big = format!(
        "GET /big HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..8)
            .map(|i| format!("X-{i}: {}\r\n", "b".repeat(600)))
            .collect::<String>()
    );
    // A head over all the buffers: 400, as nginx answers it (no 431).
    let (_c, r) = exchange(rw.addr, big.as_bytes());
    assert_eq!(r.status, 400);
    let got = wait_lines(&log, 3, WAIT);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], "400 \"GET / HTTP/1.1\" dflt");
    assert!(got[1].starts_with("414 \"GET /aaaa"), "{}", got[1]);
    assert!(
        got[2].starts_with("400 \"GET /big HTTP/1.1\""),
        "{}",
        got[2]
    );
}

#[test]
fn tls_variables_are_logged() {
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    let dir = log_dir("tls");
    let log = dir.join("tls.log");
    let conf = format!(
        "http {{\n log_format t '$scheme $https $ssl_protocol $ssl_cipher $ssl_server_name $ssl_session_reused $ssl_client_verify';\n access_log {} t;\n server {{\n listen {LISTEN} ssl;\n server_name localhost;\n {}\n location / {{ return 204; }}\n }}\n}}\n",
        log.display(),
        leaf.directives()
    );
    let rw = Ringway::start(&conf);
    let resolve = format!("localhost:{}:127.0.0.1", rw.port);
    let ca = Pki::get().ca.display().to_string();
    let url = format!("https://localhost:{}/", rw.port);
    assert_eq!(curl(&url, &["--resolve", &resolve, "--cacert", &ca]), 204);
    assert_eq!(
        wait_lines(&log, 1, WAIT),
        vec!["https on TLSv1.3 TLS_AES_256_GCM_SHA384 localhost . NONE"]
    );
}

#[test]
fn client_gone_before_the_answer_logs_499() {
    let b = echo_backend();
    let dir = log_dir("gone");
    let log = dir.join("g.log");
    let conf = format!(
        "http {{\n log_format s '$status $request';\n access_log {} s;\n server {{\n listen {LISTEN};\n location / {{ proxy_pass http://{}; }}\n }}\n}}\n",
        log.display(),
        b.addr
    );
    let rw = Ringway::start(&conf);
    // The body stops short and the client closes: no answer is ever sent.
    let mut c = rw.connect();
    c.send(b"POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten..");
    drop(c);
    assert_eq!(wait_lines(&log, 1, WAIT), vec!["499 POST /gone HTTP/1.1"]);
}

#[test]
fn a_full_buffer_is_written_before_its_flush_time() {
    let dir = log_dir("bufsize");
    let log = dir.join("s.log");
    let conf = format!(
        "http {{\n log_format u '$uri';\n access_log {} u buffer=4k flush=1h;\n server {{\n listen {LISTEN};\n location / {{ return 204; }}\n }}\n}}\n",
        log.display()
    );
    let rw = Ringway::start(&conf);
    let mut c = rw.connect();
    // 40 lines of 201 bytes: 8 KB, twice the buffer.
    for i in 0..40 {
        let path = format!("/{i:03}{}", "x".repeat(196));
        c.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        assert_eq!(c.read_response().status, 204);
    }
    let got = wait_lines(&log, 20, WAIT);
    assert!(got.len() >= 20, "{} lines written", got.len());
    assert!(
        got.len() < 40,
        "the last lines wait for the buffer or the hour"
    );
    for (i, l) in got.iter().enumerate() {
        assert!(
            l.starts_with(&format!("/{i:03}x")),
            "whole lines, in order: {l}"
        );
        assert_eq!(l.len(), 200);
    }
}

#[test]
fn connection_keeps_its_serial_across_an_idle_park() {
    let dir = log_dir("serial");
    let log = dir.join("c.log");
    let conf = format!(
        "http {{\n log_format c '$connection $connection_requests';\n access_log {} c;\n server {{\n listen {LISTEN};\n location / {{ return 204; }}\n }}\n}}\n",
        log.display()
    );
    let rw = Ringway::start(&conf);
    let mut c = rw.connect();
    c.send(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_response().status, 204);
    // Idle past PARK_AFTER (1 s): the connection gives up its task and is resumed later.
    std::thread::sleep(Duration::from_millis(1500));
    c.send(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(c.read_response().status, 204);
    let got = wait_lines(&log, 2, WAIT);
    let (a, b): (Vec<&str>, Vec<&str>) = (got[0].split(' ').collect(), got[1].split(' ').collect());
    assert_eq!(a[0], b[0], "one connection, one $connection: {got:?}");
    assert_eq!((a[1], b[1]), ("1", "2"));
}

#[test]
fn interim_answers_are_not_body_bytes() {
    // The upstream answers the Expect with a 100, then reads the body and answers.
    let b = Backend::start(|c| {
        while let Some(mut req) = c.read_head() {
            c.write(b"HTTP/1.1 100 Continue\r\n\r\n");
            c.read_body(&mut req);
            c.respond(200, b"abcd");
        }
    });
    let dir = log_dir("interim");
    let log = dir.join("i.log");
    let conf = format!(
        "http {{\n log_format s '$status $body_bytes_sent $request_length';\n access_log {} s;\n server {{\n listen {LISTEN};\n location / {{ proxy_pass http://{}; }}\n }}\n}}\n",
        log.display(),
        b.addr
    );
    let rw = Ringway::start(&conf);
    let mut c = rw.connect();
    c.send(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let interim = c.read_response();
    assert_eq!(interim.status, 100, "{}", interim.describe());
    c.send(b"hello");
    assert_eq!(c.read_response().status, 200);
    let got = wait_lines(&log, 1, WAIT);
    assert_eq!(
        got,
        vec!["200 4 76"],
        "the 100 is no body byte; the request is head and body"
    );
}

#[test]
fn a_head_that_times_out_is_logged_408() {
    let dir = log_dir("timeout");
    let log = dir.join("t.log");
    let conf = format!(
        "http {{\n log_format s '$status \"$request\" $request_length';\n client_header_timeout 1s;\n server {{\n listen {LISTEN};\n access_log {} s;\n location / {{ return 204; }}\n }}\n}}\n",
        log.display()
    );
    let rw = Ringway::start(&conf);
    let mut c = rw.connect();
    c.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 408, "{}", r.describe());
    assert_eq!(
        wait_lines(&log, 1, WAIT),
        vec!["408 \"GET /slow HTTP/1.1\" 29"]
    );
}
