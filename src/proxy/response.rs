//! The response phase, between the upstream's response head and the relay of its body: how the
//! body is framed for this client, the header rules (hop-by-hop fields out, `proxy_hide_header`,
//! `Via`, `Date`, `proxy_redirect`, `add_header`), compression (`gzip`, `brotli`: the coding,
//! `Content-Encoding`, `Vary`, a weakened ETag, the re-framing), and the plan the relay follows:
//! a re-coded body is never spliced. The head is written as HTTP/1.1 text, or for an HTTP/2
//! stream straight in HTTP/2's form (`http::h2_head`).

use super::answer::render_add_headers;
use super::compress_relay::{Recode, decide};
use super::request::{Request, find_header, vars};
use super::upstream_head::VIA;
use crate::http::h2_head::Encoder;
use crate::http::rewrite::{HeadCoding, HeadOut, NO_NAMES, ResponseRewrite, write_response_head};
use crate::http::util::eq_nocase;
use crate::http::{ResponseFraming, ResponseHead, Version};
use crate::route::RedirectPattern;
use crate::template::Vars;

/// What the relay does with the upstream's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body (HEAD, 204, 304, 1xx).
    None,
    /// `n` bytes (Content-Length), spliced when long enough and both ends allow it.
    Length(u64),
    /// Chunked from the upstream: re-encoded for the client, or decoded for an HTTP/1.0 client.
    Chunked { reencode: bool },
    /// Up to the upstream's close: passed as it comes, or as chunks to a kept-alive client.
    ToEof { chunked: bool },
}

/// The client's response: its head, ready to send, and how its body is relayed.
pub struct Plan {
    pub head: Vec<u8>,
    pub body: Body,
    /// The client connection stays open after the body.
    pub keep_client: bool,
    /// The body may move by splice, untouched (long enough, both transports allowing): false
    /// once a phase must see its bytes (compression, a cache fill).
    pub splice: bool,
    /// The body is compressed on the way (`body` then says how the upstream frames it).
    pub recode: Option<Recode>,
}

/// Builds the client's response head for `resp` (in `ub`). `keep_client`: whether the client
/// connection may stay open, as far as the request goes.
pub fn plan(
    r: &Request<'_>,
    b: &[u8],
    resp: &ResponseHead,
    ub: &[u8],
    mut keep_client: bool,
    proxy_host: &[u8],
    form: HeadForm,
) -> Plan {
    let client_http10 = r.head.version == Version::Http10;
    let decision = decide(r, b, resp, ub);
    let framing = match resp.framing {
        // A compressed body's length is known only at its end: chunked, or up to the close
        // for an HTTP/1.0 client.
        _ if decision.coding.is_some() && client_http10 => ResponseFraming::Close,
        _ if decision.coding.is_some() => ResponseFraming::Chunked,
        ResponseFraming::None => ResponseFraming::None,
        ResponseFraming::Length(n) => ResponseFraming::Length(n),
        ResponseFraming::Chunked if client_http10 => ResponseFraming::Close,
        ResponseFraming::Chunked => ResponseFraming::Chunked,
        ResponseFraming::Close if keep_client && !client_http10 => ResponseFraming::Chunked,
        ResponseFraming::Close => ResponseFraming::Close,
    };
    if framing == ResponseFraming::Close {
        keep_client = false;
    }
    let body = match resp.framing {
        ResponseFraming::None => Body::None,
        ResponseFraming::Length(n) => Body::Length(n),
        ResponseFraming::Chunked => Body::Chunked {
            reencode: framing == ResponseFraming::Chunked,
        },
        ResponseFraming::Close => Body::ToEof {
            chunked: framing == ResponseFraming::Chunked,
        },
    };
    let source = HeadSource {
        r,
        b,
        resp,
        ub,
        proxy_host,
        keep_alive: keep_client,
        client_http10,
        framing,
        coding: HeadCoding {
            content_encoding: decision.coding.map(|c| c.token()),
            vary: decision.vary,
        },
    };
    let buf = r.ctx.bufs.get();
    let head = if form == HeadForm::Http2 {
        let mut e = Encoder::new(buf);
        source.write(&mut e);
        // A field HTTP/2 cannot carry: the head goes as text, which the stream refuses.
        e.finish().unwrap_or_else(|buf| source.text(buf))
    } else {
        source.text(buf)
    };
    Plan {
        head,
        body,
        keep_client,
        splice: decision.coding.is_none(),
        recode: decision.coding.map(|coding| Recode {
            coding,
            level: decision.level,
            chunked: framing == ResponseFraming::Chunked,
        }),
    }
}

