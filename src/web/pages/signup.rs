//! Signing up: the form, its preview, the "check your inbox" page, and confirming.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;

use super::{form_context, manage_context, preview_of, values_of, with_cookie};
use crate::domain::SubscriptionInput;
use crate::error::ServiceError;
use crate::subscriptions::Confirmation;
use crate::tokens::Purpose;
use crate::web::error::PageError;
use crate::web::forms::{self, Submission};
use crate::web::views::render;
use crate::web::{AppState, ClientIp};

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

pub(super) async fn subscribe_form(State(state): State<AppState>, jar: CookieJar) -> Response {
    subscribe_page(&state, jar, &values_of(None), None)
}

fn check_inbox(state: &AppState) -> Response {
    let mut ctx = state.ctx.common_context();
    ctx.insert("ttl_hours", &state.ctx.config.subscribe.confirm_ttl_hours);
    render("check_inbox.html", &ctx)
}

pub(super) async fn subscribe(
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
pub(super) async fn preview_form(
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

pub(super) async fn confirm_page(
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

pub(super) async fn confirm(
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
