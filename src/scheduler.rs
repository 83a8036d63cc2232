//! The daily job on a cron expression (default: hourly): ingest the day if no papers are
//! stored for it, compose for every reader whose local delivery hour has come, deliver.
//! Composing is idempotent per (reader, day), so each tick adds only the readers whose hour
//! came since the last one, and several instances can tick at once.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;

use crate::clock;
use crate::digest::{ComposeReport, DigestError};
use crate::health::{BEAT_EVERY, Heartbeat};
use crate::ingest::RunReport;
use crate::learning::LearnReport;
use crate::maintenance::RetentionReport;
use crate::services::{Delivered, Services};
use crate::stats::RefreshReport;
use crate::store::JobRun;

#[derive(Debug, thiserror::Error)]
#[error(
    "schedule.cron {expr:?} is not a cron expression ({reason}); write five fields, e.g. \"0 * * * *\" for hourly"
)]
pub struct ScheduleError {
    expr: String,
    reason: String,
}

/// When the daily job runs.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
}

impl Schedule {
    pub fn parse(expr: &str) -> Result<Self, ScheduleError> {
        Cron::from_str(expr.trim())
            .map(|cron| Self { cron })
            .map_err(|e| ScheduleError {
                expr: expr.chars().take(80).collect(),
                reason: e.to_string(),
            })
    }

    /// The first run strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&t, false).ok()
    }
}

/// What one run of the daily job did.
#[derive(Debug, Default)]
pub struct JobReport {
    /// Ingest runs made, by what was fetched ("huggingface 2026-05-08", "arxiv rss").
    pub ingested: Vec<(String, RunReport)>,
    /// Ingest failures (the day goes on with what was stored).
    pub ingest_errors: Vec<String>,
    /// Topics relearned after the ingest stored something.
    pub learned: Option<LearnReport>,
    /// Another instance held the right to compose; this one only delivered.
    pub composed_elsewhere: bool,
    pub composed: ComposeReport,
    pub delivered: Delivered,
    /// The day's retention, on the first run of the day that held the lock after delivering.
    pub retention: Option<RetentionReport>,
    /// The dashboard's figures counted again (`Ok(None)`: counted recently enough; `Err`:
    /// why not; the job goes on either way).
    pub stats: Option<Result<Option<RefreshReport>, String>>,
}

/// What one run of the daily job covers.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub day: chrono::NaiveDate,
    /// The scheduler's tick: only readers whose local delivery hour has come by then are
    /// composed. `None` (`paperboy run-daily`): every reader due on `day`.
    pub at: Option<DateTime<Utc>>,
    /// Fetch the day from the sources when no papers are stored for it.
    pub ingest: bool,
}

impl Job {
    /// The scheduler's run at `now`.
    pub fn tick(now: DateTime<Utc>) -> Self {
        Self {
            day: now.date_naive(),
            at: Some(now),
            ingest: true,
        }
    }
}

/// One run of the daily job: ingest the day if it has no papers (and `job.ingest`),
/// compose, deliver, then retention and the dashboard's figures. Used by the scheduler and
/// by `paperboy run-daily` alike. A run on the instance that composed is recorded when it
/// did something (the dashboard lists the latest).
pub async fn daily_job(services: &Services, job: Job) -> Result<JobReport, DigestError> {
    let started_at = clock::timestamp();
    let result = run_job(services, job).await;
    let composed_elsewhere = matches!(&result, Ok(r) if r.composed_elsewhere);
    if !composed_elsewhere {
        let mut run = JobRun {
            started_at,
            finished_at: clock::timestamp(),
            day: job.day.to_string(),
            ..JobRun::default()
        };
        match &result {
            Ok(r) => {
                let d = &r.delivered.digests;
                run.composed = r.composed.composed as i64;
                (run.sent, run.deferred, run.bounced, run.failed) = (
                    d.sent as i64,
                    d.deferred as i64,
                    d.bounced as i64,
                    d.failed as i64,
                );
                run.mails_sent = r.delivered.mails.sent as i64;
            }
            Err(e) => run.error = Some(e.to_string()),
        }
        // A tick that found nothing to do is not worth a row: hourly, most ticks.
        let did_something = run.error.is_some()
            || run.composed + run.sent + run.deferred + run.bounced + run.failed + run.mails_sent
                > 0
            || matches!(&result, Ok(r) if !r.ingested.is_empty());
        if did_something && let Err(e) = services.stats.record_run(&run).await {
            tracing::warn!(error = %e, "the daily job's run could not be recorded");
        }
    }
    result
}

