//! The outbox: digests composed for a day, claimed by delivery workers under a lease, and
//! every attempt's outcome.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::{IN_CHUNK, Pool, Store, StoreError, on_pool, on_writer, placeholders, recipients};
use crate::domain::{ArxivId, DigestContent, DigestStatus};

/// A digest to put in the outbox.
#[derive(Clone, Debug)]
pub struct NewDigest {
    pub subscriber_id: i64,
    pub day: NaiveDate,
    pub content: DigestContent,
    pub message_id: String,
}

/// A digest a worker has claimed: it holds the lease until it records an outcome.
#[derive(Clone, Debug)]
pub struct ClaimedDigest {
    pub id: i64,
    pub subscriber_id: i64,
    pub day: NaiveDate,
    pub content: DigestContent,
    pub message_id: String,
    /// Including this one.
    pub attempts: i64,
}

/// A digest as stored, for status pages, previews and tests.
#[derive(Clone, Debug)]
pub struct StoredDigest {
    pub id: i64,
    pub subscriber_id: i64,
    pub day: NaiveDate,
    pub content: DigestContent,
    pub message_id: String,
    pub status: DigestStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

/// What happened to one delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Try again at this time (a 4xx reply, a network error).
    Retry {
        at: i64,
        error: String,
    },
    /// The server refused the recipient for good.
    Bounced {
        error: String,
    },
    /// Too many attempts.
    Failed {
        error: String,
    },
    /// Nothing to send any more (the reader left).
    Skipped {
        why: String,
    },
}

