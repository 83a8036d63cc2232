//! Bounces and complaints, each recorded with what it did to its reader.

use super::{Store, StoreError, on_pool, on_writer};
use crate::domain::{
    BouncePolicy, EmailAddress, EventSource, MailEventKind, MessageRef, StatusCode, Verdict,
};

/// The longest diagnostic kept: far servers quote whole paragraphs.
const MAX_DIAGNOSTIC: usize = 1000;

/// One event to record.
#[derive(Clone, Debug)]
pub struct NewMailEvent {
    pub subscriber_id: i64,
    /// The message it is about, when known.
    pub message: Option<MessageRef>,
    pub kind: MailEventKind,
    pub status: Option<StatusCode>,
    pub diagnostic: Option<String>,
    pub source: EventSource,
    /// Names the report, so that the same one seen again is not counted twice.
    pub dedupe_key: Option<String>,
}

/// What recording an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// Recorded; the reader was suppressed by it.
    Suppressed(String),
    /// Recorded; nothing else changed (a soft bounce under the limit, a delay, or a reader
    /// already suppressed).
    Noted,
    /// The same report was recorded before: nothing done.
    Duplicate,
    /// No such reader (erased meanwhile): nothing done.
    NoSubscriber,
}

/// A recorded event, with its reader's address.
#[derive(Clone, Debug)]
pub struct StoredMailEvent {
    pub id: i64,
    pub email: EmailAddress,
    /// `digest` or `subscription_mail`, with `message_id` its row, when known.
    pub message_kind: Option<String>,
    pub message_id: Option<i64>,
    pub kind: MailEventKind,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub source: EventSource,
    /// `suppressed` when this event suppressed the reader, else `noted`.
    pub effect: String,
    /// Unix seconds.
    pub at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    email: String,
    message_kind: Option<String>,
    message_id: Option<i64>,
    kind: String,
    status: Option<String>,
    diagnostic: Option<String>,
    source: String,
    effect: String,
    at: i64,
}

/// A [`Row`] with its reader's id.
#[derive(sqlx::FromRow)]
struct ReaderRow {
    subscriber_id: i64,
    #[sqlx(flatten)]
    row: Row,
}

impl Row {
    fn read(self) -> Result<StoredMailEvent, StoreError> {
        let bad = |why: String| StoreError::Corrupt {
            what: format!("mail event {}", self.id),
            why,
        };
        Ok(StoredMailEvent {
            email: EmailAddress::parse(&self.email).map_err(|e| bad(e.to_string()))?,
            kind: self.kind.parse().map_err(bad)?,
            source: self.source.parse().map_err(bad)?,
            id: self.id,
            message_kind: self.message_kind,
            message_id: self.message_id,
            status: self.status,
            diagnostic: self.diagnostic,
            effect: self.effect,
            at: self.at,
        })
    }
}

/// Which events to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub subscriber_id: Option<i64>,
    pub kind: Option<MailEventKind>,
    pub source: Option<EventSource>,
    /// Only events at or after this time, and before `until` (unix seconds).
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// The next page: events listed after this one, (at, id) of the previous page's last.
    pub after: Option<(i64, i64)>,
    pub limit: i64,
}

impl Store {
    /// Record an event and apply `policy` to its reader in one transaction: a hard bounce
    /// or a complaint suppresses, soft bounces once enough fall in the window. The reader's
    /// row is locked first, so events arriving together count each other. A suppressed
    /// reader keeps the reason that first suppressed them.
    pub(crate) async fn record_mail_event(
        &self,
        event: &NewMailEvent,
        policy: &BouncePolicy,
        now: i64,
    ) -> Result<EventOutcome, StoreError> {
        let e = event.clone();
        let policy = *policy;
        let store = self.clone();
        // Called from webhook requests too: see [`super::uncancelled`].
        super::uncancelled(async move { store.record_in_transaction(&e, &policy, now).await }).await
    }

