//! The outbox: digests composed for a day, claimed by delivery workers under a lease, and
//! every attempt's outcome.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::outbox::{Claim, ClaimedRow, OutboxTable};
use super::{IN_CHUNK, Pool, Store, StoreError, on_pool, on_writer, placeholders, recipients};
use crate::domain::{ArxivId, DigestContent, DigestStatus, EntryReasons};

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
    /// Kept apart (`digest_reasons`) until retention drops them; inline in earlier rows.
    reasons: Option<String>,
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

const COLUMNS: &str = "id, subscriber_id, day, content, \
     (SELECT reasons FROM digest_reasons WHERE digest_reasons.digest_id = digests.id) AS reasons, \
     message_id, status, attempts, last_error, sent_at";

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
            content: content_of(&r.content, r.reasons.as_deref()).map_err(bad)?,
            message_id: r.message_id,
            status: r.status.parse().map_err(bad)?,
            attempts: r.attempts,
            last_error: r.last_error,
            sent_at: r.sent_at,
        })
    }
}

/// A digest's content from its row: the content, and its reasons where they are kept apart.
fn content_of(content: &str, reasons: Option<&str>) -> Result<DigestContent, String> {
    let content: DigestContent = serde_json::from_str(content).map_err(|e| e.to_string())?;
    match reasons {
        None => Ok(content),
        Some(r) => {
            let reasons: EntryReasons =
                serde_json::from_str(r).map_err(|e| format!("its reasons: {e}"))?;
            content.with_reasons(reasons)
        }
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
        // digest, which was most of what writing a day cost. The reasons go the same way to
        // their own table, for the digests that are new.
        let slice = |blob: &str, start: &str, len: &str| match self.pool {
            Pool::Sqlite { .. } => {
                format!("CAST(substr({blob}, value ->> {start}, value ->> {len}) AS TEXT)")
            }
            Pool::Postgres(_) => format!(
                "convert_from(substring({blob}::bytea FROM (value ->> {start})::int FOR (value ->> {len})::int), 'UTF8')"
            ),
        };
        let (rows_of, digest_rows, recipient_rows) = match self.pool {
            Pool::Sqlite { .. } => (
                "json_each($1) WHERE true",
                format!("value ->> 0, $2, {}, value ->> 1", slice("$4", "2", "3")),
                "value ->> 0, value ->> 1, value ->> 2, unhex(value ->> 3)",
            ),
            Pool::Postgres(_) => (
                "jsonb_array_elements($1::jsonb) AS value",
                format!(
                    "(value ->> 0)::bigint, $2, {}, value ->> 1",
                    slice("$4", "2", "3")
                ),
                "value ->> 0, (value ->> 1)::bigint, (value ->> 2)::bigint, decode(value ->> 3, 'hex')",
            ),
        };
        let insert_digests = format!(
            "INSERT INTO digests (subscriber_id, day, content, message_id, status, next_attempt_at, created_at) \
             SELECT {digest_rows}, 'pending', $3, $3 FROM {rows_of} \
             ON CONFLICT (subscriber_id, day) DO NOTHING RETURNING subscriber_id, id"
        );
        let id = match self.pool {
            Pool::Sqlite { .. } => "value ->> 0",
            Pool::Postgres(_) => "(value ->> 0)::bigint",
        };
        let insert_reasons = format!(
            "INSERT INTO digest_reasons (digest_id, reasons) SELECT {id}, {} FROM {rows_of}",
            slice("$2", "1", "2")
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
                let mut contents: Vec<u8> = Vec::with_capacity(of_day.len() * 256);
                let mut reasons: Vec<u8> = Vec::with_capacity(of_day.len() * 1280);
                // Where each digest's reasons lie in `reasons`, by reader.
                let mut reasons_at: HashMap<i64, (usize, usize)> = HashMap::with_capacity(of_day.len());
                let rows: Vec<(i64, &str, usize, usize)> = of_day
                    .iter()
                    .map(|d| {
                        let start = reasons.len();
                        serde_json::to_writer(&mut reasons, &d.content.reasons()).expect("reasons serialise");
                        // SQL counts from 1.
                        reasons_at.insert(d.subscriber_id, (start + 1, reasons.len() - start));
                        let start = contents.len();
                        serde_json::to_writer(&mut contents, &d.content.bare()).expect("content serialises");
                        (d.subscriber_id, d.message_id.as_str(), start + 1, contents.len() - start)
                    })
                    .collect();
                let new_rows: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(insert_digests.clone()))
                    .bind(serde_json::to_string(&rows).expect("digests serialise"))
                    .bind(day(*on))
                    .bind(now)
                    .bind(contents)
                    .fetch_all(&mut *tx)
                    .await?;
                let reason_rows: Vec<(i64, usize, usize)> = new_rows
                    .iter()
                    .map(|(reader, id)| {
                        let (start, len) = reasons_at[reader];
                        (*id, start, len)
                    })
                    .collect();
                if !reason_rows.is_empty() {
                    sqlx::query(sqlx::AssertSqlSafe(insert_reasons.clone()))
                        .bind(serde_json::to_string(&reason_rows).expect("reasons serialise"))
                        .bind(reasons)
                        .execute(&mut *tx)
                        .await?;
                }
                let new: Vec<i64> = new_rows.into_iter().map(|(reader, _)| reader).collect();
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

    /// A subscriber's latest `limit` digests, newest first: a range of the (subscriber, day)
    /// index, however many they have had.
    pub(crate) async fn digests_of(
        &self,
        subscriber_id: i64,
        limit: i64,
    ) -> Result<Vec<StoredDigest>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM digests WHERE subscriber_id = $1 ORDER BY day DESC LIMIT $2"
        );
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(subscriber_id).bind(limit).fetch_all(pool).await)?;
        rows.into_iter().map(StoredDigest::try_from).collect()
    }

    /// What a subscriber's latest `limit` digests held, newest first.
    pub(crate) async fn digest_contents_of(
        &self,
        subscriber_id: i64,
        limit: i64,
    ) -> Result<Vec<DigestContent>, StoreError> {
        let rows: Vec<(i64, String, Option<String>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, content, (SELECT reasons FROM digest_reasons WHERE digest_id = digests.id) \
             FROM digests WHERE subscriber_id = $1 ORDER BY day DESC LIMIT $2")
            .bind(subscriber_id).bind(limit).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(id, content, reasons)| {
                content_of(&content, reasons.as_deref()).map_err(|why| StoreError::Corrupt {
                    what: format!("digest {id}"),
                    why,
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
