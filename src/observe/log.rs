//! The access log phase. A request's lines are made in two steps: when it is routed, the
//! request variables its location's formats use are rendered into a pooled capture (the head
//! is gone by the end); when it is done (`request_done`, from `Outcome::finish`), each format is
//! rendered into its file's shard-local buffer, reading the capture and the outcome record.
//! No allocation per request once the pools are warm, no syscall per request.

use std::cell::RefCell;
use std::rc::Rc;

use crate::config::{AccessLog, LogFile};
use crate::proxy::outcome::Outcome;
use crate::template::{Vars, render_var};

use super::clock;
use super::format::{EndVar, Escape, LogFormat, Part, ReqVar, RunItem, escape_tail, put};
use super::writer::{Spec, Writer};

/// One config generation's access log files on this shard, indexed like `Config::log_files`
/// (None: the file could not be set up here; its lines are dropped).
#[derive(Clone, Default)]
pub struct Files(Rc<[Option<Rc<Writer>>]>);

thread_local! {
    /// This shard's writers, one per path, kept across generations (a reload reuses them).
    static WRITERS: RefCell<Vec<Registered>> = const { RefCell::new(Vec::new()) };
    /// Capture buffers given back by finished requests.
    static POOL: RefCell<Vec<Bufs>> = const { RefCell::new(Vec::new()) };
}

struct Registered {
    writer: Rc<Writer>,
    /// The descriptor the writer's file was made from (a recompile with the same one keeps it).
    fd: std::sync::Arc<std::os::fd::OwnedFd>,
}

/// The writers for a generation's files: same path, same writer (switched to the generation's
/// fresh descriptor, its buffered lines written to the old one first); writers of paths the
/// generation dropped are flushed and forgotten (requests still holding them finish into them).
pub fn files_for(log_files: &[LogFile]) -> Files {
    WRITERS.with(|reg| {
        let mut reg = reg.borrow_mut();
        let mut out = Vec::with_capacity(log_files.len());
        for f in log_files {
            let Some(fd) = &f.fd else {
                out.push(None);
                continue;
            };
            let found = reg.iter_mut().find(|r| r.writer.path == f.path);
            let w = match found {
                Some(r) => {
                    if !std::sync::Arc::ptr_eq(&r.fd, fd) {
                        r.writer.reopen(fd, Some((f.buffer, f.flush)));
                        r.fd = fd.clone();
                    }
                    Some(r.writer.clone())
                }
                None => {
                    let spec = Spec {
                        path: &f.path,
                        fd,
                        buffer: f.buffer,
                        flush: f.flush,
                    };
                    match Writer::new(&spec) {
                        Ok(w) => {
                            reg.push(Registered {
                                writer: w.clone(),
                                fd: fd.clone(),
                            });
                            Some(w)
                        }
                        Err(e) => {
                            tracing::error!("access log \"{}\": {e}", f.path.display());
                            None
                        }
                    }
                }
            };
            out.push(w);
        }
        reg.retain(|r| {
            let keep = log_files.iter().any(|f| f.path == r.writer.path);
            if !keep {
                r.writer.write_now();
            }
            keep
        });
        Files(out.into())
    })
}

/// `-s reopen`: every writer whose path was opened again switches to the new descriptor.
pub fn reopen(fresh: &super::files::Reopened) {
    WRITERS.with(|reg| {
        for r in reg.borrow_mut().iter_mut() {
            if let Some((_, fd)) = fresh.iter().find(|(p, _)| *p == r.writer.path) {
                r.writer.reopen(fd, None);
                r.fd = fd.clone();
            }
        }
    });
}

/// At stop: writes what every writer of this shard holds.
pub async fn flush_all() {
    let writers: Vec<Rc<Writer>> =
        WRITERS.with(|reg| reg.borrow().iter().map(|r| r.writer.clone()).collect());
    for w in writers {
        w.flush_all().await;
    }
}

