//! Argument readers shared by the directive handlers: times, sizes, numbers, flags, header
//! names, variables in head text, and the errors they report.

use std::collections::HashSet;
use std::time::Duration;

use crate::config::ConfigError;
use crate::config::error::Result;
use crate::config::parser::{Arg, Directive};
use crate::config::values::{check_variables, is_token, parse_num, parse_size, parse_time};

pub(super) fn arg_err(a: &Arg, d: &Directive, expected: &str) -> ConfigError {
    a.pos.err(format!(
        "invalid value \"{}\" in \"{}\" directive, {expected}",
        a.value, d.name
    ))
}

pub(super) fn time_arg(d: &Directive, a: &Arg) -> Result<Duration> {
    parse_time(&a.value).ok_or_else(|| {
        arg_err(
            a,
            d,
            "expected a time such as 30s, 5m, 1h, 500ms or plain seconds",
        )
    })
}

pub(super) fn size_arg(d: &Directive, a: &Arg) -> Result<u64> {
    parse_size(&a.value).ok_or_else(|| arg_err(a, d, "expected a size such as 512, 1k or 10m"))
}

pub(super) fn num_arg<T: std::str::FromStr>(d: &Directive, a: &Arg) -> Result<T> {
    parse_num(&a.value).ok_or_else(|| arg_err(a, d, "expected a number"))
}

pub(super) fn flag_arg(d: &Directive, a: &Arg) -> Result<bool> {
    match a.value.as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(arg_err(a, d, "it must be \"on\" or \"off\"")),
    }
}

/// Variables in text that ends up in a message head (fields, `return` texts, redirect targets,
/// rewritten URIs). `$binary_remote_addr` is refused there (nginx allows it): its raw bytes may
/// form CR LF (13.10.x.x), which would split a header line; it belongs in keys (`hash`,
/// `limit_req_zone`, `limit_conn_zone`).
pub(super) fn text_vars(a: &Arg, caps: &HashSet<String>) -> Result<()> {
    check_variables(&a.value, caps).map_err(|m| a.pos.err(m))?;
    let t = &a.value;
    let raw = t.match_indices("binary_remote_addr").any(|(i, m)| {
        let before = &t[..i];
        let after = &t[i + m.len()..];
        (before.ends_with('$')
            && !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
            || (before.ends_with("${") && after.starts_with('}'))
    });
    if raw {
        return Err(a.pos.err(
            "variable \"$binary_remote_addr\" holds raw address bytes and cannot be used here \
             (use $remote_addr; it is for keys: hash, limit_req_zone, limit_conn_zone)",
        ));
    }
    Ok(())
}

pub(super) fn header_name(a: &Arg) -> Result<String> {
    if is_token(&a.value) {
        Ok(a.value.clone())
    } else {
        Err(a.pos.err(format!("invalid header name \"{}\"", a.value)))
    }
}

pub(super) fn set_once<T>(slot: &mut Option<T>, d: &Directive, v: T) -> Result<()> {
    if slot.is_some() {
        return Err(d.pos.err(format!("\"{}\" directive is duplicate", d.name)));
    }
    *slot = Some(v);
    Ok(())
}

pub(super) fn invalid_param(a: &Arg) -> ConfigError {
    a.pos.err(format!("invalid parameter \"{}\"", a.value))
}

pub(super) fn internal(d: &Directive) -> ConfigError {
    d.pos.err(format!(
        "internal error: directive \"{}\" has no handler",
        d.name
    ))
}
