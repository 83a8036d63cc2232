//! The console's readers: a search by address, state and topic, a page per reader with
//! everything stored about them, and two of the operator's actions on one (lift a
//! suppression, erase; the others in `reader_actions.rs`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};

use super::{Operator, check_form, field, next_page, page_context, param, parsed};
use crate::admin::views::AdminSubscriber;
use crate::clock::utc_text;
use crate::domain::{ReaderAction, SubscriberStatus, TopicId};
use crate::error::ServiceError;
use crate::store::ListFilter;
use crate::web::AppState;
use crate::web::error::PageError;
use crate::web::views::render;

/// Readers a page.
const PAGE: i64 = 50;
/// Reader ids a page walks at most when searching by topic (no index holds a reader's
/// topics): at a million readers a topic nobody follows walked them all, 300 ms p50 on
/// SQLite and 455 on PostgreSQL; a tenth of that is within the page's budget, and the page
/// says where it stopped and links on.
const TOPIC_WALK: i64 = 100_000;

#[derive(Deserialize)]
pub(super) struct Search {
    email: Option<String>,
    status: Option<String>,
    topic: Option<String>,
    after: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: i64,
    email: String,
    status: &'static str,
    topics: String,
    created: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Query(q): Query<Search>,
) -> Result<Response, PageError> {
    let status: Option<SubscriberStatus> = parsed(
        &q.status,
        "status: pending, active, unsubscribed or suppressed",
    )?;
    let after: Option<i64> = parsed(&q.after, "after: a reader's id")?;
    let email = param(&q.email).map(|s| s.chars().take(254).collect::<String>());
    let topic = param(&q.topic)
        .map(TopicId::parse)
        .transpose()
        .map_err(|e| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                "Not a search this page can do",
                &format!("topic: {e}"),
            )
        })?;
    let up_to = topic
        .as_ref()
        .map(|_| after.unwrap_or(0).saturating_add(TOPIC_WALK));
    let filter = ListFilter {
        status,
        email_prefix: email.clone(),
        topic: topic.clone(),
        after_id: after,
        up_to_id: up_to,
        limit: PAGE,
        ..Default::default()
    };
    let readers = state
        .admin
        .list(&filter)
        .await
        .map_err(ServiceError::from)?;
    // A full page goes on after its last reader; a topic's walk that stopped at its bound
    // goes on from there, while readers remain beyond it.
    let mut walked_to = None;
    let next = if readers.len() as i64 == PAGE {
        readers.last().map(|s| s.id)
    } else if let Some(bound) = up_to {
        let last = state
            .admin
            .last_reader_id()
            .await
            .map_err(ServiceError::from)?;
        (bound < last).then(|| {
            walked_to = Some(bound);
            bound
        })
    } else {
        None
    };
    let rows: Vec<Row> = readers
        .iter()
        .map(|s| Row {
            id: s.id,
            email: s.email.to_string(),
            status: s.status.as_str(),
            topics: s
                .interests
                .topics
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            created: utc_text(s.created_at),
        })
        .collect();
    let (jar, mut ctx) = page_context(&state, jar, Some(&operator.name));
    ctx.insert("title", "Readers");
    ctx.insert("rows", &rows);
    ctx.insert("email", email.as_deref().unwrap_or(""));
    ctx.insert("status", &status.map(|s| s.as_str()).unwrap_or(""));
    ctx.insert(
        "statuses",
        &SubscriberStatus::ALL.map(|s| s.as_str()).to_vec(),
    );
    let topic = topic.as_ref().map_or("", |t| t.as_str());
    ctx.insert("topic", topic);
    // The catalogue's topics to pick from by id, as the table shows them (a name is too
    // wide for a phone), and one asked for that it no longer has (readers keep a topic the
    // catalogue dropped).
    let mut topics: Vec<&str> = state
        .ctx
        .catalogue
        .topics()
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    if !topic.is_empty() && !topics.contains(&topic) {
        topics.push(topic);
    }
    ctx.insert("topics", &topics);
    // The next page: the same search after the last reader shown.
    let next = next.map(|after| {
        next_page(
            "/admin/readers",
            &[
                ("email", email.as_deref().unwrap_or("")),
                ("status", status.map_or("", |s| s.as_str())),
                ("topic", topic),
                ("after", &after.to_string()),
            ],
        )
    });
    ctx.insert("next", &next);
    ctx.insert("walked_to", &walked_to);
    Ok((jar, render("admin_readers.html", &ctx)).into_response())
}

