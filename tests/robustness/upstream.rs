//! The scripted upstream: for each request of a case it follows an `Answer` — proper responses
//! of every framing, 1xx sequences before the final answer, 101, early closes and resets, bad
//! framing, huge heads, stray bytes, bodies where none belong, answers before the request body
//! was read — and it answers the probe (`/__probe/…`) properly, always. It records what reached
//! it, so the test can check that a valid request arrived intact.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::rng::Rng;
use crate::common::{Conn, Fill, KillableBackend, show};

/// When the upstream reads the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyRead {
    /// Before answering (as most servers do).
    Before,
    /// After writing its answer (an early answer), then goes on with the connection.
    After,
    /// Never: it answers, then closes.
    Never,
}

/// What the connection does after the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Waits for the next request.
    Keep,
    Close,
    Reset,
    /// Waits (up to a few seconds) for ringway to close the connection, then closes it.
    AwaitClose,
    /// A tunnel: writes a greeting, then echoes whatever comes until EOF.
    Tunnel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Length,
    Chunked,
    /// Neither: the body ends with the connection (the answer's `after` is `Close`).
    Close,
}

/// The final response.
#[derive(Clone, Debug)]
pub enum Final {
    /// A well-formed response; its body left out for a HEAD request unless `body_for_head`.
    Proper {
        status: u16,
        framing: Framing,
        len: usize,
        body_for_head: bool,
    },
    /// Exactly these bytes, whatever the request.
    Raw(Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct Answer {
    /// Sends `100 Continue` first when the request carries `Expect: 100-continue`.
    pub continue_on_expect: bool,
    pub body: BodyRead,
    /// Raw 1xx heads sent before the final response.
    pub interims: Vec<Vec<u8>>,
    pub fin: Final,
    /// Write the final response in pieces cut at this offset, pausing between them.
    pub split: Option<(usize, u64)>,
    pub after: After,
    /// Bytes written this many milliseconds after the answer, on the kept connection (stray
    /// bytes that arrive once ringway may have pooled it).
    pub late: Option<(u64, Vec<u8>)>,
    /// What kind of answer it is, in words (for failure messages).
    pub what: String,
}

impl Answer {
    pub fn normal() -> Answer {
        Answer {
            continue_on_expect: true,
            body: BodyRead::Before,
            interims: Vec::new(),
            fin: Final::Proper {
                status: 200,
                framing: Framing::Length,
                len: 12,
                body_for_head: false,
            },
            split: None,
            after: After::Keep,
            late: None,
            what: "normal".into(),
        }
    }

    /// One line, bytes escaped.
    pub fn describe(&self) -> String {
        let fin = match &self.fin {
            Final::Proper {
                status,
                framing,
                len,
                body_for_head,
            } => format!(
                "{status} {framing:?} len {len}{}",
                if *body_for_head {
                    " (body even for HEAD)"
                } else {
                    ""
                }
            ),
            Final::Raw(b) => {
                let mut t = show(&b[..b.len().min(600)]);
                if b.len() > 600 {
                    t.push_str(&format!("…(of {} bytes)", b.len()));
                }
                format!("raw \"{t}\"")
            }
        };
        let interims: Vec<String> = self.interims.iter().map(|i| show(i)).collect();
        let late = match &self.late {
            Some((ms, b)) => format!(" late=\"{}\" after {ms} ms", show(b)),
            None => String::new(),
        };
        format!(
            "[{}] continue_on_expect={} body={:?} interims={interims:?} final={fin} split={:?} after={:?}{late}",
            self.what, self.continue_on_expect, self.body, self.split, self.after
        )
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

fn body_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| b"0123456789abcdef"[i % 16]).collect()
}

/// A proper response to a request with `method`.
pub fn render(
    method: &str,
    status: u16,
    framing: Framing,
    len: usize,
    body_for_head: bool,
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nServer: robust\r\nX-Answer: yes\r\n",
        reason(status)
    );
    match framing {
        Framing::Length => out.push_str(&format!("Content-Length: {len}\r\n")),
        Framing::Chunked => out.push_str("Transfer-Encoding: chunked\r\n"),
        Framing::Close => out.push_str("Connection: close\r\n"),
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    let bodyless = status == 204 || status == 304 || (method == "HEAD" && !body_for_head);
    if bodyless {
        return bytes;
    }
    let body = body_of(len);
    match framing {
        Framing::Length | Framing::Close => bytes.extend_from_slice(&body),
        Framing::Chunked => {
            for piece in body.chunks(1000) {
                bytes.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                bytes.extend_from_slice(piece);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
        }
    }
    bytes
}

const INTERIMS: &[&str] = &[
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 102 Processing\r\n\r\n",
    "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n",
    "HTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\nLink: </b.js>; rel=preload\r\n\r\n",
    "HTTP/1.1 100 Continue\r\nX-Extra: 1\r\n\r\n",
    "HTTP/1.1 199 Whatever\r\n\r\n",
];

fn proper(rng: &mut Rng) -> Final {
    let status = *rng.pick(&[200, 200, 200, 201, 206, 301, 304, 204, 400, 404, 500, 503]);
    let framing = match rng.weighted(&[55, 30, 15]) {
        0 => Framing::Length,
        1 => Framing::Chunked,
        _ => Framing::Close,
    };
    let len = match rng.weighted(&[15, 50, 25, 10]) {
        0 => 0,
        1 => rng.range(1, 200),
        2 => rng.range(200, 20_000),
        _ => rng.range(20_000, 200_000),
    };
    Final::Proper {
        status,
        framing,
        len,
        body_for_head: false,
    }
}

fn after_for(fin: &Final, rng: &mut Rng) -> After {
    match fin {
        Final::Proper {
            framing: Framing::Close,
            ..
        } => After::Close,
        _ => *rng.pick(&[After::Keep, After::Keep, After::Keep, After::Close]),
    }
}

/// A bad answer given as raw bytes, and whether the connection then stays (or closes).
fn bad_framing(rng: &mut Rng) -> (String, Vec<u8>, After) {
    let stray = *rng.pick(&[
        "x",
        "\r\n",
        "junk after the body",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY",
    ]);
    let short = rng.range(1, 5);
    let cases: Vec<(&str, String)> = vec![
        (
            "CL and TE",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".into(),
        ),
        (
            "TE and CL",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n5\r\nhello\r\n0\r\n\r\n".into(),
        ),
        (
            "two CLs",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".into(),
        ),
        (
            "CL list",
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello".into(),
        ),
        (
            "CL not a number",
            "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello".into(),
        ),
        (
            "CL negative",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello".into(),
        ),
        (
            "CL overflow",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nhello".into(),
        ),
        (
            "bad chunk size",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n".into(),
        ),
        (
            "chunk size overflow",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n".into(),
        ),
        (
            "chunk without CRLF",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n".into(),
        ),
        (
            "chunk shorter than its size",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhello\r\n0\r\n\r\n".into(),
        ),
        (
            "bad trailer",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nno colon here\r\n\r\n".into(),
        ),
        (
            "TE gzip",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nnot really gzip".into(),
        ),
        (
            "TE chunked, gzip",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n".into(),
        ),
        (
            "stray bytes after a CL body",
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}{stray}",
                "s".repeat(50)
            ),
        ),
        (
            "stray bytes after a chunked body",
            format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{stray}"),
        ),
        (
            "body shorter than CL",
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}",
                "s".repeat(50 - short)
            ),
        ),
        (
            "HTTP/1.0 answer without keep-alive",
            "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello".into(),
        ),
        (
            "Connection: close but kept open",
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello".into(),
        ),
        (
            "bare LF head",
            "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello".into(),
        ),
        (
            "obs-fold",
            "HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 5\r\n\r\nhello".into(),
        ),
        (
            "field without colon",
            "HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 5\r\n\r\nhello".into(),
        ),
        (
            "NUL in a field",
            "HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 5\r\n\r\nhello".into(),
        ),
        (
            "status 2OO",
            "HTTP/1.1 2OO OK\r\nContent-Length: 5\r\n\r\nhello".into(),
        ),
        ("HTTP/2 status line", "HTTP/2 200\r\nContent-Length: 5\r\n\r\nhello".into()),
        ("ICY", "ICY 200 OK\r\nContent-Length: 5\r\n\r\nhello".into()),
        ("status 099", "HTTP/1.1 099 Low\r\nContent-Length: 5\r\n\r\nhello".into()),
        ("status 600", "HTTP/1.1 600 High\r\nContent-Length: 5\r\n\r\nhello".into()),
        ("status 1000", "HTTP/1.1 1000 Big\r\nContent-Length: 5\r\n\r\nhello".into()),
        ("no reason", "HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello".into()),
        (
            "204 with a CL body",
            "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello".into(),
        ),
        (
            "204 with bytes",
            "HTTP/1.1 204 No Content\r\n\r\nhello".into(),
        ),
        (
            "304 with a CL body",
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello".into(),
        ),
        (
            "304 with a chunked body",
            "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".into(),
        ),
        (
            "101 with a body behind",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nframes".into(),
        ),
        (
            "100 then nothing",
            "HTTP/1.1 100 Continue\r\n\r\n".into(),
        ),
        (
            "1xx with a body",
            "HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".into(),
        ),
    ];
    let (what, bytes) = rng.pick(&cases).clone();
    let after = if what.starts_with("101") {
        After::Tunnel
    } else if what.starts_with("body shorter") || what.starts_with("stray") {
        After::Keep
    } else {
        // Kept, the upstream goes on serving requests on the connection: a proxy that reads
        // the answer as the upstream meant it may pool the connection, one that does not must
        // not.
        *rng.pick(&[After::Keep, After::Close])
    };
    (what.to_string(), bytes.into_bytes(), after)
}

