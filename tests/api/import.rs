//! `paperboy subscribers import`: a list comes in by its rules. The dry run reports what the
//! real run then does; nothing suppressed, unsubscribed or erased becomes active; only an
//! opt-in file's new addresses are mailed; bad rows are refused by line and change nothing.

use std::collections::BTreeMap;

use paperboy::domain::SubscriberStatus;

use crate::cli::paperboy;
use crate::helpers::{Backend, TestApp, link_in, spawn_app};
use crate::on_both_databases;

on_both_databases!(
    a_confirmed_file_keeps_every_stopped_address_stopped,
    an_opt_in_file_mails_only_its_new_addresses,
    a_do_not_mail_list_stops_mail_to_readers_here,
    bad_rows_are_refused_by_line_and_change_nothing,
    an_export_imports_back_as_it_was
);

/// `paperboy subscribers import` on `csv`; (exit ok, stdout, stderr).
fn import(app: &TestApp, csv: &str, args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("list.csv");
    std::fs::write(&file, csv).unwrap();
    let file = file.display().to_string();
    let mut all = vec!["subscribers", "import", file.as_str()];
    all.extend_from_slice(args);
    paperboy(&app.ctx.config.database_url, dir.path(), &all)
}

/// The report's table: outcome line → rows; and the refused rows' lines.
fn table(out: &str) -> (BTreeMap<String, u64>, Vec<u64>) {
    let mut outcomes = BTreeMap::new();
    let mut refused = Vec::new();
    for l in out.lines() {
        if let Some(rest) = l.strip_prefix("  ") {
            let (label, n) = rest.trim().rsplit_once(' ').unwrap();
            outcomes.insert(label.trim().to_string(), n.parse().unwrap());
        } else if let Some(rest) = l.strip_prefix("line ") {
            refused.push(rest.split(':').next().unwrap().parse().unwrap());
        }
    }
    (outcomes, refused)
}

/// Every reader as (address, status), sorted.
async fn readers(app: &TestApp) -> Vec<(String, SubscriberStatus)> {
    let mut all: Vec<(String, SubscriberStatus)> = app
        .ctx
        .store
        .list(&paperboy::store::ListFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.email.as_str().to_string(), s.status))
        .collect();
    all.sort();
    all
}

async fn status(app: &TestApp, email: &str) -> Option<SubscriberStatus> {
    app.subscriber(email).await.map(|s| s.status)
}

/// Readers in every state, made as readers and operators make them: an active one, one who
/// unsubscribed, one suppressed, one pending, one erased.
async fn readers_in_every_state(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let url = app.ctx.config.database_url.clone();
    let run = |args: &[&str]| {
        let (ok, out, err) = paperboy(&url, dir.path(), args);
        assert!(ok, "{args:?}: {out}{err}");
    };
    for who in ["active", "left", "blocked", "erased"] {
        run(&[
            "subscribers",
            "add",
            &format!("{who}@example.com"),
            "--keywords",
            "agents",
        ]);
    }
    let left = app.subscriber("left@example.com").await.unwrap();
    app.subs.unsubscribe(&left).await.unwrap();
    run(&[
        "suppressions",
        "add",
        "blocked@example.com",
        "--reason",
        "hard bounce",
    ]);
    run(&["subscribers", "remove", "erased@example.com"]);
    let r = app
        .api_subscribe(&serde_json::json!({"email": "waiting@example.com", "keywords": "rlhf"}))
        .await;
    assert_eq!(r.status(), 202);
    // Its confirmation mail is sent before the test counts the mails.
    app.wait_for_mails("waiting@example.com", 1).await;
    assert_eq!(
        status(app, "blocked@example.com").await,
        Some(SubscriberStatus::Suppressed)
    );
}

