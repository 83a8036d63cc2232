//! The JSON API under `/api/v1` for readers: their subscription by the manage token from a
//! mail link, ratings, topics, paper search. The admin endpoints are in `admin_api.rs`.

use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ApiErrorBody};
use super::{AppState, ClientIp};
use crate::admin::views::{RatingView, SubscriptionView};
use crate::domain::{ArxivId, Rating, SubscriptionInput, Topic};
use crate::tokens::Purpose;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/subscriptions", axum::routing::post(create))
        .route(
            "/subscriptions/{token}",
            get(read).put(update).delete(erase),
        )
        .route(
            "/subscriptions/{token}/ratings/{arxiv_id}",
            axum::routing::put(put_rating).delete(delete_rating),
        )
        .route("/topics", get(topics))
        .route("/papers", get(find_papers))
}

/// `Json` of a JSON object, whose rejections (bad syntax, wrong content type, unknown
/// fields, not an object) are answered in the API's own error shape.
pub(crate) struct ApiJson<T>(pub T);

/// A body read as a JSON object only. Serde's derive also reads a struct from an array of its
/// fields in order (`["more"]` as `{"rating": "more"}`), which the document does not allow and
/// no client means: such a body is refused as any other of the wrong type (422).
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Fields(std::marker::PhantomData))
            .map(Object)
    }
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<Object<T>>::from_request(req, state).await {
            Ok(Json(Object(v))) => Ok(Self(v)),
            Err(rejection) => {
                let status = rejection.status();
                Err(ApiError::new(
                    status,
                    format!(
                        "the request body is not valid JSON for this endpoint: {}",
                        rejection.body_text()
                    ),
                ))
            }
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    /// Always `check_your_inbox`: the answer never tells whether the address was known.
    pub status: &'static str,
    pub message: &'static str,
}

/// Subscribe: the same fields as the web form. Always 202 for a valid request, whether the
/// mail relay is up or not.
#[utoipa::path(post, path = "/api/v1/subscriptions", request_body = SubscriptionInput,
    responses((status = 202, body = Accepted, description = "the request is stored and its mail queued (sent as soon as the mail relay takes it: the answer never waits for the relay), or the address was already known"),
              (status = 400, body = ApiErrorBody, description = "the body is not JSON"),
              (status = 413, body = ApiErrorBody, description = "the body is larger than `limits.max_body_bytes`"),
              (status = 415, body = ApiErrorBody, description = "the body is not `application/json`"),
              (status = 422, body = ApiErrorBody, description = "a field is missing, of the wrong type, unknown, or not valid: `fields` names each"),
              (status = 429, body = ApiErrorBody, description = "too many requests from this client", headers(("Retry-After" = u64, description = "seconds to wait"))),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(input): ApiJson<SubscriptionInput>,
) -> Result<Response, ApiError> {
    let new = state.subs.parse(&input)?;
    state
        .subs
        .subscribe(&new, ip.map(|i| i.to_string()).as_deref())
        .await?;
    let body = Accepted {
        status: "check_your_inbox",
        message: "If the address can receive mail, a confirmation link is on its way.",
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

const TOKEN_DOC: &str =
    "The manage token from a mail's preferences link (66 characters, base64url).";

/// Read a subscription by the manage token from a mail's preferences link.
#[utoipa::path(get, path = "/api/v1/subscriptions/{token}", params(("token" = String, Path, description = TOKEN_DOC)),
    responses((status = 200, body = SubscriptionView),
              (status = 400, body = ApiErrorBody, description = "the token is damaged or for another purpose"),
              (status = 404, body = ApiErrorBody, description = "the token was not issued by this service: it names no subscription here"),
              (status = 410, body = ApiErrorBody, description = "the token has expired, or the subscription no longer exists"),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub async fn read(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let s = state.subs.subscriber_for(&token, Purpose::Manage).await?;
    let ratings = state.ratings.list(&s).await?;
    Ok(Json(SubscriptionView::from(&s).with_ratings(&ratings)))
}

/// Replace interests and delivery preferences. `email`, if given, must be the
/// subscription's own: an address cannot be changed, only unsubscribed and subscribed anew.
#[utoipa::path(put, path = "/api/v1/subscriptions/{token}", params(("token" = String, Path, description = TOKEN_DOC)),
    request_body(content = SubscriptionInput, description = "as for subscribing; `email` may be left out"),
    responses((status = 200, body = SubscriptionView),
              (status = 400, body = ApiErrorBody, description = "the body is not JSON; or the token is damaged or for another purpose"),
              (status = 404, body = ApiErrorBody, description = "the token was not issued by this service: it names no subscription here"),
              (status = 410, body = ApiErrorBody, description = "the token has expired, or the subscription no longer exists"),
              (status = 413, body = ApiErrorBody, description = "the body is larger than `limits.max_body_bytes`"),
              (status = 415, body = ApiErrorBody, description = "the body is not `application/json`"),
              (status = 422, body = ApiErrorBody, description = "a field is of the wrong type, unknown, or not valid, or `email` is another address: `fields` names each"),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub async fn update(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(input): ApiJson<SubscriptionInput>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let s = state.subs.subscriber_for(&token, Purpose::Manage).await?;
    let updated = state.subs.update(&s, &input).await?;
    let ratings = state.ratings.list(&s).await?;
    Ok(Json(
        SubscriptionView::from(&updated).with_ratings(&ratings),
    ))
}

/// A rating's body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RatingInput {
    /// `more` (more papers like this one) or `fewer` (fewer, and never this one again).
    pub rating: Rating,
}

const ARXIV_ID_DOC: &str = "An arXiv id without version: `2606.12243`, or old style with its `/` escaped (`hep-th%2F9901001`).";

/// An arXiv id from the path, or a 400 saying what is wrong.
fn arxiv_id(text: &str) -> Result<ArxivId, ApiError> {
    let id =
        ArxivId::parse(text).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    // Only the bare id names the resource: no link, prefix or version.
    if id.as_str() != text {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "name the paper by its bare arXiv id ({id}), without a link, prefix or version"
            ),
        ));
    }
    Ok(id)
}

