//! Fault injection. A scripted backend misbehaves on cue — nothing listening, accept and close,
//! reset or stall in the middle of the head, garbage instead of a head, a Content-Length longer
//! than the body, a close in the middle of a chunk, a head that never ends — and clients vanish
//! in the middle of an upload or a download. Each test checks what the client gets, that
//! ringway's descriptors return to their baseline (`/proc/PID/fd`), that its pool keeps no broken
//! upstream connection and does not grow, and that the next request on a fresh connection is
//! served once the backend behaves again.

mod common;
#[path = "faults/script.rs"]
mod script;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use script::*;

/// Upstream timeouts for the tests: short, but far above a loopback round trip.
const LOC: &str = "proxy_connect_timeout 1s;\n            proxy_read_timeout 3s;";

/// Faulty exchanges per test: the first meets the pooled connection, the later ones new ones.
const ROUNDS: usize = 3;

/// What the client must get from a faulty exchange.
#[derive(Clone, Copy, Debug)]
enum Want {
    Status(u16),
    /// A 200 whose Content-Length body ends short, then the connection closes.
    ShortLength,
    /// A 200 whose chunked body has no last chunk, then the connection closes.
    NoLastChunk,
}

#[track_caller]
fn check_answer(c: &mut Client, want: Want, round: usize) {
    let r = c
        .try_read_response(false, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("round {round}: no response head: {e}"));
    match want {
        Want::Status(code) => {
            assert_eq!(r.status, code, "round {round}: {}", r.describe());
            assert_closed_or_reusable(c, &r, code);
        }
        Want::ShortLength | Want::NoLastChunk => {
            assert_eq!(r.status, 200, "round {round}: {}", r.describe());
            // The client can tell: the framing promised more than arrived before the close.
            assert!(
                matches!(r.end, End::Eof | End::Broken),
                "round {round}: a truncated body must end with a close: {}",
                r.describe()
            );
            match want {
                Want::ShortLength => {
                    assert_eq!(r.framing, Framing::Length(1000), "{}", r.head);
                    assert_eq!(r.body.len(), 100, "round {round}");
                }
                _ => {
                    assert_eq!(r.framing, Framing::Chunked, "{}", r.head);
                    assert!(
                        !contains(&r.raw_body, b"0\r\n\r\n"),
                        "{}",
                        show(&r.raw_body)
                    );
                }
            }
        }
    }
}

