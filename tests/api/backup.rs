//! `paperboy backup` and `paperboy restore`, through the CLI as an operator runs them: a
//! backup taken while a delivery run is sending, restored into a new database and served
//! from, sends no digest twice; bad backups and wrong targets are refused, changing nothing.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use paperboy::domain::{DigestStatus, EmailAddress};
use sha2::Digest as _;

use crate::cli::{paperboy, paperboy_with};
use crate::digest::readers_with_a_digest;
use crate::helpers::{Backend, SECRET, fresh_database, spawn_app, spawn_app_with, until};
use crate::on_both_databases;

on_both_databases!(
    a_backup_during_delivery_restores_and_sends_nothing_twice,
    bad_backups_and_targets_are_refused_and_change_nothing,
);

/// The readers the SMTP server has a mail for.
fn recipients(mails: &[crate::helpers::Received]) -> Vec<String> {
    mails
        .iter()
        .flat_map(|m| m.to.iter().map(|t| t.to_lowercase()))
        .collect()
}

async fn a_backup_during_delivery_restores_and_sends_nothing_twice(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = app.ctx.config.database_url.clone();
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    // Twelve readers with the day composed; one suppressed by hand, one erased, one who
    // rated two papers.
    let emails = readers_with_a_digest(&app, dir.path(), 12).await;
    let run = |args: &[&str]| paperboy(&url, dir.path(), args);
    let (ok, _, err) = run(&[
        "suppressions",
        "add",
        &emails[10],
        "--reason",
        "asked by phone",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["subscribers", "remove", &emails[11]]);
    assert!(ok, "{err}");
    let rater = app.subscriber(&emails[0]).await.unwrap();
    let token = app
        .ctx
        .links
        .manage_token(&rater, paperboy::clock::timestamp());
    let papers = app.ctx.store.papers(Some(day), 2).await.unwrap();
    for (p, rating) in papers.iter().zip(["more", "fewer"]) {
        let r = app
            .client
            .put(app.url(&format!(
                "/api/v1/subscriptions/{token}/ratings/{}",
                p.paper.id
            )))
            .json(&serde_json::json!({ "rating": rating }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let to_send: BTreeSet<String> = emails[..10].iter().cloned().collect();

    // A delivery run, one mail at a time, each taking the relay 0.6 s to accept.
    app.smtp.faults.lock().unwrap().delay = Duration::from_millis(600);
    let mut deliverer = std::process::Command::new(env!("CARGO_BIN_EXE_paperboy"))
        .args(["digest", "deliver"])
        .env("PAPERBOY_DATABASE_URL", &url)
        .env("PAPERBOY_DATA_DIR", dir.path())
        .env("PAPERBOY_SECRET", SECRET)
        .env("PAPERBOY_LOG", "warn")
        .env("PAPERBOY_SMTP_URL", format!("smtp://{}", app.smtp.addr))
        .env("PAPERBOY_BASE_URL", &app.base)
        .env("PAPERBOY_DELIVERY__CONCURRENCY", "1")
        .env("PAPERBOY_DELIVERY__BATCH", "1")
        .env("PAPERBOY_DELIVERY__LEASE_SECONDS", "2")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    until(
        "three digests through the slow relay",
        async || app.smtp.all().len() >= 3,
        async || app.log.text(),
    )
    .await;
    // Its outcome recorded, the next mail on its way: the backup, in the middle of the run.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let sent_before: BTreeSet<String> = recipients(&app.smtp.all()).into_iter().collect();
    let file = dir.path().join("paperboy.backup");
    let file_arg = file.display().to_string();
    let (ok, out, err) = run(&["backup", &file_arg]);
    assert!(ok, "{err}");
    // The machine is lost right after: the run is cut off.
    deliverer.kill().unwrap();
    deliverer.wait().unwrap();
    let sent_by_the_lost_one = recipients(&app.smtp.all());
    assert!(
        out.contains("backup written to") && out.contains("subscribers: 11"),
        "{out}"
    );
    assert!(
        out.contains("signing key fingerprint hmac-sha256:") && !out.contains(SECRET),
        "{out}"
    );
    assert!(
        sent_before.len() < to_send.len(),
        "the backup came after the run"
    );

    // Restored into a new database.
    let new_dir = tempfile::tempdir().unwrap();
    let target = fresh_database(backend, new_dir.path()).await.unwrap();
    let (ok, out, err) = paperboy(&target.url, new_dir.path(), &["restore", &file_arg]);
    assert!(ok, "{err}");
    assert!(
        out.contains("every table's rows match the manifest") && out.contains("ratings: 2"),
        "{out}"
    );
    // Everything an operator can export is there as it was: readers, the suppression,
    // the ratings.
    let export = |u: &str, d: &Path| {
        let (ok, out, err) = paperboy(u, d, &["subscribers", "export"]);
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let before = export(&url, dir.path());
    let after = export(&target.url, new_dir.path());
    assert_eq!(before.as_array().unwrap().len(), 11);
    assert_eq!(before, after);
    let suppressed = after
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["email"] == emails[10].as_str())
        .unwrap();
    assert_eq!(suppressed["status"], "suppressed", "{suppressed}");
    // The erased address is still refused.
    let (ok, _, err) = paperboy(
        &target.url,
        new_dir.path(),
        &["subscribers", "add", &emails[11], "--keywords", "agents"],
    );
    assert!(!ok && err.contains("erased"), "{err}");

    // Served from the restored database, with a relay of its own.
    let Some(restored) =
        spawn_app_with(backend, &[("database_url", target.url.clone().into())]).await
    else {
        return;
    };
    let store = &restored.ctx.store;
    let mut sent_in_backup = BTreeSet::new();
    for e in &to_send {
        let s = restored.subscriber(e).await.expect("every reader is there");
        let d = store.digest_for(s.id, day).await.unwrap().unwrap();
        if d.status == DigestStatus::Sent {
            sent_in_backup.insert(e.clone());
        }
    }
    // The backup is one moment of the run: everything sent before it began is recorded
    // sent, and nothing is recorded sent that the relay had not accepted.
    assert!(
        sent_before.is_subset(&sent_in_backup),
        "{sent_before:?} were sent before the backup, the backup has {sent_in_backup:?}"
    );
    eprintln!(
        "sent before the backup: {}, recorded sent in it: {}, sent by the lost run: {}",
        sent_before.len(),
        sent_in_backup.len(),
        sent_by_the_lost_one.len()
    );
    let by_the_lost_one: BTreeSet<String> = sent_by_the_lost_one.iter().cloned().collect();
    assert!(sent_in_backup.is_subset(&by_the_lost_one));
    // The manage API answers from the restored database with the reader's ratings.
    let r = restored
        .client
        .get(restored.url(&format!("/api/v1/subscriptions/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains(papers[0].paper.id.as_str()), "{body}");

    // The restored service delivers the rest (the mail in flight at the backup once its
    // lease runs out): each once, and none of those the backup has as sent.
    until(
        "the restored outbox delivered",
        async || {
            restored.services.deliver().await.unwrap();
            let counts = store.digest_counts().await.unwrap();
            counts.iter().all(|(s, n)| {
                *n == 0 || !matches!(s, DigestStatus::Pending | DigestStatus::Sending)
            })
        },
        async || format!("{:?}\n{}", store.digest_counts().await, restored.log.text()),
    )
    .await;
    for e in &to_send {
        let got = restored.smtp.to(e).len();
        if sent_in_backup.contains(e) {
            assert_eq!(got, 0, "{e}'s digest was sent again after the restore");
        } else {
            assert_eq!(got, 1, "{e}: one digest from the restored service");
        }
    }
    assert_eq!(
        restored.smtp.all().len(),
        to_send.len() - sent_in_backup.len(),
        "nothing else was sent (the suppressed and the erased reader get nothing)"
    );
    let suppressed = EmailAddress::parse(&emails[10]).unwrap();
    assert!(restored.smtp.to(suppressed.as_str()).is_empty());
}

/// Bytes of `file` with `from` replaced by `to` (the same length: the archive stays whole).
fn with_replaced(file: &Path, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(file).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{:?} not in the backup", String::from_utf8_lossy(from)));
    bytes[at..at + to.len()].copy_from_slice(to);
    bytes
}

async fn bad_backups_and_targets_are_refused_and_change_nothing(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let run = |url: &str, args: &[&str]| paperboy(url, dir.path(), args);
    let (ok, _, err) = run(
        &db.url,
        &[
            "subscribers",
            "add",
            "ada@example.com",
            "--keywords",
            "agents",
        ],
    );
    assert!(ok, "{err}");
    let good = dir.path().join("good.backup");
    let good_arg = good.display().to_string();
    // Mail signed with DKIM: the backup names the key by its public half, as DNS has it.
    let keys = tempfile::tempdir().unwrap();
    let (rsa, record) = crate::dkim::key_pair(crate::dkim::Kind::Rsa, keys.path());
    let dkim = |key: &Path| {
        vec![
            ("PAPERBOY_MAIL__DKIM_DOMAIN", "paperboy.test".to_string()),
            ("PAPERBOY_MAIL__DKIM_SELECTOR", "s1".to_string()),
            ("PAPERBOY_MAIL__DKIM_KEY_FILE", key.display().to_string()),
        ]
    };
    let (ok, out, err) = paperboy_with(&db.url, dir.path(), &["backup", &good_arg], &dkim(&rsa));
    assert!(ok, "{err}");
    use base64::Engine as _;
    let published = base64::engine::general_purpose::STANDARD
        .decode(record.rsplit_once("p=").unwrap().1)
        .unwrap();
    let published: String = sha2::Sha256::digest(&published)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        out.contains(&format!(
            "DKIM key s1._domainkey.paperboy.test: public key sha256 {published}"
        )),
        "{out}"
    );
    assert!(!out.contains("PRIVATE"), "{out}");
    // A second backup to the same name does not overwrite the first.
    let (ok, _, err) = run(&db.url, &["backup", &good_arg]);
    assert!(!ok && err.contains("already exists"), "{err}");

    let target_dir = tempfile::tempdir().unwrap();
    let target = fresh_database(backend, target_dir.path()).await.unwrap();
    let restore = |file: &Path, extra: &[&str]| {
        let mut args = vec!["restore", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        paperboy(&target.url, target_dir.path(), &args)
    };
    let bytes = std::fs::read(&good).unwrap();
    let bad = |name: &str, content: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    };
    let manifest = String::from_utf8_lossy(&bytes[512..2048]).into_owned();
    let migration = between_quotes(&manifest, "\"last_migration\": ", ",");
    let newer = format!("9999{}", &migration[4..]);
    let cases: Vec<(&str, std::path::PathBuf, &str)> = vec![
        (
            "cut short",
            bad("cut.backup", &bytes[..bytes.len() / 2]),
            "is damaged",
        ),
        (
            "a byte changed in the data",
            {
                let mut b = bytes.clone();
                let i = b.len() - 4096;
                b[i] ^= 0x55;
                bad("flipped.backup", &b)
            },
            "SHA-256 is not the one in the manifest",
        ),
        (
            "a manifest from a newer migration",
            bad(
                "newer.backup",
                &with_replaced(&good, migration.as_bytes(), newer.as_bytes()),
            ),
            "knows migrations up to",
        ),
        (
            "not a backup at all",
            bad("text.backup", b"hello, world\n"),
            "is not a paperboy backup",
        ),
        (
            "an empty file",
            bad("empty.backup", b""),
            "is not a paperboy backup",
        ),
        (
            "no such file",
            dir.path().join("missing.backup"),
            "cannot open",
        ),
    ];
    for (what, file, says) in &cases {
        let (ok, _, err) = restore(file, &[]);
        assert!(!ok, "{what}: restored");
        assert!(err.contains(says), "{what}: {err}");
    }
    // Another signing key: refused unless the operator says so.
    let other_key = std::process::Command::new(env!("CARGO_BIN_EXE_paperboy"))
        .args(["restore", &good_arg])
        .env("PAPERBOY_DATABASE_URL", &target.url)
        .env("PAPERBOY_DATA_DIR", target_dir.path())
        .env("PAPERBOY_SECRET", "another-secret-another-secret-another-0")
        .env("PAPERBOY_LOG", "warn")
        .output()
        .unwrap();
    let (ok, err) = (
        other_key.status.success(),
        String::from_utf8_lossy(&other_key.stderr).into_owned(),
    );
    assert!(
        !ok && err.contains("another signing key") && err.contains("--new-secret"),
        "{err}"
    );
    if let Backend::Sqlite = backend {
        let file = target.url.trim_start_matches("sqlite://");
        assert!(
            !Path::new(file).exists(),
            "a refused restore created {file}"
        );
    }

    // None of that changed the target: it is still empty, so the good backup restores;
    // signing with another DKIM key now, the operator is told to check DNS.
    let other = tempfile::tempdir().unwrap();
    let (ed25519, _) = crate::dkim::key_pair(crate::dkim::Kind::Ed25519, other.path());
    let (ok, out, err) = paperboy_with(
        &target.url,
        target_dir.path(),
        &["restore", &good_arg],
        &dkim(&ed25519),
    );
    assert!(ok, "{err}");
    assert!(out.contains("subscribers: 1"), "{out}");
    assert!(
        out.contains("note: mail was signed with DKIM s1._domainkey.paperboy.test")
            && out.contains("check the DNS record"),
        "{out}"
    );
    let (ok, out, _) = paperboy(&target.url, target_dir.path(), &["subscribers", "list"]);
    assert!(ok && out.contains("ada@example.com"), "{out}");
    // A database that is not empty (this one now) is refused, and left as it was.
    let (ok, _, err) = restore(&good, &[]);
    assert!(!ok && err.contains("is not empty"), "{err}");
    let (_, out, _) = paperboy(&target.url, target_dir.path(), &["subscribers", "list"]);
    assert_eq!(out.lines().count(), 1, "{out}");

    // PostgreSQL's tool missing: said plainly, no file left behind.
    if let Backend::Postgres = backend {
        let empty = tempfile::tempdir().unwrap();
        let out_file = dir.path().join("no-tool.backup");
        let (ok, _, err) = paperboy_with(
            &db.url,
            dir.path(),
            &["backup", out_file.to_str().unwrap()],
            &[("PATH", empty.path().display().to_string())],
        );
        assert!(!ok && err.contains("pg_dump is not installed"), "{err}");
        assert!(!out_file.exists());
    }
}

/// The text between `start` and the next `end`.
fn between_quotes(s: &str, start: &str, end: &str) -> String {
    crate::helpers::between(s, start, end).unwrap_or_else(|| panic!("no {start} in {s}"))
}
