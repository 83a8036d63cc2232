//! What an operator's listings and exports show of a subscriber, a suppression and a mail
//! event: the admin API answers with these, and `paperboy subscribers export`, `suppressions`
//! and `events` print the same. The reader's own API shows a subscription as
//! [`SubscriptionView`] too.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{
    EventSource, MailEventKind, PaperRating, Rating, Subscriber, SubscriberStatus, weekday_name,
};
use crate::store::StoredMailEvent;

/// A subscription as its owner (or an admin) sees it.
#[derive(Serialize, Deserialize, ToSchema)]
pub(crate) struct SubscriptionView {
    pub email: String,
    pub status: SubscriberStatus,
    pub topics: Vec<String>,
    pub keywords: Vec<String>,
    /// Pinned authors.
    pub authors: Vec<String>,
    /// arXiv ids of papers the reader liked ("more like these").
    pub liked: Vec<String>,
    pub muted_authors: Vec<String>,
    /// arXiv categories.
    pub categories: Vec<String>,
    /// 0 (all personal) … 100 (all trending).
    pub trending: u8,
    /// `daily` or `weekly`.
    pub frequency: String,
    /// For weekly digests: `monday` … `sunday`.
    pub weekday: Option<String>,
    pub delivery_hour: u8,
    pub timezone: String,
    pub papers_per_digest: u8,
    pub send_when_empty: bool,
    /// Unix seconds.
    pub created_at: i64,
    pub consent_at: i64,
    pub confirmed_at: Option<i64>,
    pub unsubscribed_at: Option<i64>,
    pub suppressed_at: Option<i64>,
    pub suppression_reason: Option<String>,
    /// The reader's "more / fewer like this" ratings, latest first.
    #[serde(default)]
    pub ratings: Vec<RatingView>,
}

/// One rating of a paper by its reader.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct RatingView {
    /// The arXiv id, without version.
    #[schema(example = "2606.12243")]
    pub paper: String,
    pub rating: Rating,
    /// Unix seconds of the rating.
    pub at: i64,
}

impl From<&PaperRating> for RatingView {
    fn from(r: &PaperRating) -> Self {
        Self {
            paper: r.paper.to_string(),
            rating: r.rating,
            at: r.at,
        }
    }
}

impl SubscriptionView {
    /// The view with the reader's ratings (read separately from the subscriber's row).
    pub(crate) fn with_ratings(mut self, ratings: &[PaperRating]) -> Self {
        self.ratings = ratings.iter().map(RatingView::from).collect();
        self
    }
}

