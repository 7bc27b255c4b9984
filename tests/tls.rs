//! TLS with real clients (issue 18): `openssl s_client` and `curl` against ringway's `listen …
//! ssl` servers, over loopback, with throwaway certificates made by `openssl` (see
//! `common/certs.rs`). Each module is one concern: basics and variables, SNI and certificate
//! choice, protocols, resumption across shards, client certificates, staples, broken
//! handshakes, proxying from and to TLS, reload, early data, what an idle connection holds.

#[path = "tls/clients.rs"]
mod clients;
mod common;

#[path = "tls/bad_input.rs"]
mod bad_input;
#[path = "tls/basics.rs"]
mod basics;
#[path = "tls/client_certs.rs"]
mod client_certs;
#[path = "tls/early_data.rs"]
mod early_data;
#[path = "tls/idle.rs"]
mod idle;
#[path = "tls/proxying.rs"]
mod proxying;
#[path = "tls/reload.rs"]
mod reload;
#[path = "tls/resumption.rs"]
mod resumption;
#[path = "tls/sni.rs"]
mod sni;
#[path = "tls/staple.rs"]
mod staple;