/// Rate a paper from the reader's digests: `more` or `fewer` like it. The latest rating of
/// a paper replaces the one before; the latest 200 ratings are kept.
#[utoipa::path(put, path = "/api/v1/subscriptions/{token}/ratings/{arxiv_id}",
    params(("token" = String, Path, description = TOKEN_DOC), ("arxiv_id" = String, Path, description = ARXIV_ID_DOC)),
    request_body = RatingInput,
    responses((status = 200, body = RatingView, description = "the rating as stored"),
              (status = 400, body = ApiErrorBody, description = "the body is not JSON; the arXiv id is not valid; or the token is damaged or for another purpose"),
              (status = 404, body = ApiErrorBody, description = "no paper with this id is stored here, or the token was not issued by this service"),
              (status = 410, body = ApiErrorBody, description = "the token has expired, or the subscription no longer exists"),
              (status = 413, body = ApiErrorBody, description = "the body is larger than `limits.max_body_bytes`"),
              (status = 415, body = ApiErrorBody, description = "the body is not `application/json`"),
              (status = 422, body = ApiErrorBody, description = "`rating` is missing or not `more` or `fewer`, or another field is given"),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub(crate) async fn put_rating(
    State(state): State<AppState>,
    Path((token, paper)): Path<(String, String)>,
    body: Result<ApiJson<RatingInput>, ApiError>,
) -> Result<Json<RatingView>, ApiError> {
    let paper = arxiv_id(&paper)?;
    let s = state.subs.subscriber_for(&token, Purpose::Manage).await?;
    let ApiJson(input) = body?;
    state.ratings.rate(&s, &paper, input.rating).await?;
    let stored = state
        .ratings
        .list(&s)
        .await?
        .into_iter()
        .find(|r| r.paper == paper)
        .ok_or(crate::error::ServiceError::Gone)?;
    Ok(Json(RatingView::from(&stored)))
}

/// Remove the reader's rating of a paper.
#[utoipa::path(delete, path = "/api/v1/subscriptions/{token}/ratings/{arxiv_id}",
    params(("token" = String, Path, description = TOKEN_DOC), ("arxiv_id" = String, Path, description = ARXIV_ID_DOC)),
    responses((status = 204, description = "removed"),
              (status = 400, body = ApiErrorBody, description = "the arXiv id is not valid; or the token is damaged or for another purpose"),
              (status = 404, body = ApiErrorBody, description = "the reader has no rating of this paper, or the token was not issued by this service"),
              (status = 410, body = ApiErrorBody, description = "the token has expired, or the subscription no longer exists"),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub(crate) async fn delete_rating(
    State(state): State<AppState>,
    Path((token, paper)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let paper = arxiv_id(&paper)?;
    let s = state.subs.subscriber_for(&token, Purpose::Manage).await?;
    if state.ratings.remove(&s, &paper).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("there is no rating of {paper} to remove"),
        ))
    }
}

