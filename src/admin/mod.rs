//! What an operator asks of the service, from the admin API and the CLI: subscribers
//! listed, counted and exported, the state of ingest and the outbox, suppressions and mail
//! events; `views.rs`: what the listings and exports show.

pub mod views;

use crate::audit::Audit;
use crate::context::Context;
use crate::domain::DigestStatus;
use crate::domain::{Actor, AuditAction, AuditEntry, EmailAddress, EventSource, MailEventKind};
use crate::domain::{PaperRating, Subscriber, SubscriberStatus};
use crate::store::{
    EventFilter, IngestRun, LearnedSummary, ListFilter, StoreError, StoredMailEvent,
};

/// A page of subscribers at most this long; the API documents the same bound.
pub(crate) const MAX_PAGE: i64 = 1000;
/// Rows read at a time when exporting everyone.
const EXPORT_PAGE: i64 = 5000;

/// The operator's view of the service.
#[derive(Clone)]
pub struct Admin {
    ctx: Context,
    audit: Audit,
}

/// A subscriber with the confirmation mails sent to the address (when, to which client),
/// their ratings of papers and the bounces and complaints about mail to them, which is
/// everything stored about it.
pub struct Exported {
    pub subscriber: Subscriber,
    pub confirmation_mails: Vec<(i64, Option<String>)>,
    /// Latest first.
    pub ratings: Vec<PaperRating>,
    /// Bounces and complaints about mail to the address, newest first.
    pub mail_events: Vec<StoredMailEvent>,
}

/// A digest composed for a reader, as their page in the console shows it.
pub struct ReaderDigest {
    pub day: chrono::NaiveDate,
    pub status: DigestStatus,
    pub sent_at: Option<i64>,
    /// Its papers in the digest's order, each with its title while the paper is stored.
    pub papers: Vec<(crate::domain::ArxivId, Option<String>)>,
}

/// Where the service stands.
pub struct Status {
    /// Latest first.
    pub runs: Vec<IngestRun>,
    pub outbox: Vec<(DigestStatus, i64)>,
    /// Confirmation, "already subscribed" and welcome mails by state.
    pub subscription_mails: Vec<(DigestStatus, i64)>,
    pub subscribers: Vec<(SubscriberStatus, i64)>,
    /// Topics with a learned profile, and when they were learned.
    pub learned: LearnedSummary,
    /// Bounces and complaints of the last [`EVENTS_WINDOW_DAYS`] days, by kind and source.
    pub mail_events: Vec<(MailEventKind, EventSource, i64)>,
    /// The latest events, newest first.
    pub latest_events: Vec<StoredMailEvent>,
}

/// How far back `status` counts bounces and complaints.
pub(crate) const EVENTS_WINDOW_DAYS: i64 = 30;

