//! `log_format`: a format compiled once, when the config is built, into literal bytes and
//! variables (the template scanner of `crate::template`, extended with the variables only a
//! finished request has). Pure: no I/O, no request path types.
//!
//! A format's variables come in two kinds. Those of the request (`$remote_addr`, `$request`,
//! `$http_*`, `$ssl_*` …) are captured when the request is routed, while its head is at hand;
//! those of its end (`$status`, `$bytes_sent`, `$upstream_*`, `$sent_http_*`, times) are read
//! from the outcome record when the request is done.

use crate::template::{self, Piece, Var};

/// nginx's predefined `combined` format.
pub const COMBINED: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status \
                            $body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

/// `escape=`: how variable values are written (literal text is written as it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Escape {
    /// `"`, `\`, bytes below 0x20 and from 0x7f as `\xHH`; an empty value as `-`.
    #[default]
    Default,
    /// JSON string escapes; an empty value as nothing.
    Json,
    /// Raw bytes; an empty value as `-`.
    None,
}

/// A variable read when the request is routed (its head, client and connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReqVar {
    /// One of the template variables (`$remote_addr`, `$host`, `$http_*` …).
    Tpl(Var),
    /// `$request`: the request line as read.
    Request,
    /// `$remote_user`: the user name of a Basic `Authorization` field.
    RemoteUser,
}

/// A variable read from the outcome record when the request is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndVar {
    TimeLocal,
    TimeIso8601,
    Msec,
    Status,
    BodyBytesSent,
    BytesSent,
    RequestLength,
    RequestTime,
    Connection,
    ConnectionRequests,
    Pipe,
    UpstreamAddr,
    UpstreamStatus,
    UpstreamConnectTime,
    UpstreamHeaderTime,
    UpstreamResponseTime,
    UpstreamBytesReceived,
    UpstreamCacheStatus,
    /// `$sent_http_NAME` (lower-case field name): captured from the response head as sent.
    SentHttp(Box<[u8]>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Lit(Box<[u8]>),
    Req(ReqVar),
    End(EndVar),
}

/// A compiled `log_format` (or an `if=` condition, compiled the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormat {
    pub name: String,
    pub escape: Escape,
    pub items: Vec<Item>,
    /// The format as written (its strings joined), for `-T`.
    pub text: String,
    /// `items` as the log phase runs them.
    pub plan: Plan,
}

/// A format as the log phase runs it: the request variables and the literal text around them
/// form runs, each rendered (and escaped) once when the request is routed into one captured
/// value; the line is then those values copied whole between the end-of-request variables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub parts: Vec<Part>,
    /// How many `Part::Run`s (captured values) the format has.
    pub runs: usize,
    /// How many `$sent_http_*` variables it has.
    pub sent: usize,
    /// The format is nginx's `combined` with the default escape: its request variables, in
    /// order, for the log phase's straight-line path (the same runs, without the interpreting).
    pub combined: Option<Box<[ReqVar; 5]>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text with no request variable in it (adjacent literals merged).
    Lit(Text),
    /// Literals and request variables, captured as one value.
    Run(Box<[RunItem]>),
    End(EndVar),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunItem {
    Lit(Text),
    Req(ReqVar),
}

/// Literal text of a plan. Short text (most of it: `" - "`, `"] \""`) is kept in a fixed
/// array, copied as a whole array and cut back: a move of constant size, no call to memcpy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    short: [u8; SHORT],
    len: usize,
    long: Box<[u8]>,
}

const SHORT: usize = 16;

impl Text {
    pub fn new(t: &[u8]) -> Text {
        let mut short = [0u8; SHORT];
        let long = match short.get_mut(..t.len()) {
            Some(s) => {
                s.copy_from_slice(t);
                Box::default()
            }
            None => t.into(),
        };
        Text {
            short,
            len: t.len(),
            long,
        }
    }

    #[inline]
    pub fn push_to(&self, out: &mut Vec<u8>) {
        if self.len <= SHORT {
            let end = out.len() + self.len;
            out.extend_from_slice(&self.short);
            out.truncate(end);
        } else {
            out.extend_from_slice(&self.long);
        }
    }
}

