//! Managing a subscription from a mail's link: the preferences page (interests, schedule,
//! ratings kept, the interests that hid papers), its preview, and unsubscribing.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use serde::Serialize;

use super::{
    form_context, manage_context, manage_form, paper_of, preview_of, values_of, with_cookie,
};
use crate::domain::{Interest, Rating, Subscriber, SubscriptionInput, TopicId};
use crate::error::ServiceError;
use crate::ratings::{HiddenThrough, ListedRating};
use crate::subscriptions::Removal;
use crate::tokens::Purpose;
use crate::web::AppState;
use crate::web::error::PageError;
use crate::web::forms;
use crate::web::views::render;

/// The preferences page's "Preview my papers": the same, for the reader a manage link
/// names; invalid input gives their preferences page again, saying what is wrong.
pub(super) async fn preview_preferences(
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

pub(super) async fn preferences_page(
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

pub(super) async fn save_preferences(
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

pub(super) async fn unsubscribe_page(
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
pub(super) async fn unsubscribe(
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
pub(super) async fn remove_rating(
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
pub(super) async fn remove_interest(
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
