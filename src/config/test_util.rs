//! What the config front end's tests share: loading a text as `/etc/ringway/ringway.conf`
//! (relative paths in it start at `/etc/ringway`), expecting it to load or to fail.

use std::path::Path;

use super::{Config, ConfigError, parse_str};

pub fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_str(text, Path::new("/etc/ringway/ringway.conf"))
}

pub fn ok(text: &str) -> Config {
    parse(text).unwrap_or_else(|e| panic!("expected the config to load, got: {e}\n{text}"))
}

/// The error's text (file:line:column and what is wrong).
pub fn err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}
