//! The console's audit log: who changed what, newest first, filtered by action and by where
//! the change came from, 100 a page.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};

use super::{Operator, next_page, page_context, param, parsed};
use crate::clock::utc_text;
use crate::domain::{ACTOR_KINDS, AuditAction};
use crate::error::ServiceError;
use crate::store::AuditFilter;
use crate::web::AppState;
use crate::web::error::PageError;
use crate::web::views::render;

const PAGE: i64 = 100;

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

pub(super) async fn list(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Query(q): Query<Search>,
) -> Result<Response, PageError> {
    let action: Option<AuditAction> = parsed(
        &q.action,
        "action: add, erase, export, import, suppress, lift, set_password, sign_in or sign_out",
    )?;
    let actor = match param(&q.actor) {
        None => None,
        Some(a) if ACTOR_KINDS.contains(&a) => Some(a.to_string()),
        Some(_) => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "Not a search this page can do",
                "actor: cli, api or console",
            ));
        }
    };
    let before: Option<i64> = parsed(&q.before, "before: an entry's id")?;
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
            next_page(
                "/admin/audit",
                &[
                    ("action", action.map_or("", |a| a.as_str())),
                    ("actor", actor.as_deref().unwrap_or("")),
                    ("before", &id.to_string()),
                ],
            )
        });
    let rows: Vec<Row> = entries
        .iter()
        .map(|e| Row {
            when: utc_text(e.at),
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
    ctx.insert("actors", &ACTOR_KINDS.to_vec());
    ctx.insert("next", &next);
    Ok((jar, render("admin_audit.html", &ctx)).into_response())
}
