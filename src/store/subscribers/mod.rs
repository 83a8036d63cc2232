mod import;
mod queries;
mod states;

pub(crate) use import::{ImportedChange, ImportedReader};

use chrono::Weekday;

use super::{Store, StoreError, on_writer};
use crate::domain::{
    AddressHash, DeliveryPrefs, EmailAddress, Frequency, Interests, NewSubscription, Subscriber,
    SubscriberStatus, SubscriptionMailKind,
};

/// What a subscribe request did to the stored subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscribeOutcome {
    /// A new address: stored as pending.
    Created,
    /// Still pending: its interests replaced by the latest submission.
    StillPending,
    /// It had unsubscribed: pending again until confirmed.
    Resubscribed,
    /// Suppressed after a bounce or complaint: stays so until its owner confirms.
    Suppressed,
    /// Already confirmed: nothing changed (a stranger must not edit someone's profile).
    AlreadyActive,
}

/// How many mails sign-ups may make in an hour, per address and per client.
#[derive(Clone, Copy, Debug)]
pub struct MailLimits {
    pub per_address: i64,
    pub per_client: i64,
}

/// The mails counted against [`MailLimits`]: bound (subscriber, client, an hour ago), run
/// inside the transaction that would queue one more. Welcome mails are not asked for.
const MAILS_IN_THE_HOUR: &str = "SELECT \
       (SELECT COUNT(*) FROM subscription_mails WHERE subscriber_id = $1 AND kind <> 'welcome' AND created_at >= $3), \
       (SELECT COUNT(*) FROM subscription_mails WHERE client_ip = $2 AND kind <> 'welcome' AND created_at >= $3)";

impl MailLimits {
    /// Whether one more mail may go, given [`MAILS_IN_THE_HOUR`]'s counts; a request from
    /// no known client (an operator's) is held to the address's limit only.
    fn allow(self, (per_address, per_client): (i64, i64), client: Option<&str>) -> bool {
        per_address < self.per_address && (client.is_none() || per_client < self.per_client)
    }
}

/// What asking a reader to confirm again did ([`Store::ask_to_confirm`]).
#[derive(Debug)]
pub enum AskOutcome {
    /// Pending, a confirmation mail queued: the reader as it left them.
    Asked(Box<Subscriber>),
    /// The address had its hourly share of confirmation mails: nothing changed.
    Limited,
    /// The reader is not in one of the states asked for (any more), or gone: nothing changed.
    NotFrom,
}

/// The state a subscribe request moves a subscriber from `status` to, and what it did;
/// `None` for a confirmed reader, who stays as they are.
fn next_state(status: SubscriberStatus) -> Option<(SubscriberStatus, SubscribeOutcome)> {
    match status {
        SubscriberStatus::Active => None,
        SubscriberStatus::Pending => {
            Some((SubscriberStatus::Pending, SubscribeOutcome::StillPending))
        }
        SubscriberStatus::Unsubscribed => {
            Some((SubscriberStatus::Pending, SubscribeOutcome::Resubscribed))
        }
        SubscriberStatus::Suppressed => {
            Some((SubscriberStatus::Suppressed, SubscribeOutcome::Suppressed))
        }
    }
}

/// Put one subscription mail in the outbox: bound (kind, subscriber, client, now), run
/// inside the transaction of the change that causes it.
const QUEUE_MAIL: &str = "INSERT INTO subscription_mails \
     (kind, subscriber_id, client_ip, status, next_attempt_at, created_at) \
     VALUES ($1, $2, $3, 'pending', $4, $4)";

/// Filters and keyset paging for listing subscribers.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub status: Option<SubscriberStatus>,
    /// Substring of the address, case-insensitive.
    pub email_contains: Option<String>,
    /// The start of the address, case-insensitive: read from the address's index, so a
    /// search at a million readers is as quick as one at ten.
    pub email_prefix: Option<String>,
    /// Readers who follow this topic.
    pub topic: Option<crate::domain::TopicId>,
    /// Only rows with an id greater than this (the previous page's last id).
    pub after_id: Option<i64>,
    /// Only rows with an id up to this: a bound on the rows a page walks, for a filter no
    /// index serves (a topic).
    pub up_to_id: Option<i64>,
    pub limit: i64,
}