impl Plan {
    pub fn of(items: &[Item]) -> Plan {
        let mut plan = Plan::default();
        // The current run: literal text not yet closed, and the items before it.
        let mut run: Vec<RunItem> = Vec::new();
        let mut lit: Vec<u8> = Vec::new();
        let close_lit = |lit: &mut Vec<u8>, run: &mut Vec<RunItem>| {
            if !lit.is_empty() {
                run.push(RunItem::Lit(Text::new(lit)));
                lit.clear();
            }
        };
        let close = |lit: &mut Vec<u8>, run: &mut Vec<RunItem>, plan: &mut Plan| {
            if run.is_empty() {
                if !lit.is_empty() {
                    plan.parts.push(Part::Lit(Text::new(lit)));
                    lit.clear();
                }
                return;
            }
            close_lit(lit, run);
            plan.parts.push(Part::Run(std::mem::take(run).into()));
            plan.runs += 1;
        };
        for item in items {
            match item {
                // Adjacent literals are copied as one.
                Item::Lit(l) => lit.extend_from_slice(l),
                Item::Req(v) => {
                    close_lit(&mut lit, &mut run);
                    run.push(RunItem::Req(v.clone()));
                }
                Item::End(e) => {
                    close(&mut lit, &mut run, &mut plan);
                    if matches!(e, EndVar::SentHttp(_)) {
                        plan.sent += 1;
                    }
                    plan.parts.push(Part::End(e.clone()));
                }
            }
        }
        close(&mut lit, &mut run, &mut plan);
        plan
    }
}

impl LogFormat {
    /// Compiles `text` (the directive's strings already joined). `user`: the names
    /// `auth_request_set` declares. An unknown variable is an error naming it.
    pub fn compile(
        name: &str,
        escape: Escape,
        text: &str,
        user: &[String],
    ) -> Result<LogFormat, String> {
        let items = items_of(text, user)?;
        let mut plan = Plan::of(&items);
        plan.combined = combined_vars(escape, &items);
        Ok(LogFormat {
            name: name.to_string(),
            escape,
            plan,
            items,
            text: text.to_string(),
        })
    }

    /// The request-time variables, in order (what a capture renders).
    pub fn req_vars(&self) -> impl Iterator<Item = &ReqVar> {
        self.items.iter().filter_map(|i| match i {
            Item::Req(v) => Some(v),
            _ => None,
        })
    }

    /// The `$sent_http_*` field names, in order.
    pub fn sent_fields(&self) -> impl Iterator<Item = &[u8]> {
        self.items.iter().filter_map(|i| match i {
            Item::End(EndVar::SentHttp(n)) => Some(&n[..]),
            _ => None,
        })
    }
}

fn items_of(text: &str, user: &[String]) -> Result<Vec<Item>, String> {
    let pieces = template::scan(text, |n| var(n, user))?;
    Ok(pieces
        .into_iter()
        .map(|p| match p {
            Piece::Lit(l) => Item::Lit(l),
            Piece::Var(i) => i,
        })
        .collect())
}

/// The request variables of `items` when they are nginx's `combined` format (and the escape
/// its default), else None.
fn combined_vars(escape: Escape, items: &[Item]) -> Option<Box<[ReqVar; 5]>> {
    if escape != Escape::Default || items_of(COMBINED, &[]).ok()?.as_slice() != items {
        return None;
    }
    let vars: Vec<ReqVar> = items
        .iter()
        .filter_map(|i| match i {
            Item::Req(v) => Some(v.clone()),
            _ => None,
        })
        .collect();
    let vars: [ReqVar; 5] = vars.try_into().ok()?;
    Some(Box::new(vars))
}

