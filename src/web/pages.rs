//! HTML pages. Every page works without script; confirming and unsubscribing need a POST,
//! so a mail scanner that follows links changes nothing.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use serde::Serialize;
use tera::{Context, Tera};

use super::error::PageError;
use super::forms::{self, Submission};
use super::{AppState, ClientIp};
use crate::domain::{
    ArxivId, Interest, Rating, Subscriber, SubscriptionInput, Topic, TopicId, weekday_name,
};
use crate::ratings::{HiddenThrough, ListedRating, Rated};
use crate::subscriptions::{Confirmation, Removal, ServiceError};
use crate::tokens::Purpose;

const PAGES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../assets/pages/base.html")),
    (
        "fields.html",
        include_str!("../../assets/pages/fields.html"),
    ),
    (
        "message.html",
        include_str!("../../assets/pages/message.html"),
    ),
    (
        "subscribe.html",
        include_str!("../../assets/pages/subscribe.html"),
    ),
    (
        "check_inbox.html",
        include_str!("../../assets/pages/check_inbox.html"),
    ),
    (
        "confirm.html",
        include_str!("../../assets/pages/confirm.html"),
    ),
    (
        "confirmed.html",
        include_str!("../../assets/pages/confirmed.html"),
    ),
    (
        "preferences.html",
        include_str!("../../assets/pages/preferences.html"),
    ),
    (
        "unsubscribe.html",
        include_str!("../../assets/pages/unsubscribe.html"),
    ),
    (
        "unsubscribed.html",
        include_str!("../../assets/pages/unsubscribed.html"),
    ),
    ("rate.html", include_str!("../../assets/pages/rate.html")),
    ("rated.html", include_str!("../../assets/pages/rated.html")),
    (
        "preview.html",
        include_str!("../../assets/pages/preview.html"),
    ),
];

static TEMPLATES: LazyLock<Tera> = LazyLock::new(|| {
    let mut t = Tera::default();
    t.set_escape_fn(crate::mail::escape_html);
    t.add_raw_templates(PAGES.iter().copied())
        .expect("built-in page templates are valid");
    t
});