/// Erase a subscription and everything tied to the address (its bare id stays in
/// `paper_recipients`, naming no one).
#[utoipa::path(delete, path = "/api/v1/subscriptions/{token}", params(("token" = String, Path, description = TOKEN_DOC)),
    responses((status = 204, description = "erased"),
              (status = 400, body = ApiErrorBody, description = "the token is damaged or for another purpose"),
              (status = 404, body = ApiErrorBody, description = "the token was not issued by this service: it names no subscription here"),
              (status = 410, body = ApiErrorBody, description = "the token has expired, or the subscription no longer exists"),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub(crate) async fn erase(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<StatusCode, ApiError> {
    let s = state.subs.subscriber_for(&token, Purpose::Manage).await?;
    state.subs.erase(&s).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The topic catalogue.
#[utoipa::path(get, path = "/api/v1/topics", responses((status = 200, body = Vec<Topic>)))]
pub async fn topics(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.ctx.catalogue.topics()),
    )
        .into_response()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaperSearch {
    /// An arXiv id or link, or a few words of the title (each must be in it), at most
    /// 200 characters; without a word of two letters or digits it finds nothing.
    #[param(max_length = 200)]
    pub q: String,
}

/// A stored paper, as the sign-up form offers it.
#[derive(Serialize, ToSchema)]
pub(crate) struct PaperHit {
    #[schema(example = "2405.01234")]
    pub id: String,
    pub title: String,
    /// The first three authors.
    pub authors: Vec<String>,
    /// YYYY-MM-DD, when known.
    pub published: Option<String>,
    pub link: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PaperHits {
    /// At most 10, the most recently updated first.
    pub papers: Vec<PaperHit>,
}

/// Find stored papers by arXiv id or link, or by words of their title (for "Papers you
/// liked"). Rate-limited per client like every POST.
#[utoipa::path(get, path = "/api/v1/papers", params(PaperSearch),
    responses((status = 200, body = PaperHits),
              (status = 400, body = ApiErrorBody, description = "`q` is missing or longer than 200 characters, or another parameter was given"),
              (status = 429, body = ApiErrorBody, description = "too many requests from this client", headers(("Retry-After" = u64, description = "seconds to wait"))),
              (status = 500, body = ApiErrorBody, description = "the database failed")))]
pub(crate) async fn find_papers(
    State(state): State<AppState>,
    params: Result<Query<PaperSearch>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PaperHits>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let found = state.papers.find(&p.q).await.map_err(|e| match e {
        crate::search::SearchError::Store(e) => ApiError::from(crate::error::ServiceError::from(e)),
        other => ApiError::new(StatusCode::BAD_REQUEST, other.to_string()),
    })?;
    Ok(Json(PaperHits {
        papers: found
            .into_iter()
            .map(|p| {
                let p = p.paper;
                PaperHit {
                    link: p.id.abs_url(),
                    id: p.id.to_string(),
                    title: p.title,
                    authors: p.authors.into_iter().take(3).collect(),
                    published: p.published.map(|d| d.to_string()),
                }
            })
            .collect(),
    }))
}
