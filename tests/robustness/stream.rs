//! Reads what ringway sent a client as a sequence of responses to known requests, the way a
//! strict client would: every head well formed, 1xx only to HTTP/1.1 requests, 101 only to a
//! request that asked to upgrade, bodies framed as the method and status say, and nothing after
//! the last response (or after one that said `Connection: close`). Any byte a client could
//! misread is a finding.

/// What a client knows about one request it sent.
#[derive(Clone, Debug)]
pub struct Sent {
    pub method: String,
    pub http10: bool,
    pub upgrade: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum State {
    /// Every request got its final response, nothing is left over.
    Done,
    /// A response is incomplete so far.
    More,
    /// A body delimited by the close of the connection is under way.
    UntilClose,
    /// The connection became a tunnel (101, or 2xx to CONNECT).
    Tunnel,
    /// The bytes are not what a client can read.
    Bad(String),
}

#[derive(Debug)]
pub struct Scan {
    /// Final responses complete so far.
    pub finals: usize,
    /// Statuses seen, 1xx included, in order.
    pub statuses: Vec<u16>,
    /// Where the last complete final response ended.
    pub done_at: usize,
    pub state: State,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    super::input::find(hay, needle)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A parsed response head: status and fields.
struct Head {
    status: u16,
    fields: Vec<(String, String)>,
}

impl Head {
    fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    fn lists(&self, name: &str, token: &str) -> bool {
        self.all(name)
            .iter()
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

fn parse_head(head: &[u8]) -> Result<Head, String> {
    // `head` ends with CRLFCRLF.
    for (i, &b) in head.iter().enumerate() {
        let ok = match b {
            b'\r' => head.get(i + 1) == Some(&b'\n'),
            b'\n' => i > 0 && head[i - 1] == b'\r',
            b'\t' => true,
            _ => b >= 0x20 && b != 0x7f,
        };
        if !ok {
            return Err(format!("byte {b:#x} at {i} of a response head"));
        }
    }
    let text = String::from_utf8_lossy(&head[..head.len() - 4]).into_owned();
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or("");
    let ok_version = line.starts_with("HTTP/1.1 ") || line.starts_with("HTTP/1.0 ");
    let code = line.get(9..12).unwrap_or("");
    let after = line.as_bytes().get(12);
    if !ok_version
        || code.len() != 3
        || !code.bytes().all(|b| b.is_ascii_digit())
        || !matches!(after, None | Some(b' '))
    {
        return Err(format!("status line {line:?}"));
    }
    let status: u16 = code.parse().unwrap();
    // 600–999 are invalid but three digits: a client treats them as 5xx (RFC 9110 §15).
    if status < 100 {
        return Err(format!("status {status}"));
    }
    let mut fields = Vec::new();
    for l in lines {
        let Some((n, v)) = l.split_once(':') else {
            return Err(format!("field line {l:?}"));
        };
        if n.is_empty() || !n.bytes().all(is_tchar) {
            return Err(format!("field name {n:?}"));
        }
        fields.push((n.to_string(), v.trim_matches([' ', '\t']).to_string()));
    }
    Ok(Head { status, fields })
}

/// Strict chunked body from `buf`: Ok(Some(length used)), Ok(None) when incomplete.
fn chunked_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let mut pos = 0;
    loop {
        let Some(lf) = find(&buf[pos..], b"\r\n") else {
            return Ok(None);
        };
        let line = &buf[pos..pos + lf];
        let size_txt = line.split(|&b| b == b';').next().unwrap_or(b"");
        if size_txt.is_empty() || size_txt.len() > 15 || !size_txt.iter().all(u8::is_ascii_hexdigit)
        {
            return Err(format!(
                "chunk-size line {:?}",
                String::from_utf8_lossy(line)
            ));
        }
        let n = usize::from_str_radix(std::str::from_utf8(size_txt).unwrap(), 16).unwrap();
        pos += lf + 2;
        if n == 0 {
            // Trailer section.
            loop {
                let Some(lf) = find(&buf[pos..], b"\r\n") else {
                    return Ok(None);
                };
                pos += lf + 2;
                if lf == 0 {
                    return Ok(Some(pos));
                }
            }
        }
        if buf.len() < pos + n + 2 {
            return Ok(None);
        }
        if &buf[pos + n..pos + n + 2] != b"\r\n" {
            return Err("chunk data not followed by CRLF".into());
        }
        pos += n + 2;
    }
}

/// Reads `buf` as the responses to `sent`, in order.
pub fn scan(buf: &[u8], sent: &[Sent]) -> Scan {
    let mut s = Scan {
        finals: 0,
        statuses: Vec::new(),
        done_at: 0,
        state: State::More,
    };
    let mut pos = 0;
    let bad = |s: Scan, why: String| Scan {
        state: State::Bad(why),
        ..s
    };
    for req in sent {
        loop {
            let rest = &buf[pos..];
            let Some(end) = find(rest, b"\r\n\r\n") else {
                // Not a head yet: only a prefix of a status line is acceptable this early.
                let prefix = b"HTTP/1.";
                let n = rest.len().min(prefix.len());
                if rest[..n] != prefix[..n] {
                    return bad(s, format!("not a response: {:?}", super::show(rest)));
                }
                return s;
            };
            let head = match parse_head(&rest[..end + 4]) {
                Ok(h) => h,
                Err(e) => return bad(s, e),
            };
            pos += end + 4;
            s.statuses.push(head.status);
            if head.status == 101 {
                if !req.upgrade {
                    return bad(
                        s,
                        format!("101 to a {} request that asked for no upgrade", req.method),
                    );
                }
                s.state = State::Tunnel;
                return s;
            }
            if head.status < 200 {
                if req.http10 {
                    return bad(s, format!("{} to an HTTP/1.0 request", head.status));
                }
                continue;
            }
            // A final response: its body.
            let cls = head.all("content-length");
            let tes = head.all("transfer-encoding");
            if !cls.is_empty() && !tes.is_empty() {
                return bad(s, "both Content-Length and Transfer-Encoding".into());
            }
            if cls.len() > 1 {
                return bad(s, format!("Content-Length {cls:?}"));
            }
            if req.method == "CONNECT" && head.status < 300 {
                s.state = State::Tunnel;
                return s;
            }
            let bodyless = req.method == "HEAD" || head.status == 204 || head.status == 304;
            let rest = &buf[pos..];
            if bodyless {
                // Nothing to read.
            } else if !tes.is_empty() {
                if tes.len() != 1 || !tes[0].eq_ignore_ascii_case("chunked") {
                    return bad(s, format!("Transfer-Encoding {tes:?}"));
                }
                if req.http10 {
                    return bad(s, "chunked to an HTTP/1.0 request".into());
                }
                match chunked_len(rest) {
                    Ok(Some(n)) => pos += n,
                    Ok(None) => return s,
                    Err(e) => return bad(s, e),
                }
            } else if let Some(cl) = cls.first() {
                let Ok(n) = cl.parse::<usize>() else {
                    return bad(s, format!("Content-Length {cl:?}"));
                };
                if rest.len() < n {
                    return s;
                }
                pos += n;
            } else {
                s.state = State::UntilClose;
                return s;
            }
            s.finals += 1;
            s.done_at = pos;
            if head.lists("connection", "close")
                || req.http10 && !head.lists("connection", "keep-alive")
            {
                if pos < buf.len() {
                    return bad(
                        s,
                        format!(
                            "bytes after a response that ends the connection: {:?}",
                            super::show(&buf[pos..])
                        ),
                    );
                }
                s.state = State::Done;
                return s;
            }
            break;
        }
    }
    if pos < buf.len() {
        return bad(
            s,
            format!(
                "bytes after the last response: {:?}",
                super::show(&buf[pos..])
            ),
        );
    }
    s.state = State::Done;
    s
}
