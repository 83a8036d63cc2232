//! Retention: what is kept, how long, and the order it goes in (`[retention]` in the
//! configuration). Runs once a day from the scheduler, under the compose lock (one instance
//! at a time), and on demand (`paperboy maintenance run [--dry-run]`).
//!
//! Every removal goes in batches of [`BATCH`] rows, each its own short transaction: on SQLite
//! the one writer is free between batches, so a sign-up waits for at most one batch (a few
//! milliseconds, measured by `cargo bench --bench retention`), never for a whole day's rows.
//! On PostgreSQL the same batched deletes run; docs/operating.md gives the figures that
//! decided against partitions.

use std::time::Instant;

use chrono::{Datelike, Days, NaiveDate};

use crate::config::RetentionConfig;
use crate::context::Context;
use crate::domain::DigestContent;
use crate::store::{Aged, Removed, Store, StoreError};

/// Rows per batch: removing a day at a million readers on SQLite went at about 20 ms a batch
/// (2.5 million rows in 77 s), and sign-ups beside it answered within 50 to 86 ms p99
/// (docs/performance.md#retention). A smaller batch lowers that wait and lengthens the run.
const BATCH: i64 = 500;
/// Free pages handed back to the file system per step on SQLite (1 MiB at 4 KiB pages).
/// Side by side at 100,000 readers, a day's reasons dropped: sign-up POSTs beside it
/// answered within 72 to 95 ms p99 with steps of 256 pages, 121 to 147 ms with 2,048.
const VACUUM_PAGES: i64 = 256;

/// A kind of data retention removes or shrinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A digest's reasons, dropped (the row stays).
    DigestContent,
    Digests,
    DeliveryAttempts,
    /// Which reader was sent which paper.
    PaperRecipients,
    SubscriptionMails,
    MailEvents,
    IngestRuns,
    /// The daily job's runs, kept as long as the ingest runs.
    JobRuns,
    AuditLog,
    Papers,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::DigestContent => "digest_content",
            Self::Digests => "digests",
            Self::DeliveryAttempts => "delivery_attempts",
            Self::PaperRecipients => "paper_recipients",
            Self::SubscriptionMails => "subscription_mails",
            Self::MailEvents => "mail_events",
            Self::IngestRuns => "ingest_runs",
            Self::JobRuns => "job_runs",
            Self::AuditLog => "audit_log",
            Self::Papers => "papers",
        }
    }
}

/// What retention did, or would do, to one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindReport {
    pub kind: Kind,
    /// Rows older than this day go (`None`: kept forever).
    pub before: Option<NaiveDate>,
    /// Rows removed (for digest content: rows compacted).
    pub rows: u64,
    /// Bytes of content removed, where counted (digest content, digests, recipients).
    pub bytes: Option<u64>,
}

/// What one run did.
#[derive(Clone, Debug)]
pub struct RetentionReport {
    pub dry_run: bool,
    pub as_of: NaiveDate,
    pub kinds: Vec<KindReport>,
    pub database_bytes_before: u64,
    pub database_bytes_after: u64,
    pub vacuum: Vacuum,
    pub seconds: f64,
}

/// How the freed space went back to the file system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vacuum {
    /// SQLite: this many pages returned with `incremental_vacuum`.
    Returned { pages: i64 },
    /// A SQLite file made before incremental vacuum: freed pages are reused for new rows
    /// but the file does not shrink (`VACUUM` once, with the service stopped, converts it).
    NotIncremental,
    /// PostgreSQL: autovacuum marks the space for reuse.
    Autovacuum,
    /// A dry run frees nothing.
    None,
}

#[derive(Clone)]
pub struct Maintenance {
    ctx: Context,
}

/// The watermark of the compaction walk in `retention_marks`, and the day of the last run.
const CONTENT_MARK: &str = "digest_content";
const LAST_RUN_MARK: &str = "last_run_day";

impl Maintenance {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    fn store(&self) -> &Store {
        &self.ctx.store
    }

    fn config(&self) -> &RetentionConfig {
        &self.ctx.config.retention
    }

    /// The scheduler's daily run: at most once per day `today`, whichever instance gets there
    /// first (the caller holds the compose lock).
    pub async fn run_if_due(
        &self,
        today: NaiveDate,
    ) -> Result<Option<RetentionReport>, StoreError> {
        let day_number = i64::from(today.num_days_from_ce());
        if self.store().retention_mark(LAST_RUN_MARK).await? >= day_number {
            return Ok(None);
        }
        let report = self.run(today, false).await?;
        self.store()
            .set_retention_mark(LAST_RUN_MARK, day_number)
            .await?;
        Ok(Some(report))
    }