    async fn record_in_transaction(
        &self,
        e: &NewMailEvent,
        policy: &BouncePolicy,
        now: i64,
    ) -> Result<EventOutcome, StoreError> {
        let diagnostic = e.diagnostic.as_deref().map(|d| {
            let d = d.trim();
            match d.char_indices().nth(MAX_DIAGNOSTIC) {
                Some((i, _)) => &d[..i],
                None => d,
            }
        });
        let (message_kind, message_id) = match e.message {
            Some(m) => (Some(m.kind.as_str()), Some(m.id)),
            None => (None, None),
        };
        let status = e.status.map(|s| s.to_string());
        let outcome = on_writer!(self, pool => async {
            let mut tx = pool.begin().await?;
            let reader: Option<(String,)> = sqlx::query_as(
                "UPDATE subscribers SET updated_at = updated_at WHERE id = $1 RETURNING status")
                .bind(e.subscriber_id).fetch_optional(&mut *tx).await?;
            let Some((status_now,)) = reader else {
                tx.rollback().await?;
                return Ok::<_, sqlx::Error>(EventOutcome::NoSubscriber);
            };
            if let Some(key) = &e.dedupe_key {
                let seen: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM mail_events WHERE dedupe_key = $1")
                    .bind(key).fetch_optional(&mut *tx).await?;
                if seen.is_some() {
                    tx.rollback().await?;
                    return Ok(EventOutcome::Duplicate);
                }
            }
            // Only a soft bounce is judged by the others in its window.
            let soft = if e.kind == MailEventKind::SoftBounce {
                let (before,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM mail_events WHERE subscriber_id = $1 AND kind = 'soft_bounce' AND at >= $2")
                    .bind(e.subscriber_id).bind(policy.window_start(now)).fetch_one(&mut *tx).await?;
                u32::try_from(before).unwrap_or(u32::MAX).saturating_add(1)
            } else {
                0
            };
            let outcome = match policy.verdict(e.kind, e.status, soft) {
                Verdict::Suppress(reason) if status_now != "suppressed" => {
                    let complaint = e.kind == MailEventKind::Complaint;
                    sqlx::query(
                        "UPDATE subscribers SET status = 'suppressed', suppressed_at = $1, \
                         suppression_reason = $2, updated_at = $1, \
                         unsubscribed_at = CASE WHEN $3 THEN COALESCE(unsubscribed_at, $1) ELSE unsubscribed_at END \
                         WHERE id = $4")
                        .bind(now).bind(&reason).bind(complaint).bind(e.subscriber_id)
                        .execute(&mut *tx).await?;
                    EventOutcome::Suppressed(reason)
                }
                _ => EventOutcome::Noted,
            };
            let effect = match outcome {
                EventOutcome::Suppressed(_) => "suppressed",
                _ => "noted",
            };
            sqlx::query(
                "INSERT INTO mail_events (subscriber_id, message_kind, message_id, kind, status, \
                 diagnostic, source, effect, dedupe_key, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(e.subscriber_id).bind(message_kind).bind(message_id).bind(e.kind.as_str())
                .bind(&status).bind(diagnostic).bind(e.source.as_str()).bind(effect)
                .bind(&e.dedupe_key).bind(now)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(outcome)
        }.await)?;
        Ok(outcome)
    }

    /// Recorded events, newest first.
    pub async fn mail_events(
        &self,
        filter: &EventFilter,
    ) -> Result<Vec<StoredMailEvent>, StoreError> {
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT e.id, s.email, e.message_kind, e.message_id, e.kind, e.status, e.diagnostic, \
             e.source, e.effect, e.at FROM mail_events e JOIN subscribers s ON s.id = e.subscriber_id \
             WHERE ($1 IS NULL OR e.subscriber_id = $1) AND ($2 IS NULL OR e.kind = $2) \
             AND ($3 IS NULL OR e.source = $3) AND ($4 IS NULL OR e.at >= $4) \
             AND ($5 IS NULL OR e.at < $5) \
             AND ($6 IS NULL OR e.at < $6 OR (e.at = $6 AND e.id < $7)) \
             ORDER BY e.at DESC, e.id DESC LIMIT $8")
            .bind(filter.subscriber_id).bind(filter.kind.map(MailEventKind::as_str))
            .bind(filter.source.map(EventSource::as_str)).bind(filter.since).bind(filter.until)
            .bind(filter.after.map(|a| a.0)).bind(filter.after.map(|a| a.1))
            .bind(filter.limit.max(0)).fetch_all(pool).await)?;
        rows.into_iter().map(Row::read).collect()
    }

    /// The events of each of `ids` that has any, newest first.
    pub(crate) async fn mail_events_of_many(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<StoredMailEvent>>, StoreError> {
        let mut out: std::collections::HashMap<i64, Vec<StoredMailEvent>> =
            std::collections::HashMap::new();
        for chunk in ids.chunks(super::IN_CHUNK) {
            let sql = format!(
                "SELECT e.subscriber_id, e.id, s.email, e.message_kind, e.message_id, e.kind, e.status, \
                 e.diagnostic, e.source, e.effect, e.at FROM mail_events e \
                 JOIN subscribers s ON s.id = e.subscriber_id \
                 WHERE e.subscriber_id IN ({}) ORDER BY e.subscriber_id, e.at DESC, e.id DESC",
                super::placeholders(1, chunk.len())
            );
            let rows: Vec<ReaderRow> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await
            })?;
            for r in rows {
                out.entry(r.subscriber_id).or_default().push(r.row.read()?);
            }
        }
        Ok(out)
    }

    /// How many events of each kind and source since `since`.
    pub(crate) async fn mail_event_counts(
        &self,
        since: i64,
    ) -> Result<Vec<(MailEventKind, EventSource, i64)>, StoreError> {
        let rows: Vec<(String, String, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT kind, source, COUNT(*) FROM mail_events WHERE at >= $1 \
             GROUP BY kind, source ORDER BY kind, source")
            .bind(since).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(k, s, n)| {
                let bad = |why: String| StoreError::Corrupt {
                    what: "a mail event".into(),
                    why,
                };
                Ok((k.parse().map_err(bad)?, s.parse().map_err(bad)?, n))
            })
            .collect()
    }
}
