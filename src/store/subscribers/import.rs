//! An import's statements: the state of a batch of addresses, and the batch's writes in one
//! transaction (the rules are the import service's and the domain's).

use std::collections::{HashMap, HashSet};

use super::{interests_json, weekday_number};
use crate::domain::{NewSubscription, SubscriberStatus};
use crate::store::{Pool, Store, StoreError, on_pool, on_writer};

/// A new address an import stores.
pub(crate) struct ImportedReader<'a> {
    pub new: &'a NewSubscription,
    pub status: SubscriberStatus,
    pub consent_at: i64,
    pub consent_ip: Option<&'a str>,
    pub consent_source: &'a str,
    /// For a suppressed one: why.
    pub suppression_reason: Option<&'a str>,
}

/// An address here already that an import moves from one status to another.
pub(crate) struct ImportedChange<'a> {
    pub id: i64,
    pub from: SubscriberStatus,
    pub to: SubscriberStatus,
    /// For one confirmed by the import: when and where its consent was given.
    pub consent_at: i64,
    pub consent_source: &'a str,
    pub suppression_reason: Option<&'a str>,
}

/// What a batch's writes did.
#[derive(Debug, Default)]
pub(crate) struct ImportWritten {
    /// Addresses stored.
    pub created: u64,
    /// Addresses that another request stored, or whose status it changed, between the
    /// batch's reading and its writing: left as that request left them.
    pub raced: u64,
    /// Confirmation mails queued.
    pub mails: u64,
}

