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
