//! Retention's statements: each walks or removes one batch, so that no transaction holds the
//! writer long (the rules, the batch sizes and the order live in the maintenance service).
//!
//! Digests and subscription mails are walked by id: ids are handed out as rows are written,
//! so the oldest rows are the lowest ids and a walk from the bottom meets them first, without
//! an index on their day or time (one B-tree fewer to write for every digest composed).

use std::collections::HashSet;

use chrono::NaiveDate;

use super::{IN_CHUNK, Pool, Store, StoreError, on_pool, on_writer, placeholders};
use crate::domain::DigestStatus;

/// One digest as retention sees it.
#[derive(Debug)]
pub(crate) struct AgedDigest {
    pub id: i64,
    pub day: String,
    pub status: String,
    pub content: String,
    /// The length of its reasons kept apart (`digest_reasons`), if they still are.
    pub reasons: Option<i64>,
}

impl AgedDigest {
    /// Delivered, given up or skipped: nothing will write to it again.
    pub(crate) fn is_final(&self) -> bool {
        !matches!(
            self.status.parse::<DigestStatus>(),
            Ok(DigestStatus::Pending | DigestStatus::Sending)
        )
    }
}

/// Rows (and bytes, where counted) a batch removed or would remove.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Removed {
    pub rows: u64,
    pub bytes: u64,
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

const FINAL: &str = "('sent', 'bounced', 'failed', 'skipped')";