/// Rendered values, back to back, and where each ends: the request variables first, then
/// the `$sent_http_*` values once the response head is known.
#[derive(Default)]
struct Bufs {
    vals: Vec<u8>,
    ends: Vec<u32>,
}

/// What the request phase rendered for a request's access log lines.
pub struct Capture {
    logs: Rc<[AccessLog]>,
    files: Files,
    bufs: Bufs,
    /// How many of `bufs`' values are request variables.
    req_values: u32,
    /// The response head's `$sent_http_*` values were captured (they follow).
    sent: bool,
}

/// Where a capture reads the request variables from (the proxy's view of the request).
pub trait ReqSource {
    /// Appends the value of `v` to `out` (nothing when absent).
    fn render(&self, v: &ReqVar, out: &mut Vec<u8>);

    /// The values nginx's `combined` format reads, found in one pass over the head (None:
    /// `render` gives them, as for any format).
    fn combined(&self) -> Option<Combined<'_>> {
        None
    }
}

/// The request values of nginx's `combined` format, raw; an absent field is empty (written
/// as an empty one is: `-`, no user name).
pub struct Combined<'a> {
    /// `$remote_addr`: an address as text, which never needs escaping.
    pub addr: &'a [u8],
    pub request: &'a [u8],
    /// The Authorization, Referer and User-Agent fields (each present once at most: a
    /// repeated one goes through `render`, which joins them).
    pub authorization: &'a [u8],
    pub referer: &'a [u8],
    pub agent: &'a [u8],
}

/// A request seen through its template variables and request line (what `render_with_vars`
/// needs): the general source, for requests not routed.
pub struct ReqFacts<'a> {
    pub vars: &'a Vars<'a>,
    /// The request line as read (empty when none was).
    pub request_line: &'a [u8],
}

impl ReqSource for ReqFacts<'_> {
    fn render(&self, v: &ReqVar, out: &mut Vec<u8>) {
        render_with_vars(v, self.vars, self.request_line, out);
    }
}

/// Renders the request variables of `logs`' formats (and `if=` conditions) into a capture kept
/// in the outcome record, as the formats' runs (see `format::Plan`), escaped. Nothing when the
/// location logs nothing.
pub fn capture<S: ReqSource>(outcome: &Outcome, logs: &Rc<[AccessLog]>, files: &Files, src: &S) {
    if logs.is_empty() {
        return not_logged(outcome, logs, files);
    }
    let mut bufs = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default();
    for l in logs.iter() {
        if let Some(cond) = &l.cond {
            capture_runs(cond, src, &mut bufs, None);
        }
        capture_runs(&l.format, src, &mut bufs, Some(l.format.escape));
    }
    let req_values = bufs.ends.len() as u32;
    *outcome.log.borrow_mut() = Some(Capture {
        logs: logs.clone(),
        files: files.clone(),
        bufs,
        req_values,
        sent: false,
    });
}

/// One value per run of `f`: its literals and request variables, the variables escaped as
/// `escape` says (None: raw, for conditions).
fn capture_runs<S: ReqSource>(f: &LogFormat, src: &S, bufs: &mut Bufs, escape: Option<Escape>) {
    if let (Some(vars), Some(Escape::Default)) = (&f.plan.combined, escape) {
        return capture_combined(vars, src, bufs);
    }
    for part in &f.plan.parts {
        let Part::Run(items) = part else {
            continue;
        };
        for item in items.iter() {
            match item {
                RunItem::Lit(l) => l.push_to(&mut bufs.vals),
                RunItem::Req(v) => {
                    let mark = bufs.vals.len();
                    src.render(v, &mut bufs.vals);
                    if let Some(e) = escape {
                        escape_tail(&mut bufs.vals, mark, e);
                    }
                }
            }
        }
        bufs.ends.push(bufs.vals.len() as u32);
    }
}

/// The request's location logs nothing (`access_log off`): a decision too, so that the
/// request is not logged as an unrouted one. Allocates nothing.
pub fn not_logged(outcome: &Outcome, logs: &Rc<[AccessLog]>, files: &Files) {
    *outcome.log.borrow_mut() = Some(Capture {
        logs: logs.clone(),
        files: files.clone(),
        bufs: Bufs::default(),
        req_values: 0,
        sent: false,
    });
}

