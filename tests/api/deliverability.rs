//! The console's deliverability page: rates per day against the providers' lines, events
//! filtered by kind, source and date, CSV files safe to open, and a bulk lift that needs a
//! reason and is recorded.

use chrono::NaiveDate;
use paperboy::bounces::Notice;
use paperboy::domain::{EventSource, MailEventKind, StatusCode as DsnStatus, SubscriberStatus};
use paperboy::scheduler::{Job, daily_job};
use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_databases;

on_both_databases!(an_operator_reads_the_rates_filters_events_exports_and_lifts_in_bulk);

async fn confirmed(app: &TestApp, email: &str) -> paperboy::domain::Subscriber {
    let input = paperboy::domain::SubscriptionInput {
        email: email.into(),
        keywords: "agents".into(),
        ..Default::default()
    };
    let new = app.subs.parse(&input).unwrap();
    app.subs
        .add_confirmed(&crate::helpers::operator(), &new)
        .await
        .unwrap();
    app.subscriber(email).await.unwrap()
}

async fn event(
    app: &TestApp,
    reader: i64,
    kind: MailEventKind,
    source: EventSource,
    diagnostic: &str,
) {
    let notice = Notice {
        kind,
        recipient: None,
        status: (kind == MailEventKind::HardBounce).then(|| DsnStatus::parse("5.1.1").unwrap()),
        diagnostic: Some(diagnostic.into()),
    };
    app.services
        .bounces
        .record(reader, None, &notice, source, None)
        .await
        .unwrap();
}

/// The table rows of a page's section, from its heading to the next.
fn section<'a>(page: &'a str, heading: &str) -> &'a str {
    let start = page
        .find(&format!("<h2>{heading}</h2>"))
        .unwrap_or_else(|| panic!("no {heading} in\n{page}"));
    let rest = &page[start + 4..];
    &rest[..rest.find("<h2>").unwrap_or(rest.len())]
}