impl Store {
    /// Where the walk named `kind` stopped last time (0: from the start).
    pub(crate) async fn retention_mark(&self, kind: &str) -> Result<i64, StoreError> {
        let v: Option<i64> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT last_id FROM retention_marks WHERE kind = $1")
            .bind(kind).fetch_optional(p).await)?;
        Ok(v.unwrap_or(0))
    }

    pub(crate) async fn set_retention_mark(
        &self,
        kind: &str,
        value: i64,
    ) -> Result<(), StoreError> {
        on_writer!(self, p => sqlx::query(
            "INSERT INTO retention_marks (kind, last_id) VALUES ($1, $2) \
             ON CONFLICT (kind) DO UPDATE SET last_id = excluded.last_id")
            .bind(kind).bind(value).execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// Up to `limit` digests after id `after`, in id order.
    pub(crate) async fn digests_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AgedDigest>, StoreError> {
        let rows: Vec<(i64, String, String, String, Option<i64>)> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, day, status, content, \
             (SELECT CAST(length(reasons) AS BIGINT) FROM digest_reasons WHERE digest_id = digests.id) \
             FROM digests WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after).bind(limit).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(|(id, day, status, content, reasons)| AgedDigest {
                id,
                day,
                status,
                content,
                reasons,
            })
            .collect())
    }

    /// Drop the reasons kept apart for these digests; returns how many went.
    pub(crate) async fn delete_digest_reasons(&self, ids: &[i64]) -> Result<u64, StoreError> {
        self.delete_by_id("digest_reasons", "digest_id", ids).await
    }

    /// Replace the content of these digests, in one transaction.
    pub(crate) async fn replace_digest_contents(
        &self,
        contents: &[(i64, String)],
    ) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite { write, .. } => {
                let mut tx = write.begin().await?;
                for (id, content) in contents {
                    sqlx::query("UPDATE digests SET content = $1 WHERE id = $2")
                        .bind(content)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
            // One statement, not a round trip a row.
            Pool::Postgres(p) => {
                let (ids, texts): (Vec<i64>, Vec<&str>) =
                    contents.iter().map(|(i, c)| (*i, c.as_str())).unzip();
                sqlx::query(
                    "UPDATE digests d SET content = v.content \
                     FROM UNNEST($1::BIGINT[], $2::TEXT[]) AS v (id, content) WHERE d.id = v.id",
                )
                .bind(ids)
                .bind(texts)
                .execute(p)
                .await?;
            }
        }
        Ok(())
    }

    /// Delivery attempts of these digests.
    pub(crate) async fn count_attempts(&self, ids: &[i64]) -> Result<u64, StoreError> {
        let mut n = 0;
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT COUNT(*) FROM delivery_attempts WHERE digest_id IN ({})",
                placeholders(1, chunk.len())
            );
            let c: i64 = on_pool!(self, p => {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_one(p).await
            })?;
            n += c as u64;
        }
        Ok(n)
    }

    /// Delete these digests (their attempts go with them); returns how many went.
    pub(crate) async fn delete_digests(&self, ids: &[i64]) -> Result<u64, StoreError> {
        self.delete_by_id("digests", "id", ids).await
    }

    /// `DELETE FROM table WHERE column IN (...)`, a transaction per chunk of ids.
    async fn delete_by_id<T>(&self, table: &str, column: &str, ids: &[T]) -> Result<u64, StoreError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Sqlite>
            + for<'q> sqlx::Encode<'q, sqlx::Postgres>
            + sqlx::Type<sqlx::Sqlite>
            + sqlx::Type<sqlx::Postgres>
            + Clone
            + Send
            + Sync
            + 'static,
    {
        let mut n = 0;
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "DELETE FROM {table} WHERE {column} IN ({})",
                placeholders(1, chunk.len())
            );
            let done = on_writer!(self, p => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(id.clone());
                }
                q.execute(p).await.map(|r| r.rows_affected())
            })?;
            n += done;
        }
        Ok(n)
    }

    /// The record of who was sent which paper, for days before `before`: what a removal
    /// would take (rows, bytes of reader ids).
    pub(crate) async fn count_recipients_before(
        &self,
        before: NaiveDate,
    ) -> Result<Removed, StoreError> {
        let (rows, bytes): (i64, Option<i64>) = on_pool!(self, p => sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(LENGTH(readers)) AS BIGINT) FROM paper_recipients WHERE day < $1")
            .bind(ymd(before)).fetch_one(p).await)?;
        Ok(Removed {
            rows: rows as u64,
            bytes: bytes.unwrap_or(0) as u64,
        })
    }

    /// Delete up to `limit` rows of that record for days before `before`.
    pub(crate) async fn delete_recipients_before(
        &self,
        before: NaiveDate,
        limit: i64,
    ) -> Result<Removed, StoreError> {
        // The table has no key of its own: SQLite's rowid and PostgreSQL's ctid name a row.
        let sql = match &self.pool {
            Pool::Sqlite { .. } => {
                "DELETE FROM paper_recipients WHERE rowid IN \
                   (SELECT rowid FROM paper_recipients WHERE day < $1 LIMIT $2) \
                 RETURNING CAST(LENGTH(readers) AS BIGINT)"
            }
            Pool::Postgres(_) => {
                "DELETE FROM paper_recipients WHERE ctid = ANY(ARRAY( \
                   SELECT ctid FROM paper_recipients WHERE day < $1 LIMIT $2)) \
                 RETURNING CAST(LENGTH(readers) AS BIGINT)"
            }
        };
        let lengths: Vec<i64> = on_writer!(self, p => sqlx::query_scalar(sql)
            .bind(ymd(before)).bind(limit).fetch_all(p).await)?;
        Ok(Removed {
            rows: lengths.len() as u64,
            bytes: lengths.iter().sum::<i64>() as u64,
        })
    }
}

/// The tables retention removes from by age alone.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Aged {
    /// Confirmation, "already subscribed" and welcome mails that will not be sent again
    /// (their attempts go with them).
    SubscriptionMails,
    MailEvents,
    IngestRuns,
    /// The daily job's runs, shown on the dashboard.
    JobRuns,
    AuditLog,
}

impl Aged {
    /// The rows of this table older than `$1` (Unix seconds).
    fn older_than(self) -> String {
        match self {
            Self::SubscriptionMails => {
                format!("FROM subscription_mails WHERE created_at < $1 AND status IN {FINAL}")
            }
            Self::MailEvents => "FROM mail_events WHERE at < $1".into(),
            Self::IngestRuns => "FROM ingest_runs WHERE started_at < $1".into(),
            Self::JobRuns => "FROM job_runs WHERE started_at < $1".into(),
            Self::AuditLog => "FROM audit_log WHERE at < $1".into(),
        }
    }