    /// Apply every window as of `as_of` (or, with `dry_run`, count what would go).
    pub async fn run(
        &self,
        as_of: NaiveDate,
        dry_run: bool,
    ) -> Result<RetentionReport, StoreError> {
        let started = Instant::now();
        let database_bytes_before = self.store().database_bytes().await?;
        let c = self.config().clone();
        // A day so early that the window reaches before the calendar's start: nothing is older.
        let cutoff = |days: u32| {
            (days > 0)
                .then(|| as_of.checked_sub_days(Days::new(u64::from(days))))
                .flatten()
        };
        let mut kinds = Vec::new();

        let before = cutoff(c.digest_content_days);
        let (rows, bytes) = match before {
            Some(b) => self.compact_digests(b, dry_run).await?,
            None => (0, 0),
        };
        kinds.push(report(Kind::DigestContent, before, rows, Some(bytes)));

        let before = cutoff(c.digests_days);
        let (digests, attempts, bytes) = match before {
            Some(b) => self.delete_digests(b, dry_run).await?,
            None => (0, 0, 0),
        };
        kinds.push(report(Kind::Digests, before, digests, Some(bytes)));
        kinds.push(report(Kind::DeliveryAttempts, before, attempts, None));
        let removed = match before {
            Some(b) if dry_run => self.store().count_recipients_before(b).await?,
            Some(b) => in_batches(|| self.store().delete_recipients_before(b, BATCH)).await?,
            None => Default::default(),
        };
        kinds.push(report(
            Kind::PaperRecipients,
            before,
            removed.rows,
            Some(removed.bytes),
        ));

        for (kind, aged, days) in [
            (
                Kind::SubscriptionMails,
                Aged::SubscriptionMails,
                c.subscription_mails_days,
            ),
            (Kind::MailEvents, Aged::MailEvents, c.mail_events_days),
            (Kind::IngestRuns, Aged::IngestRuns, c.ingest_runs_days),
            (Kind::JobRuns, Aged::JobRuns, c.ingest_runs_days),
            (Kind::AuditLog, Aged::AuditLog, c.audit_days),
        ] {
            let before = cutoff(days);
            let rows = match before {
                Some(b) => self.delete_aged(aged, timestamp(b), dry_run).await?,
                None => 0,
            };
            kinds.push(report(kind, before, rows, None));
        }

        let before = cutoff(c.papers_days);
        let rows = match before {
            Some(b) => self.delete_papers(timestamp(b), dry_run).await?,
            None => 0,
        };
        kinds.push(report(Kind::Papers, before, rows, None));

        let vacuum = if dry_run {
            Vacuum::None
        } else {
            self.return_free_pages().await?
        };
        let database_bytes_after = self.store().database_bytes().await?;
        let seconds = started.elapsed().as_secs_f64();
        if !dry_run {
            for k in &kinds {
                metrics::counter!("paperboy_retention_rows_total", "kind" => k.kind.name())
                    .increment(k.rows);
            }
            metrics::histogram!("paperboy_retention_seconds").record(seconds);
            metrics::gauge!("paperboy_retention_database_bytes").set(database_bytes_after as f64);
        }
        Ok(RetentionReport {
            dry_run,
            as_of,
            kinds,
            database_bytes_before,
            database_bytes_after,
            vacuum,
            seconds,
        })
    }

    /// Drop the reasons of final digests of days before `before`, walking up from where the
    /// last run stopped. The walk stops at the first digest of a later day, or one still to
    /// be sent: ids follow composing, so what lies beyond is newer. Returns (rows, bytes saved).
    async fn compact_digests(
        &self,
        before: NaiveDate,
        dry_run: bool,
    ) -> Result<(u64, u64), StoreError> {
        let before = before.format("%Y-%m-%d").to_string();
        let mut after = self.store().retention_mark(CONTENT_MARK).await?;
        let (mut rows, mut bytes) = (0, 0);
        loop {
            let batch = self.store().digests_after(after, BATCH).await?;
            let full = batch.len() as i64 == BATCH;
            // Reasons kept apart go by deleting their rows; those of digests written before
            // they were (inline in the content) by rewriting the content without them.
            let (mut apart, mut updates) = (Vec::new(), Vec::new());
            let mut ended = !full;
            for d in batch {
                if d.day >= before || !d.is_final() {
                    ended = true;
                    break;
                }
                after = d.id;
                if let Some(len) = d.reasons {
                    bytes += len.max(0) as u64;
                    apart.push(d.id);
                    continue;
                }
                match serde_json::from_str::<DigestContent>(&d.content) {
                    Ok(mut content) => {
                        if content.compact() {
                            let text = serde_json::to_string(&content).expect("content serialises");
                            bytes += d.content.len().saturating_sub(text.len()) as u64;
                            updates.push((d.id, text));
                        }
                    }
                    // A row that does not parse is left as it is, for someone to look at.
                    Err(e) => {
                        tracing::warn!(digest = d.id, error = %e, "digest content unreadable; not compacted")
                    }
                }
            }
            rows += (apart.len() + updates.len()) as u64;
            if !dry_run {
                self.store().delete_digest_reasons(&apart).await?;
                if !updates.is_empty() {
                    self.store().replace_digest_contents(&updates).await?;
                }
                self.store().set_retention_mark(CONTENT_MARK, after).await?;
            }
            if ended {
                return Ok((rows, bytes));
            }
        }
    }

