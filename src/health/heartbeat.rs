//! The scheduler's heartbeat, kept in memory: each process runs its own scheduler, and it is
//! that process's readiness that the heartbeat speaks for. The scheduler beats every
//! [`BEAT_EVERY`] while it waits for its next tick and while a job runs, so a task that died
//! (a panic) or that stopped being polled shows as a heartbeat gone stale.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// How often the scheduler beats.
pub const BEAT_EVERY: Duration = Duration::from_secs(15);
/// A heartbeat older than this (eight beats missed) means the scheduler has stopped.
pub const STALE_AFTER_SECONDS: i64 = 120;
/// A daily job running longer than this is reported (delivering a million digests through
/// a rate-limited relay takes hours; longer than this it is likely stuck).
pub const LONG_JOB_SECONDS: i64 = 6 * 3600;

/// What the scheduler last said about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Beats {
    /// The last beat; `None` before the scheduler started.
    pub beat_at: Option<DateTime<Utc>>,
    /// When the next run is due, while waiting for it.
    pub next_run: Option<DateTime<Utc>>,
    /// When the job now running started.
    pub running_since: Option<DateTime<Utc>>,
    /// How the last job ended: when, and whether it succeeded.
    pub last_run: Option<(DateTime<Utc>, bool)>,
    /// The schedule has no next run: the scheduler ended.
    pub ended: bool,
}

/// Shared between the scheduler (which beats) and the readiness check (which reads).
#[derive(Clone, Debug, Default)]
pub struct Heartbeat(Arc<Mutex<Beats>>);

impl Heartbeat {
    fn update(&self, f: impl FnOnce(&mut Beats)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub fn read(&self) -> Beats {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Alive at `now`.
    pub fn beat(&self, now: DateTime<Utc>) {
        self.update(|b| b.beat_at = Some(now));
    }

    /// Waiting for the run at `next`.
    pub fn waiting(&self, now: DateTime<Utc>, next: DateTime<Utc>) {
        self.update(|b| {
            b.beat_at = Some(now);
            b.next_run = Some(next);
            b.running_since = None;
        });
    }

    /// A job started at `now`.
    pub fn running(&self, now: DateTime<Utc>) {
        self.update(|b| {
            b.beat_at = Some(now);
            b.next_run = None;
            b.running_since = Some(now);
        });
    }

    /// The job ended at `now`, well or not.
    pub fn finished(&self, now: DateTime<Utc>, ok: bool) {
        self.update(|b| {
            b.beat_at = Some(now);
            b.running_since = None;
            b.last_run = Some((now, ok));
        });
    }

    /// The schedule has no next run: the scheduler stops for good.
    pub fn ended(&self, now: DateTime<Utc>) {
        self.update(|b| {
            b.beat_at = Some(now);
            b.next_run = None;
            b.ended = true;
        });
    }
}
