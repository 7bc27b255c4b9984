//! The `gzip*`, `brotli*` and `zstd*` directives into a level's `CompressLayer`, with nginx's
//! argument checks and errors.

use crate::config::compress::{CodingLayer, CompressLayer, PROXIED_TOKENS, Proxied};
use crate::config::error::Result;
use crate::config::parser::{Arg, Directive};

use super::*;

impl Builder {
    pub(super) fn compress_setting(&mut self, d: &Directive, l: &mut CompressLayer) -> Result<()> {
        let a = &d.args;
        match d.name.as_str() {
            "gzip" => set_once(&mut l.gzip.on, d, flag_arg(d, &a[0])?)?,
            "brotli" => set_once(&mut l.brotli.on, d, flag_arg(d, &a[0])?)?,
            "zstd" => set_once(&mut l.zstd.on, d, flag_arg(d, &a[0])?)?,
            "gzip_types" => types(d, &mut l.gzip)?,
            "brotli_types" => types(d, &mut l.brotli)?,
            "zstd_types" => types(d, &mut l.zstd)?,
            "gzip_min_length" => set_once(&mut l.gzip.min_length, d, size_arg(d, &a[0])?)?,
            "brotli_min_length" => set_once(&mut l.brotli.min_length, d, size_arg(d, &a[0])?)?,
            "zstd_min_length" => set_once(&mut l.zstd.min_length, d, size_arg(d, &a[0])?)?,
            "gzip_comp_level" => set_once(&mut l.gzip.level, d, level(d, &a[0], 1, 9)?)?,
            "brotli_comp_level" => set_once(&mut l.brotli.level, d, level(d, &a[0], 0, 11)?)?,
            "zstd_comp_level" => set_once(&mut l.zstd.level, d, level(d, &a[0], 1, 22)?)?,
            "gzip_vary" => set_once(&mut l.vary, d, flag_arg(d, &a[0])?)?,
            "gzip_http_version" => {
                let v = match a[0].value.as_str() {
                    "1.0" => true,
                    "1.1" => false,
                    _ => return Err(arg_err(&a[0], d, "it must be \"1.0\" or \"1.1\"")),
                };
                set_once(&mut l.http10, d, v)?;
            }
            "gzip_proxied" => {
                let mut p = Proxied::default();
                for x in a {
                    if !p.set(&x.value) {
                        return Err(arg_err(
                            x,
                            d,
                            &format!("it must be one of {PROXIED_TOKENS}"),
                        ));
                    }
                }
                set_once(&mut l.proxied, d, p)?;
            }
            "gzip_disable" => {
                let list = l.disable.get_or_insert_default();
                for x in a {
                    if x.value != "msie6" {
                        crate::config::values::check_regex(&x.value, true).map_err(|why| {
                            x.pos.err(format!("invalid regex \"{}\": {why}", x.value))
                        })?;
                    }
                    list.push(x.value.clone());
                }
            }
            "zstd_dict_file" => {
                return Err(d.pos.err(
                    "\"zstd_dict_file\" is not supported: a browser cannot decode a body compressed \
                     with a dictionary it was never given"
                        .to_string(),
                ));
            }
            "gzip_static" | "brotli_static" | "zstd_static" => {
                if a[0].value != "off" {
                    return Err(d.pos.err(format!(
                        "\"{0}\" is not supported: ringway serves no files \
                         (only \"{0} off\" is accepted)",
                        d.name
                    )));
                }
            }
            _ => return Err(internal(d)),
        }
        Ok(())
    }
}

/// `gzip_types` / `brotli_types` / `zstd_types`: MIME types (`text/html` is always included)
/// or `*`.
fn types(d: &Directive, l: &mut CodingLayer) -> Result<()> {
    let list = l.types.get_or_insert_default();
    for x in &d.args {
        let v = x.value.to_ascii_lowercase();
        let ok = v == "*"
            || v.split_once('/')
                .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty());
        if !ok {
            return Err(arg_err(
                x,
                d,
                "expected a MIME type such as text/css, or \"*\"",
            ));
        }
        list.push(v);
    }
    Ok(())
}

fn level(d: &Directive, a: &Arg, min: u32, max: u32) -> Result<u32> {
    match a.value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(arg_err(
            a,
            d,
            &format!("it must be between {min} and {max}"),
        )),
    }
}