fn mutate_response(rng: &mut Rng, bytes: &mut Vec<u8>) -> String {
    let head_len = super::input::find(bytes, b"\r\n\r\n").map_or(bytes.len(), |i| i + 4);
    let len = bytes.len();
    let i = if rng.chance(80) {
        rng.below(head_len.max(1))
    } else {
        rng.below(len.max(1))
    };
    match rng.below(6) {
        0 => {
            let bit = 1u8 << rng.below(8);
            bytes[i] ^= bit;
            format!("flip bit {bit:#x} at {i}")
        }
        1 => {
            let b = *rng.pick(b"\0\r\n :\t0x\x80\xff");
            bytes.insert(i, b);
            format!("insert {b:#x} at {i}")
        }
        2 => {
            let n = rng.range(1, 4).min(len - i);
            bytes.drain(i..i + n);
            format!("delete {n} at {i}")
        }
        3 => {
            // Duplicate the framing field.
            match super::input::find(bytes, b"Content-Length: ")
                .or_else(|| super::input::find(bytes, b"Transfer-Encoding: "))
            {
                Some(s) => {
                    let e = s + super::input::find(&bytes[s..], b"\r\n").unwrap_or(0) + 2;
                    let line = bytes[s..e].to_vec();
                    bytes.splice(e..e, line.iter().copied());
                    "duplicate the framing field".into()
                }
                None => "no-op".into(),
            }
        }
        4 => {
            bytes[i] = b'9';
            format!("byte '9' at {i}")
        }
        _ => {
            let at = rng.below(len.max(1));
            bytes.truncate(at);
            format!("truncate to {at}")
        }
    }
}

