//! `root` and `index`: ringway serves no files, so they change nothing where every location they
//! reach proxies or returns (a common nginx config has `root` at server level beside proxied
//! locations): a notice there. Where nginx would serve files with them — a location with no
//! `proxy_pass` and no `return`, or a server's requests that match no location — ringway would
//! answer 404 instead, so the config is refused, at the directive's position.

use crate::config::error::{Pos, Result};

use super::server::{PLocation, PServer, match_text};

/// The reason given with the notice where they change nothing.
pub(super) const NOTICE: &str =
    "ringway serves no files; every location it applies to proxies or returns";

/// A `root` or `index` directive, as the level that sets it wrote it.
#[derive(Debug, Clone)]
pub(crate) struct FilesDirective {
    pub(super) name: String,
    pub(super) pos: Pos,
}

/// Checks one server: `http` is the http level's directive, if any.
pub(super) fn check_server(s: &PServer, http: Option<&FilesDirective>) -> Result<()> {
    let in_effect = s.layer.files.as_ref().or(http);
    if let Some(f) = in_effect
        && s.ret.is_none()
        && !s.locations.iter().any(is_catch_all)
    {
        return Err(f.pos.err(format!(
            "\"{}\" applies to the requests that match no location in the server at {}: nginx \
             would serve files for them, ringway serves none (it would answer 404); add \
             \"location / {{ return 404; }}\" or a proxy_pass, or remove \"{}\"",
            f.name,
            s.pos.short(),
            f.name
        )));
    }
    check_locations(&s.locations, in_effect)
}

fn check_locations(locs: &[PLocation], inherited: Option<&FilesDirective>) -> Result<()> {
    for l in locs {
        let in_effect = l.layer.files.as_ref().or(inherited);
        if let Some(f) = in_effect
            && l.proxy.is_none()
            && l.ret.is_none()
        {
            return Err(f.pos.err(format!(
                "\"{}\" applies to location \"{}\" at {}, which has no proxy_pass or return: \
                 nginx would serve files there, ringway serves none (it would answer 404); give \
                 that location a proxy_pass or a return (\"return 404;\" keeps ringway's answer), \
                 or remove \"{}\"",
                f.name,
                match_text(&l.matcher),
                l.pos.short(),
                f.name
            )));
        }
        check_locations(&l.children, in_effect)?;
    }
    Ok(())
}

/// `location /` or `location ^~ /`: every request of the server matches some location.
fn is_catch_all(l: &PLocation) -> bool {
    use crate::config::model::LocationMatch::{Prefix, PrefixNoRegex};
    matches!(&l.matcher, Prefix(p) | PrefixNoRegex(p) if p == "/")
}
