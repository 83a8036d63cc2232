use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::Weekday;
use serde::{Deserialize, Serialize};

use super::email::EmailAddress;
use super::interests::{Interests, InterestsForm};
use super::topic::TopicCatalogue;

/// Where a subscriber is in their lifecycle.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SubscriberStatus {
    /// Signed up, confirmation mail sent, not yet confirmed.
    Pending,
    /// Confirmed: receives digests.
    Active,
    /// Unsubscribed by its owner; may subscribe again.
    Unsubscribed,
    /// A hard bounce or complaint: nothing is sent until the owner confirms again.
    Suppressed,
}

impl SubscriberStatus {
    pub(crate) const ALL: [Self; 4] = [
        Self::Pending,
        Self::Active,
        Self::Unsubscribed,
        Self::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Unsubscribed => "unsubscribed",
            Self::Suppressed => "suppressed",
        }
    }
}

impl FromStr for SubscriberStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown status {s:?} (expected pending, active, unsubscribed or suppressed)"
                )
            })
    }
}

impl fmt::Display for SubscriberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operator may do to one reader's subscription by hand, each from some states only.
/// Erasing and lifting a suppression have rules of their own (`Admin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderAction {
    /// Stop their digests, as their own unsubscribe link does.
    Unsubscribe,
    /// Ask an unsubscribed reader to confirm again: pending, sent a confirmation mail, never
    /// active without their click.
    Resubscribe,
    /// Send a pending reader their confirmation mail again.
    ResendConfirmation,
}

impl ReaderAction {
    /// How the audit log names it.
    pub fn audited_as(self) -> super::AuditAction {
        match self {
            Self::Unsubscribe => super::AuditAction::Unsubscribe,
            Self::Resubscribe => super::AuditAction::Resubscribe,
            Self::ResendConfirmation => super::AuditAction::ResendConfirmation,
        }
    }

    /// The states the action applies to.
    pub fn from_states(self) -> &'static [SubscriberStatus] {
        use SubscriberStatus::{Active, Pending, Unsubscribed};
        match self {
            Self::Unsubscribe => &[Pending, Active],
            Self::Resubscribe => &[Unsubscribed],
            Self::ResendConfirmation => &[Pending],
        }
    }

    /// Why a reader in `status` cannot have this done, in the operator's words; `None` when
    /// they can.
    pub fn refused(self, status: SubscriberStatus) -> Option<&'static str> {
        use SubscriberStatus::{Active, Suppressed, Unsubscribed};
        if self.from_states().contains(&status) {
            return None;
        }
        Some(match (self, status) {
            (Self::Unsubscribe, Suppressed) => {
                "The reader is suppressed: nothing is sent to them already, and unsubscribing \
                 would hide why. Lift the suppression first if they should be unsubscribed \
                 instead."
            }
            (Self::Unsubscribe, _) => "The reader has unsubscribed already.",
            (Self::Resubscribe, Suppressed) => {
                "The reader is suppressed (a bounce, a complaint, or by hand): no mail may go \
                 to them, a confirmation mail neither. Their own sign-up through the form ends \
                 a suppression; lift it first if you know the address works again."
            }
            (Self::Resubscribe, Active) => "The reader is subscribed already.",
            (Self::Resubscribe, _) => {
                "The reader has not confirmed yet: send their confirmation mail again instead."
            }
            (Self::ResendConfirmation, Active) => "The reader has confirmed already.",
            (Self::ResendConfirmation, Unsubscribed) => {
                "The reader has unsubscribed: resubscribe them instead, which sends a \
                 confirmation mail."
            }
            (Self::ResendConfirmation, _) => {
                "The reader is suppressed: no mail may go to them, a confirmation mail neither. \
                 Lift the suppression first if you know the address works again."
            }
        })
    }
}

/// How often a reader gets a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly(Weekday),
}

/// When and how a reader's digest is delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryPrefs {
    pub frequency: Frequency,
    /// Local hour of the day (0–23) at which the digest is sent.
    pub hour: u8,
    pub timezone: chrono_tz::Tz,
    pub papers_per_digest: u8,
    /// Send a mail (the day's trending papers) on a day where nothing matched.
    pub send_when_empty: bool,
}

impl Default for DeliveryPrefs {
    fn default() -> Self {
        Self {
            frequency: Frequency::Daily,
            hour: 7,
            timezone: chrono_tz::UTC,
            papers_per_digest: 10,
            send_when_empty: false,
        }
    }
}

pub const MAX_PAPERS_PER_DIGEST: u8 = 50;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefsError {
    #[error("choose daily or weekly")]
    Frequency,
    #[error("choose a weekday for a weekly digest")]
    Weekday,
    #[error("the hour must be a whole number from 0 to 23")]
    Hour,
    #[error("unknown time zone; use a name like Europe/Berlin or UTC")]
    Timezone,
    #[error("papers per digest must be a whole number from 1 to {MAX_PAPERS_PER_DIGEST}")]
    Papers,
}

pub fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

