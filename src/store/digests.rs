//! The outbox: digests composed for a day, claimed by delivery workers under a lease, and
//! every attempt's outcome.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::outbox::{Claim, ClaimedRow, OutboxTable};
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
    pub claim: Claim,
    pub subscriber_id: i64,
    pub day: NaiveDate,
    pub content: DigestContent,
    pub message_id: String,
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

/// A row as read; `pub` only because [`super::outbox::Claimed`] names it.
#[derive(sqlx::FromRow)]
pub struct Row {
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

impl ClaimedRow for Row {
    fn id(&self) -> i64 {
        self.id
    }
    fn attempts(&self) -> i64 {
        self.attempts
    }
}

const COLUMNS: &str =
    "id, subscriber_id, day, content, message_id, status, attempts, last_error, sent_at";

// The row as read is the store's own business (see `Claimed`).
#[allow(private_interfaces)]
impl super::outbox::Claimed for ClaimedDigest {
    const TABLE: OutboxTable = OutboxTable::Digests;
    const COLUMNS: &'static str = COLUMNS;
    type Raw = Row;

    fn read(claim: Claim, raw: Row) -> Result<Self, StoreError> {
        StoredDigest::try_from(raw).map(|d| ClaimedDigest {
            claim,
            subscriber_id: d.subscriber_id,
            day: d.day,
            content: d.content,
            message_id: d.message_id,
        })
    }

    fn claim(&self) -> Claim {
        self.claim
    }

    fn reader(&self) -> i64 {
        self.subscriber_id
    }
}

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
    pub(crate) async fn digest_contents_of(
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
        self.outbox_counts(OutboxTable::Digests).await
    }

    /// Every attempt of a digest: (at, outcome, detail), oldest first.
    pub async fn delivery_attempts(
        &self,
        digest_id: i64,
    ) -> Result<Vec<(i64, String, Option<String>)>, StoreError> {
        self.attempts_of(OutboxTable::Digests, digest_id).await
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
