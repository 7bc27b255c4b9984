//! A shard's limit zones and a location's compiled limits.
//!
//! Each shard keeps its own table per zone (no state is shared between shards) and enforces its
//! share of the configured numbers, so that the sum over all shards is what the config says:
//! - `rate`, `burst` and `delay=` are divided by the number of shards (in milli-requests, so
//!   `rate=1r/s` over 4 shards is 250 mr/s each; nothing rounds away to zero). A client's
//!   connections are spread over the shards by the kernel's `SO_REUSEPORT` hash, so a client with
//!   many connections gets the configured rate in total; a client with one keep-alive connection
//!   stays on one shard and gets that shard's share (rate / shards).
//! - `limit_conn N` is split as evenly as integers allow (shard i gets N / shards, plus one for
//!   the first N % shards), but at least 1 per shard: a limit smaller than the number of shards
//!   would otherwise refuse every client whose connection landed on a shard with a share of 0.
//!
//! The zone size bounds each shard's table the way nginx counts it for a `$binary_remote_addr`
//! key on 64-bit: 128 bytes per `limit_req` state, 64 per `limit_conn` state (1 MiB keeps about
//! 8,000 and 16,000 keys). Every shard gets the whole count, because every shard may see every
//! client; memory is bounded by about shards × SIZE in all.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use super::limit_conn::{ConnRule, ConnZone};
use super::limit_req::{ReqRule, ReqState, ReqZone};
use super::table::Table;
use crate::config::LogLevel;
use crate::template::Template;

/// Bytes of zone per state, as nginx sizes them for `$binary_remote_addr` on 64-bit.
pub const REQ_STATE_BYTES: u64 = 128;
pub const CONN_STATE_BYTES: u64 = 64;

/// This shard's place among all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub index: usize,
    pub of: usize,
}

impl Share {
    pub const ONE: Share = Share { index: 0, of: 1 };

    /// This shard's part of `n` (milli-requests): n / shards.
    pub fn part(self, n: u64) -> u64 {
        n / self.of.max(1) as u64
    }

    /// This shard's part of a whole count: split evenly, remainder to the first shards, at
    /// least 1.
    pub fn count(self, n: u32) -> u32 {
        let of = self.of.max(1) as u32;
        let extra = u32::from((self.index as u32) < n % of);
        (n / of + extra).max(1)
    }
}

/// A zone as compiled from the config.
#[derive(Debug, Clone)]
pub struct ZoneSpec {
    pub name: String,
    pub key_text: String,
    pub key: Template,
    pub size: u64,
    /// milli-requests per second (all shards together) for `limit_req_zone`; None for
    /// `limit_conn_zone`.
    pub rate: Option<u64>,
}

/// A location's limits, with zones as indexes into the shard's `Zones`.
#[derive(Debug, Clone)]
pub struct LocationLimits {
    pub req: Box<[ReqRule]>,
    pub req_status: u16,
    pub req_level: LogLevel,
    pub req_dry_run: bool,
    pub conn: Box<[ConnRule]>,
    pub conn_status: u16,
    pub conn_level: LogLevel,
    pub conn_dry_run: bool,
}

impl Default for LocationLimits {
    fn default() -> Self {
        LocationLimits {
            req: Box::default(),
            req_status: 503,
            req_level: LogLevel::Error,
            req_dry_run: false,
            conn: Box::default(),
            conn_status: 503,
            conn_level: LogLevel::Error,
            conn_dry_run: false,
        }
    }
}

impl LocationLimits {
    pub fn is_empty(&self) -> bool {
        self.req.is_empty() && self.conn.is_empty()
    }

