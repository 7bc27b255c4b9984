//! The access phase, between routing and rewriting the upstream head: checks that may answer
//! the request themselves (nginx's order: allow/deny, then `auth_basic`, then `auth_request`).

pub mod auth;
pub mod auth_basic;
pub mod auth_request;
pub mod htpasswd;
