//! `gzip*` (ngx_http_gzip_module), `brotli*` (ngx_brotli) and `zstd*` (zstd-nginx-module)
//! settings as the config model holds them: what a level sets (`CompressLayer`, None =
//! inherit) and the merged result.

/// `gzip_proxied` flags, as nginx names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Proxied {
    pub expired: bool,
    pub no_cache: bool,
    pub no_store: bool,
    pub private: bool,
    pub no_last_modified: bool,
    pub no_etag: bool,
    pub auth: bool,
    pub any: bool,
}

impl Proxied {
    /// Sets the flag `token` names; false for an unknown token. `off` clears them all.
    pub fn set(&mut self, token: &str) -> bool {
        match token {
            "off" => *self = Proxied::default(),
            "expired" => self.expired = true,
            "no-cache" => self.no_cache = true,
            "no-store" => self.no_store = true,
            "private" => self.private = true,
            "no_last_modified" => self.no_last_modified = true,
            "no_etag" => self.no_etag = true,
            "auth" => self.auth = true,
            "any" => self.any = true,
            _ => return false,
        }
        true
    }
}

/// The tokens `gzip_proxied` takes (for its error message).
pub const PROXIED_TOKENS: &str =
    "off, expired, no-cache, no-store, private, no_last_modified, no_etag, auth or any";

/// One coding's own settings (`gzip_*`, `brotli_*` or `zstd_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodingSettings {
    pub on: bool,
    /// MIME types besides `text/html` (always included), lower case; `*` = every type.
    pub types: Vec<String>,
    pub min_length: u64,
    pub level: u32,
}

/// The effective compression settings of a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressSettings {
    pub gzip: CodingSettings,
    pub brotli: CodingSettings,
    pub zstd: CodingSettings,
    pub vary: bool,
    pub proxied: Proxied,
    /// `gzip_disable` regexes on User-Agent (`msie6` kept as the word).
    pub disable: Vec<String>,
    /// `gzip_http_version 1.0`: HTTP/1.0 requests are compressed too (default 1.1: they are not).
    pub http10: bool,
}

impl Default for CompressSettings {
    fn default() -> Self {
        CompressSettings {
            gzip: CodingSettings {
                on: false,
                types: Vec::new(),
                min_length: 20,
                level: 1,
            },
            brotli: CodingSettings {
                on: false,
                types: Vec::new(),
                min_length: 20,
                level: 6,
            },
            // zstd-nginx-module's defaults.
            zstd: CodingSettings {
                on: false,
                types: Vec::new(),
                min_length: 20,
                level: 1,
            },
            vary: false,
            proxied: Proxied::default(),
            disable: Vec::new(),
            http10: false,
        }
    }
}

/// One coding's settings set at one level.
#[derive(Debug, Clone, Default)]
pub struct CodingLayer {
    pub on: Option<bool>,
    pub types: Option<Vec<String>>,
    pub min_length: Option<u64>,
    pub level: Option<u32>,
}

impl CodingLayer {
    fn apply(&self, p: &CodingSettings) -> CodingSettings {
        CodingSettings {
            on: self.on.unwrap_or(p.on),
            types: self.types.clone().unwrap_or_else(|| p.types.clone()),
            min_length: self.min_length.unwrap_or(p.min_length),
            level: self.level.unwrap_or(p.level),
        }
    }
}

/// What one level (http, server, location) sets itself.
#[derive(Debug, Clone, Default)]
pub struct CompressLayer {
    pub gzip: CodingLayer,
    pub brotli: CodingLayer,
    pub zstd: CodingLayer,
    pub vary: Option<bool>,
    pub proxied: Option<Proxied>,
    pub disable: Option<Vec<String>>,
    pub http10: Option<bool>,
}

impl CompressLayer {
    /// nginx's merge: what this level sets wins, the rest comes from `p`.
    pub fn apply(&self, p: &CompressSettings) -> CompressSettings {
        CompressSettings {
            gzip: self.gzip.apply(&p.gzip),
            brotli: self.brotli.apply(&p.brotli),
            zstd: self.zstd.apply(&p.zstd),
            vary: self.vary.unwrap_or(p.vary),
            proxied: self.proxied.unwrap_or(p.proxied),
            disable: self.disable.clone().unwrap_or_else(|| p.disable.clone()),
            http10: self.http10.unwrap_or(p.http10),
        }
    }
}

impl Proxied {
    /// The tokens set, as `gzip_proxied` takes them (`off` when none).
    fn tokens(&self) -> String {
        let all = [
            (self.expired, "expired"),
            (self.no_cache, "no-cache"),
            (self.no_store, "no-store"),
            (self.private, "private"),
            (self.no_last_modified, "no_last_modified"),
            (self.no_etag, "no_etag"),
            (self.auth, "auth"),
            (self.any, "any"),
        ];
        let set: Vec<&str> = all.iter().filter(|(on, _)| *on).map(|(_, t)| *t).collect();
        if set.is_empty() {
            "off".into()
        } else {
            set.join(" ")
        }
    }
}

/// The `-T` lines of `s`: what differs from `parent` (or, for a server, from the defaults).
pub fn dump_settings(s: &CompressSettings, parent: Option<&CompressSettings>) -> Vec<String> {
    let default = CompressSettings::default();
    let p = parent.unwrap_or(&default);
    let on_off = |b: bool| if b { "on" } else { "off" };
    let mut out = Vec::new();
    let codings = [
        ("gzip", &s.gzip, &p.gzip),
        ("brotli", &s.brotli, &p.brotli),
        ("zstd", &s.zstd, &p.zstd),
    ];
    for (name, c, pc) in codings {
        if c.on != pc.on {
            out.push(format!("{name} {};", on_off(c.on)));
        }
        if c.types != pc.types {
            let types = if c.types.is_empty() {
                "text/html".to_string()
            } else {
                c.types.join(" ")
            };
            out.push(format!("{name}_types {types};"));
        }
        if c.min_length != pc.min_length {
            out.push(format!("{name}_min_length {};", c.min_length));
        }
        if c.level != pc.level {
            out.push(format!("{name}_comp_level {};", c.level));
        }
    }
    if s.vary != p.vary {
        out.push(format!("gzip_vary {};", on_off(s.vary)));
    }
    if s.proxied != p.proxied {
        out.push(format!("gzip_proxied {};", s.proxied.tokens()));
    }
    if s.disable != p.disable {
        let quoted: Vec<String> = s.disable.iter().map(|d| format!("\"{d}\"")).collect();
        out.push(format!("gzip_disable {};", quoted.join(" ")));
    }
    if s.http10 != p.http10 {
        let v = if s.http10 { "1.0" } else { "1.1" };
        out.push(format!("gzip_http_version {v};"));
    }
    out
}
