//! The subscriber lifecycle as the web pages, the JSON API and the CLI all use it:
//! subscribe (double opt-in), confirm, change preferences, unsubscribe, erase.

use serde::Serialize;

use crate::clock;
use crate::context::Context;
use crate::domain::{
    EmailAddress, FieldErrors, Interest, NewSubscription, Subscriber, SubscriberStatus,
    SubscriptionInput, parse_profile,
};
use crate::mail::{Mail, MailError, SendError};
use crate::store::{StoreError, SubscribeOutcome};
use crate::tokens::{Purpose, TokenError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("some fields are not valid")]
    Invalid(FieldErrors),
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("this subscription no longer exists")]
    Gone,
    /// A rating names a paper this service does not hold (any more).
    #[error("paper {0} is not stored here")]
    UnknownPaper(crate::domain::ArxivId),
    #[error("{0}")]
    Mail(#[from] MailError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<crate::digest::DigestError> for ServiceError {
    fn from(e: crate::digest::DigestError) -> Self {
        match e {
            crate::digest::DigestError::Store(e) => Self::Store(e),
            crate::digest::DigestError::Render(e) => Self::Mail(e.into()),
        }
    }
}

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
pub enum Removal {
    /// Removed; the reader as now stored.
    Removed(Box<Subscriber>),
    /// The reader does not have it (removed already, by another tab or a second click).
    NotThere,
    /// It is the only thing that picks papers for them: kept.
    LastInterest,
}

/// What became of a subscribe request's mail. For the operator's metrics only: the
/// requester always gets the same answer, so the service keeps it to itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MailDecision {
    Sent,
    RateLimited,
    RefusedByServer,
    Failed,
}

impl MailDecision {
    fn count(self) {
        let result = match self {
            Self::Sent => "sent",
            Self::RateLimited => "rate_limited",
            Self::RefusedByServer => "refused",
            Self::Failed => "failed",
        };
        metrics::counter!("paperboy_confirmation_mails_total", "result" => result).increment(1);
    }
}

#[derive(Serialize)]
struct ConfirmationValues {
    confirm_url: String,
    ttl_hours: u32,
}

#[derive(Serialize)]
struct ManageValues {
    preferences_url: String,
    unsubscribe_url: String,
}

/// The subscriber lifecycle over the application context.
#[derive(Clone)]
pub struct Subscriptions {
    ctx: Context,
}

impl Subscriptions {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    pub fn parse(&self, input: &SubscriptionInput) -> Result<NewSubscription, ServiceError> {
        NewSubscription::parse(input, &self.ctx.catalogue).map_err(ServiceError::Invalid)
    }

    /// Store the request and mail the address: a confirmation link, or, if it is already
    /// subscribed, a link to its preferences. At most a few mails per address and per
    /// client an hour; beyond that the request is stored but nothing is sent.
    pub async fn subscribe(
        &self,
        new: &NewSubscription,
        client_ip: Option<&str>,
    ) -> Result<(), ServiceError> {
        let t = clock::timestamp();
        let (subscriber, outcome) = self.ctx.store.subscribe(new, client_ip, t).await?;
        let limits = &self.ctx.config.subscribe;
        let reservation = self
            .ctx
            .store
            .reserve_confirmation_mail(
                subscriber.id,
                client_ip,
                t,
                i64::from(limits.max_mails_per_address_per_hour),
                i64::from(limits.max_mails_per_client_per_hour),
            )
            .await?;
        let Some(reservation) = reservation else {
            tracing::info!(subscriber = subscriber.id, "confirmation mail rate-limited");
            MailDecision::RateLimited.count();
            return Ok(());
        };
        let name = &self.ctx.config.operator.name;
        let links = &self.ctx.links;
        let result = if outcome == SubscribeOutcome::AlreadyActive {
            let values = ManageValues {
                preferences_url: links.preferences_url(&links.manage_token(&subscriber, t)),
                unsubscribe_url: links.unsubscribe_url(&subscriber, t),
            };
            let mail = Mail {
                template: "already_subscribed",
                subject: format!("You are already subscribed to {name}"),
                to: &subscriber.email,
                values: &values,
                list_unsubscribe: Some(format!("<{}>", values.unsubscribe_url)),
            };
            self.ctx
                .mailer
                .deliver(&mail, &self.ctx.common_context())
                .await
        } else {
            let values = ConfirmationValues {
                confirm_url: links.confirm_url(&subscriber, t),
                ttl_hours: self.ctx.config.subscribe.confirm_ttl_hours,
            };
            let mail = Mail {
                template: "confirmation",
                subject: format!("Confirm your subscription to {name}"),
                to: &subscriber.email,
                values: &values,
                list_unsubscribe: None,
            };
            self.ctx
                .mailer
                .deliver(&mail, &self.ctx.common_context())
                .await
        };
        match result {
            Ok(()) => MailDecision::Sent.count(),
            // The relay refused the address for good: the answer must not differ from a
            // delivered one, and the row expires unconfirmed.
            Err(MailError::Send(SendError::Permanent(e))) => {
                tracing::warn!(subscriber = subscriber.id, error = %e, "confirmation mail refused");
                MailDecision::RefusedByServer.count();
            }
            Err(e) => {
                self.ctx
                    .store
                    .release_confirmation_mail(reservation)
                    .await?;
                MailDecision::Failed.count();
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// The subscriber a token names, if the token is valid for `purpose`.
    pub async fn subscriber_for(
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
                if self.ctx.store.confirm(s.id, clock::timestamp()).await? {
                    metrics::counter!("paperboy_confirmations_total").increment(1);
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
    pub async fn remove_interest(
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

    /// Subscribe an address an operator vouches for: confirmed at once, no mail sent.
    pub async fn add_confirmed(&self, new: &NewSubscription) -> Result<Subscriber, ServiceError> {
        let t = clock::timestamp();
        let (s, _) = self.ctx.store.subscribe(new, Some("cli"), t).await?;
        self.ctx.store.confirm(s.id, t).await?;
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

    pub async fn erase(&self, s: &Subscriber) -> Result<(), ServiceError> {
        self.ctx.store.delete(s.id).await?;
        Ok(())
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