    /// The order to take them in: the index each table has.
    fn order(self) -> &'static str {
        match self {
            Self::SubscriptionMails | Self::IngestRuns | Self::JobRuns => "id",
            Self::MailEvents | Self::AuditLog => "at",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Self::SubscriptionMails => "subscription_mails",
            Self::MailEvents => "mail_events",
            Self::IngestRuns => "ingest_runs",
            Self::JobRuns => "job_runs",
            Self::AuditLog => "audit_log",
        }
    }
}

impl Store {
    pub(crate) async fn count_aged(&self, aged: Aged, before: i64) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) {}", aged.older_than());
        let n: i64 = on_pool!(self, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(before).fetch_one(p).await)?;
        Ok(n as u64)
    }

    /// Delete up to `limit` of the oldest such rows; returns how many went.
    pub(crate) async fn delete_aged(
        &self,
        aged: Aged,
        before: i64,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN (SELECT id {older} ORDER BY {order} LIMIT $2)",
            table = aged.table(),
            older = aged.older_than(),
            order = aged.order(),
        );
        let done = on_writer!(self, p => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(before).bind(limit).execute(p).await.map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// Papers first seen before `before` that no kept record of a sent paper names.
    pub(crate) async fn unsent_papers_before(
        &self,
        before: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT id FROM papers WHERE first_seen_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM paper_recipients r WHERE r.paper_id = papers.id)")
            .bind(before).fetch_all(p).await)?)
    }

    /// Every paper some reader rated or lists as liked: one pass over each table, kept in
    /// memory (a set of paper ids, not of readers).
    pub(crate) async fn papers_readers_keep(&self) -> Result<HashSet<String>, StoreError> {
        let rated: Vec<String> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT DISTINCT paper_id FROM ratings").fetch_all(p).await)?;
        let liked: Vec<String> = match &self.pool {
            Pool::Sqlite { read, .. } => {
                sqlx::query_scalar(
                    "SELECT DISTINCT j.value FROM subscribers s, json_each(s.interests, '$.liked') j",
                )
                .fetch_all(read)
                .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar(
                    "SELECT DISTINCT jsonb_array_elements_text(interests::jsonb -> 'liked') FROM subscribers",
                )
                .fetch_all(p)
                .await?
            }
        };
        Ok(rated.into_iter().chain(liked).collect())
    }

    /// Delete these papers (their featured days go with them); returns how many went.
    pub(crate) async fn delete_papers(&self, ids: &[String]) -> Result<u64, StoreError> {
        self.delete_by_id("papers", "id", ids).await
    }

    /// The database's size in bytes, as the database counts it (SQLite: pages in the file,
    /// free ones included; PostgreSQL: `pg_database_size`).
    pub(crate) async fn database_bytes(&self) -> Result<u64, StoreError> {
        let bytes: i64 =
            match &self.pool {
                Pool::Sqlite { read, .. } => sqlx::query_scalar(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                )
                .fetch_one(read)
                .await?,
                Pool::Postgres(p) => {
                    sqlx::query_scalar("SELECT pg_database_size(current_database())")
                        .fetch_one(p)
                        .await?
                }
            };
        Ok(bytes as u64)
    }

    /// SQLite: the free pages `incremental_vacuum` could return, or `None` where there is
    /// nothing to do this way (PostgreSQL, whose autovacuum marks space for reuse; a SQLite
    /// file made before this version turned incremental vacuum on).
    pub(crate) async fn free_pages(&self) -> Result<Option<i64>, StoreError> {
        let Pool::Sqlite { write, .. } = &self.pool else {
            return Ok(None);
        };
        let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(write)
            .await?;
        if mode != 2 {
            return Ok(None);
        }
        Ok(Some(
            sqlx::query_scalar("PRAGMA freelist_count")
                .fetch_one(write)
                .await?,
        ))
    }

    /// SQLite: give back up to `pages` free pages to the file system.
    pub(crate) async fn incremental_vacuum(&self, pages: i64) -> Result<(), StoreError> {
        if let Pool::Sqlite { write, .. } = &self.pool {
            // The pragma returns a row per step: drain them all, or it stops early.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "PRAGMA incremental_vacuum({pages})"
            )))
            .fetch_all(write)
            .await?;
        }
        Ok(())
    }
}