    /// Delete final digests of days before `before`, from the lowest id up to the first of a
    /// later day. Returns (digests, their attempts, bytes of content).
    async fn delete_digests(
        &self,
        before: NaiveDate,
        dry_run: bool,
    ) -> Result<(u64, u64, u64), StoreError> {
        let before = before.format("%Y-%m-%d").to_string();
        let (mut after, mut digests, mut attempts, mut bytes) = (0, 0, 0, 0);
        loop {
            let batch = self.store().digests_after(after, BATCH).await?;
            let mut ended = (batch.len() as i64) < BATCH;
            let mut ids = Vec::new();
            for d in batch {
                if d.day >= before {
                    ended = true;
                    break;
                }
                // One still to be sent stays (and is passed over): delivery owns it.
                after = d.id;
                if d.is_final() {
                    bytes += d.content.len() as u64 + d.reasons.unwrap_or(0).max(0) as u64;
                    ids.push(d.id);
                }
            }
            attempts += self.store().count_attempts(&ids).await?;
            digests += if dry_run {
                ids.len() as u64
            } else {
                self.store().delete_digests(&ids).await?
            };
            if ended {
                return Ok((digests, attempts, bytes));
            }
        }
    }

    async fn delete_aged(&self, aged: Aged, before: i64, dry_run: bool) -> Result<u64, StoreError> {
        if dry_run {
            return self.store().count_aged(aged, before).await;
        }
        let removed = in_batches(|| async {
            let rows = self.store().delete_aged(aged, before, BATCH).await?;
            Ok(Removed { rows, bytes: 0 })
        })
        .await?;
        Ok(removed.rows)
    }

    /// Papers first seen before `before` that no kept digest, rating or liked list names.
    async fn delete_papers(&self, before: i64, dry_run: bool) -> Result<u64, StoreError> {
        let candidates = self.store().unsent_papers_before(before).await?;
        if candidates.is_empty() {
            return Ok(0);
        }
        let keep = self.store().papers_readers_keep().await?;
        let gone: Vec<String> = candidates
            .into_iter()
            .filter(|id| !keep.contains(id))
            .collect();
        if dry_run {
            return Ok(gone.len() as u64);
        }
        self.store().delete_papers(&gone).await
    }

    /// SQLite: hand the freed pages back, a step at a time so the writer is never held long.
    async fn return_free_pages(&self) -> Result<Vacuum, StoreError> {
        if self.store().backend() == "postgres" {
            return Ok(Vacuum::Autovacuum);
        }
        let Some(start) = self.store().free_pages().await? else {
            return Ok(Vacuum::NotIncremental);
        };
        let mut free = start;
        while free > 0 {
            self.store().incremental_vacuum(VACUUM_PAGES).await?;
            let left = self.store().free_pages().await?.unwrap_or(0);
            if left >= free {
                break;
            }
            free = left;
        }
        let pages = start - free;
        Ok(Vacuum::Returned { pages })
    }
}

/// Run `batch` until it removes fewer than [`BATCH`] rows; what all of them removed.
async fn in_batches<F, Fut>(mut batch: F) -> Result<Removed, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Removed, StoreError>>,
{
    let mut total = Removed::default();
    loop {
        let r = batch().await?;
        total.rows += r.rows;
        total.bytes += r.bytes;
        if r.rows < BATCH as u64 {
            return Ok(total);
        }
    }
}

fn report(kind: Kind, before: Option<NaiveDate>, rows: u64, bytes: Option<u64>) -> KindReport {
    KindReport {
        kind,
        before,
        rows,
        bytes,
    }
}

/// The first second of `day`, UTC.
fn timestamp(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp()
}
