//! Config texts for tests: `@LISTEN@` placeholders, a proxy in front of one backend or a pool.

use super::*;

/// Placeholder in config texts, replaced by `127.0.0.1:PORT` by `Ringway::start`.
pub const LISTEN: &str = "@LISTEN@";

/// `http { server { listen @LISTEN@; location / { proxy_pass http://BACKEND; LOC } } }`
pub fn proxy_conf(backend: SocketAddr, loc_extra: &str) -> String {
    proxy_conf_full(backend, "", loc_extra)
}

/// Like `proxy_conf`, with extra server-level directives too.
pub fn proxy_conf_full(backend: SocketAddr, server_extra: &str, loc_extra: &str) -> String {
    format!(
        "http {{\n    server {{\n        listen {LISTEN};\n        {server_extra}\n        location / {{\n            proxy_pass http://{backend};\n            {loc_extra}\n        }}\n    }}\n}}\n"
    )
}

/// An `upstream` group named `pool` with the given servers and extra directives, proxied at `/`.
pub fn upstream_conf(backends: &[SocketAddr], upstream_extra: &str, loc_extra: &str) -> String {
    let servers: String = backends
        .iter()
        .map(|b| format!("        server {b};\n"))
        .collect();
    format!(
        "http {{\n    upstream pool {{\n{servers}        {upstream_extra}\n    }}\n    server {{\n        listen {LISTEN};\n        location / {{\n            proxy_pass http://pool;\n            {loc_extra}\n        }}\n    }}\n}}\n"
    )
}
