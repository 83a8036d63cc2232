//! `/webhooks/<provider>`: bounce and complaint events posted by mail providers, handed to
//! [`Webhooks`] as raw bytes (signatures cover the body as sent). Answers are JSON: 200 with
//! what was done, or the error's status and what to do.
//!
//! Not in the OpenAPI document: the bodies are the providers' formats, and a request is
//! only valid with a signature made with the provider's key, which no client of the
//! document can make.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::AppState;
use super::error::ApiError;
use crate::bounces::webhooks::{Summary, WebhookError};

pub fn routes(max_body: usize) -> Router<AppState> {
    Router::new()
        .route("/ses", post(ses))
        .route("/postmark", post(postmark))
        .route("/sendgrid", post(sendgrid))
        .route("/mailgun", post(mailgun))
        .layer(DefaultBodyLimit::max(max_body))
}

/// A webhook's error as JSON (Postmark's 401 asks for basic auth).
struct HookError(WebhookError);

impl IntoResponse for HookError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            WebhookError::Off(..) => StatusCode::NOT_FOUND,
            WebhookError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebhookError::Refused(_) => StatusCode::FORBIDDEN,
            WebhookError::Malformed(_) => StatusCode::BAD_REQUEST,
            WebhookError::Upstream(_) => StatusCode::BAD_GATEWAY,
            WebhookError::Store(e) => {
                tracing::error!(error = %e, "webhook request failed");
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database failed: nothing was recorded; post it again later",
                )
                .into_response();
            }
        };
        let mut r = ApiError::new(status, self.0.to_string()).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"paperboy webhooks\""
                    .parse()
                    .expect("static header"),
            );
        }
        r
    }
}

/// The body, or a JSON error saying why it was not read (413 when over the limit).
fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|r| {
        let status = r.status();
        let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the body is larger than webhooks.max_body_bytes".to_string()
        } else {
            format!("the body could not be read: {}", r.body_text())
        };
        ApiError::new(status, why)
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn answer(r: Result<Summary, WebhookError>) -> Response {
    match r {
        Ok(summary) => (StatusCode::OK, Json(summary)).into_response(),
        Err(e) => HookError(e).into_response(),
    }
}

async fn ses(State(state): State<AppState>, b: Result<Bytes, BytesRejection>) -> Response {
    match body(b) {
        Ok(b) => answer(state.webhooks.ses(&b).await),
        Err(e) => e.into_response(),
    }
}

async fn postmark(
    State(state): State<AppState>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    match body(b) {
        Ok(b) => answer(
            state
                .webhooks
                .postmark(header(&headers, "authorization"), &b)
                .await,
        ),
        Err(e) => e.into_response(),
    }
}

async fn sendgrid(
    State(state): State<AppState>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Response {
    match body(b) {
        Ok(b) => answer(
            state
                .webhooks
                .sendgrid(
                    header(&headers, "x-twilio-email-event-webhook-signature"),
                    header(&headers, "x-twilio-email-event-webhook-timestamp"),
                    &b,
                )
                .await,
        ),
        Err(e) => e.into_response(),
    }
}

async fn mailgun(State(state): State<AppState>, b: Result<Bytes, BytesRejection>) -> Response {
    match body(b) {
        Ok(b) => answer(state.webhooks.mailgun(&b).await),
        Err(e) => e.into_response(),
    }
}
