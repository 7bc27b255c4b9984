//! ngx_http_v2_module's settings as the config model holds them: what a level sets
//! (`Http2Layer`, None = inherit) and the merged result. `http2` and its sizes are http- and
//! server-level directives; locations inherit them unchanged.

/// The effective HTTP/2 settings of a server (and of the locations in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Settings {
    /// `http2 on`: `h2` offered by ALPN on TLS listeners; HTTP/2 with prior knowledge accepted
    /// on plain ones (as nginx 1.25 lets HTTP/1.1 and h2c share a port).
    pub on: bool,
    /// `http2_max_concurrent_streams` (128).
    pub max_concurrent_streams: u32,
    /// `http2_chunk_size` (8k): the largest piece of a response body sent as one DATA frame.
    pub chunk_size: usize,
    /// `http2_body_preread_size` (64k): each stream's initial receive window.
    pub body_preread_size: u32,
}

impl Default for Http2Settings {
    fn default() -> Self {
        Http2Settings {
            on: false,
            max_concurrent_streams: 128,
            chunk_size: 8 * 1024,
            body_preread_size: 64 * 1024,
        }
    }
}

/// What one level sets itself.
#[derive(Debug, Clone, Default)]
pub struct Http2Layer {
    pub on: Option<bool>,
    pub max_concurrent_streams: Option<u32>,
    pub chunk_size: Option<usize>,
    pub body_preread_size: Option<u32>,
}

impl Http2Layer {
    /// nginx's merge: what this level sets wins, the rest comes from `p`.
    pub fn apply(&self, p: &Http2Settings) -> Http2Settings {
        Http2Settings {
            on: self.on.unwrap_or(p.on),
            max_concurrent_streams: self
                .max_concurrent_streams
                .unwrap_or(p.max_concurrent_streams),
            chunk_size: self.chunk_size.unwrap_or(p.chunk_size),
            body_preread_size: self.body_preread_size.unwrap_or(p.body_preread_size),
        }
    }
}