/// Whether a capture was made for this request.
pub fn captured(outcome: &Outcome) -> bool {
    outcome.log.borrow().is_some()
}

/// A request variable from the template variables (`vars`) and the request line.
pub fn render_with_vars(v: &ReqVar, vars: &Vars<'_>, request_line: &[u8], out: &mut Vec<u8>) {
    match v {
        ReqVar::Tpl(t) => render_var(t, vars, out),
        ReqVar::Request => out.extend_from_slice(request_line),
        ReqVar::RemoteUser => remote_user(|out| (vars.header)(b"authorization", out), out),
    }
}

/// `$remote_user`: `authorization` appends the Authorization field (false: none). The field
/// goes into `out`, then its user name replaces it (no allocation).
pub fn remote_user(authorization: impl FnOnce(&mut Vec<u8>) -> bool, out: &mut Vec<u8>) {
    let mark = out.len();
    if authorization(out) {
        let mut user = [0u8; 192];
        let n = basic_user(&out[mark..], &mut user);
        out.truncate(mark);
        out.extend_from_slice(&user[..n]);
    }
}

/// The user name of a `Basic` credential (nginx's `$remote_user`) into `user`; its length (0:
/// none, or a credential too long for `user`).
fn basic_user(value: &[u8], user: &mut [u8; 192]) -> usize {
    use base64::Engine;
    let v = value.trim_ascii();
    let Some(cred) = v
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case(b"basic "))
        .map(|_| v[6..].trim_ascii())
    else {
        return 0;
    };
    let Ok(n) = base64::engine::general_purpose::STANDARD.decode_slice(cred, user) else {
        return 0;
    };
    user[..n].iter().position(|&c| c == b':').unwrap_or(n)
}

/// The response head as sent: captures the `$sent_http_*` values the formats use.
pub fn response_head(outcome: &Outcome, head: &[u8]) {
    let mut log = outcome.log.borrow_mut();
    let Some(c) = log.as_mut().filter(|c| !c.logs.is_empty()) else {
        return;
    };
    // A later head replaces an earlier one's values.
    let keep = c.req_values as usize;
    c.bufs.ends.truncate(keep);
    let end = c.bufs.ends.last().map_or(0, |&e| e as usize);
    c.bufs.vals.truncate(end);
    c.sent = true;
    for l in c.logs.iter() {
        for name in l.format.sent_fields() {
            field_of(head, name, &mut c.bufs.vals);
            c.bufs.ends.push(c.bufs.vals.len() as u32);
        }
    }
}

/// All values of field `name` (lower-case) in a response head, joined by ", ".
fn field_of(head: &[u8], name: &[u8], out: &mut Vec<u8>) {
    let mut first = true;
    if let Some(fields) = crate::http::h2_head::fields(head) {
        for (_, v) in fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if !first {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(v);
            first = false;
        }
        return;
    }
    for line in head.split(|&c| c == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        if line[..colon].eq_ignore_ascii_case(name) {
            if !first {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(line[colon + 1..].trim_ascii());
            first = false;
        }
    }
}

/// The log phase: writes the request's lines (from `Outcome::finish`).
pub fn request_done(outcome: &Outcome) {
    let Some(c) = outcome.log.borrow_mut().take() else {
        return;
    };
    if c.logs.is_empty() {
        return;
    }
    let (sec, ms) = clock::now();
    let req = c.req_values as usize;
    let mut cursor = Cursor {
        vals: &c.bufs.vals,
        ends: &c.bufs.ends[..req.min(c.bufs.ends.len())],
        at: 0,
        from: 0,
    };
    let mut sent = Cursor {
        vals: &c.bufs.vals,
        ends: &c.bufs.ends,
        at: req,
        from: req
            .checked_sub(1)
            .and_then(|i| c.bufs.ends.get(i))
            .map_or(0, |&e| e as usize),
    };
    let end = End {
        o: outcome,
        sec,
        ms,
        sent_captured: c.sent,
    };
    for l in c.logs.iter() {
        let writer = c.files.0.get(l.file).and_then(Option::as_ref);
        if let Some(cond) = &l.cond {
            let mut v = Vec::new();
            render(cond, &mut cursor, &mut Cursor::empty(), &end, &mut v, true);
            if v.is_empty() || v == b"0" {
                cursor.skip(&l.format);
                sent.skip_sent(&l.format);
                continue;
            }
        }
        match writer {
            Some(w) => w.line(|out| render(&l.format, &mut cursor, &mut sent, &end, out, false)),
            None => {
                cursor.skip(&l.format);
                sent.skip_sent(&l.format);
            }
        }
    }
    let mut bufs = c.bufs;
    bufs.vals.clear();
    bufs.ends.clear();
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < 256 {
            p.push(bufs);
        }
    });
}