async fn a_confirmed_file_keeps_every_stopped_address_stopped(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    readers_in_every_state(&app).await;
    let interests_before = app
        .subscriber("active@example.com")
        .await
        .unwrap()
        .interests;
    app.services.deliver().await.unwrap();
    let mails_before = app.smtp.all().len();
    let before = readers(&app).await;
    let csv = "email,topics,keywords,consented_at,consent_source\n\
               new@example.com,llm,,2026-01-02T03:04:05Z,the lab's reading group sheet\n\
               Active@Example.com,,diffusion,2026-01-02,\n\
               left@example.com,,agents,2026-01-02,\n\
               blocked@example.com,,agents,2026-01-02,\n\
               erased@example.com,,agents,2026-01-02,\n\
               waiting@example.com,,agents,2026-01-02,\n\
               noconsent@example.com,,agents,,\n";

    // The dry run changes nothing and says what the run will do.
    let (ok, dry, err) = import(&app, csv, &["--mode", "confirmed", "--dry-run"]);
    assert!(ok, "{err}");
    assert!(dry.contains("dry run: nothing changed"), "{dry}");
    assert_eq!(readers(&app).await, before, "a dry run changed readers");
    let (ok, out, err) = import(&app, csv, &["--mode", "confirmed"]);
    assert!(ok, "{err}");
    assert_eq!(
        table(&dry),
        table(&out),
        "the dry run said otherwise:\n{dry}\n{out}"
    );
    let (outcomes, refused) = table(&out);
    let expect: BTreeMap<String, u64> = [
        ("new, active", 1),
        ("already here, active: left as it is", 1),
        ("already here, unsubscribed: left as it is", 1),
        ("already here, suppressed: left as it is", 1),
        ("active (was pending)", 1),
        ("refused (below, by line)", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(outcomes, expect, "{out}");
    assert_eq!(refused, [6, 8], "{out}");
    assert!(
        out.contains("line 6: erased@example.com was erased"),
        "{out}"
    );
    assert!(out.contains("line 8: no consented_at"), "{out}");

    let new = app.subscriber("new@example.com").await.unwrap();
    assert_eq!(new.status, SubscriberStatus::Active);
    assert_eq!(new.consent_at, 1_767_323_045);
    assert_eq!(
        new.consent_source.as_deref(),
        Some("the lab's reading group sheet")
    );
    assert_eq!(new.interests.topics.len(), 1);
    // An active reader's interests are theirs: the file does not replace them.
    let active = app.subscriber("active@example.com").await.unwrap();
    assert_eq!(active.interests, interests_before);
    assert_eq!(
        status(&app, "left@example.com").await,
        Some(SubscriberStatus::Unsubscribed)
    );
    assert_eq!(
        status(&app, "blocked@example.com").await,
        Some(SubscriberStatus::Suppressed)
    );
    assert_eq!(status(&app, "erased@example.com").await, None);
    let waiting = app.subscriber("waiting@example.com").await.unwrap();
    assert_eq!(waiting.status, SubscriberStatus::Active);
    assert!(waiting.consent_source.unwrap().contains("list.csv"));
    // Nobody was mailed.
    app.services.deliver().await.unwrap();
    assert_eq!(
        app.smtp.all().len(),
        mails_before,
        "a confirmed import mailed someone"
    );
}

async fn an_opt_in_file_mails_only_its_new_addresses(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    readers_in_every_state(&app).await;
    app.services.deliver().await.unwrap();
    let mails_before = app.smtp.all().len();
    // Exported from listmonk: no interests of ours, so the operator gives default topics.
    let csv = "uuid,email,name,attributes,status,created_at,updated_at\n\
        0001,fresh@example.com,Fresh,{},enabled,2025-02-09 12:51:48+05:30,2025-02-09 12:51:48+05:30\n\
        0002,active@example.com,A,{},enabled,2025-02-09 12:51:48+05:30,2025-02-09 12:51:48+05:30\n\
        0003,left@example.com,L,{},enabled,2025-02-09 12:51:48+05:30,2025-02-09 12:51:48+05:30\n\
        0004,gone@example.com,G,{},blocklisted,2025-02-09 12:51:48+05:30,2025-02-09 12:51:48+05:30\n";
    let (ok, out, err) = import(
        &app,
        csv,
        &["--mode", "opt-in", "--default-topics", "llm,agents"],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("name (ignored)") && out.contains("created_at as consented_at"),
        "{out}"
    );
    assert!(out.contains("confirmation mails queued: 1"), "{out}");
    let (outcomes, refused) = table(&out);
    assert_eq!(
        outcomes.get("new, pending: confirmation mail queued"),
        Some(&1),
        "{out}"
    );
    assert_eq!(outcomes.get("new, suppressed"), Some(&1), "{out}");
    assert!(refused.is_empty(), "{out}");
    // The new address is asked; it confirms and is a reader with the default topics.
    app.services.deliver().await.unwrap();
    let mails = app.wait_for_mails("fresh@example.com", 1).await;
    let link = link_in(&mails[0].text(), "/confirm/");
    assert_eq!(app.confirm_by_post(&link).await.status(), 200);
    let fresh = app.subscriber("fresh@example.com").await.unwrap();
    assert_eq!(fresh.status, SubscriberStatus::Active);
    assert_eq!(fresh.interests.topics.len(), 2);
    // Nobody else got a mail: not the active reader, not the one who left, not the blocked.
    app.services.deliver().await.unwrap();
    let others: Vec<String> = app
        .smtp
        .all()
        .iter()
        .skip(mails_before)
        .flat_map(|m| m.to.clone())
        .filter(|to| !to.contains("fresh@"))
        .collect();
    assert!(others.is_empty(), "mailed: {others:?}");
    assert_eq!(
        status(&app, "left@example.com").await,
        Some(SubscriberStatus::Unsubscribed)
    );
}

async fn a_do_not_mail_list_stops_mail_to_readers_here(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    readers_in_every_state(&app).await;
    // Mailchimp's "cleaned" export, imported as suppressed; then its unsubscribed export.
    let cleaned = "Email Address,First Name,Last Name,CLEAN_TIME,CLEAN_CAMPAIGN_TITLE\n\
                   active@example.com,A,B,2026-01-02 10:00:00,March\n\
                   stranger@example.com,S,T,2026-01-02 10:00:00,March\n\
                   erased@example.com,E,F,2026-01-02 10:00:00,March\n";
    let (ok, out, err) = import(&app, cleaned, &["--mode", "suppressed"]);
    assert!(ok, "{err}");
    let (outcomes, refused) = table(&out);
    assert_eq!(outcomes.get("suppressed (was active)"), Some(&1), "{out}");
    assert_eq!(outcomes.get("new, suppressed"), Some(&1), "{out}");
    // The erased address is not stored again, even as suppressed: its record already is one.
    assert_eq!(refused, [4], "{out}");
    assert_eq!(status(&app, "erased@example.com").await, None);
    let active = app.subscriber("active@example.com").await.unwrap();
    assert_eq!(active.status, SubscriberStatus::Suppressed);
    assert!(active.suppression_reason.unwrap().contains("do-not-mail"));
    let stranger = app.subscriber("stranger@example.com").await.unwrap();
    assert_eq!(stranger.status, SubscriberStatus::Suppressed);

    let unsubscribed = "Email Address,UNSUB_TIME\n\
                        waiting@example.com,2026-01-03 10:00:00\n\
                        blocked@example.com,2026-01-03 10:00:00\n";
    let (ok, out, err) = import(&app, unsubscribed, &["--mode", "unsubscribed"]);
    assert!(ok, "{err}");
    let (outcomes, _) = table(&out);
    assert_eq!(
        outcomes.get("unsubscribed (was pending)"),
        Some(&1),
        "{out}"
    );
    assert_eq!(
        outcomes.get("already here, suppressed: left as it is"),
        Some(&1),
        "{out}"
    );
    // And what the import stopped stays stopped when a confirmed file names it later.
    let confirmed = "email,keywords,consented_at\nactive@example.com,agents,2026-01-04\n\
                     waiting@example.com,agents,2026-01-04\n";
    let (ok, _, err) = import(&app, confirmed, &["--mode", "confirmed"]);
    assert!(ok, "{err}");
    assert_eq!(
        status(&app, "active@example.com").await,
        Some(SubscriberStatus::Suppressed)
    );
    assert_eq!(
        status(&app, "waiting@example.com").await,
        Some(SubscriberStatus::Unsubscribed)
    );
}

async fn bad_rows_are_refused_by_line_and_change_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let before = readers(&app).await;
    let mut csv = b"email,keywords,topics,consented_at\n".to_vec();
    csv.extend_from_slice(b"z\xfcrich@example.com,graph,,2026-01-02\n"); // 2: Latin-1
    csv.extend_from_slice(b"quoted@example.com,\"two\nlines\",nope-topic,2026-01-02\n"); // 3-4
    csv.extend_from_slice(b"formula@example.com,=HYPERLINK(\"http://x\"),,2026-01-02\n"); // 5
    csv.extend_from_slice(b"big@example.com,"); // 6: a 10 MB line
    csv.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    csv.extend_from_slice(b",,2026-01-02\n");
    csv.extend_from_slice(b"Dup@example.com,graph,,2026-01-02\n"); // 7
    csv.extend_from_slice(b"dup@EXAMPLE.com,graph,,2026-01-02\n"); // 8
    csv.extend_from_slice(b"@example.com,graph,,2026-01-02\n"); // 9
    csv.extend_from_slice(b"future@example.com,graph,,2099-01-02\n"); // 10
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, &csv).unwrap();
    let file = file.display().to_string();
    let url = app.ctx.config.database_url.clone();
    let (ok, out, err) = paperboy(
        &url,
        dir.path(),
        &["subscribers", "import", &file, "--mode", "confirmed"],
    );
    assert!(ok, "{err}");
    let (outcomes, refused) = table(&out);
    assert_eq!(refused, [2, 3, 5, 6, 8, 9, 10], "{out}");
    assert_eq!(outcomes.get("new, active"), Some(&1), "{out}");
    for (line, says) in [
        (2, "UTF-8"),
        (3, "nope-topic"),
        (5, "spreadsheet formula"),
        (6, "bytes long"),
        (8, "dup@example.com is on line 7 already"),
        (9, "email"),
        (10, "future"),
    ] {
        let l = out
            .lines()
            .find(|l| l.starts_with(&format!("line {line}:")))
            .unwrap();
        assert!(l.contains(says), "line {line}: {l}");
        assert!(
            l.len() < 400,
            "line {line} repeats the row: {} bytes",
            l.len()
        );
    }
    let mut after = before.clone();
    after.push(("dup@example.com".into(), SubscriberStatus::Active));
    assert_eq!(readers(&app).await, after);

    // Files that cannot be read at all: refused whole, with what to do.
    for (csv, says) in [
        ("", "empty"),
        ("name,city\nAda,London\n", "no column of addresses"),
        (
            "email,Email Address\na@example.com,b@example.com\n",
            "twice",
        ),
    ] {
        let (ok, _, err) = import(&app, csv, &["--mode", "confirmed"]);
        assert!(!ok && err.contains(says), "{csv:?}: {err}");
    }
    let (ok, _, err) = paperboy(
        &url,
        dir.path(),
        &[
            "subscribers",
            "import",
            "/nonexistent.csv",
            "--mode",
            "confirmed",
        ],
    );
    assert!(!ok && err.contains("cannot read /nonexistent.csv"), "{err}");
    let (ok, _, err) = import(&app, "email\na@example.com\n", &["--mode", "later"]);
    assert!(!ok && err.contains("opt-in"), "{err}");
    assert_eq!(readers(&app).await, after, "a refused file changed readers");
}

