//! The live status page (`ringway_status;`): one HTML file with its script, embedded, and the
//! JSON view of a scrape it polls (the same location with `?json`, or `Accept:
//! application/json`). Rates are computed by the page from successive counters.

use std::fmt::Write;

use super::process::Facts;
use super::scrape::Gathered;

pub const HTML: &str = include_str!("status.html");

/// The JSON view of a gathered scrape.
pub fn json(g: &Gathered, facts: &Facts, out: &mut String) {
    let t = &g.total;
    let c = &t.conns;
    let _ = write!(
        out,
        "{{\"version\":\"{}\",\"now\":{},\"start\":{},\"shards\":{},\"missing\":{},\
         \"reloads\":{},\"reload_failures\":{},\"last_reload\":{},\"last_reload_ok\":{},\
         \"conns\":{{\"active\":{},\"reading\":{},\"writing\":{},\"waiting\":{},\
         \"accepts\":{},\"handled\":{},\"requests\":{}}},\"upstreams\":[",
        env!("CARGO_PKG_VERSION"),
        facts.now_unix,
        facts.start_unix,
        g.shards,
        g.missing,
        facts.reloads,
        facts.reload_failures,
        facts.last_reload_unix,
        facts.last_reload_ok,
        c.active,
        c.reading,
        c.writing,
        c.waiting(),
        c.accepts,
        c.handled,
        c.requests
    );
    for (i, ((group, addr), s)) in t.upstreams.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"group\":");
        string(group, out);
        let h = &s.counts.header_time;
        let _ = write!(
            out,
            ",\"server\":\"{addr}\",\"state\":\"{}\",\"backup\":{},\"requests\":{},\"failures\":{},\
             \"in_flight\":{},\"idle\":{},\"reused\":{},\"new\":{},\"p50\":{},\"p99\":{}}}",
            s.state(),
            s.backup,
            s.counts.requests,
            s.counts.failures.iter().sum::<u64>(),
            s.in_flight,
            s.idle_pool,
            s.counts.reused_conns,
            s.counts.new_conns,
            num(h.quantile(0.5)),
            num(h.quantile(0.99)),
        );
    }
    out.push_str("],\"locations\":[");
    for (i, ((server, loc), l)) in t.locations.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"server\":");
        string(server, out);
        out.push_str(",\"location\":");
        string(loc, out);
        let _ = write!(
            out,
            ",\"requests\":{},\"c4xx\":{},\"c5xx\":{},\"p50\":{},\"p99\":{}}}",
            l.requests(),
            l.by_class[3],
            l.by_class[4],
            num(l.duration.quantile(0.5)),
            num(l.duration.quantile(0.99)),
        );
    }
    out.push_str("],\"listeners\":[");
    for (i, (addr, l)) in t.listeners.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"addr\":\"{addr}\",\"accepted\":{},\"active\":{},\"parked\":{},\"refused\":{}}}",
            l.accepted, l.active, l.parked, l.refused
        );
    }
    out.push_str("]}");
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

/// A JSON string literal.
fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        super::string("a\"b\\c\n", &mut out);
        assert_eq!(out, "\"a\\\"b\\\\c\\u000a\"");
    }
}
