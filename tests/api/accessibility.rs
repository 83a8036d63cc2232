//! axe-core in headless Chromium on every page of the operator's console, with a reader in
//! each state, mail events, a suppression and counted figures: no violation of its rules, at
//! a phone's width and a desktop's, in the light and the dark colour scheme. Runs when the
//! browser and PAPERBOY_TEST_AXE_JS are there (`.ci/run` installs both); with
//! PAPERBOY_REQUIRE_BROWSER=1 a missing one fails the test instead of skipping it.

use chrono::NaiveDate;
use fantoccini::{Client, Locator};
use paperboy::bounces::Notice;
use paperboy::domain::{EventSource, MailEventKind, StatusCode as DsnStatus};
use paperboy::matching::Rating;
use paperboy::scheduler::{Job, daily_job};

use crate::browser::set_viewport_width;
use crate::helpers::{Backend, TestApp, axe_script, browser_with, spawn_app, start_driver};

const DAY: &str = "2026-05-08";

/// Run axe (injected before) on the page and hand back its violations, each with the
/// selectors of the nodes that fail it; an error of axe's own comes back as `{error}`.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ["violations"] }).then(function (r) {
  done(r.violations.map(function (v) {
    return { id: v.id, impact: v.impact, help: v.help,
             nodes: v.nodes.map(function (n) { return { target: n.target, why: n.failureSummary }; }) };
  }));
}, function (e) { done({ error: String(e) }); });
"#;

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

async fn event(app: &TestApp, reader: i64, kind: MailEventKind, source: EventSource, said: &str) {
    let notice = Notice {
        kind,
        recipient: None,
        status: (kind == MailEventKind::HardBounce).then(|| DsnStatus::parse("5.1.1").unwrap()),
        diagnostic: Some(said.into()),
    };
    app.services
        .bounces
        .record(reader, None, &notice, source, None)
        .await
        .unwrap();
}

/// Readers active, pending, suppressed (a complaint, a hard bounce) and unsubscribed; a day's
/// digests sent, rated, bounced and complained about; the figures counted. The pages to check,
/// after the sign-in page: (path, text of their h1).
async fn a_console_with_data(app: &TestApp) -> Vec<(String, String)> {
    app.ingest_hf_day(DAY);
    let ada = confirmed(app, "ada@example.com", "agents").await;
    let bob = confirmed(app, "bob@example.com", "language model").await;
    let cy = confirmed(
        app,
        "a-rather-long-address-for-a-phone@example.com",
        "retrieval",
    )
    .await;
    let dee = confirmed(app, "dee@example.com", "diffusion").await;
    let r = app
        .subscribe_form(&[("email", "pending@example.com"), ("keywords", "robots")])
        .await;
    assert!(r.status().is_success() || r.status().is_redirection());
    let day: NaiveDate = DAY.parse().unwrap();
    let job = Job {
        day,
        at: None,
        ingest: false,
    };
    let report = daily_job(&app.services, job).await.unwrap();
    assert_eq!(report.delivered.digests.sent, 4, "{report:?}");
    let digest = app
        .ctx
        .store
        .digest_for(ada.id, day)
        .await
        .unwrap()
        .unwrap();
    app.services
        .ratings
        .rate(&ada, &digest.content.entries[0].paper, Rating::More)
        .await
        .unwrap();
    event(
        app,
        bob.id,
        MailEventKind::Complaint,
        EventSource::Postmark,
        "marked as spam",
    )
    .await;
    event(
        app,
        cy.id,
        MailEventKind::HardBounce,
        EventSource::Relay,
        "550 5.1.1 no such mailbox here",
    )
    .await;
    event(
        app,
        dee.id,
        MailEventKind::Delayed,
        EventSource::Mailbox,
        "still trying",
    )
    .await;
    app.subs.unsubscribe(&dee).await.unwrap();
    app.services
        .stats
        .refresh(paperboy::clock::timestamp())
        .await
        .unwrap();
    let (ok, _, err) = crate::console::set_password(app, "ada", crate::console::PASSWORD);
    assert!(ok, "{err}");
    vec![
        ("/admin".into(), "Dashboard".into()),
        ("/admin/readers".into(), "Readers".into()),
        (format!("/admin/readers/{}", ada.id), ada.email.to_string()),
        (format!("/admin/readers/{}", bob.id), bob.email.to_string()),
        ("/admin/deliverability".into(), "Deliverability".into()),
        ("/admin/import".into(), "Import".into()),
        ("/admin/audit".into(), "Audit log".into()),
        (
            format!("/admin/readers/{}/digests/{DAY}", ada.id),
            "8 May 2026".into(),
        ),
    ]
}

