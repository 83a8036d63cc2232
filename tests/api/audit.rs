//! The audit log: every change an operator makes from the CLI or the admin API is recorded
//! with who, when, from where, what and a short before and after; an erased reader's address
//! leaves it too; it is read with `paperboy audit` and kept for `retention.audit_days`.

use chrono::Days;

use crate::cli::paperboy;
use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, spawn_app};
use crate::on_both_databases;

on_both_databases!(every_operator_change_is_recorded_and_erasure_leaves_no_address);

/// `paperboy audit --format json` with `args`: the entries, newest first.
pub(crate) fn audit(app: &TestApp, args: &[&str]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["audit", "--format", "json"];
    all.extend_from_slice(args);
    let (ok, out, err) = paperboy(&app.ctx.config.database_url, dir.path(), &all);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

async fn every_operator_change_is_recorded_and_erasure_leaves_no_address(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = app.ctx.config.database_url.clone();
    let run = |args: &[&str]| {
        let (ok, out, err) = paperboy(&url, dir.path(), args);
        assert!(ok, "{args:?}: {out}{err}");
        out
    };
    assert!(audit(&app, &[]).is_empty());
    run(&[
        "subscribers",
        "add",
        "ada@example.com",
        "--keywords",
        "agents",
    ]);
    run(&[
        "subscribers",
        "add",
        "bob@example.com",
        "--keywords",
        "agents",
    ]);
    run(&[
        "suppressions",
        "add",
        "ada@example.com",
        "--reason",
        "asked by phone",
    ]);
    run(&["suppressions", "remove", "ada@example.com"]);
    run(&["subscribers", "export", "--email", "bob@example.com"]);
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "email,keywords,consented_at\ncarol@example.com,rlhf,2026-01-02\n",
    )
    .unwrap();
    let file = csv.display().to_string();
    // A dry run changes nothing, so it records nothing.
    run(&[
        "subscribers",
        "import",
        &file,
        "--mode",
        "confirmed",
        "--dry-run",
    ]);
    run(&["subscribers", "import", &file, "--mode", "confirmed"]);
    // The admin API, with its token, from this machine.
    let r = app
        .client
        .put(app.url("/api/v1/admin/suppressions/bob@example.com"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"reason": "spam trap"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let log = audit(&app, &[]);
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "suppress", "import", "export", "lift", "suppress", "add", "add"
        ],
        "{log:#?}"
    );
    let api = &log[0];
    assert_eq!(api["actor_kind"], "api");
    assert_eq!(api["actor"], "admin token");
    assert_eq!(api["origin"], "127.0.0.1");
    assert_eq!(api["subject"], "bob@example.com");
    assert_eq!(api["before"], "active");
    assert_eq!(api["after"], "suppressed: by the operator: spam trap");
    let import = &log[1];
    assert_eq!(import["actor_kind"], "cli");
    assert_eq!(import["subject"], "people.csv");
    let after = import["after"].as_str().unwrap();
    assert!(
        after.contains("1 rows as confirmed") && after.contains("new, active 1"),
        "{after}"
    );
    assert_eq!(log[2]["subject"], "bob@example.com");
    assert_eq!(log[2]["after"], "1 reader(s)");
    assert_eq!(
        log[3]["before"],
        "suppressed: by the operator: asked by phone"
    );
    assert_eq!(log[3]["after"], "active");
    let now = paperboy::clock::timestamp();
    for e in &log {
        let at = e["at"].as_i64().unwrap();
        assert!((now - 120..=now + 1).contains(&at), "{e}");
    }
    // Filters.
    let lifts = audit(&app, &["--action", "lift"]);
    assert_eq!(lifts.len(), 1);
    assert_eq!(audit(&app, &["--actor", "api"]).len(), 1);
    let (ok, _, err) = paperboy(&url, dir.path(), &["audit", "--action", "delete"]);
    assert!(!ok && err.contains("erase"), "{err}");

    // Erasing a reader is recorded by id, and the entries that named the address no longer
    // do: the log keeps no trace of what erasing removed.
    let ada = app.subscriber("ada@example.com").await.unwrap();
    run(&["subscribers", "remove", "ada@example.com"]);
    let log = audit(&app, &[]);
    assert_eq!(log[0]["action"], "erase");
    assert_eq!(log[0]["subject"], format!("subscriber {}", ada.id));
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains("ada@example.com"), "{text}");
    assert!(
        text.contains(&format!("subscriber {} (erased)", ada.id)),
        "{text}"
    );
    let csv = run(&["audit", "--format", "csv"]);
    assert!(
        csv.starts_with("id,at,actor_kind,actor,origin,action,subject,before,after"),
        "{csv}"
    );
    assert!(!csv.contains("ada@example.com"), "{csv}");

    // Kept for audit_days (730), then removed by retention.
    let later = (paperboy::clock::today() + Days::new(731)).to_string();
    let out = run(&["maintenance", "run", "--as-of", &later]);
    let line = out.lines().find(|l| l.starts_with("audit_log")).unwrap();
    assert!(line.split_whitespace().any(|w| w == "8"), "{out}");
    assert!(audit(&app, &[]).is_empty());
}
