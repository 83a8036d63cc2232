//! Errors as a reader or an API client sees them: what went wrong and what to do.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::FieldErrors;
use crate::error::ServiceError;
use crate::tokens::TokenError;

/// Status, title and advice for a service error.
fn describe(e: &ServiceError) -> (StatusCode, &'static str, String) {
    match e {
        ServiceError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Please check the form", e.to_string()),
        ServiceError::Token(TokenError::Expired) => (
            StatusCode::GONE,
            "This link has expired",
            "Links in our mails are valid for a limited time. Subscribe again from the front page, \
             or use the link in a more recent mail."
                .into(),
        ),
        // A link of the right shape that this service did not sign names nothing it has
        // (404); one that is damaged or meant for something else is a bad request.
        ServiceError::Token(t) => (
            if *t == TokenError::BadSignature {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::BAD_REQUEST
            },
            "This link is not valid",
            format!("{}. Nothing has been changed.", why_not_valid(*t)),
        ),
        ServiceError::Gone => (
            StatusCode::GONE,
            "This subscription no longer exists",
            "It was removed, or never confirmed in time. You can subscribe again from the front page.".into(),
        ),
        ServiceError::UnknownPaper(id) => (
            StatusCode::NOT_FOUND,
            "This paper is no longer here",
            format!(
                "Paper {id} is not among the papers this service keeps (they are kept for a \
                 while, then removed), so it cannot be rated any more. Nothing has been changed."
            ),
        ),
        ServiceError::Erased { .. } => (
            StatusCode::CONFLICT,
            "This address was erased",
            e.to_string(),
        ),
        ServiceError::Mail(_) | ServiceError::Store(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side",
            "Nothing you did caused this. Try again in a few minutes.".into(),
        ),
    }
}

/// Why a link is not valid, said after the title "This link is not valid" (as the page's
/// text, or after a colon in the API's `error`). The token error's own text begins with those
/// same words, for the log; shown after the title it said them twice.
fn why_not_valid(e: TokenError) -> &'static str {
    match e {
        TokenError::Malformed => "It is incomplete or damaged: copy the whole link from the mail",
        TokenError::BadSignature => "It was not issued by this service",
        TokenError::WrongPurpose => {
            "It is meant for something else: use the link in the mail for what you want to do"
        }
        TokenError::Expired => "It has expired",
    }
}

fn log(e: &ServiceError) {
    match e {
        ServiceError::Mail(_) | ServiceError::Store(_) => {
            tracing::error!(error = %e, "request failed")
        }
        _ => tracing::debug!(error = %e, "request refused"),
    }
}

fn retry_after(status: StatusCode) -> Option<(header::HeaderName, &'static str)> {
    (status == StatusCode::SERVICE_UNAVAILABLE).then_some((header::RETRY_AFTER, "60"))
}

/// An error shown as a page.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
}

impl PageError {
    pub fn new(status: StatusCode, title: &str, message: &str) -> Self {
        Self {
            status,
            title: title.into(),
            message: message.into(),
        }
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        log(&e);
        let (status, title, message) = describe(&e);
        Self {
            status,
            title: title.into(),
            message,
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut ctx = tera::Context::new();
        ctx.insert("title", &self.title);
        ctx.insert("message", &self.message);
        let mut r = super::views::render("message.html", &ctx);
        *r.status_mut() = self.status;
        if let Some((k, v)) = retry_after(self.status) {
            r.headers_mut().insert(k, v.parse().expect("static header"));
        }
        r
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ApiErrorBody {
    /// What went wrong and what to do.
    pub error: String,
    /// Messages by field name, for a request that failed validation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<std::collections::BTreeMap<String, String>>,
}

/// An error answered as JSON.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub fields: Option<FieldErrors>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            fields: None,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        log(&e);
        let (status, title, message) = describe(&e);
        let fields = match e {
            ServiceError::Invalid(f) => Some(f),
            _ => None,
        };
        let error = if fields.is_some() {
            message
        } else {
            format!("{title}: {message}")
        };
        Self {
            status,
            error,
            fields,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody {
            error: self.error,
            fields: self
                .fields
                .map(|f| f.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        };
        let mut r = (self.status, Json(body)).into_response();
        if let Some((k, v)) = retry_after(self.status) {
            r.headers_mut().insert(k, v.parse().expect("static header"));
        }
        r
    }
}
