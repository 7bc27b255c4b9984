//! Request smuggling: framing conflicts, malformed heads and bodies, and pipelined desync
//! payloads, each judged by the exact bytes the backend read (re-parsed by the strict reader in
//! `common::wire`): never more requests than the client sent, never a body another server could
//! frame differently, and 400 plus a close for what is refused. `framing.rs` holds the basic
//! rejections (CL+TE, differing CL, non-digit CL, TE not ending in chunked, obs-fold, bare CR,
//! NUL, whitespace before colon); the cases here are the ones aimed at desync.

mod common;

use std::time::Duration;

use common::wire::{raw_of, received, split_requests, targets};
use common::*;

struct Setup {
    backend: Backend,
    rw: Ringway,
}

fn setup() -> Setup {
    let backend = echo_backend();
    let rw = Ringway::start(&proxy_conf(backend.addr, ""));
    Setup { backend, rw }
}

/// Sends `req` on a fresh connection and asserts 400 then a close; nothing reaches the backend.
#[track_caller]
fn expect_400(s: &Setup, req: &[u8], what: &str) {
    let r = expect_rejected(&s.rw, req, &[400], what);
    assert!(
        r.says_close(),
        "{what}: 400 without Connection: close: {}",
        r.head
    );
}

/// A request followed, in the same packet, by a second one the first must not swallow or split.
fn post(fields: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!("POST /first HTTP/1.1\r\nHost: x\r\n{fields}\r\n").into_bytes();
    req.extend_from_slice(body);
    req
}

const HIDDEN: &[u8] = b"GET /hidden HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn framing_conflicts_and_malformed_heads_are_refused() {
    let s = setup();
    let chunked_hidden = [&b"0\r\n\r\n"[..], HIDDEN].concat();
    let cases: &[(&str, Vec<u8>)] = &[
        (
            "TE chunked, identity",
            post("Transfer-Encoding: chunked, identity\r\n", &chunked_hidden),
        ),
        (
            "TE chunked then TE identity",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
                &chunked_hidden,
            ),
        ),
        (
            "TE chunked twice",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                &chunked_hidden,
            ),
        ),
        (
            "TE chunked, chunked",
            post("Transfer-Encoding: chunked, chunked\r\n", &chunked_hidden),
        ),
        (
            "TE quoted",
            post("Transfer-Encoding: \"chunked\"\r\n", &chunked_hidden),
        ),
        (
            "TE with parameter",
            post("Transfer-Encoding: chunked;q=1\r\n", &chunked_hidden),
        ),
        // CL.TE with an obfuscated TE that some server would still honour.
        (
            "TE xchunked + CL",
            post(
                "Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n",
                &chunked_hidden,
            ),
        ),
        (
            "TE space before colon + CL",
            post(
                "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n",
                &chunked_hidden,
            ),
        ),
        (
            "TE after obs-fold + CL",
            post(
                "X-A: b\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                &chunked_hidden,
            ),
        ),
        (
            "TE folded into chunked",
            post(
                "Transfer-Encoding: identity\r\n chunked\r\n",
                &chunked_hidden,
            ),
        ),
        (
            "TE with VT",
            post("Transfer-Encoding:\x0bchunked\r\n", &chunked_hidden),
        ),
        (
            "TE with NUL",
            post("Transfer-Encoding: chunked\0\r\n", &chunked_hidden),
        ),
        (
            "TE behind bare CR",
            post(
                "X-A: b\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                &chunked_hidden,
            ),
        ),
        // Content-Length forms that parsers disagree on. (Leading zeros, `05`, are valid
        // `1*DIGIT`: accepted and re-stated as `5`, see nginx_parity.rs.)
        (
            "CL with inner space",
            post("Content-Length: 1 0\r\n", b"hello world"),
        ),
        (
            "CL space before colon",
            post("Content-Length : 5\r\n", b"hello"),
        ),
        (
            "CL case-variant duplicates",
            post("Content-Length: 5\r\ncontent-LENGTH: 34\r\n", HIDDEN),
        ),
        (
            "CL then CL list",
            post("Content-Length: 34\r\nContent-Length: 34, 5\r\n", HIDDEN),
        ),
        ("CL with NUL", post("Content-Length: 5\0\r\n", b"hello")),
        (
            "CL plus sign, smuggled tail",
            post("Content-Length: +34\r\n", HIDDEN),
        ),
        // Line endings: bare LF anywhere in the head, bare CR.
        ("bare LF head", b"GET / HTTP/1.1\nHost: x\n\n".to_vec()),
        ("bare LF after CL", post("Content-Length: 5\n", b"hello")),
        (
            "bare LF final line",
            b"GET / HTTP/1.1\r\nHost: x\r\n\n".to_vec(),
        ),
        (
            "bare LF request line",
            b"GET / HTTP/1.1\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "bare CR request line",
            b"GET / HTTP/1.1\rHost: x\r\n\r\n".to_vec(),
        ),
        (
            "NUL in request line",
            b"GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "space in field name",
            post("Content Length: 5\r\n", b"hello"),
        ),
    ];
    for (what, req) in cases {
        expect_400(&s, req, what);
    }
    s.backend
        .assert_untouched("framing conflicts and malformed heads");
}

