//! The access step between route and rewrite (see ARCHITECTURE.md): who the client is and
//! whether it may go on. Each file compiles its part of a location's settings once per config
//! generation and answers per request without parsing or allocating.
//!
//! - `realip`: `set_real_ip_from`, `real_ip_header`, `real_ip_recursive` (ngx_http_realip_module):
//!   the effective client address other steps key on.
//! - `rules`: `allow` / `deny` (ngx_http_access_module).

pub mod realip;
pub mod rules;