impl DeliveryPrefs {
    pub(crate) fn frequency_name(&self) -> &'static str {
        match self.frequency {
            Frequency::Daily => "daily",
            Frequency::Weekly(_) => "weekly",
        }
    }

    pub fn weekday(&self) -> Option<Weekday> {
        match self.frequency {
            Frequency::Daily => None,
            Frequency::Weekly(d) => Some(d),
        }
    }

    /// Parse the delivery fields as submitted; an empty field takes its default.
    pub fn parse(input: &SubscriptionInput) -> Result<Self, (&'static str, PrefsError)> {
        let d = Self::default();
        let blank = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let frequency = match blank(&input.frequency).as_deref() {
            None | Some("daily") => Frequency::Daily,
            Some("weekly") => {
                let day = blank(&input.weekday)
                    .and_then(|w| w.parse::<Weekday>().ok())
                    .ok_or(("weekday", PrefsError::Weekday))?;
                Frequency::Weekly(day)
            }
            Some(_) => return Err(("frequency", PrefsError::Frequency)),
        };
        let hour = match blank(&input.delivery_hour) {
            None => d.hour,
            Some(h) => h
                .parse::<u8>()
                .ok()
                .filter(|h| *h < 24)
                .ok_or(("delivery_hour", PrefsError::Hour))?,
        };
        let timezone = match blank(&input.timezone) {
            None => d.timezone,
            Some(tz) => tz
                .parse::<chrono_tz::Tz>()
                .map_err(|_| ("timezone", PrefsError::Timezone))?,
        };
        let papers_per_digest = match blank(&input.papers_per_digest) {
            None => d.papers_per_digest,
            Some(n) => n
                .parse::<u8>()
                .ok()
                .filter(|n| (1..=MAX_PAPERS_PER_DIGEST).contains(n))
                .ok_or(("papers_per_digest", PrefsError::Papers))?,
        };
        Ok(Self {
            frequency,
            hour,
            timezone,
            papers_per_digest,
            send_when_empty: input.send_when_empty.unwrap_or(d.send_when_empty),
        })
    }
}

/// The fields of a subscription as a reader submits them (form or JSON), unvalidated.
/// Every field is text so that a bad value becomes a message next to its field, not a
/// rejected request.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SubscriptionInput {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Topic ids from the catalogue (`GET /api/v1/topics`).
    pub topics: Vec<String>,
    /// Free keywords and "quoted phrases"; a leading `-` excludes.
    #[schema(example = "diffusion \"graph neural network\" -medical")]
    pub keywords: String,
    /// Pinned author names, one per line or comma-separated: their papers come first.
    pub authors: String,
    /// "More like these": arXiv ids or links of papers you liked.
    #[schema(example = "2405.01234 https://arxiv.org/abs/2310.06825")]
    pub liked: String,
    /// Muted author or organisation names: their papers are never sent.
    pub muted_authors: String,
    /// arXiv categories (`cs.RO hep-th`): their papers match.
    #[schema(example = "cs.RO stat.ML")]
    pub categories: String,
    /// 0 (only what matches you) … 100 (only what is trending); default 20.
    pub trending: Option<String>,
    /// `daily` (default) or `weekly`.
    pub frequency: Option<String>,
    /// For weekly digests: `monday` … `sunday`.
    pub weekday: Option<String>,
    /// Local hour 0–23 (default 7).
    pub delivery_hour: Option<String>,
    /// IANA time zone name (default UTC).
    pub timezone: Option<String>,
    /// 1–50 (default 10).
    pub papers_per_digest: Option<String>,
    /// Send the day's trending papers when nothing matched (default false).
    pub send_when_empty: Option<bool>,
}

/// Validation messages by field name, shown next to each field or returned as JSON.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// A validated subscription request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSubscription {
    pub email: EmailAddress,
    pub interests: Interests,
    pub prefs: DeliveryPrefs,
}

impl NewSubscription {
    /// The reader this request describes, stored nowhere (id 0, pending, nothing sent):
    /// what a preview of the form matches.
    pub fn unsaved(&self, now: i64) -> Subscriber {
        Subscriber {
            id: 0,
            public_id: String::new(),
            email: self.email.clone(),
            status: SubscriberStatus::Pending,
            interests: self.interests.clone(),
            prefs: self.prefs.clone(),
            created_at: now,
            updated_at: now,
            consent_at: now,
            consent_ip: None,
            consent_source: None,
            confirmed_at: None,
            unsubscribed_at: None,
            suppressed_at: None,
            suppression_reason: None,
        }
    }

    pub fn parse(
        input: &SubscriptionInput,
        catalogue: &TopicCatalogue,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let email = EmailAddress::parse(&input.email)
            .map_err(|e| errors.insert("email", e.to_string()))
            .ok();
        let (interests, prefs) = match parse_profile(input, catalogue) {
            Ok(v) => (Some(v.0), Some(v.1)),
            Err(e) => {
                errors.extend(e);
                (None, None)
            }
        };
        match (email, interests, prefs) {
            (Some(email), Some(interests), Some(prefs)) if errors.is_empty() => Ok(Self {
                email,
                interests,
                prefs,
            }),
            _ => Err(errors),
        }
    }
}

