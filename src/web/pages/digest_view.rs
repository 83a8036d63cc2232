//! "View in browser": the digest a reader was sent for a day, as the mail shows it.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

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
