//! The subscriber lifecycle as the web pages, the JSON API and the CLI all use it:
//! subscribe (double opt-in), confirm, change preferences, unsubscribe, erase; and the mails
//! that answer it (`mails.rs`), sent by the outbox.

mod mails;

use mails::count_sign_up_mail;

use crate::audit::Audit;
use crate::clock;
use crate::context::Context;
use crate::digest::Digests;
use crate::domain::{
    Actor, AuditAction, AuditEntry, EmailAddress, FieldErrors, Interest, NewSubscription,
    Subscriber, SubscriberStatus, SubscriptionInput, parse_profile,
};
use crate::error::ServiceError;
use crate::outbox::{DeliverReport, Outbox};
use crate::store::{MailLimits, StoreError};
use crate::tokens::Purpose;

/// What happened to a confirmation link.
#[derive(Debug)]
pub enum Confirmation {
    Confirmed(Subscriber),
    AlreadyActive(Subscriber),
    /// The reader unsubscribed after the link was sent: they must subscribe again.
    Unsubscribed,
}

/// What removing one interest did.
#[derive(Debug)]
pub(crate) enum Removal {
    /// Removed; the reader as now stored.
    Removed(Box<Subscriber>),
    /// The reader does not have it (removed already, by another tab or a second click).
    NotThere,
    /// It is the only thing that picks papers for them: kept.
    LastInterest,
}

/// The subscriber lifecycle over the application context.
#[derive(Clone)]
pub struct Subscriptions {
    ctx: Context,
    outbox: Outbox,
    digests: Digests,
    audit: Audit,
}

impl Subscriptions {
    pub fn new(ctx: Context, outbox: Outbox, digests: Digests, audit: Audit) -> Self {
        Self {
            ctx,
            outbox,
            digests,
            audit,
        }
    }

    /// Deliver every subscription mail that is due now.
    pub(crate) async fn deliver_mails(&self) -> Result<DeliverReport, StoreError> {
        self.outbox.deliver(self.mails()).await
    }

    /// Deliver subscription mails as they are queued, until the process ends.
    pub(crate) async fn keep_delivering_mails(&self) {
        self.outbox.keep_delivering(|| self.mails()).await
    }

    fn mails(&self) -> mails::Mails {
        mails::Mails::new(self.ctx.clone(), self.digests.clone())
    }

    pub fn parse(&self, input: &SubscriptionInput) -> Result<NewSubscription, ServiceError> {
        NewSubscription::parse(input, &self.ctx.catalogue).map_err(ServiceError::Invalid)
    }

    /// Store the request and, in the same transaction, queue the mail that answers it: a
    /// confirmation link, or, if the address is already subscribed, a link to its
    /// preferences. At most a few mails per address and per client an hour; beyond that the
    /// request is stored but nothing is queued. The delivery worker sends the mail: the
    /// request does not wait for the relay, and a relay that is down delays the mail, it
    /// does not lose it.
    pub async fn subscribe(
        &self,
        new: &NewSubscription,
        client_ip: Option<&str>,
    ) -> Result<(), ServiceError> {
        let t = clock::timestamp();
        let limits = &self.ctx.config.subscribe;
        let limits = MailLimits {
            per_address: i64::from(limits.max_mails_per_address_per_hour),
            per_client: i64::from(limits.max_mails_per_client_per_hour),
        };
        let (subscriber, _, queued) = self
            .ctx
            .store
            .subscribe_with_mail(new, client_ip, t, Some(limits))
            .await?;
        match queued {
            Some(kind) => {
                count_sign_up_mail("queued");
                tracing::debug!(subscriber = subscriber.id, %kind, "mail queued");
                self.outbox.wake();
            }
            None => {
                tracing::info!(subscriber = subscriber.id, "confirmation mail rate-limited");
                count_sign_up_mail("rate_limited");
            }
        }
        Ok(())
    }

    /// The subscriber a token names, if the token is valid for `purpose`.
    pub(crate) async fn subscriber_for(
        &self,
        token: &str,
        purpose: Purpose,
    ) -> Result<Subscriber, ServiceError> {
        let claims = self.ctx.links.verify(token, purpose, clock::timestamp())?;
        self.ctx
            .store
            .find_by_public_id(&claims.subject)
            .await?
            .ok_or(ServiceError::Gone)
    }

    pub async fn confirm(&self, token: &str) -> Result<Confirmation, ServiceError> {
        let s = self.subscriber_for(token, Purpose::Confirm).await?;
        match s.status {
            SubscriberStatus::Active => Ok(Confirmation::AlreadyActive(s)),
            SubscriberStatus::Unsubscribed => Ok(Confirmation::Unsubscribed),
            SubscriberStatus::Pending | SubscriberStatus::Suppressed => {
                // The welcome mail is queued with the confirmation, once.
                // Confirmed by its owner: a do-not-contact record of an earlier erasure of
                // the address goes (they have consented again; were it kept, an operator
                // could not correct their subscription later).
                if self
                    .ctx
                    .store
                    .confirm_and_welcome(s.id, clock::timestamp(), &self.ctx.erasure.hash(&s.email))
                    .await?
                {
                    metrics::counter!("paperboy_confirmations_total").increment(1);
                    self.outbox.wake();
                }
                let s = self
                    .ctx
                    .store
                    .find_by_id(s.id)
                    .await?
                    .ok_or(ServiceError::Gone)?;
                Ok(Confirmation::Confirmed(s))
            }
        }
    }