    /// Compiles a location's limits; zone names index `zones` (the config checked they exist).
    pub fn compile(l: &crate::config::Limits, zones: &[ZoneSpec]) -> LocationLimits {
        let index = |name: &str, req: bool| {
            zones
                .iter()
                .filter(|z| z.rate.is_some() == req)
                .position(|z| z.name == name)
        };
        LocationLimits {
            req: l
                .req
                .iter()
                .filter_map(|r| {
                    Some(ReqRule {
                        zone: index(&r.zone, true)?,
                        burst: r.burst * 1000,
                        delay: r.delay.map_or(u64::MAX, |d| d * 1000),
                    })
                })
                .collect(),
            req_status: l.req_status,
            req_level: l.req_log_level,
            req_dry_run: l.req_dry_run,
            conn: l
                .conn
                .iter()
                .filter_map(|c| {
                    Some(ConnRule {
                        zone: index(&c.zone, false)?,
                        max: c.max,
                    })
                })
                .collect(),
            conn_status: l.conn_status,
            conn_level: l.conn_log_level,
            conn_dry_run: l.conn_dry_run,
        }
    }
}

/// One shard's zones for a config generation. Tables are carried over from the previous
/// generation when a zone keeps its name, kind and key (nginx keeps zone contents across
/// reloads too), so a reload neither resets the limits nor loses count of requests in progress.
pub struct Zones {
    pub(super) req: Vec<ReqZone>,
    pub(super) conn: Vec<ConnZone>,
    pub(super) share: Share,
    /// Scratch for rendering keys and staging `limit_req` results (no allocation per request).
    pub(super) key: RefCell<Vec<u8>>,
    pub(super) staged: RefCell<Vec<(usize, u32, bool)>>,
}

impl Zones {
    pub fn share(&self) -> Share {
        self.share
    }

    /// (zone, "req" | "conn", requests this shard refused), for metrics.
    pub fn refusals(&self) -> impl Iterator<Item = (&str, &'static str, u64)> {
        let req = self.req.iter().map(|z| (&*z.name, "req", z.refused.get()));
        let conn = self
            .conn
            .iter()
            .map(|z| (&*z.name, "conn", z.refused.get()));
        req.chain(conn)
    }

    pub fn new(specs: &[ZoneSpec], share: Share, prev: Option<&Zones>) -> Zones {
        let mut req = Vec::new();
        let mut conn = Vec::new();
        for s in specs {
            match s.rate {
                Some(rate) => {
                    let cap = (s.size / REQ_STATE_BYTES) as usize;
                    let old = prev.and_then(|p| {
                        p.req
                            .iter()
                            .find(|z| *z.name == *s.name && z.key_text == s.key_text)
                    });
                    let (table, epoch, refused) = match old {
                        Some(o) => {
                            o.table.borrow_mut().set_capacity(cap);
                            (o.table.clone(), o.epoch, o.refused.clone())
                        }
                        None => (
                            Rc::new(RefCell::new(Table::<ReqState>::new(cap))),
                            Instant::now(),
                            Rc::default(),
                        ),
                    };
                    req.push(ReqZone {
                        name: s.name.as_str().into(),
                        key_text: s.key_text.clone(),
                        key: s.key.clone(),
                        rate: share.part(rate).max(1),
                        table,
                        epoch,
                        refused,
                    });
                }
                None => {
                    let cap = (s.size / CONN_STATE_BYTES) as usize;
                    let old = prev.and_then(|p| {
                        p.conn
                            .iter()
                            .find(|z| *z.name == *s.name && z.key_text == s.key_text)
                    });
                    let (table, refused) = match old {
                        Some(o) => {
                            o.table.borrow_mut().set_capacity(cap);
                            (o.table.clone(), o.refused.clone())
                        }
                        None => (Rc::new(RefCell::new(Table::new(cap))), Rc::default()),
                    };
                    conn.push(ConnZone {
                        name: s.name.as_str().into(),
                        key_text: s.key_text.clone(),
                        key: s.key.clone(),
                        table,
                        refused,
                    });
                }
            }
        }
        Zones {
            req,
            conn,
            share,
            key: RefCell::default(),
            staged: RefCell::default(),
        }
    }
}
