//! The reader pages. Every page works without script; confirming and unsubscribing need a
//! POST, so a mail scanner that follows links changes nothing. One module per flow: signing
//! up (`signup.rs`), managing a subscription (`manage.rs`), rating a paper from a mail
//! (`ratings.rs`) and a digest's browser view (`digest_view.rs`); what several share is here.

mod digest_view;
mod manage;
mod ratings;
mod signup;

use std::sync::LazyLock;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Serialize;
use tera::Context;

use super::AppState;
use super::error::PageError;
use super::forms::{self, Submission};
use super::views::render;
use crate::domain::{ArxivId, Subscriber, SubscriptionInput, Topic, weekday_name};
use crate::error::ServiceError;
use crate::tokens::Purpose;

static TIMEZONES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect());

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(signup::subscribe_form))
        .route(
            "/subscribe",
            get(signup::subscribe_form).post(signup::subscribe),
        )
        .route("/preview", post(signup::preview_form))
        .route(
            "/confirm/{token}",
            get(signup::confirm_page).post(signup::confirm),
        )
        .route(
            "/preferences/{token}",
            get(manage::preferences_page).post(manage::save_preferences),
        )
        .route(
            "/unsubscribe/{token}",
            get(manage::unsubscribe_page).post(manage::unsubscribe),
        )
        .route("/digests/{token}/{day}", get(digest_view::digest_page))
        .route(
            "/rate/{token}/{paper}/{action}",
            get(ratings::rate_page).post(ratings::rate),
        )
        .route("/preferences/{token}/ratings", post(manage::remove_rating))
        .route(
            "/preferences/{token}/preview",
            post(manage::preview_preferences),
        )
        .route(
            "/preferences/{token}/interests",
            post(manage::remove_interest),
        )
        .merge(super::views::static_files())
}

#[derive(Serialize)]
struct Group<'a> {
    name: &'a str,
    topics: Vec<&'a Topic>,
    /// Shown unfolded: a topic of it is ticked.
    open: bool,
}

/// Everything the shared form fields need besides the values.
fn form_context(app: &crate::context::Context, values: &SubscriptionInput) -> Context {
    let mut ctx = app.common_context();
    let groups: Vec<Group<'_>> = app
        .catalogue
        .grouped()
        .into_iter()
        .map(|(name, topics)| Group {
            name,
            open: topics
                .iter()
                .any(|t| values.topics.iter().any(|v| v == t.id.as_str())),
            topics,
        })
        .collect();
    ctx.insert("groups", &groups);
    ctx.insert("values", values);
    ctx.insert("errors", &std::collections::BTreeMap::<&str, String>::new());
    ctx.insert("hours", &(0..24).collect::<Vec<u8>>());
    ctx.insert(
        "weekdays",
        &[
            chrono::Weekday::Mon,
            chrono::Weekday::Tue,
            chrono::Weekday::Wed,
            chrono::Weekday::Thu,
            chrono::Weekday::Fri,
            chrono::Weekday::Sat,
            chrono::Weekday::Sun,
        ]
        .map(weekday_name),
    );
    ctx.insert("timezones", &*TIMEZONES);
    ctx
}

/// The form values that show a stored subscriber's settings (or the defaults).
pub(crate) fn values_of(s: Option<&Subscriber>) -> SubscriptionInput {
    let prefs = s.map(|s| s.prefs.clone()).unwrap_or_default();
    SubscriptionInput {
        email: s.map(|s| s.email.to_string()).unwrap_or_default(),
        topics: s
            .map(|s| s.interests.topics.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        keywords: s
            .map(|s| s.interests.keywords.join(" "))
            .unwrap_or_default(),
        authors: s
            .map(|s| s.interests.authors.join("\n"))
            .unwrap_or_default(),
        liked: s
            .map(|s| {
                let ids: Vec<&str> = s.interests.liked.iter().map(|id| id.as_str()).collect();
                ids.join("\n")
            })
            .unwrap_or_default(),
        muted_authors: s
            .map(|s| s.interests.muted_authors.join("\n"))
            .unwrap_or_default(),
        categories: s
            .map(|s| s.interests.categories.join(" "))
            .unwrap_or_default(),
        trending: Some(
            s.map_or(crate::domain::DEFAULT_TRENDING, |s| s.interests.trending)
                .to_string(),
        ),
        frequency: Some(prefs.frequency_name().into()),
        weekday: Some(weekday_name(prefs.weekday().unwrap_or(chrono::Weekday::Mon)).into()),
        delivery_hour: Some(prefs.hour.to_string()),
        timezone: Some(prefs.timezone.name().into()),
        papers_per_digest: Some(prefs.papers_per_digest.to_string()),
        send_when_empty: Some(prefs.send_when_empty),
    }
}

fn with_cookie(jar: CookieJar, page: Response) -> Response {
    (jar, page).into_response()
}

/// A form posted from a reader's preferences page: the reader its manage link names, and
/// the form, its token checked.
async fn manage_form(
    state: &AppState,
    token: &str,
    jar: &CookieJar,
    pairs: Vec<(String, String)>,
) -> Result<(Subscriber, Submission), PageError> {
    let s = state.subs.subscriber_for(token, Purpose::Manage).await?;
    let form = Submission::from_pairs(pairs);
    forms::check(state.ctx.links.signer(), jar, &form.form_token)?;
    Ok((s, form))
}

/// The preview page for typed interests, or what is wrong with them.
async fn preview_of(
    state: &AppState,
    input: &SubscriptionInput,
) -> Result<Result<Response, crate::domain::FieldErrors>, PageError> {
    // The address plays no part in what matches: any valid one will do.
    let mut input = input.clone();
    input.email = "preview@example.org".into();
    let new = match state.subs.parse(&input) {
        Ok(n) => n,
        Err(ServiceError::Invalid(errors)) => return Ok(Err(errors)),
        Err(e) => return Err(e.into()),
    };
    let mut ctx = state.ctx.common_context();
    match state
        .digests
        .preview_interests(&new)
        .await
        .map_err(ServiceError::from)?
    {
        None => {
            ctx.insert("day", "the latest day");
            ctx.insert("no_papers", &true);
        }
        Some((day, preview)) => {
            ctx.insert("day", &day.format("%A %-d %B %Y").to_string());
            match preview {
                crate::digest::Preview::NoPapers => ctx.insert("no_papers", &true),
                crate::digest::Preview::Nothing => ctx.insert("nothing", &true),
                crate::digest::Preview::Digest(view) => {
                    ctx.insert("papers", &view.papers);
                    ctx.insert("weekly", &view.weekly);
                    ctx.insert("trending_instead", &view.trending_instead);
                }
            }
        }
    }
    Ok(Ok(render("preview.html", &ctx)))
}

fn manage_context(state: &AppState, s: &Subscriber) -> Context {
    let mut ctx = state.ctx.common_context();
    let (links, now) = (&state.ctx.links, crate::clock::timestamp());
    ctx.insert(
        "preferences_url",
        &links.preferences_url(&links.manage_token(s, now)),
    );
    ctx.insert("unsubscribe_url", &links.unsubscribe_url(s, now));
    ctx.insert("email", s.email.as_str());
    ctx.insert("status", s.status.as_str());
    ctx
}

/// An arXiv id from a link or a form, or a page saying what is wrong with it.
fn paper_of(text: &str) -> Result<ArxivId, PageError> {
    ArxivId::parse(text).map_err(|e| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "This link is not valid",
            &format!("{e}. Copy the whole link from the mail. Nothing has been changed."),
        )
    })
}