#[test]
fn malformed_chunked_bodies_are_refused_and_never_completed() {
    let s = setup();
    let long_ext = format!("5;{}=x\r\nhello\r\n0\r\n\r\n", "e".repeat(9000));
    let bodies: &[(&str, &[u8])] = &[
        (
            "size wrapping 2^64 to 5",
            b"10000000000000005\r\nhello\r\n0\r\n\r\n",
        ),
        ("space after size", b"5 \r\nhello\r\n0\r\n\r\n"),
        ("plus sign", b"+5\r\nhello\r\n0\r\n\r\n"),
        ("CR CR LF", b"5\r\r\nhello\r\n0\r\n\r\n"),
        ("data ended by bare LF", b"5\r\nhello\n0\r\n\r\n"),
        ("data longer than size", b"3\r\nhello\r\n0\r\n\r\n"),
        ("empty extension name", b"5;\r\nhello\r\n0\r\n\r\n"),
        ("extension with bare LF", b"5;a\nb\r\nhello\r\n0\r\n\r\n"),
        (
            "CR inside quoted extension",
            b"5;a=\"x\rb\"\r\nhello\r\n0\r\n\r\n",
        ),
        ("NUL in extension", b"5;a=\0\r\nhello\r\n0\r\n\r\n"),
        ("extension over the 8 KiB cap", long_ext.as_bytes()),
        ("bare LF in trailer", b"5\r\nhello\r\n0\r\nX-T: y\n\r\n"),
        (
            "space in trailer name",
            b"5\r\nhello\r\n0\r\nX T: y\r\n\r\n",
        ),
        (
            "trailer obs-fold",
            b"5\r\nhello\r\n0\r\nX-T: y\r\n z\r\n\r\n",
        ),
        (
            "last chunk without final CRLF",
            b"5\r\nhello\r\n0\r\nGET /hidden HTTP/1.1\r\n\r\n",
        ),
    ];
    for (what, body) in bodies {
        let mut req = post("Transfer-Encoding: chunked\r\n", body);
        req.extend_from_slice(HIDDEN);
        expect_400(&s, &req, what);
    }
    // Whatever reached the backend before the error, no request there ever completed.
    std::thread::sleep(Duration::from_millis(100));
    for i in 0..s.backend.accepted() {
        let raw = s.backend.raw(i);
        assert!(
            matches!(split_requests(&raw), Err(e) if e.starts_with("incomplete")),
            "backend connection {i} got a complete request from a malformed body: {}",
            show(&raw)
        );
    }
}

#[test]
fn a_body_error_after_streaming_began_never_poisons_the_upstream_connection() {
    let s = setup();
    let mut c = s.rw.connect();
    c.send(&post("Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n"));
    assert!(
        s.backend.wait_for(IO_TIMEOUT, |b| raw_of(b, 0)
            .is_some_and(|r| contains(&r, b"hello"))),
        "the first chunk should be streamed to the backend"
    );
    c.send(b"zz\r\nGET /hidden HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.try_read_response(false, IO_TIMEOUT).expect("a response");
    assert_eq!(r.status, 400, "{}", r.describe());
    assert!(c.is_closed());
    // A later request must not land on the half-sent connection.
    let r = s.rw.get("/after");
    assert_eq!(r.status, 200, "{}", r.describe());
    let first = s.backend.raw(0);
    assert!(
        matches!(split_requests(&first), Err(e) if e.starts_with("incomplete")),
        "the aborted upstream request: {}",
        show(&first)
    );
    assert!(
        s.backend.accepted() >= 2,
        "/after reused the aborted connection"
    );
    let rest: Vec<String> = (1..s.backend.accepted())
        .flat_map(|i| split_requests(&s.backend.raw(i)).unwrap())
        .map(|r| r.target)
        .collect();
    assert_eq!(rest, ["/after"]);
}

#[test]
fn cl_te_and_te_cl_desync_payloads_are_refused() {
    let s = setup();
    // CL.TE: a CL-reading front end forwards 13 bytes, a TE-reading back end sees `0` and then
    // `SMUGGLED` as the start of the next request.
    expect_400(
        &s,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED",
        "CL.TE",
    );
    // TE.CL: the body is one 0x5c-byte chunk holding a whole request; a CL reader stops after 4.
    let inner =
        b"GPOST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n\r\nx=1";
    let mut te_cl = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        inner.len()
    )
    .into_bytes();
    te_cl.extend_from_slice(inner);
    te_cl.extend_from_slice(b"\r\n0\r\n\r\n");
    expect_400(&s, &te_cl, "TE.CL");
    // TE.TE: two TE fields, one a back end might ignore.
    expect_400(
        &s,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nTransfer-encoding: cow\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
        "TE.TE",
    );
    s.backend.assert_untouched("desync payloads");
    // The proxy still serves, one request for one request.
    assert_eq!(s.rw.get("/ok").status, 200);
    assert_eq!(targets(&s.backend), ["/ok"]);
}