/// A random answer for one request of a case.
pub fn answer(rng: &mut Rng) -> Answer {
    let mut a = Answer::normal();
    a.continue_on_expect = rng.chance(85);
    let kind = rng.weighted(&[28, 16, 9, 16, 10, 4, 5, 5, 3, 4]);
    match kind {
        0 => {
            a.fin = proper(rng);
            a.after = after_for(&a.fin, rng);
            a.what = "proper".into();
        }
        1 => {
            let n = *rng.pick(&[1, 1, 2, 3, 5]);
            a.interims = (0..n)
                .map(|_| rng.pick(INTERIMS).as_bytes().to_vec())
                .collect();
            if rng.chance(5) {
                // A flood of interims.
                a.interims = vec![INTERIMS[2].as_bytes().to_vec(); 200];
            }
            a.fin = proper(rng);
            a.after = after_for(&a.fin, rng);
            a.what = format!("{} interim(s) then proper", a.interims.len());
        }
        2 => {
            let fin = proper(rng);
            let Final::Proper {
                status,
                framing,
                len,
                ..
            } = fin
            else {
                unreachable!()
            };
            let mut bytes = render("GET", status, framing, len.min(2000), false);
            let mut done = Vec::new();
            for _ in 0..rng.range(1, 2) {
                done.push(mutate_response(rng, &mut bytes));
            }
            a.fin = Final::Raw(bytes);
            a.after = *rng.pick(&[After::Keep, After::Close]);
            a.what = format!("mutated proper: {}", done.join("; "));
        }
        3 => {
            let (what, bytes, after) = bad_framing(rng);
            a.fin = Final::Raw(bytes);
            a.after = after;
            a.what = what;
        }
        4 => {
            // Early closes: before the head, in it, in the body.
            let full = render(
                "GET",
                200,
                *rng.pick(&[Framing::Length, Framing::Chunked]),
                3000,
                false,
            );
            let cut = match rng.below(3) {
                0 => 0,
                1 => rng.range(1, 40),
                _ => rng.range(90, full.len() - 1),
            };
            a.fin = Final::Raw(full[..cut].to_vec());
            a.after = *rng.pick(&[After::Close, After::Reset]);
            a.what = format!("close after {cut} bytes of the answer");
        }
        5 => {
            // Huge heads.
            let n = *rng.pick(&[3_000, 8_000, 15_000, 33_000, 70_000, 200_000]);
            let head = if rng.chance(60) {
                format!("X-Big: {}\r\n", "b".repeat(n))
            } else {
                (0..n / 20).map(|i| format!("X-Many-{i}: v\r\n")).collect()
            };
            a.fin = Final::Raw(
                format!("HTTP/1.1 200 OK\r\n{head}Content-Length: 2\r\n\r\nok").into_bytes(),
            );
            a.after = *rng.pick(&[After::Keep, After::Close]);
            a.what = format!("head with {} bytes of fields", head.len());
        }
        6 => {
            a.fin = Final::Raw(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                    .to_vec(),
            );
            a.after = After::Tunnel;
            a.what = "101".into();
        }
        7 => {
            // A body where none belongs: to HEAD, or with 204/304.
            let status = *rng.pick(&[200, 204, 304]);
            a.fin = Final::Proper {
                status,
                framing: *rng.pick(&[Framing::Length, Framing::Chunked]),
                len: rng.range(1, 100),
                body_for_head: true,
            };
            if status != 200 {
                // render() leaves the body out for 204/304: append it by hand.
                let body = body_of(7);
                let mut bytes = render("GET", status, Framing::Length, 7, false);
                bytes.extend_from_slice(&body);
                a.fin = Final::Raw(bytes);
            }
            a.after = After::Keep;
            a.what = "body where none belongs".into();
        }
        8 => {
            // Stalls: a head that stops, or a body that stops, with the connection kept.
            let full = render("GET", 200, Framing::Length, 100, false);
            let cut = if rng.chance(50) { 20 } else { full.len() - 10 };
            a.fin = Final::Raw(full[..cut].to_vec());
            a.after = After::AwaitClose;
            a.what = format!("stall after {cut} bytes of the answer");
        }
        _ => {
            // An answer before the request body was read.
            a.body = if rng.chance(70) {
                BodyRead::After
            } else {
                BodyRead::Never
            };
            a.fin = proper(rng);
            a.after = if a.body == BodyRead::Never {
                After::Close
            } else {
                after_for(&a.fin, rng)
            };
            a.what = "early answer".into();
        }
    }
    if a.interims.is_empty() && rng.chance(12) {
        // 1xx before any answer, whatever it is.
        a.interims = (0..rng.range(1, 3))
            .map(|_| rng.pick(INTERIMS).as_bytes().to_vec())
            .collect();
        a.what = format!("{} interim(s), then {}", a.interims.len(), a.what);
    }
    if a.after == After::Keep && rng.chance(4) {
        // Stray bytes after the answer, late: once the connection may be back in the pool.
        let stray = *rng.pick(&[
            &b"junk"[..],
            b"\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY",
        ]);
        a.late = Some((rng.range(5, 40) as u64, stray.to_vec()));
    }
    if rng.chance(8) {
        a.split = Some((rng.range(1, 60), rng.range(1, 30) as u64));
    }
    a
}

