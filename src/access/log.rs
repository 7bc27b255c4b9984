//! nginx's `limit_*_log_level` mapped onto tracing's levels (notice → info). Delays are logged
//! one level lower than refusals, as nginx does.

use std::fmt::Arguments;

use tracing::{debug, error, info, warn};

use crate::config::LogLevel;

pub fn event(level: LogLevel, lower: bool, args: Arguments<'_>) {
    match (level, lower) {
        (LogLevel::Error, false) => error!("{args}"),
        (LogLevel::Error, true) | (LogLevel::Warn, false) => warn!("{args}"),
        (LogLevel::Info, true) => debug!("{args}"),
        _ => info!("{args}"),
    }
}
