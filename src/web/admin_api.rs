//! The admin API under `/api/v1/admin`, behind the bearer token from the config:
//! subscribers (list, counts) and deliverability (suppressions: list, add, lift; the bounces
//! and complaints recorded).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api::ApiJson;
use super::error::{ApiError, ApiErrorBody};
use super::{AppState, ClientIp};
use crate::admin::views::{AdminSubscriber, MailEvent, Suppression};
use crate::admin::{MAX_PAGE, SuppressionError};
use crate::domain::{Actor, EmailAddress, Subscriber, SubscriberStatus};
use crate::error::ServiceError;
use crate::store::{EventFilter, ListFilter};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/subscribers", get(admin_list))
        .route("/admin/counts", get(admin_counts))
        .route("/admin/suppressions", get(list_suppressions))
        .route(
            "/admin/suppressions/{email}",
            axum::routing::put(add_suppression).delete(lift_suppression),
        )
        .route("/admin/events", get(list_events))
}

/// A reader's state after a suppression was added or lifted.
#[derive(Serialize, ToSchema)]
pub(crate) struct SuppressionChange {
    pub email: String,
    pub status: SubscriberStatus,
    pub reason: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageParams {
    /// At most this many, newest first, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// One page of suppressions, in id order.
#[derive(Serialize, ToSchema)]
pub(crate) struct SuppressionPage {
    pub suppressions: Vec<Suppression>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuppressionParams {
    /// The `next_after` of the previous page.
    pub after: Option<i64>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuppressBody {
    /// Why, for the record (at most 200 characters).
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

/// A page size from the query: 1 to [`MAX_PAGE`], 100 when not given.
pub(super) fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(100);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("limit must be from 1 to {MAX_PAGE}"),
        ))
    }
}

fn address(email: &str) -> Result<EmailAddress, ApiError> {
    EmailAddress::parse(email).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

impl From<SuppressionError> for ApiError {
    fn from(e: SuppressionError) -> Self {
        match e {
            SuppressionError::Unknown(_) | SuppressionError::NoSuchId(_) => {
                ApiError::new(StatusCode::NOT_FOUND, e.to_string())
            }
            SuppressionError::NotSuppressed(_) => {
                ApiError::new(StatusCode::CONFLICT, e.to_string())
            }
            SuppressionError::Store(e) => ServiceError::from(e).into(),
        }
    }
}

fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(p)| p)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
}

/// Suppressed readers, in pages in id order (admin).
#[utoipa::path(get, path = "/api/v1/admin/suppressions", params(SuppressionParams),
    security(("admin_token" = [])),
    responses((status = 200, body = SuppressionPage),
              (status = 400, body = ApiErrorBody, description = "a query parameter is unknown or out of range (`limit` 1–1000)"),
              (status = 401, body = ApiErrorBody, description = "the admin token is missing or wrong"),
              (status = 404, body = ApiErrorBody, description = "the admin API is disabled (no `admin_token` set)"),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub(crate) async fn list_suppressions(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<SuppressionParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SuppressionPage>, ApiError> {
    require_admin(&state, &headers)?;
    let p = query(params)?;
    let limit = page_limit(p.limit)?;
    let rows = state
        .admin
        .suppressions(p.after, limit)
        .await
        .map_err(ServiceError::from)?;
    let next_after = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|s| s.id))
        .flatten();
    Ok(Json(SuppressionPage {
        suppressions: rows.iter().map(Suppression::from).collect(),
        next_after,
    }))
}

/// Suppress a reader by hand: nothing is sent to them until they confirm again (admin).
#[utoipa::path(put, path = "/api/v1/admin/suppressions/{email}",
    params(("email" = String, Path, description = "the reader's address")),
    request_body = SuppressBody, security(("admin_token" = [])),
    responses((status = 200, body = SuppressionChange, description = "suppressed (already suppressed: the first reason stays)"),
              (status = 400, body = ApiErrorBody, description = "not an address; the body is not JSON; or `reason` is longer than 200 characters"),
              (status = 401, body = ApiErrorBody, description = "the admin token is missing or wrong"),
              (status = 404, body = ApiErrorBody, description = "no reader with that address, or the admin API is disabled"),
              (status = 413, body = ApiErrorBody, description = "the body is larger than `limits.max_body_bytes`"),
              (status = 415, body = ApiErrorBody, description = "the body is not `application/json`"),
              (status = 422, body = ApiErrorBody, description = "the body is not an object, or `reason` is not text, or another field is given"),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub(crate) async fn add_suppression(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(email): Path<String>,
    body: Result<ApiJson<SuppressBody>, ApiError>,
) -> Result<Json<SuppressionChange>, ApiError> {
    require_admin(&state, &headers)?;
    let email = address(&email)?;
    let ApiJson(body) = body?;
    let reason = body.reason.unwrap_or_default();
    if reason.chars().count() > 200 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "reason: at most 200 characters",
        ));
    }
    let s = state
        .admin
        .suppress(&api_actor(ip), &email, &reason)
        .await?;
    Ok(Json(change(&s)))
}

