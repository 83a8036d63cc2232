//! The console's deliverability page: bounce and complaint rates per day against the lines
//! mailbox providers publish, the events filtered by kind, source and date, the suppressions
//! with a bulk lift, and both as CSV.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Operator, check_form, field, next_page, page_context, param, parsed};
use crate::admin::views::{MailEvent, Suppression, write_csv};
use crate::clock::{self, utc_text};
use crate::domain::{
    COMPLAINT_AIM_PERCENT, COMPLAINT_LIMIT_PERCENT, EventSource, MailEventKind, Metric,
    RateStanding, rate_percent,
};
use crate::error::ServiceError;
use crate::store::{DAY, EventFilter};
use crate::web::AppState;
use crate::web::error::PageError;
use crate::web::views::render;

/// Events and suppressions a page.
const PAGE: i64 = 50;
/// Days of rates shown.
const RATE_DAYS: usize = 30;
/// The most events one CSV file holds: a file an operator can open in a spreadsheet.
const CSV_MAX_EVENTS: i64 = 100_000;
/// The most readers one bulk lift takes: a page of them, with room to spare.
const MAX_LIFT: usize = 500;

#[derive(Deserialize, Default)]
pub(super) struct Search {
    kind: Option<String>,
    source: Option<String>,
    /// YYYY-MM-DD, UTC, first and last day shown.
    from: Option<String>,
    to: Option<String>,
    /// The next page of events: "at.id" of the last one shown.
    after: Option<String>,
    /// The next page of suppressions: the last reader's id.
    suppressed_after: Option<String>,
}

/// The events' filter, read from the page's query.
struct Filter {
    kind: Option<MailEventKind>,
    source: Option<EventSource>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl Filter {
    fn read(q: &Search) -> Result<Self, PageError> {
        let kind = parsed(
            &q.kind,
            "kind: hard_bounce, soft_bounce, delayed or complaint",
        )?;
        let source = parsed(
            &q.source,
            "source: relay, listener, mailbox, ses, postmark, sendgrid or mailgun",
        )?;
        let from: Option<NaiveDate> = parsed(&q.from, "from: a day as YYYY-MM-DD")?;
        let to: Option<NaiveDate> = parsed(&q.to, "to: a day as YYYY-MM-DD")?;
        Ok(Self {
            kind,
            source,
            from,
            to,
        })
    }

    fn events(&self, after: Option<(i64, i64)>, limit: i64) -> EventFilter {
        let start = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .expect("midnight")
                .and_utc()
                .timestamp()
        };
        EventFilter {
            kind: self.kind,
            source: self.source,
            since: self.from.map(start),
            // Up to the end of the last day.
            until: self.to.map(|d| start(d) + DAY),
            after,
            limit,
            ..Default::default()
        }
    }

    fn query(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kind", self.kind.map_or("", |k| k.as_str()).to_string()),
            ("source", self.source.map_or("", |s| s.as_str()).to_string()),
            ("from", self.from.map(|d| d.to_string()).unwrap_or_default()),
            ("to", self.to.map(|d| d.to_string()).unwrap_or_default()),
        ]
    }
}

#[derive(Serialize)]
struct RateRow {
    day: String,
    sent: i64,
    bounced: i64,
    complaints: i64,
    bounce_rate: String,
    complaint_rate: String,
    standing: &'static str,
    over: bool,
}

#[derive(Serialize)]
struct EventRow {
    when: String,
    email: String,
    /// The readers page, searched for this address.
    find: String,
    kind: &'static str,
    source: &'static str,
    status: String,
    diagnostic: String,
    effect: String,
}

#[derive(Serialize)]
struct SuppressedRow {
    id: i64,
    email: String,
    when: String,
    reason: String,
}

fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "–".into(), |p| format!("{p:.2} %"))
}

