//! Bounce and complaint events posted by mail providers: Amazon SES (through SNS), Postmark,
//! SendGrid and Mailgun. Each provider's module checks that a request is the provider's
//! (signature or credentials, age, replay) and reads its events into [`Event`]s; this
//! module finds each event's reader and records it through [`Bounces::record`], with the
//! provider's own event id as the dedupe key, so an event posted twice counts once.
//!
//! A request refused changes nothing: every check runs before the first event is recorded.

pub mod mailgun;
pub mod postmark;
pub mod sendgrid;
pub mod ses;

use std::fmt;

use serde::Serialize;

use super::{Bounces, Notice};
use crate::config::WebhooksConfig;
use crate::context::Context;
use crate::domain::{EmailAddress, EventSource, MessageRef};
use crate::store::{EventOutcome, StoreError};

/// Why a request was not taken.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The provider's keys are not configured: the endpoint is off.
    #[error("the {0} webhook is not configured on this service ({1})")]
    Off(EventSource, &'static str),
    /// No or wrong credentials (Postmark's basic auth).
    #[error("{0}")]
    Unauthorized(String),
    /// A forged, stale or replayed request, or one from a topic we do not take.
    #[error("{0}")]
    Refused(String),
    /// Not the provider's JSON.
    #[error("{0}")]
    Malformed(String),
    /// Something the check needs could not be fetched (an SNS signing certificate, a
    /// subscription confirmation): the provider should try again.
    #[error("{0}")]
    Upstream(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A refusal, counted by provider and reason (a forged signature, a stale one...).
fn refused(source: EventSource, reason: &'static str, message: String) -> WebhookError {
    metrics::counter!("paperboy_webhook_refused_total", "source" => source.as_str(), "reason" => reason)
        .increment(1);
    tracing::warn!(source = %source, reason, "webhook request refused: {message}");
    WebhookError::Refused(message)
}

/// One event of a provider, about one recipient.
#[derive(Clone, Debug)]
pub struct Event {
    /// What it says, with the recipient's address.
    pub notice: Notice,
    /// The message it is about, when the provider echoed our signed envelope sender.
    pub message: Option<MessageRef>,
    /// The provider's id for it (with the recipient when one event names several).
    pub dedupe_key: String,
}

/// What a request did: answered with 200 whatever it holds, so the provider does not post
/// it again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Summary {
    /// Events recorded (each suppressed or noted its reader as `[bounces]` says).
    pub recorded: u32,
    /// Events recorded before (the same provider id): nothing done.
    pub duplicates: u32,
    /// Events of no interest (deliveries, opens...) or about an address we do not know.
    pub ignored: u32,
}

/// The provider endpoints, with the keys each checks against.
#[derive(Clone)]
pub(crate) struct Webhooks {
    ctx: Context,
    bounces: Bounces,
    ses: Option<ses::Ses>,
    postmark: Option<postmark::Postmark>,
    sendgrid: Option<sendgrid::Sendgrid>,
    mailgun: Option<mailgun::Mailgun>,
}

/// A provider's keys that cannot be used (checked at start).
#[derive(Debug, thiserror::Error)]
#[error("webhooks.{key}: {why}")]
pub struct KeyError {
    pub key: &'static str,
    pub why: String,
}

/// The configured providers, checked before the service starts.
#[derive(Clone)]
pub(crate) struct Setup {
    ses: Option<ses::Ses>,
    postmark: Option<postmark::Postmark>,
    sendgrid: Option<sendgrid::Sendgrid>,
    mailgun: Option<mailgun::Mailgun>,
}

impl Setup {
    pub fn from_config(c: &WebhooksConfig) -> Result<Self, KeyError> {
        Ok(Self {
            ses: ses::Ses::from_config(c)?,
            postmark: postmark::Postmark::from_config(c),
            sendgrid: sendgrid::Sendgrid::from_config(c)?,
            mailgun: mailgun::Mailgun::from_config(c),
        })
    }

    /// The providers that are on, for the start-up log.
    pub fn enabled(&self) -> Vec<&'static str> {
        [
            self.ses.as_ref().map(|_| "ses"),
            self.postmark.as_ref().map(|_| "postmark"),
            self.sendgrid.as_ref().map(|_| "sendgrid"),
            self.mailgun.as_ref().map(|_| "mailgun"),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

impl Webhooks {
    pub fn new(ctx: Context, setup: Setup) -> Self {
        Self {
            bounces: Bounces::new(ctx.clone()),
            ctx,
            ses: setup.ses,
            postmark: setup.postmark,
            sendgrid: setup.sendgrid,
            mailgun: setup.mailgun,
        }
    }

    /// An SNS message (SES bounce and complaint notifications, subscription confirmations).
    pub async fn ses(&self, body: &[u8]) -> Result<Summary, WebhookError> {
        let ses = self.ses.as_ref().ok_or(WebhookError::Off(
            EventSource::Ses,
            "set webhooks.ses_topic_arns",
        ))?;
        let events = ses.read(body, self.verp()).await?;
        self.record_all(EventSource::Ses, events).await
    }

    /// A Postmark bounce or spam complaint; `authorization` is the request's header.
    pub async fn postmark(
        &self,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<Summary, WebhookError> {
        let postmark = self.postmark.as_ref().ok_or(WebhookError::Off(
            EventSource::Postmark,
            "set webhooks.postmark_user and webhooks.postmark_password",
        ))?;
        let events = postmark.read(authorization, body)?;
        self.record_all(EventSource::Postmark, events).await
    }

    /// A SendGrid batch of events, with its signature and timestamp headers.
    pub async fn sendgrid(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
    ) -> Result<Summary, WebhookError> {
        let sendgrid = self.sendgrid.as_ref().ok_or(WebhookError::Off(
            EventSource::Sendgrid,
            "set webhooks.sendgrid_public_key",
        ))?;
        let events = sendgrid.read(signature, timestamp, body)?;
        self.record_all(EventSource::Sendgrid, events).await
    }

    /// A Mailgun event (signed in its body).
    pub async fn mailgun(&self, body: &[u8]) -> Result<Summary, WebhookError> {
        let mailgun = self.mailgun.as_ref().ok_or(WebhookError::Off(
            EventSource::Mailgun,
            "set webhooks.mailgun_signing_key",
        ))?;
        let events = mailgun.read(body, self.verp())?;
        self.record_all(EventSource::Mailgun, events).await
    }

    fn verp(&self) -> Option<&crate::mail::verp::Verp> {
        self.ctx.mailer.verp()
    }

    /// Record each event against its reader: the one its signed envelope sender names,
    /// else the one with its recipient's address. `None` events were of no interest.
    async fn record_all(
        &self,
        source: EventSource,
        events: Vec<Option<Event>>,
    ) -> Result<Summary, WebhookError> {
        let mut summary = Summary::default();
        for event in events {
            let Some(event) = event else {
                summary.ignored += 1;
                continue;
            };
            let reader = match event.message {
                Some(m) => Some(m.reader),
                None => self.reader_by_address(source, &event.notice).await?,
            };
            let Some(reader) = reader else {
                summary.ignored += 1;
                continue;
            };
            let outcome = self
                .bounces
                .record(
                    reader,
                    event.message,
                    &event.notice,
                    source,
                    Some(event.dedupe_key),
                )
                .await?;
            match outcome {
                EventOutcome::Suppressed(_) | EventOutcome::Noted => summary.recorded += 1,
                EventOutcome::Duplicate => summary.duplicates += 1,
                EventOutcome::NoSubscriber => summary.ignored += 1,
            }
        }
        Ok(summary)
    }

    async fn reader_by_address(
        &self,
        source: EventSource,
        notice: &Notice,
    ) -> Result<Option<i64>, WebhookError> {
        let given = notice.recipient.as_deref().unwrap_or_default();
        let Ok(email) = EmailAddress::parse(given) else {
            tracing::info!(source = %source, recipient = given, "webhook event for an address that does not parse: ignored");
            return Ok(None);
        };
        match self.ctx.store.find_by_email(&email).await? {
            Some(s) => Ok(Some(s.id)),
            None => {
                tracing::info!(source = %source, recipient = %email, kind = %notice.kind, "webhook event for an address we do not know: ignored");
                Ok(None)
            }
        }
    }
}

/// The message a provider's echo of our envelope sender names, if it is a tag we signed.
/// A tag that fails its check is logged and the event goes by its recipient instead.
fn message_of(verp: Option<&crate::mail::verp::Verp>, sender: Option<&str>) -> Option<MessageRef> {
    let (verp, sender) = (verp?, sender?);
    match verp.parse(sender) {
        Ok(m) => Some(m),
        Err(crate::mail::verp::VerpError::NotOurs | crate::mail::verp::VerpError::Untagged) => None,
        Err(e) => {
            tracing::warn!(sender, error = %e, "webhook event with a bounce tag we did not sign: going by its recipient");
            None
        }
    }
}

/// `a` equals `b`, in time that does not depend on where they differ (compared as SHA-256
/// digests, so not even on their lengths).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

/// Unix seconds of a provider's timestamp, checked to be at most `max_age` old and not
/// more than a minute ahead (clocks differ a little).
fn fresh(source: EventSource, signed_at: i64, max_age: i64) -> Result<(), WebhookError> {
    let now = crate::clock::timestamp();
    if signed_at < now - max_age {
        return Err(refused(
            source,
            "stale",
            format!(
                "the event was signed {} s ago, more than the {max_age} s allowed: a replay, or a retry to send again from the provider's side",
                now - signed_at
            ),
        ));
    }
    if signed_at > now + 60 {
        return Err(refused(
            source,
            "future",
            format!(
                "the event is dated {} s in the future: check the clock of this host",
                signed_at - now
            ),
        ));
    }
    Ok(())
}

/// Read JSON, or say what is wrong with it.
fn json<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, WebhookError> {
    serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("the body is not {what}: {e}")))
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} recorded, {} duplicates, {} ignored",
            self.recorded, self.duplicates, self.ignored
        )
    }
}
