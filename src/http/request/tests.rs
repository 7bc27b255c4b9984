use super::*;

const LIMITS: Limits = Limits {
    max_request_line: 8192,
    max_field_line: 8192,
    max_head: 32768,
    max_headers: 1000,
};

fn parse(s: &[u8]) -> Result<Option<RequestHead>, ParseError> {
    parse_request(s, &LIMITS)
}

#[track_caller]
fn ok(s: &[u8]) -> RequestHead {
    match parse(s) {
        Ok(Some(h)) => h,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(s)),
    }
}

#[track_caller]
fn err(s: &[u8]) -> ParseError {
    match parse(s) {
        Err(e) => e,
        other => panic!("{:?} accepted: {other:?}", String::from_utf8_lossy(s)),
    }
}

#[track_caller]
fn bad(s: &[u8]) {
    match err(s) {
        ParseError::BadRequest(_) => {}
        e => panic!("{:?}: expected 400, got {e:?}", String::from_utf8_lossy(s)),
    }
}

/// A request with the given extra field lines (each ending in CRLF).
fn with_fields(fields: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: example.com\r\n{fields}\r\n").into_bytes()
}

#[track_caller]
fn bad_fields(fields: &str) {
    bad(&with_fields(fields));
}

fn field<'a>(h: &RequestHead, buf: &'a [u8], i: usize) -> (&'a [u8], &'a [u8]) {
    (h.headers[i].name.get(buf), h.headers[i].value.get(buf))
}

#[test]
fn simple_get() {
    let buf = b"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nX-Empty:\r\n\r\n";
    let h = ok(buf);
    assert_eq!(h.method, Method::Get);
    assert_eq!(h.method_span.get(buf), b"GET");
    assert_eq!(h.target.get(buf), b"/index.html?q=1");
    assert_eq!(h.version, Version::Http11);
    assert_eq!(h.head_len, buf.len());
    assert_eq!(h.body, BodyFraming::None);
    assert_eq!(h.host.unwrap().get(buf), b"example.com:8080");
    assert!(h.keep_alive);
    assert!(!h.expect_continue);
    assert!(!h.upgrade);
    assert_eq!(h.headers.len(), 3);
    assert_eq!(field(&h, buf, 0), (&b"Host"[..], &b"example.com:8080"[..]));
    assert_eq!(field(&h, buf, 1), (&b"Accept"[..], &b"*/*"[..]));
    assert_eq!(field(&h, buf, 2), (&b"X-Empty"[..], &b""[..]));
}

#[test]
fn value_whitespace_is_trimmed() {
    let buf = b"GET / HTTP/1.1\r\nHost:\t example.com \t\r\nX-A:   a  b  \r\n\r\n";
    let h = ok(buf);
    assert_eq!(h.host.unwrap().get(buf), b"example.com");
    assert_eq!(field(&h, buf, 1).1, b"a  b");
}

#[test]
fn methods() {
    for (m, kind) in [
        ("GET", Method::Get),
        ("HEAD", Method::Head),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("DELETE", Method::Delete),
        ("OPTIONS", Method::Options),
        ("PATCH", Method::Patch),
        ("TRACE", Method::Trace),
        ("PROPFIND", Method::Other),
        ("get", Method::Other),
        ("Get", Method::Other),
    ] {
        let buf = format!("{m} / HTTP/1.1\r\nHost: a\r\n\r\n");
        let h = ok(buf.as_bytes());
        assert_eq!(h.method, kind, "{m}");
        assert_eq!(h.method_span.get(buf.as_bytes()), m.as_bytes());
    }
    assert!(Method::Get.is_idempotent());
    assert!(!Method::Post.is_idempotent());
}

#[test]
fn http10() {
    let buf = b"GET / HTTP/1.0\r\n\r\n";
    let h = ok(buf);
    assert_eq!(h.version, Version::Http10);
    assert_eq!(h.host, None);
    assert!(!h.keep_alive);
}

#[test]
fn incremental_byte_by_byte() {
    let req = b"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello";
    let head_len = req.len() - 5;
    for end in 0..head_len {
        assert!(
            matches!(parse(&req[..end]), Ok(None)),
            "prefix {end}: {:?}",
            parse(&req[..end])
        );
    }
    for end in head_len..=req.len() {
        let h = ok(&req[..end]);
        assert_eq!(h.head_len, head_len);
        assert_eq!(h.body, BodyFraming::Length(5));
    }
}

#[test]
fn incremental_never_errors_on_valid_prefixes() {
    let reqs: [&[u8]; 4] = [
        b"\r\nGET http://a.example/x HTTP/1.1\r\nHost: a\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
    ];
    for req in reqs {
        for end in 0..req.len() {
            assert!(matches!(parse(&req[..end]), Ok(None)), "{end} of {req:?}");
        }
        assert_eq!(ok(req).head_len, req.len());
    }
}

