//! Health: whether this instance can do its work now (`/readyz`, [`Health`]), and whether
//! an installation is sound (`paperboy doctor`, in `doctor.rs`). `/healthz` only says the
//! process answers.
//!
//! Each check judges what it reads with a pure function of the facts and the time, so that
//! the thresholds are tested without waiting for them.

mod heartbeat;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock;
use crate::config::HealthConfig;
use crate::context::Context;
use crate::store::{DueMail, MigrationState, OutboxTable, StoreError};
pub use heartbeat::{BEAT_EVERY, Beats, Heartbeat, LONG_JOB_SECONDS, STALE_AFTER_SECONDS};

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ok,
    /// Not what it should be, but the instance can work: look into it.
    Warn,
    /// The instance cannot do its work: `/readyz` answers 503.
    Fail,
    /// Turned off by the configuration (the scheduler), so neither good nor bad.
    Disabled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "fail",
            Self::Disabled => "disabled",
        }
    }
}

/// `/readyz`'s answer.
#[derive(Clone, Debug, Serialize)]
pub struct Readiness {
    /// `ready` unless a check failed.
    pub status: &'static str,
    pub checks: Checks,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.status == "ready"
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Checks {
    pub database: DatabaseCheck,
    pub migrations: MigrationsCheck,
    pub scheduler: SchedulerCheck,
    pub outbox: OutboxCheck,
    pub ingest: IngestCheck,
}

impl Checks {
    /// "name: detail" of each failing check.
    fn failures(&self) -> impl Iterator<Item = String> + '_ {
        [
            ("database", self.database.state, &self.database.detail),
            ("migrations", self.migrations.state, &self.migrations.detail),
            ("scheduler", self.scheduler.state, &self.scheduler.detail),
            ("outbox", self.outbox.state, &self.outbox.detail),
            ("ingest", self.ingest.state, &self.ingest.detail),
        ]
        .into_iter()
        .filter(|(_, state, _)| *state == State::Fail)
        .map(|(name, _, detail)| format!("{name}: {detail}"))
    }

    fn states(&self) -> [State; 5] {
        [
            self.database.state,
            self.migrations.state,
            self.scheduler.state,
            self.outbox.state,
            self.ingest.state,
        ]
    }
}

/// A round trip to the database.
#[derive(Clone, Debug, Serialize)]
pub struct DatabaseCheck {
    pub state: State,
    /// How long the query took (or how long was waited for it).
    pub ms: u64,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct MigrationsCheck {
    pub state: State,
    /// Migrations built into this binary, and applied to the database.
    pub embedded: Option<usize>,
    pub applied: Option<usize>,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SchedulerCheck {
    pub state: State,
    /// Seconds since the scheduler's last beat.
    pub beat_seconds_ago: Option<i64>,
    pub next_run: Option<DateTime<Utc>>,
    pub running_since: Option<DateTime<Utc>>,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct OutboxCheck {
    pub state: State,
    /// Digests and subscription mails due now (each counted up to [`DUE_CAP`]).
    pub due: Option<i64>,
    /// How long the longest-waiting due mail has been due.
    pub oldest_due_seconds: Option<i64>,
    pub warn_after_seconds: i64,
    pub fail_after_seconds: i64,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct IngestCheck {
    pub state: State,
    /// When the last successful ingest run finished, and how long ago.
    pub last_success: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
    pub detail: String,
}

/// Due rows counted per outbox at most: beyond it the count says "at least", and the
/// probe's cost stays bounded while a million digests wait to go.
pub const DUE_CAP: i64 = 10_000;
/// A database round trip slower than this is a warning.
pub const SLOW_DATABASE_MS: u64 = 500;

/// The readiness checks of one running instance.
#[derive(Clone)]
pub struct Health {
    ctx: Context,
    heartbeat: Heartbeat,
    /// When this instance started: an ingest is not expected before it has run a while.
    started: DateTime<Utc>,
    /// The last answer was "ready": a change is logged once, not at every probe.
    was_ready: Arc<AtomicBool>,
}

impl Health {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            heartbeat: Heartbeat::default(),
            started: clock::now(),
            was_ready: Arc::new(AtomicBool::new(true)),
        }
    }

    /// The heartbeat the scheduler of this process beats.
    pub fn heartbeat(&self) -> &Heartbeat {
        &self.heartbeat
    }

    fn config(&self) -> &HealthConfig {
        &self.ctx.config.health
    }

    /// Run every check at once, each bounded by `health.check_timeout_ms`.
    pub async fn readiness(&self) -> Readiness {
        let bound = Duration::from_millis(self.config().check_timeout_ms);
        let store = &self.ctx.store;
        let (ping, migrations, due, ingest) = tokio::join!(
            timed(bound, store.ping()),
            timed(bound, store.migration_state()),
            timed(bound, async {
                let now = clock::timestamp();
                let digests = store.due_mail(OutboxTable::Digests, now, DUE_CAP).await?;
                let mails = store
                    .due_mail(OutboxTable::SubscriptionMails, now, DUE_CAP)
                    .await?;
                Ok((digests, mails))
            }),
            timed(bound, store.last_successful_ingest()),
        );
        let now = clock::now();
        let enabled = self.ctx.config.schedule.enabled;
        let checks = Checks {
            database: judge_database(ping, bound),
            migrations: judge_migrations(migrations.1),
            scheduler: judge_scheduler(enabled, &self.heartbeat.read(), now),
            outbox: judge_outbox(due.1, now, self.config()),
            ingest: judge_ingest(ingest.1, enabled, self.started, now, self.config()),
        };
        let failed = checks.states().contains(&State::Fail);
        if self.was_ready.swap(!failed, Ordering::Relaxed) == failed {
            if failed {
                let why: Vec<String> = checks.failures().collect();
                tracing::warn!(failing = %why.join("; "), "not ready");
            } else {
                tracing::info!("ready again");
            }
        }
        Readiness {
            status: if failed { "unready" } else { "ready" },
            checks,
        }
    }
}

/// What a check read, or why it could not: the database's error, or the bound passed.
type Read<T> = Result<T, String>;

/// Run `f` within `bound`: how long it took, and its result or why there is none.
async fn timed<T>(
    bound: Duration,
    f: impl Future<Output = Result<T, StoreError>>,
) -> (Duration, Read<T>) {
    let start = Instant::now();
    let result = match tokio::time::timeout(bound, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "the database did not answer within {} ms",
            bound.as_millis()
        )),
    };
    (start.elapsed(), result)
}