static TIMEZONES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect());

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(subscribe_form))
        .route("/subscribe", get(subscribe_form).post(subscribe))
        .route("/preview", post(preview_form))
        .route("/confirm/{token}", get(confirm_page).post(confirm))
        .route(
            "/preferences/{token}",
            get(preferences_page).post(save_preferences),
        )
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/digests/{token}/{day}", get(digest_page))
        .route("/rate/{token}/{paper}/{action}", get(rate_page).post(rate))
        .route("/preferences/{token}/ratings", post(remove_rating))
        .route("/preferences/{token}/preview", post(preview_preferences))
        .route("/preferences/{token}/interests", post(remove_interest))
        .route(
            "/static/style.css",
            get(|| async { asset("text/css", include_str!("../../assets/static/style.css")) }),
        )
        .route(
            "/static/app.js",
            get(|| async {
                asset(
                    "text/javascript",
                    include_str!("../../assets/static/app.js"),
                )
            }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Render a built-in page; pages are never cached (they carry tokens).
pub fn render(name: &str, ctx: &Context) -> Response {
    match TEMPLATES.render(name, ctx) {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = ?e, page = name, "page template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error rendering the page",
            )
                .into_response()
        }
    }
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
pub fn values_of(s: Option<&Subscriber>) -> SubscriptionInput {
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

fn subscribe_page(
    state: &AppState,
    jar: CookieJar,
    values: &SubscriptionInput,
    errors: Option<&crate::domain::FieldErrors>,
) -> Response {
    let (jar, nonce) = forms::csrf_nonce(jar, state.ctx.config.https());
    let mut ctx = form_context(&state.ctx, values);
    ctx.insert(
        "form_token",
        &forms::form_token(state.ctx.links.signer(), &nonce),
    );
    if let Some(errors) = errors {
        ctx.insert("errors", errors);
    }
    let mut page = render("subscribe.html", &ctx);
    if errors.is_some() {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    with_cookie(jar, page)
}

async fn subscribe_form(State(state): State<AppState>, jar: CookieJar) -> Response {
    subscribe_page(&state, jar, &values_of(None), None)
}

fn check_inbox(state: &AppState) -> Response {
    let mut ctx = state.ctx.common_context();
    ctx.insert("ttl_hours", &state.ctx.config.subscribe.confirm_ttl_hours);
    render("check_inbox.html", &ctx)
}

async fn subscribe(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = Submission::from_pairs(pairs);
    let age = forms::check(state.ctx.links.signer(), &jar, &form.form_token)?;
    // A bot gets the same answer as a person, and nothing happens.
    if form.honeypot_filled || age < i64::from(state.ctx.config.subscribe.min_submit_seconds) {
        tracing::info!(
            honeypot = form.honeypot_filled,
            age,
            "sign-up taken for a bot"
        );
        metrics::counter!("paperboy_bot_signups_total").increment(1);
        return Ok(check_inbox(&state));
    }
    let new = match state.subs.parse(&form.input) {
        Ok(n) => n,
        Err(ServiceError::Invalid(errors)) => {
            return Ok(subscribe_page(&state, jar, &form.input, Some(&errors)));
        }
        Err(e) => return Err(e.into()),
    };
    state
        .subs
        .subscribe(&new, ip.map(|i| i.to_string()).as_deref())
        .await?;
    Ok(check_inbox(&state))
}

/// The sign-up form's "Preview my papers": what these interests would have got from the
/// latest stored day, rendered here, nothing stored. A POST with the form's token, so it is
/// rate-limited per client like every POST (it analyses a day of papers). Invalid input
/// gives the sign-up form again, saying what is wrong.
async fn preview_form(
    State(state): State<AppState>,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = Submission::from_pairs(pairs);
    forms::check(state.ctx.links.signer(), &jar, &form.form_token)?;
    match preview_of(&state, &form.input).await? {
        Ok(page) => Ok(page),
        Err(errors) => Ok(subscribe_page(&state, jar, &form.input, Some(&errors))),
    }
}

/// The preferences page's "Preview my papers": the same, for the reader a manage link
/// names; invalid input gives their preferences page again, saying what is wrong.
async fn preview_preferences(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (s, form) = manage_form(&state, &token, &jar, pairs).await?;
    match preview_of(&state, &form.input).await? {
        Ok(page) => Ok(page),
        Err(errors) => {
            let shown = Shown {
                errors: Some(&errors),
                ..Shown::default()
            };
            preferences(&state, jar, &token, &s, &form.input, shown).await
        }
    }
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
    match crate::digest::preview_interests(&state.ctx, &new)
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

async fn confirm_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    // Only check the link here: confirming takes a POST.
    state.subs.subscriber_for(&token, Purpose::Confirm).await?;
    let (jar, nonce) = forms::csrf_nonce(jar, state.ctx.config.https());
    let mut ctx = state.ctx.common_context();
    ctx.insert("token", &token);
    ctx.insert(
        "form_token",
        &forms::form_token(state.ctx.links.signer(), &nonce),
    );
    Ok(with_cookie(jar, render("confirm.html", &ctx)))
}

async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    forms::check(
        state.ctx.links.signer(),
        &jar,
        &Submission::from_pairs(pairs).form_token,
    )?;
    let (s, already) = match state.subs.confirm(&token).await? {
        Confirmation::Confirmed(s) => (s, false),
        Confirmation::AlreadyActive(s) => (s, true),
        Confirmation::Unsubscribed => {
            return Err(PageError::new(
                StatusCode::CONFLICT,
                "You unsubscribed after this link was sent",
                "So this link no longer confirms anything. To receive digests again, subscribe from the front page.",
            ));
        }
    };
    let mut ctx = manage_context(&state, &s);
    ctx.insert("already", &already);
    Ok(render("confirmed.html", &ctx))
}

#[derive(Serialize)]
struct RatingRow {
    paper: String,
    title: Option<String>,
    url: String,
}

#[derive(Serialize)]
struct RatingGroup {
    name: &'static str,
    ratings: Vec<RatingRow>,
}

/// A reader's ratings as the preferences page lists them: liked, then hidden; empty groups
/// left out.
fn rating_groups(ratings: Vec<ListedRating>) -> Vec<RatingGroup> {
    let mut groups = [
        RatingGroup {
            name: "Papers you liked",
            ratings: Vec::new(),
        },
        RatingGroup {
            name: "Papers you hid",
            ratings: Vec::new(),
        },
    ];
    for r in ratings {
        let at = match r.rating.rating {
            Rating::More => 0,
            Rating::Fewer => 1,
        };
        groups[at].ratings.push(RatingRow {
            url: r.rating.paper.abs_url(),
            paper: r.rating.paper.to_string(),
            title: r.title,
        });
    }
    groups
        .into_iter()
        .filter(|g| !g.ratings.is_empty())
        .collect()
}

/// "N papers you hid matched …", with the form that drops that interest.
#[derive(Serialize)]
struct HiddenHint {
    hidden: usize,
    /// The form field that names the interest: "topic" or "keyword".
    kind: &'static str,
    /// Its value: the topic's id, or the keyword as stored.
    value: String,
    /// What the reader reads: the topic's name, or the keyword.
    name: String,
    removable: bool,
}

fn hidden_hint(h: HiddenThrough) -> HiddenHint {
    let (kind, value) = match h.interest {
        Interest::Topic(id) => ("topic", id.to_string()),
        Interest::Keyword(k) => ("keyword", k),
    };
    HiddenHint {
        hidden: h.hidden,
        kind,
        value,
        name: h.name,
        removable: h.removable,
    }
}

/// What the preferences page shows besides the form.
#[derive(Default)]
struct Shown<'a> {
    errors: Option<&'a crate::domain::FieldErrors>,
    saved: bool,
    /// The paper whose rating was just removed.
    removed_rating: Option<&'a str>,
    /// What removing an interest did, and whether that was refused.
    interest_notice: Option<&'a str>,
    interest_refused: bool,
}

async fn preferences(
    state: &AppState,
    jar: CookieJar,
    token: &str,
    s: &Subscriber,
    values: &SubscriptionInput,
    shown: Shown<'_>,
) -> Result<Response, PageError> {
    let Shown {
        errors,
        saved,
        removed_rating,
        interest_notice,
        interest_refused,
    } = shown;
    let ratings = state.ratings.list_with_titles(s).await?;
    let hints: Vec<HiddenHint> = state
        .ratings
        .hidden_through(s)
        .await?
        .into_iter()
        .map(hidden_hint)
        .collect();
    let (jar, nonce) = forms::csrf_nonce(jar, state.ctx.config.https());
    let mut ctx = form_context(&state.ctx, values);
    ctx.insert("open_options", &true);
    ctx.insert("rating_groups", &rating_groups(ratings));
    ctx.insert("ratings_kept", &crate::ratings::KEEP);
    ctx.insert("removed_rating", &removed_rating);
    ctx.insert("hidden_hints", &hints);
    ctx.insert("interest_notice", &interest_notice);
    ctx.insert("interest_refused", &interest_refused);
    ctx.extend(manage_context(state, s));
    ctx.insert("token", token);
    ctx.insert(
        "form_token",
        &forms::form_token(state.ctx.links.signer(), &nonce),
    );
    ctx.insert("saved", &saved);
    if let Some(errors) = errors {
        ctx.insert("errors", errors);
    }
    let mut page = render("preferences.html", &ctx);
    if errors.is_some() || interest_refused {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(with_cookie(jar, page))
}

/// "View in browser": the digest a reader was sent for a day, as the mail shows it.
async fn digest_page(
    State(state): State<AppState>,
    Path((token, day)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let s = state.subs.subscriber_for(&token, Purpose::Manage).await?;
    let not_found = || {
        PageError::new(
            StatusCode::NOT_FOUND,
            "No digest for that day",
            "There is no digest for you on that day. Links in your mails always work.",
        )
    };
    let day = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| not_found())?;
    let mail = crate::digest::sent_digest(&state.ctx, &s, day)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The mail's HTML carries its CSS inline, and nothing else.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                 frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ),
        ],
        mail.html,
    )
        .into_response())
}