/// The answer ends with late stray bytes that form a whole answer of their own.
fn late_answer(a: &Answer) -> bool {
    a.late
        .as_ref()
        .is_some_and(|(_, b)| b.starts_with(b"HTTP/"))
}

/// A request as it reached the upstream.
#[derive(Clone, Debug)]
pub struct Seen {
    pub conn: usize,
    pub method: String,
    pub target: String,
    pub head: String,
    /// The decoded body, when the upstream read it completely.
    pub body: Option<Vec<u8>>,
}

#[derive(Default)]
pub struct Shared {
    answers: Mutex<VecDeque<Answer>>,
    seen: Mutex<Vec<Seen>>,
    probes: Mutex<Vec<String>>,
    /// Late stray bytes that form a whole answer, not yet written (see `settle`).
    late_answers: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// A new case: these answers, in order, for its requests (then `Answer::normal`).
    pub fn begin(&self, answers: Vec<Answer>) {
        // Counted from the start: the upstream may not have reached its late write yet when the
        // case's client is done (a write that never comes is waited for at most 1 s).
        let whole = answers.iter().filter(|a| late_answer(a)).count();
        self.late_answers
            .store(whole, std::sync::atomic::Ordering::SeqCst);
        *self.answers.lock().unwrap() = answers.into();
        self.seen.lock().unwrap().clear();
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (at most 1 s) until every late stray write that forms a whole, well-formed answer
    /// has been made. Such bytes, arriving on a pooled connection after ringway checked it and
    /// sent the next request on it, are indistinguishable from the answer to that request: no
    /// HTTP/1.1 proxy can tell them apart (nginx 1.22 gives the next request the stray answer
    /// too). Bytes that are there when the connection is taken are caught (ringway peeks), and
    /// late bytes that do not parse as an answer are caught too (the request is sent again on a
    /// new connection), so only this race is waited out.
    pub fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.late_answers.load(std::sync::atomic::Ordering::SeqCst) > 0
            && Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(2));
        }
        // The bytes are written: give the kernel a moment to deliver them.
        thread::sleep(Duration::from_millis(2));
    }

    fn next(&self) -> Answer {
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(Answer::normal)
    }
}