pub(super) async fn show(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    Query(q): Query<Search>,
) -> Result<Response, PageError> {
    let filter = Filter::read(&q)?;
    let after = match param(&q.after) {
        None => None,
        Some(a) => Some(
            a.split_once('.')
                .and_then(|(t, id)| Some((t.parse().ok()?, id.parse().ok()?)))
                .ok_or_else(|| {
                    PageError::new(
                        StatusCode::BAD_REQUEST,
                        "Not a search this page can do",
                        "after: the last event's time and id, as 1765000000.42",
                    )
                })?,
        ),
    };
    let suppressed_after: Option<i64> =
        parsed(&q.suppressed_after, "suppressed_after: a reader's id")?;

    // Rates per day from the dashboard's daily figures: never a count on page load.
    let daily = state
        .stats
        .daily(clock::today())
        .await
        .map_err(ServiceError::from)?;
    let value = |m: Metric, i: usize| daily.values[&m][i].unwrap_or(0);
    let rates: Vec<RateRow> = (0..daily.days.len())
        .rev()
        .take(RATE_DAYS)
        .map(|i| {
            let (sent, bounced, complaints) = (
                value(Metric::DigestsSent, i),
                value(Metric::Bounced, i),
                value(Metric::Complaints, i),
            );
            let complaint_rate = rate_percent(complaints, sent);
            let standing = complaint_rate.map(RateStanding::of_complaints);
            RateRow {
                day: daily.days[i].to_string(),
                sent,
                bounced,
                complaints,
                bounce_rate: percent(rate_percent(bounced, sent)),
                complaint_rate: percent(complaint_rate),
                standing: standing.map_or("nothing sent", RateStanding::as_str),
                over: standing == Some(RateStanding::OverLimit),
            }
        })
        .collect();
    let (sent, complaints) = (
        daily.total(Metric::DigestsSent, RATE_DAYS),
        daily.total(Metric::Complaints, RATE_DAYS),
    );
    let overall = rate_percent(complaints, sent);

    let events = state
        .admin
        .events(&filter.events(after, PAGE))
        .await
        .map_err(ServiceError::from)?;
    let next_events = (events.len() as i64 == PAGE)
        .then(|| events.last())
        .flatten()
        .map(|e| {
            let mut query = filter.query();
            query.push(("after", format!("{}.{}", e.at, e.id)));
            link("/admin/deliverability", &query)
        });
    let event_rows: Vec<EventRow> = events
        .iter()
        .map(|e| EventRow {
            when: utc_text(e.at),
            email: e.email.to_string(),
            find: next_page("/admin/readers", &[("email", e.email.as_str())]),
            kind: e.kind.as_str(),
            source: e.source.as_str(),
            status: e.status.clone().unwrap_or_default(),
            diagnostic: e.diagnostic.clone().unwrap_or_default(),
            effect: e.effect.clone(),
        })
        .collect();

    let suppressed = state
        .admin
        .suppressions(suppressed_after, PAGE)
        .await
        .map_err(ServiceError::from)?;
    let next_suppressed = (suppressed.len() as i64 == PAGE)
        .then(|| suppressed.last())
        .flatten()
        .map(|s| {
            let mut query = filter.query();
            query.push(("suppressed_after", s.id.to_string()));
            link("/admin/deliverability", &query)
        });
    let suppressed_rows: Vec<SuppressedRow> = suppressed
        .iter()
        .map(|s| SuppressedRow {
            id: s.id,
            email: s.email.to_string(),
            when: s.suppressed_at.map(utc_text).unwrap_or_default(),
            reason: s.suppression_reason.clone().unwrap_or_default(),
        })
        .collect();

    let (jar, mut ctx) = page_context(&state, jar, Some(&operator.name));
    ctx.insert("title", "Deliverability");
    ctx.insert("rates", &rates);
    ctx.insert("rate_days", &RATE_DAYS);
    ctx.insert("overall_sent", &sent);
    ctx.insert("overall_complaints", &complaints);
    ctx.insert("overall_rate", &percent(overall));
    ctx.insert(
        "overall_standing",
        &overall.map_or("nothing sent", |p| RateStanding::of_complaints(p).as_str()),
    );
    ctx.insert("limit", &COMPLAINT_LIMIT_PERCENT);
    ctx.insert("aim", &COMPLAINT_AIM_PERCENT);
    ctx.insert("counted_at", &daily.counted_at.map(utc_text));
    ctx.insert("events", &event_rows);
    ctx.insert("next_events", &next_events);
    ctx.insert("suppressed", &suppressed_rows);
    ctx.insert("next_suppressed", &next_suppressed);
    ctx.insert("kinds", &MailEventKind::ALL.map(|k| k.as_str()).to_vec());
    ctx.insert("sources", &EventSource::ALL.map(|s| s.as_str()).to_vec());
    ctx.insert("kind", &filter.kind.map_or("", |k| k.as_str()));
    ctx.insert("source", &filter.source.map_or("", |s| s.as_str()));
    ctx.insert(
        "from",
        &filter.from.map(|d| d.to_string()).unwrap_or_default(),
    );
    ctx.insert("to", &filter.to.map(|d| d.to_string()).unwrap_or_default());
    ctx.insert(
        "events_csv",
        &link("/admin/deliverability/events.csv", &filter.query()),
    );
    Ok((jar, render("admin_deliverability.html", &ctx)).into_response())
}

