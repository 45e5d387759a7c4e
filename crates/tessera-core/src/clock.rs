//! The clock every time-dependent rule reads, so expiry and rotation logic has one source of "now".

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall clock in whole Unix seconds, the unit of every `*_at` column and JWT time claim.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock;

impl Clock {
    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}