impl Store {
    /// The id and status of each of `emails` stored here.
    pub(crate) async fn statuses_of(
        &self,
        emails: &[&str],
    ) -> Result<HashMap<String, (i64, SubscriberStatus)>, StoreError> {
        let list = match self.pool {
            Pool::Sqlite { .. } => "SELECT value FROM json_each($1)",
            Pool::Postgres(_) => "SELECT jsonb_array_elements_text($1::jsonb)",
        };
        let sql = format!("SELECT id, email, status FROM subscribers WHERE email IN ({list})");
        let json = serde_json::to_string(emails).expect("addresses serialise");
        let rows: Vec<(i64, String, String)> = on_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&json).fetch_all(p).await)?;
        rows.into_iter()
            .map(|(id, email, status)| {
                let status = status.parse().map_err(|why| StoreError::Corrupt {
                    what: format!("subscriber {id}"),
                    why,
                })?;
                Ok((email, (id, status)))
            })
            .collect()
    }

    /// Which of these address hashes have a do-not-contact record.
    pub(crate) async fn erased_among(
        &self,
        hashes: &[&str],
    ) -> Result<HashSet<String>, StoreError> {
        let list = match self.pool {
            Pool::Sqlite { .. } => "SELECT value FROM json_each($1)",
            Pool::Postgres(_) => "SELECT jsonb_array_elements_text($1::jsonb)",
        };
        let sql = format!("SELECT hash FROM erased_addresses WHERE hash IN ({list})");
        let json = serde_json::to_string(hashes).expect("hashes serialise");
        let rows: Vec<String> = on_pool!(self, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&json).fetch_all(p).await)?;
        Ok(rows.into_iter().collect())
    }

    /// Store a batch of an import in one transaction: the new addresses (one statement; an
    /// address stored meanwhile by a sign-up is left as it is), a confirmation mail for each
    /// new pending one, and each change of status, made only from the status read before
    /// (a reader who acted meanwhile wins).
    pub(crate) async fn write_import(
        &self,
        readers: &[ImportedReader<'_>],
        changes: &[ImportedChange<'_>],
        now: i64,
    ) -> Result<ImportWritten, StoreError> {
        // Each new reader as one JSON array, in the columns' order below.
        let rows: Vec<serde_json::Value> = readers
            .iter()
            .map(|r| {
                let p = &r.new.prefs;
                let is = |s: SubscriberStatus| (r.status == s).then_some(now);
                serde_json::json!([
                    crate::tokens::new_public_id(),
                    r.new.email.as_str(),
                    r.status.as_str(),
                    interests_json(&r.new.interests),
                    p.frequency_name(),
                    weekday_number(p),
                    p.hour,
                    p.timezone.name(),
                    p.papers_per_digest,
                    p.send_when_empty,
                    r.consent_at,
                    r.consent_ip,
                    r.consent_source,
                    // An active reader was confirmed where the list comes from, when it says.
                    (r.status == SubscriberStatus::Active).then_some(r.consent_at),
                    is(SubscriberStatus::Unsubscribed),
                    is(SubscriberStatus::Suppressed),
                    r.suppression_reason,
                ])
            })
            .collect();
        let (rows_of, values, ids_of) = match self.pool {
            Pool::Sqlite { .. } => (
                "json_each($1) WHERE true",
                "value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
                 value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11, \
                 value ->> 12, value ->> 13, value ->> 14, value ->> 15, value ->> 16",
                "SELECT value FROM json_each($1)",
            ),
            Pool::Postgres(_) => (
                "jsonb_array_elements($1::jsonb) AS value",
                "value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
                 (value ->> 5)::bigint, (value ->> 6)::bigint, value ->> 7, (value ->> 8)::bigint, \
                 (value ->> 9)::boolean, (value ->> 10)::bigint, value ->> 11, value ->> 12, \
                 (value ->> 13)::bigint, (value ->> 14)::bigint, (value ->> 15)::bigint, value ->> 16",
                "SELECT jsonb_array_elements_text($1::jsonb)::bigint",
            ),
        };
        let insert = format!(
            "INSERT INTO subscribers (public_id, email, status, interests, frequency, weekday, \
             delivery_hour, timezone, papers_per_digest, send_when_empty, consent_at, consent_ip, \
             consent_source, confirmed_at, unsubscribed_at, suppressed_at, suppression_reason, \
             created_at, updated_at) \
             SELECT {values}, $2, $2 FROM {rows_of} \
             ON CONFLICT (email) DO NOTHING RETURNING id, status"
        );
        let queue = format!(
            "INSERT INTO subscription_mails (kind, subscriber_id, client_ip, status, next_attempt_at, created_at) \
             SELECT 'confirmation', id, NULL, 'pending', $2, $2 FROM subscribers WHERE id IN ({ids_of})"
        );
        let change = "UPDATE subscribers SET status = $1, updated_at = $2, \
             confirmed_at = CASE WHEN $1 = 'active' THEN $3 ELSE confirmed_at END, \
             consent_at = CASE WHEN $1 = 'active' THEN $3 ELSE consent_at END, \
             consent_source = CASE WHEN $1 = 'active' THEN $4 ELSE consent_source END, \
             unsubscribed_at = CASE WHEN $1 = 'unsubscribed' THEN $2 ELSE unsubscribed_at END, \
             suppressed_at = CASE WHEN $1 = 'suppressed' THEN $2 ELSE suppressed_at END, \
             suppression_reason = CASE WHEN $1 = 'suppressed' THEN $5 ELSE suppression_reason END \
             WHERE id = $6 AND status = $7";
        let rows = serde_json::to_string(&rows).expect("rows serialise");
        let written = on_writer!(self, pool => async {
            let mut tx = pool.begin().await?;
            let mut written = ImportWritten::default();
            if !readers.is_empty() {
                let stored: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(insert.clone()))
                    .bind(&rows).bind(now).fetch_all(&mut *tx).await?;
                written.created = stored.len() as u64;
                written.raced += (readers.len() - stored.len()) as u64;
                let pending: Vec<i64> = stored
                    .iter()
                    .filter(|(_, s)| s == SubscriberStatus::Pending.as_str())
                    .map(|(id, _)| *id)
                    .collect();
                if !pending.is_empty() {
                    written.mails = sqlx::query(sqlx::AssertSqlSafe(queue.clone()))
                        .bind(serde_json::to_string(&pending).expect("ids serialise"))
                        .bind(now)
                        .execute(&mut *tx).await?.rows_affected();
                }
            }
            for c in changes {
                let n = sqlx::query(change)
                    .bind(c.to.as_str()).bind(now).bind(c.consent_at).bind(c.consent_source)
                    .bind(c.suppression_reason).bind(c.id).bind(c.from.as_str())
                    .execute(&mut *tx).await?.rows_affected();
                if n == 0 {
                    written.raced += 1;
                }
            }
            tx.commit().await?;
            Ok::<_, StoreError>(written)
        }.await)?;
        Ok(written)
    }
}
