//! The console's audit log: who changed what, newest first, filtered by action and by where
//! the change came from, 100 a page.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};

use super::{Operator, page_context};
use crate::domain::AuditAction;
use crate::error::ServiceError;
use crate::store::AuditFilter;
use crate::web::AppState;
use crate::web::error::PageError;
use crate::web::views::render;

const PAGE: i64 = 100;
const ACTORS: [&str; 3] = ["cli", "api", "console"];

#[derive(Deserialize)]
pub(super) struct Search {
    action: Option<String>,
    actor: Option<String>,
    before: Option<String>,
}

#[derive(Serialize)]
struct Row {
    when: String,
    actor: String,
    action: String,
    subject: String,
    change: String,
}

fn bad_request(message: &str) -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "Not a search this page can do",
        message,
    )
}

pub(super) async fn list(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Query(q): Query<Search>,
) -> Result<Response, PageError> {
    let given = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let action = match given(&q.action) {
        None => None,
        Some(a) => Some(a.parse::<AuditAction>().map_err(|e| bad_request(&e))?),
    };
    let actor = match given(&q.actor) {
        None => None,
        Some(a) if ACTORS.contains(&a.as_str()) => Some(a),
        Some(_) => return Err(bad_request("actor: cli, api or console")),
    };
    let before = match given(&q.before) {
        None => None,
        Some(b) => Some(
            b.parse::<i64>()
                .map_err(|_| bad_request("before: an entry's id"))?,
        ),
    };
    let entries = state
        .audit
        .list(&AuditFilter {
            action,
            actor_kind: actor.clone(),
            since: None,
            before_id: before,
            limit: PAGE,
        })
        .await
        .map_err(ServiceError::from)?;
    let next = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.id))
        .flatten()
        .map(|id| {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("action", action.map_or("", |a| a.as_str()))
                .append_pair("actor", actor.as_deref().unwrap_or(""))
                .append_pair("before", &id.to_string())
                .finish();
            format!("/admin/audit?{query}")
        });
    let rows: Vec<Row> = entries
        .iter()
        .map(|e| Row {
            when: chrono::DateTime::from_timestamp(e.at, 0).map_or_else(
                || e.at.to_string(),
                |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
            ),
            actor: format!(
                "{} {}{}",
                e.actor_kind,
                e.actor,
                e.origin
                    .as_deref()
                    .map_or_else(String::new, |o| format!(" ({o})"))
            ),
            action: e.action.clone(),
            subject: e.subject.clone().unwrap_or_default(),
            change: match (&e.before, &e.after) {
                (Some(b), Some(a)) => format!("{b} → {a}"),
                (None, Some(a)) => a.clone(),
                (Some(b), None) => b.clone(),
                (None, None) => String::new(),
            },
        })
        .collect();
    let (jar, mut ctx) = page_context(&state, jar, Some(&operator.name));
    ctx.insert("title", "Audit log");
    ctx.insert("rows", &rows);
    ctx.insert("action", &action.map_or("", |a| a.as_str()));
    ctx.insert("actor", actor.as_deref().unwrap_or(""));
    ctx.insert("actions", &AuditAction::ALL.map(|a| a.as_str()).to_vec());
    ctx.insert("actors", &ACTORS.to_vec());
    ctx.insert("next", &next);
    Ok((jar, render("admin_audit.html", &ctx)).into_response())
}