    /// Replace a subscriber's interests and delivery preferences. `input.email`, if given,
    /// must be the subscription's own: an address cannot be changed, only unsubscribed and
    /// subscribed anew (a changed address would skip its double opt-in).
    pub async fn update(
        &self,
        s: &Subscriber,
        input: &SubscriptionInput,
    ) -> Result<Subscriber, ServiceError> {
        let given = input.email.trim();
        if !given.is_empty() && EmailAddress::parse(given).ok().as_ref() != Some(&s.email) {
            let mut fields = FieldErrors::new();
            fields.insert(
                "email",
                "the address cannot be changed: unsubscribe and subscribe the new address".into(),
            );
            return Err(ServiceError::Invalid(fields));
        }
        let (interests, prefs) =
            parse_profile(input, &self.ctx.catalogue).map_err(ServiceError::Invalid)?;
        if !self
            .ctx
            .store
            .update_profile(s.id, &interests, &prefs, clock::timestamp())
            .await?
        {
            return Err(ServiceError::Gone);
        }
        self.ctx
            .store
            .find_by_id(s.id)
            .await?
            .ok_or(ServiceError::Gone)
    }

    /// Drop one topic or keyword from a reader's interests, leaving the rest as it is; an
    /// interest that is their last is kept (a reader with nothing to match gets nothing).
    pub(crate) async fn remove_interest(
        &self,
        s: &Subscriber,
        what: &Interest,
    ) -> Result<Removal, ServiceError> {
        let Some(interests) = s.interests.without(what) else {
            return Ok(Removal::NotThere);
        };
        if !interests.wants_something() {
            return Ok(Removal::LastInterest);
        }
        if !self
            .ctx
            .store
            .update_profile(s.id, &interests, &s.prefs, clock::timestamp())
            .await?
        {
            return Err(ServiceError::Gone);
        }
        let updated = self
            .ctx
            .store
            .find_by_id(s.id)
            .await?
            .ok_or(ServiceError::Gone)?;
        Ok(Removal::Removed(Box::new(updated)))
    }

    /// Subscribe an address an operator vouches for: confirmed at once, no mail sent. An
    /// address erased at its owner's request is refused ([`ServiceError::Erased`]).
    pub async fn add_confirmed(
        &self,
        actor: &Actor,
        new: &NewSubscription,
    ) -> Result<Subscriber, ServiceError> {
        self.refuse_erased(&new.email).await?;
        let t = clock::timestamp();
        let (s, _) = self.ctx.store.subscribe(new, Some("cli"), t).await?;
        self.ctx.store.confirm(s.id, t).await?;
        self.audit
            .record(
                actor,
                AuditEntry::new(AuditAction::Add, s.email.as_str())
                    .change(s.status.as_str(), "active"),
            )
            .await?;
        Ok(s)
    }

    /// The subscriber with this address, if there is one.
    pub async fn find(&self, email: &EmailAddress) -> Result<Option<Subscriber>, ServiceError> {
        Ok(self.ctx.store.find_by_email(email).await?)
    }

    pub async fn unsubscribe(&self, s: &Subscriber) -> Result<(), ServiceError> {
        if self.ctx.store.unsubscribe(s.id, clock::timestamp()).await? {
            metrics::counter!("paperboy_unsubscribes_total").increment(1);
        }
        Ok(())
    }

    /// Erase a reader and everything stored about them, keeping only the keyed hash of the
    /// address (`domain::ErasureKey`), so that no operator action or import adds them back
    /// by mistake. False when there was no such reader (erased already).
    pub(crate) async fn erase(&self, s: &Subscriber) -> Result<bool, ServiceError> {
        let hash = self.ctx.erasure.hash(&s.email);
        Ok(self
            .ctx
            .store
            .erase(s.id, &s.email, &hash, clock::timestamp())
            .await?)
    }

    /// [`ServiceError::Erased`] when `email` was erased at its owner's request and has not
    /// been confirmed by them since: what every operator action or import that would create
    /// or activate a reader asks first.
    pub(crate) async fn refuse_erased(&self, email: &EmailAddress) -> Result<(), ServiceError> {
        match self
            .ctx
            .store
            .erased_at(&self.ctx.erasure.hash(email))
            .await?
        {
            None => Ok(()),
            Some(at) => Err(ServiceError::Erased {
                email: email.clone(),
                when: chrono::DateTime::from_timestamp(at, 0).map_or_else(
                    || at.to_string(),
                    |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
                ),
            }),
        }
    }

    /// Remove sign-ups whose confirmation link has expired.
    pub async fn purge_expired(&self) -> Result<u64, ServiceError> {
        Ok(self
            .ctx
            .store
            .delete_expired_pending(clock::timestamp() - self.ctx.links.confirm_ttl())
            .await?)
    }
}