impl Outcome {
    fn status(&self) -> DigestStatus {
        match self {
            Self::Sent => DigestStatus::Sent,
            Self::Retry { .. } => DigestStatus::Pending,
            Self::Bounced { .. } => DigestStatus::Bounced,
            Self::Failed { .. } => DigestStatus::Failed,
            Self::Skipped { .. } => DigestStatus::Skipped,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Retry { .. } => "retry",
            other => other.status().as_str(),
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Self::Sent => None,
            Self::Retry { error, .. } | Self::Bounced { error } | Self::Failed { error } => {
                Some(error)
            }
            Self::Skipped { why } => Some(why),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    subscriber_id: i64,
    day: String,
    content: String,
    message_id: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    sent_at: Option<i64>,
}

const COLUMNS: &str =
    "id, subscriber_id, day, content, message_id, status, attempts, last_error, sent_at";

impl TryFrom<Row> for StoredDigest {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        let bad = |why: String| StoreError::Corrupt {
            what: format!("digest {}", r.id),
            why,
        };
        Ok(Self {
            id: r.id,
            subscriber_id: r.subscriber_id,
            day: NaiveDate::parse_from_str(&r.day, "%Y-%m-%d").map_err(|e| bad(e.to_string()))?,
            content: serde_json::from_str(&r.content).map_err(|e| bad(e.to_string()))?,
            message_id: r.message_id,
            status: r.status.parse().map_err(bad)?,
            attempts: r.attempts,
            last_error: r.last_error,
            sent_at: r.sent_at,
        })
    }
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

impl Store {
    /// Put digests in the outbox, in one transaction. A (subscriber, day) that already has
    /// a digest keeps it: a rerun or a second instance never makes a second one. The papers
    /// of each new digest are remembered as sent to that reader. Returns the subscribers whose
    /// digest is new.
    pub async fn insert_digests(
        &self,
        digests: &[NewDigest],
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        // The rows travel as one JSON array a statement: binding thousands of parameters
        // costs sqlx-sqlite time quadratic in their number, and a statement a row costs a
        // round trip each. The contents go beside it as one blob, each row naming its slice:
        // as strings inside the array they were escaped here and unescaped there, 1.3 kB a
        // digest, which was most of what writing a day cost.
        let (rows_of, digest_rows, recipient_rows) = match self.pool {
            Pool::Sqlite { .. } => (
                "json_each($1) WHERE true",
                "value ->> 0, $2, CAST(substr($4, value ->> 2, value ->> 3) AS TEXT), value ->> 1",
                "value ->> 0, value ->> 1, value ->> 2, unhex(value ->> 3)",
            ),
            Pool::Postgres(_) => (
                "jsonb_array_elements($1::jsonb) AS value",
                "(value ->> 0)::bigint, $2, \
                 convert_from(substring($4::bytea FROM (value ->> 2)::int FOR (value ->> 3)::int), 'UTF8'), \
                 value ->> 1",
                "value ->> 0, (value ->> 1)::bigint, (value ->> 2)::bigint, decode(value ->> 3, 'hex')",
            ),
        };
        let insert_digests = format!(
            "INSERT INTO digests (subscriber_id, day, content, message_id, status, next_attempt_at, created_at) \
             SELECT {digest_rows}, 'pending', $3, $3 FROM {rows_of} \
             ON CONFLICT (subscriber_id, day) DO NOTHING RETURNING subscriber_id"
        );
        let insert_recipients = format!(
            "INSERT INTO paper_recipients (paper_id, version, block, readers, day) \
             SELECT {recipient_rows}, $2 FROM {rows_of}"
        );
        let mut days: Vec<NaiveDate> = digests.iter().map(|d| d.day).collect();
        days.sort_unstable();
        days.dedup();
        let inserted = on_writer!(self, pool => async {
            let mut tx = pool.begin().await?;
            let mut inserted: Vec<i64> = Vec::new();
            for on in &days {
                let of_day: Vec<&NewDigest> = digests.iter().filter(|d| d.day == *on).collect();
                let mut contents: Vec<u8> = Vec::with_capacity(of_day.len() * 1536);
                let rows: Vec<(i64, &str, usize, usize)> = of_day
                    .iter()
                    .map(|d| {
                        let start = contents.len();
                        serde_json::to_writer(&mut contents, &d.content).expect("content serialises");
                        // SQL counts from 1.
                        (d.subscriber_id, d.message_id.as_str(), start + 1, contents.len() - start)
                    })
                    .collect();
                let new: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(insert_digests.clone()))
                    .bind(serde_json::to_string(&rows).expect("digests serialise"))
                    .bind(day(*on))
                    .bind(now)
                    .bind(contents)
                    .fetch_all(&mut *tx)
                    .await?;
                let new_set: HashSet<i64> = new.iter().copied().collect();
                let recipients = recipient_rows_of(of_day.iter().filter(|d| new_set.contains(&d.subscriber_id)).copied())?;
                if !recipients.is_empty() {
                    sqlx::query(sqlx::AssertSqlSafe(insert_recipients.clone()))
                        .bind(serde_json::to_string(&recipients).expect("recipients serialise"))
                        .bind(day(*on))
                        .execute(&mut *tx)
                        .await?;
                }
                inserted.extend(new);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(inserted)
        }.await)?;
        Ok(inserted)
    }

    /// Of `papers`, those sent to any reader before: on most days none of the day's papers,
    /// so composing asks nothing more.
    pub async fn papers_sent_before(&self, papers: &[ArxivId]) -> Result<Vec<ArxivId>, StoreError> {
        let mut out = Vec::new();
        for chunk in papers.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT DISTINCT paper_id FROM paper_recipients WHERE paper_id IN ({})",
                placeholders(1, chunk.len())
            );
            let rows: Vec<String> = on_pool!(self, pool => {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(pool).await
            })?;
            out.extend(rows.iter().filter_map(|id| ArxivId::parse(id).ok()));
        }
        Ok(out)
    }