#[test]
fn pipelined() {
    let buf = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\nGET /c";
    let first = ok(buf);
    assert_eq!(first.target.get(buf), b"/a");
    let rest = &buf[first.head_len..];
    let second = ok(rest);
    assert_eq!(second.target.get(rest), b"/b");
    assert_eq!(second.host.unwrap().get(rest), b"b");
    assert!(matches!(parse(&rest[second.head_len..]), Ok(None)));
}

#[test]
fn leading_empty_lines() {
    let buf = b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let h = ok(buf);
    assert_eq!(h.head_len, buf.len());
    assert_eq!(h.method_span.get(buf), b"GET");
    assert_eq!(h.target.get(buf), b"/");
    assert!(matches!(parse(b"\r\n"), Ok(None)));
    bad(b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[test]
fn line_endings() {
    bad(b"GET / HTTP/1.1\nHost: a\r\n\r\n"); // bare LF after request line
    bad(b"GET / HTTP/1.1\r\nHost: a\nX-Test: value\r\n\r\n"); // bare LF in fields
    bad(b"GET / HTTP/1.1\r\nHost: a\n\r\n");
    bad(b"GET / HTTP/1.1\r\nHost: a\r\n\n");
    bad(b"GET / HTTP/1.1\n\n");
    bad(b"GET / HTTP/1.1\rHost: a\r\n\r\n"); // bare CR
    bad(b"GET / HTTP/1.1\r\nHost: a\r\nX: val\rue\r\n\r\n");
    bad(b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n");
}

#[test]
fn field_syntax() {
    bad_fields("X-Test: value\r\n continued\r\n"); // obs-fold
    bad_fields("X-Test: value\r\n\tcontinued\r\n");
    bad_fields("Transfer-Encoding:\r\n chunked\r\n");
    bad_fields("X-Test : value\r\n"); // whitespace before colon
    bad_fields("X-Test\t: value\r\n");
    bad_fields("Transfer-Encoding : chunked\r\nContent-Length: 5\r\n");
    bad_fields("Content-Length : 5\r\n");
    bad_fields(": empty-name\r\n");
    bad_fields("NoColonHere\r\n");
    bad_fields("Bad[Name: value\r\n");
    bad_fields("Content\tLength: 99\r\n");
    bad_fields("X-T\u{eb}st: value\r\n"); // non-ASCII name
    bad(b"GET / HTTP/1.1\r\n \r\nHost: a\r\n\r\n"); // whitespace before first field
    bad(b"GET / HTTP/1.1\r\n Host: a\r\n\r\n");
}

#[test]
fn field_value_ctls() {
    for ctl in [0u8, 1, 7, 8, 0x0b, 0x0c, 0x0e, 0x1f, 0x7f] {
        let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Test: abc".to_vec();
        buf.push(ctl);
        buf.extend_from_slice(b"def\r\n\r\n");
        bad(&buf);
    }
    let mut buf = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked".to_vec();
    buf.push(0);
    buf.extend_from_slice(b"\r\nContent-Length: 5\r\n\r\nhello");
    bad(&buf);
    // HTAB and obs-text are fine.
    let buf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Test: a\tb \xff\xfe\r\n\r\n";
    assert_eq!(field(&ok(buf), buf, 1).1, b"a\tb \xff\xfe");
}

#[test]
fn host_rules() {
    bad(b"GET / HTTP/1.1\r\n\r\n"); // missing
    bad(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    bad(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n");
    bad(b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n");
    for v in [
        "",
        "user@example.com",
        "example.com/path",
        "example.com, other.example.com",
        "a,b",
        "exa mple.com",
        "example.com:abc",
        "example.com:8a",
        "example.com:-1",
        "example.com:+80",
        "example.com: 80",
        ":80",
        "[::1",
        "[]",
        "[::1]x",
        "[::g]",
        "example.com:80:80",
        "%zz.example",
        "a\"b",
    ] {
        let buf = format!("GET / HTTP/1.1\r\nHost: {v}\r\n\r\n");
        bad(buf.as_bytes());
    }
    for v in [
        "example.com",
        "EXAMPLE.com:8080",
        "localhost:65535",
        "127.0.0.1",
        "[::1]",
        "[::1]:8080",
        "[v1.fe80::a+en1]",
        "xn--bcher-kva.example",
        "under_score.example",
        "example.com:",
        "%41.example",
        // port = *DIGIT: any length and value (routing ignores the port).
        "example.com:99999",
        "example.com:123456",
        "example.com:0000080",
        "[::1]:99999",
        "name:99999999999999999999999",
    ] {
        let buf = format!("GET / HTTP/1.1\r\nHost: {v}\r\n\r\n");
        let h = ok(buf.as_bytes());
        assert_eq!(h.host.unwrap().get(buf.as_bytes()), v.as_bytes());
    }
}

#[test]
fn target_forms() {
    let buf = b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(ok(buf).target.get(buf), b"*");
    bad(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"POST * HTTP/1.1\r\nHost: a\r\n\r\n");

    let buf = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    let h = ok(buf);
    assert_eq!(h.method, Method::Connect);
    assert_eq!(h.target.get(buf), b"example.com:443");
    bad(b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"CONNECT http://example.com/ HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n"); // authority-form elsewhere

    bad(b"GET index.html HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET ?x HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[test]
fn absolute_form() {
    let buf = b"GET http://other.example:8080/p?q HTTP/1.1\r\nHost: a.example\r\n\r\n";
    let h = ok(buf);
    assert_eq!(h.target.get(buf), b"http://other.example:8080/p?q");
    assert_eq!(h.host.unwrap().get(buf), b"other.example:8080");
    for t in [
        "http://a.example",
        "HTTPS://a.example/",
        "http://a.example?x=1",
        "http://[::1]:80/x",
        "http://a.example:99999/",
    ] {
        let buf = format!("GET {t} HTTP/1.1\r\nHost: a\r\n\r\n");
        ok(buf.as_bytes());
    }
    let buf = b"OPTIONS http://a.example HTTP/1.0\r\n\r\n";
    assert_eq!(ok(buf).host.unwrap().get(buf), b"a.example");
    for t in [
        "http://user@a.example/",
        "http://user:pw@a.example/",
        "http:///path",
        "http://",
        "http:/a.example/",
        "ftp://a.example/",
        "h ttp://a.example/",
        "http://a.example/#frag",
        "http://a.example:8o/",
        "http://a b/",
    ] {
        let buf = format!("GET {t} HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(parse(buf.as_bytes()).is_err(), "{t}");
    }
    // The Host field must still be present (HTTP/1.1) and valid, even though it is ignored.
    bad(b"GET http://a.example/ HTTP/1.1\r\n\r\n");
    bad(b"GET http://a.example/ HTTP/1.1\r\nHost: a b\r\n\r\n");
}

#[test]
fn path_and_query() {
    let cases: [(&[u8], &[u8]); 7] = [
        (b"GET /a/b?c HTTP/1.1\r\nHost: h\r\n\r\n", b"/a/b?c"),
        (
            b"GET http://x.example/a?b HTTP/1.1\r\nHost: h\r\n\r\n",
            b"/a?b",
        ),
        (b"GET http://x.example HTTP/1.1\r\nHost: h\r\n\r\n", b""),
        (b"GET http://x.example?q HTTP/1.1\r\nHost: h\r\n\r\n", b"?q"),
        (
            b"GET https://x.example:8443/ HTTP/1.1\r\nHost: h\r\n\r\n",
            b"/",
        ),
        (b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", b"*"),
        (
            b"CONNECT x.example:443 HTTP/1.1\r\nHost: x.example:443\r\n\r\n",
            b"x.example:443",
        ),
    ];
    for (buf, want) in cases {
        assert_eq!(ok(buf).path_and_query(buf), want);
    }
}

#[test]
fn target_bytes() {
    bad(b"GET /path#frag HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET /a% HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET /\x00test HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET /\xc0\xaf HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET /pa th HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n");
    ok(b"GET /a%2Fb%0d%0A?x=%20&y=[1]|{}^`\\\"<> HTTP/1.1\r\nHost: a\r\n\r\n");
    ok(b"GET /!$&'()*+,;=:@-._~ HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[test]
fn request_line_syntax() {
    bad(b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET /\tHTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET HTTP/1.1\r\nHost: a\r\n\r\n"); // missing target
    bad(b" GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n");
    bad(b"GET /\r\n\r\n"); // HTTP/0.9
    bad(b"GET /\r\n");
    bad(b"   \r\n\r\n");
    bad(b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET / http/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET / HTTP/1\r\nHost: a\r\n\r\n");
    bad(b"GET / HTTP/01.01\r\nHost: a\r\n\r\n");
    bad(b"GET / HTTP/ 1.1\r\nHost: a\r\n\r\n");
    bad(b"GET / HTTP/1.1.1\r\nHost: a\r\n\r\n");
    bad(b"GET / HTTP/1.10\r\nHost: a\r\n\r\n");
    bad(b"GET / HTTP/11\r\nHost: a\r\n\r\n");
    bad(b"GET / HTTPS/1.1\r\nHost: a\r\n\r\n");
    bad(b"GET / XYZ\r\n");
    bad(b"GET / HTTP/1.x\r\nHost: a\r\n\r\n");
    bad(b"GET / HTTP/1.2\nHost: a\r\n\r\n");
}

#[test]
fn versions() {
    for v in ["HTTP/2.0", "HTTP/3.0", "HTTP/9.9", "HTTP/0.9"] {
        let buf = format!("GET / {v}\r\nHost: a\r\n\r\n");
        assert_eq!(err(buf.as_bytes()), ParseError::VersionNotSupported, "{v}");
    }
    assert_eq!(
        err(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        ParseError::VersionNotSupported
    );
    // HTTP/1.x with x > 1 is processed as HTTP/1.1.
    let buf = b"\r\nPOST /x HTTP/1.2\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
    let h = ok(buf);
    assert_eq!(h.version, Version::Http11);
    assert_eq!(h.head_len, buf.len() - 3);
    assert_eq!(h.target.get(buf), b"/x");
    assert_eq!(h.host.unwrap().get(buf), b"a");
    assert_eq!(h.body, BodyFraming::Length(3));
    assert!(h.keep_alive);
    bad(b"GET / HTTP/1.9\r\n\r\n"); // still needs Host
    // Incomplete versions wait, invalid ones fail early.
    assert!(matches!(parse(b"GET / HTTP/1.2"), Ok(None)));
    assert!(matches!(parse(b"GET / HTTP/1.2\r"), Ok(None)));
    assert!(matches!(parse(b"GET / HTTP/1.2\r\nHost: a\r\n"), Ok(None)));
    assert!(matches!(parse(b"GET / HTTP/2"), Ok(None)));
    bad(b"GET / HTTP/1.2x");
    bad(b"GET / HTTQ");
}

#[test]
fn content_length_rules() {
    let h = ok(&with_fields("Content-Length: 5\r\n"));
    assert_eq!(h.body, BodyFraming::Length(5));
    let h = ok(&with_fields("Content-Length: 0\r\n"));
    assert_eq!(h.body, BodyFraming::Length(0));
    let h = ok(&with_fields("Content-Length: 5, 5\r\n"));
    assert_eq!(h.body, BodyFraming::Length(5));
    let h = ok(&with_fields("Content-Length: 5\r\ncontent-length: 5\r\n"));
    assert_eq!(h.body, BodyFraming::Length(5));
    let h = ok(&with_fields("Content-Length:\t5 \r\n"));
    assert_eq!(h.body, BodyFraming::Length(5));
    let h = ok(&with_fields("Content-Length: 18446744073709551615\r\n"));
    assert_eq!(h.body, BodyFraming::Length(u64::MAX));
    // Leading zeros are valid `1*DIGIT` (as nginx reads them).
    for (v, n) in [
        ("00005", 5),
        ("00", 0),
        ("0200", 200),
        ("0000000000000000000000005", 5),
        ("005, 5", 5),
    ] {
        let h = ok(&with_fields(&format!("Content-Length: {v}\r\n")));
        assert_eq!(h.body, BodyFraming::Length(n), "{v}");
    }
    let h = ok(&with_fields(
        "Content-Length: 00005\r\nContent-Length: 5\r\n",
    ));
    assert_eq!(h.body, BodyFraming::Length(5));
    for v in [
        "abc",
        "+5",
        "-1",
        "-0",
        "0x5",
        "0o5",
        "1_0",
        "1 0",
        "5a",
        "",
        "005, 6",
        "0 0",
        "5, 10",
        "5,",
        "99999999999999999999",
        "18446744073709551616",
    ] {
        bad_fields(&format!("Content-Length: {v}\r\n"));
    }
    bad_fields("Content-Length: 5\r\nContent-Length: 10\r\n");
    bad_fields("Content-Length: 5\r\nContent-Length: 5, 6\r\n");
}

#[test]
fn transfer_encoding_rules() {
    let h = ok(&with_fields("Transfer-Encoding: chunked\r\n"));
    assert_eq!(h.body, BodyFraming::Chunked);
    for v in [
        "Chunked",
        "CHUNKED",
        ", chunked",
        "chunked,",
        "\tchunked",
        " , chunked , ",
    ] {
        let h = ok(&with_fields(&format!("Transfer-Encoding: {v}\r\n")));
        assert_eq!(h.body, BodyFraming::Chunked, "{v}");
    }
    let h = ok(&with_fields(
        "Transfer-Encoding: \r\nTransfer-Encoding: chunked\r\n",
    ));
    assert_eq!(h.body, BodyFraming::Chunked);
    for v in [
        "chunked, gzip",
        "gzip",
        "identity",
        "xchunked",
        "chunked, chunked",
        "chunked;ext=val",
        "",
        "\"chunked\"",
        "chunked, identity",
    ] {
        bad_fields(&format!("Transfer-Encoding: {v}\r\n"));
    }
    bad_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n");
    bad_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n");
    assert_eq!(
        err(&with_fields("Transfer-Encoding: gzip, chunked\r\n")),
        ParseError::NotImplemented("transfer coding other than chunked")
    );
    assert!(matches!(
        err(&with_fields(
            "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
        )),
        ParseError::NotImplemented(_)
    ));
}

#[test]
fn te_and_cl_conflicts() {
    bad_fields("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n");
    bad_fields("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n");
    bad_fields("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n");
    bad_fields("Transfer-Encoding: Chunked\r\nContent-Length: 5\r\n");
    bad_fields("Transfer-Encoding: , chunked\r\nContent-Length: 5\r\n");
    bad_fields("Transfer-Encoding: chunked \r\nContent-Length: 5\r\n");
    bad_fields("Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n");
    // HTTP/1.0 with TE is faulty framing, CL or not.
    bad(b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    bad(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello");
    // Look-alike names are ordinary fields.
    let h = ok(&with_fields(
        "Transfer_Encoding: chunked\r\nContent_Length: 9\r\n",
    ));
    assert_eq!(h.body, BodyFraming::None);
}

#[test]
fn keep_alive_rules() {
    let cases: [(&str, &str, bool); 12] = [
        ("1.1", "", true),
        ("1.1", "Connection: close\r\n", false),
        ("1.1", "Connection: Close\r\n", false),
        ("1.1", "Connection: keep-alive, close\r\n", false),
        (
            "1.1",
            "Connection: keep-alive\r\nConnection: x, CLOSE\r\n",
            false,
        ),
        ("1.1", "Connection: closed\r\n", true),
        ("1.0", "", false),
        ("1.0", "Connection: keep-alive\r\n", true),
        ("1.0", "Connection: Keep-Alive\r\n", true),
        ("1.0", "Connection: foo, keep-alive\r\n", true),
        ("1.0", "Connection: keep-alive, close\r\n", false),
        (
            "1.0",
            "Connection: keep-alive\r\nConnection: close\r\n",
            false,
        ),
    ];
    for (v, fields, want) in cases {
        let buf = format!("GET / HTTP/{v}\r\nHost: a\r\n{fields}\r\n");
        assert_eq!(ok(buf.as_bytes()).keep_alive, want, "{v} {fields:?}");
    }
}

#[test]
fn expect_continue() {
    assert!(ok(&with_fields("Expect: 100-continue\r\n")).expect_continue);
    assert!(ok(&with_fields("Expect: 100-Continue\r\n")).expect_continue);
    assert!(!ok(&with_fields("Expect: 200-ok\r\n")).expect_continue);
    assert!(!ok(&with_fields("")).expect_continue);
    let buf = b"POST / HTTP/1.0\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    assert!(!ok(buf).expect_continue);
}

#[test]
fn upgrade_detection() {
    let up = |v: &str, fields: &str| {
        let buf = format!("GET /ws HTTP/{v}\r\nHost: a\r\n{fields}\r\n");
        ok(buf.as_bytes()).upgrade
    };
    assert!(up("1.1", "Connection: Upgrade\r\nUpgrade: websocket\r\n"));
    assert!(up(
        "1.1",
        "Connection: keep-alive, upgrade\r\nUpgrade: h2c\r\n"
    ));
    assert!(up(
        "1.1",
        "Upgrade: websocket\r\nConnection: x\r\nConnection: UPGRADE\r\n"
    ));
    assert!(!up("1.1", "Upgrade: websocket\r\n"));
    assert!(!up("1.1", "Connection: upgrade\r\n"));
    assert!(!up("1.0", "Connection: Upgrade\r\nUpgrade: websocket\r\n"));
}

#[test]
fn limits_request_line() {
    let limits = Limits {
        max_request_line: 64,
        max_field_line: 64,
        max_head: 1024,
        max_headers: 100,
    };
    // "GET " + target + " HTTP/1.1" + CRLF exactly at the limit is fine (nginx: the line must
    // fit one buffer, CRLF included).
    let target = format!("/{}", "a".repeat(64 - 4 - 9 - 2 - 1));
    let buf = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(parse_request(buf.as_bytes(), &limits).unwrap().is_some());
    // Found by fuzzing: the same line read up to its CR (the LF not there yet) is
    // incomplete, not 414; so is it behind leading empty lines.
    assert!(
        parse_request(&buf.as_bytes()[..63], &limits)
            .unwrap()
            .is_none()
    );
    let lead = format!("\r\n\r\n{buf}");
    assert!(
        parse_request(&lead.as_bytes()[..67], &limits)
            .unwrap()
            .is_none()
    );
    assert!(parse_request(lead.as_bytes(), &limits).unwrap().is_some());
    // One byte more.
    let target = format!("/{}", "a".repeat(64 - 4 - 9 - 2));
    let buf = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        parse_request(buf.as_bytes(), &limits).unwrap_err(),
        ParseError::UriTooLong
    );
    // Complete request line but incomplete head.
    let buf = format!("GET {target} HTTP/1.1\r\nHost: a\r\n");
    assert_eq!(
        parse_request(buf.as_bytes(), &limits).unwrap_err(),
        ParseError::UriTooLong
    );
    // Up to its CR: the LF cannot fit any more.
    assert_eq!(
        parse_request(&buf.as_bytes()[..64], &limits).unwrap_err(),
        ParseError::UriTooLong
    );
    // No line end yet, already longer than allowed.
    let buf = format!("GET /{}", "a".repeat(100));
    assert_eq!(
        parse_request(buf.as_bytes(), &limits).unwrap_err(),
        ParseError::UriTooLong
    );
    let buf = format!("GET /{}", "a".repeat(50));
    assert!(parse_request(buf.as_bytes(), &limits).unwrap().is_none());
    // A method that never ends is garbage, not a long URI.
    let buf = "A".repeat(100);
    assert!(matches!(
        parse_request(buf.as_bytes(), &limits),
        Err(ParseError::BadRequest(_))
    ));
}

/// nginx's boundaries with its defaults (`large_client_header_buffers 4 8k`), measured with
/// nginx 1.22.1: a request line of 8190 bytes passes and 8191 gets 414; a field line of 8190
/// bytes passes and 8191 gets 400.
#[test]
fn line_limits_match_nginx() {
    let line = |n: usize| format!("GET /{} HTTP/1.1", "a".repeat(n - 14));
    let buf = format!("{}\r\nHost: a\r\n\r\n", line(8190));
    ok(buf.as_bytes());
    let buf = format!("{}\r\nHost: a\r\n\r\n", line(8191));
    assert_eq!(err(buf.as_bytes()), ParseError::UriTooLong);
    let field = |n: usize| format!("X-Big: {}", "b".repeat(n - 7));
    for head_complete in [true, false] {
        let end = if head_complete { "\r\n" } else { "" };
        let buf = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n{end}", field(8190));
        assert_eq!(parse(buf.as_bytes()).unwrap().is_some(), head_complete);
        let buf = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n{end}", field(8191));
        assert_eq!(
            err(buf.as_bytes()),
            ParseError::HeadersTooLarge("field line longer than one header buffer")
        );
    }
    // The long line is found before its end arrives, first or last field alike.
    let buf = format!("GET / HTTP/1.1\r\n{}", field(8191));
    assert_eq!(
        err(buf.as_bytes()),
        ParseError::HeadersTooLarge("field line longer than one header buffer")
    );
    let buf = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\nX: 1\r\n", field(9000));
    assert_eq!(
        err(buf.as_bytes()),
        ParseError::HeadersTooLarge("field line longer than one header buffer")
    );
    // Four 8000-byte fields fit 4 × 8k (nginx forwards them); five do not.
    let fields = |n: usize| -> String {
        (0..n)
            .map(|i| format!("X-B{i}: {}\r\n", "b".repeat(7994)))
            .collect()
    };
    let buf = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", fields(4));
    assert_eq!(ok(buf.as_bytes()).headers.len(), 5);
    let buf = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", fields(5));
    assert_eq!(
        err(buf.as_bytes()),
        ParseError::HeadersTooLarge("head larger than all header buffers together")
    );
    // A long field line in the body that follows a head is no concern of the head's.
    let mut buf = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9000\r\n\r\n".to_vec();
    buf.extend_from_slice(&[b'x'; 9000]);
    ok(&buf);
}

#[test]
fn long_inputs_with_default_limits() {
    let buf = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "A".repeat(100_000));
    assert_eq!(err(buf.as_bytes()), ParseError::UriTooLong);
    let buf = format!("{} / HTTP/1.1\r\nHost: a\r\n\r\n", "A".repeat(100_000));
    assert!(matches!(err(buf.as_bytes()), ParseError::BadRequest(_)));
    let buf = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "B".repeat(100_000)
    );
    assert_eq!(
        err(buf.as_bytes()),
        ParseError::HeadersTooLarge("field line longer than one header buffer")
    );
    let buf = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}: v\r\n\r\n",
        "A".repeat(100_000)
    );
    assert_eq!(
        err(buf.as_bytes()),
        ParseError::HeadersTooLarge("field line longer than one header buffer")
    );
    // A 7900-byte target fits the default 8 KiB line.
    let buf = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(7900));
    ok(buf.as_bytes());
}

#[test]
fn limits_head_size() {
    let limits = Limits {
        max_request_line: 100,
        max_field_line: 100,
        max_head: 64,
        max_headers: 100,
    };
    let buf = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: {}\r\n\r\n",
        "x".repeat(27)
    );
    assert_eq!(buf.len(), 64);
    assert!(parse_request(buf.as_bytes(), &limits).unwrap().is_some());
    let buf = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: {}\r\n\r\n",
        "x".repeat(28)
    );
    let too_large = ParseError::HeadersTooLarge("head larger than all header buffers together");
    assert_eq!(
        parse_request(buf.as_bytes(), &limits).unwrap_err(),
        too_large
    );
    let buf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Fill: 0123456789012345678901234567890123456789";
    assert_eq!(parse_request(buf, &limits).unwrap_err(), too_large);
    // A complete head followed by body bytes is judged on the head alone.
    let mut buf = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n".to_vec();
    buf.extend_from_slice(&[b'x'; 100]);
    assert!(parse_request(&buf, &limits).unwrap().is_some());
}

/// A request with `n` small fields besides Host.
fn many_fields(n: usize) -> String {
    let mut buf = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for i in 0..n {
        buf.push_str(&format!("X-{i}: v\r\n"));
    }
    buf.push_str("\r\n");
    buf
}

#[test]
fn limits_field_count() {
    let limits = Limits {
        max_request_line: 8192,
        max_field_line: 8192,
        max_head: 1 << 20,
        max_headers: 10,
    };
    let buf = many_fields(9);
    assert_eq!(
        parse_request(buf.as_bytes(), &limits)
            .unwrap()
            .unwrap()
            .headers
            .len(),
        10
    );
    let too_many = ParseError::HeadersTooLarge("more header fields than max_headers");
    let buf = many_fields(10);
    assert_eq!(
        parse_request(buf.as_bytes(), &limits).unwrap_err(),
        too_many
    );
    // Also on the heap path, and before the head is complete.
    let limits = Limits {
        max_headers: 300,
        ..limits
    };
    assert_eq!(
        parse_request(many_fields(299).as_bytes(), &limits)
            .unwrap()
            .unwrap()
            .headers
            .len(),
        300
    );
    assert_eq!(
        parse_request(many_fields(300).as_bytes(), &limits).unwrap_err(),
        too_many
    );
    let partial = many_fields(400);
    assert_eq!(
        parse_request(&partial.as_bytes()[..partial.len() - 2], &limits).unwrap_err(),
        too_many
    );
}

/// No hidden cap on the count: more fields than the on-stack array holds are indexed on the heap,
/// bounded by `max_headers` (nginx's 1000 by default) and the byte limits only.
#[test]
fn many_fields_within_the_limits() {
    for n in [STACK_HEADERS - 1, STACK_HEADERS, 200, 998] {
        let buf = many_fields(n);
        let h = ok(buf.as_bytes());
        assert_eq!(h.headers.len(), n + 1, "{n}");
        let last = h.headers[n];
        assert_eq!(
            last.name.get(buf.as_bytes()),
            format!("X-{}", n - 1).as_bytes()
        );
        assert_eq!(last.value.get(buf.as_bytes()), b"v");
        // Framing fields far down the list still count.
        let buf = format!("{}Content-Length: 3\r\n\r\nabc", &buf[..buf.len() - 2]);
        let h = ok(buf.as_bytes());
        assert_eq!(h.body, BodyFraming::Length(3));
        // Incomplete heads with many fields wait for more.
        assert!(matches!(parse(&buf.as_bytes()[..buf.len() - 10]), Ok(None)));
    }
    // nginx's max_headers: 1000 fields pass, 1001 do not.
    ok(many_fields(999).as_bytes());
    assert_eq!(
        err(many_fields(1000).as_bytes()),
        ParseError::HeadersTooLarge("more header fields than max_headers")
    );
    // With a huge max_headers the bytes bound the count: 10,000 fields need 130 KB.
    let limits = Limits {
        max_headers: 100_000,
        max_head: 1 << 20,
        ..LIMITS
    };
    let h = parse_request(many_fields(10_000).as_bytes(), &limits)
        .unwrap()
        .unwrap();
    assert_eq!(h.headers.len(), 10_001);
    let limits = Limits {
        max_head: 4096,
        ..limits
    };
    assert_eq!(
        parse_request(many_fields(10_000).as_bytes(), &limits).unwrap_err(),
        ParseError::HeadersTooLarge("head larger than all header buffers together")
    );
    // Minimal field lines (`a:` CRLF) at the byte bound.
    let mut buf = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    while buf.len() + 4 + 2 <= 4096 {
        buf.push_str("a:\r\n");
    }
    buf.push_str("\r\n");
    assert!(parse_request(buf.as_bytes(), &limits).unwrap().is_some());
}

#[test]
fn errors_name_their_cause() {
    let cause = |s: &[u8]| err(s).cause();
    let cl = |v: &str| cause(&with_fields(&format!("Content-Length: {v}\r\n")));
    assert_eq!(cl("5x"), "invalid Content-Length value");
    assert_eq!(cl("99999999999999999999"), "Content-Length value too large");
    assert_eq!(cl("5, 6"), "differing values in one Content-Length field");
    assert_eq!(
        cause(&with_fields("Content-Length: 5\r\nContent-Length: 6\r\n")),
        "Content-Length fields with differing values"
    );
    assert_eq!(
        cause(&with_fields(
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"
        )),
        "both Content-Length and Transfer-Encoding"
    );
    assert_eq!(
        cause(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
        "duplicate Host field"
    );
    assert_eq!(cause(b"GET / HTTP/1.1\r\n\r\n"), "missing Host field");
    assert_eq!(
        cause(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
        "invalid Host field"
    );
    assert_eq!(
        cause(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n"),
        "obs-fold in field line (a line starting with whitespace)"
    );
    assert_eq!(
        cause(b"GET / HTTP/1.1\r\nHost: a\r\nX-A : a\r\n\r\n"),
        "whitespace between field name and colon"
    );
    assert_eq!(
        cause(b"GET / HTTP/1.1\r\nHost: a\r\nX(A): a\r\n\r\n"),
        "invalid character in field name"
    );
    assert_eq!(
        cause(b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"),
        "field line without a colon"
    );
    assert_eq!(
        cause(b"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n"),
        "empty field name"
    );
    assert_eq!(
        cause(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n"),
        "invalid character in field value"
    );
    assert_eq!(
        cause(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"),
        "bare CR in field line"
    );
    assert_eq!(
        cause(b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        "invalid method token"
    );
    assert_eq!(
        cause(b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
        "whitespace other than one SP in request line"
    );
    assert_eq!(
        cause(b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n"),
        "invalid character in request-target"
    );
    assert_eq!(
        cause(b"GET / HTTP/1.1\nHost: a\r\n\r\n"),
        "line not terminated by CRLF"
    );
    assert_eq!(
        cause(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        "transfer coding other than chunked"
    );
    let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    assert_eq!(
        cause(long.as_bytes()),
        "request line longer than one header buffer"
    );
    assert_eq!(
        err(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n").cause(),
        "HTTP major version other than 1"
    );
    // Every 400 says more than "Bad Request".
    for bad in [
        &b"GET / HTTP/1.1\r\nHost: a\r\n\x00: v\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\n\xff: v\r\n\r\n",
        b"\x01GET / HTTP/1.1\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\r\n\r\n",
    ] {
        let e = err(bad);
        assert!(
            e.cause().len() > 10,
            "{:?}: {e}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn garbage() {
    let mut seed = 42u32;
    let mut garbage = Vec::new();
    for _ in 0..256 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        garbage.push((seed >> 16) as u8);
    }
    assert!(parse(&garbage).is_err());
    assert!(matches!(parse(b""), Ok(None)));
}

#[test]
fn never_panics() {
    let base: &[u8] = b"\r\nPOST http://a.example:80/p%20?q HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: keep-alive, X\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nUpgrade: h2c\r\nX: y\r\n\r\nbody";
    let limits = Limits {
        max_request_line: 40,
        max_field_line: 40,
        max_head: 120,
        max_headers: 5,
    };
    for pos in 0..base.len() {
        for v in 0..=255u8 {
            let mut m = base.to_vec();
            m[pos] = v;
            for l in [&LIMITS, &limits] {
                if let Ok(Some(h)) = parse_request(&m, l) {
                    // Every span must be in bounds and inside the head.
                    for s in [h.method_span, h.target]
                        .into_iter()
                        .chain(h.host)
                        .chain(h.headers.iter().flat_map(|f| [f.name, f.value]))
                    {
                        assert!(s.start <= s.end && s.end as usize <= h.head_len);
                    }
                }
            }
        }
        let _ = parse(&base[..pos]);
    }
}

/// The authority check as it read before its one-pass form: split at the first colon, then the
/// host byte by byte.
fn valid_authority_by_split(v: &[u8], port_required: bool) -> bool {
    if v.first() == Some(&b'[') {
        return valid_authority(v, port_required);
    }
    let (host, port) = match find_byte(v, b':') {
        Some(c) => (&v[..c], Some(&v[c + 1..])),
        None => (v, None),
    };
    let mut i = 0;
    let mut ok = !host.is_empty();
    while ok && i < host.len() {
        if host[i] == b'%' {
            ok = i + 2 < host.len() && is_hex(host[i + 1]) && is_hex(host[i + 2]);
            i += 3;
        } else {
            ok = is_reg_name_byte(host[i]);
            i += 1;
        }
    }
    ok && match port {
        None | Some([]) => !port_required,
        Some(p) => p.iter().all(u8::is_ascii_digit),
    }
}

#[test]
fn authority_check_in_one_pass_agrees_with_the_split_one() {
    let alphabet = b"a%4F:.1 ,@/";
    let mut checked = 0;
    for len in 0..=5u32 {
        for n in 0..alphabet.len().pow(len) {
            let mut k = n;
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    let b = alphabet[k % alphabet.len()];
                    k /= alphabet.len();
                    b
                })
                .collect();
            for port_required in [false, true] {
                assert_eq!(
                    valid_authority(&v, port_required),
                    valid_authority_by_split(&v, port_required),
                    "{:?} port_required={port_required}",
                    String::from_utf8_lossy(&v)
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 100_000);
}