fn var(name: &str, user: &[String]) -> Result<Item, String> {
    if let Some(i) = user.iter().position(|u| u == name) {
        return Ok(Item::Req(ReqVar::Tpl(Var::User(i))));
    }
    let end = match name {
        "time_local" => EndVar::TimeLocal,
        "time_iso8601" => EndVar::TimeIso8601,
        "msec" => EndVar::Msec,
        "status" => EndVar::Status,
        "body_bytes_sent" => EndVar::BodyBytesSent,
        "bytes_sent" => EndVar::BytesSent,
        "request_length" => EndVar::RequestLength,
        "request_time" => EndVar::RequestTime,
        "connection" => EndVar::Connection,
        "connection_requests" => EndVar::ConnectionRequests,
        "pipe" => EndVar::Pipe,
        "upstream_addr" => EndVar::UpstreamAddr,
        "upstream_status" => EndVar::UpstreamStatus,
        "upstream_connect_time" => EndVar::UpstreamConnectTime,
        "upstream_header_time" => EndVar::UpstreamHeaderTime,
        "upstream_response_time" => EndVar::UpstreamResponseTime,
        "upstream_bytes_received" => EndVar::UpstreamBytesReceived,
        "upstream_cache_status" => EndVar::UpstreamCacheStatus,
        "request" => return Ok(Item::Req(ReqVar::Request)),
        "remote_user" => return Ok(Item::Req(ReqVar::RemoteUser)),
        n if n.len() > 10 && n.starts_with("sent_http_") => {
            EndVar::SentHttp(template::field_name(&n[10..]).into_boxed_slice())
        }
        n => {
            return match template::parse_var(n) {
                // Regex captures do not outlive the rewrite phase; an unknown name would
                // render empty: both are refused, as nginx refuses unknown variables.
                None | Some(Var::Named(_) | Var::Capture(_)) => {
                    Err(format!("unknown \"{n}\" variable"))
                }
                // The auth subrequest's response is gone by the log phase.
                Some(Var::UpstreamHttp(_)) => Err(format!(
                    "variable \"${n}\" is not supported in log_format by ringway"
                )),
                Some(v) => Ok(Item::Req(ReqVar::Tpl(v))),
            };
        }
    };
    Ok(Item::End(end))
}

/// Writes `value` into `out` as `escape` says (an empty value as `-`, except in JSON).
pub fn put(out: &mut Vec<u8>, value: &[u8], escape: Escape) {
    if value.is_empty() {
        if escape != Escape::Json {
            out.push(b'-');
        }
        return;
    }
    match escape {
        Escape::None => out.extend_from_slice(value),
        Escape::Default => {
            // Runs of plain bytes are copied whole; values rarely need any escape.
            let mut rest = value;
            while let Some(i) = first_escape(rest) {
                out.extend_from_slice(&rest[..i]);
                let c = rest[i];
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(c >> 4)],
                    HEX[usize::from(c & 15)],
                ]);
                rest = &rest[i + 1..];
            }
            out.extend_from_slice(rest);
        }
        Escape::Json => {
            for &c in value {
                match c {
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    0x08 => out.extend_from_slice(b"\\b"),
                    0x0c => out.extend_from_slice(b"\\f"),
                    c if c < 0x20 => out.extend_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[usize::from(c >> 4)],
                        HEX[usize::from(c & 15)],
                    ]),
                    c => out.push(c),
                }
            }
        }
    }
}

/// Escapes, as `put` would write it, the value that `out` holds from `mark` on. Most values
/// need no escape: they stay where they are.
#[inline(always)]
pub fn escape_tail(out: &mut Vec<u8>, mark: usize, escape: Escape) {
    let Some(v) = out.get(mark..) else {
        return;
    };
    if v.is_empty() {
        if escape != Escape::Json {
            out.push(b'-');
        }
        return;
    }
    // What JSON escapes is a subset of what the default escape does.
    if escape == Escape::None || !any_escape(v) {
        return;
    }
    escape_tail_slow(out, mark, escape);
}

#[cold]
#[inline(never)]
fn escape_tail_slow(out: &mut Vec<u8>, mark: usize, escape: Escape) {
    let raw = out.split_off(mark);
    put(out, &raw, escape);
}

/// Whether any byte of `v` `needs_escape`: eight at a time, the last eight overlapping the
/// ones before; a table for values shorter than eight.
#[inline]
pub fn any_escape(v: &[u8]) -> bool {
    if v.len() < 8 {
        return v.iter().any(|&c| ESCAPED[usize::from(c)]);
    }
    let mut chunks = v.chunks_exact(8);
    if chunks.by_ref().any(any_in) {
        return true;
    }
    !chunks.remainder().is_empty() && any_in(&v[v.len() - 8..])
}

/// Whether any of the eight bytes of `c` `needs_escape`. The classic tests below can flag a
/// byte wrongly only when a byte below it matched (a borrow or carry runs up from it), so
/// "any" is exact, unlike `escapes_in`'s positions.
#[inline]
fn any_in(c: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut b = [0u8; 8];
    b.copy_from_slice(c);
    let x = u64::from_le_bytes(b);
    let below_20 = x.wrapping_sub(0x20 * LO) & !x;
    let from_7f = x.wrapping_add(LO) | x;
    let q = x ^ (u64::from(b'"') * LO);
    let quote = q.wrapping_sub(LO) & !q;
    let s = x ^ (u64::from(b'\\') * LO);
    let backslash = s.wrapping_sub(LO) & !s;
    (below_20 | from_7f | quote | backslash) & HI != 0
}