impl From<&Subscriber> for SubscriptionView {
    fn from(s: &Subscriber) -> Self {
        Self {
            email: s.email.to_string(),
            status: s.status,
            topics: s.interests.topics.iter().map(ToString::to_string).collect(),
            keywords: s.interests.keywords.clone(),
            authors: s.interests.authors.clone(),
            liked: s.interests.liked.iter().map(ToString::to_string).collect(),
            muted_authors: s.interests.muted_authors.clone(),
            categories: s.interests.categories.clone(),
            trending: s.interests.trending,
            frequency: s.prefs.frequency_name().into(),
            weekday: s.prefs.weekday().map(|d| weekday_name(d).into()),
            delivery_hour: s.prefs.hour,
            timezone: s.prefs.timezone.name().into(),
            papers_per_digest: s.prefs.papers_per_digest,
            send_when_empty: s.prefs.send_when_empty,
            created_at: s.created_at,
            consent_at: s.consent_at,
            confirmed_at: s.confirmed_at,
            unsubscribed_at: s.unsubscribed_at,
            suppressed_at: s.suppressed_at,
            suppression_reason: s.suppression_reason.clone(),
            ratings: Vec::new(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AdminSubscriber {
    pub id: i64,
    #[serde(flatten)]
    pub subscription: SubscriptionView,
    pub consent_ip: Option<String>,
    /// Where the consent came from when not from the form or the API: an import's file.
    pub consent_source: Option<String>,
}

impl AdminSubscriber {
    /// The row with the subscriber's ratings.
    pub(crate) fn with_ratings(mut self, ratings: &[PaperRating]) -> Self {
        self.subscription = self.subscription.with_ratings(ratings);
        self
    }
}

impl From<&Subscriber> for AdminSubscriber {
    fn from(s: &Subscriber) -> Self {
        Self {
            id: s.id,
            subscription: s.into(),
            consent_ip: s.consent_ip.clone(),
            consent_source: s.consent_source.clone(),
        }
    }
}

/// Everything stored about one reader as `paperboy subscribers export` and the console's
/// export give it: the subscriber with their ratings, confirmation mails and mail events.
pub(crate) fn exported_json(row: &super::Exported) -> serde_json::Result<serde_json::Value> {
    let mut v =
        serde_json::to_value(AdminSubscriber::from(&row.subscriber).with_ratings(&row.ratings))?;
    v["confirmation_mails"] = row
        .confirmation_mails
        .iter()
        .map(|(sent_at, client_ip)| serde_json::json!({"sent_at": sent_at, "client_ip": client_ip}))
        .collect();
    v["mail_events"] = serde_json::to_value(
        row.mail_events
            .iter()
            .map(MailEvent::from)
            .collect::<Vec<_>>(),
    )?;
    Ok(v)
}

/// One subscriber as a CSV row: lists joined (topics by `;`, keywords by spaces in their
/// quoted form, authors by `; `).
#[derive(Serialize)]
pub(crate) struct FlatSubscriber<'a> {
    id: i64,
    email: &'a str,
    status: &'a str,
    topics: String,
    keywords: String,
    authors: String,
    liked: String,
    muted_authors: String,
    categories: String,
    trending: u8,
    frequency: &'a str,
    weekday: Option<&'a str>,
    delivery_hour: u8,
    timezone: &'a str,
    papers_per_digest: u8,
    send_when_empty: bool,
    created_at: i64,
    consent_at: i64,
    consent_ip: Option<&'a str>,
    consent_source: Option<&'a str>,
    confirmed_at: Option<i64>,
    unsubscribed_at: Option<i64>,
    suppressed_at: Option<i64>,
    suppression_reason: Option<&'a str>,
    /// `paper:rating` pairs, latest first, separated by spaces.
    ratings: String,
}

impl AdminSubscriber {
    pub(crate) fn flat(&self) -> FlatSubscriber<'_> {
        let v = &self.subscription;
        FlatSubscriber {
            id: self.id,
            email: &v.email,
            status: v.status.as_str(),
            topics: v.topics.join(";"),
            keywords: v.keywords.join(" "),
            authors: v.authors.join("; "),
            liked: v.liked.join(" "),
            muted_authors: v.muted_authors.join("; "),
            categories: v.categories.join(" "),
            trending: v.trending,
            frequency: &v.frequency,
            weekday: v.weekday.as_deref(),
            delivery_hour: v.delivery_hour,
            timezone: &v.timezone,
            papers_per_digest: v.papers_per_digest,
            send_when_empty: v.send_when_empty,
            created_at: v.created_at,
            consent_at: v.consent_at,
            consent_ip: self.consent_ip.as_deref(),
            consent_source: self.consent_source.as_deref(),
            confirmed_at: v.confirmed_at,
            unsubscribed_at: v.unsubscribed_at,
            suppressed_at: v.suppressed_at,
            suppression_reason: v.suppression_reason.as_deref(),
            ratings: v
                .ratings
                .iter()
                .map(|r| format!("{}:{}", r.paper, r.rating))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// A reader nothing is sent to.
#[derive(Serialize, ToSchema)]
pub(crate) struct Suppression {
    /// The reader's id (pages go by it).
    pub id: i64,
    pub email: String,
    /// Unix seconds.
    pub suppressed_at: Option<i64>,
    /// What suppressed them: `hard bounce (5.1.1)`, `complaint: marked as spam`,
    /// `3 soft bounces within 14 days (4.2.2)`, `by the operator: ...`.
    pub reason: Option<String>,
}

impl From<&Subscriber> for Suppression {
    fn from(s: &Subscriber) -> Self {
        Self {
            id: s.id,
            email: s.email.as_str().to_string(),
            suppressed_at: s.suppressed_at,
            reason: s.suppression_reason.clone(),
        }
    }
}

/// One bounce or complaint.
#[derive(Serialize, ToSchema)]
pub(crate) struct MailEvent {
    pub id: i64,
    pub email: String,
    /// `digest` or `subscription_mail`, when the report named the message.
    pub message_kind: Option<String>,
    pub message_id: Option<i64>,
    pub kind: MailEventKind,
    /// RFC 3463 status, e.g. `5.1.1`.
    pub status: Option<String>,
    /// What the far server said.
    pub diagnostic: Option<String>,
    pub source: EventSource,
    /// `suppressed` when this event suppressed the reader, else `noted`.
    pub effect: String,
    /// Unix seconds.
    pub at: i64,
}

impl From<&StoredMailEvent> for MailEvent {
    fn from(e: &StoredMailEvent) -> Self {
        Self {
            id: e.id,
            email: e.email.as_str().to_string(),
            message_kind: e.message_kind.clone(),
            message_id: e.message_id,
            kind: e.kind,
            status: e.status.clone(),
            diagnostic: e.diagnostic.clone(),
            source: e.source,
            effect: e.effect.clone(),
            at: e.at,
        }
    }
}

/// Write `rows` as CSV with a header, every cell safe to open in a spreadsheet: a cell that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`, so that
/// it is read as text, never run as a formula (OWASP's CSV injection advice). Import strips
/// that quote again ([`crate::domain::unquote_cell`]).
pub(crate) fn write_csv<W: std::io::Write, T: Serialize>(
    out: W,
    rows: impl IntoIterator<Item = T>,
) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let mut first = true;
    for row in rows {
        // Serialise the row as csv would, then write its cells made safe.
        let mut one = csv::WriterBuilder::new()
            .has_headers(first)
            .from_writer(Vec::new());
        one.serialize(&row)?;
        let bytes = one.into_inner().map_err(|e| e.into_error())?;
        let mut read = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes.as_slice());
        for record in read.records() {
            let record = record?;
            w.write_record(
                record
                    .iter()
                    .map(|c| crate::domain::spreadsheet_safe(c).into_owned()),
            )?;
        }
        first = false;
    }
    w.flush()?;
    Ok(())
}
