//! The daily digest: real papers ingested, readers subscribed through HTTP, the day composed
//! through the CLI, the outbox checked.

use chrono::NaiveDate;
use paperboy::domain::{DigestKind, DigestStatus, EmailAddress, SubscriberStatus};

use crate::cli::{paperboy, paperboy_with};
use crate::helpers::{Backend, TestApp, between, spawn_app, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(
    compose_a_day_once,
    deliver_the_day,
    smtp_down_then_back,
    two_instances_and_a_kill,
    a_closed_or_dropped_connection_is_retried,
    every_outcome_is_recorded_before_deliver_returns,
    dkim_signs_every_mail,
    the_schedule_meets_each_readers_hour,
    the_served_app_runs_the_daily_job
);

/// The app as `serve` runs it (`App::run`) starts the scheduler: on a cron of every
/// second, a reader who confirms gets today's digest without anyone running a command.
async fn the_served_app_runs_the_daily_job(backend: Backend) {
    // Sources that refuse at once: a tick before the day is imported must not reach out.
    let nowhere = "http://127.0.0.1:1";
    let Some(app) = spawn_app_with(
        backend,
        &[
            ("schedule.enabled", true.into()),
            ("schedule.cron", "* * * * * *".into()),
            ("ingest.huggingface_url", nowhere.into()),
            ("ingest.arxiv_rss_url", nowhere.into()),
            ("ingest.retries", 0.into()),
        ],
    )
    .await
    else {
        return;
    };
    let today = paperboy::clock::today().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = cli(
        &app,
        dir.path(),
        &["ingest", "--file", HF_DAY, "--date", &today],
    );
    assert!(ok, "{err}");
    app.subscribe_and_confirm(
        "scheduled@example.com",
        &[
            ("keywords", "agents"),
            ("delivery_hour", "0"),
            ("timezone", "UTC"),
            ("send_when_empty", "on"),
        ],
    )
    .await;
    let mails = app.smtp.wait_for("scheduled@example.com", 3).await;
    assert_eq!(
        mails.len(),
        3,
        "confirmation, welcome and the scheduled digest"
    );
    let reader = app.subscriber("scheduled@example.com").await.unwrap();
    let day = chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d").unwrap();
    // The outcome is recorded just after the relay accepted the mail.
    let mut status = None;
    for _ in 0..100 {
        let digest = app.ctx.store.digest_for(reader.id, day).await.unwrap();
        status = digest.map(|d| d.status);
        if status == Some(paperboy::domain::DigestStatus::Sent) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        status,
        Some(paperboy::domain::DigestStatus::Sent),
        "today's digest composed and sent by the scheduler"
    );
}

const HF_DAY: &str = "tests/fixtures/hf_json/daily_papers_2026-05-08.json";

async fn compose_a_day_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let url = app.ctx.config.database_url.clone();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| paperboy(&url, dir.path(), args);
    let (ok, _, err) = run(&["ingest", "--file", HF_DAY, "--date", "2026-05-08"]);
    assert!(ok, "{err}");

    // Three readers: one into diffusion, not medicine; one whose interests the day misses
    // but who wants the trending papers then; one who would rather get nothing.
    app.subscribe_and_confirm(
        "diffusion@example.com",
        &[
            ("keywords", "diffusion -medical"),
            ("papers_per_digest", "3"),
            ("trending", "0"),
        ],
    )
    .await;
    app.subscribe_and_confirm(
        "fallback@example.com",
        &[("keywords", "\"sea ice\""), ("send_when_empty", "on")],
    )
    .await;
    app.subscribe_and_confirm("quiet@example.com", &[("keywords", "\"sea ice\"")])
        .await;
    // Weekly on another weekday (2026-05-08 is a Friday): not due.
    app.subscribe_and_confirm(
        "weekly@example.com",
        &[
            ("keywords", "diffusion"),
            ("frequency", "weekly"),
            ("weekday", "monday"),
        ],
    )
    .await;

    // A preview renders what a reader would get, and stores nothing.
    let preview = |email: &str, format: &str| {
        run(&[
            "preview",
            "--email",
            email,
            "--date",
            "2026-05-08",
            "--format",
            format,
        ])
    };
    let (ok, out, err) = preview("diffusion@example.com", "text");
    assert!(ok, "{err}");
    assert!(
        out.starts_with("Subject: Your papers for Fri 8 May: 3 new, led by "),
        "{out}"
    );
    assert!(
        out.contains("https://huggingface.co/papers/2605.06548"),
        "{out}"
    );
    let (ok, eml, _) = preview("diffusion@example.com", "eml");
    assert!(
        ok && eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{eml}"
    );
    let (ok, html, _) = preview("fallback@example.com", "html");
    assert!(
        ok && html.contains("<table") && html.contains("style="),
        "{html}"
    );
    let (ok, _, err) = preview("quiet@example.com", "text");
    assert!(!ok && err.contains("gets no mail for 2026-05-08"), "{err}");
    let (ok, _, err) = preview("nobody@example.com", "text");
    assert!(
        !ok && err.contains("no subscriber nobody@example.com"),
        "{err}"
    );

    let (ok, out, err) = run(&["digest", "compose", "--date", "2026-05-08"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("37 papers, 4 readers: 2 composed (1 trending instead), 0 already composed, 1 nothing matched, 1 not due"),
        "{out}"
    );
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let store = &app.ctx.store;
    let reader = app.subscriber("diffusion@example.com").await.unwrap();
    let d = store.digest_for(reader.id, day).await.unwrap().unwrap();
    assert_eq!(d.status, DigestStatus::Pending);
    assert_eq!(d.content.kind, DigestKind::Personal);
    let ids: Vec<&str> = d.content.entries.iter().map(|e| e.paper.as_str()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    // "Diffusion" in the title of each (read off the capture), the best first.
    for id in &ids {
        assert!(
            [
                "2605.06548",
                "2605.06507",
                "2605.06376",
                "2605.04647",
                "2605.00623"
            ]
            .contains(id),
            "{id} is not one of the day's diffusion papers"
        );
    }
    assert!(
        d.content.entries[0]
            .reasons
            .iter()
            .any(|r| r.interest == "your keywords" && r.words == ["diffusion"])
    );
    assert!(d.message_id.starts_with("<digest.20260508.") && d.message_id.ends_with("@127.0.0.1>"));

    let fallback = app.subscriber("fallback@example.com").await.unwrap();
    let f = store.digest_for(fallback.id, day).await.unwrap().unwrap();
    assert_eq!(f.content.kind, DigestKind::Trending);
    assert_eq!(
        f.content.entries[0].paper.as_str(),
        "2605.05242",
        "most upvoted"
    );
    assert_eq!(f.content.entries.len(), 10, "papers_per_digest default");
    let quiet = app.subscriber("quiet@example.com").await.unwrap();
    assert!(store.digest_for(quiet.id, day).await.unwrap().is_none());

    // A rerun makes no second digest.
    let (ok, out, _) = run(&["digest", "compose", "--date", "2026-05-08"]);
    assert!(ok);
    assert!(
        out.contains("0 composed (0 trending instead), 2 already composed"),
        "{out}"
    );

    // Organisations pin like authors (Hugging Face credits 2605.06416 and 2605.06200 to
    // Tencent, read off the capture).
    app.subscribe_and_confirm(
        "org@example.com",
        &[("keywords", "diffusion"), ("authors", "tencent")],
    )
    .await;
    let (ok, out, err) = run(&[
        "preview",
        "--email",
        "org@example.com",
        "--date",
        "2026-05-08",
    ]);
    assert!(ok, "{err}");
    let first_two: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("https://huggingface.co/papers/"))
        .take(2)
        .collect();
    assert!(
        first_two
            .iter()
            .all(|l| l.contains("2605.06416") || l.contains("2605.06200")),
        "{out}"
    );

    // A later day with the same papers: what was sent is not sent again.
    let (ok, _, err) = run(&["ingest", "--file", HF_DAY, "--date", "2026-05-09"]);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&["digest", "compose", "--date", "2026-05-09"]);
    assert!(ok);
    let next = store
        .digest_for(reader.id, day.succ_opt().unwrap())
        .await
        .unwrap()
        .unwrap();
    let again: Vec<&str> = next
        .content
        .entries
        .iter()
        .map(|e| e.paper.as_str())
        .collect();
    assert!(
        again.iter().all(|id| !ids.contains(id)),
        "{again:?} repeats {ids:?}: {out}"
    );

    // A day without papers: nothing composed, and the report says why.
    let (ok, out, _) = run(&["digest", "compose", "--date", "2026-05-10"]);
    assert!(ok);
    assert!(
        out.contains("no papers were announced for 2026-05-10"),
        "{out}"
    );
    assert!(out.contains(": 0 composed"), "{out}");

    // The weekly reader's Monday has no papers either, but their week has: they get the
    // best of the seven days to it, and say so.
    let (ok, out, _) = run(&["digest", "compose", "--date", "2026-05-11"]);
    assert!(ok);
    assert!(
        out.contains("1 composed")
            && out.contains("1 weekly best-of, 4 daily readers without papers today"),
        "{out}"
    );
    assert!(
        out.contains("daily readers get nothing, weekly readers their week's best"),
        "{out}"
    );
    let weekly = store
        .find_by_email(&EmailAddress::parse("weekly@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    let monday = NaiveDate::from_ymd_opt(2026, 5, 11).unwrap();
    let d = store.digest_for(weekly.id, monday).await.unwrap().unwrap();
    assert!(d.content.weekly && !d.content.entries.is_empty(), "{d:?}");
    let (ok, out, err) = run(&[
        "preview",
        "--email",
        "weekly@example.com",
        "--date",
        "2026-05-11",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("Subject: Your papers for the week to Mon 11 May: "),
        "{out}"
    );
}

/// The CLI against the test app's database, SMTP server and base URL.
fn cli(app: &TestApp, dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    paperboy_with(
        &app.ctx.config.database_url,
        dir,
        args,
        &[
            ("PAPERBOY_SMTP_URL", format!("smtp://{}", app.smtp.addr)),
            ("PAPERBOY_BASE_URL", app.base.clone()),
            (
                "PAPERBOY_MAIL_FROM",
                "Paper Boy <digest@paperboy.test>".into(),
            ),
            ("PAPERBOY_DELIVERY__RETRY_AFTER_SECONDS", "1".into()),
        ],
    )
}

async fn deliver_the_day(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| cli(&app, dir.path(), args);
    let (ok, _, err) = run(&["ingest", "--file", HF_DAY, "--date", "2026-05-08"]);
    assert!(ok, "{err}");
    for (email, keywords) in [
        ("ada@example.com", "diffusion"),
        ("bob@example.com", "agents"),
        ("gone@example.com", "diffusion"),
    ] {
        app.subscribe_and_confirm(email, &[("keywords", keywords), ("papers_per_digest", "4")])
            .await;
    }
    {
        let mut f = app.smtp.faults.lock().unwrap();
        f.reject = vec!["gone@example.com".into()];
        f.defer = 1;
    }
    let (ok, out, err) = run(&["digest", "compose", "--date", "2026-05-08"]);
    assert!(ok && out.contains("3 composed"), "{out}{err}");
    let (ok, out, err) = run(&["digest", "deliver"]);
    assert!(ok, "{err}");
    assert!(out.contains("1 sent, 1 deferred, 1 bounced"), "{out}");
    // The deferred one goes out on the next run once its retry is due.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (ok, out, _) = run(&["digest", "deliver"]);
    assert!(ok && out.contains("1 sent, 0 deferred, 0 bounced"), "{out}");

    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let store = &app.ctx.store;
    let gone = app.subscriber("gone@example.com").await.unwrap();
    assert_eq!(gone.status, SubscriberStatus::Suppressed);
    let g = store.digest_for(gone.id, day).await.unwrap().unwrap();
    assert_eq!(g.status, DigestStatus::Bounced);

    // Every attempt is recorded: one digest was deferred once, then sent.
    let mut histories = Vec::new();
    for e in ["ada@example.com", "bob@example.com", "gone@example.com"] {
        let s = app.subscriber(e).await.unwrap();
        let d = store.digest_for(s.id, day).await.unwrap().unwrap();
        let attempts = store.delivery_attempts(d.id).await.unwrap();
        histories.push(
            attempts
                .iter()
                .map(|a| a.1.clone())
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    histories.sort();
    assert_eq!(histories, ["bounced", "retry,sent", "sent"]);
    let ada = app.subscriber("ada@example.com").await.unwrap();
    let stored = store.digest_for(ada.id, day).await.unwrap().unwrap();
    assert_eq!(stored.status, DigestStatus::Sent);
    let mails = app.smtp.to("ada@example.com");
    let digests: Vec<_> = mails
        .iter()
        .filter(|m| m.parsed().message_id() == Some(stored.message_id.trim_matches(['<', '>'])))
        .collect();
    assert_eq!(digests.len(), 1, "exactly one digest for ada");
    let mail = digests[0].parsed();
    let subject = mail.subject().unwrap();
    assert!(subject.contains("Fri 8 May"), "{subject}");
    let text = digests[0].text();
    let html = digests[0].html();
    for e in &stored.content.entries {
        let url = format!("https://huggingface.co/papers/{}", e.paper);
        assert!(text.contains(&url), "{url} in the text part");
        assert!(html.contains(&url), "{url} in the HTML part");
    }
    assert!(!text.contains("<td"), "the text part is text");
    let header = |name: &str| {
        mail.header_raw(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .trim()
            .to_string()
    };
    assert_eq!(
        header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    assert!(header("List-Id").contains("<papers.127.0.0.1>"));
    let lu = header("List-Unsubscribe");
    assert!(
        lu.contains("<mailto:digest@paperboy.test?subject=unsubscribe%20"),
        "{lu}"
    );
    let one_click = between(&lu, "<", ">").unwrap();
    assert!(
        one_click.starts_with(&format!("{}/unsubscribe/", app.base)),
        "{lu}"
    );

    // "View in browser" shows the same digest; a wrong day or a forged link shows none.
    let page_url = crate::helpers::link_in(&text, "/digests/");
    let r = app.client.get(&page_url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("style-src 'unsafe-inline'") && !csp.contains("script-src"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    for e in &stored.content.entries {
        assert!(page.contains(&format!("https://huggingface.co/papers/{}", e.paper)));
    }
    let other_day = page_url.replace("2026-05-08", "2026-05-07");
    assert_eq!(app.get_text(&other_day).await.0, 404);
    let bad = page_url.replace("2026-05-08", "not-a-day");
    assert_eq!(app.get_text(&bad).await.0, 404);
    let forged = format!("/digests/AAAA{}/2026-05-08", "x".repeat(60));
    assert!(app.get_text(&forged).await.0.is_client_error());

    // A rerun sends nothing twice.
    let before = app.smtp.all().len();
    let (ok, out, _) = run(&["digest", "deliver"]);
    assert!(ok && out.contains("0 sent"), "{out}");
    assert_eq!(app.smtp.all().len(), before);

    // One-click unsubscribe as a mail provider sends it: no cookie, no form token.
    let r = reqwest::Client::new()
        .post(&one_click)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let (ok, _, _) = run(&["ingest", "--file", HF_DAY, "--date", "2026-05-09"]);
    assert!(ok);
    let (ok, out, _) = run(&["digest", "compose", "--date", "2026-05-09"]);
    assert!(ok && out.contains("1 readers"), "only bob is left: {out}");
    let ada_next = store
        .digest_for(ada.id, day.succ_opt().unwrap())
        .await
        .unwrap();
    assert!(ada_next.is_none(), "no mail the day after unsubscribing");

    // run-daily: the day is composed already, so it only delivers what is due.
    let (ok, out, err) = run(&["run-daily", "--date", "2026-05-09", "--skip-ingest"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("0 composed") && out.contains("1 sent"),
        "{out}"
    );
    let (ok, out, _) = run(&["status"]);
    assert!(ok);
    assert!(
        out.contains("outbox: pending 0, sending 0, sent 3, bounced 1, failed 0, skipped 0"),
        "{out}"
    );
    assert!(
        out.contains("hugging_face 2026-05-09: 0 new, 37 updated"),
        "{out}"
    );
}

/// Subscribe `n` readers straight through the store (the HTTP path is tested above) and
/// compose the day for them.
pub(crate) async fn readers_with_a_digest(
    app: &TestApp,
    dir: &std::path::Path,
    n: usize,
) -> Vec<String> {
    let (ok, _, err) = paperboy(
        &app.ctx.config.database_url,
        dir,
        &["ingest", "--file", HF_DAY, "--date", "2026-05-08"],
    );
    assert!(ok, "{err}");
    let mut emails = Vec::new();
    for i in 0..n {
        let email = format!("reader{i}@example.com");
        let (ok, _, err) = paperboy(
            &app.ctx.config.database_url,
            dir,
            &[
                "subscribers",
                "add",
                &email,
                "--keywords",
                "agents diffusion reasoning",
            ],
        );
        assert!(ok, "{err}");
        emails.push(email);
    }
    let (ok, out, err) = cli(app, dir, &["digest", "compose", "--date", "2026-05-08"]);
    assert!(ok && out.contains(&format!("{n} composed")), "{out}{err}");
    emails
}

async fn smtp_down_then_back(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emails = readers_with_a_digest(&app, dir.path(), 3).await;
    // A relay that is down: a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = port.local_addr().unwrap();
    drop(port);
    let down = |args: &[&str]| {
        paperboy_with(
            &app.ctx.config.database_url,
            dir.path(),
            args,
            &[
                ("PAPERBOY_SMTP_URL", format!("smtp://{addr}")),
                ("PAPERBOY_BASE_URL", app.base.clone()),
                ("PAPERBOY_DELIVERY__RETRY_AFTER_SECONDS", "1".into()),
            ],
        )
    };
    let (ok, out, err) = down(&["digest", "deliver"]);
    assert!(ok, "{err}");
    assert!(out.contains("0 sent, 3 deferred"), "{out}");
    // It comes back on the same address: everything goes out, nothing was lost.
    let sink = crate::helpers::MailSink::start_on(std::net::TcpListener::bind(addr).unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (ok, out, err) = down(&["digest", "deliver"]);
    assert!(ok, "{err}");
    assert!(out.contains("3 sent, 0 deferred"), "{out}");
    for e in &emails {
        assert_eq!(sink.to(e).len(), 1, "{e}");
    }
}

/// Two delivery processes at once, one of them killed (SIGKILL) in the middle: every
/// reader gets the day's digest, and no reader gets it twice (but for the one window the
/// README names: accepted by the server, not yet recorded, which the rate limit here makes
/// a few milliseconds in each second, as each outcome is recorded at once when no other
/// message is in flight).
async fn two_instances_and_a_kill(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emails = readers_with_a_digest(&app, dir.path(), 40).await;
    let spawn = |rate: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_paperboy"))
            .args(["digest", "deliver"])
            .env("PAPERBOY_DATABASE_URL", &app.ctx.config.database_url)
            .env("PAPERBOY_DATA_DIR", dir.path())
            .env("PAPERBOY_SECRET", crate::helpers::SECRET)
            .env("PAPERBOY_LOG", "warn")
            .env("PAPERBOY_SMTP_URL", format!("smtp://{}", app.smtp.addr))
            .env("PAPERBOY_BASE_URL", &app.base)
            .env("PAPERBOY_DELIVERY__RATE_PER_SECOND", rate)
            .env("PAPERBOY_DELIVERY__BATCH", "4")
            .env("PAPERBOY_DELIVERY__LEASE_SECONDS", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut slow = spawn("10");
    let mut other = spawn("10");
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    slow.kill().unwrap(); // SIGKILL
    slow.wait().unwrap();
    assert!(other.wait().unwrap().success());
    // What the killed one had claimed is sent after its lease runs out (leases count whole
    // seconds, so wait two).
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let (ok, out, err) = cli(&app, dir.path(), &["digest", "deliver"]);
    assert!(ok, "{err}");
    let (ok, status, _) = cli(&app, dir.path(), &["status"]);
    assert!(
        ok && status.contains("outbox: pending 0, sending 0, sent 40"),
        "{out}\n{status}"
    );
    let mut twice = 0;
    for e in &emails {
        let got = app.smtp.to(e);
        assert!(!got.is_empty(), "{e} got nothing");
        if got.len() > 1 {
            // Only ever the same mail again: same Message-ID.
            let ids: Vec<_> = got
                .iter()
                .map(|m| m.parsed().message_id().map(str::to_string))
                .collect();
            assert!(ids.windows(2).all(|w| w[0] == w[1]), "{e}: {ids:?}");
            twice += got.len() - 1;
        }
    }
    assert!(
        twice <= 1,
        "{twice} repeated mails: more than the one in-flight window"
    );
}

/// The scheduler's hourly job: each reader's digest is composed and sent once their local
/// delivery hour has come, and only once.
async fn the_schedule_meets_each_readers_hour(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = cli(
        &app,
        dir.path(),
        &["ingest", "--file", HF_DAY, "--date", "2026-05-08"],
    );
    assert!(ok, "{err}");
    for (email, hour, tz) in [
        ("berlin@example.com", "7", "Europe/Berlin"),
        ("noon@example.com", "12", "UTC"),
    ] {
        app.subscribe_and_confirm(
            email,
            &[
                ("keywords", "agents"),
                ("delivery_hour", hour),
                ("timezone", tz),
            ],
        )
        .await;
    }
    let at = |h: u32| {
        NaiveDate::from_ymd_opt(2026, 5, 8)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
            .and_utc()
    };
    let job =
        |h| paperboy::scheduler::daily_job(&app.services, paperboy::scheduler::Job::tick(at(h)));
    // While another instance holds the right to compose (PostgreSQL's advisory lock), this
    // one only delivers.
    let held = app.ctx.store.try_compose_lock().await.unwrap().unwrap();
    let r = job(4).await.unwrap();
    assert_eq!(r.composed_elsewhere, matches!(backend, Backend::Postgres));
    held.release().await;
    let r = job(4).await.unwrap();
    assert!(!r.composed_elsewhere);
    assert_eq!((r.composed.composed, r.composed.not_due), (0, 2));
    let r = job(5).await.unwrap();
    assert_eq!(
        (r.composed.composed, r.delivered.digests.sent),
        (1, 1),
        "07:00 in Berlin"
    );
    assert_eq!(
        app.smtp.wait_for("berlin@example.com", 3).await.len(),
        3,
        "confirmation + welcome + digest"
    );
    let r = job(6).await.unwrap();
    assert_eq!(
        (
            r.composed.composed,
            r.composed.already_composed,
            r.delivered.digests.sent
        ),
        (0, 1, 0)
    );
    let r = job(12).await.unwrap();
    assert_eq!(
        (r.composed.composed, r.delivered.digests.sent),
        (1, 1),
        "noon UTC"
    );
    assert_eq!(
        app.smtp.to("berlin@example.com").len(),
        3,
        "Berlin only once"
    );
}

/// The connection drops in the middle of a message, or the server answers 421 and hangs
/// up: those digests wait and go out on a later run, once each.
async fn a_closed_or_dropped_connection_is_retried(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emails = readers_with_a_digest(&app, dir.path(), 4).await;
    let dropper = crate::helpers::dropping_smtp_server().await;
    let (ok, out, err) = paperboy_with(
        &app.ctx.config.database_url,
        dir.path(),
        &["digest", "deliver"],
        &[
            ("PAPERBOY_SMTP_URL", format!("smtp://{dropper}")),
            ("PAPERBOY_BASE_URL", app.base.clone()),
            ("PAPERBOY_DELIVERY__RETRY_AFTER_SECONDS", "1".into()),
            ("PAPERBOY_MAIL__TIMEOUT_SECONDS", "5".into()),
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("0 sent, 4 deferred, 0 bounced, 0 failed"),
        "{out}"
    );
    app.smtp.faults.lock().unwrap().close = 1;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (ok, out, err) = cli(&app, dir.path(), &["digest", "deliver"]);
    assert!(ok, "{err}");
    assert!(out.contains("3 sent, 1 deferred, 0 bounced"), "{out}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (ok, out, _) = cli(&app, dir.path(), &["digest", "deliver"]);
    assert!(ok && out.contains("1 sent, 0 deferred"), "{out}");
    for e in &emails {
        assert_eq!(app.smtp.to(e).len(), 1, "{e}");
    }
}

/// Outcomes are recorded in groups while delivery goes on: when `deliver` returns, every
/// message's outcome is recorded (the last group too, however small) and counted once, over
/// several claimed batches. A late outcome for a digest no longer claimed is kept as an
/// attempt but changes nothing.
async fn every_outcome_is_recorded_before_deliver_returns(backend: Backend) {
    let Some(app) = crate::helpers::spawn_app_with(
        backend,
        &[
            ("delivery.concurrency", 3.into()),
            ("delivery.batch", 2.into()),
        ],
    )
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let emails = readers_with_a_digest(&app, dir.path(), 7).await;
    {
        let mut f = app.smtp.faults.lock().unwrap();
        f.reject = vec![emails[1].clone()];
        f.defer = 2;
    }
    let r = app.services.deliver().await.unwrap().digests;
    assert_eq!(
        (r.sent, r.deferred, r.bounced, r.failed, r.skipped),
        (4, 2, 1, 0, 0),
        "{r:?}"
    );
    let store = &app.ctx.store;
    let counts = store.digest_counts().await.unwrap();
    let count = |s: DigestStatus| counts.iter().find(|c| c.0 == s).unwrap().1;
    assert_eq!(
        (
            count(DigestStatus::Sending),
            count(DigestStatus::Pending),
            count(DigestStatus::Sent),
            count(DigestStatus::Bounced)
        ),
        (0, 2, 4, 1)
    );
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let mut sent = None;
    for e in &emails {
        let s = app.subscriber(e).await.unwrap();
        let d = store.digest_for(s.id, day).await.unwrap().unwrap();
        let attempts = store.delivery_attempts(d.id).await.unwrap();
        let expected = match d.status {
            DigestStatus::Sent => "sent",
            DigestStatus::Pending => "retry",
            DigestStatus::Bounced => "bounced",
            other => panic!("{e}: {other:?}"),
        };
        assert_eq!(attempts.len(), 1, "{e}: {attempts:?}");
        assert_eq!(attempts[0].1, expected, "{e}");
        if d.status == DigestStatus::Bounced {
            assert_eq!(s.status, SubscriberStatus::Suppressed, "{e}");
        }
        if d.status == DigestStatus::Sent {
            sent = Some(d);
        }
    }
    // A worker whose lease ran out reports late: the attempt is kept, the result is not
    // overwritten.
    let sent = sent.unwrap();
    let late = paperboy::store::Outcome::Retry {
        at: 0,
        error: "451 late".into(),
    };
    let stale = paperboy::store::Claim {
        id: sent.id,
        token: 7,
        lease_until: 1,
        attempts: 1,
    };
    let changed = store
        .record_outcomes(paperboy::store::OutboxTable::Digests, &[(stale, late)], 1)
        .await
        .unwrap();
    assert_eq!(changed, 0);
    let again = store
        .digest_for(sent.subscriber_id, day)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.status, again.sent_at),
        (DigestStatus::Sent, sent.sent_at)
    );
    let attempts = store.delivery_attempts(sent.id).await.unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[1].2.as_deref(), Some("451 late"));
}

/// With a DKIM key configured every mail carries a signature over its headers and body.
/// (tests/api/dkim.rs has verifiers that are not ours check every kind of mail.)
async fn dkim_signs_every_mail(backend: Backend) {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("dkim.pem");
    // PKCS#8, what `openssl genrsa` writes; dkim.rs uses the older PKCS#1 form.
    let made = std::process::Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let Some(app) = crate::helpers::spawn_app_with(
        backend,
        &[
            ("mail.dkim_domain", "paperboy.test".into()),
            ("mail.dkim_selector", "mail2026".into()),
            ("mail.dkim_key_file", key.display().to_string().into()),
        ],
    )
    .await
    else {
        return;
    };
    app.subscribe_and_confirm("signed@example.com", &[("keywords", "agents")])
        .await;
    let mail = &app.smtp.to("signed@example.com")[0];
    let parsed = mail.parsed();
    let sig = parsed
        .header_raw("DKIM-Signature")
        .expect("a DKIM-Signature header")
        .split_whitespace()
        .collect::<String>();
    for tag in [
        "a=rsa-sha256",
        "d=paperboy.test",
        "s=mail2026",
        "c=relaxed/relaxed",
    ] {
        assert!(sig.contains(tag), "{tag} in {sig}");
    }
    // The body hash is the relaxed body's SHA-256 (RFC 6376 3.4.4).
    let raw = String::from_utf8_lossy(&mail.data).to_string();
    let body = raw.split_once("\r\n\r\n").unwrap().1;
    // Runs of spaces and tabs become one space; trailing ones go.
    let relax = |l: &str| {
        let mut out = String::new();
        let mut space = false;
        for c in l.chars() {
            if c == ' ' || c == '\t' {
                space = true;
            } else {
                if space {
                    out.push(' ');
                    space = false;
                }
                out.push(c);
            }
        }
        out
    };
    let mut lines: Vec<String> = body.split("\r\n").map(relax).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let canonical = lines.iter().map(|l| format!("{l}\r\n")).collect::<String>();
    use base64::Engine as _;
    use sha2::Digest as _;
    let bh = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(canonical.as_bytes()));
    assert!(sig.contains(&format!("bh={bh};")), "bh={bh} in {sig}");

    // Half a DKIM configuration is refused at start, saying what is missing.
    let pairs = [("mail.dkim_domain", toml::Value::from("paperboy.test"))];
    let config = paperboy::config::Config::with_overrides(&pairs).unwrap();
    let err = paperboy::mail::Mailer::from_config(&config)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("set all of mail.dkim_domain, mail.dkim_selector and mail.dkim_key_file"),
        "{err}"
    );
}
