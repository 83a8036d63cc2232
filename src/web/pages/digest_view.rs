//! "View in browser": the digest a reader was sent for a day, as the mail shows it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::error::ServiceError;
use crate::tokens::Purpose;
use crate::web::AppState;
use crate::web::error::PageError;

/// "View in browser": the digest a reader was sent for a day, as the mail shows it.
pub(super) async fn digest_page(
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
    let mail = state
        .digests
        .sent_digest(&s, day)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(not_found)?;
    Ok(crate::web::views::mail_page(mail.html))
}
