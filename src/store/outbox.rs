//! What the two outboxes (digests, subscription mails) share: claiming due rows under a
//! lease, and recording each attempt's outcome, which only the claim that still holds the
//! row may do.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::{Pool, Store, StoreError, on_writer};
use crate::domain::DigestStatus;

/// One of the outbox tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxTable {
    Digests,
    SubscriptionMails,
}

impl OutboxTable {
    pub(super) fn table(self) -> &'static str {
        match self {
            Self::Digests => "digests",
            Self::SubscriptionMails => "subscription_mails",
        }
    }

    /// The table of attempts and its column naming the row.
    fn attempts(self) -> (&'static str, &'static str) {
        match self {
            Self::Digests => ("delivery_attempts", "digest_id"),
            Self::SubscriptionMails => ("subscription_mail_attempts", "mail_id"),
        }
    }
}

/// A worker's hold on one outbox row: made by one claim, valid until `lease_until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub id: i64,
    /// Random, one per claiming statement: a later claim of the row (after this one's
    /// lease ran out) carries another, and this one's outcome is then not recorded.
    pub token: i64,
    /// Unix seconds.
    pub lease_until: i64,
    /// Including this one.
    pub attempts: i64,
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

    /// As `delivery_attempts.outcome` names it.
    pub fn name(&self) -> &'static str {
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

/// A row read back by a claim, with the id and attempt count every claim needs.
pub(crate) trait ClaimedRow:
    Send + Unpin + for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow>
{
    fn id(&self) -> i64;
    fn attempts(&self) -> i64;
}

/// A row of one outbox as a worker holds it: which table it is claimed from, how it reads
/// back, and whom it goes to. The digests and the subscription mails each have one.
// The row as read (`Raw`) is the store's own business, hence the private bound.
#[allow(private_bounds)]
pub trait Claimed: Sized + Send + Sync + 'static {
    const TABLE: OutboxTable;
    /// The columns a claim reads back.
    #[doc(hidden)]
    const COLUMNS: &'static str;
    #[doc(hidden)]
    type Raw: ClaimedRow;
    #[doc(hidden)]
    fn read(claim: Claim, raw: Self::Raw) -> Result<Self, StoreError>;
    fn claim(&self) -> Claim;
    /// The subscriber it is for.
    fn reader(&self) -> i64;
}

impl Store {
    /// Claim up to `limit` rows of an outbox that were due by `due_by` (or whose worker's
    /// lease ran out by `now`) for `lease_seconds`, oldest first. A delivery run passes its
    /// start as `due_by`, so a row it deferred is not tried again in the same run.
    pub async fn claim<R: Claimed>(
        &self,
        now: i64,
        due_by: i64,
        lease_seconds: i64,
        limit: i64,
    ) -> Result<Vec<R>, StoreError> {
        let rows: Vec<(Claim, R::Raw)> = self
            .claim_rows(R::TABLE, R::COLUMNS, now, due_by, lease_seconds, limit)
            .await?;
        rows.into_iter().map(|(c, r)| R::read(c, r)).collect()
    }

