//! The access step between route and rewrite (see ARCHITECTURE.md): who the client is and
//! whether it may go on, in nginx's order: real address, then allow/deny, then `auth_basic`,
//! then `auth_request`. Each file compiles its part of a location's settings once per config
//! generation and answers per request without parsing.
//!
//! - `realip`: `set_real_ip_from`, `real_ip_header`, `real_ip_recursive` (ngx_http_realip_module):
//!   the effective client address other steps key on.
//! - `rules`: `allow` / `deny` (ngx_http_access_module).
//! - `auth`, `auth_basic`, `htpasswd`, `auth_request`: authentication.

pub mod auth;
pub mod auth_basic;
pub mod auth_request;
pub mod htpasswd;
pub mod realip;
pub mod rules;