#[derive(Serialize)]
struct Event {
    when: String,
    what: String,
    /// A page to see it on (a digest's view).
    link: Option<String>,
    /// What it held (a digest's papers).
    items: Vec<String>,
}

impl Event {
    fn new(when: i64, what: String) -> (i64, Self) {
        (
            when,
            Self {
                when: utc_text(when),
                what,
                link: None,
                items: Vec::new(),
            },
        )
    }
}

/// A reader's latest digests shown on their page: a reader of years stays one cheap read.
const DIGESTS_SHOWN: i64 = 30;

/// An action the page offers, or says why it cannot.
#[derive(Serialize)]
struct Offered {
    /// The form's address under the reader's page.
    action: &'static str,
    label: &'static str,
    why_not: Option<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let Some(r) = state
        .admin
        .reader_by_id(id)
        .await
        .map_err(ServiceError::from)?
    else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "No such reader",
            "No reader has this id: erased, or never signed up.",
        ));
    };
    let s = &r.subscriber;
    // The reader's story, oldest first.
    let mut timeline: Vec<(i64, Event)> = vec![Event::new(s.created_at, "signed up".into())];
    for (at, client) in &r.confirmation_mails {
        timeline.push(Event::new(
            *at,
            format!(
                "confirmation mail sent{}",
                client
                    .as_deref()
                    .map_or_else(String::new, |c| format!(" (asked from {c})"))
            ),
        ));
    }
    if let Some(t) = s.confirmed_at {
        timeline.push(Event::new(t, "confirmed".into()));
    }
    for rating in &r.ratings {
        timeline.push(Event::new(
            rating.at,
            format!("rated {}: {}", rating.paper, rating.rating),
        ));
    }
    let digests = state
        .admin
        .digests_of(s.id, DIGESTS_SHOWN)
        .await
        .map_err(ServiceError::from)?;
    let digests_cut = digests.len() as i64 == DIGESTS_SHOWN;
    for d in digests {
        // When it went, or (not sent) the start of its day.
        let at = d.sent_at.unwrap_or_else(|| {
            d.day
                .and_hms_opt(0, 0, 0)
                .map_or(0, |t| t.and_utc().timestamp())
        });
        let (_, mut event) = Event::new(
            at,
            format!(
                "digest of {}: {}, {} paper(s)",
                d.day,
                d.status.as_str(),
                d.papers.len()
            ),
        );
        event.link = Some(format!("/admin/readers/{}/digests/{}", s.id, d.day));
        event.items = d
            .papers
            .into_iter()
            .map(|(id, title)| match title {
                Some(t) => format!("{t} ({id})"),
                None => id.to_string(),
            })
            .collect();
        timeline.push((at, event));
    }
    for e in &r.mail_events {
        timeline.push(Event::new(
            e.at,
            format!(
                "{} from {} ({}{}): {}",
                e.kind,
                e.source,
                e.status.as_deref().unwrap_or("no status"),
                e.diagnostic
                    .as_deref()
                    .map_or_else(String::new, |d| format!(", {d}")),
                e.effect
            ),
        ));
    }
    if let Some(t) = s.unsubscribed_at {
        timeline.push(Event::new(t, "unsubscribed".into()));
    }
    if let Some(t) = s.suppressed_at {
        timeline.push(Event::new(
            t,
            format!(
                "suppressed: {}",
                s.suppression_reason
                    .as_deref()
                    .unwrap_or("no reason recorded")
            ),
        ));
    }
    timeline.sort_by_key(|(t, _)| *t);
    let timeline: Vec<Event> = timeline.into_iter().map(|(_, e)| e).collect();
    // What the operator may do now; a reader who cannot be asked back is told why.
    let mut actions = Vec::new();
    for (action, path, label) in [
        (ReaderAction::Unsubscribe, "unsubscribe", "Unsubscribe"),
        (
            ReaderAction::Resubscribe,
            "resubscribe",
            "Resubscribe (sends a confirmation mail)",
        ),
        (
            ReaderAction::ResendConfirmation,
            "resend-confirmation",
            "Send the confirmation mail again",
        ),
    ] {
        let why_not = state.subs.why_not(s, action).await?;
        let explain = action == ReaderAction::Resubscribe
            && matches!(
                s.status,
                SubscriberStatus::Suppressed | SubscriberStatus::Unsubscribed
            );
        if why_not.is_none() || explain {
            actions.push(Offered {
                action: path,
                label,
                why_not,
            });
        }
    }
    let view = AdminSubscriber::from(s);
    let (jar, mut ctx) = page_context(&state, jar, Some(&operator.name));
    ctx.insert("title", &format!("Reader {}", s.id));
    ctx.insert("reader", &view);
    ctx.insert("timeline", &timeline);
    ctx.insert("digests_cut", &digests_cut.then_some(DIGESTS_SHOWN));
    ctx.insert("actions", &actions);
    ctx.insert("consent_at", &utc_text(s.consent_at));
    ctx.insert("suppressed", &(s.status == SubscriberStatus::Suppressed));
    Ok((jar, render("admin_reader.html", &ctx)).into_response())
}