/// Why a suppression could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum SuppressionError {
    #[error("no subscriber with the address {0}")]
    Unknown(EmailAddress),
    #[error("{0} is not suppressed")]
    NotSuppressed(EmailAddress),
    #[error("no reader has the id {0}: erased, or never signed up")]
    NoSuchId(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Admin {
    pub fn new(ctx: Context, audit: Audit) -> Self {
        Self { ctx, audit }
    }

    /// Is the database reachable?
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        self.ctx.store.ping().await
    }

    /// One page of subscribers: at most [`MAX_PAGE`], after `filter.after_id`.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Subscriber>, StoreError> {
        let filter = ListFilter {
            limit: filter.limit.clamp(1, MAX_PAGE),
            ..filter.clone()
        };
        self.ctx.store.list(&filter).await
    }

    /// Up to `limit` subscribers matching `filter`, read a page at a time.
    pub(crate) async fn list_all(
        &self,
        filter: &ListFilter,
        limit: i64,
    ) -> Result<Vec<Subscriber>, StoreError> {
        let mut all = Vec::new();
        let mut page = ListFilter {
            limit: EXPORT_PAGE.min(limit.max(1)),
            ..filter.clone()
        };
        while (all.len() as i64) < limit {
            let rows = self.ctx.store.list(&page).await?;
            let done = (rows.len() as i64) < page.limit;
            page.after_id = rows.last().map(|s| s.id);
            all.extend(rows);
            if done {
                break;
            }
        }
        all.truncate(limit.max(0) as usize);
        Ok(all)
    }

    pub async fn counts(&self) -> Result<Vec<(SubscriberStatus, i64)>, StoreError> {
        self.ctx.store.counts_by_status().await
    }

    /// Everything stored about each subscriber, or about one address (recorded in the audit
    /// log: an export is personal data leaving the service).
    pub async fn export(
        &self,
        actor: &Actor,
        email: Option<&crate::domain::EmailAddress>,
    ) -> Result<Vec<Exported>, StoreError> {
        let subscribers = match email {
            Some(e) => self.ctx.store.find_by_email(e).await?.into_iter().collect(),
            None => self.list_all(&ListFilter::default(), i64::MAX).await?,
        };
        let out = self.gather(subscribers).await?;
        let subject = email.map_or_else(|| "every reader".to_string(), |e| e.to_string());
        self.audit
            .record(
                actor,
                AuditEntry::new(AuditAction::Export, subject)
                    .result(format!("{} reader(s)", out.len())),
            )
            .await?;
        Ok(out)
    }

    /// Bounces and complaints taken away as a file, recorded in the audit log (addresses
    /// leave the service).
    pub async fn export_events(
        &self,
        actor: &Actor,
        filter: &EventFilter,
    ) -> Result<Vec<StoredMailEvent>, StoreError> {
        let events = self.ctx.store.mail_events(filter).await?;
        self.audit
            .record(
                actor,
                AuditEntry::new(AuditAction::Export, "bounces and complaints")
                    .result(format!("{} event(s)", events.len())),
            )
            .await?;
        Ok(events)
    }

    /// Every suppression taken away as a file, recorded in the audit log.
    pub async fn export_suppressions(&self, actor: &Actor) -> Result<Vec<Subscriber>, StoreError> {
        let rows = self.suppressions(None, i64::MAX).await?;
        self.audit
            .record(
                actor,
                AuditEntry::new(AuditAction::Export, "suppressions")
                    .result(format!("{} reader(s)", rows.len())),
            )
            .await?;
        Ok(rows)
    }

    /// Lift the suppressions of readers by id, each recorded with `reason`: what became of
    /// each (an id that is not a suppressed reader says why).
    pub async fn lift_many(
        &self,
        actor: &Actor,
        ids: &[i64],
        reason: &str,
    ) -> Result<Vec<(i64, Result<Subscriber, SuppressionError>)>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let lifted = match self.ctx.store.find_by_id(id).await? {
                Some(s) => self.lift(actor, &s.email, reason).await,
                None => Err(SuppressionError::NoSuchId(id)),
            };
            if let Err(SuppressionError::Store(e)) = lifted {
                return Err(e);
            }
            out.push((id, lifted));
        }
        Ok(out)
    }

    /// Everything stored about one reader, by id, for the console's reader page (to look
    /// at, not to take away: not an export).
    pub async fn reader_by_id(&self, id: i64) -> Result<Option<Exported>, StoreError> {
        let Some(s) = self.ctx.store.find_by_id(id).await? else {
            return Ok(None);
        };
        Ok(self.gather(vec![s]).await?.pop())
    }

    /// A reader's latest `limit` digests, newest first, with their papers' titles: two
    /// queries, however many digests the reader has had.
    pub async fn digests_of(&self, id: i64, limit: i64) -> Result<Vec<ReaderDigest>, StoreError> {
        let digests = self.ctx.store.digests_of(id, limit).await?;
        let ids: Vec<crate::domain::ArxivId> = digests
            .iter()
            .flat_map(|d| d.content.entries.iter().map(|e| e.paper.clone()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let titles = self.ctx.store.titles_of(&ids).await?;
        Ok(digests
            .into_iter()
            .map(|d| ReaderDigest {
                day: d.day,
                status: d.status,
                sent_at: d.sent_at,
                papers: d
                    .content
                    .entries
                    .into_iter()
                    .map(|e| {
                        let title = titles.get(&e.paper).cloned();
                        (e.paper, title)
                    })
                    .collect(),
            })
            .collect())
    }

    /// The subscribers with their confirmation mails, ratings and mail events.
    async fn gather(&self, subscribers: Vec<Subscriber>) -> Result<Vec<Exported>, StoreError> {
        let ids: Vec<i64> = subscribers.iter().map(|s| s.id).collect();
        // Three queries per 500 readers, not three per reader.
        let mut ratings = self.ctx.store.ratings_of_many(&ids).await?;
        let mut mails = self.ctx.store.confirmation_mails_of_many(&ids).await?;
        let mut events = self.ctx.store.mail_events_of_many(&ids).await?;
        let mut out = Vec::with_capacity(subscribers.len());
        for subscriber in subscribers {
            let id = subscriber.id;
            out.push(Exported {
                ratings: ratings.remove(&id).unwrap_or_default(),
                confirmation_mails: mails.remove(&id).unwrap_or_default(),
                mail_events: events.remove(&id).unwrap_or_default(),
                subscriber,
            });
        }
        Ok(out)
    }

    /// The ratings of each of these subscribers that has any, latest first.
    pub async fn ratings_of(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<PaperRating>>, StoreError> {
        self.ctx.store.ratings_of_many(ids).await
    }

    /// Erase a subscriber and everything stored about the address but the keyed hash that
    /// keeps it from being added back (see `Subscriptions::erase`); false if there was none.
    /// The audit log names the reader by id only: it must not keep what erasing removed.
    pub(crate) async fn erase(
        &self,
        actor: &Actor,
        email: &crate::domain::EmailAddress,
    ) -> Result<bool, StoreError> {
        let Some(s) = self.ctx.store.find_by_email(email).await? else {
            return Ok(false);
        };
        let hash = self.ctx.erasure.hash(&s.email);
        let erased = self
            .ctx
            .store
            .erase(s.id, &s.email, &hash, crate::clock::timestamp())
            .await?;
        if erased {
            self.audit
                .record(
                    actor,
                    AuditEntry::new(AuditAction::Erase, format!("subscriber {}", s.id)).change(
                        s.status.as_str(),
                        "erased (a keyed hash of the address kept)",
                    ),
                )
                .await?;
        }
        Ok(erased)
    }

    pub async fn status(&self) -> Result<Status, StoreError> {
        Ok(Status {
            runs: self.ctx.store.recent_runs(10).await?,
            outbox: self.ctx.store.digest_counts().await?,
            subscription_mails: self
                .ctx
                .store
                .outbox_counts(crate::store::OutboxTable::SubscriptionMails)
                .await?,
            subscribers: self.ctx.store.counts_by_status().await?,
            learned: self.ctx.store.learned_summary().await?,
            mail_events: self
                .ctx
                .store
                .mail_event_counts(crate::clock::timestamp() - EVENTS_WINDOW_DAYS * 86_400)
                .await?,
            latest_events: self
                .events(&EventFilter {
                    limit: 10,
                    ..Default::default()
                })
                .await?,
        })
    }

    /// How many topics have a learned profile, and when they were learned.
    pub async fn learned(&self) -> Result<LearnedSummary, StoreError> {
        self.ctx.store.learned_summary().await
    }

    /// The highest reader id: where a bounded walk of the readers ends.
    pub async fn last_reader_id(&self) -> Result<i64, StoreError> {
        self.ctx.store.last_subscriber_id().await
    }

    /// The latest ingest runs, newest first.
    pub async fn ingest_runs(&self, limit: i64) -> Result<Vec<IngestRun>, StoreError> {
        self.ctx.store.recent_runs(limit).await
    }

    /// Bounces and complaints recorded, newest first.
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<StoredMailEvent>, StoreError> {
        self.ctx.store.mail_events(filter).await
    }

    /// The subscribers nothing is sent to (for a bounce or a complaint or by hand), in id
    /// order, after `after_id` when given.
    pub async fn suppressions(
        &self,
        after_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Subscriber>, StoreError> {
        let filter = ListFilter {
            status: Some(SubscriberStatus::Suppressed),
            after_id,
            ..Default::default()
        };
        self.list_all(&filter, limit).await
    }

    /// Stop all mail to an address by hand; until its owner confirms again, or
    /// [`Admin::lift`]. Already suppressed: the first reason stays. Returns the reader.
    pub async fn suppress(
        &self,
        actor: &Actor,
        email: &EmailAddress,
        reason: &str,
    ) -> Result<Subscriber, SuppressionError> {
        let s = self.reader(email).await?;
        if s.status != SubscriberStatus::Suppressed {
            let reason = match reason_text(reason) {
                None => "by the operator".to_string(),
                Some(r) => format!("by the operator: {r}"),
            };
            self.ctx
                .store
                .suppress(s.id, &reason, crate::clock::timestamp())
                .await?;
            self.audit
                .record(
                    actor,
                    AuditEntry::new(AuditAction::Suppress, email.as_str())
                        .change(s.status.as_str(), format!("suppressed: {reason}")),
                )
                .await?;
        }
        self.reader(email).await
    }

    /// Lift a suppression by hand (a bounce the operator knows was a fluke): the reader
    /// returns to where they were before it.
    pub async fn lift(
        &self,
        actor: &Actor,
        email: &EmailAddress,
        reason: &str,
    ) -> Result<Subscriber, SuppressionError> {
        let s = self.reader(email).await?;
        if !self
            .ctx
            .store
            .lift_suppression(s.id, crate::clock::timestamp())
            .await?
        {
            return Err(SuppressionError::NotSuppressed(email.clone()));
        }
        let now = self.reader(email).await?;
        self.audit
            .record(
                actor,
                AuditEntry::new(AuditAction::Lift, email.as_str()).change(
                    format!(
                        "suppressed: {}",
                        s.suppression_reason
                            .as_deref()
                            .unwrap_or("no reason recorded")
                    ),
                    match reason_text(reason) {
                        Some(why) => format!("{}: {why}", now.status),
                        None => now.status.to_string(),
                    },
                ),
            )
            .await?;
        Ok(now)
    }

    async fn reader(&self, email: &EmailAddress) -> Result<Subscriber, SuppressionError> {
        self.ctx
            .store
            .find_by_email(email)
            .await?
            .ok_or_else(|| SuppressionError::Unknown(email.clone()))
    }
}

/// An operator's reason for a change, as kept: one clean line of at most 200 characters;
/// `None` when none was given.
fn reason_text(reason: &str) -> Option<String> {
    let r: String = crate::domain::clean_text(reason.trim())
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    (!r.is_empty()).then_some(r)
}