/// `capture_runs` for nginx's `combined` format, its literals written in place: the same
/// three runs, `$remote_addr - $remote_user [`, `] "$request" ` and
/// ` "$http_referer" "$http_user_agent"`.
fn capture_combined<S: ReqSource>(vars: &[ReqVar; 5], src: &S, bufs: &mut Bufs) {
    if let Some(c) = src.combined() {
        return capture_combined_values(&c, bufs);
    }
    let [addr, user, request, referer, agent] = vars;
    let v = &mut bufs.vals;
    let value = |var: &ReqVar, v: &mut Vec<u8>| {
        let mark = v.len();
        src.render(var, v);
        escape_tail(v, mark, Escape::Default);
    };
    value(addr, v);
    v.extend_from_slice(b" - ");
    value(user, v);
    v.extend_from_slice(b" [");
    bufs.ends.push(v.len() as u32);
    v.extend_from_slice(b"] \"");
    value(request, v);
    v.extend_from_slice(b"\" ");
    bufs.ends.push(v.len() as u32);
    v.extend_from_slice(b" \"");
    value(referer, v);
    v.extend_from_slice(b"\" \"");
    value(agent, v);
    v.push(b'"');
    bufs.ends.push(v.len() as u32);
}

/// `capture_combined` from values found in one pass.
fn capture_combined_values(c: &Combined<'_>, bufs: &mut Bufs) {
    let v = &mut bufs.vals;
    let value = escaped_value;
    if c.addr.is_empty() {
        v.push(b'-');
    }
    v.extend_from_slice(c.addr);
    v.extend_from_slice(b" - ");
    let mark = v.len();
    if !c.authorization.is_empty() {
        remote_user(
            |out| {
                out.extend_from_slice(c.authorization);
                true
            },
            v,
        );
    }
    escape_tail(v, mark, Escape::Default);
    v.extend_from_slice(b" [");
    bufs.ends.push(v.len() as u32);
    v.extend_from_slice(b"] \"");
    value(c.request, v);
    v.extend_from_slice(b"\" ");
    bufs.ends.push(v.len() as u32);
    v.extend_from_slice(b" \"");
    value(c.referer, v);
    v.extend_from_slice(b"\" \"");
    value(c.agent, v);
    v.push(b'"');
    bufs.ends.push(v.len() as u32);
}

#[inline(always)]
fn escaped_value(val: &[u8], v: &mut Vec<u8>) {
    let mark = v.len();
    v.extend_from_slice(val);
    escape_tail(v, mark, Escape::Default);
}

/// Reads captured values in order.
struct Cursor<'a> {
    vals: &'a [u8],
    ends: &'a [u32],
    at: usize,
    from: usize,
}

impl<'a> Cursor<'a> {
    fn empty() -> Cursor<'static> {
        Cursor {
            vals: &[],
            ends: &[],
            at: 0,
            from: 0,
        }
    }

    fn next(&mut self) -> Option<&'a [u8]> {
        let end = *self.ends.get(self.at)? as usize;
        let v = self.vals.get(self.from..end)?;
        self.at += 1;
        self.from = end;
        Some(v)
    }

    fn skip(&mut self, f: &LogFormat) {
        for _ in 0..f.plan.runs {
            self.next();
        }
    }

    fn skip_sent(&mut self, f: &LogFormat) {
        for _ in 0..f.plan.sent {
            self.next();
        }
    }
}