    /// Which of `papers` (and the latest version of each) were sent to the subscribers
    /// with ids in `first..=last`.
    pub async fn sent_papers(
        &self,
        first: i64,
        last: i64,
        papers: &[ArxivId],
    ) -> Result<HashMap<i64, HashMap<String, Option<u32>>>, StoreError> {
        let mut out: HashMap<i64, HashMap<String, Option<u32>>> = HashMap::new();
        // The papers go as one JSON array: composing asks this for every batch of readers
        // with the same (possibly 2,000) papers, and sqlx-sqlite's time grows with the square
        // of the bound parameters (it was the top function of a profile as an IN list).
        let papers_of = match self.pool {
            Pool::Sqlite { .. } => "SELECT value FROM json_each($3)",
            Pool::Postgres(_) => "SELECT jsonb_array_elements_text($3::jsonb)",
        };
        let sql = format!(
            "SELECT paper_id, version, readers, block FROM paper_recipients \
             WHERE paper_id IN ({papers_of}) AND block BETWEEN $1 AND $2"
        );
        let ids: Vec<&str> = papers.iter().map(ArxivId::as_str).collect();
        let ids = serde_json::to_string(&ids).expect("ids serialise");
        let rows: Vec<(String, Option<i64>, Vec<u8>, i64)> = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(recipients::block(first))
                .bind(recipients::block(last))
                .bind(&ids)
                .fetch_all(pool)
                .await
        })?;
        for (paper, version, readers, block) in rows {
            let version = version.and_then(|v| u32::try_from(v).ok());
            for reader in recipients::within(&readers, first, last, &paper, block)? {
                let seen = out
                    .entry(reader)
                    .or_default()
                    .entry(paper.clone())
                    .or_insert(version);
                // Sent more than once (a new version later): the latest counts.
                *seen = (*seen).max(version);
            }
        }
        Ok(out)
    }

    /// Claim up to `limit` digests that were due by `due_by` (or whose worker's lease ran
    /// out) for `lease_seconds`. A delivery run passes its start as `due_by`, so a digest it
    /// deferred is not tried again in the same run.
    pub async fn claim_digests(
        &self,
        now: i64,
        due_by: i64,
        lease_seconds: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDigest>, StoreError> {
        const DUE: &str = "(status = 'pending' AND next_attempt_at <= $4) OR (status = 'sending' AND lease_until < $1)";
        // PostgreSQL: concurrent workers skip each other's rows. SQLite: its one writer
        // serialises claims already.
        let skip_locked = match self.pool {
            Pool::Sqlite { .. } => "",
            Pool::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE digests SET status = 'sending', lease_until = $1 + $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM digests WHERE {DUE} ORDER BY id LIMIT $3 {skip_locked}) \
             RETURNING {COLUMNS}"
        );
        let rows: Vec<Row> = on_writer!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(now)
            .bind(lease_seconds)
            .bind(limit)
            .bind(due_by)
            .fetch_all(pool)
            .await)?;
        let mut out = rows
            .into_iter()
            .map(|r| {
                StoredDigest::try_from(r).map(|d| ClaimedDigest {
                    id: d.id,
                    subscriber_id: d.subscriber_id,
                    day: d.day,
                    content: d.content,
                    message_id: d.message_id,
                    attempts: d.attempts,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|d| d.id);
        Ok(out)
    }

    /// Record a group of attempts' outcomes in one transaction: every attempt goes into
    /// `delivery_attempts`, and each digest still claimed (`sending`) takes its outcome, so a
    /// worker whose lease ran out cannot overwrite a later worker's result. Returns how many
    /// digests changed.
    pub async fn record_deliveries(
        &self,
        outcomes: &[(i64, Outcome)],
        now: i64,
    ) -> Result<u64, StoreError> {
        // Rows per statement: 4 parameters each stays far below both databases' limits.
        const CHUNK: usize = 500;
        if outcomes.is_empty() {
            return Ok(0);
        }
        let mut changed = 0;
        on_writer!(self, pool => async {
            let mut tx = pool.begin().await?;
            for chunk in outcomes.chunks(CHUNK) {
                // One UPDATE for the group: each row's outcome joined in from a VALUES list.
                let rows: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let p = 2 + 4 * i;
                        format!("(${}, ${}, ${}, ${})", p, p + 1, p + 2, p + 3)
                    })
                    .collect();
                let sql = format!(
                    "WITH v (id, status, next_at, error) AS (VALUES {}) \
                     UPDATE digests SET status = v.status, next_attempt_at = v.next_at, lease_until = NULL, \
                       last_error = v.error, sent_at = CASE WHEN v.status = 'sent' THEN $1 ELSE digests.sent_at END \
                     FROM v WHERE digests.id = v.id AND digests.status = 'sending'",
                    rows.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
                for (id, outcome) in chunk {
                    let next = match outcome {
                        Outcome::Retry { at, .. } => *at,
                        _ => now,
                    };
                    q = q
                        .bind(*id)
                        .bind(outcome.status().as_str())
                        .bind(next)
                        .bind(outcome.detail());
                }
                changed += q.execute(&mut *tx).await?.rows_affected();

                let rows: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let p = 2 + 3 * i;
                        format!("(${}, $1, ${}, ${})", p, p + 1, p + 2)
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO delivery_attempts (digest_id, at, outcome, detail) VALUES {}",
                    rows.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
                for (id, outcome) in chunk {
                    q = q.bind(*id).bind(outcome.name()).bind(outcome.detail());
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)?;
        Ok(changed)
    }

    pub async fn digest_for(
        &self,
        subscriber_id: i64,
        on: NaiveDate,
    ) -> Result<Option<StoredDigest>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM digests WHERE subscriber_id = $1 AND day = $2");
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(subscriber_id).bind(day(on)).fetch_optional(pool).await)?;
        row.map(StoredDigest::try_from).transpose()
    }

    /// What a subscriber's latest `limit` digests held, newest first.
    pub async fn digest_contents_of(
        &self,
        subscriber_id: i64,
        limit: i64,
    ) -> Result<Vec<DigestContent>, StoreError> {
        let rows: Vec<(i64, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, content FROM digests WHERE subscriber_id = $1 ORDER BY day DESC LIMIT $2")
            .bind(subscriber_id).bind(limit).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(id, content)| {
                serde_json::from_str(&content).map_err(|e| StoreError::Corrupt {
                    what: format!("digest {id}"),
                    why: e.to_string(),
                })
            })
            .collect()
    }

    /// Digests by status, all days.
    pub async fn digest_counts(&self) -> Result<Vec<(DigestStatus, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT status, COUNT(*) FROM digests GROUP BY status").fetch_all(pool).await)?;
        Ok(DigestStatus::ALL
            .into_iter()
            .map(|s| {
                let n = rows
                    .iter()
                    .find(|(k, _)| k == s.as_str())
                    .map_or(0, |r| r.1);
                (s, n)
            })
            .collect())
    }

    /// Every attempt of a digest: (at, outcome, detail), oldest first.
    pub async fn delivery_attempts(
        &self,
        digest_id: i64,
    ) -> Result<Vec<(i64, String, Option<String>)>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT at, outcome, detail FROM delivery_attempts WHERE digest_id = $1 ORDER BY id")
            .bind(digest_id).fetch_all(pool).await)?)
    }
}

