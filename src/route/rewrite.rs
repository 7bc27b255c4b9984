//! nginx's rewrite phase for the common cases: `rewrite REGEX REPLACEMENT [last|break|redirect|
//! permanent]` at server and location level, then the location search again when a location's
//! rewrites changed the URI (`last`, or no flag), at most 10 times as in nginx.

use std::rc::Rc;

use super::{Location, ServerRt, Template, Vars};
use crate::config::RewriteFlag;

#[derive(Debug)]
pub struct Rewrite {
    pub re: regex::bytes::Regex,
    pub replacement: Template,
    pub flag: RewriteFlag,
    /// The replacement starts with `http://`, `https://` or `$scheme`: an external redirect.
    pub external: bool,
}

/// Where the rewrite phase left a request.
pub enum Routed<'a> {
    /// Handle it in this location; `uri` is the new URI (with arguments) if it changed, and
    /// `broke` says `break` stopped the phase (then `proxy_pass` sends the URI as it is).
    Location {
        loc: &'a Rc<Location>,
        uri: Option<Vec<u8>>,
        broke: bool,
    },
    /// Answer with a redirect (`redirect`, `permanent`, or an external replacement).
    Redirect { code: u16, location: Vec<u8> },
    /// Rewrite cycles exceeded (nginx answers 500).
    Loop,
}

enum Step {
    /// Went through the list: the URI may have changed.
    Done {
        changed: bool,
    },
    /// `last` or `break`.
    Stop {
        flag: RewriteFlag,
    },
    Redirect {
        code: u16,
        location: Vec<u8>,
    },
}

const MAX_CYCLES: usize = 10;

/// Runs the server's rewrites, finds the location, runs its rewrites, and searches again while
/// they change the URI. `uri` is the request's path and arguments.
pub fn route<'a>(server: &'a ServerRt, uri: &[u8], vars: &Vars<'_>) -> Option<Routed<'a>> {
    let mut cur = uri.to_vec();
    // At server level `last` and `break` both just end the list.
    if let Step::Redirect { code, location } = apply(&server.rewrites, &mut cur, vars) {
        return Some(Routed::Redirect { code, location });
    }
    for _ in 0..MAX_CYCLES {
        let loc = server.locations.find(path_of(&cur))?;
        match apply(&loc.rewrites, &mut cur, vars) {
            Step::Redirect { code, location } => return Some(Routed::Redirect { code, location }),
            Step::Stop {
                flag: RewriteFlag::Break,
            } => {
                let changed = cur != uri;
                return Some(Routed::Location {
                    loc,
                    uri: changed.then_some(cur),
                    broke: true,
                });
            }
            Step::Stop { .. } | Step::Done { changed: true } => continue,
            Step::Done { changed: false } => {
                let changed = cur != uri;
                return Some(Routed::Location {
                    loc,
                    uri: changed.then_some(cur),
                    broke: false,
                });
            }
        }
    }
    Some(Routed::Loop)
}

fn path_of(uri: &[u8]) -> &[u8] {
    match uri.iter().position(|&c| c == b'?') {
        Some(0) => b"/",
        Some(i) => &uri[..i],
        None => uri,
    }
}

fn apply(list: &[Rewrite], uri: &mut Vec<u8>, vars: &Vars<'_>) -> Step {
    let mut changed = false;
    for rw in list {
        let split = uri.iter().position(|&c| c == b'?').unwrap_or(uri.len());
        let (path, args) = (&uri[..split], &uri[split..]);
        let Some(caps) = rw.re.captures(path) else {
            continue;
        };
        let mut out = Vec::with_capacity(path.len() + 16);
        let v = Vars {
            uri: uri.as_slice(),
            captures: Some(&caps),
            ..*vars
        };
        rw.replacement.render(&v, &mut out);
        // nginx: the original arguments follow the replacement's own (after `&`), unless the
        // replacement ends with `?`, which drops them.
        if out.last() == Some(&b'?') {
            out.pop();
        } else if out.contains(&b'?') {
            if args.len() > 1 {
                out.push(b'&');
                out.extend_from_slice(&args[1..]);
            }
        } else {
            out.extend_from_slice(args);
        }
        let code = match rw.flag {
            RewriteFlag::Permanent => Some(301),
            RewriteFlag::Redirect => Some(302),
            _ if rw.external => Some(302),
            _ => None,
        };
        if let Some(code) = code {
            return Step::Redirect {
                code,
                location: out,
            };
        }
        drop(caps);
        *uri = out;
        changed = true;
        match rw.flag {
            RewriteFlag::Last | RewriteFlag::Break => return Step::Stop { flag: rw.flag },
            _ => {}
        }
    }
    Step::Done { changed }
}