/// `needs_escape` of every byte.
static ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = needs_escape(i as u8);
        i += 1;
    }
    t
};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// nginx's default escaping: `"`, `\`, control bytes and bytes from 0x7f.
#[inline]
const fn needs_escape(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20 || c >= 0x7f
}

/// A mask with the top bit of each of the eight bytes of `c` that `needs_escape` (each test
/// sets a byte's top bit exactly when that byte matches, with no carry between bytes).
#[inline]
fn escapes_in(c: &[u8]) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = !HI;
    let zero = |y: u64| !(((y & LOW7) + LOW7) | y | LOW7);
    let mut b = [0u8; 8];
    b.copy_from_slice(c);
    let x = u64::from_le_bytes(b);
    let below_20 = !(((x & LOW7) + (0x80 - 0x20) * LO) | x) & HI;
    let from_7f = (x | ((x & LOW7) + LO)) & HI;
    let quote = zero(x ^ (u64::from(b'"') * LO));
    let backslash = zero(x ^ (u64::from(b'\\') * LO));
    below_20 | from_7f | quote | backslash
}

/// Where the first byte `needs_escape` is, eight bytes at a time.
fn first_escape(v: &[u8]) -> Option<usize> {
    let mut chunks = v.chunks_exact(8);
    let mut at = 0;
    for c in chunks.by_ref() {
        let m = escapes_in(c);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| needs_escape(c))
        .map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_compiles_into_request_and_end_variables() {
        let f = LogFormat::compile("combined", Escape::Default, COMBINED, &[]).unwrap();
        let req: Vec<_> = f.req_vars().cloned().collect();
        assert_eq!(
            req,
            vec![
                ReqVar::Tpl(Var::RemoteAddr),
                ReqVar::RemoteUser,
                ReqVar::Request,
                ReqVar::Tpl(Var::Http(b"referer"[..].into())),
                ReqVar::Tpl(Var::Http(b"user-agent"[..].into())),
            ]
        );
        assert!(f.items.contains(&Item::End(EndVar::TimeLocal)));
        assert_eq!(f.items[0], Item::Req(ReqVar::Tpl(Var::RemoteAddr)));
        assert_eq!(f.items[1], Item::Lit(b" - "[..].into()));
    }

    #[test]
    fn unknown_variables_are_refused() {
        let e = LogFormat::compile("x", Escape::Default, "$nope", &[]).unwrap_err();
        assert!(e.contains("unknown \"nope\" variable"), "{e}");
        assert!(LogFormat::compile("x", Escape::Default, "$1", &[]).is_err());
        let f = LogFormat::compile("x", Escape::Default, "$sent_http_content_type", &[]).unwrap();
        assert_eq!(
            f.sent_fields().collect::<Vec<_>>(),
            vec![&b"content-type"[..]]
        );
    }

    #[test]
    fn first_escape_agrees_with_the_byte_rule() {
        for c in 0..=255u8 {
            for at in 0..20 {
                let mut v = vec![b'a'; 20];
                v[at] = c;
                let want = needs_escape(c).then_some(at);
                assert_eq!(first_escape(&v), want, "byte {c:#x} at {at}");
            }
        }
        assert_eq!(first_escape(b""), None);
        for len in 1..20 {
            for c in 0..=255u8 {
                for at in 0..len {
                    let mut v = vec![b'a'; len];
                    v[at] = c;
                    assert_eq!(
                        any_escape(&v),
                        needs_escape(c),
                        "byte {c:#x} at {at} of {len}"
                    );
                }
            }
            assert!(!any_escape(&vec![b'~'; len]));
        }
        assert_eq!(first_escape(b"plain text, 0-9 ~"), None);
    }

    #[test]
    fn escapes_as_nginx() {
        let mut out = Vec::new();
        put(&mut out, b"a\"b\\c\x01\x7f\xc3", Escape::Default);
        assert_eq!(out, b"a\\x22b\\x5Cc\\x01\\x7F\\xC3");
        out.clear();
        put(&mut out, b"a\"b\\c\n\x01\xc3", Escape::Json);
        assert_eq!(out, b"a\\\"b\\\\c\\n\\u0001\xc3");
        out.clear();
        put(&mut out, b"", Escape::Default);
        put(&mut out, b"", Escape::Json);
        put(&mut out, b"\"", Escape::None);
        assert_eq!(out, b"-\"");
    }
}