    /// Claim up to `limit` rows of `table` that were due by `due_by` (or whose worker's lease
    /// ran out by `now`) for `lease_seconds`, oldest first; `columns` are read back. Each
    /// comes with its [`Claim`].
    async fn claim_rows<R: ClaimedRow>(
        &self,
        table: OutboxTable,
        columns: &str,
        now: i64,
        due_by: i64,
        lease_seconds: i64,
        limit: i64,
    ) -> Result<Vec<(Claim, R)>, StoreError> {
        const DUE: &str = "(status = 'pending' AND next_attempt_at <= $4) OR (status = 'sending' AND lease_until < $1)";
        // PostgreSQL: concurrent workers skip each other's rows. SQLite: its one writer
        // serialises claims already.
        let skip_locked = match self.pool {
            Pool::Sqlite { .. } => "",
            Pool::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        };
        let t = table.table();
        let sql = format!(
            "UPDATE {t} SET status = 'sending', lease_until = $1 + $2, claim_token = $5, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM {t} WHERE {DUE} ORDER BY id LIMIT $3 {skip_locked}) \
             RETURNING {columns}"
        );
        let token = i64::from_ne_bytes(getrandom::u64().map_err(random_failed)?.to_ne_bytes());
        let rows: Vec<R> = on_writer!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(now)
            .bind(lease_seconds)
            .bind(limit)
            .bind(due_by)
            .bind(token)
            .fetch_all(pool)
            .await)?;
        let mut out: Vec<(Claim, R)> = rows
            .into_iter()
            .map(|r| {
                let claim = Claim {
                    id: r.id(),
                    token,
                    lease_until: now + lease_seconds,
                    attempts: r.attempts(),
                };
                (claim, r)
            })
            .collect();
        out.sort_by_key(|(c, _)| c.id);
        Ok(out)
    }

    /// Record a group of attempts' outcomes in one transaction: every attempt goes into the
    /// table's attempts, and each row still held by the claim that made the attempt takes its
    /// outcome. A worker whose lease ran out (and whose row another worker may have claimed
    /// and sent since) cannot overwrite what that later worker records. Returns how many
    /// rows changed.
    pub async fn record_outcomes(
        &self,
        table: OutboxTable,
        outcomes: &[(Claim, Outcome)],
        now: i64,
    ) -> Result<u64, StoreError> {
        // Rows per statement: 5 parameters each stays far below both databases' limits.
        const CHUNK: usize = 400;
        if outcomes.is_empty() {
            return Ok(0);
        }
        let t = table.table();
        let (attempts, key) = table.attempts();
        let mut changed = 0;
        on_writer!(self, pool => async {
            let mut tx = pool.begin().await?;
            for chunk in outcomes.chunks(CHUNK) {
                // One UPDATE for the group: each row's outcome joined in from a VALUES list.
                let rows: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let p = 2 + 5 * i;
                        format!("(${}, ${}, ${}, ${}, ${})", p, p + 1, p + 2, p + 3, p + 4)
                    })
                    .collect();
                let sql = format!(
                    "WITH v (id, token, status, next_at, error) AS (VALUES {}) \
                     UPDATE {t} SET status = v.status, next_attempt_at = v.next_at, lease_until = NULL, \
                       claim_token = NULL, last_error = v.error, \
                       sent_at = CASE WHEN v.status = 'sent' THEN $1 ELSE {t}.sent_at END \
                     FROM v WHERE {t}.id = v.id AND {t}.status = 'sending' AND {t}.claim_token = v.token",
                    rows.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
                for (claim, outcome) in chunk {
                    let next = match outcome {
                        Outcome::Retry { at, .. } => *at,
                        _ => now,
                    };
                    q = q
                        .bind(claim.id)
                        .bind(claim.token)
                        .bind(outcome.status().as_str())
                        .bind(next)
                        .bind(outcome.detail());
                }
                changed += q.execute(&mut *tx).await?.rows_affected();

                let rows: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let p = 2 + 3 * i;
                        format!("(${}, ${}, ${})", p, p + 1, p + 2)
                    })
                    .collect();
                // Only for rows still there: a reader erased (or a sign-up purged) while its
                // mail was out took the row with it, and its attempt has nothing to name.
                let sql = format!(
                    "WITH v (id, outcome, detail) AS (VALUES {}) \
                     INSERT INTO {attempts} ({key}, at, outcome, detail) \
                     SELECT v.id, $1, v.outcome, v.detail FROM v WHERE EXISTS (SELECT 1 FROM {t} WHERE {t}.id = v.id)",
                    rows.join(", ")
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
                for (claim, outcome) in chunk {
                    q = q.bind(claim.id).bind(outcome.name()).bind(outcome.detail());
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)?;
        Ok(changed)
    }

    /// Every attempt of one row: (at, outcome, detail), oldest first.
    pub(crate) async fn attempts_of(
        &self,
        table: OutboxTable,
        id: i64,
    ) -> Result<Vec<(i64, String, Option<String>)>, StoreError> {
        let (attempts, key) = table.attempts();
        let sql =
            format!("SELECT at, outcome, detail FROM {attempts} WHERE {key} = $1 ORDER BY id");
        Ok(
            super::on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id).fetch_all(pool).await)?,
        )
    }

    /// Rows of `table` by status.
    pub async fn outbox_counts(
        &self,
        table: OutboxTable,
    ) -> Result<Vec<(DigestStatus, i64)>, StoreError> {
        let sql = format!(
            "SELECT status, COUNT(*) FROM {} GROUP BY status",
            table.table()
        );
        let rows: Vec<(String, i64)> = super::on_pool!(self, pool => sqlx::query_as(
            sqlx::AssertSqlSafe(sql.clone())).fetch_all(pool).await)?;
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
}

fn random_failed(e: getrandom::Error) -> StoreError {
    StoreError::Random(e.to_string())
}
