//! Bounces and complaints, however they arrive: refused while sending (the relay said 5xx),
//! or later, as a mail to the signed bounce address (the built-in SMTP listener, or a
//! mailbox) or a provider's event. One classifier ([`report`]), one rule
//! (`domain::BouncePolicy`), one record (`mail_events`), one metric.

pub mod listener;
pub mod mailbox;
pub mod report;
pub mod webhooks;

use crate::clock;
use crate::context::Context;
use crate::domain::{EventSource, MailEventKind, MessageRef, StatusCode};
use crate::mail::verp::VerpError;
use crate::store::{EventOutcome, NewMailEvent, StoreError};
pub use report::{Notice, Report, ReportError};

/// How a bounce mail arrived.
#[derive(Clone, Debug, Default)]
pub(crate) struct Envelope {
    /// `MAIL FROM:<>`, as every bounce has.
    pub null_sender: bool,
    /// The addresses it was sent to (`RCPT TO`), when known.
    pub recipients: Vec<String>,
}

/// What became of a bounce or complaint mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Handled {
    /// Recorded against the reader the tag names.
    Recorded {
        message: MessageRef,
        kind: MailEventKind,
        outcome: EventOutcome,
    },
    /// A mail that is no bounce or complaint, or one with nothing to act on: kept out.
    Ignored(String),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum BounceError {
    #[error("{0}")]
    Report(ReportError),
    /// Neither its recipient nor its text holds a tag this service signed.
    #[error(
        "no tag signed by this service names the message (a bounce for mail we did not send, or a forged one)"
    )]
    NoTag,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Receives bounces and complaints and records what they do.
#[derive(Clone)]
pub struct Bounces {
    ctx: Context,
}

impl Bounces {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Whether mail for `recipient` may be taken: the bounce mailbox, tagged by us or not.
    /// A tag that fails its signature is refused here, before the mail is read.
    pub fn accepts(&self, recipient: &str) -> Result<(), VerpError> {
        let verp = self.ctx.mailer.verp().ok_or(VerpError::NotOurs)?;
        match verp.parse(recipient) {
            Ok(_) | Err(VerpError::Untagged) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Read a bounce or complaint mail and record it against the message its tag names:
    /// the tag it was sent to, else one quoted inside it (the returned message's
    /// Return-Path, a prose bounce). A mail that is neither is [`Handled::Ignored`].
    pub(crate) async fn receive(
        &self,
        raw: &[u8],
        envelope: &Envelope,
        source: EventSource,
    ) -> Result<Handled, BounceError> {
        let report = match report::read(raw, envelope.null_sender) {
            Ok(r) => r,
            Err(e @ (ReportError::NotAReport(_) | ReportError::NothingToDo(_))) => {
                tracing::info!(source = %source, reason = %e, "mail to the bounce address kept out");
                return Ok(Handled::Ignored(e.to_string()));
            }
            Err(e) => return Err(BounceError::Report(e)),
        };
        let verp = self.ctx.mailer.verp().ok_or(BounceError::NoTag)?;
        let message = envelope
            .recipients
            .iter()
            .find_map(|r| verp.parse(r).ok())
            .or_else(|| verp.find_in(raw))
            .ok_or(BounceError::NoTag)?;
        let notice = report.worst();
        // The same report read twice (a mailbox read again) is one event; a report carries
        // its own Message-ID, and names one message of ours.
        let dedupe_key = report.id.as_ref().map(|id| {
            format!(
                "mail:{}:{}:{}",
                message.kind.as_str(),
                message.id,
                id.trim_matches(['<', '>'])
            )
        });
        let outcome = self
            .record(message.reader, Some(message), notice, source, dedupe_key)
            .await?;
        Ok(Handled::Recorded {
            message,
            kind: notice.kind,
            outcome,
        })
    }

    /// Record one event for a reader and apply the policy (also for a relay's refusal
    /// while sending, and for providers' events).
    pub async fn record(
        &self,
        reader: i64,
        message: Option<MessageRef>,
        notice: &Notice,
        source: EventSource,
        dedupe_key: Option<String>,
    ) -> Result<EventOutcome, StoreError> {
        let event = NewMailEvent {
            subscriber_id: reader,
            message,
            kind: notice.kind,
            status: notice.status,
            diagnostic: notice.diagnostic.clone(),
            source,
            dedupe_key,
        };
        let outcome = self
            .ctx
            .store
            .record_mail_event(
                &event,
                &self.ctx.config.bounces.policy(),
                clock::timestamp(),
            )
            .await?;
        if outcome != EventOutcome::Duplicate && outcome != EventOutcome::NoSubscriber {
            metrics::counter!(
                "paperboy_mail_events_total",
                "kind" => notice.kind.as_str(),
                "source" => source.as_str()
            )
            .increment(1);
        }
        tracing::info!(
            reader,
            kind = %notice.kind,
            source = %source,
            status = notice.status.map(|s| s.to_string()),
            ?outcome,
            "mail event"
        );
        Ok(outcome)
    }
}

/// A relay's refusal while sending, as a notice: its enhanced status if it gave one.
pub fn refusal(error: &str) -> Notice {
    Notice {
        kind: MailEventKind::HardBounce,
        recipient: None,
        status: StatusCode::find(error),
        diagnostic: Some(error.to_string()),
    }
}