async fn preferences_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let s = state.subs.subscriber_for(&token, Purpose::Manage).await?;
    preferences(
        &state,
        jar,
        &token,
        &s,
        &values_of(Some(&s)),
        Shown::default(),
    )
    .await
}

async fn save_preferences(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (s, form) = manage_form(&state, &token, &jar, pairs).await?;
    match state.subs.update(&s, &form.input).await {
        Ok(updated) => {
            preferences(
                &state,
                jar,
                &token,
                &updated,
                &values_of(Some(&updated)),
                Shown {
                    saved: true,
                    ..Shown::default()
                },
            )
            .await
        }
        Err(ServiceError::Invalid(errors)) => {
            let mut values = form.input;
            values.email = s.email.to_string();
            preferences(
                &state,
                jar,
                &token,
                &s,
                &values,
                Shown {
                    errors: Some(&errors),
                    ..Shown::default()
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let s = state
        .subs
        .subscriber_for(&token, Purpose::Unsubscribe)
        .await?;
    let mut ctx = manage_context(&state, &s);
    ctx.insert("token", &token);
    Ok(render("unsubscribe.html", &ctx))
}

/// Both the page's button and RFC 8058 one-click (`List-Unsubscribe=One-Click`, sent by
/// mail clients with no cookie): the signed token is the only credential needed.
async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let s = state
        .subs
        .subscriber_for(&token, Purpose::Unsubscribe)
        .await?;
    state.subs.unsubscribe(&s).await?;
    Ok(render("unsubscribed.html", &manage_context(&state, &s)))
}

/// The preferences page's "Remove" button of one rating.
async fn remove_rating(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let s = state.subs.subscriber_for(&token, Purpose::Manage).await?;
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    forms::check(state.ctx.links.signer(), &jar, field("form_token"))?;
    let paper = paper_of(field("paper"))?;
    state.ratings.remove(&s, &paper).await?;
    let shown = paper.to_string();
    preferences(
        &state,
        jar,
        &token,
        &s,
        &values_of(Some(&s)),
        Shown {
            removed_rating: Some(&shown),
            ..Shown::default()
        },
    )
    .await
}

/// The preferences page's button that drops an interest through which the reader hid
/// several papers: a `topic` (its id) or a `keyword` (as stored).
async fn remove_interest(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let s = state.subs.subscriber_for(&token, Purpose::Manage).await?;
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    forms::check(
        state.ctx.links.signer(),
        &jar,
        field("form_token").unwrap_or(""),
    )?;
    let bad = || {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "This form is not valid",
            "It names no topic or keyword to remove. Use the button on your preferences page. Nothing has been changed.",
        )
    };
    let what = match (field("topic"), field("keyword")) {
        (Some(t), None) => Interest::Topic(TopicId::parse(t).map_err(|_| bad())?),
        (None, Some(k)) if !k.trim().is_empty() => Interest::Keyword(k.to_string()),
        _ => return Err(bad()),
    };
    let named = match &what {
        Interest::Topic(id) => format!(
            "the topic “{}”",
            state
                .ctx
                .catalogue
                .get(id.as_str())
                .map_or(id.as_str(), |t| t.name.as_str())
        ),
        Interest::Keyword(k) => format!("the keyword “{}”", k.trim_matches('"')),
    };
    let (reader, notice, refused) = match state.subs.remove_interest(&s, &what).await? {
        Removal::Removed(updated) => (
            *updated,
            format!("Removed {named} from your interests. Your next digest goes without it."),
            false,
        ),
        // Said without echoing the form: it may not be the reader's own words.
        Removal::NotThere => (
            s,
            "That interest is not among yours (any more): nothing has been changed.".to_string(),
            false,
        ),
        Removal::LastInterest => (
            s,
            format!(
                "Nothing has been changed: {named} is the only interest that picks your papers. Add another above first, or unsubscribe."
            ),
            true,
        ),
    };
    preferences(
        &state,
        jar,
        &token,
        &reader,
        &values_of(Some(&reader)),
        Shown {
            interest_notice: Some(&notice),
            interest_refused: refused,
            ..Shown::default()
        },
    )
    .await
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

/// What a rating link's last segment asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RateAction {
    Rate(Rating),
    /// The rated page's "Undo" (a POST only).
    Undo,
}

fn rate_action(text: &str) -> Result<RateAction, PageError> {
    match text {
        "undo" => Ok(RateAction::Undo),
        other => other.parse().map(RateAction::Rate).map_err(|_| {
            PageError::new(
                StatusCode::NOT_FOUND,
                "This link is not valid",
                "A rating link ends in /more or /fewer. Copy the whole link from the mail. Nothing has been changed.",
            )
        }),
    }
}

fn rating_label(r: Rating) -> &'static str {
    match r {
        Rating::More => "More like this",
        Rating::Fewer => "Fewer like this",
    }
}

/// A mail's "More like this" / "Fewer like this" link. It records nothing: mail scanners
/// fetch every link of a mail. The page posts the rating at once with script, or by its
/// button without, as the confirmation page does.
async fn rate_page(
    State(state): State<AppState>,
    Path((token, paper, action)): Path<(String, String, String)>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let paper = paper_of(&paper)?;
    let RateAction::Rate(rating) = rate_action(&action)? else {
        return Err(PageError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Nothing to see here",
            "Undoing a rating takes the button on the page that recorded it.",
        ));
    };
    state.ratings.reader_for_link(&token, &paper).await?;
    let stored = state.ratings.paper(&paper).await?;
    let (jar, nonce) = forms::csrf_nonce(jar, state.ctx.config.https());
    let mut ctx = state.ctx.common_context();
    ctx.insert("action", &rate_path(&token, &paper, &rating.to_string()));
    ctx.insert("rating", rating.as_str());
    ctx.insert("label", rating_label(rating));
    ctx.insert("title", &stored.paper.title);
    ctx.insert(
        "form_token",
        &forms::form_token(state.ctx.links.signer(), &nonce),
    );
    Ok(with_cookie(jar, render("rate.html", &ctx)))
}

