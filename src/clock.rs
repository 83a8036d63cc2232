//! The service's one clock. Every "now" (token issue and expiry, leases, retries, runs, a
//! mail's Date header, the scheduler's day) is read here: one place to look when time matters.

use chrono::{DateTime, NaiveDate, Utc};

/// The current instant.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// The current instant in whole Unix seconds, as the store keeps times.
pub fn timestamp() -> i64 {
    now().timestamp()
}

/// Today's date in UTC, the day a command without `--date` works on.
pub fn today() -> NaiveDate {
    now().date_naive()
}

/// Unix seconds as an operator reads them, in UTC to the second (`2026-12-07 18:02:11`);
/// the number itself if it is out of chrono's range.
pub fn utc_text(t: i64) -> String {
    DateTime::from_timestamp(t, 0).map_or_else(
        || t.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}