fn link(path: &str, query: &[(&str, String)]) -> String {
    let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    next_page(path, &pairs)
}

fn csv_file(name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

fn csv_error(e: csv::Error) -> PageError {
    PageError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The file could not be written",
        &e.to_string(),
    )
}

/// The events the page's filter finds, as CSV (at most [`CSV_MAX_EVENTS`], newest first).
pub(super) async fn events_csv(
    State(state): State<AppState>,
    operator: Operator,
    Query(q): Query<Search>,
) -> Result<Response, PageError> {
    let filter = Filter::read(&q)?;
    let events = state
        .admin
        .export_events(&operator.actor(), &filter.events(None, CSV_MAX_EVENTS))
        .await
        .map_err(ServiceError::from)?;
    let rows: Vec<MailEvent> = events.iter().map(MailEvent::from).collect();
    let mut body = Vec::new();
    write_csv(&mut body, &rows).map_err(csv_error)?;
    Ok(csv_file("bounces-and-complaints.csv", body))
}

/// Every suppression as CSV.
pub(super) async fn suppressions_csv(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Response, PageError> {
    let rows: Vec<Suppression> = state
        .admin
        .export_suppressions(&operator.actor())
        .await
        .map_err(ServiceError::from)?
        .iter()
        .map(Suppression::from)
        .collect();
    let mut body = Vec::new();
    write_csv(&mut body, &rows).map_err(csv_error)?;
    Ok(csv_file("suppressions.csv", body))
}

/// Lift the suppressions of the readers ticked, with the reason given (required: the audit
/// log keeps it with each).
pub(super) async fn lift(
    State(state): State<AppState>,
    operator: Operator,
    jar: CookieJar,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    check_form(&state, &jar, &pairs)?;
    let reason = field(&pairs, "reason").trim();
    let refuse =
        |why: &str| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, "Nothing lifted", why);
    if reason.is_empty() {
        return Err(refuse(
            "Give a reason: the audit log keeps it with each reader lifted.",
        ));
    }
    let ids = pairs
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.parse::<i64>())
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|_| refuse("A reader's id is not a number: reload the page and tick again."))?;
    if ids.is_empty() {
        return Err(refuse("Tick the readers whose suppression to lift."));
    }
    if ids.len() > MAX_LIFT {
        return Err(refuse(&format!(
            "At most {MAX_LIFT} readers at a time: lift them page by page."
        )));
    }
    let done = state
        .admin
        .lift_many(&operator.actor(), &ids, reason)
        .await
        .map_err(ServiceError::from)?;
    let failed: Vec<String> = done
        .iter()
        .filter_map(|(_, r)| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    if !failed.is_empty() {
        return Err(PageError::new(
            StatusCode::CONFLICT,
            "Some suppressions were not lifted",
            &format!(
                "{} lifted; not lifted: {}",
                done.len() - failed.len(),
                failed.join("; ")
            ),
        ));
    }
    Ok(Redirect::to("/admin/deliverability").into_response())
}
