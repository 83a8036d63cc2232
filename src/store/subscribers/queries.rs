//! Reading subscribers: one by its id, public id or address, many by id, a page of them,
//! the readers of a day, counts by state, and what answered their sign-ups.

use super::{COLUMNS, ListFilter, Row};
use crate::domain::{EmailAddress, Subscriber, SubscriberStatus};
use crate::store::{Store, StoreError, on_pool};

impl Store {
    pub(crate) async fn find_by_public_id(
        &self,
        public_id: &str,
    ) -> Result<Option<Subscriber>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM subscribers WHERE public_id = $1");
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(public_id).fetch_optional(pool).await)?;
        row.map(Subscriber::try_from).transpose()
    }

    pub async fn find_by_email(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<Subscriber>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM subscribers WHERE email = $1");
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(email.as_str()).fetch_optional(pool).await)?;
        row.map(Subscriber::try_from).transpose()
    }

    pub(crate) async fn find_by_id(&self, id: i64) -> Result<Option<Subscriber>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM subscribers WHERE id = $1");
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id).fetch_optional(pool).await)?;
        row.map(Subscriber::try_from).transpose()
    }

    /// The subscribers among `ids` (one query; unknown ids are left out).
    pub(crate) async fn find_by_ids(&self, ids: &[i64]) -> Result<Vec<Subscriber>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(crate::store::IN_CHUNK) {
            let sql = format!(
                "SELECT {COLUMNS} FROM subscribers WHERE id IN ({})",
                crate::store::placeholders(1, chunk.len())
            );
            let rows: Vec<Row> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await
            })?;
            for r in rows {
                out.push(Subscriber::try_from(r)?);
            }
        }
        Ok(out)
    }

    /// The mails sent (or queued) in answer to sign-ups of a subscriber: (unix time, client
    /// address), oldest first.
    /// The confirmation and "already subscribed" mails of each of `ids` that has any (when
    /// queued, for which client), oldest first.
    pub(crate) async fn confirmation_mails_of_many(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<(i64, Option<String>)>>, StoreError> {
        let mut out: std::collections::HashMap<i64, Vec<(i64, Option<String>)>> =
            std::collections::HashMap::new();
        for chunk in ids.chunks(crate::store::IN_CHUNK) {
            let sql = format!(
                "SELECT subscriber_id, created_at, client_ip FROM subscription_mails \
                 WHERE subscriber_id IN ({}) AND kind <> 'welcome' ORDER BY subscriber_id, id",
                crate::store::placeholders(1, chunk.len())
            );
            let rows: Vec<(i64, i64, Option<String>)> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await
            })?;
            for (id, at, ip) in rows {
                out.entry(id).or_default().push((at, ip));
            }
        }
        Ok(out)
    }

    /// The highest reader id (0 when there is none): the primary key's last entry.
    pub(crate) async fn last_subscriber_id(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT COALESCE(MAX(id), 0) FROM subscribers").fetch_one(p).await)?)
    }

    /// One page of subscribers in id order.
    pub async fn list(&self, f: &ListFilter) -> Result<Vec<Subscriber>, StoreError> {
        let like = f.email_contains.as_ref().map(|s| {
            let escaped = s
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        // A topic is an element of the interests' JSON `topics` array; no index holds it.
        // The page walks readers in id order (the primary key, or (status, id) with a state)
        // and stops at its `limit`th match, so its cost is the rows walked to find them: a
        // topic many follow costs a few pages' worth of rows, one nobody follows the whole
        // table (about a second a million readers). The text test first spares most rows the
        // JSON parse; a slug is [a-z0-9-] only, nothing LIKE reads as a wildcard. An index
        // would need a table of (topic, reader) kept with every profile change: not worth it
        // for an operator's search, and the console bounds each page's walk (`up_to_id`).
        //
        // Only the filters given are in the statement: in a prepared statement's generic
        // plan (PostgreSQL's after five runs) `($n IS NULL OR ...)` hides a range from the
        // planner, and the search by an address's start walked the primary key instead.
        enum Arg {
            Text(String),
            Int(i64),
        }
        let mut args: Vec<Arg> = Vec::new();
        let mut arg = |a: Arg| {
            args.push(a);
            format!("${}", args.len())
        };
        let mut conds: Vec<String> = Vec::new();
        if let Some(s) = f.status {
            conds.push(format!("status = {}", arg(Arg::Text(s.as_str().into()))));
        }
        if let Some(like) = like {
            conds.push(format!("email LIKE {} ESCAPE '\\'", arg(Arg::Text(like))));
        }
        if let Some(t) = &f.topic {
            let t = arg(Arg::Text(t.as_str().into()));
            let in_topics = match self.pool {
                crate::store::Pool::Sqlite { .. } => format!(
                    "EXISTS (SELECT 1 FROM json_each(interests, '$.topics') WHERE value = {t})"
                ),
                crate::store::Pool::Postgres(_) => format!(
                    "(CAST(interests AS jsonb) -> 'topics') @> jsonb_build_array(CAST({t} AS TEXT))"
                ),
            };
            conds.push(format!(
                "interests LIKE '%\"' || {t} || '\"%' AND {in_topics}"
            ));
        }
        // Addresses are stored in lower case and compared in byte order on both databases
        // (migration 20261208000002): every address that starts with the prefix sorts from it
        // to it followed by the highest code point, one range of the unique index.
        if let Some(p) = &f.email_prefix {
            let p = p.to_lowercase();
            let high = format!("{p}{}", char::MAX);
            conds.push(format!(
                "email >= {} AND email < {}",
                arg(Arg::Text(p)),
                arg(Arg::Text(high))
            ));
        }
        conds.push(format!("id > {}", arg(Arg::Int(f.after_id.unwrap_or(0)))));
        if let Some(up_to) = f.up_to_id {
            conds.push(format!("id <= {}", arg(Arg::Int(up_to))));
        }
        let limit = arg(Arg::Int(f.limit.clamp(1, 10_000)));
        let sql = format!(
            "SELECT {COLUMNS} FROM subscribers WHERE {} ORDER BY id LIMIT {limit}",
            conds.join(" AND ")
        );
        let rows: Vec<Row> = on_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for a in &args {
                q = match a {
                    Arg::Text(s) => q.bind(s.clone()),
                    Arg::Int(i) => q.bind(*i),
                };
            }
            q.fetch_all(pool).await
        })?;
        rows.into_iter().map(Subscriber::try_from).collect()
    }

    /// The next active readers in id order after `after`, each with whether it already has
    /// a digest for `on` (a rerun, another instance): those need no matching.
    pub(crate) async fn readers_for_day(
        &self,
        on: chrono::NaiveDate,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(Subscriber, bool)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct WithDigest {
            #[sqlx(flatten)]
            row: Row,
            composed: bool,
        }
        // PostgreSQL hashes an EXISTS over the day's digests once a statement when it
        // expects few (its statistics are from before composing began), so every batch read
        // all the digests composed so far: a lateral probe of the (subscriber, day) index
        // cannot be hashed. SQLite probes that index a row at a time either way.
        let composed = match self.pool {
            crate::store::Pool::Sqlite { .. } => {
                "EXISTS (SELECT 1 FROM digests d WHERE d.subscriber_id = subscribers.id AND d.day = $1) AS composed FROM subscribers"
            }
            crate::store::Pool::Postgres(_) => {
                "d.found IS NOT NULL AS composed FROM subscribers LEFT JOIN LATERAL \
                 (SELECT true AS found FROM digests WHERE digests.subscriber_id = subscribers.id AND digests.day = $1 LIMIT 1) d ON true"
            }
        };
        let sql = format!(
            "SELECT {COLUMNS}, {composed} \
             WHERE status = 'active' AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows: Vec<WithDigest> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(on.format("%Y-%m-%d").to_string())
            .bind(after)
            .bind(limit.clamp(1, 10_000))
            .fetch_all(pool).await)?;
        rows.into_iter()
            .map(|r| Ok((Subscriber::try_from(r.row)?, r.composed)))
            .collect()
    }

    /// Whether any active reader takes a weekly digest.
    pub(crate) async fn has_weekly_readers(&self) -> Result<bool, StoreError> {
        let (found,): (bool,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM subscribers WHERE status = 'active' AND frequency = 'weekly')")
            .fetch_one(pool).await)?;
        Ok(found)
    }

    pub async fn counts_by_status(&self) -> Result<Vec<(SubscriberStatus, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT status, COUNT(*) FROM subscribers GROUP BY status")
            .fetch_all(pool).await)?;
        Ok(SubscriberStatus::ALL
            .into_iter()
            .map(|s| {
                (
                    s,
                    rows.iter()
                        .find(|(k, _)| k == s.as_str())
                        .map_or(0, |(_, n)| *n),
                )
            })
            .collect())
    }
}