const COLUMNS: &str = "id, public_id, email, status, interests, frequency, weekday, delivery_hour, \
    timezone, papers_per_digest, send_when_empty, created_at, updated_at, consent_at, consent_ip, \
    consent_source, confirmed_at, unsubscribed_at, suppressed_at, suppression_reason";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    public_id: String,
    email: String,
    status: String,
    interests: String,
    frequency: String,
    weekday: Option<i64>,
    delivery_hour: i64,
    timezone: String,
    papers_per_digest: i64,
    send_when_empty: bool,
    created_at: i64,
    updated_at: i64,
    consent_at: i64,
    consent_ip: Option<String>,
    consent_source: Option<String>,
    confirmed_at: Option<i64>,
    unsubscribed_at: Option<i64>,
    suppressed_at: Option<i64>,
    suppression_reason: Option<String>,
}

impl TryFrom<Row> for Subscriber {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        let bad = |why: String| StoreError::Corrupt {
            what: format!("subscriber {}", r.id),
            why,
        };
        let frequency = match (r.frequency.as_str(), r.weekday) {
            ("daily", _) => Frequency::Daily,
            ("weekly", Some(d)) => Frequency::Weekly(
                u8::try_from(d)
                    .ok()
                    .and_then(|d| Weekday::try_from(d).ok())
                    .ok_or_else(|| bad(format!("weekday {d}")))?,
            ),
            (f, d) => return Err(bad(format!("frequency {f:?} with weekday {d:?}"))),
        };
        Ok(Subscriber {
            id: r.id,
            email: EmailAddress::parse(&r.email).map_err(|e| bad(format!("email: {e}")))?,
            status: r.status.parse().map_err(bad)?,
            interests: serde_json::from_str(&r.interests)
                .map_err(|e| bad(format!("interests: {e}")))?,
            prefs: DeliveryPrefs {
                frequency,
                hour: u8::try_from(r.delivery_hour).map_err(|_| bad("delivery_hour".into()))?,
                timezone: r
                    .timezone
                    .parse()
                    .map_err(|_| bad(format!("timezone {:?}", r.timezone)))?,
                papers_per_digest: u8::try_from(r.papers_per_digest)
                    .map_err(|_| bad("papers_per_digest".into()))?,
                send_when_empty: r.send_when_empty,
            },
            public_id: r.public_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            consent_at: r.consent_at,
            consent_ip: r.consent_ip,
            consent_source: r.consent_source,
            confirmed_at: r.confirmed_at,
            unsubscribed_at: r.unsubscribed_at,
            suppressed_at: r.suppressed_at,
            suppression_reason: r.suppression_reason,
        })
    }
}

fn interests_json(i: &Interests) -> String {
    serde_json::to_string(i).expect("interests serialise")
}

fn weekday_number(p: &DeliveryPrefs) -> Option<i64> {
    p.weekday().map(|d| i64::from(d.num_days_from_monday()))
}

/// Bind a reader's interests and delivery preferences, in the order every statement that
/// writes them takes them: interests, frequency, weekday, hour, time zone, papers per
/// digest, send when empty.
trait BindProfile {
    fn bind_profile(self, interests: &Interests, prefs: &DeliveryPrefs) -> Self;
}

impl<'q, DB: sqlx::Database, O> BindProfile
    for sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments>
where
    String: 'q + sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'static str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: 'q + sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: 'q + sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: 'q + sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    fn bind_profile(self, interests: &Interests, prefs: &DeliveryPrefs) -> Self {
        self.bind(interests_json(interests))
            .bind(prefs.frequency_name())
            .bind(weekday_number(prefs))
            .bind(i64::from(prefs.hour))
            .bind(prefs.timezone.name())
            .bind(i64::from(prefs.papers_per_digest))
            .bind(prefs.send_when_empty)
    }
}