async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn an_operator_reads_the_rates_filters_events_exports_and_lifts_in_bulk(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (ok, _, err) = crate::console::set_password(&app, "ada", crate::console::PASSWORD);
    assert!(ok, "{err}");
    crate::console::sign_in(&app, "ada", crate::console::PASSWORD).await;

    app.ingest_hf_day("2026-05-08");
    let a = confirmed(&app, "ann@example.com").await;
    let b = confirmed(&app, "bo@example.com").await;
    let c = confirmed(&app, "cy@example.com").await;
    let day: NaiveDate = "2026-05-08".parse().unwrap();
    let job = Job {
        day,
        at: None,
        ingest: false,
    };
    let report = daily_job(&app.services, job).await.unwrap();
    assert_eq!(report.delivered.digests.sent, 3, "{report:?}");
    event(
        &app,
        a.id,
        MailEventKind::Complaint,
        EventSource::Postmark,
        "marked as spam",
    )
    .await;
    // A far server's words that a spreadsheet would run as a formula.
    event(
        &app,
        b.id,
        MailEventKind::HardBounce,
        EventSource::Relay,
        "=HYPERLINK(\"http://evil.example\")",
    )
    .await;
    event(
        &app,
        c.id,
        MailEventKind::Delayed,
        EventSource::Mailbox,
        "still trying",
    )
    .await;
    app.services
        .stats
        .refresh(paperboy::clock::timestamp())
        .await
        .unwrap();

    // Today's rates: one complaint in three digests is far over the line, and says so.
    let (status, page) = app.get_text("/admin/deliverability").await;
    assert_eq!(status, 200, "{page}");
    let today = paperboy::clock::today().to_string();
    let rates = section(&page, "Complaints and bounces per day");
    assert!(
        rates.contains(&format!(
            "<tr><td>{today}</td><td>3</td><td>1</td><td>33.33 %</td><td>1</td><td>33.33 %</td><td><strong>over the 0.3 % limit</strong></td></tr>"
        )),
        "{rates}"
    );
    assert!(
        rates.contains("1 complaints for 3 digests sent, <strong>33.33 %</strong>"),
        "{rates}"
    );
    let events = section(&page, "Bounces and complaints");
    for email in ["ann@example.com", "bo@example.com", "cy@example.com"] {
        assert!(events.contains(email), "{email}: {events}");
    }

    // Filters: by kind, by source, by day; a filter the page cannot read says so.
    for (query, shown, hidden) in [
        ("kind=complaint", "ann@", "bo@"),
        ("source=relay", "bo@", "ann@"),
        ("kind=delayed&source=mailbox", "cy@", "bo@"),
    ] {
        let (_, page) = app
            .get_text(&format!("/admin/deliverability?{query}"))
            .await;
        let events = section(&page, "Bounces and complaints");
        assert!(events.contains(shown), "{query}: {events}");
        assert!(!events.contains(hidden), "{query}: {events}");
    }
    let (_, page) = app
        .get_text(&format!("/admin/deliverability?from={today}&to={today}"))
        .await;
    assert!(section(&page, "Bounces and complaints").contains("ann@"));
    let (_, page) = app
        .get_text("/admin/deliverability?from=2020-01-01&to=2020-01-31")
        .await;
    assert!(section(&page, "Bounces and complaints").contains("No event matches."));
    for bad in [
        "kind=bounce",
        "source=gmail",
        "from=yesterday",
        "after=1.x",
        "suppressed_after=-",
    ] {
        let (status, page) = app.get_text(&format!("/admin/deliverability?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {page}");
        assert!(page.contains("Not a search this page can do"), "{page}");
    }

    // The events as CSV, filtered as the page is; a formula-looking cell is made text.
    let r = app
        .client
        .get(app.url("/admin/deliverability/events.csv?kind=hard_bounce"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("id,email,"), "{csv}");
    assert!(lines[1].contains("bo@example.com"), "{csv}");
    assert!(lines[1].contains("'=HYPERLINK"), "{csv}");
    let (_, csv) = app.get_text("/admin/deliverability/suppressions.csv").await;
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains("ann@example.com") && csv.contains("bo@example.com"));
    assert!(
        !csv.contains("cy@example.com"),
        "a delay does not suppress: {csv}"
    );

    // A bulk lift needs the form token and a reason; with both, each reader is lifted and
    // recorded with it.
    let (a_id, b_id) = (a.id.to_string(), b.id.to_string());
    let token = app.form_token("/admin/deliverability").await;
    let r = post(
        &app,
        "/admin/deliverability/lift",
        &[
            ("id", &a_id),
            ("id", &b_id),
            ("reason", "moved to a new relay"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        &app,
        "/admin/deliverability/lift",
        &[
            ("form_token", &token),
            ("id", &a_id),
            ("id", &b_id),
            ("reason", "  "),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("Give a reason"));
    for bad in [vec![("id", "x")], vec![]] {
        let mut fields = vec![("form_token", token.as_str()), ("reason", "r")];
        fields.extend(bad);
        let r = post(&app, "/admin/deliverability/lift", &fields).await;
        assert_eq!(
            r.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}: {}",
            r.text().await.unwrap()
        );
    }
    for email in ["ann@example.com", "bo@example.com"] {
        assert_eq!(
            app.subscriber(email).await.unwrap().status,
            SubscriberStatus::Suppressed
        );
    }
    let r = post(
        &app,
        "/admin/deliverability/lift",
        &[
            ("form_token", &token),
            ("id", &a_id),
            ("id", &b_id),
            ("reason", "moved to a new relay"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Each returns to where it was: a complaint was also an unsubscribe.
    for (email, now) in [
        ("ann@example.com", SubscriberStatus::Unsubscribed),
        ("bo@example.com", SubscriberStatus::Active),
    ] {
        assert_eq!(app.subscriber(email).await.unwrap().status, now, "{email}");
    }
    // Lifting again: nothing to lift, and the page says which.
    let r = post(
        &app,
        "/admin/deliverability/lift",
        &[("form_token", &token), ("id", &a_id), ("reason", "again")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("ann@example.com is not suppressed")
    );

    let log = crate::audit::audit(&app, &[]);
    let lifts: Vec<(&str, &str)> = log
        .iter()
        .filter(|e| e["action"] == "lift")
        .map(|e| (e["subject"].as_str().unwrap(), e["after"].as_str().unwrap()))
        .collect();
    assert_eq!(lifts.len(), 2, "{log:?}");
    assert!(lifts.contains(&("ann@example.com", "unsubscribed: moved to a new relay")));
    assert!(lifts.contains(&("bo@example.com", "active: moved to a new relay")));
    let exports: Vec<&str> = log
        .iter()
        .filter(|e| e["action"] == "export" && e["actor_kind"] == "console")
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert!(exports.contains(&"bounces and complaints"), "{log:?}");
    assert!(exports.contains(&"suppressions"), "{log:?}");
}