/// What the end-of-request variables read.
struct End<'a> {
    o: &'a Outcome,
    sec: u64,
    ms: u32,
    sent_captured: bool,
}

fn render(
    f: &LogFormat,
    req: &mut Cursor<'_>,
    sent: &mut Cursor<'_>,
    end: &End<'_>,
    out: &mut Vec<u8>,
    raw: bool,
) {
    if f.plan.combined.is_some() && !raw {
        return render_combined(req, end, out);
    }
    let esc = if raw { Escape::None } else { f.escape };
    for part in &f.plan.parts {
        match part {
            Part::Lit(l) => l.push_to(out),
            // Rendered and escaped at capture.
            Part::Run(_) => out.extend_from_slice(req.next().unwrap_or(b"")),
            Part::End(EndVar::SentHttp(_)) => {
                let v = if end.sent_captured {
                    sent.next().unwrap_or(b"")
                } else {
                    b""
                };
                if raw {
                    out.extend_from_slice(v);
                } else {
                    put(out, v, esc);
                }
            }
            Part::End(v) => render_end(v, end, out, esc, raw),
        }
    }
}

/// "00" to "99".
const PAIRS: &[u8; 200] = b"000102030405060708091011121314151617181920212223242526272829\
        3031323334353637383940414243444546474849505152535455565758596061626364\
        6566676869707172737475767778798081828384858687888990919293949596979899";

/// `render` for nginx's `combined` format: its three runs around `$time_local`, `$status` and
/// `$body_bytes_sent`.
fn render_combined(req: &mut Cursor<'_>, end: &End<'_>, out: &mut Vec<u8>) {
    let o = end.o;
    out.extend_from_slice(req.next().unwrap_or(b""));
    clock::with_stamps(end.sec, |s| out.extend_from_slice(&s.local));
    out.extend_from_slice(req.next().unwrap_or(b""));
    push_status(out, o.log_status());
    out.push(b' ');
    push_u64(out, o.sent.get().saturating_sub(o.head_sent.get()));
    out.extend_from_slice(req.next().unwrap_or(b""));
}

/// `$status`: three digits at least (nginx's `%03ui`: 000 for none).
#[inline]
fn push_status(out: &mut Vec<u8>, s: u16) {
    if s < 1000 {
        let (h, rest) = (s / 100, usize::from(s % 100) * 2);
        out.extend_from_slice(&[b'0' + h as u8, PAIRS[rest], PAIRS[rest + 1]]);
    } else {
        push_u64(out, u64::from(s));
    }
}

/// Decimal digits of `n`, two at a time, written from the left of a fixed array that is
/// copied whole and cut back (a move of constant size, no call to memcpy).
#[inline]
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let len = match n {
        0..10 => 1,
        10..100 => 2,
        100..1000 => 3,
        _ => n.ilog10() as usize + 1,
    };
    let mut i = len;
    while n >= 100 {
        let p = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        tmp[i..i + 2].copy_from_slice(&PAIRS[p..p + 2]);
    }
    if n >= 10 {
        let p = n as usize * 2;
        tmp[..2].copy_from_slice(&PAIRS[p..p + 2]);
    } else {
        tmp[0] = b'0' + n as u8;
    }
    let end = out.len() + len;
    out.extend_from_slice(&tmp);
    out.truncate(end);
}

/// Seconds with milliseconds, as nginx writes times (`0.004`).
fn push_secs(out: &mut Vec<u8>, d: std::time::Duration) {
    push_u64(out, d.as_secs());
    push_ms(out, d.subsec_millis());
}

fn push_ms(out: &mut Vec<u8>, ms: u32) {
    out.push(b'.');
    out.push(b'0' + (ms / 100 % 10) as u8);
    out.push(b'0' + (ms / 10 % 10) as u8);
    out.push(b'0' + (ms % 10) as u8);
}