/// ROUNDS requests while the backend misbehaves as `mode`, then recovery.
#[track_caller]
fn fault(mode: Mode, want: Want, loc: &str) -> Arc<Script> {
    let (s, b, rw, base) = setup(loc);
    s.set(mode);
    for round in 0..ROUNDS {
        let mut c = rw.connect();
        c.send(format!("GET /fault{round} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        check_answer(&mut c, want, round);
    }
    // No upstream connection that carried a fault may stay open, in the pool or anywhere else.
    settle(&rw, &base, &b, 0);
    let evs = s.events();
    let faults = evs.iter().filter(|e| matches!(e, Ev::Fault { .. })).count();
    assert!(
        faults >= ROUNDS,
        "the backend misbehaved {faults} times: {evs:?}"
    );
    recover(&rw, &s, &b, &base);
    s
}

/// For a backend that keeps its misbehaving connections open: ringway closed every one.
#[track_caller]
fn assert_proxy_closed_each(s: &Script) {
    s.wait(
        "ringway close each connection the backend misbehaved on",
        |evs| {
            evs.iter().all(|e| match e {
                Ev::Fault { conn } => evs.contains(&Ev::Gone {
                    conn: *conn,
                    closed: true,
                }),
                _ => true,
            })
        },
    );
}

#[test]
fn refused_connection() {
    let (s, mut b, rw, base) = setup(LOC);
    // The idle pooled connection is shut down with the listener: it must not be used either.
    b.kill();
    for round in 0..ROUNDS {
        let mut c = rw.connect();
        c.send(b"GET /refused HTTP/1.1\r\nHost: x\r\n\r\n");
        check_answer(&mut c, Want::Status(502), round);
    }
    settle(&rw, &base, &b, 0);
    b.restart();
    recover(&rw, &s, &b, &base);
}

#[test]
fn accept_and_close() {
    fault(Mode::AcceptClose, Want::Status(502), LOC);
}

#[test]
fn reset_mid_head() {
    fault(Mode::ResetMidHead, Want::Status(502), LOC);
}

#[test]
fn stall_mid_head_until_read_timeout() {
    let loc = "proxy_connect_timeout 1s;\n            proxy_read_timeout 300ms;";
    let s = fault(Mode::StallMidHead, Want::Status(504), loc);
    assert_proxy_closed_each(&s);
}

#[test]
fn garbage_instead_of_a_head() {
    let s = fault(Mode::Garbage, Want::Status(502), LOC);
    assert_proxy_closed_each(&s);
}

#[test]
fn content_length_longer_than_the_body() {
    fault(Mode::ShortBody, Want::ShortLength, LOC);
}

#[test]
fn close_mid_chunk() {
    fault(Mode::CloseMidChunk, Want::NoLastChunk, LOC);
}

#[test]
fn never_ending_head() {
    let s = fault(Mode::EndlessHead, Want::Status(502), LOC);
    assert_proxy_closed_each(&s);
}

// ---------------------------------------------------------------------------------------------
// Clients that vanish
// ---------------------------------------------------------------------------------------------

/// A client sends `head` and only `part` of its body, then closes. Ringway must close the
/// upstream connection (the backend sees a cut-short body, then the close), not pool it.
#[track_caller]
fn upload_vanishes(head: &str, part: &[u8]) {
    let (s, b, rw, base) = setup(LOC);
    let mut c = rw.connect();
    c.send(head.as_bytes());
    c.send(part);
    s.wait("the upload's head", |evs| conn_of(evs, "/up").is_some());
    drop(c);
    let evs = s.wait("the upload cut short by a close", |evs| {
        evs.iter().any(|e| {
            matches!(e, Ev::Req { target, body: Fill::Eof | Fill::Reset, .. } if target == "/up")
        })
    });
    let up_conn = conn_of(&evs, "/up").unwrap();
    settle(&rw, &base, &b, 1);
    let next = recover(&rw, &s, &b, &base);
    assert_ne!(
        next, up_conn,
        "the cut-short upload's connection was reused"
    );
}

#[test]
fn client_vanishes_mid_content_length_upload() {
    let head = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n";
    upload_vanishes(head, &pattern(1000));
}

#[test]
fn client_vanishes_mid_spliced_upload() {
    // Far more than the 32 KiB splice threshold is left when the client goes.
    let head = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n";
    upload_vanishes(head, &pattern(200_000));
}

#[test]
fn client_vanishes_mid_chunked_upload() {
    let head = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut part = b"3e8\r\n".to_vec();
    part.extend_from_slice(&pattern(1000));
    part.extend_from_slice(b"\r\n3e8\r\n");
    part.extend_from_slice(&pattern(300));
    upload_vanishes(head, &part);
}

/// Reads from the raw socket until the response head and at least `n` body bytes are in.
fn read_partial(c: &mut Client, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    c.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n")
            && got.len() - (i + 4) >= n
        {
            return got;
        }
        let k = c.stream.read(&mut buf).expect("client read");
        assert!(k > 0, "closed after {} bytes: {}", got.len(), show(&got));
        got.extend_from_slice(&buf[..k]);
    }
}

/// The client goes away mid-response with a reset (SO_LINGER 0), as a killed process would.
fn vanish(c: Client) {
    socket2::SockRef::from(&c.stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c);
}

/// A client reads the head and `read` bytes of a `total`-byte download and vanishes; the
/// backend then sends the rest. Returns the backend connection of the download and of the
/// requests after it.
#[track_caller]
fn download_vanishes(total: usize, first: usize, read: usize) -> (Arc<Script>, usize, usize) {
    let (s, b, rw, base) = setup(LOC);
    let mut c = rw.connect();
    let path = format!("/dl/{total}/{first}");
    c.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    let got = read_partial(&mut c, read);
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}", show(&got));
    vanish(c);
    s.go.store(true, Ordering::SeqCst);
    let dl = conn_of(&s.events(), &path).unwrap();
    if first < total {
        // Ringway could not deliver the rest: that upstream connection is closed, not pooled
        // with the rest of a response in it.
        s.wait("ringway close the download's connection", |evs| {
            evs.contains(&Ev::Gone {
                conn: dl,
                closed: true,
            })
        });
    }
    settle(&rw, &base, &b, 1);
    let next = recover(&rw, &s, &b, &base);
    (s, dl, next)
}

#[test]
fn client_vanishes_mid_copied_download() {
    // 19,000 bytes remain after the first 1,000: below the 32 KiB splice threshold, copied.
    let (_, dl, next) = download_vanishes(20_000, 1000, 1000);
    assert_ne!(next, dl, "the interrupted download's connection was reused");
}

#[test]
fn client_vanishes_mid_spliced_download() {
    let (_, dl, next) = download_vanishes(1 << 20, 100_000, 50_000);
    assert_ne!(next, dl, "the interrupted download's connection was reused");
}

#[test]
fn client_vanishing_after_a_whole_response_keeps_the_upstream_pooled() {
    // Ringway had relayed all of it before the client went: the upstream connection is clean
    // and must be reused, and the next answer must be the next request's.
    let (s, dl, next) = download_vanishes(2000, 2000, 10);
    assert_eq!(
        next,
        dl,
        "a clean upstream connection was not pooled: {:?}",
        s.events()
    );
}

#[test]
fn stray_bytes_in_an_idle_pooled_connection_reach_no_later_request() {
    // A backend that writes past the end of its answer (an unsolicited response here) leaves
    // a pooled connection out of step: reused, the stray bytes would be read as the answer
    // to the next request, and every later answer on it would go to the wrong request.
    let (s, b, rw, base) = setup(LOC);
    s.set(Mode::Stray);
    let r = rw.get("/first");
    assert_eq!((r.status, r.body_str()), (200, "0:/first:0".to_string()));
    s.wait("the stray bytes written", |evs| {
        evs.contains(&Ev::Fault { conn: 0 })
    });
    s.set(Mode::Good);
    // At once (well within a keep-alive round trip), as a busy proxy would reuse it.
    for i in 0..3 {
        let r = rw.get(&format!("/next{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        let body = r.body_str();
        assert!(
            body.ends_with(&format!(":/next{i}:0")),
            "request {i} got another request's answer: {body:?}"
        );
    }
    settle(&rw, &base, &b, 1);
}
