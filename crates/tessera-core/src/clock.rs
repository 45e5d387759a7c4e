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

/// Unix seconds as a UTC date and time to the minute, e.g. "2026-11-28 01:23 UTC" (for people:
/// pages and e-mails).
pub fn utc_minute(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
    // `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod utc_minute_tests {
    #[test]
    fn times_are_shown_in_utc_to_the_minute() {
        assert_eq!(super::utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc_minute(1_795_829_025), "2026-11-28 01:23 UTC");
        assert_eq!(super::utc_minute(951_782_400), "2000-02-29 00:00 UTC");
    }
}
