//! The `http2*` directives into a level's `Http2Layer`, with nginx's argument checks.

use crate::config::error::Result;
use crate::config::http2::Http2Layer;
use crate::config::parser::Directive;

use super::*;

/// The smallest `http2_chunk_size` and `http2_body_preread_size` worth taking (nginx: > 0).
const MIN_SIZE: u64 = 1;
/// HTTP/2's largest flow-control window (RFC 9113 §6.9.1).
const MAX_WINDOW: u64 = (1 << 31) - 1;

impl Builder {
    pub(super) fn http2_setting(&mut self, d: &Directive, l: &mut Http2Layer) -> Result<()> {
        let a = &d.args[0];
        match d.name.as_str() {
            "http2" => set_once(&mut l.on, d, flag_arg(d, a)?)?,
            "http2_max_concurrent_streams" => {
                let n: u32 = num_arg(d, a)?;
                set_once(&mut l.max_concurrent_streams, d, n)?
            }
            "http2_chunk_size" => {
                let n = sized(d, MIN_SIZE, 16 * 1024 * 1024 - 1)?;
                set_once(&mut l.chunk_size, d, n as usize)?
            }
            "http2_body_preread_size" => {
                let n = sized(d, 0, MAX_WINDOW)?;
                set_once(&mut l.body_preread_size, d, n as u32)?
            }
            _ => return Err(internal(d)),
        }
        Ok(())
    }
}

/// A size argument within `min..=max`.
fn sized(d: &Directive, min: u64, max: u64) -> Result<u64> {
    let a = &d.args[0];
    let n = size_arg(d, a)?;
    if n < min || n > max {
        return Err(arg_err(
            a,
            d,
            &format!("it must be between {min} and {max} bytes"),
        ));
    }
    Ok(n)
}
