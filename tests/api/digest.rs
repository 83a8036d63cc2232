//! The daily digest: real papers ingested, readers subscribed through HTTP, the day composed
//! through the CLI, the outbox checked.

use chrono::NaiveDate;
use paperboy::domain::{DigestKind, DigestStatus};

use crate::cli::paperboy;
use crate::helpers::{Backend, spawn_app};
use crate::on_both_databases;

on_both_databases!(compose_a_day_once);

const HF_DAY: &str = "tests/fixtures/hf_json/daily_papers_2026-05-08.json";

async fn compose_a_day_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let url = app.subs.config.database_url.clone();
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

    let (ok, out, err) = run(&["digest", "compose", "--date", "2026-05-08"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("37 papers, 4 readers: 2 composed (1 trending instead), 0 already composed, 1 nothing matched, 1 not due"),
        "{out}"
    );
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let store = &app.subs.store;
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
}
