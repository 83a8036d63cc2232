//! Retention (`[retention]`, `paperboy maintenance run`): each kind goes after its window and
//! not before; what readers and operators rely on stays.

use chrono::{Days, NaiveDate};
use paperboy::domain::{ArxivId, SubscriberStatus};
use paperboy::maintenance::Vacuum;
use paperboy::matching::Rating;

use crate::cli::{paperboy, paperboy_with};
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_databases;

on_both_databases!(
    each_kind_goes_after_its_window_and_what_readers_rely_on_stays,
    the_daily_job_runs_retention_once_a_day,
    the_dry_run_and_the_scheduled_run_agree
);

const DAY: &str = "2026-05-08";

fn day() -> NaiveDate {
    NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap()
}

async fn reader(
    app: &TestApp,
    email: &str,
    keywords: &str,
    liked: &str,
) -> paperboy::domain::Subscriber {
    let input = paperboy::domain::SubscriptionInput {
        email: email.into(),
        keywords: keywords.into(),
        liked: liked.into(),
        ..Default::default()
    };
    let new = app.subs.parse(&input).unwrap();
    app.subs
        .add_confirmed(&crate::helpers::operator(), &new)
        .await
        .unwrap();
    app.subscriber(email).await.unwrap()
}

/// `paperboy maintenance run` as of `as_of`: the lines of its table, by kind, as
/// (older than, rows); and its last line, on the database's size and freed space.
type Table = Vec<(String, String, u64)>;
fn maintenance(app: &TestApp, as_of: NaiveDate, dry_run: bool) -> (Table, String) {
    let dir = tempfile::tempdir().unwrap();
    let as_of = as_of.to_string();
    let mut args = vec!["maintenance", "run", "--as-of", &as_of];
    if dry_run {
        args.push("--dry-run");
    }
    let (ok, out, err) = paperboy(&app.ctx.config.database_url, dir.path(), &args);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("retention as of {as_of}")), "{out}");
    assert_eq!(out.contains("dry run: nothing changed"), dry_run, "{out}");
    let database = out
        .lines()
        .find(|l| l.starts_with("database:"))
        .unwrap_or_else(|| panic!("no database line in\n{out}"))
        .to_string();
    let table = out
        .lines()
        .skip(2)
        .filter(|l| !l.starts_with("database:"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let rows = f
                .iter()
                .rev()
                .find_map(|x| x.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no count in {l:?}\n{out}"));
            (f[0].to_string(), f[1].to_string(), rows)
        })
        .collect();
    (table, database)
}

fn rows(table: &[(String, String, u64)], kind: &str) -> u64 {
    table
        .iter()
        .find(|(k, _, _)| k == kind)
        .unwrap_or_else(|| panic!("no {kind} in {table:?}"))
        .2
}