fn render_end(v: &EndVar, e: &End<'_>, out: &mut Vec<u8>, esc: Escape, raw: bool) {
    use std::io::Write;
    let o = e.o;
    // Read only by the upstream variables (a copy of the whole record).
    let up = || o.upstream.get();
    // Absent values: "-" (or nothing in JSON and in conditions), as nginx's not-found.
    let absent = |out: &mut Vec<u8>| {
        if !raw {
            put(out, b"", esc)
        }
    };
    match v {
        EndVar::TimeLocal => clock::with_stamps(e.sec, |s| out.extend_from_slice(&s.local)),
        EndVar::TimeIso8601 => clock::with_stamps(e.sec, |s| out.extend_from_slice(&s.iso)),
        EndVar::Msec => {
            push_u64(out, e.sec);
            push_ms(out, e.ms);
        }
        EndVar::Status => push_status(out, o.log_status()),
        EndVar::BodyBytesSent => {
            push_u64(out, o.sent.get().saturating_sub(o.head_sent.get()));
        }
        EndVar::BytesSent => push_u64(out, o.sent.get()),
        EndVar::RequestLength => push_u64(out, o.received.get()),
        EndVar::RequestTime => push_secs(out, o.request_time()),
        EndVar::Connection => push_u64(out, o.connection.get()),
        EndVar::ConnectionRequests => push_u64(out, o.connection_requests.get()),
        EndVar::Pipe => out.push(if o.pipelined.get() { b'p' } else { b'.' }),
        EndVar::UpstreamAddr => match up().and_then(|u| u.addr) {
            Some(a) => {
                let _ = write!(out, "{a}");
            }
            None => absent(out),
        },
        EndVar::UpstreamStatus => match up() {
            Some(u) if u.status > 0 => push_u64(out, u64::from(u.status)),
            // nginx writes 502 for an upstream that gave no response.
            Some(_) => out.extend_from_slice(b"502"),
            None => absent(out),
        },
        EndVar::UpstreamConnectTime => match up() {
            Some(u) if u.header_at.is_some() || u.connected_at.is_some() => {
                push_secs(out, u.connect_time())
            }
            _ => absent(out),
        },
        EndVar::UpstreamHeaderTime => match up().and_then(|u| u.header_time()) {
            Some(d) => push_secs(out, d),
            None => absent(out),
        },
        EndVar::UpstreamResponseTime => match up().and_then(|u| u.response_time()) {
            Some(d) => push_secs(out, d),
            None => absent(out),
        },
        EndVar::UpstreamBytesReceived => match up() {
            Some(_) => push_u64(out, o.upstream_received.get()),
            None => absent(out),
        },
        EndVar::UpstreamCacheStatus => match o.cache_status.get() {
            Some(s) => out.extend_from_slice(s.as_bytes()),
            None => absent(out),
        },
        EndVar::SentHttp(_) => absent(out),
    }
}

