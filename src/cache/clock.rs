//! Wall-clock seconds, as entries record their times (nginx's `valid_sec`, `date`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// An IMF-fixdate for `secs` (If-Modified-Since of a revalidation).
pub fn http_date(secs: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    httpdate::fmt_http_date(t)
}