#[test]
fn requests_hidden_in_bodies_stay_bodies() {
    let s = setup();
    let mut c = s.rw.connect();
    // A Content-Length body that is a whole request, then a real one.
    let mut req = post(&format!("Content-Length: {}\r\n", HIDDEN.len()), HIDDEN);
    req.extend_from_slice(b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n");
    c.send(&req);
    assert_eq!(c.read_response().status, 200);
    assert_eq!(c.read_response().status, 200);
    // A chunked body whose data holds a fake last chunk and a request.
    let data = [&b"0\r\n\r\n"[..], HIDDEN].concat();
    let mut body = format!("{:x}\r\n", data.len()).into_bytes();
    body.extend_from_slice(&data);
    body.extend_from_slice(b"\r\n0\r\n\r\n");
    c.send(&post("Transfer-Encoding: chunked\r\n", &body));
    assert_eq!(c.read_response().status, 200);
    // GET with a body (RFC 9110 §9.3.1 gives it no meaning, but its framing still holds).
    let mut get = format!(
        "GET /get-with-body HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        HIDDEN.len()
    )
    .into_bytes();
    get.extend_from_slice(HIDDEN);
    c.send(&get);
    assert_eq!(c.read_response().status, 200);
    let mut get =
        b"GET /get-chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    get.extend_from_slice(&body);
    get.extend_from_slice(b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n");
    c.send(&get);
    assert_eq!(c.read_response().status, 200);
    assert_eq!(c.read_response().status, 200);

    let got = received(&s.backend);
    let t: Vec<&str> = got.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        t,
        [
            "/first",
            "/second",
            "/first",
            "/get-with-body",
            "/get-chunked",
            "/last"
        ]
    );
    assert_eq!(got[0].body, HIDDEN);
    assert_eq!(got[2].body, data);
    assert_eq!(got[3].body, HIDDEN);
    assert_eq!(got[4].body, data);
    assert!(got[1].body.is_empty() && got[5].body.is_empty());
}

#[test]
fn http10_keep_alive_tricks() {
    let s = setup();
    // HTTP/1.0 without keep-alive: the bytes after the request are never served.
    let mut c = s.rw.connect();
    let mut req = b"POST /one HTTP/1.0\r\nHost: x\r\n\r\n".to_vec();
    req.extend_from_slice(HIDDEN);
    c.send(&req);
    let r = c.read_response();
    assert_eq!(r.status, 200);
    let (rest, closed) = c.read_to_close(Duration::from_secs(2));
    assert!(
        closed && rest.is_empty(),
        "after an HTTP/1.0 exchange: {}",
        show(&rest)
    );
    // `keep-alive, close` means close.
    let mut c = s.rw.connect();
    let mut req = b"GET /two HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n".to_vec();
    req.extend_from_slice(HIDDEN);
    c.send(&req);
    assert_eq!(c.read_response().status, 200);
    assert!(c.is_closed());
    // Keep-alive with a body that is a request: one request, then the real next one.
    let mut c = s.rw.connect();
    let mut req = format!(
        "POST /three HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: {}\r\n\r\n",
        HIDDEN.len()
    )
    .into_bytes();
    req.extend_from_slice(HIDDEN);
    req.extend_from_slice(b"GET /four HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    c.send(&req);
    let r = c.read_response();
    assert!(r.says_keep_alive(), "{}", r.head);
    assert_eq!(c.read_response().status, 200);

    let got = received(&s.backend);
    let t: Vec<&str> = got.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(t, ["/one", "/two", "/three", "/four"]);
    assert!(got[0].body.is_empty() && got[1].body.is_empty());
    assert_eq!(got[2].body, HIDDEN);
    for r in &got {
        // Upstream requests are HTTP/1.1 and must carry a Host.
        assert_eq!(r.version, "HTTP/1.1");
        assert!(r.field("host").is_some(), "{r:?}");
    }
}

#[test]
fn refused_expect_continue_body_is_never_read_as_a_request() {
    let backend = Backend::start(|c| {
        while let Some(req) = c.read_head() {
            c.record(&req);
            let refuse = req.header("expect").is_some();
            if refuse {
                // Answer without asking for the body.
                c.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
                continue;
            }
            let mut req = req;
            if !c.read_body(&mut req) || !c.respond(200, b"ok") {
                return;
            }
        }
    });
    let rw = Ringway::start(&proxy_conf(backend.addr, ""));
    let mut c = rw.connect();
    c.send(&post(
        &format!(
            "Expect: 100-continue\r\nContent-Length: {}\r\n",
            HIDDEN.len()
        ),
        b"",
    ));
    let r = c.read_response();
    assert_eq!(r.status, 401, "{}", r.describe());
    // A client that sends the body anyway: those bytes are a body, never a request.
    let _ = c.try_send(HIDDEN);
    match c.try_read_response(false, Duration::from_secs(1)) {
        Err(_) => {}
        Ok(r) => panic!(
            "the unsent body was answered as a request: {}",
            r.describe()
        ),
    }
    assert!(r.says_close(), "{}", r.head);
    let raw: Vec<u8> = (0..backend.accepted())
        .flat_map(|i| backend.raw(i))
        .collect();
    assert!(!contains(&raw, b"/hidden"), "{}", show(&raw));
    let heads = backend.requests();
    assert_eq!(heads.len(), 1, "{heads:?}");
}

#[test]
fn encoded_line_breaks_in_the_target_stay_encoded() {
    let backend = echo_backend();
    let rw = Ringway::start(&format!(
        "http {{ server {{ listen {LISTEN};\n location / {{ proxy_pass http://{b}; }}\n location /p/ {{ proxy_pass http://{b}/q/; }} }} }}",
        b = backend.addr
    ));
    for path in [
        "/a%0d%0aInjected:%20yes",
        "/p/a%0D%0AInjected:%20yes%0D%0A%0D%0AGET%20/hidden%20HTTP/1.1",
    ] {
        let r = rw.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.describe());
    }
    let got = received(&backend);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[1].target.starts_with("/q/a%0D%0AInjected"), "{got:?}");
    for req in got {
        assert!(req.field("injected").is_none(), "{req:?}");
        assert!(!req.target.contains(['\r', '\n', ' ']), "{req:?}");
        assert_ne!(req.target, "/hidden");
    }
}

