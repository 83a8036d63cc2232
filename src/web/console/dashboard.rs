//! The dashboard: where the list and the service stand, from the daily figures the daily job
//! counts (`stats`), the latest runs and the schedule. Nothing here counts over the big
//! tables: at a million readers a count of readers by state alone is a scan of them all.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Serialize;

use super::chart::{Line, line_chart, style};
use super::{Operator, page_context};
use crate::clock::{self, utc_text};
use crate::domain::Metric;
use crate::error::ServiceError;
use crate::scheduler::Schedule;
use crate::web::AppState;
use crate::web::error::PageError;
use crate::web::views::render;

#[derive(Serialize)]
struct Figure {
    label: &'static str,
    colour: &'static str,
    dash: &'static str,
    today: Option<i64>,
    week: i64,
    month: i64,
}

#[derive(Serialize)]
struct Chart {
    title: &'static str,
    /// Readers by state: a snapshot, so no sums over days.
    snapshot: bool,
    svg: String,
    figures: Vec<Figure>,
}

#[derive(Serialize)]
struct Run {
    what: String,
    day: String,
    started: String,
    seconds: Option<i64>,
    outcome: String,
}

pub(super) async fn show(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let today = clock::today();
    let daily = state.stats.daily(today).await.map_err(ServiceError::from)?;
    let charts: Vec<Chart> = Metric::FAMILIES
        .iter()
        .enumerate()
        .map(|(i, family)| {
            let lines: Vec<Line> = family
                .metrics
                .iter()
                .map(|m| Line {
                    label: m.label(),
                    values: &daily.values[m],
                })
                .collect();
            let figures = family
                .metrics
                .iter()
                .enumerate()
                .map(|(j, m)| {
                    let (colour, dash) = style(j);
                    Figure {
                        label: m.label(),
                        colour,
                        dash,
                        today: daily.values[m].last().copied().flatten(),
                        week: daily.total(*m, 7),
                        month: daily.total(*m, 30),
                    }
                })
                .collect();
            Chart {
                title: family.title,
                snapshot: family.metrics.iter().all(|m| m.is_snapshot()),
                svg: line_chart(&format!("chart{i}"), family.title, &daily.days, &lines),
                figures,
            }
        })
        .collect();

    let mut runs: Vec<Run> = state
        .stats
        .recent_runs(5)
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .map(|r| Run {
            what: "compose and deliver".into(),
            day: r.day,
            started: utc_text(r.started_at),
            seconds: Some(r.finished_at - r.started_at),
            outcome: r.error.map_or_else(
                || {
                    format!(
                        "{} composed; {} sent, {} deferred, {} bounced, {} failed; {} subscription mails",
                        r.composed, r.sent, r.deferred, r.bounced, r.failed, r.mails_sent
                    )
                },
                |e| format!("failed: {e}"),
            ),
        })
        .collect();
    let ingest = state
        .admin
        .ingest_runs(5)
        .await
        .map_err(ServiceError::from)?;
    runs.extend(ingest.into_iter().map(|r| Run {
        what: format!("ingest {}", r.source),
        day: r.day.unwrap_or_else(|| "file".into()),
        started: utc_text(r.started_at),
        seconds: r.finished_at.map(|f| f - r.started_at),
        outcome: match (r.error, r.finished_at) {
            (Some(e), _) => format!("failed: {e}"),
            (None, None) => "running (or interrupted)".into(),
            (None, Some(_)) => format!("{} new, {} updated", r.new_papers, r.updated_papers),
        },
    }));
    runs.sort_by(|a, b| b.started.cmp(&a.started));

    let schedule = &state.ctx.config.schedule;
    let next_run = if schedule.enabled {
        Schedule::parse(&schedule.cron)
            .ok()
            .and_then(|s| s.next_after(clock::now()))
            .map_or_else(
                || format!("never (cron {:?})", schedule.cron),
                |t| {
                    format!(
                        "{} UTC (cron {:?})",
                        t.format("%Y-%m-%d %H:%M"),
                        schedule.cron
                    )
                },
            )
    } else {
        "none: schedule.enabled is false".into()
    };

    let learned = state.admin.learned().await.map_err(ServiceError::from)?;
    let learned = match learned.learned_at {
        Some(at) => format!(
            "{} of {} topics learned from papers at {} UTC; the others match by their keywords.",
            learned.topics,
            state.ctx.catalogue.topics().len(),
            utc_text(at)
        ),
        None => "No topic learned yet: each ingest learns them from papers with arXiv categories; until then topics match by their keywords.".into(),
    };

    let (jar, mut ctx) = page_context(&state, jar, Some(&operator.name));
    ctx.insert("learned", &learned);
    ctx.insert("title", "Dashboard");
    ctx.insert("charts", &charts);
    ctx.insert(
        "states",
        &Metric::STATES
            .iter()
            .map(|m| (m.label(), daily.latest(*m)))
            .collect::<Vec<_>>(),
    );
    ctx.insert("runs", &runs);
    ctx.insert("next_run", &next_run);
    ctx.insert("counted_at", &daily.counted_at.map(utc_text));
    ctx.insert("days", &daily.days.len());
    Ok((jar, render("admin_dashboard.html", &ctx)).into_response())
}
