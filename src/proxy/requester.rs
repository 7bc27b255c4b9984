//! A client's request as the upstream exchange sees it (`upstream::Requester`): the head ringway
//! sends for it, its body streamed from the client connection, and the interim answers passed
//! back to the client.

use super::error::Error;
use super::relay::{self, Fail, INLINE_BODY, Timeouts};
use super::request::Request;
use super::upstream_head;
use crate::http::{BodyFraming, Version};
use crate::net::Transport;
use crate::net::io::write_all;
use crate::route::UriRewrite;
use crate::upstream::Requester;
use crate::upstream::exchange::BodyFailed;

pub struct ClientRequest<'r, 'a, S> {
    r: &'r Request<'a>,
    client: &'r mut S,
    /// The client's buffer: the head, then what of the body (and beyond) was read with it.
    b: &'r [u8],
    uri: Option<&'r UriRewrite>,
    proxy_host: &'r [u8],
    /// Body bytes already in `b`.
    pub in_buf: usize,
    /// The whole body is in `b`.
    body_in_buf: bool,
    /// The body goes in the head's write.
    inline: bool,
    /// Bytes the client sent past the body while it was streamed (a pipelined request).
    pub after_body: Option<Vec<u8>>,
    /// Cache fetch: field lines added to the head, and a HEAD sent as GET.
    pub extra: Vec<u8>,
    pub as_get: bool,
}

impl<'r, 'a, S: Transport> ClientRequest<'r, 'a, S> {
    pub fn new(
        r: &'r Request<'a>,
        client: &'r mut S,
        b: &'r [u8],
        uri: Option<&'r UriRewrite>,
        proxy_host: &'r [u8],
    ) -> Self {
        let head = r.head;
        let avail = b.len() - head.head_len;
        let (body_in_buf, in_buf) = match head.body {
            BodyFraming::None => (true, 0),
            BodyFraming::Length(n) => (n <= avail as u64, (n.min(avail as u64)) as usize),
            BodyFraming::Chunked => (false, 0),
        };
        let inline = body_in_buf && in_buf <= INLINE_BODY && !head.expect_continue;
        r.outcome.add_received(in_buf as u64);
        ClientRequest {
            r,
            client,
            b,
            uri,
            proxy_host,
            in_buf,
            body_in_buf,
            inline,
            after_body: None,
            extra: Vec::new(),
            as_get: false,
        }
    }
}

impl<S: Transport> Requester for ClientRequest<'_, '_, S> {
    type Fail = Error;

    fn head(&mut self, out: &mut Vec<u8>) {
        let cache = upstream_head::CacheFetch {
            extra: &self.extra,
            as_get: self.as_get,
        };
        upstream_head::build(self.r, self.b, self.uri, self.proxy_host, cache, out);
        if self.inline {
            let start = self.r.head.head_len;
            out.extend_from_slice(&self.b[start..start + self.in_buf]);
        }
    }

    fn body_follows(&self) -> bool {
        self.r.head.body != BodyFraming::None && !self.inline
    }

    fn expects_continue(&self) -> bool {
        self.r.head.expect_continue
    }

    fn repeatable(&self) -> bool {
        self.body_in_buf && !self.r.head.upgrade
    }

    fn idempotent(&self) -> bool {
        self.r.head.method.is_idempotent()
    }

    async fn send_body(
        &mut self,
        up: &mut crate::upstream::conn::UpStream,
    ) -> Result<(), BodyFailed<Error>> {
        let head = self.r.head;
        let loc = self.r.loc;
        let t = Timeouts {
            read: loc.client_body_timeout,
            write: loc.send_timeout,
        };
        let ctx = self.r.ctx;
        let res = match head.body {
            BodyFraming::None => Ok(()),
            BodyFraming::Length(n) => {
                let start = head.head_len;
                let first = self.b[start..start + self.in_buf].to_vec();
                match write_all(up, first, t.write).await {
                    Ok(_) => {
                        let rest = n - self.in_buf as u64;
                        let res = relay::relay_exact(
                            ctx,
                            self.client,
                            up,
                            rest,
                            true,
                            &t,
                            &mut relay::NoTap,
                        )
                        .await;
                        res.map(|after| {
                            self.r.outcome.add_received(rest);
                            self.after_body = after;
                        })
                    }
                    Err(_) => Err(Fail::DstIo),
                }
            }
            BodyFraming::Chunked => {
                let mut buf = ctx.bufs.get();
                buf.extend_from_slice(&self.b[head.head_len..]);
                let max = loc.client_max_body_size;
                relay::relay_chunked(self.client, up, buf, 0, true, max, &t, &mut relay::NoTap)
                    .await
                    .map(|(rest, sent)| {
                        self.r.outcome.add_received(sent);
                        self.after_body = Some(rest);
                    })
            }
        };
        res.map_err(|e| match e {
            Fail::TooLarge => BodyFailed::Requester(Error::BodyTooLarge),
            Fail::Malformed(e) => BodyFailed::Requester(Error::BadBody(e)),
            Fail::SrcTimeout => BodyFailed::Requester(Error::BodyTimeout),
            Fail::SrcEof | Fail::SrcIo => BodyFailed::Requester(Error::ClientGone),
            Fail::DstIo | Fail::DstTimeout => BodyFailed::Upstream,
        })
    }

    async fn interim(&mut self, head: &[u8]) -> Result<(), Error> {
        // HTTP/1.0 has no interim answers (RFC 9110 §15.2).
        if self.r.head.version != Version::Http11 {
            return Ok(());
        }
        // Interim answers carry no framing: they pass as they came, from their status line (an
        // empty line the upstream sent before one would end the client's head).
        let start = head
            .iter()
            .position(|&c| c != b'\r' && c != b'\n')
            .unwrap_or(0);
        self.send(head[start..].to_vec()).await
    }

    async fn go_ahead(&mut self) -> Result<(), Error> {
        if self.r.head.version != Version::Http11 {
            return Ok(());
        }
        self.send(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()).await
    }
}

impl<S: Transport> ClientRequest<'_, '_, S> {
    async fn send(&mut self, bytes: Vec<u8>) -> Result<(), Error> {
        let n = bytes.len();
        write_all(self.client, bytes, self.r.loc.client_send_timeout)
            .await
            .map_err(|_| Error::ClientGone)?;
        self.r.outcome.add_sent(n);
        // Interim heads only: not body bytes (`$body_bytes_sent`).
        let o = self.r.outcome;
        o.head_sent.set(o.head_sent.get() + n as u64);
        Ok(())
    }
}