/// Interests and delivery preferences from a submission (everything but the address),
/// as the preferences page and the update API take them.
pub fn parse_profile(
    input: &SubscriptionInput,
    catalogue: &TopicCatalogue,
) -> Result<(Interests, DeliveryPrefs), FieldErrors> {
    let mut errors = FieldErrors::new();
    let form = InterestsForm {
        topics: &input.topics,
        keywords: &input.keywords,
        authors: &input.authors,
        liked: &input.liked,
        muted_authors: &input.muted_authors,
        categories: &input.categories,
        trending: input.trending.as_deref(),
    };
    let interests = Interests::parse(catalogue, &form)
        .map_err(|(field, e)| errors.insert(field, e.to_string()))
        .ok();
    let prefs = DeliveryPrefs::parse(input)
        .map_err(|(field, e)| errors.insert(field, e.to_string()))
        .ok();
    match (interests, prefs) {
        (Some(i), Some(p)) => Ok((i, p)),
        _ => Err(errors),
    }
}

/// A stored subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscriber {
    pub id: i64,
    /// Random, unguessable; what tokens name. Never the row id.
    pub public_id: String,
    pub email: EmailAddress,
    pub status: SubscriberStatus,
    pub interests: Interests,
    pub prefs: DeliveryPrefs,
    pub created_at: i64,
    pub updated_at: i64,
    /// When and from where the (latest) consent was given.
    pub consent_at: i64,
    pub consent_ip: Option<String>,
    /// Where the consent came from when not from this service's form or API (an import).
    pub consent_source: Option<String>,
    pub confirmed_at: Option<i64>,
    pub unsubscribed_at: Option<i64>,
    pub suppressed_at: Option<i64>,
    pub suppression_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> TopicCatalogue {
        TopicCatalogue::from_toml(include_str!("../../config/topics.toml")).unwrap()
    }

    #[test]
    fn an_operator_acts_on_a_reader_only_from_the_states_the_action_is_for() {
        use SubscriberStatus::{Active, Pending, Suppressed, Unsubscribed};
        let allowed = |a: ReaderAction| -> Vec<SubscriberStatus> {
            SubscriberStatus::ALL
                .into_iter()
                .filter(|s| a.refused(*s).is_none())
                .collect()
        };
        assert_eq!(allowed(ReaderAction::Unsubscribe), [Pending, Active]);
        assert_eq!(allowed(ReaderAction::Resubscribe), [Unsubscribed]);
        assert_eq!(allowed(ReaderAction::ResendConfirmation), [Pending]);
        // Nothing is ever sent to a suppressed reader by an operator's hand.
        for a in [ReaderAction::Resubscribe, ReaderAction::ResendConfirmation] {
            assert!(
                a.refused(Suppressed).unwrap().contains("suppressed"),
                "{a:?}"
            );
        }
    }

    #[test]
    fn collects_every_field_error() {
        let input = SubscriptionInput {
            email: "nope".into(),
            topics: vec!["not-a-topic".into()],
            delivery_hour: Some("24".into()),
            ..Default::default()
        };
        let errors = NewSubscription::parse(&input, &catalogue()).unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["delivery_hour", "email", "topics"]
        );
    }

    #[test]
    fn weekly_needs_a_day_and_defaults_fill_blanks() {
        let mut input = SubscriptionInput {
            email: "a@example.com".into(),
            keywords: "transformers".into(),
            frequency: Some("weekly".into()),
            ..Default::default()
        };
        assert!(
            NewSubscription::parse(&input, &catalogue())
                .unwrap_err()
                .contains_key("weekday")
        );
        input.weekday = Some("friday".into());
        input.timezone = Some("Europe/Berlin".into());
        let s = NewSubscription::parse(&input, &catalogue()).unwrap();
        assert_eq!(s.prefs.frequency, Frequency::Weekly(Weekday::Fri));
        assert_eq!(s.prefs.hour, 7);
        assert_eq!(s.prefs.timezone, chrono_tz::Europe::Berlin);
    }
}

/// A mail the subscriber lifecycle sends, as the outbox of subscription mails holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubscriptionMailKind {
    /// The double opt-in link, after a sign-up.
    Confirmation,
    /// A sign-up for an address already confirmed: a link to its preferences instead.
    AlreadySubscribed,
    /// Once confirmed: what the reader will get and when.
    Welcome,
}

impl SubscriptionMailKind {
    pub const ALL: [Self; 3] = [Self::Confirmation, Self::AlreadySubscribed, Self::Welcome];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::AlreadySubscribed => "already_subscribed",
            Self::Welcome => "welcome",
        }
    }

    /// Whether a sign-up request caused it: those count against the hourly limits of an
    /// address and of a client.
    pub fn answers_a_sign_up(self) -> bool {
        !matches!(self, Self::Welcome)
    }
}

impl std::str::FromStr for SubscriptionMailKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown subscription mail kind {s:?}"))
    }
}

impl std::fmt::Display for SubscriptionMailKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
