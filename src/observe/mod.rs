//! Observing requests and the process: access log lines from the outcome record (`log`,
//! `format`, per-shard `writer`s of files the main thread opens, `files`), the nginx-format
//! error log (`error_log`), and per-shard counters with their exposition (`metrics`). Knows
//! nothing of the request path's insides beyond the outcome record and the template variables.

pub mod clock;
pub mod error_log;
pub mod files;
pub mod format;
pub mod log;
pub mod metrics;
pub mod writer;
