//! DNS-based discovery: `server NAME:PORT resolve;` follows what the `resolver` answers. A tiny
//! DNS server on 127.0.0.1 answers for test names from a table the test changes; the backends
//! differ by address (127.0.0.2, 127.0.0.3) on one port. Nothing leaves 127.0.0.0/8.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{LISTEN, Ringway};
use simple_dns::rdata::{A, RData};
use simple_dns::{CLASS, Packet, RCODE, ResourceRecord, TYPE};

/// A DNS server on 127.0.0.1: A queries for a name in `table` get its addresses (TTL 1 s);
/// other names get NXDOMAIN, other types an empty answer. `silent` drops every query.
struct Dns {
    addr: SocketAddr,
    table: Arc<Mutex<HashMap<String, Vec<Ipv4Addr>>>>,
    silent: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Dns {
    fn start() -> Dns {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let dns = Dns {
            addr: sock.local_addr().unwrap(),
            table: Arc::default(),
            silent: Arc::default(),
            stop: Arc::default(),
        };
        let (table, silent, stop) = (dns.table.clone(), dns.silent.clone(), dns.stop.clone());
        thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stop.load(Ordering::SeqCst) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if silent.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(q) = Packet::parse(&buf[..n]) else {
                    continue;
                };
                let mut p = Packet::new_reply(q.id());
                p.questions = q.questions.clone();
                if let Some(question) = q.questions.first() {
                    let name = question.qname.to_string().to_ascii_lowercase();
                    match table.lock().unwrap().get(&name) {
                        None => *p.rcode_mut() = RCODE::NameError,
                        Some(addrs) if question.qtype == TYPE::A.into() => {
                            for a in addrs {
                                p.answers.push(ResourceRecord::new(
                                    question.qname.clone(),
                                    CLASS::IN,
                                    1,
                                    RData::A(A {
                                        address: u32::from(*a),
                                    }),
                                ));
                            }
                        }
                        Some(_) => {}
                    }
                }
                let _ = sock.send_to(&p.build_bytes_vec().unwrap(), from);
            }
        });
        dns
    }

    fn set(&self, name: &str, addrs: &[[u8; 4]]) {
        self.table.lock().unwrap().insert(
            name.into(),
            addrs.iter().map(|a| Ipv4Addr::from(*a)).collect(),
        );
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// An HTTP backend on `ip:port` answering every request with `X-Backend: TAG` (keep-alive).
struct Backend {
    requests: Arc<AtomicUsize>,
}

fn backend(listener: TcpListener, tag: &'static str) -> Backend {
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let count = count.clone();
            thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        count.fetch_add(1, Ordering::SeqCst);
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\nX-Backend: {tag}\r\nContent-Length: {}\r\n\r\n{tag}",
                            tag.len()
                        );
                        if s.write_all(resp.as_bytes()).is_err() {
                            return;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    Backend { requests }
}

/// Backends on 127.0.0.2:P and 127.0.0.3:P (one port free on both addresses).
fn two_backends() -> (u16, Backend, Backend) {
    for _ in 0..50 {
        let l2 = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
        let port = l2.local_addr().unwrap().port();
        if let Ok(l3) = TcpListener::bind(("127.0.0.3", port)) {
            return (port, backend(l2, "b2"), backend(l3, "b3"));
        }
    }
    panic!("no port free on both 127.0.0.2 and 127.0.0.3");
}

fn conf(dns: SocketAddr, servers: &str) -> String {
    format!(
        "http {{\n    resolver {dns} valid=1s ipv6=off;\n    resolver_timeout 500ms;\n    upstream pool {{\n        {servers}\n    }}\n    server {{\n        listen {LISTEN};\n        location / {{\n            proxy_pass http://pool;\n        }}\n    }}\n}}\n"
    )
}

/// The `X-Backend` of one request (`"502"` etc. for an error status).
fn hit(r: &Ringway) -> String {
    let resp = r.get("/");
    match resp.status {
        200 => resp.header("x-backend").unwrap_or("?").to_string(),
        s => s.to_string(),
    }
}

fn hits(r: &Ringway, n: usize) -> Vec<String> {
    (0..n).map(|_| hit(r)).collect()
}

/// Sends requests until `f` holds for the last `window` answers, for at most `timeout`.
fn settles(r: &Ringway, window: usize, timeout: Duration, f: impl Fn(&[String]) -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f(&hits(r, window)) {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn upstream_follows_dns_answers() {
    let dns = Dns::start();
    let (port, b2, b3) = two_backends();
    dns.set("app.test", &[[127, 0, 0, 2]]);
    let r = Ringway::start(&conf(dns.addr, &format!("server app.test:{port} resolve;")));
    let log = |s: &str| format!("{s}\nstderr:\n{}", r.stderr());

    // Resolved before the first request.
    assert_eq!(hits(&r, 6), vec!["b2"; 6], "{}", log("initial answer"));

    // A new address joins.
    dns.set("app.test", &[[127, 0, 0, 2], [127, 0, 0, 3]]);
    assert!(
        r.wait_log(
            &format!("resolves to 127.0.0.2:{port} 127.0.0.3:{port}"),
            1,
            Duration::from_secs(5)
        ),
        "{}",
        log("second answer not logged")
    );
    assert!(
        settles(&r, 8, Duration::from_secs(3), |h| {
            h.iter().any(|x| x == "b2") && h.iter().any(|x| x == "b3")
        }),
        "{}",
        log("both backends should take requests")
    );

    // The old one vanishes: no new requests reach it.
    dns.set("app.test", &[[127, 0, 0, 3]]);
    assert!(
        r.wait_log(
            &format!("resolves to 127.0.0.3:{port}"),
            1,
            Duration::from_secs(5)
        ),
        "{}",
        log("third answer not logged")
    );
    assert!(
        settles(&r, 4, Duration::from_secs(3), |h| h
            .iter()
            .all(|x| x == "b3")),
        "{}",
        log("only 127.0.0.3 should take requests")
    );
    let before = b2.requests.load(Ordering::SeqCst);
    assert_eq!(hits(&r, 10), vec!["b3"; 10]);
    assert_eq!(b2.requests.load(Ordering::SeqCst), before);

    // DNS stops answering: the last known addresses stay.
    dns.silent.store(true, Ordering::SeqCst);
    assert!(
        r.wait_log(
            "cannot resolve upstream server app.test",
            1,
            Duration::from_secs(5)
        ),
        "{}",
        log("failure not logged")
    );
    assert_eq!(hits(&r, 4), vec!["b3"; 4], "{}", log("kept addresses"));

    // The name is gone (NXDOMAIN): no servers, 502.
    dns.table.lock().unwrap().clear();
    dns.silent.store(false, Ordering::SeqCst);
    assert!(
        r.wait_log("has no addresses now", 1, Duration::from_secs(5)),
        "{}",
        log("NXDOMAIN not logged")
    );
    assert!(
        settles(&r, 3, Duration::from_secs(3), |h| h
            .iter()
            .all(|x| x == "502")),
        "{}",
        log("an upstream without servers answers 502")
    );

    // Back again.
    dns.set("app.test", &[[127, 0, 0, 2]]);
    assert!(
        settles(&r, 3, Duration::from_secs(5), |h| h
            .iter()
            .all(|x| x == "b2")),
        "{}",
        log("the name came back")
    );
    assert!(b3.requests.load(Ordering::SeqCst) > 0);
}

#[test]
fn reload_resolves_new_names_before_switching() {
    let dns = Dns::start();
    let (port, _b2, _b3) = two_backends();
    dns.set("one.test", &[[127, 0, 0, 2]]);
    dns.set("two.test", &[[127, 0, 0, 3]]);
    let r = Ringway::start(&conf(dns.addr, &format!("server one.test:{port} resolve;")));
    assert_eq!(hits(&r, 3), vec!["b2"; 3]);
    // The new name has its addresses from the first request after the reload on.
    r.reload_with(
        &conf(dns.addr, &format!("server two.test:{port} resolve;")),
        &[],
    );
    assert_eq!(hits(&r, 5), vec!["b3"; 5], "stderr:\n{}", r.stderr());
}

#[test]
fn resolve_without_resolver_is_refused() {
    let dir = common::temp_dir("discovery");
    let path = common::write_config(
        &dir,
        "http {\n    upstream pool {\n        server app.test:80 resolve;\n    }\n}\n",
    );
    let (status, _out, err) =
        common::run_ringway(&["-t".as_ref(), "-c".as_ref(), path.as_os_str()]);
    assert!(!status.success());
    assert!(
        err.contains(":3:") && err.contains("no resolver defined to resolve app.test"),
        "{err}"
    );
}