async fn each_kind_goes_after_its_window_and_what_readers_rely_on_stays(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let store = &app.ctx.store;
    app.ingest_hf_day(DAY);
    let papers = store.papers(None, 40).await.unwrap();
    assert!(papers.len() >= 30, "{}", papers.len());
    // One reader likes a paper, another rates one: both papers must outlive the window.
    let liked = papers.last().unwrap().paper.id.clone();
    let fan = reader(&app, "fan@example.com", "agents", liked.as_str()).await;
    let rater = reader(&app, "rater@example.com", "language model", "").await;
    let composed = app.services.digests.compose(day(), None).await.unwrap();
    assert_eq!(composed.composed, 2, "{composed:?}");
    let sent = app.services.deliver().await.unwrap();
    assert_eq!(sent.digests.sent, 2, "{sent:?}");
    let digest = store.digest_for(rater.id, day()).await.unwrap().unwrap();
    let rated: ArxivId = digest.content.entries[0].paper.clone();
    app.services
        .ratings
        .rate(&rater, &rated, Rating::More)
        .await
        .unwrap();
    let sent_papers: Vec<ArxivId> = digest
        .content
        .entries
        .iter()
        .map(|e| e.paper.clone())
        .collect();
    assert!(digest.content.entries.iter().all(|e| !e.reasons.is_empty()));
    let mails = app.smtp.wait_for("rater@example.com", 1).await;
    let view = crate::helpers::link_in(&mails.last().unwrap().text(), "/digests/");
    let (status, page) = app.get_text(&view).await;
    assert_eq!(status, 200);
    let reason_words = &digest.content.entries[0].reasons[0].interest;
    assert!(page.contains(reason_words.as_str()), "{page}");

    // Within every window: nothing to do.
    let table = maintenance(&app, day() + Days::new(29), false).0;
    assert!(table.iter().all(|(_, _, n)| *n == 0), "{table:?}");

    // Past 30 days a dry run counts both digests' contents and changes nothing.
    let after_30 = day() + Days::new(31);
    let table = maintenance(&app, after_30, true).0;
    assert_eq!(rows(&table, "digest_content"), 2, "{table:?}");
    assert_eq!(
        table.iter().find(|t| t.0 == "digest_content").unwrap().1,
        (day() + Days::new(1)).to_string()
    );
    assert_eq!(rows(&table, "digests"), 0, "{table:?}");
    let unchanged = store.digest_for(rater.id, day()).await.unwrap().unwrap();
    assert_eq!(
        unchanged.content, digest.content,
        "a dry run changed a digest"
    );

    // For real: the reasons go; the papers, in order, the status and the message id stay,
    // and the browser view still shows what was sent.
    let table = maintenance(&app, after_30, false).0;
    assert_eq!(rows(&table, "digest_content"), 2, "{table:?}");
    let compacted = store.digest_for(rater.id, day()).await.unwrap().unwrap();
    let kept: Vec<ArxivId> = compacted
        .content
        .entries
        .iter()
        .map(|e| e.paper.clone())
        .collect();
    assert_eq!(kept, sent_papers);
    assert!(
        compacted
            .content
            .entries
            .iter()
            .all(|e| e.reasons.is_empty())
    );
    assert_eq!(compacted.message_id, digest.message_id);
    assert_eq!(compacted.status, digest.status);
    let (status, page) = app.get_text(&view).await;
    assert_eq!(status, 200);
    let title = &papers
        .iter()
        .find(|p| p.paper.id == sent_papers[0])
        .unwrap()
        .paper
        .title;
    assert!(page.contains(&html_escape(title)), "{title} not on\n{page}");
    // Again: each digest is compacted once.
    let table = maintenance(&app, after_30, false).0;
    assert_eq!(rows(&table, "digest_content"), 0, "{table:?}");

    // Past 400 days, digests, their attempts and the record of who was sent what go; and
    // so do subscription mails (90 days) and ingest runs (90 days), written today.
    let after_400 = day() + Days::new(401);
    let dry = maintenance(&app, after_400, true).0;
    let table = maintenance(&app, after_400, false).0;
    assert_eq!(dry, table, "the dry run said otherwise");
    assert_eq!(rows(&table, "digests"), 2, "{table:?}");
    assert_eq!(rows(&table, "delivery_attempts"), 2, "{table:?}");
    assert!(rows(&table, "paper_recipients") >= 2, "{table:?}");
    assert!(rows(&table, "ingest_runs") >= 1, "{table:?}");
    assert!(store.digest_for(rater.id, day()).await.unwrap().is_none());
    // Papers are first seen today, so a year after today they may go: all but the liked one
    // and the rated one.
    let a_year_on = paperboy::clock::today() + Days::new(366);
    let before = store.papers(None, 1000).await.unwrap().len() as u64;
    let (table, database) = maintenance(&app, a_year_on, false);
    assert_eq!(rows(&table, "papers"), before - 2, "{table:?}");
    // The freed space goes back: SQLite hands its free pages to the file system.
    let says = match backend {
        Backend::Sqlite => "free pages returned to the file system",
        Backend::Postgres => "autovacuum",
    };
    assert!(database.contains(says), "{database}");
    if matches!(backend, Backend::Sqlite) {
        let pages: u64 = database
            .split(';')
            .nth(1)
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{database}"));
        assert!(pages > 0, "removing papers freed no page: {database}");
    }
    let left: Vec<ArxivId> = store
        .papers(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.paper.id)
        .collect();
    assert!(left.contains(&liked) && left.contains(&rated), "{left:?}");

    // Readers, their interests and ratings stay.
    for r in [&fan, &rater] {
        let now = store.find_by_email(&r.email).await.unwrap().unwrap();
        assert_eq!(now.status, SubscriberStatus::Active);
        assert_eq!(now.interests, r.interests);
    }
    assert_eq!(store.ratings_of(rater.id).await.unwrap().len(), 1);
    // Nothing more to do on a second run.
    let table = maintenance(&app, a_year_on, false).0;
    assert!(table.iter().all(|(_, _, n)| *n == 0), "{table:?}");
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

/// The scheduler's job runs retention after delivering, once a day however often it ticks.
async fn the_daily_job_runs_retention_once_a_day(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let job = paperboy::scheduler::Job {
        day: day(),
        at: None,
        ingest: false,
    };
    let first = paperboy::scheduler::daily_job(&app.services, job)
        .await
        .unwrap();
    let retention = first
        .retention
        .expect("the first run of the day applies retention");
    assert!(!retention.dry_run);
    assert_eq!(retention.as_of, day());
    let again = paperboy::scheduler::daily_job(&app.services, job)
        .await
        .unwrap();
    assert!(again.retention.is_none(), "retention ran twice on one day");
    let next = paperboy::scheduler::Job {
        day: day() + Days::new(1),
        ..job
    };
    let next = paperboy::scheduler::daily_job(&app.services, next)
        .await
        .unwrap();
    assert!(next.retention.is_some(), "and again the next day");
}

/// What `maintenance run --dry-run` prints for a day is what the scheduler's run on that day
/// then does, kind by kind: for the content window alone and for every window at once.
async fn the_dry_run_and_the_scheduled_run_agree(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    app.ingest_hf_day(DAY);
    let papers = app.ctx.store.papers(None, 40).await.unwrap();
    let liked = papers.last().unwrap().paper.id.clone();
    reader(&app, "fan@example.com", "agents", liked.as_str()).await;
    let rater = reader(&app, "rater@example.com", "language model", "").await;
    // Enough digests that their reasons fill more than a page, for SQLite to give pages back.
    let more = [
        "diffusion",
        "learning",
        "reasoning",
        "vision",
        "data",
        "training",
    ];
    for i in 0..30 {
        let words = more[i % more.len()];
        reader(&app, &format!("reader{i}@example.com"), words, "").await;
    }
    app.services.digests.compose(day(), None).await.unwrap();
    let sent = app.services.deliver().await.unwrap();
    assert!(sent.digests.sent >= 25, "{sent:?}");
    let digest = app
        .ctx
        .store
        .digest_for(rater.id, day())
        .await
        .unwrap()
        .unwrap();
    app.services
        .ratings
        .rate(&rater, &digest.content.entries[0].paper, Rating::More)
        .await
        .unwrap();

    for (after, expect) in [(31, "digest_content"), (401, "digests")] {
        let on = day() + Days::new(after);
        let dry = maintenance(&app, on, true).0;
        assert!(
            rows(&dry, expect) > 0,
            "nothing to remove on day {after}: {dry:?}"
        );
        // No papers on that day: the job composes nothing and delivers nothing, so what it
        // removes is all retention's.
        let job = paperboy::scheduler::Job {
            day: on,
            at: None,
            ingest: false,
        };
        let report = paperboy::scheduler::daily_job(&app.services, job)
            .await
            .unwrap();
        assert_eq!(report.composed.composed, 0, "{:?}", report.composed);
        let done = report.retention.expect("the day's run applies retention");
        assert!(!done.dry_run);
        assert_eq!(done.as_of, on);
        let scheduled: Table = done
            .kinds
            .iter()
            .map(|k| {
                let before = k.before.map_or("kept".to_string(), |d| d.to_string());
                (k.kind.name().to_string(), before, k.rows)
            })
            .collect();
        assert_eq!(dry, scheduled, "day {after}: the dry run said otherwise");
        // Dropping reasons deletes their rows: on SQLite whole pages come free and go back
        // to the file system (rewriting each digest smaller, as before, freed none).
        if matches!(backend, Backend::Sqlite) {
            assert!(
                matches!(done.vacuum, Vacuum::Returned { pages } if pages > 0),
                "day {after}: {:?}, {} -> {} bytes, {:?}",
                done.vacuum,
                done.database_bytes_before,
                done.database_bytes_after,
                done.kinds
            );
        }
        // And it did it: a second dry run finds nothing left.
        let again = maintenance(&app, on, true).0;
        assert!(again.iter().all(|(_, _, n)| *n == 0), "{again:?}");
    }
}

/// Bad input: a date that is not one, a window that would take away what another part reads.
#[test]
fn bad_dates_and_windows_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/p.db", dir.path().display());
    let (ok, _, err) = paperboy(
        &url,
        dir.path(),
        &["maintenance", "run", "--as-of", "yesterday"],
    );
    assert!(!ok && err.contains("--as-of"), "{err}");
    // The calendar's first days: every window reaches before it, so nothing is older.
    for day in ["0001-01-01", "+262142-12-31"] {
        let (ok, out, err) = paperboy(&url, dir.path(), &["maintenance", "run", "--as-of", day]);
        assert!(ok, "{day}: {err}");
        assert!(out.contains("retention as of"), "{out}");
    }
    for (key, value, says) in [
        (
            "PAPERBOY_RETENTION__DIGESTS_DAYS",
            "3",
            "retention.digests_days = 3",
        ),
        (
            "PAPERBOY_RETENTION__MAIL_EVENTS_DAYS",
            "7",
            "bounces.soft_window_days",
        ),
        (
            "PAPERBOY_RETENTION__DIGEST_CONTENT_DAYS",
            "500",
            "content cannot outlive its digest",
        ),
        ("PAPERBOY_RETENTION__DIGESTS_DAYS", "-1", "digests_days"),
        ("PAPERBOY_RETENTION__FOREVER", "1", "forever"),
    ] {
        let (ok, _, err) = paperboy_with(
            &url,
            dir.path(),
            &["maintenance", "run", "--dry-run"],
            &[(key, value.to_string())],
        );
        assert!(
            !ok && err.to_lowercase().contains(&says.to_lowercase()),
            "{key}={value}: {err}"
        );
    }
    // 0 keeps a kind forever.
    let (ok, out, err) = paperboy_with(
        &url,
        dir.path(),
        &["maintenance", "run", "--dry-run"],
        &[("PAPERBOY_RETENTION__PAPERS_DAYS", "0".to_string())],
    );
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("papers") && l.contains("kept forever")),
        "{out}"
    );
}
