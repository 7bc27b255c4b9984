//! Prometheus text exposition, format 0.0.4 (what `Content-Type: text/plain; version=0.0.4`
//! promises): `# HELP`, `# TYPE`, then one sample per line, label values escaped.
//!
//! Written here rather than with the `prometheus-client` crate: that crate encodes OpenMetrics
//! only (`# EOF`, `application/openmetrics-text`, `_total` added by the encoder), and its
//! registry wants metric objects that own their values, while these values are sums of
//! snapshots made per scrape. The format is small; a test checks it with Prometheus's own
//! Python parser.

use std::fmt::Write;

use super::counters::{BUCKETS_US, CLASSES, FailKind, HistogramSnap};
use super::process::Facts;
use super::scrape::Gathered;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The whole exposition for a gathered scrape.
pub fn encode(g: &Gathered, facts: &Facts, out: &mut String) {
    let t = &g.total;
    let mut e = Enc { out };
    e.family("ringway_info", "ringway's version.", "gauge");
    e.sample(
        "ringway_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    e.single(
        "ringway_shards",
        "Shards (worker threads).",
        "gauge",
        g.shards as f64,
    );
    e.single(
        "ringway_scrape_missing_shards",
        "Shards that did not answer this scrape in time (their counters are left out).",
        "gauge",
        g.missing as f64,
    );
    e.single(
        "ringway_scrape_duration_seconds",
        "Time this scrape took to gather the shards' snapshots.",
        "gauge",
        g.took.as_secs_f64(),
    );
    e.single(
        "ringway_start_time_seconds",
        "Process start, Unix time.",
        "gauge",
        facts.start_unix as f64,
    );
    e.single(
        "ringway_reloads_total",
        "Configuration reloads applied.",
        "counter",
        facts.reloads as f64,
    );
    e.single(
        "ringway_reload_failures_total",
        "Configuration reloads refused (the running configuration stayed).",
        "counter",
        facts.reload_failures as f64,
    );
    e.single(
        "ringway_last_reload_time_seconds",
        "Unix time of the last reload attempt (0: none yet).",
        "gauge",
        facts.last_reload_unix as f64,
    );
    e.single(
        "ringway_last_reload_success",
        "Whether the last reload attempt was applied (1) or refused (0).",
        "gauge",
        f64::from(u8::from(facts.last_reload_ok)),
    );
    connections(&mut e, g);
    locations(&mut e, g);
    upstreams(&mut e, g);
    listeners(&mut e, g);
    e.family(
        "ringway_limit_refused_total",
        "Requests refused by limit_req or limit_conn, by zone.",
        "counter",
    );
    for ((zone, kind), n) in &t.zones {
        e.sample(
            "ringway_limit_refused_total",
            &[("zone", zone), ("limit", kind)],
            *n as f64,
        );
    }
}

fn connections(e: &mut Enc<'_>, g: &Gathered) {
    let c = &g.total.conns;
    let gauges = [
        ("active", "Open client connections.", c.active),
        ("reading", "Connections reading a request head.", c.reading),
        ("writing", "Connections serving a request.", c.writing),
        ("waiting", "Idle client connections.", c.waiting()),
    ];
    for (what, help, v) in gauges {
        e.single(
            &format!("ringway_connections_{what}"),
            help,
            "gauge",
            v as f64,
        );
    }
    e.single(
        "ringway_connections_accepted_total",
        "Client connections accepted (refused ones included, as nginx's accepts).",
        "counter",
        c.accepts as f64,
    );
    e.single(
        "ringway_connections_handled_total",
        "Client connections accepted and served.",
        "counter",
        c.handled as f64,
    );
    e.single(
        "ringway_requests_total",
        "Client requests.",
        "counter",
        c.requests as f64,
    );
}

fn locations(e: &mut Enc<'_>, g: &Gathered) {
    let locs = &g.total.locations;
    e.family(
        "ringway_location_requests_total",
        "Requests by server name, location and status class (none: no status was sent).",
        "counter",
    );
    for ((server, loc), c) in locs {
        for (class, n) in CLASSES.iter().zip(c.by_class) {
            let labels = [("server", &server[..]), ("location", loc), ("class", class)];
            e.sample("ringway_location_requests_total", &labels, n as f64);
        }
    }
    let bytes = [
        (
            "received",
            "Bytes received from clients (heads and bodies).",
        ),
        ("sent", "Bytes sent to clients (heads and bodies)."),
    ];
    for (what, help) in bytes {
        let name = format!("ringway_location_{what}_bytes_total");
        e.family(&name, help, "counter");
        for ((server, loc), c) in locs {
            let v = if what == "sent" { c.sent } else { c.received };
            e.sample(&name, &[("server", server), ("location", loc)], v as f64);
        }
    }
    let name = "ringway_location_request_duration_seconds";
    e.family(
        name,
        "Request duration, from its first byte to its end.",
        "histogram",
    );
    for ((server, loc), c) in locs {
        e.histogram(name, &[("server", server), ("location", loc)], &c.duration);
    }
}

