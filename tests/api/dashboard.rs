//! The console's dashboard: figures counted by the daily job into a daily table, drawn as
//! server-rendered SVG, kept when retention removes the rows they were counted from.

use chrono::{Days, NaiveDate};
use paperboy::bounces::Notice;
use paperboy::domain::{EventSource, MailEventKind};
use paperboy::matching::Rating;
use paperboy::scheduler::{Job, daily_job};

use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_databases;

on_both_databases!(the_dashboard_shows_the_days_figures_and_keeps_them_past_retention);

const DAY: &str = "2026-05-08";

async fn confirmed(app: &TestApp, email: &str, keywords: &str) -> paperboy::domain::Subscriber {
    let input = paperboy::domain::SubscriptionInput {
        email: email.into(),
        keywords: keywords.into(),
        ..Default::default()
    };
    let new = app.subs.parse(&input).unwrap();
    app.subs
        .add_confirmed(&crate::helpers::operator(), &new)
        .await
        .unwrap();
    app.subscriber(email).await.unwrap()
}

/// The row of a figure in the dashboard's tables: its cells after the label.
fn figure(page: &str, label: &str) -> Vec<String> {
    let row = page
        .split("<tr>")
        .find(|r| r.contains(&format!("</svg> {label}</td>")))
        .unwrap_or_else(|| panic!("no row for {label} in\n{page}"));
    row.split("<td>")
        .skip(2)
        .map(|c| c.split("</td>").next().unwrap().to_string())
        .collect()
}

async fn the_dashboard_shows_the_days_figures_and_keeps_them_past_retention(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let (ok, _, err) = crate::console::set_password(&app, "ada", crate::console::PASSWORD);
    assert!(ok, "{err}");
    assert_eq!(
        crate::console::sign_in(&app, "ada", crate::console::PASSWORD)
            .await
            .status(),
        reqwest::StatusCode::SEE_OTHER
    );
    // Before any count the page says so, and what to run.
    let (status, page) = app.get_text("/admin").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("No figures counted yet"), "{page}");
    assert!(page.contains("Nothing has run yet."), "{page}");

    // Today: two readers confirmed by an operator, one still pending from the form; the
    // daily job sends both a digest; one rates a paper, the other complains.
    app.ingest_hf_day(DAY);
    let a = confirmed(&app, "ada@example.com", "agents").await;
    let b = confirmed(&app, "bob@example.com", "language model").await;
    let r = app
        .subscribe_form(&[("email", "pending@example.com"), ("keywords", "robots")])
        .await;
    assert!(r.status().is_success() || r.status().is_redirection());
    let day: NaiveDate = DAY.parse().unwrap();
    let report = daily_job(
        &app.services,
        Job {
            day,
            at: None,
            ingest: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(report.delivered.digests.sent, 2, "{report:?}");
    assert!(matches!(report.stats, Some(Ok(_))), "{:?}", report.stats);
    let digest = app.ctx.store.digest_for(a.id, day).await.unwrap().unwrap();
    app.services
        .ratings
        .rate(&a, &digest.content.entries[0].paper, Rating::More)
        .await
        .unwrap();
    let complaint = Notice {
        kind: MailEventKind::Complaint,
        recipient: None,
        status: None,
        diagnostic: Some("abuse report".into()),
    };
    app.services
        .bounces
        .record(b.id, None, &complaint, EventSource::Postmark, None)
        .await
        .unwrap();
    // The job counted before the rating and the complaint: the page shows its count until
    // the next one.
    let page = app.get_text("/admin").await.1;
    assert_eq!(figure(&page, "more like this")[0], "0", "{page}");
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = crate::cli::paperboy(
        &app.ctx.config.database_url,
        dir.path(),
        &["maintenance", "stats"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("counted the dashboard's figures of"), "{out}");

    let (_, page) = app.get_text("/admin").await;
    assert!(page.contains("Figures as of"), "{page}");
    assert!(page.contains("<td>active</td><td>1</td>"), "{page}");
    assert!(page.contains("<td>suppressed</td><td>1</td>"), "{page}");
    assert!(page.contains("<td>pending</td><td>1</td>"), "{page}");
    // Today, 7 days, 30 days.
    assert_eq!(figure(&page, "sign-ups"), ["3", "3", "3"]);
    assert_eq!(figure(&page, "confirmations"), ["2", "2", "2"]);
    assert_eq!(figure(&page, "sent"), ["2", "2", "2"]);
    assert_eq!(figure(&page, "complaints"), ["1", "1", "1"]);
    assert_eq!(figure(&page, "suppressions"), ["1", "1", "1"]);
    assert_eq!(figure(&page, "more like this"), ["1", "1", "1"]);
    assert_eq!(figure(&page, "fewer like this"), ["0", "0", "0"]);
    // Nothing left in the outbox.
    assert_eq!(figure(&page, "waiting to send"), ["0"]);
    assert_eq!(figure(&page, "failed for good"), ["0"]);
    // The captured day has no arXiv categories: nothing learned, and the page says what then.
    assert!(page.contains("No topic learned yet"), "{page}");
    // Five charts, each an image with a title and its latest figures for a screen reader.
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 5, "{page}");
    assert!(page.contains("role=\"img\""));
    assert!(
        page.contains("the latest day: sent 2, deferred 0, bounced 0, complaints 1."),
        "{page}"
    );
    // The job's run, with what it did.
    assert!(page.contains("compose and deliver"), "{page}");
    assert!(page.contains("2 composed; 2 sent, 0 deferred"), "{page}");

    // Forty days on, a count covers the days since the last one: today is counted again
    // from rows still kept, and stays the same.
    let stats = &app.services.stats;
    let now = paperboy::clock::timestamp();
    let today = paperboy::clock::today();
    let later = |days: i64| now + days * 86_400;
    stats.refresh(later(40)).await.unwrap();
    let figures = |d: paperboy::stats::Daily| {
        [
            paperboy::domain::Metric::DigestsSent,
            paperboy::domain::Metric::Complaints,
            paperboy::domain::Metric::SignUps,
        ]
        .map(|m| d.values[&m][d.days.iter().position(|x| *x == today).unwrap()])
    };
    let at_40 = stats.daily(today + Days::new(40)).await.unwrap();
    assert_eq!(figures(at_40), [Some(2), Some(1), Some(3)]);
    // Retention then removes the attempts and events of today; the next count starts
    // after today, so today's figures stay.
    let dir = tempfile::tempdir().unwrap();
    let as_of = (today + Days::new(400)).to_string();
    let (ok, out, err) = crate::cli::paperboy(
        &app.ctx.config.database_url,
        dir.path(),
        &["maintenance", "run", "--as-of", &as_of],
    );
    assert!(ok, "{err}");
    let removed = |kind: &str| -> u64 {
        out.lines()
            .find(|l| l.starts_with(kind))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {kind} line in\n{out}"))
    };
    assert!(removed("delivery_attempts") >= 2, "{out}");
    assert!(removed("mail_events") >= 1, "{out}");
    assert_eq!(removed("job_runs"), 1, "{out}");
    stats.refresh(later(41)).await.unwrap();
    let at_41 = stats.daily(today + Days::new(41)).await.unwrap();
    assert_eq!(figures(at_41), [Some(2), Some(1), Some(3)]);
}