/// The form of the head a plan writes: as HTTP/1.1 text, or already as HTTP/2's fields for a
/// stream that sends HEADERS (`http::h2_head`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadForm {
    Http1,
    Http2,
}

impl HeadForm {
    /// The form a client stream of type `S` takes.
    pub fn of<S: crate::net::Transport>() -> HeadForm {
        if S::HTTP2_HEADS {
            HeadForm::Http2
        } else {
            HeadForm::Http1
        }
    }
}

/// What a response head is written from.
#[derive(Clone, Copy)]
struct HeadSource<'p, 'r> {
    r: &'p Request<'r>,
    b: &'p [u8],
    resp: &'p ResponseHead,
    ub: &'p [u8],
    proxy_host: &'p [u8],
    keep_alive: bool,
    client_http10: bool,
    framing: ResponseFraming,
    coding: HeadCoding,
}

impl HeadSource<'_, '_> {
    /// The head as HTTP/1.1 text, its final CRLF included, into `buf` (emptied first).
    fn text(&self, mut buf: Vec<u8>) -> Vec<u8> {
        buf.clear();
        self.write(&mut buf);
        buf.extend_from_slice(b"\r\n");
        buf
    }

    /// The status and the fields: the upstream's as the location's rules leave them, `Date`
    /// when the upstream sent none, `add_header`'s.
    fn write(&self, out: &mut impl HeadOut) {
        let HeadSource {
            r,
            b,
            resp,
            ub,
            proxy_host,
            ..
        } = *self;
        let header = |name: &[u8], out: &mut Vec<u8>| find_header(r.head, b, name, out);
        // The variables are gathered only when a rule needs them: most responses carry no
        // redirect and most locations add no field.
        let redirect = |value: &[u8], out: &mut Vec<u8>| {
            redirect(r, &vars(r, b, proxy_host, &header), value, out)
        };
        let opts = ResponseRewrite {
            keep_alive: self.keep_alive,
            client_http10: self.client_http10,
            framing: self.framing,
            hide: &r.loc.hide,
            via: r.loc.via.then_some(VIA),
            upgrade: false,
            redirect: (!r.loc.redirects.is_empty()).then_some(&redirect),
            coding: self.coding,
        };
        write_response_head(out, resp, ub, &opts);
        if !resp
            .headers
            .iter()
            .any(|h| eq_nocase(h.name.get(ub), b"date"))
        {
            out.field(b"Date", &r.ctx.date.borrow()[..]);
        }
        if !r.loc.add_headers.is_empty() {
            let vars = vars(r, b, proxy_host, &header);
            render_add_headers(&r.loc.add_headers, resp.status, &vars, out);
        }
    }
}

/// The head of a 101 for an upgrade the client asked for: `Upgrade` kept, `Connection: upgrade`.
pub fn upgrade_head(r: &Request<'_>, resp: &ResponseHead, ub: &[u8]) -> Vec<u8> {
    let mut head = Vec::with_capacity(512);
    write_response_head(
        &mut head,
        resp,
        ub,
        &ResponseRewrite {
            keep_alive: true,
            client_http10: false,
            framing: ResponseFraming::None,
            hide: &NO_NAMES,
            via: r.loc.via.then_some(VIA),
            upgrade: true,
            redirect: None,
            coding: HeadCoding::default(),
        },
    );
    head.extend_from_slice(b"\r\n");
    head
}

/// `proxy_redirect`: the first rule matching `value` rewrites it into `out` (nginx's order).
fn redirect(r: &Request<'_>, vars: &Vars<'_>, value: &[u8], out: &mut Vec<u8>) -> bool {
    for rule in &r.loc.redirects {
        match &rule.pattern {
            RedirectPattern::Prefix(p) => {
                let mut prefix = Vec::new();
                p.render(vars, &mut prefix);
                if let Some(rest) = value.strip_prefix(&prefix[..]) {
                    rule.replacement.render(vars, out);
                    out.extend_from_slice(rest);
                    return true;
                }
            }
            RedirectPattern::Regex(re) => {
                if let Some(caps) = re.captures(value) {
                    let v = Vars {
                        captures: Some(&caps),
                        ..*vars
                    };
                    rule.replacement.render(&v, out);
                    return true;
                }
            }
        }
    }
    false
}