/// What `subscribers export --format csv` writes imports back into another instance as it was,
/// and a cell that could run as a spreadsheet formula is written quoted.
async fn an_export_imports_back_as_it_was(backend: Backend) {
    let (Some(from), Some(into)) = (spawn_app(backend).await, spawn_app(backend).await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |app: &TestApp, args: &[&str]| {
        let (ok, out, err) = paperboy(&app.ctx.config.database_url, dir.path(), args);
        assert!(ok, "{args:?}: {err}");
        out
    };
    run(
        &from,
        &[
            "subscribers",
            "add",
            "ada@example.com",
            "--topics",
            "llm,agents",
            "--keywords=-medical \"graph neural network\"",
            "--authors",
            "Yann LeCun",
        ],
    );
    run(
        &from,
        &[
            "subscribers",
            "add",
            "=cmd@example.com",
            "--keywords",
            "rlhf",
        ],
    );
    let csv = run(&from, &["subscribers", "export", "--format", "csv"]);
    assert!(csv.contains("'=cmd@example.com"), "{csv}");
    assert!(
        !csv.lines().any(|l| l.starts_with('=') || l.contains(",=")),
        "{csv}"
    );
    assert!(csv.contains("'-medical"), "{csv}");
    let file = dir.path().join("export.csv");
    std::fs::write(&file, &csv).unwrap();
    let out = run(
        &into,
        &[
            "subscribers",
            "import",
            &file.display().to_string(),
            "--mode",
            "confirmed",
        ],
    );
    assert_eq!(table(&out).0.get("new, active"), Some(&2), "{out}");
    for email in ["ada@example.com", "=cmd@example.com"] {
        let (a, b) = (
            from.subscriber(email).await.unwrap(),
            into.subscriber(email).await.unwrap(),
        );
        assert_eq!(a.interests, b.interests, "{email}");
        assert_eq!(a.prefs, b.prefs, "{email}");
        assert_eq!(a.consent_at, b.consent_at, "{email}");
        assert_eq!(b.status, SubscriberStatus::Active);
    }
}