/// Lift a suppression: the reader returns to where they were before it (admin).
#[utoipa::path(delete, path = "/api/v1/admin/suppressions/{email}",
    params(("email" = String, Path, description = "the reader's address")),
    security(("admin_token" = [])),
    responses((status = 200, body = SuppressionChange, description = "lifted"),
              (status = 400, body = ApiErrorBody, description = "not an address"),
              (status = 401, body = ApiErrorBody, description = "the admin token is missing or wrong"),
              (status = 404, body = ApiErrorBody, description = "no reader with that address, or the admin API is disabled"),
              (status = 409, body = ApiErrorBody, description = "the reader is not suppressed"),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub(crate) async fn lift_suppression(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(email): Path<String>,
) -> Result<Json<SuppressionChange>, ApiError> {
    require_admin(&state, &headers)?;
    let email = address(&email)?;
    let s = state.admin.lift(&api_actor(ip), &email, "").await?;
    Ok(Json(change(&s)))
}

/// The admin API's caller, for the audit log.
fn api_actor(ip: Option<std::net::IpAddr>) -> Actor {
    Actor::Api {
        client: ip.map(|i| i.to_string()),
    }
}

fn change(s: &Subscriber) -> SuppressionChange {
    SuppressionChange {
        email: s.email.as_str().to_string(),
        status: s.status,
        reason: s.suppression_reason.clone(),
    }
}

/// Bounces and complaints recorded, newest first (admin).
#[utoipa::path(get, path = "/api/v1/admin/events", params(PageParams),
    security(("admin_token" = [])),
    responses((status = 200, body = Vec<MailEvent>),
              (status = 400, body = ApiErrorBody, description = "a query parameter is unknown or out of range (`limit` 1–1000)"),
              (status = 401, body = ApiErrorBody, description = "the admin token is missing or wrong"),
              (status = 404, body = ApiErrorBody, description = "the admin API is disabled (no `admin_token` set)"),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub(crate) async fn list_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<MailEvent>>, ApiError> {
    require_admin(&state, &headers)?;
    let limit = page_limit(query(params)?.limit)?;
    let rows = state
        .admin
        .events(&EventFilter {
            limit,
            ..Default::default()
        })
        .await
        .map_err(ServiceError::from)?;
    Ok(Json(rows.iter().map(MailEvent::from).collect()))
}

fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let configured = state.ctx.config.admin_token.as_bytes();
    if configured.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "the admin API is disabled: set admin_token (PAPERBOY_ADMIN_TOKEN)",
        ));
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .as_bytes();
    use subtle::ConstantTimeEq;
    if given.len() == configured.len() && bool::from(given.ct_eq(configured)) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "send the admin token as `Authorization: Bearer <token>`",
        ))
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    /// Only subscribers in this state.
    #[param(value_type = Option<SubscriberStatus>)]
    pub status: Option<String>,
    /// Part of the address, case-insensitive.
    pub email: Option<String>,
    /// The `next_after` of the previous page.
    pub after: Option<i64>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SubscriberPage {
    pub subscribers: Vec<AdminSubscriber>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// List subscribers, filtered, in pages (admin).
#[utoipa::path(get, path = "/api/v1/admin/subscribers", params(ListParams),
    security(("admin_token" = [])),
    responses((status = 200, body = SubscriberPage),
              (status = 400, body = ApiErrorBody, description = "a query parameter is unknown or out of range (`limit` 1–1000)"),
              (status = 401, body = ApiErrorBody, description = "the admin token is missing or wrong"),
              (status = 404, body = ApiErrorBody, description = "the admin API is disabled (no `admin_token` set)"),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub(crate) async fn admin_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SubscriberPage>, ApiError> {
    require_admin(&state, &headers)?;
    let Query(p) = params.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let status = p
        .status
        .as_deref()
        .map(str::parse::<SubscriberStatus>)
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let limit = page_limit(p.limit)?;
    let rows = state
        .admin
        .list(&ListFilter {
            status,
            email_contains: p.email,
            after_id: p.after,
            limit,
            ..Default::default()
        })
        .await
        .map_err(crate::error::ServiceError::from)?;
    let next_after = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|s| s.id))
        .flatten();
    let ids: Vec<i64> = rows.iter().map(|s| s.id).collect();
    let ratings = state
        .admin
        .ratings_of(&ids)
        .await
        .map_err(crate::error::ServiceError::from)?;
    let subscribers = rows
        .iter()
        .map(|s| {
            AdminSubscriber::from(s).with_ratings(ratings.get(&s.id).map_or(&[][..], Vec::as_slice))
        })
        .collect();
    Ok(Json(SubscriberPage {
        subscribers,
        next_after,
    }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Counts {
    pub pending: i64,
    pub active: i64,
    pub unsubscribed: i64,
    pub suppressed: i64,
    pub total: i64,
}

/// Subscribers by state (admin).
#[utoipa::path(get, path = "/api/v1/admin/counts", security(("admin_token" = [])),
    responses((status = 200, body = Counts),
              (status = 401, body = ApiErrorBody, description = "the admin token is missing or wrong"),
              (status = 404, body = ApiErrorBody, description = "the admin API is disabled (no `admin_token` set)"),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub(crate) async fn admin_counts(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Counts>, ApiError> {
    require_admin(&state, &headers)?;
    let counts = state
        .admin
        .counts()
        .await
        .map_err(crate::error::ServiceError::from)?;
    let get = |s: SubscriberStatus| counts.iter().find(|(k, _)| *k == s).map_or(0, |(_, n)| *n);
    Ok(Json(Counts {
        pending: get(SubscriberStatus::Pending),
        active: get(SubscriberStatus::Active),
        unsubscribed: get(SubscriberStatus::Unsubscribed),
        suppressed: get(SubscriberStatus::Suppressed),
        total: counts.iter().map(|(_, n)| n).sum(),
    }))
}
