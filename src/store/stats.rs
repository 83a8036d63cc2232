//! The dashboard's daily figures (`daily_stats`) and the daily job's runs (`job_runs`):
//! counted from the raw tables by the daily job, read by the console.

use super::{Store, StoreError, on_pool, on_writer, placeholders};
use crate::domain::Metric;

/// Seconds in a (UTC) day: days are counted as `at / DAY`.
pub(crate) const DAY: i64 = 86_400;

/// One run of the daily job, as recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct JobRun {
    pub started_at: i64,
    pub finished_at: i64,
    pub day: String,
    pub composed: i64,
    pub sent: i64,
    pub deferred: i64,
    pub bounced: i64,
    pub failed: i64,
    pub mails_sent: i64,
    pub error: Option<String>,
}

/// A raw count: the day (days since 1970-01-01), the metric, how many.
type DayCount = (i64, Metric, i64);

impl Store {
    /// Count what happened on each day since `since` (unix seconds) from the raw tables.
    /// Every statement reads an index on its time column but one: the three dated columns
    /// of `subscribers` other than `created_at` have none, so each is a scan of the readers
    /// (measured by `cargo bench --bench console`; the daily job runs it, never a page).
    pub(crate) async fn count_days(&self, since: i64) -> Result<Vec<DayCount>, StoreError> {
        let mut out = Vec::new();
        // Named columns, never spliced from input.
        for (column, metric) in [
            ("created_at", Metric::SignUps),
            ("confirmed_at", Metric::Confirmations),
            ("unsubscribed_at", Metric::Unsubscribes),
            ("suppressed_at", Metric::Suppressions),
        ] {
            // `status IN (…)` lets both databases walk the (status, created_at) index.
            let sql = format!(
                "SELECT {column} / {DAY}, COUNT(*) FROM subscribers \
                 WHERE status IN ('pending', 'active', 'unsubscribed', 'suppressed') \
                 AND {column} >= $1 GROUP BY {column} / {DAY}"
            );
            let rows: Vec<(i64, i64)> = on_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(since).fetch_all(p).await)?;
            out.extend(rows.into_iter().map(|(d, n)| (d, metric, n)));
        }
        let grouped = [
            (
                "SELECT at / 86400, outcome, COUNT(*) FROM delivery_attempts WHERE at >= $1 \
                 GROUP BY at / 86400, outcome",
                &[("sent", Metric::DigestsSent), ("retry", Metric::Deferred)][..],
            ),
            (
                "SELECT at / 86400, kind, COUNT(*) FROM mail_events WHERE at >= $1 \
                 GROUP BY at / 86400, kind",
                &[
                    ("hard_bounce", Metric::Bounced),
                    ("soft_bounce", Metric::Bounced),
                    // A relay further on that reports a delay defers the mail as ours does.
                    ("delayed", Metric::Deferred),
                    ("complaint", Metric::Complaints),
                ][..],
            ),
            (
                "SELECT at / 86400, rating, COUNT(*) FROM ratings WHERE at >= $1 \
                 GROUP BY at / 86400, rating",
                &[("more", Metric::RatedMore), ("fewer", Metric::RatedFewer)][..],
            ),
        ];
        for (sql, names) in grouped {
            let rows: Vec<(i64, String, i64)> =
                on_pool!(self, p => sqlx::query_as(sql).bind(since).fetch_all(p).await)?;
            for (d, name, n) in rows {
                if let Some((_, metric)) = names.iter().find(|(k, _)| *k == name) {
                    out.push((d, *metric, n));
                }
            }
        }
        Ok(out)
    }

    /// Digests waiting in the outbox (pending or being sent) and failed for good: two ranges
    /// of the (status, next_attempt_at) index, never the sent digests of every day kept.
    pub(crate) async fn outbox_snapshot(&self) -> Result<(i64, i64), StoreError> {
        let rows: Vec<(String, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT status, COUNT(*) FROM digests WHERE status IN ('pending', 'sending', 'failed') \
             GROUP BY status").fetch_all(p).await)?;
        let count = |names: &[&str]| {
            rows.iter()
                .filter(|(s, _)| names.contains(&s.as_str()))
                .map(|(_, n)| n)
                .sum()
        };
        Ok((count(&["pending", "sending"]), count(&["failed"])))
    }

    /// Write `rows` (day, metric, value) over what is stored for those days and metrics,
    /// and note the time of the count, in one transaction: a reader of the dashboard sees
    /// the old figures or the new, never a mix. Rows not given stay (an earlier day's
    /// snapshot of readers by state, which cannot be counted again).
    pub(crate) async fn write_daily_stats(
        &self,
        rows: &[(String, Metric, i64)],
        at: i64,
    ) -> Result<(), StoreError> {
        on_writer!(self, p => async {
            let mut tx = p.begin().await?;
            // 100 rows (300 parameters) a statement: 90 days of 14 figures in 13.
            for chunk in rows.chunks(100) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| format!("({})", placeholders(3 * i + 1, 3)))
                    .collect();
                let sql = format!(
                    "INSERT INTO daily_stats (day, metric, value) VALUES {} \
                     ON CONFLICT (day, metric) DO UPDATE SET value = excluded.value",
                    values.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for (day, metric, value) in chunk {
                    q = q.bind(day).bind(metric.as_str()).bind(*value);
                }
                q.execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT INTO daily_stats_refreshed (id, at) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET at = excluded.at")
                .bind(at).execute(&mut *tx).await?;
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// When the figures were last counted (`None`: never).
    pub(crate) async fn stats_counted_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT at FROM daily_stats_refreshed WHERE id = 1").fetch_optional(p).await)?)
    }

    /// The figures from `from_day` on, by day (oldest first), and when they were counted
    /// (`None`: never).
    pub(crate) async fn daily_stats(
        &self,
        from_day: &str,
    ) -> Result<(Vec<(String, Metric, i64)>, Option<i64>), StoreError> {
        let rows: Vec<(String, String, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT day, metric, value FROM daily_stats WHERE day >= $1 ORDER BY day, metric")
            .bind(from_day).fetch_all(p).await)?;
        let at: Option<(i64,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT at FROM daily_stats_refreshed WHERE id = 1").fetch_optional(p).await)?;
        let rows = rows
            .into_iter()
            .map(|(day, metric, n)| {
                let metric = metric.parse().map_err(|why| StoreError::Corrupt {
                    what: format!("daily_stats row of {day}"),
                    why,
                })?;
                Ok((day, metric, n))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((rows, at.map(|(t,)| t)))
    }

    pub(crate) async fn record_job_run(&self, run: &JobRun) -> Result<(), StoreError> {
        on_writer!(self, p => sqlx::query(
            "INSERT INTO job_runs (started_at, finished_at, day, composed, sent, deferred, \
             bounced, failed, mails_sent, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(run.started_at).bind(run.finished_at).bind(&run.day).bind(run.composed)
            .bind(run.sent).bind(run.deferred).bind(run.bounced).bind(run.failed)
            .bind(run.mails_sent).bind(run.error.as_deref())
            .execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// The latest runs of the daily job, newest first.
    pub async fn recent_job_runs(&self, limit: i64) -> Result<Vec<JobRun>, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT started_at, finished_at, day, composed, sent, deferred, bounced, failed, \
             mails_sent, error FROM job_runs ORDER BY started_at DESC, id DESC LIMIT $1")
            .bind(limit).fetch_all(p).await)?)
    }
}