impl Store {
    /// Store a subscribe request. Safe under concurrency: the address is unique, so many
    /// requests for one address leave one subscriber.
    pub async fn subscribe(
        &self,
        new: &NewSubscription,
        client_ip: Option<&str>,
        now: i64,
    ) -> Result<(Subscriber, SubscribeOutcome), StoreError> {
        let (s, outcome, _) = self.subscribe_with_mail(new, client_ip, now, None).await?;
        Ok((s, outcome))
    }

    /// Store a subscribe request and, with `limits`, put the mail that answers it in the
    /// outbox in the same transaction: a confirmation link, or for an address already
    /// confirmed a link to its preferences. None when the address or the client has had its
    /// hourly share: the request is stored all the same. The subscriber's row is locked
    /// (PostgreSQL) or the one writer held (SQLite) while the limits are counted, so
    /// concurrent requests for an address cannot all pass them. Returns the subscriber as the
    /// request left it, what the request did, and the kind of mail queued.
    pub(crate) async fn subscribe_with_mail(
        &self,
        new: &NewSubscription,
        client_ip: Option<&str>,
        now: i64,
        limits: Option<MailLimits>,
    ) -> Result<(Subscriber, SubscribeOutcome, Option<SubscriptionMailKind>), StoreError> {
        let (store, new, client_ip) = (self.clone(), new.clone(), client_ip.map(str::to_owned));
        super::uncancelled(async move {
            store
                .subscribe_in_transaction(&new, client_ip.as_deref(), now, limits)
                .await
        })
        .await
    }

