//! The pure parts of proxy_cache: key hashing and the on-disk layout (`key`), whether and how long
//! a response may be stored (`policy`), ringway's entry file format (`entry`) and answering a
//! request from a stored entry (`conditional`). No sockets, no async, no configuration parsing:
//! the runtime and the config model call into these.

pub mod clock;
pub mod coded;
pub mod conditional;
pub mod entry;
pub mod keeper;
pub mod key;
pub mod policy;
pub mod settings;
pub mod store;
pub mod walk;
pub mod zone;

pub use clock::{http_date, unix_now};
pub use key::KeyHash;

/// Unix seconds of an HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, RFC 850 and asctime forms, as
/// nginx's `ngx_parse_http_time` reads them); `None` when the value is not a date.
pub(crate) fn parse_http_date(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(crate::http::util::trim_ows(v)).ok()?;
    let t = httpdate::parse_http_date(s).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// The value of the first field called `name` (ASCII case-insensitive), as nginx keeps the first
/// of a field it reads once (`headers_in.if_modified_since`, `headers_in.range`, ...).
pub(crate) fn first_field<'a>(fields: &[(&[u8], &'a [u8])], name: &[u8]) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| crate::http::util::trim_ows(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_in_all_three_forms() {
        // RFC 9110 §5.6.7: 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        assert_eq!(
            parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(
            parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(
            parse_http_date(b"Sun Nov  6 08:49:37 1994"),
            Some(784111777)
        );
        assert_eq!(parse_http_date(b"0"), None);
        assert_eq!(parse_http_date(b"\xff"), None);
    }

    #[test]
    fn first_field_is_case_insensitive() {
        let f: &[(&[u8], &[u8])] = &[(b"a", b"1"), (b"Range", b" x "), (b"range", b"y")];
        assert_eq!(first_field(f, b"RANGE"), Some(&b"x"[..]));
        assert_eq!(first_field(f, b"b"), None);
    }
}