pub const PROBE_PREFIX: &str = "/__probe/";

/// The body of the probe's answer.
pub fn probe_body(target: &str) -> String {
    format!("probe-ok {target}")
}

/// Starts the scripted upstream.
pub fn start(shared: Arc<Shared>) -> KillableBackend {
    KillableBackend::start(move |c: &mut Conn| serve(c, &shared))
}

fn serve(c: &mut Conn, shared: &Shared) {
    loop {
        // Long enough that a pooled connection is never closed by the upstream within a run.
        let Ok(mut req) = c.read_head_end(Duration::from_secs(120)) else {
            return;
        };
        if req.target.starts_with(PROBE_PREFIX) {
            shared.probes.lock().unwrap().push(req.target.clone());
            if c.read_body_end(&mut req) != Fill::Data {
                return;
            }
            let body = probe_body(&req.target);
            if !c.respond_with(200, &[("X-Probe", "1")], body.as_bytes()) {
                return;
            }
            continue;
        }
        let a = shared.next();
        let mut seen = Seen {
            conn: c.index,
            method: req.method.clone(),
            target: req.target.clone(),
            head: req.head.clone(),
            body: None,
        };
        let expect = req
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if expect && a.continue_on_expect && !c.write(b"HTTP/1.1 100 Continue\r\n\r\n") {
            return;
        }
        let mut body_ok = true;
        if a.body == BodyRead::Before {
            body_ok = c.read_body_end(&mut req) == Fill::Data;
            seen.body = body_ok.then(|| req.body.clone());
        }
        shared.seen.lock().unwrap().push(seen.clone());
        if !body_ok {
            return;
        }
        for i in &a.interims {
            if !c.write(i) {
                return;
            }
        }
        let bytes = match &a.fin {
            Final::Proper {
                status,
                framing,
                len,
                body_for_head,
            } => render(&req.method, *status, *framing, *len, *body_for_head),
            Final::Raw(b) => b.clone(),
        };
        let written = match a.split {
            Some((at, pause)) if at < bytes.len() => {
                let ok = c.write(&bytes[..at]);
                let _ = c.stream.flush();
                thread::sleep(Duration::from_millis(pause));
                ok && c.write(&bytes[at..])
            }
            _ => c.write(&bytes),
        };
        if !written {
            return;
        }
        if a.body == BodyRead::After {
            let ok = c.read_body_end(&mut req) == Fill::Data;
            if let Some(s) = shared.seen.lock().unwrap().last_mut()
                && s.conn == c.index
            {
                s.body = ok.then(|| req.body.clone());
            }
            if !ok {
                return;
            }
        }
        if let Some((ms, bytes)) = &a.late {
            let whole = late_answer(&a);
            thread::sleep(Duration::from_millis(*ms));
            let ok = c.write(bytes);
            if whole {
                // Saturating: a write of a case that ended may come after the next began.
                let _ = shared.late_answers.fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| Some(n.saturating_sub(1)),
                );
            }
            if !ok {
                return;
            }
        }
        match a.after {
            After::Keep if a.body != BodyRead::Never => {}
            After::Keep | After::Close => return,
            After::Reset => return c.reset(),
            After::AwaitClose => {
                c.wait_eof(Duration::from_secs(5));
                return;
            }
            After::Tunnel => return tunnel(c),
        }
    }
}

/// After a 101: a greeting, then an echo of whatever arrives, until EOF (or a few seconds).
fn tunnel(c: &mut Conn) {
    if !c.write(b"tunnel-hello") {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    let _ = c.stream.set_read_timeout(Some(Duration::from_millis(100)));
    while Instant::now() < deadline {
        match c.stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if c.stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}