fn judge_database(ping: (Duration, Read<()>), bound: Duration) -> DatabaseCheck {
    let ms = ping.0.as_millis() as u64;
    let (state, detail) = match ping.1 {
        Err(e) => (
            State::Fail,
            format!("{e}: is the database running and database_url right?"),
        ),
        Ok(()) if ms > SLOW_DATABASE_MS => (
            State::Warn,
            format!(
                "answered in {ms} ms (slow above {SLOW_DATABASE_MS} ms, failing above {} ms)",
                bound.as_millis()
            ),
        ),
        Ok(()) => (State::Ok, "answered".into()),
    };
    DatabaseCheck { state, ms, detail }
}

fn judge_migrations(read: Read<MigrationState>) -> MigrationsCheck {
    let m = match read {
        Ok(m) => m,
        Err(e) => {
            return MigrationsCheck {
                state: State::Fail,
                embedded: None,
                applied: None,
                detail: format!("cannot read the applied migrations: {e}"),
            };
        }
    };
    let (state, detail) = migration_verdict(&m);
    MigrationsCheck {
        state,
        embedded: Some(m.embedded),
        applied: Some(m.applied),
        detail,
    }
}

/// The migrations' state and what to do about it: shared by `/readyz` and `doctor`.
pub(crate) fn migration_verdict(m: &MigrationState) -> (State, String) {
    let list = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    if !m.failed.is_empty() {
        (
            State::Fail,
            format!(
                "migration {} started and did not finish: restore the database from a backup, or mend it by hand and run `paperboy migrate`",
                list(&m.failed)
            ),
        )
    } else if !m.unknown.is_empty() {
        (
            State::Fail,
            format!(
                "the database has migrations this binary does not know ({}): a newer paperboy migrated it; run that version",
                list(&m.unknown)
            ),
        )
    } else if !m.changed.is_empty() {
        (
            State::Fail,
            format!(
                "applied migrations differ from this binary's ({}): the database was migrated by another build",
                list(&m.changed)
            ),
        )
    } else if !m.pending.is_empty() {
        (
            State::Fail,
            format!(
                "{} of {} migrations not applied: run `paperboy migrate`",
                m.pending.len(),
                m.embedded
            ),
        )
    } else {
        (State::Ok, format!("all {} migrations applied", m.embedded))
    }
}

