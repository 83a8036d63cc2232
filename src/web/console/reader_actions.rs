//! The operator's actions on one reader's subscription (unsubscribe, resubscribe, send the
//! confirmation mail again), their export, and their digests as sent. Each change is a POST
//! with the form token, audited by the service, and answers with the reader's page (303) or
//! a page saying why nothing was done.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::readers::reader_or_404;
use super::{Operator, check_form};
use crate::domain::Subscriber;
use crate::error::ServiceError;
use crate::subscriptions::ActionError;
use crate::web::AppState;
use crate::web::error::PageError;

/// What a refused action's page says: a wrong state is a conflict, too many mails a wait.
fn refused(e: ActionError) -> PageError {
    match e {
        ActionError::Refused(why) => PageError::new(StatusCode::CONFLICT, "Not done", &why),
        e @ ActionError::TooManyMails(..) => {
            PageError::new(StatusCode::TOO_MANY_REQUESTS, "Not sent", &e.to_string())
        }
        ActionError::Service(e) => e.into(),
    }
}

/// Check the form, find the reader, do `act`, and go back to their page.
async fn act<F>(
    state: &AppState,
    jar: &CookieJar,
    pairs: &[(String, String)],
    id: i64,
    act: F,
) -> Result<Response, PageError>
where
    F: AsyncFnOnce(&Subscriber) -> Result<Subscriber, ActionError>,
{
    check_form(state, jar, pairs)?;
    let s = reader_or_404(state, id).await?;
    act(&s).await.map_err(refused)?;
    Ok(Redirect::to(&format!("/admin/readers/{id}")).into_response())
}

pub(super) async fn unsubscribe(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Path(id): Path<i64>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    act(&state, &jar, &pairs, id, async |s| {
        state.subs.unsubscribe_by(&operator.actor(), s).await
    })
    .await
}

pub(super) async fn resubscribe(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Path(id): Path<i64>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    act(&state, &jar, &pairs, id, async |s| {
        state.subs.resubscribe(&operator.actor(), s).await
    })
    .await
}

pub(super) async fn resend_confirmation(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Path(id): Path<i64>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    act(&state, &jar, &pairs, id, async |s| {
        state.subs.resend_confirmation(&operator.actor(), s).await
    })
    .await
}

/// Everything stored about the reader as `paperboy subscribers export --email` prints it,
/// as a file to save; the service records the export in the audit log. A GET (a link to
/// download): it changes nothing but the log, and the session cookie is never sent by
/// another site (SameSite=Strict).
pub(super) async fn export(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let s = reader_or_404(&state, id).await?;
    let rows = state
        .admin
        .export(&operator.actor(), Some(&s.email))
        .await
        .map_err(ServiceError::from)?;
    let full = rows
        .iter()
        .map(crate::admin::views::exported_json)
        .collect::<serde_json::Result<Vec<_>>>()
        .expect("an export serialises");
    let mut body = serde_json::to_string_pretty(&full).expect("an export serialises");
    body.push('\n');
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"reader-{id}.json\""),
            ),
            // Personal data: not kept by the browser or anything between.
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

/// A digest of the reader's as the mail showed it: their "view in browser" page, reached by
/// the operator's session rather than a link signed for the reader.
pub(super) async fn digest(
    State(state): State<AppState>,
    _operator: Operator,
    Path((id, day)): Path<(i64, String)>,
) -> Result<Response, PageError> {
    let s = reader_or_404(&state, id).await?;
    let not_found = || {
        PageError::new(
            StatusCode::NOT_FOUND,
            "No digest for that day",
            "The reader has no digest for that day: see their page for the ones they have.",
        )
    };
    let day = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| not_found())?;
    let mail = state
        .digests
        .sent_digest(&s, day)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(not_found)?;
    Ok(crate::web::views::mail_page(mail.html))
}