/// The page's level-one heading once it contains `text`, or an error naming what it read (a
/// mail's heading is a div with the heading role).
async fn heading_containing(c: &Client, text: &str) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(h1) = c
            .find(Locator::Css("h1, [role=heading][aria-level='1']"))
            .await
            && let Ok(found) = h1.text().await
        {
            if found.contains(text) {
                return Ok(());
            }
            last = found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(format!(
        "the page's heading stayed {last:?}, expected {text:?}"
    ))
}

/// axe's violations on the page now, at each width, as readable lines (none when it passes).
async fn check(
    c: &Client,
    axe: &str,
    what: &str,
) -> Result<Vec<String>, fantoccini::error::CmdError> {
    c.execute(axe, vec![]).await?;
    let mut found = Vec::new();
    for width in [360, 1280] {
        set_viewport_width(c, width).await?;
        let result = c.execute_async(AXE_RUN, vec![]).await?;
        let Some(violations) = result.as_array() else {
            found.push(format!("{what} at {width} px: axe failed: {result}"));
            continue;
        };
        for v in violations {
            let targets: Vec<String> = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| {
                    let why = n["why"].as_str().unwrap_or("").replace('\n', " ");
                    format!("    {}: {why}", n["target"])
                })
                .collect();
            found.push(format!(
                "{what} at {width} px: {} ({}): {}\n{}",
                v["id"],
                v["impact"],
                v["help"],
                targets.join("\n")
            ));
        }
    }
    Ok(found)
}

/// Every console page, signed in through the form, in one browser session.
async fn walk(
    c: &Client,
    app: &TestApp,
    axe: &str,
    scheme: &str,
    pages: &[(String, String)],
    csv: &std::path::Path,
) -> Result<Vec<String>, String> {
    let e = |e: fantoccini::error::CmdError| e.to_string();
    let mut found = Vec::new();
    c.goto(&app.url("/admin/sign-in")).await.map_err(e)?;
    heading_containing(c, "Sign in to the console").await?;
    let dark = c
        .execute(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            vec![],
        )
        .await
        .map_err(e)?;
    assert_eq!(dark, (scheme == "dark"), "the browser's colour scheme");
    found.extend(
        check(c, axe, &format!("{scheme}: /admin/sign-in"))
            .await
            .map_err(e)?,
    );
    c.find(Locator::Css("#name"))
        .await
        .map_err(e)?
        .send_keys("ada")
        .await
        .map_err(e)?;
    c.find(Locator::Css("#password"))
        .await
        .map_err(e)?
        .send_keys(crate::console::PASSWORD)
        .await
        .map_err(e)?;
    c.find(Locator::Css("form.stack button[type=submit]"))
        .await
        .map_err(e)?
        .click()
        .await
        .map_err(e)?;
    heading_containing(c, "Dashboard").await?;
    for (path, heading) in pages {
        c.goto(&app.url(path)).await.map_err(e)?;
        heading_containing(c, heading).await?;
        found.extend(
            check(c, axe, &format!("{scheme}: {path}"))
                .await
                .map_err(e)?,
        );
    }
    // The import's dry-run report, after an upload with a refused row.
    c.goto(&app.url("/admin/import")).await.map_err(e)?;
    c.find(Locator::Css("#file"))
        .await
        .map_err(e)?
        .send_keys(&csv.display().to_string())
        .await
        .map_err(e)?;
    c.find(Locator::Css("#mode"))
        .await
        .map_err(e)?
        .select_by_value("confirmed")
        .await
        .map_err(e)?;
    c.find(Locator::XPath("//button[text()='Dry run']"))
        .await
        .map_err(e)?
        .click()
        .await
        .map_err(e)?;
    c.wait()
        .for_element(Locator::XPath("//button[text()='Import for real']"))
        .await
        .map_err(e)?;
    found.extend(
        check(c, axe, &format!("{scheme}: the import's dry run"))
            .await
            .map_err(e)?,
    );
    Ok(found)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_finds_no_violation_on_any_console_page() {
    let Some(driver) = start_driver() else { return };
    let Some(axe) = axe_script() else { return };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let pages = a_console_with_data(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("reading-group.csv");
    std::fs::write(
        &csv,
        "email,keywords,consented_at\n\
         new-reader@example.com,graph neural networks,2026-01-02\n\
         another-reader@example.com,,2026-01-02\n",
    )
    .unwrap();
    let mut found = Vec::new();
    // Chromium's dark mode is what a reader's system setting gives: prefers-color-scheme.
    for (scheme, flags) in [("light", &[][..]), ("dark", &["--force-dark-mode"][..])] {
        let c = browser_with(&driver, flags).await;
        let result = walk(&c, &app, &axe, scheme, &pages, &csv).await;
        let _ = c.close().await;
        found.extend(result.expect("browser steps"));
    }
    assert!(
        found.is_empty(),
        "axe-core found {} violations:\n{}",
        found.len(),
        found.join("\n")
    );
}
