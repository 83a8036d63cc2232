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
    ReaderAction, Subscriber, SubscriberStatus, SubscriptionInput, parse_profile,
};
use crate::error::ServiceError;
use crate::outbox::{DeliverReport, Outbox};
use crate::store::{AskOutcome, MailLimits, StoreError};
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

/// Why an operator's action on a reader ([`ReaderAction`]) did not happen; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The reader is not in a state the action applies to (or their address was erased):
    /// why, and what to do instead.
    #[error("{0}")]
    Refused(String),
    /// The address has had as many confirmation mails this hour as sign-ups may ask for.
    #[error(
        "{0} has had {1} confirmation mail(s) in the last hour, as many as a sign-up may ask \
         for: nothing was changed or sent. Try again in an hour."
    )]
    TooManyMails(EmailAddress, i64),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        Self::Service(e.into())
    }
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
        let (subscriber, _, queued) = self
            .ctx
            .store
            .subscribe_with_mail(new, client_ip, t, Some(self.mail_limits()))
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

    /// How many confirmation (and "already subscribed") mails an address and a client may
    /// be sent in an hour.
    fn mail_limits(&self) -> MailLimits {
        let limits = &self.ctx.config.subscribe;
        MailLimits {
            per_address: i64::from(limits.max_mails_per_address_per_hour),
            per_client: i64::from(limits.max_mails_per_client_per_hour),
        }
    }

    /// Why an operator cannot do `action` to `s` now, in words; `None` when they can. The
    /// reader's page asks it to say why not, and each action to refuse.
    pub(crate) async fn why_not(
        &self,
        s: &Subscriber,
        action: ReaderAction,
    ) -> Result<Option<String>, ServiceError> {
        if let Some(why) = action.refused(s.status) {
            return Ok(Some(why.into()));
        }
        // A reader asked to confirm again is mailed: not one whose address was erased at
        // their request (and not confirmed by them since).
        if action == ReaderAction::Resubscribe {
            match self.refuse_erased(&s.email).await {
                Err(e @ ServiceError::Erased { .. }) => return Ok(Some(e.to_string())),
                Err(e) => return Err(e),
                Ok(()) => {}
            }
        }
        Ok(None)
    }

    async fn check(&self, s: &Subscriber, action: ReaderAction) -> Result<(), ActionError> {
        match self.why_not(s, action).await? {
            Some(why) => Err(ActionError::Refused(why)),
            None => Ok(()),
        }
    }

    /// The refusal when `action` found reader `id` changed under it (by its owner, a bounce,
    /// another operator): said of the reader as they are now.
    async fn changed_meanwhile(&self, id: i64, action: ReaderAction) -> ActionError {
        match self.ctx.store.find_by_id(id).await {
            Ok(Some(now)) => match self.why_not(&now, action).await {
                Ok(Some(why)) => ActionError::Refused(why),
                Ok(None) => ActionError::Refused(
                    "The reader changed while this was asked: look at their page and try again."
                        .into(),
                ),
                Err(e) => e.into(),
            },
            Ok(None) => ServiceError::Gone.into(),
            Err(e) => e.into(),
        }
    }

    /// An operator unsubscribes a pending or active reader, as their own link would; recorded
    /// in the audit log. Returns the reader as it left them.
    pub(crate) async fn unsubscribe_by(
        &self,
        actor: &Actor,
        s: &Subscriber,
    ) -> Result<Subscriber, ActionError> {
        let action = ReaderAction::Unsubscribe;
        self.check(s, action).await?;
        if !self.ctx.store.unsubscribe(s.id, clock::timestamp()).await? {
            return Err(self.changed_meanwhile(s.id, action).await);
        }
        metrics::counter!("paperboy_unsubscribes_total").increment(1);
        self.audit
            .record(
                actor,
                AuditEntry::new(action.audited_as(), s.email.as_str())
                    .change(s.status.as_str(), "unsubscribed"),
            )
            .await?;
        Ok(self
            .ctx
            .store
            .find_by_id(s.id)
            .await?
            .ok_or(ServiceError::Gone)?)
    }

    /// An operator asks an unsubscribed reader back: pending, and sent a confirmation mail
    /// by the outbox as a sign-up is; only their click makes them active again.
    pub(crate) async fn resubscribe(
        &self,
        actor: &Actor,
        s: &Subscriber,
    ) -> Result<Subscriber, ActionError> {
        self.ask_to_confirm(actor, s, ReaderAction::Resubscribe)
            .await
    }

    /// An operator sends a pending reader their confirmation mail again.
    pub(crate) async fn resend_confirmation(
        &self,
        actor: &Actor,
        s: &Subscriber,
    ) -> Result<Subscriber, ActionError> {
        self.ask_to_confirm(actor, s, ReaderAction::ResendConfirmation)
            .await
    }

    /// Queue a confirmation mail for `s` within the sign-up's hourly limit for the address
    /// (an operator's request has no client to count), `s` pending; audited.
    async fn ask_to_confirm(
        &self,
        actor: &Actor,
        s: &Subscriber,
        action: ReaderAction,
    ) -> Result<Subscriber, ActionError> {
        self.check(s, action).await?;
        let limits = self.mail_limits();
        let asked = self
            .ctx
            .store
            .ask_to_confirm(s.id, action.from_states(), clock::timestamp(), limits)
            .await?;
        let now = match asked {
            AskOutcome::Asked(now) => *now,
            AskOutcome::Limited => {
                count_sign_up_mail("rate_limited");
                return Err(ActionError::TooManyMails(
                    s.email.clone(),
                    limits.per_address,
                ));
            }
            AskOutcome::NotFrom => return Err(self.changed_meanwhile(s.id, action).await),
        };
        count_sign_up_mail("queued");
        self.outbox.wake();
        self.audit
            .record(
                actor,
                AuditEntry::new(action.audited_as(), s.email.as_str())
                    .change(s.status.as_str(), "pending: confirmation mail queued"),
            )
            .await?;
        Ok(now)
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