pub(super) async fn reader_or_404(
    state: &AppState,
    id: i64,
) -> Result<crate::domain::Subscriber, PageError> {
    state
        .admin
        .reader_by_id(id)
        .await
        .map_err(ServiceError::from)?
        .map(|r| r.subscriber)
        .ok_or_else(|| {
            PageError::new(
                StatusCode::NOT_FOUND,
                "No such reader",
                "No reader has this id.",
            )
        })
}

/// Lift a suppression: the reader returns to where they were before it.
pub(super) async fn lift(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Path(id): Path<i64>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_form(&state, &jar, &pairs)?;
    let s = reader_or_404(&state, id).await?;
    state
        .admin
        .lift(&operator.actor(), &s.email, field(&pairs, "reason"))
        .await
        .map_err(|e| suppression_refused(e, "Nothing to lift"))?;
    Ok(Redirect::to(&format!("/admin/readers/{id}")).into_response())
}

/// A suppression that could not be changed: the store's failure as such, anything else
/// (not suppressed, no such reader) a conflict titled `title`.
fn suppression_refused(e: crate::admin::SuppressionError, title: &str) -> PageError {
    match e {
        crate::admin::SuppressionError::Store(e) => PageError::from(ServiceError::from(e)),
        other => PageError::new(StatusCode::CONFLICT, title, &other.to_string()),
    }
}

/// Erase a reader: only when the operator typed the reader's address to confirm.
pub(super) async fn erase(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Path(id): Path<i64>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_form(&state, &jar, &pairs)?;
    let s = reader_or_404(&state, id).await?;
    if field(&pairs, "confirm").trim().to_lowercase() != s.email.as_str() {
        return Err(PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not erased",
            "Type the reader's address exactly to confirm: erasing cannot be undone.",
        ));
    }
    state
        .admin
        .erase(&operator.actor(), &s.email)
        .await
        .map_err(ServiceError::from)?;
    Ok(Redirect::to("/admin/readers").into_response())
}

/// Suppress a reader by hand: nothing is sent to them until the suppression is lifted.
pub(super) async fn suppress(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Path(id): Path<i64>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_form(&state, &jar, &pairs)?;
    let s = reader_or_404(&state, id).await?;
    if s.status == SubscriberStatus::Suppressed {
        return Err(PageError::new(
            StatusCode::CONFLICT,
            "Already suppressed",
            "This reader is suppressed already; the first reason stays.",
        ));
    }
    state
        .admin
        .suppress(&operator.actor(), &s.email, field(&pairs, "reason"))
        .await
        .map_err(|e| suppression_refused(e, "Not suppressed"))?;
    Ok(Redirect::to(&format!("/admin/readers/{id}")).into_response())
}

/// Add a reader the operator vouches for (consent given elsewhere), active at once, as
/// `paperboy subscribers add` does: no confirmation mail.
pub(super) async fn add(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_form(&state, &jar, &pairs)?;
    let refuse = |why: String| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, "Not added", &why);
    if field(&pairs, "consent") != "yes" {
        return Err(refuse(
            "Tick that the reader agreed to receive the digest: a reader added here is mailed without a confirmation."
                .into(),
        ));
    }
    let input = crate::domain::SubscriptionInput {
        email: field(&pairs, "email").trim().to_string(),
        topics: field(&pairs, "topics")
            .split([',', ' '])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        keywords: field(&pairs, "keywords").to_string(),
        ..Default::default()
    };
    let new = state
        .subs
        .parse(&input)
        .map_err(|e| refuse(e.to_string()))?;
    if let Some(existing) = state.subs.find(&new.email).await.map_err(PageError::from)? {
        return Err(PageError::new(
            StatusCode::CONFLICT,
            "Not added",
            &format!(
                "{} is a reader already (reader {}, {}): change them from their page.",
                existing.email, existing.id, existing.status
            ),
        ));
    }
    let s = state
        .subs
        .add_confirmed(&operator.actor(), &new)
        .await
        .map_err(PageError::from)?;
    Ok(Redirect::to(&format!("/admin/readers/{}", s.id)).into_response())
}