#[test]
fn absolute_form_authority_is_the_forwarded_host() {
    // RFC 9112 §3.2.2: a proxy ignores the Host field of an absolute-form request and uses the
    // target's authority; routing and the backend must not disagree about the host.
    let s = setup();
    let (_c, r) = exchange(
        s.rw.addr,
        b"GET http://other.test/p HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{}", r.describe());
    let (_c, r) = exchange(s.rw.addr, b"GET http://other.test/q HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200, "{}", r.describe());
    let got = received(&s.backend);
    assert_eq!(got.len(), 2);
    for req in &got {
        assert_eq!(req.field("host"), Some("other.test"), "{req:?}");
    }
}

#[test]
fn chunked_body_to_an_http10_upstream_is_not_sent_chunked() {
    // HTTP/1.0 has no chunked coding (RFC 9112 §6.1): an HTTP/1.0 request with
    // Transfer-Encoding is exactly what ringway itself refuses as a smuggling vector.
    let backend = echo_backend();
    let rw = Ringway::start(&proxy_conf(backend.addr, "proxy_http_version 1.0;"));
    let mut c = rw.connect();
    c.send(&post(
        "Transfer-Encoding: chunked\r\n",
        b"5\r\nhello\r\n0\r\n\r\n",
    ));
    // Ringway streams bodies, so it cannot learn the length first: 411, as nginx before 1.3.9.
    assert_status_and_close(&mut c, 411, "chunked body, proxy_http_version 1.0");
    backend.assert_untouched("chunked body, proxy_http_version 1.0");
    // A Content-Length body still goes through.
    let (_c, r) = exchange(rw.addr, &post("Content-Length: 5\r\n", b"hello"));
    assert_eq!(r.status, 200, "{}", r.describe());
    let got = received(&backend);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].version.as_str(), &got[0].body[..]),
        ("HTTP/1.0", &b"hello"[..])
    );
}

#[test]
fn the_strict_reader_refuses_what_two_servers_could_frame_differently() {
    // The checks above are only as good as this reader: it must see through every payload.
    let ok = split_requests(
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nT: 1\r\n\r\n",
    )
    .unwrap();
    assert_eq!(ok.len(), 2);
    assert_eq!(
        (&ok[0].body[..], &ok[1].body[..]),
        (&b"abc"[..], &b"hi"[..])
    );
    for bad in [
        &b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\na",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;ext\r\na\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /partial HTTP/1.1\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nshort",
    ] {
        assert!(split_requests(bad).is_err(), "{}", show(bad));
    }
}