fn rate_path(token: &str, paper: &ArxivId, action: &str) -> String {
    format!(
        "/rate/{token}/{}/{action}",
        crate::links::path_segment(paper)
    )
}

/// Record (or undo) a rating posted from its page; show what was noted, an undo, the
/// preferences and, for "more like this", similar papers of the last week.
async fn rate(
    State(state): State<AppState>,
    Path((token, paper, action)): Path<(String, String, String)>,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let paper = paper_of(&paper)?;
    let action = rate_action(&action)?;
    forms::check(
        state.ctx.links.signer(),
        &jar,
        &Submission::from_pairs(pairs).form_token,
    )?;
    let reader = state.ratings.reader_for_link(&token, &paper).await?;
    let mut ctx = manage_context(&state, &reader);
    match action {
        RateAction::Undo => {
            let removed = state.ratings.remove(&reader, &paper).await?;
            let title = match state.ratings.paper(&paper).await {
                Ok(p) => p.paper.title,
                Err(_) => format!("arXiv:{paper}"),
            };
            ctx.insert("undone", &true);
            ctx.insert("removed", &removed);
            ctx.insert("title", &title);
        }
        RateAction::Rate(rating) => match state
            .ratings
            .rate_from_link(&reader, &paper, rating)
            .await?
        {
            Rated::Cancelled { paper: p } => {
                ctx.insert("cancelled", &true);
                ctx.insert("title", &p.paper.title);
            }
            Rated::Recorded { paper: p, previous } => {
                let similar = match rating {
                    Rating::More => state.ratings.similar(&reader, &p).await?,
                    Rating::Fewer => Vec::new(),
                };
                // The form cookie came with this POST (it was checked): the undo uses it.
                let (_, nonce) = forms::csrf_nonce(jar.clone(), state.ctx.config.https());
                ctx.insert("rating", rating.as_str());
                ctx.insert("previous", &previous.map(Rating::as_str));
                ctx.insert("title", &p.paper.title);
                ctx.insert("similar", &similar);
                ctx.insert("undo_action", &rate_path(&token, &paper, "undo"));
                ctx.insert(
                    "form_token",
                    &forms::form_token(state.ctx.links.signer(), &nonce),
                );
            }
        },
    }
    Ok(render("rated.html", &ctx))
}