pub(crate) fn judge_scheduler(enabled: bool, b: &Beats, now: DateTime<Utc>) -> SchedulerCheck {
    let ago = b.beat_at.map(|t| (now - t).num_seconds());
    let (state, detail) = if !enabled {
        (
            State::Disabled,
            "schedule.enabled is false: run `paperboy run-daily` from your own scheduler".into(),
        )
    } else if b.ended {
        (
            State::Fail,
            "the schedule has no next run, so the scheduler stopped: set schedule.cron to an expression that recurs".into(),
        )
    } else if ago.is_some_and(|a| a <= STALE_AFTER_SECONDS) {
        match (b.running_since, b.last_run) {
            (Some(since), _) if (now - since).num_seconds() > LONG_JOB_SECONDS => (
                State::Warn,
                format!(
                    "the daily job has been running since {} (over {} h): see the log for what it is doing",
                    since.to_rfc3339(),
                    LONG_JOB_SECONDS / 3600
                ),
            ),
            (Some(since), _) => (
                State::Ok,
                format!("the daily job is running since {}", since.to_rfc3339()),
            ),
            (None, Some((at, false))) => (
                State::Warn,
                format!(
                    "the last daily job failed at {}: the log says why; it runs again at the next tick",
                    at.to_rfc3339()
                ),
            ),
            (None, _) => (State::Ok, "waiting for the next run".into()),
        }
    } else {
        match ago {
            None => (
                State::Fail,
                "the scheduler has not started in this process".into(),
            ),
            Some(ago) => (
                State::Fail,
                format!(
                    "no heartbeat for {ago} s: the scheduler's task has stopped (the log may show a panic); restart paperboy"
                ),
            ),
        }
    };
    SchedulerCheck {
        state,
        beat_seconds_ago: ago,
        next_run: b.next_run,
        running_since: b.running_since,
        detail,
    }
}

pub(crate) fn judge_outbox(
    read: Read<(DueMail, DueMail)>,
    now: DateTime<Utc>,
    config: &HealthConfig,
) -> OutboxCheck {
    let (warn, fail) = (config.outbox_warn_seconds, config.outbox_fail_seconds);
    let mut check = OutboxCheck {
        state: State::Ok,
        due: None,
        oldest_due_seconds: None,
        warn_after_seconds: warn,
        fail_after_seconds: fail,
        detail: String::new(),
    };
    let (digests, mails) = match read {
        Ok(r) => r,
        Err(e) => {
            check.state = State::Fail;
            check.detail = format!("cannot read the outbox: {e}");
            return check;
        }
    };
    let oldest = digests
        .oldest_due_since
        .into_iter()
        .chain(mails.oldest_due_since)
        .min();
    let age = oldest.map(|t| (now.timestamp() - t).max(0));
    check.due = Some(digests.due + mails.due);
    check.oldest_due_seconds = age;
    let counted = format!(
        "{}{} digests and {}{} subscription mails due",
        digests.due,
        if digests.due >= DUE_CAP { "+" } else { "" },
        mails.due,
        if mails.due >= DUE_CAP { "+" } else { "" },
    );
    (check.state, check.detail) = match age {
        Some(a) if a > fail => (
            State::Fail,
            format!(
                "{counted}, the oldest for {a} s (failing above {fail} s): is mail being delivered? see `paperboy status` and the log for the relay's answers"
            ),
        ),
        Some(a) if a > warn => (
            State::Warn,
            format!("{counted}, the oldest for {a} s (warning above {warn} s)"),
        ),
        Some(a) => (State::Ok, format!("{counted}, the oldest for {a} s")),
        None => (State::Ok, "nothing due".into()),
    };
    check
}

pub(crate) fn judge_ingest(
    read: Read<Option<i64>>,
    scheduled: bool,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
    config: &HealthConfig,
) -> IngestCheck {
    let (warn, fail) = (
        config.ingest_warn_hours * 3600,
        config.ingest_fail_hours * 3600,
    );
    // With the scheduler off, another scheduler ingests (or nothing does, by choice).
    let late = if scheduled { State::Fail } else { State::Warn };
    let last = match read {
        Ok(last) => last,
        Err(e) => {
            return IngestCheck {
                state: State::Fail,
                last_success: None,
                age_seconds: None,
                detail: format!("cannot read the ingest runs: {e}"),
            };
        }
    };
    let last_success = last.and_then(|t| DateTime::from_timestamp(t, 0));
    let age = last_success.map(|t| (now - t).num_seconds().max(0));
    let up = (now - started).num_seconds();
    let (state, detail) = match age {
        Some(a) if a > fail => (
            late,
            format!(
                "the last successful ingest was {} h ago (failing above {} h): `paperboy status` shows the runs and their errors",
                a / 3600,
                config.ingest_fail_hours
            ),
        ),
        Some(a) if a > warn => (
            State::Warn,
            format!(
                "the last successful ingest was {} h ago (warning above {} h)",
                a / 3600,
                config.ingest_warn_hours
            ),
        ),
        Some(a) => (
            State::Ok,
            format!("the last successful ingest was {} min ago", a / 60),
        ),
        // A new installation: the first tick ingests; not yet a failure.
        None if up <= fail => (
            State::Warn,
            "no successful ingest yet: the daily job ingests at its next run (or run `paperboy ingest`)".into(),
        ),
        None => (
            late,
            format!(
                "no successful ingest in the {} h this instance has run: `paperboy status` shows the runs and their errors",
                up / 3600
            ),
        ),
    };
    IngestCheck {
        state,
        last_success,
        age_seconds: age,
        detail,
    }
}

#[cfg(test)]
mod tests;