fn upstreams(e: &mut Enc<'_>, g: &Gathered) {
    let ups = &g.total.upstreams;
    let label = |k: &(String, std::net::SocketAddr)| (k.0.clone(), k.1.to_string());
    e.family(
        "ringway_upstream_requests_total",
        "Attempts sent to each upstream server (a retried request counts on each server tried).",
        "counter",
    );
    for (k, s) in ups {
        let (u, a) = label(k);
        let v = s.counts.requests as f64;
        e.sample(
            "ringway_upstream_requests_total",
            &[("upstream", &u), ("server", &a)],
            v,
        );
    }
    e.family(
        "ringway_upstream_failures_total",
        "Failed attempts by kind (status: a 5xx/429 that proxy_next_upstream counts as failure).",
        "counter",
    );
    for (k, s) in ups {
        let (u, a) = label(k);
        for kind in FailKind::ALL {
            let labels = [("upstream", &u[..]), ("server", &a), ("kind", kind.label())];
            let v = s.counts.failures[kind as usize] as f64;
            e.sample("ringway_upstream_failures_total", &labels, v);
        }
    }
    e.family(
        "ringway_upstream_connections_total",
        "Connections used for attempts: reused from the keep-alive pool, or new.",
        "counter",
    );
    for (k, s) in ups {
        let (u, a) = label(k);
        for (reused, v) in [
            ("true", s.counts.reused_conns),
            ("false", s.counts.new_conns),
        ] {
            let labels = [("upstream", &u[..]), ("server", &a), ("reused", reused)];
            e.sample("ringway_upstream_connections_total", &labels, v as f64);
        }
    }
    type Get = fn(&super::snapshot::UpstreamState) -> f64;
    let gauges: [(&str, &str, Get); 6] = [
        (
            "up",
            "1 unless the server is down (health check, passive health on every shard, or down \
             in the config).",
            |s| f64::from(u8::from(!matches!(s.state(), "down" | "disabled"))),
        ),
        (
            "passive_down_shards",
            "Shards where max_fails/fail_timeout has the server out.",
            |s| s.passive_down as f64,
        ),
        (
            "check_down_shards",
            "Shards where the active health check has the server down.",
            |s| s.check_down as f64,
        ),
        (
            "keepalive_idle",
            "Idle keep-alive connections pooled to the server.",
            |s| s.idle_pool as f64,
        ),
        ("in_flight", "Requests in flight to the server.", |s| {
            s.in_flight as f64
        }),
        (
            "reuse_ratio",
            "Share of attempts that reused a pooled connection.",
            |s| {
                let all = s.counts.reused_conns + s.counts.new_conns;
                if all == 0 {
                    0.0
                } else {
                    s.counts.reused_conns as f64 / all as f64
                }
            },
        ),
    ];
    for (what, help, f) in gauges {
        let name = format!("ringway_upstream_{what}");
        e.family(&name, help, "gauge");
        for (k, s) in ups {
            let (u, a) = label(k);
            e.sample(&name, &[("upstream", &u), ("server", &a)], f(s));
        }
    }
    let name = "ringway_upstream_header_duration_seconds";
    e.family(
        name,
        "Attempt start to complete response head ($upstream_header_time).",
        "histogram",
    );
    for (k, s) in ups {
        let (u, a) = label(k);
        e.histogram(
            name,
            &[("upstream", &u), ("server", &a)],
            &s.counts.header_time,
        );
    }
}

fn listeners(e: &mut Enc<'_>, g: &Gathered) {
    type Get = fn(&super::counters::ListenerCounts) -> u64;
    let all: [(&str, &str, &str, Get); 6] = [
        ("accepted_total", "Connections accepted.", "counter", |c| {
            c.accepted
        }),
        ("active", "Open connections.", "gauge", |c| c.active),
        (
            "parked",
            "Idle connections parked (no task, no buffer).",
            "gauge",
            |c| c.parked,
        ),
        (
            "refused_total",
            "Connections closed at once: worker_connections or max_connections full.",
            "counter",
            |c| c.refused,
        ),
        (
            "tls_handshakes_total",
            "TLS handshakes completed.",
            "counter",
            |c| c.tls_handshakes,
        ),
        (
            "tls_handshake_failures_total",
            "TLS handshakes that failed.",
            "counter",
            |c| c.tls_failures,
        ),
    ];
    for (what, help, kind, f) in all {
        let name = format!("ringway_listener_{what}");
        e.family(&name, help, kind);
        for (addr, c) in &g.total.listeners {
            e.sample(&name, &[("listener", &addr.to_string())], f(c) as f64);
        }
    }
}

struct Enc<'a> {
    out: &'a mut String,
}

impl Enc<'_> {
    fn family(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn single(&mut self, name: &str, help: &str, kind: &str, v: f64) {
        self.family(name, help, kind);
        self.sample(name, &[], v);
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_label(val, self.out);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {v}");
    }

    /// `_bucket` lines (cumulative, `le` last), `_sum` and `_count`.
    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &HistogramSnap) {
        let bucket = format!("{name}_bucket");
        let mut seen = 0;
        for (i, c) in h.counts.iter().enumerate() {
            seen += c;
            let le = match BUCKETS_US.get(i) {
                Some(us) => (*us as f64 / 1e6).to_string(),
                None => "+Inf".to_string(),
            };
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, seen as f64);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum_us as f64 / 1e6);
        self.sample(&format!("{name}_count"), labels, seen as f64);
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        escape_label("a\"b\\c\nd", &mut out);
        assert_eq!(out, "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn histograms_are_cumulative_and_end_with_inf() {
        let mut out = String::new();
        let mut h = HistogramSnap::default();
        h.counts[0] = 2;
        h.counts[3] = 1;
        h.sum_us = 1_500_000;
        Enc { out: &mut out }.histogram("x", &[("a", "b")], &h);
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.0005\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.0025\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.005\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_sum{a=\"b\"} 1.5\n"), "{out}");
        assert!(out.contains("x_count{a=\"b\"} 3\n"), "{out}");
    }
}