/// Held while one instance composes; on PostgreSQL a session advisory lock, released when
/// the guard is released or dropped (its connection is closed then). SQLite has one
/// machine and one writer: the guard is always granted.
pub struct ComposeLock {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
}

/// Any fixed number: the advisory lock's key for composing.
const COMPOSE_LOCK: i64 = 0x7061_7065_7262_6f79; // "paperboy"

impl ComposeLock {
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(COMPOSE_LOCK)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                conn.close_on_drop();
            }
        }
    }
}

impl Drop for ComposeLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            // Closing the session releases its advisory locks.
            conn.close_on_drop();
        }
    }
}

impl Store {
    /// The right to compose, if no other instance holds it.
    pub async fn try_compose_lock(&self) -> Result<Option<ComposeLock>, StoreError> {
        match &self.pool {
            Pool::Sqlite { .. } => Ok(Some(ComposeLock { conn: None })),
            Pool::Postgres(p) => {
                let mut conn = p.acquire().await?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(COMPOSE_LOCK)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(got.then_some(ComposeLock { conn: Some(conn) }))
            }
        }
    }
}

/// The paper_recipients rows for these digests: one a (paper, version, block of ids), its
/// readers packed, as `[paper, version, block, readers in hex]`.
type RecipientRow = (String, Option<u32>, i64, String);

fn recipient_rows_of<'a>(
    digests: impl Iterator<Item = &'a NewDigest>,
) -> Result<Vec<RecipientRow>, StoreError> {
    let mut by_paper: HashMap<(&str, Option<u32>, i64), Vec<i64>> = HashMap::new();
    for d in digests {
        for e in &d.content.entries {
            by_paper
                .entry((
                    e.paper.as_str(),
                    e.version,
                    recipients::block(d.subscriber_id),
                ))
                .or_default()
                .push(d.subscriber_id);
        }
    }
    let mut rows = Vec::with_capacity(by_paper.len());
    for ((paper, version, block), readers) in by_paper {
        let packed = recipients::encode(readers)?;
        rows.push((paper.to_string(), version, block, hex(&packed)));
    }
    Ok(rows)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}
