//! A location's cache settings as requests use them: the zone, compiled templates, and the
//! rules the policy reads. Made once per config compile (`LocCache::compile`).

use std::sync::Arc;
use std::time::Duration;

use super::zone::{Zone, zone_for};
use crate::config::cache::{CacheSettings, UseStale};
use crate::http::Method;
use crate::template::{Template, Vars};

pub struct LocCache {
    pub zone: Arc<Zone>,
    pub key: Template,
    pub valid: Vec<(Vec<u16>, Duration)>,
    pub ignore: super::policy::Ignore,
    methods_post: bool,
    pub min_uses: u32,
    pub bypass: Vec<Template>,
    pub no_cache: Vec<Template>,
    pub purge: Vec<Template>,
    pub use_stale: UseStale,
    pub background_update: bool,
    pub lock: bool,
    pub lock_timeout: Duration,
    pub lock_age: Duration,
    pub revalidate: bool,
    pub convert_head: bool,
    pub max_range_offset: Option<u64>,
}

fn templates(list: &[String], user: &[String]) -> Result<Vec<Template>, String> {
    list.iter()
        .map(|t| Template::compile_with(t, user))
        .collect()
}

impl std::fmt::Debug for LocCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocCache")
            .field("zone", &self.zone.name)
            .finish_non_exhaustive()
    }
}

impl LocCache {
    /// The runtime settings of a location with `proxy_cache ZONE` (None for `off`, and for
    /// locations without `proxy_cache_purge` either).
    pub fn compile(
        c: &CacheSettings,
        zones: &[crate::config::cache::CacheZone],
        user: &[String],
    ) -> Result<Option<LocCache>, String> {
        let Some(name) = &c.zone else {
            return Ok(None);
        };
        let z = zones
            .iter()
            .find(|z| &z.name == name)
            .ok_or_else(|| format!("unknown cache zone \"{name}\""))?;
        Ok(Some(LocCache {
            zone: zone_for(z)?,
            key: Template::compile_with(&c.key, user)?,
            valid: c
                .valid
                .iter()
                .map(|v| (v.statuses.clone(), v.time))
                .collect(),
            ignore: super::policy::Ignore {
                x_accel_expires: c.ignore.x_accel_expires,
                expires: c.ignore.expires,
                cache_control: c.ignore.cache_control,
                set_cookie: c.ignore.set_cookie,
                vary: c.ignore.vary,
            },
            methods_post: c.methods.post,
            min_uses: c.min_uses,
            bypass: templates(&c.bypass, user)?,
            no_cache: templates(&c.no_cache, user)?,
            purge: templates(&c.purge, user)?,
            use_stale: c.use_stale,
            background_update: c.background_update,
            lock: c.lock,
            lock_timeout: c.lock_timeout,
            lock_age: c.lock_age,
            revalidate: c.revalidate,
            convert_head: c.convert_head,
            max_range_offset: c.max_range_offset,
        }))
    }

    /// `proxy_cache_methods` (GET and HEAD always).
    pub fn caches(&self, m: Method) -> bool {
        matches!(m, Method::Get | Method::Head) || (self.methods_post && m == Method::Post)
    }
}

/// nginx's test for `proxy_cache_bypass`, `proxy_no_cache`, `proxy_cache_purge`: any value that
/// renders neither empty nor "0".
pub fn any_set(list: &[Template], vars: &Vars<'_>) -> bool {
    let mut out = Vec::new();
    list.iter().any(|t| {
        out.clear();
        t.render(vars, &mut out);
        !out.is_empty() && out != b"0"
    })
}
