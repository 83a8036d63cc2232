//! The mails that answer a sign-up (confirmation, "already subscribed", welcome) as a kind of
//! mail in the outbox: rendered when they go out, their links made then.

use lettre::Message;
use serde::Serialize;

use crate::clock;
use crate::context::Context;
use crate::digest::{Digests, Preview};
use crate::domain::{MessageKind, Subscriber, SubscriberStatus, SubscriptionMailKind};
use crate::error::ServiceError;
use crate::mail::{Headers, ListHeaders};
use crate::outbox::{Kind, Unbuilt};
use crate::store::{ClaimedMail, Outcome};

/// Subscription mails going out, with what the welcome mail shows (a preview).
pub(super) struct Mails {
    ctx: Context,
    digests: Digests,
}

impl Mails {
    pub(super) fn new(ctx: Context, digests: Digests) -> Self {
        Self { ctx, digests }
    }
}

impl Kind for Mails {
    type Row = ClaimedMail;
    const MESSAGE: MessageKind = MessageKind::SubscriptionMail;

    fn skip(mail: &ClaimedMail, reader: &Subscriber) -> Option<String> {
        use SubscriberStatus::{Active, Pending, Suppressed};
        let wanted = match mail.kind {
            // A suppressed address confirms again to be lifted.
            SubscriptionMailKind::Confirmation => matches!(reader.status, Pending | Suppressed),
            SubscriptionMailKind::AlreadySubscribed | SubscriptionMailKind::Welcome => {
                reader.status == Active
            }
        };
        (!wanted).then(|| format!("the reader is {}", reader.status))
    }

    fn observe(mail: &ClaimedMail, outcome: &Outcome) {
        if mail.kind.answers_a_sign_up() {
            count_sign_up_mail(match outcome {
                Outcome::Sent => "sent",
                Outcome::Bounced { .. } => "refused",
                Outcome::Retry { .. } => "deferred",
                Outcome::Failed { .. } => "failed",
                // The reader confirmed or left before it went: nothing was wrong with it.
                Outcome::Skipped { .. } => "skipped",
            });
        }
    }

    async fn message(&self, mail: &ClaimedMail, reader: &Subscriber) -> Result<Message, Unbuilt> {
        mail_message(&self.ctx, &self.digests, mail.kind, reader, mail.claim.id)
            .await
            .map_err(|e| match e {
                ServiceError::Store(e) => {
                    Unbuilt::Later(format!("reading what the mail shows: {e}"))
                }
                other => Unbuilt::Never(other.to_string()),
            })
    }
}

/// What became of a subscribe request's mail, for the operator's metrics only: the
/// requester always gets the same answer, so the service keeps it to itself. `queued` and
/// `rate_limited` are counted when the request comes; what the relay made of a queued mail
/// (`sent`, `refused`, `failed`) when the delivery worker has sent it.
pub(super) fn count_sign_up_mail(result: &'static str) {
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
async fn mail_message(
    ctx: &Context,
    digests: &Digests,
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
            let (papers_day, papers) = first_papers(ctx, digests, reader).await?;
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
        let mailer = &self.ctx.mailer;
        let mail = mailer.render(template, subject, values, &self.ctx.common_context())?;
        let headers = Headers {
            message_id: Some(&self.message_id),
            list: manage.map(|m| ListHeaders {
                unsubscribe_url: &m.unsubscribe_url,
                list_id: self.ctx.links.list_id(),
            }),
        };
        mailer.build(&self.reader.email, mail, &headers)
    }
}

/// The papers a reader's digest would hold if it were composed now from the latest day
/// stored, as `paperboy preview` would show it; no day (and none) when no papers are stored.
async fn first_papers(
    ctx: &Context,
    digests: &Digests,
    reader: &Subscriber,
) -> Result<(String, Vec<WelcomePaper>), ServiceError> {
    let Some(day) = ctx.store.latest_featured_day().await? else {
        return Ok((String::new(), Vec::new()));
    };
    let papers = match digests.preview(reader, day).await? {
        Preview::Digest(view) => view
            .papers
            .into_iter()
            .map(|p| WelcomePaper {
                title: p.title,
                url: p.url,
            })
            .collect(),
        Preview::NoPapers | Preview::Nothing => Vec::new(),
    };
    Ok((day.to_string(), papers))
}
