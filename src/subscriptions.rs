//! The subscriber lifecycle as the web pages, the JSON API and the CLI all use it:
//! subscribe (double opt-in), confirm, change preferences, unsubscribe, erase.

use serde::Serialize;

use crate::clock;
use crate::context::Context;
use crate::domain::{
    EmailAddress, FieldErrors, Interest, NewSubscription, Subscriber, SubscriberStatus,
    SubscriptionInput, SubscriptionMailKind, parse_profile,
};
use crate::mail::{ListHeaders, Mail, MailError};
use crate::store::{MailLimits, StoreError};
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

/// What became of a subscribe request's mail, for the operator's metrics only: the
/// requester always gets the same answer, so the service keeps it to itself. `queued` and
/// `rate_limited` are counted when the request comes; what the relay made of a queued mail
/// (`sent`, `refused`, `failed`) when the delivery worker has sent it.
pub(crate) fn count_sign_up_mail(result: &'static str) {
    metrics::counter!("paperboy_confirmation_mails_total", "result" => result).increment(1);
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

#[derive(Serialize)]
struct WelcomeValues {
    #[serde(flatten)]
    manage: ManageValues,
    /// "a digest every day at 07:00 (Europe/Berlin)".
    schedule: String,
    papers_per_digest: u8,
    send_when_empty: bool,
    /// The latest day papers are stored for; empty when none are.
    papers_day: String,
    papers: Vec<WelcomePaper>,
}

#[derive(Serialize)]
struct WelcomePaper {
    title: String,
    url: String,
}

/// When a reader's digest comes, in words.
fn schedule_in_words(prefs: &crate::domain::DeliveryPrefs) -> String {
    let when = match prefs.frequency {
        crate::domain::Frequency::Daily => "every day".to_string(),
        crate::domain::Frequency::Weekly(d) => {
            let day = crate::domain::weekday_name(d);
            let mut c = day.chars();
            let first = c.next().map(|f| f.to_uppercase().collect::<String>());
            format!("every {}{}", first.unwrap_or_default(), c.as_str())
        }
    };
    let noun = match prefs.frequency {
        crate::domain::Frequency::Daily => "a digest",
        crate::domain::Frequency::Weekly(_) => "the week's best papers",
    };
    format!(
        "{noun} {when} at {:02}:00 ({})",
        prefs.hour,
        prefs.timezone.name()
    )
}

/// A subscription mail as the message that goes out, its links made now (a confirmation
/// link is valid from when it is sent). `mail_id` names the outbox row: the Message-ID is
/// the same for every attempt.
pub async fn mail_message(
    ctx: &Context,
    kind: SubscriptionMailKind,
    reader: &Subscriber,
    mail_id: i64,
) -> Result<lettre::Message, ServiceError> {
    let t = clock::timestamp();
    let name = &ctx.config.operator.name;
    let links = &ctx.links;
    let manage = || ManageValues {
        preferences_url: links.preferences_url(&links.manage_token(reader, t)),
        unsubscribe_url: links.unsubscribe_url(reader, t),
    };
    let mail = OutgoingMail {
        ctx,
        reader,
        message_id: links.mail_message_id(kind, mail_id, &reader.public_id),
    };
    let built = match kind {
        SubscriptionMailKind::Confirmation => {
            let values = ConfirmationValues {
                confirm_url: links.confirm_url(reader, t),
                ttl_hours: ctx.config.subscribe.confirm_ttl_hours,
            };
            let subject = format!("Confirm your subscription to {name}");
            // Not a list mail yet: nothing to unsubscribe from.
            mail.build("confirmation", subject, &values, None)
        }
        SubscriptionMailKind::AlreadySubscribed => {
            let values = manage();
            let subject = format!("You are already subscribed to {name}");
            mail.build("already_subscribed", subject, &values, Some(&values))
        }
        SubscriptionMailKind::Welcome => {
            let (papers_day, papers) = first_papers(ctx, reader).await?;
            let values = WelcomeValues {
                manage: manage(),
                schedule: schedule_in_words(&reader.prefs),
                papers_per_digest: reader.prefs.papers_per_digest,
                send_when_empty: reader.prefs.send_when_empty,
                papers_day,
                papers,
            };
            let subject = format!("Welcome to {name}");
            mail.build("welcome", subject, &values, Some(&values.manage))
        }
    };
    built.map_err(|e| ServiceError::Mail(e.into()))
}

/// What every subscription mail to one reader shares.
struct OutgoingMail<'a> {
    ctx: &'a Context,
    reader: &'a Subscriber,
    message_id: String,
}

impl OutgoingMail<'_> {
    /// Render `template` with `values`; with `manage`, the reader's list headers too.
    fn build<T: Serialize>(
        &self,
        template: &'static str,
        subject: String,
        values: &T,
        manage: Option<&ManageValues>,
    ) -> Result<lettre::Message, crate::mail::RenderError> {
        let mail = Mail {
            template,
            subject,
            to: &self.reader.email,
            values,
            message_id: Some(self.message_id.clone()),
            list: manage.map(|m| ListHeaders {
                unsubscribe_url: &m.unsubscribe_url,
                list_id: self.ctx.links.list_id(),
            }),
        };
        self.ctx.mailer.build(&mail, &self.ctx.common_context())
    }
}

/// The papers a reader's digest would hold if it were composed now from the latest day
/// stored, as `paperboy preview` would show it; no day (and none) when no papers are stored.
async fn first_papers(
    ctx: &Context,
    reader: &Subscriber,
) -> Result<(String, Vec<WelcomePaper>), ServiceError> {
    let Some(day) = ctx.store.latest_featured_day().await? else {
        return Ok((String::new(), Vec::new()));
    };
    let papers = match crate::digest::preview(ctx, reader, day).await? {
        crate::digest::Preview::Digest(view) => view
            .papers
            .into_iter()
            .map(|p| WelcomePaper {
                title: p.title,
                url: p.url,
            })
            .collect(),
        crate::digest::Preview::NoPapers | crate::digest::Preview::Nothing => Vec::new(),
    };
    Ok((day.to_string(), papers))
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
                self.ctx.throttle.wake();
            }
            None => {
                tracing::info!(subscriber = subscriber.id, "confirmation mail rate-limited");
                count_sign_up_mail("rate_limited");
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
                // The welcome mail is queued with the confirmation, once.
                if self
                    .ctx
                    .store
                    .confirm_and_welcome(s.id, clock::timestamp())
                    .await?
                {
                    metrics::counter!("paperboy_confirmations_total").increment(1);
                    self.ctx.throttle.wake();
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
