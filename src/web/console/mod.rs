//! The operator's console under `/admin`: server-rendered pages (the reader pages' templates
//! and stylesheet, no script needed). Every page but the sign-in form needs a session: the
//! [`Operator`] extractor sends anyone without one to the form. Every POST carries the
//! form token checked against the CSRF cookie, as the reader forms do.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::error::PageError;
use super::forms;
use super::views::render;
use super::{AppState, ClientIp};
use crate::domain::Actor;
use crate::operators::SignInError;

/// The session cookie: the only way into the console's pages.
pub(crate) const SESSION_COOKIE: &str = "pb_admin";
pub(crate) const SIGN_IN: &str = "/admin/sign-in";

mod audit;
mod chart;
mod dashboard;
mod deliverability;
mod import;
mod reader_actions;
mod readers;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard::show))
        .route("/admin/readers", get(readers::list).post(readers::add))
        .route("/admin/audit", get(audit::list))
        .route("/admin/deliverability", get(deliverability::show))
        .route(
            "/admin/deliverability/events.csv",
            get(deliverability::events_csv),
        )
        .route(
            "/admin/deliverability/suppressions.csv",
            get(deliverability::suppressions_csv),
        )
        .route("/admin/deliverability/lift", post(deliverability::lift))
        // Its own body limit (set here, so it wins over the service's): a list's CSV file.
        .route(
            "/admin/import",
            get(import::form)
                .post(import::upload)
                .layer(DefaultBodyLimit::max(import::MAX_UPLOAD_BYTES)),
        )
        .route("/admin/import/confirm", post(import::confirm))
        .route("/admin/readers/{id}", get(readers::show))
        .route("/admin/readers/{id}/lift", post(readers::lift))
        .route("/admin/readers/{id}/erase", post(readers::erase))
        .route("/admin/readers/{id}/suppress", post(readers::suppress))
        .route(
            "/admin/readers/{id}/unsubscribe",
            post(reader_actions::unsubscribe),
        )
        .route(
            "/admin/readers/{id}/resubscribe",
            post(reader_actions::resubscribe),
        )
        .route(
            "/admin/readers/{id}/resend-confirmation",
            post(reader_actions::resend_confirmation),
        )
        .route("/admin/readers/{id}/export", get(reader_actions::export))
        .route(
            "/admin/readers/{id}/digests/{day}",
            get(reader_actions::digest),
        )
        .route(SIGN_IN, get(sign_in_form).post(sign_in))
        .route("/admin/sign-out", post(sign_out))
}

/// The operator signed in, from the session cookie. Without a live session a page request
/// is sent to the sign-in form (303), whatever it asked for.
pub(crate) struct Operator {
    pub name: String,
    pub client: Option<std::net::IpAddr>,
    token: String,
}

impl Operator {
    pub(crate) fn actor(&self) -> Actor {
        Actor::Console {
            operator: self.name.clone(),
            client: self.client.map(|c| c.to_string()),
        }
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let ClientIp(client) = ClientIp::from_request_parts(parts, state)
            .await
            .unwrap_or(ClientIp(None));
        let to_sign_in = || Redirect::to(SIGN_IN).into_response();
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Err(to_sign_in());
        };
        match state.operators.session(&token).await {
            Ok(Some(name)) => Ok(Self {
                name,
                client,
                token,
            }),
            Ok(None) => Err(to_sign_in()),
            Err(e) => Err(PageError::from(crate::error::ServiceError::from(e)).into_response()),
        }
    }
}

/// A browser-session cookie: it goes when the browser closes, and the session itself ends
/// after [`SESSION_SECONDS`] on the server whatever the browser keeps.
fn session_cookie(https: bool, value: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, value))
        .path("/admin")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Strict)
        .build()
}

/// The console's pages put the operator and a fresh form token (for their POST forms) in
/// every page's context.
pub(crate) fn page_context(
    state: &AppState,
    jar: CookieJar,
    operator: Option<&str>,
) -> (CookieJar, tera::Context) {
    let (jar, nonce) = forms::csrf_nonce(jar, state.ctx.config.https());
    let mut ctx = state.ctx.common_context();
    ctx.insert(
        "form_token",
        &forms::form_token(state.ctx.links.signer(), &nonce),
    );
    if let Some(o) = operator {
        ctx.insert("signed_in_as", o);
    }
    (jar, ctx)
}

fn sign_in_page(state: &AppState, jar: CookieJar, error: Option<(StatusCode, String)>) -> Response {
    let (jar, mut ctx) = page_context(state, jar, None);
    ctx.insert("title", "Sign in");
    let status = match &error {
        Some((status, message)) => {
            ctx.insert("error", message);
            *status
        }
        None => StatusCode::OK,
    };
    let mut page = render("admin_sign_in.html", &ctx);
    *page.status_mut() = status;
    (jar, page).into_response()
}

async fn sign_in_form(State(state): State<AppState>, jar: CookieJar) -> Response {
    sign_in_page(&state, jar, None)
}

/// The fields of a console form.
/// A query parameter as given, trimmed; `None` when absent or empty.
pub(crate) fn param(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A query parameter parsed, or the page saying what it should be (400).
pub(crate) fn parsed<T: std::str::FromStr>(
    value: &Option<String>,
    what: &str,
) -> Result<Option<T>, PageError> {
    param(value)
        .map(|v| {
            v.parse::<T>().map_err(|_| {
                PageError::new(
                    StatusCode::BAD_REQUEST,
                    "Not a search this page can do",
                    what,
                )
            })
        })
        .transpose()
}

/// The next page of a listing: `path` with the same search and the key to go on after.
pub(crate) fn next_page(path: &str, query: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        q.append_pair(k, v);
    }
    format!("{path}?{}", q.finish())
}

/// A console form posted: its form token checked against the CSRF cookie.
pub(crate) fn check_form(
    state: &AppState,
    jar: &CookieJar,
    pairs: &[(String, String)],
) -> Result<(), PageError> {
    forms::check(state.ctx.links.signer(), jar, field(pairs, "form_token")).map(|_| ())
}

pub(crate) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

async fn sign_in(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_form(&state, &jar, &pairs)?;
    let (name, password) = (field(&pairs, "name"), field(&pairs, "password"));
    match state.operators.sign_in(name, password, client).await {
        Ok(signed_in) => {
            let jar = jar.add(session_cookie(state.ctx.config.https(), signed_in.token));
            Ok((jar, Redirect::to("/admin")).into_response())
        }
        Err(SignInError::Wrong) => Ok(sign_in_page(
            &state,
            jar,
            Some((
                StatusCode::UNAUTHORIZED,
                "Wrong name or password. (The admin token signs in with the name left empty.)"
                    .into(),
            )),
        )),
        Err(SignInError::TooMany(wait)) => {
            let mut page = sign_in_page(
                &state,
                jar,
                Some((
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many attempts from your address: wait {wait} s and try again."),
                )),
            );
            page.headers_mut().insert(
                header::RETRY_AFTER,
                wait.to_string().parse().expect("digits"),
            );
            Ok(page)
        }
        Err(SignInError::Store(e)) => Err(crate::error::ServiceError::from(e).into()),
    }
}

async fn sign_out(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_form(&state, &jar, &pairs)?;
    state
        .operators
        .sign_out(&operator.actor(), &operator.token)
        .await
        .map_err(crate::error::ServiceError::from)?;
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/admin"));
    Ok((jar, Redirect::to(SIGN_IN)).into_response())
}