/// The request line in a buffer that holds a request's start (leading blank lines skipped),
/// without its line end.
pub fn request_line(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .unwrap_or(b.len());
    let rest = &b[start..];
    let end = rest
        .iter()
        .position(|&c| c == b'\r' || c == b'\n')
        .unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_user_and_request_line() {
        let user = |v: &[u8]| {
            let mut u = [0u8; 192];
            let n = basic_user(v, &mut u);
            u[..n].to_vec()
        };
        assert_eq!(user(b"Basic YWxpY2U6c2VjcmV0"), b"alice");
        assert_eq!(user(b"basic  Ym9i "), b"bob");
        assert!(user(b"Bearer x").is_empty());
        assert!(user(b"Basic !!!").is_empty());
        let long = format!("Basic {}", "QUFB".repeat(100));
        assert!(
            user(long.as_bytes()).is_empty(),
            "too long: nothing, no panic"
        );
        assert_eq!(
            request_line(b"\r\nGET / HTTP/1.1\r\nHost: x\r\n"),
            b"GET / HTTP/1.1"
        );
        assert_eq!(request_line(b"GET /partial"), b"GET /partial");
    }

    /// A request whose values need every kind of escape, and two absent ones.
    struct Tricky;

    impl ReqSource for Tricky {
        fn render(&self, v: &ReqVar, out: &mut Vec<u8>) {
            use crate::template::Var;
            match v {
                ReqVar::Tpl(Var::RemoteAddr) => out.extend_from_slice(b"10.0.0.1"),
                ReqVar::Request => out.extend_from_slice(b"GET /a\"b\\c\x01 HTTP/1.1"),
                ReqVar::Tpl(Var::Http(n)) if &n[..] == b"user-agent" => {
                    out.extend_from_slice(b"agent \xc3\xa9\x7f")
                }
                _ => {}
            }
        }
    }

    #[test]
    fn combined_path_writes_what_the_general_one_does() {
        use super::super::format::COMBINED;
        let fast = LogFormat::compile("combined", Escape::Default, COMBINED, &[]).unwrap();
        assert!(fast.plan.combined.is_some());
        let mut general = fast.clone();
        general.plan.combined = None;
        let line = |f: &LogFormat| {
            let mut bufs = Bufs::default();
            capture_runs(f, &Tricky, &mut bufs, Some(f.escape));
            let o = Outcome::start();
            o.status.set(404);
            o.sent.set(1234);
            o.head_sent.set(200);
            let end = End {
                o: &o,
                sec: 1_796_552_411,
                ms: 5,
                sent_captured: false,
            };
            let mut req = Cursor {
                vals: &bufs.vals,
                ends: &bufs.ends,
                at: 0,
                from: 0,
            };
            let mut out = Vec::new();
            render(f, &mut req, &mut Cursor::empty(), &end, &mut out, false);
            (bufs.vals.clone(), bufs.ends.clone(), out)
        };
        let (vals, ends, out) = line(&fast);
        assert_eq!((vals.clone(), ends.clone(), out.clone()), line(&general));
        let mut one_pass = Bufs::default();
        capture_combined_values(
            &Combined {
                addr: b"10.0.0.1",
                request: b"GET /a\"b\\c\x01 HTTP/1.1",
                authorization: b"",
                referer: b"",
                agent: b"agent \xc3\xa9\x7f",
            },
            &mut one_pass,
        );
        assert_eq!((one_pass.vals, one_pass.ends), (vals, ends));
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("10.0.0.1 - - ["), "{out}");
        assert!(
            out.ends_with(
                "] \"GET /a\\x22b\\x5Cc\\x01 HTTP/1.1\" 404 1034 \"-\" \"agent \\xC3\\xA9\\x7F\""
            ),
            "{out}"
        );
        // Another escape, or one variable more, is not the combined format.
        let json = LogFormat::compile("j", Escape::Json, COMBINED, &[]).unwrap();
        assert!(json.plan.combined.is_none());
        let more = format!("{COMBINED} $host");
        let more = LogFormat::compile("m", Escape::Default, &more, &[]).unwrap();
        assert!(more.plan.combined.is_none());
    }

    #[test]
    fn numbers_as_decimal() {
        for n in [0, 7, 10, 99, 100, 999, 1000, 12_345, 1 << 40, u64::MAX] {
            let mut out = b"x".to_vec();
            push_u64(&mut out, n);
            assert_eq!(out, format!("x{n}").as_bytes());
        }
        let mut out = Vec::new();
        for s in [0, 7, 99, 100, 204, 499, 999, 1000] {
            out.clear();
            push_status(&mut out, s);
            assert_eq!(out, format!("{s:03}").as_bytes());
        }
    }

    #[test]
    fn sent_fields_joined() {
        let mut out = Vec::new();
        field_of(
            b"HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Type: text/plain\r\nx-a: 2\r\n\r\n",
            b"x-a",
            &mut out,
        );
        assert_eq!(out, b"1, 2");
    }
}