async fn run_job(services: &Services, job: Job) -> Result<JobReport, DigestError> {
    let mut report = JobReport::default();
    let day = job.day;

    // One instance composes (and ingests) while every instance delivers.
    let Some(lock) = services.digests.try_compose_lock().await? else {
        report.composed_elsewhere = true;
        report.delivered = services.deliver().await?;
        return Ok(report);
    };
    let ingested = if job.ingest {
        ingest_if_missing(services, day, &mut report).await
    } else {
        Ok(())
    };
    let composed = services.digests.compose(day, job.at).await;
    lock.release().await;
    ingested?;
    report.composed = composed?;
    report.delivered = services.deliver().await?;
    // Retention after delivery, so the day's mail never waits for it; under the lock again,
    // so one instance runs it.
    if let Some(lock) = services.digests.try_compose_lock().await? {
        let retention = services.maintenance.run_if_due(day).await;
        // The dashboard's figures, with the day's changes in.
        let counted = services.stats.refresh_if_due(clock::timestamp()).await;
        lock.release().await;
        report.retention = retention?;
        report.stats = Some(counted.map_err(|e| e.to_string()));
    }
    Ok(report)
}

async fn ingest_if_missing(
    services: &Services,
    day: chrono::NaiveDate,
    report: &mut JobReport,
) -> Result<(), DigestError> {
    let papers = &services.papers;
    if papers.any_on(day).await? {
        return Ok(());
    }
    match papers.ingestor() {
        Ok(ingestor) => {
            let what = format!("huggingface {day}");
            match ingestor.huggingface_day(day).await {
                Ok(r) => report.ingested.push((what, r)),
                Err(e) => report.ingest_errors.push(format!("{what}: {e}")),
            }
            match ingestor.arxiv_feed().await {
                Ok(r) => report.ingested.push(("arxiv rss".into(), r)),
                Err(e) => report.ingest_errors.push(format!("arxiv rss: {e}")),
            }
        }
        Err(e) => report.ingest_errors.push(e.to_string()),
    }
    if report.ingested.iter().any(|(_, r)| !r.not_modified) {
        // A failure leaves the previous profiles in place: the day goes on with them.
        match papers.learn_topics().await {
            Ok(r) => report.learned = Some(r),
            Err(e) => report.ingest_errors.push(format!("learning topics: {e}")),
        }
    }
    Ok(())
}

/// Run the daily job on the schedule until the process ends, beating the heartbeat that
/// `/readyz` reads while it waits and while a job runs.
pub async fn run(services: Services, schedule: Schedule) {
    let heartbeat = services.health.heartbeat().clone();
    loop {
        let Some(next) = schedule.next_after(clock::now()) else {
            heartbeat.ended(clock::now());
            tracing::warn!("the schedule has no next run: the daily job stops");
            return;
        };
        heartbeat.waiting(clock::now(), next);
        // In beats, so that a scheduler that is alive says so while it waits an hour.
        while let Ok(left) = (next - clock::now()).to_std() {
            if left.is_zero() {
                break;
            }
            tokio::time::sleep(left.min(BEAT_EVERY)).await;
            heartbeat.beat(clock::now());
        }
        heartbeat.running(clock::now());
        let result = beating(&heartbeat, daily_job(&services, Job::tick(clock::now()))).await;
        heartbeat.finished(clock::now(), result.is_ok());
        match result {
            Ok(r) => {
                for e in &r.ingest_errors {
                    tracing::warn!(error = %e, "ingest failed; composing with what is stored");
                }
                let c = &r.composed;
                let d = &r.delivered.digests;
                if let Some(Err(e)) = &r.stats {
                    tracing::warn!(error = %e, "the dashboard's figures were not counted");
                }
                if let Some(t) = &r.retention {
                    let removed: u64 = t.kinds.iter().map(|k| k.rows).sum();
                    tracing::info!(
                        rows = removed,
                        database_bytes = t.database_bytes_after,
                        seconds = t.seconds,
                        "retention"
                    );
                }
                tracing::info!(
                    composed_elsewhere = r.composed_elsewhere,
                    papers = c.papers,
                    composed = c.composed,
                    trending = c.trending,
                    nothing_matched = c.nothing_matched,
                    not_due = c.not_due,
                    sent = d.sent,
                    deferred = d.deferred,
                    bounced = d.bounced,
                    failed = d.failed,
                    mails_sent = r.delivered.mails.sent,
                    note = c.note.as_deref().unwrap_or(""),
                    "daily job"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "the daily job failed; it runs again at the next tick")
            }
        }
    }
}

/// Await `job`, beating every [`BEAT_EVERY`] meanwhile.
async fn beating<T>(heartbeat: &Heartbeat, job: impl std::future::Future<Output = T>) -> T {
    let mut job = std::pin::pin!(job);
    let mut beat = tokio::time::interval(BEAT_EVERY);
    loop {
        tokio::select! {
            out = &mut job => return out,
            _ = beat.tick() => heartbeat.beat(clock::now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hourly_by_default_and_a_clear_error() {
        let s = Schedule::parse("0 * * * *").unwrap();
        let t = DateTime::parse_from_rfc3339("2026-05-08T10:15:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            s.next_after(t).unwrap().to_rfc3339(),
            "2026-05-08T11:00:00+00:00"
        );
        let e = Schedule::parse("every hour").unwrap_err().to_string();
        assert!(e.contains("\"every hour\" is not a cron expression"), "{e}");
    }
}