    async fn subscribe_in_transaction(
        &self,
        new: &NewSubscription,
        client_ip: Option<&str>,
        now: i64,
        limits: Option<MailLimits>,
    ) -> Result<(Subscriber, SubscribeOutcome, Option<SubscriptionMailKind>), StoreError> {
        let p = &new.prefs;
        // Each statement returns the row as it left it: read back separately, a row erased
        // in between would be missing.
        let insert = format!(
            "INSERT INTO subscribers (public_id, email, status, interests, frequency, weekday, \
             delivery_hour, timezone, papers_per_digest, send_when_empty, created_at, updated_at, \
             consent_at, consent_ip) \
             VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $10, $10, $11) \
             ON CONFLICT (email) DO NOTHING RETURNING {COLUMNS}"
        );
        let find = format!("SELECT {COLUMNS} FROM subscribers WHERE email = $1");
        let update = format!(
            "UPDATE subscribers SET status = $1, interests = $2, frequency = $3, weekday = $4, \
             delivery_hour = $5, timezone = $6, papers_per_digest = $7, send_when_empty = $8, \
             updated_at = $9, consent_at = $9, consent_ip = $10 \
             WHERE id = $11 AND status = $12 RETURNING {COLUMNS}"
        );
        // A confirmed reader's row is left as it is (a stranger must not edit someone's
        // profile), but locked all the same while the limits are counted.
        let lock_active = format!(
            "UPDATE subscribers SET updated_at = updated_at WHERE id = $1 AND status = 'active' \
             RETURNING {COLUMNS}"
        );
        // Update the address only from the state we read, so that two concurrent requests
        // cannot both act on a stale state; start again on a lost race.
        // On PostgreSQL, requests from one client are counted one at a time: the rows
        // locked below are each request's own address, so a burst from one client to many
        // addresses passed its hourly limit (26 mails queued against 20). SQLite has one
        // writer. The two-key form keeps clear of the compose lock's one-key space.
        let lock_client = match (&self.pool, client_ip, limits) {
            (super::Pool::Postgres(_), Some(ip), Some(_)) => Some(ip),
            _ => None,
        };
        let mut seen = None;
        let done = on_writer!(self, pool => async {
            for _ in 0..5 {
                let mut tx = pool.begin().await?;
                if let Some(ip) = lock_client {
                    sqlx::query("SELECT pg_advisory_xact_lock(8058, hashtext($1))::text")
                        .bind(ip)
                        .execute(&mut *tx).await?;
                }
                let inserted: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(insert.clone()))
                    .bind(crate::tokens::new_public_id())
                    .bind(new.email.as_str())
                    .bind_profile(&new.interests, p)
                    .bind(now)
                    .bind(client_ip)
                    .fetch_optional(&mut *tx).await?;
                let (row, outcome) = match inserted {
                    Some(row) => (row, SubscribeOutcome::Created),
                    None => {
                        // The address exists, unless it was erased (or expired unconfirmed)
                        // since the insert found it: then it is new again.
                        let current: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(find.clone()))
                            .bind(new.email.as_str())
                            .fetch_optional(&mut *tx).await?;
                        let Some(current) = current else {
                            tx.rollback().await?;
                            continue;
                        };
                        seen = Some(current.id);
                        let status: SubscriberStatus = current.status.parse().map_err(|why| StoreError::Corrupt {
                            what: format!("subscriber {}", current.id),
                            why,
                        })?;
                        let changed: Option<Row> = match next_state(status) {
                            None => sqlx::query_as(sqlx::AssertSqlSafe(lock_active.clone()))
                                .bind(current.id)
                                .fetch_optional(&mut *tx).await?,
                            Some((next, _)) => sqlx::query_as(sqlx::AssertSqlSafe(update.clone()))
                                .bind(next.as_str())
                                .bind_profile(&new.interests, p)
                                .bind(now)
                                .bind(client_ip)
                                .bind(current.id)
                                .bind(current.status.as_str())
                                .fetch_optional(&mut *tx).await?,
                        };
                        let Some(row) = changed else {
                            tx.rollback().await?;
                            continue;
                        };
                        let outcome = next_state(status).map_or(SubscribeOutcome::AlreadyActive, |(_, o)| o);
                        (row, outcome)
                    }
                };
                let kind = match outcome {
                    SubscribeOutcome::AlreadyActive => SubscriptionMailKind::AlreadySubscribed,
                    _ => SubscriptionMailKind::Confirmation,
                };
                let mut queued = None;
                if let Some(limits) = limits {
                    let counts: (i64, i64) = sqlx::query_as(MAILS_IN_THE_HOUR)
                        .bind(row.id).bind(client_ip).bind(now - 3600).fetch_one(&mut *tx).await?;
                    if limits.allow(counts, client_ip) {
                        sqlx::query(QUEUE_MAIL)
                            .bind(kind.as_str()).bind(row.id).bind(client_ip).bind(now)
                            .execute(&mut *tx).await?;
                        queued = Some(kind);
                    }
                }
                tx.commit().await?;
                return Ok::<_, StoreError>(Some((row, outcome, queued)));
            }
            Ok(None)
        }.await)?;
        match done {
            Some((row, outcome, queued)) => Ok((Subscriber::try_from(row)?, outcome, queued)),
            None => Err(StoreError::Contended(match seen {
                Some(id) => format!("subscriber {id}"),
                None => "a new subscriber".into(),
            })),
        }
    }

    /// An operator asks reader `id` to confirm (again): from one of the states `from`, they
    /// become pending and a confirmation mail is queued, in one transaction, within the
    /// sign-up's hourly limit for the address (nothing changes beyond it). `consent_at`
    /// restarts the pending window (what [`Store::delete_expired_pending`] counts from), as
    /// a sign-up that comes again does; where the sign-up came from (`consent_ip`,
    /// `consent_source`) stays. Never inserts: an address erased meanwhile stays erased.
    pub(crate) async fn ask_to_confirm(
        &self,
        id: i64,
        from: &'static [SubscriberStatus],
        now: i64,
        limits: MailLimits,
    ) -> Result<AskOutcome, StoreError> {
        let store = self.clone();
        super::uncancelled(async move { store.ask_in_transaction(id, from, now, limits).await })
            .await
    }

    async fn ask_in_transaction(
        &self,
        id: i64,
        from: &[SubscriberStatus],
        now: i64,
        limits: MailLimits,
    ) -> Result<AskOutcome, StoreError> {
        let update = format!(
            "UPDATE subscribers SET status = 'pending', consent_at = $1, updated_at = $1 \
             WHERE id = $2 AND status IN ({}) RETURNING {COLUMNS}",
            super::placeholders(3, from.len())
        );
        let done = on_writer!(self, pool => async {
            let mut tx = pool.begin().await?;
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(update.clone())).bind(now).bind(id);
            for status in from {
                q = q.bind(status.as_str());
            }
            let Some(row): Option<Row> = q.fetch_optional(&mut *tx).await? else {
                tx.rollback().await?;
                return Ok::<_, StoreError>(None);
            };
            let counts: (i64, i64) = sqlx::query_as(MAILS_IN_THE_HOUR)
                .bind(id).bind(None::<&str>).bind(now - 3600).fetch_one(&mut *tx).await?;
            if !limits.allow(counts, None) {
                tx.rollback().await?;
                return Ok(Some(None));
            }
            sqlx::query(QUEUE_MAIL)
                .bind(SubscriptionMailKind::Confirmation.as_str()).bind(id).bind(None::<&str>).bind(now)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(Some(Some(row)))
        }.await)?;
        Ok(match done {
            None => AskOutcome::NotFrom,
            Some(None) => AskOutcome::Limited,
            Some(Some(row)) => AskOutcome::Asked(Box::new(Subscriber::try_from(row)?)),
        })
    }

    /// Mark confirmed: active, and no longer suppressed (its owner has just proven the
    /// mailbox works). Returns false when the subscriber is not pending or suppressed. No
    /// mail: for an address an operator vouches for.
    pub async fn confirm(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        self.confirm_with(id, now, None).await
    }

    /// [`Store::confirm`] by the reader's own link: the welcome mail put in the outbox, and
    /// a do-not-contact record of the address (`erased`) removed, in the same transaction,
    /// when the confirmation changed something. Its owner has just consented again.
    pub(crate) async fn confirm_and_welcome(
        &self,
        id: i64,
        now: i64,
        erased: &AddressHash,
    ) -> Result<bool, StoreError> {
        self.confirm_with(id, now, Some(erased.clone())).await
    }

    async fn confirm_with(
        &self,
        id: i64,
        now: i64,
        by_owner: Option<AddressHash>,
    ) -> Result<bool, StoreError> {
        let store = self.clone();
        super::uncancelled(async move {
            store
                .confirm_in_transaction(id, now, by_owner.as_ref())
                .await
        })
        .await
    }

    async fn confirm_in_transaction(
        &self,
        id: i64,
        now: i64,
        by_owner: Option<&AddressHash>,
    ) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => async {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE subscribers SET status = 'active', confirmed_at = $1, updated_at = $1, \
                 suppressed_at = NULL, suppression_reason = NULL \
                 WHERE id = $2 AND status IN ('pending', 'suppressed')")
                .bind(now).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 1 && let Some(erased) = by_owner {
                sqlx::query(QUEUE_MAIL)
                    .bind(SubscriptionMailKind::Welcome.as_str()).bind(id).bind(None::<&str>).bind(now)
                    .execute(&mut *tx).await?;
                sqlx::query("DELETE FROM erased_addresses WHERE hash = $1")
                    .bind(erased.as_str()).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(n)
        }.await)?;
        Ok(n == 1)
    }

    pub(crate) async fn update_profile(
        &self,
        id: i64,
        interests: &Interests,
        prefs: &DeliveryPrefs,
        now: i64,
    ) -> Result<bool, StoreError> {
        let updated: Option<(i64,)> = on_writer!(self, pool => sqlx::query_as(
            "UPDATE subscribers SET interests = $1, frequency = $2, weekday = $3, delivery_hour = $4, \
             timezone = $5, papers_per_digest = $6, send_when_empty = $7, updated_at = $8 WHERE id = $9 \
             RETURNING id")
            .bind_profile(interests, prefs)
            .bind(now)
            .bind(id)
            .fetch_optional(pool).await)?;
        Ok(updated.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SubscriptionInput, TopicCatalogue};

    async fn store(dir: &std::path::Path) -> (Store, String) {
        let url = format!("sqlite://{}", dir.join("store.db").display());
        (Store::connect(&url).await.unwrap(), url)
    }

    fn request(email: &str, keywords: &str) -> NewSubscription {
        let catalogue =
            TopicCatalogue::from_toml(include_str!("../../../config/topics.toml")).unwrap();
        let input = SubscriptionInput {
            email: email.into(),
            keywords: keywords.into(),
            ..Default::default()
        };
        NewSubscription::parse(&input, &catalogue).unwrap()
    }

    /// A statement on the database file behind the store's back, as a hand edit would be.
    async fn by_hand(url: &str, sql: &str) {
        let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut db)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_subscribe_request_answers_with_the_row_as_it_left_it() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store(dir.path()).await;
        let (first, outcome) = store
            .subscribe(&request("a@example.org", "agents"), Some("192.0.2.1"), 10)
            .await
            .unwrap();
        assert_eq!(outcome, SubscribeOutcome::Created);
        assert_eq!(
            (first.status, first.consent_at, first.consent_ip.as_deref()),
            (SubscriberStatus::Pending, 10, Some("192.0.2.1"))
        );
        assert_eq!(
            Some(&first),
            store.find_by_id(first.id).await.unwrap().as_ref()
        );
        let (again, outcome) = store
            .subscribe(&request("a@example.org", "diffusion"), None, 20)
            .await
            .unwrap();
        assert_eq!(outcome, SubscribeOutcome::StillPending);
        assert_eq!(again.id, first.id);
        assert_eq!((again.consent_at, again.consent_ip.as_deref()), (20, None));
        assert_eq!(again.interests.keywords, ["diffusion"]);
        assert_eq!(
            Some(&again),
            store.find_by_id(first.id).await.unwrap().as_ref()
        );
        assert!(store.unsubscribe(first.id, 30).await.unwrap());
        let (back, outcome) = store
            .subscribe(&request("a@example.org", "agents"), None, 40)
            .await
            .unwrap();
        assert_eq!(
            (outcome, back.status),
            (SubscribeOutcome::Resubscribed, SubscriberStatus::Pending)
        );
    }

    #[tokio::test]
    async fn a_corrupt_row_is_named_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let (store, url) = store(dir.path()).await;
        let (s, _) = store
            .subscribe(&request("b@example.org", "agents"), None, 10)
            .await
            .unwrap();
        by_hand(
            &url,
            &format!(
                "UPDATE subscribers SET timezone = 'Mars/Olympus' WHERE id = {}",
                s.id
            ),
        )
        .await;
        let e = store.find_by_id(s.id).await.unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!(
                "stored subscriber {} is corrupt: timezone \"Mars/Olympus\"",
                s.id
            )) && shown.contains("mend or delete that row"),
            "{shown}"
        );
        // The same for a paper, named by its arXiv id.
        by_hand(
            &url,
            "INSERT INTO papers (id, title, abstract, authors, categories, keywords, sources, \
             first_seen_at, updated_at) \
             VALUES ('2605.00001', 't', 'a', 'not json', '[]', '[]', '[]', 0, 0)",
        )
        .await;
        let id = crate::domain::ArxivId::parse("2605.00001").unwrap();
        let shown = store.papers_by_ids(&[id]).await.unwrap_err().to_string();
        assert!(
            shown.starts_with("stored paper 2605.00001 is corrupt:"),
            "{shown}"
        );
    }
}
