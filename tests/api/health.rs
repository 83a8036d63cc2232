//! Health through its public faces: `/readyz` on a running service (ready; unready when a
//! digest waits past the threshold, when the database is gone and when it hangs, when a newer
//! binary migrated the database), and `paperboy doctor` run as the operator runs it, against
//! Postfix's smtp-sink, a STARTTLS relay with AUTH, a relay whose clock is off, a closed
//! port, and broken configurations.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::Value;

use crate::certificate::self_signed_certificate;
use crate::cli::paperboy_with;
use crate::helpers::{Backend, free_port, fresh_database, spawn_app_with, until};
use crate::on_both_databases;

on_both_databases!(
    ready_with_every_check_stated,
    unready_while_a_digest_waits_too_long,
    unready_when_a_newer_binary_migrated_the_database,
    doctor_against_smtp_sink,
    doctor_says_what_is_broken,
);

/// A cron expression that does not come due while a test runs.
const NEVER_SOON: &str = "0 0 1 1 *";

async fn ready_with_every_check_stated(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        &[
            ("schedule.enabled", true.into()),
            ("schedule.cron", NEVER_SOON.into()),
        ],
    )
    .await
    else {
        return;
    };
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["status"], "ready", "{body:#}");
    let checks = &body["checks"];
    assert_eq!(checks["database"]["state"], "ok", "{body:#}");
    assert!(checks["database"]["ms"].as_u64().unwrap() < 2000);
    assert_eq!(checks["migrations"]["state"], "ok", "{body:#}");
    let embedded = checks["migrations"]["embedded"].as_u64().unwrap();
    assert!(embedded >= 14, "{body:#}");
    assert_eq!(checks["migrations"]["applied"].as_u64(), Some(embedded));
    // The scheduler beats while it waits for January.
    assert_eq!(checks["scheduler"]["state"], "ok", "{body:#}");
    assert!(checks["scheduler"]["beat_seconds_ago"].as_i64().unwrap() <= 2);
    let next = checks["scheduler"]["next_run"].as_str().unwrap();
    assert!(next.contains("-01-01T00:00:00"), "{next}");
    assert_eq!(checks["outbox"]["state"], "ok");
    assert_eq!(checks["outbox"]["due"], 0);
    // Nothing ingested yet: a warning, not a failure, on a new installation.
    assert_eq!(checks["ingest"]["state"], "warn", "{body:#}");
    assert!(checks["ingest"]["last_success"].is_null());

    app.ingest_hf_day("2026-05-08");
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body["checks"]["ingest"]["state"], "ok", "{body:#}");
    assert!(body["checks"]["ingest"]["age_seconds"].as_i64().unwrap() < 120);
    // `/healthz` stays "the process answers".
    assert_eq!(
        app.get_text("/healthz").await,
        (reqwest::StatusCode::OK, "ok\n".into())
    );

    // With the scheduler off, its check says so and does not fail.
    let Some(off) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let (status, body) = off.get_json("/readyz").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["checks"]["scheduler"]["state"], "disabled");
    assert!(
        body["checks"]["scheduler"]["detail"]
            .as_str()
            .unwrap()
            .contains("run-daily")
    );
}

/// A digest composed and not delivered (no scheduler delivers here) is due; once it has
/// waited past `health.outbox_fail_seconds` the service is unready, and ready again when
/// delivery catches up.
async fn unready_while_a_digest_waits_too_long(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        &[
            ("health.outbox_warn_seconds", 0.into()),
            ("health.outbox_fail_seconds", 1.into()),
        ],
    )
    .await
    else {
        return;
    };
    app.ingest_hf_day("2026-05-08");
    app.subscribe_and_confirm("waits@example.com", &[("keywords", "diffusion agents")])
        .await;
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let composed = app.services.digests.compose(day, None).await.unwrap();
    assert_eq!(composed.composed, 1, "{composed:?}");
    let last = std::cell::RefCell::new(Value::Null);
    until(
        "/readyz to fail on the waiting digest",
        async || {
            let (status, body) = app.get_json("/readyz").await;
            *last.borrow_mut() = body;
            status == 503
        },
        async || format!("{:#}", last.borrow()),
    )
    .await;
    let (_, body) = app.get_json("/readyz").await;
    assert_eq!(body["status"], "unready");
    let outbox = &body["checks"]["outbox"];
    assert_eq!(outbox["state"], "fail", "{body:#}");
    assert_eq!(outbox["due"], 1);
    assert!(outbox["oldest_due_seconds"].as_i64().unwrap() > 1);
    assert!(
        outbox["detail"].as_str().unwrap().contains("1 digests"),
        "{body:#}"
    );
    // Only the outbox fails.
    for check in ["database", "migrations", "scheduler", "ingest"] {
        assert_ne!(body["checks"][check]["state"], "fail", "{body:#}");
    }
    let sent = app.services.deliver().await.unwrap();
    assert_eq!(sent.digests.sent, 1);
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["checks"]["outbox"]["due"], 0);
}

/// A migration this binary does not have, recorded as applied (as a newer paperboy would):
/// `/readyz` and `doctor` both say a newer binary migrated the database.
async fn unready_when_a_newer_binary_migrated_the_database(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let url = app.ctx.config.database_url.clone();
    let insert = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                  VALUES (20991231000001, 'from the future', true, x'00', 1)";
    let insert_pg = insert.replace("x'00'", "'\\x00'::bytea");
    match backend {
        Backend::Sqlite => {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(insert))
                .execute(&mut c)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(insert_pg))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503, "{body:#}");
    let m = &body["checks"]["migrations"];
    assert_eq!(m["state"], "fail");
    assert_eq!(
        m["applied"].as_u64(),
        Some(m["embedded"].as_u64().unwrap() + 1)
    );
    let detail = m["detail"].as_str().unwrap();
    assert!(
        detail.contains("20991231000001") && detail.contains("newer paperboy"),
        "{detail}"
    );

    let (ok, out, _) = doctor(&url, app._dir.path(), &[]);
    assert!(!ok);
    let line = line_of(&out, "migrations");
    assert!(
        line.starts_with("fail") && line.contains("newer paperboy"),
        "{out}"
    );
}

/// The database stopped (a proxy in front of PostgreSQL that drops every connection), then
/// hanging (the proxy takes connections and says nothing): `/readyz` answers 503 within
/// seconds, each time within its bound, and 200 again once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_postgres_going_and_coming_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(Backend::Postgres, dir.path()).await else {
        return;
    };
    let server: SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = Proxy::start(server).await;
    let url = db
        .url
        .replace("127.0.0.1:5432", &proxy.addr.to_string())
        .replace("localhost:5432", &proxy.addr.to_string());
    assert_ne!(
        url, db.url,
        "the test database is not at 127.0.0.1:5432: {}",
        db.url
    );
    let Some(app) = spawn_app_with(
        Backend::Postgres,
        &[
            ("database_url", url.into()),
            ("health.check_timeout_ms", 1500.into()),
        ],
    )
    .await
    else {
        return;
    };
    assert_eq!(app.get_json("/readyz").await.0, 200);

    for (mode, what) in [(Mode::Refusing, "refused"), (Mode::Hanging, "hanging")] {
        proxy.set(mode);
        let start = Instant::now();
        let (status, body) = app.get_json("/readyz").await;
        let took = start.elapsed();
        assert_eq!(status, 503, "{what}: {body:#}");
        assert!(
            took < Duration::from_secs(5),
            "{what}: /readyz took {took:?}"
        );
        assert_eq!(body["status"], "unready");
        assert_eq!(
            body["checks"]["database"]["state"], "fail",
            "{what}: {body:#}"
        );
        if mode == Mode::Hanging {
            let detail = body["checks"]["database"]["detail"].as_str().unwrap();
            assert!(detail.contains("did not answer within 1500 ms"), "{detail}");
        }
        // The checks that do not need the database still answer.
        assert_eq!(body["checks"]["scheduler"]["state"], "disabled");

        proxy.set(Mode::Up);
        let last = std::cell::RefCell::new(Value::Null);
        until(
            &format!("/readyz to be ready again after the database was {what}"),
            async || {
                let (status, body) = app.get_json("/readyz").await;
                *last.borrow_mut() = body;
                status == 200
            },
            async || format!("{:#}", last.borrow()),
        )
        .await;
    }
}

async fn doctor_against_smtp_sink(backend: Backend) {
    if !crate::smtp::smtp_sink_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let port = free_port();
    let _sink = crate::smtp::smtp_sink(port, &[]);
    let (key, record) = crate::dkim::key_pair(crate::dkim::Kind::Rsa, dir.path());
    let env = [
        ("PAPERBOY_SMTP_URL", format!("smtp://127.0.0.1:{port}")),
        (
            "PAPERBOY_MAIL_FROM",
            "Paper Boy <digest@paperboy.test>".into(),
        ),
        ("PAPERBOY_MAIL__DKIM_DOMAIN", "paperboy.test".into()),
        ("PAPERBOY_MAIL__DKIM_SELECTOR", "mail2026".into()),
        ("PAPERBOY_MAIL__DKIM_KEY_FILE", key.display().to_string()),
        (
            "PAPERBOY_MAIL__BOUNCE_ADDRESS",
            "bounces@paperboy.test".into(),
        ),
        (
            "PAPERBOY_INBOUND__BIND",
            format!("127.0.0.1:{}", free_port()),
        ),
    ];
    // Not migrated yet: the database fails, and doctor did not migrate it.
    let (ok, out, err) = doctor(&db.url, dir.path(), &env);
    assert!(!ok, "{out}");
    if let Backend::Sqlite = backend {
        assert!(
            line_of(&out, "database").contains("does not exist"),
            "{out}"
        );
    } else {
        let line = line_of(&out, "migrations");
        assert!(
            line.starts_with("fail") && line.contains("run `paperboy migrate`"),
            "{out}"
        );
    }
    assert!(err.contains("check(s) failed"), "{err}");
    let (ok, out, _) = doctor(&db.url, dir.path(), &env);
    assert!(!ok, "doctor changed the database: {out}");

    let (ok, _, err) = crate::cli::paperboy(&db.url, dir.path(), &["migrate"]);
    assert!(ok, "{err}");
    let (ok, out, err) = doctor(&db.url, dir.path(), &env);
    assert!(ok, "{out}{err}");
    for name in [
        "configuration",
        "database",
        "migrations",
        "relay",
        "clock",
        "bounces",
        "dkim",
    ] {
        assert!(line_of(&out, name).starts_with("ok "), "{name}: {out}");
    }
    let disk = line_of(&out, "disk");
    assert!(
        (disk.starts_with("ok ") || disk.starts_with("warn")) && disk.contains("free under"),
        "{out}"
    );
    let relay = line_of(&out, "relay");
    assert!(
        relay.contains(&format!("127.0.0.1:{port} greets")) && relay.contains("nothing sent"),
        "{out}"
    );
    // smtp-sink's greeting has no date.
    assert!(line_of(&out, "clock").contains("not given"), "{out}");
    // The record to publish is the key's, as openssl derives it.
    assert!(
        out.contains("name: mail2026._domainkey.paperboy.test"),
        "{out}"
    );
    assert!(out.contains(&format!("text: {record}")), "{record}\n{out}");
    let zone = out.lines().find(|l| l.contains("zone file:")).unwrap();
    let joined: String = zone
        .split('"')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .concat();
    assert_eq!(joined, record, "{zone}");
    assert!(zone.split('"').skip(1).step_by(2).all(|s| s.len() <= 255));
    assert!(out.contains("0 failing"), "{out}");

    // An Ed25519 key: the bare 32-byte key (RFC 8463), fitting one string.
    let ed = tempfile::tempdir().unwrap();
    let (key, record) = crate::dkim::key_pair(crate::dkim::Kind::Ed25519, ed.path());
    let mut env = env.to_vec();
    env.push(("PAPERBOY_MAIL__DKIM_KEY_FILE", key.display().to_string()));
    let (ok, out, err) = doctor(&db.url, dir.path(), &env);
    assert!(ok, "{out}{err}");
    assert!(
        record.contains("k=ed25519") && out.contains(&format!("text: {record}")),
        "{record}\n{out}"
    );
}

/// A relay with STARTTLS and AUTH, as delivery talks to it: doctor goes through both, and
/// names what fails when the password or the trusted certificate is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_through_starttls_and_auth() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_certificate(dir.path());
    let relay = crate::helpers::MailSink::start_with(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        mailin_embedded::SslConfig::SelfSigned {
            cert_path: cert.display().to_string(),
            key_path: key.display().to_string(),
        },
        Some(mailin_embedded::AuthMechanism::Plain),
    );
    let db = format!("sqlite://{}", dir.path().join("paperboy.db").display());
    let (ok, _, err) = crate::cli::paperboy(&db, dir.path(), &["migrate"]);
    assert!(ok, "{err}");
    let user = crate::helpers::RELAY_USER;
    let run = |password: &str, ca: bool| {
        let mut env = vec![(
            "PAPERBOY_SMTP_URL",
            format!("smtp://{user}:{password}@{}?tls=required", relay.addr),
        )];
        if ca {
            env.push(("PAPERBOY_MAIL__TLS_CA_FILE", cert.display().to_string()));
        }
        doctor(&db, dir.path(), &env)
    };
    let (_, out, _) = run("relay%20p%40ss%3Aword", true);
    let line = line_of(&out, "relay");
    assert!(
        line.starts_with("ok ") && line.contains("EHLO, STARTTLS, AUTH, QUIT done"),
        "{out}"
    );
    assert!(relay.all().is_empty(), "doctor sent mail");

    let (ok, out, _) = run("wrong", true);
    assert!(!ok);
    let line = line_of(&out, "relay");
    assert!(line.starts_with("fail") && line.contains("535"), "{out}");
    assert!(!out.contains("wrong"), "the password is shown: {out}");

    let (ok, out, _) = run("relay%20p%40ss%3Aword", false);
    assert!(!ok);
    assert!(
        line_of(&out, "relay").contains("TLS with the relay"),
        "{out}"
    );
}

/// A relay whose greeting carries a date ten minutes behind ours (as Exim writes one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_compares_the_clock_with_the_relays() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let then = chrono::Utc::now() - chrono::Duration::minutes(10);
                let hello = format!("220 relay.test ESMTP Exim 4.96 {}\r\n", then.to_rfc2822());
                let _ = write.write_all(hello.as_bytes()).await;
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.to_ascii_uppercase();
                    let reply: &[u8] = if verb.starts_with("EHLO") {
                        b"250-relay.test\r\n250 8BITMIME\r\n"
                    } else if verb.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"500 what?\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("paperboy.db").display());
    let env = [("PAPERBOY_SMTP_URL", format!("smtp://{addr}"))];
    let (ok, out, _) = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || doctor(&db, &dir, &env)
    })
    .await
    .unwrap();
    assert!(!ok, "{out}");
    let line = line_of(&out, "clock");
    assert!(
        line.starts_with("fail") && line.contains("ahead of the relay's"),
        "{out}"
    );
    let skew: i64 = line
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("the skew in seconds");
    assert!((595..=610).contains(&skew), "{line}");
    assert!(line.contains("NTP"), "{line}");
}

async fn doctor_says_what_is_broken(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let (ok, _, err) = crate::cli::paperboy(&db.url, dir.path(), &["migrate"]);
    assert!(ok, "{err}");
    // A relay port nothing listens on, DKIM half set, a bounce address nothing reads.
    let closed = free_port();
    let env = [
        ("PAPERBOY_SMTP_URL", format!("smtp://127.0.0.1:{closed}")),
        ("PAPERBOY_MAIL__DKIM_DOMAIN", "paperboy.test".into()),
        (
            "PAPERBOY_MAIL__BOUNCE_ADDRESS",
            "bounces@paperboy.test".into(),
        ),
    ];
    let (ok, out, err) = doctor(&db.url, dir.path(), &env);
    assert!(!ok, "{out}");
    assert!(err.contains("check(s) failed"), "{err}");
    let relay = line_of(&out, "relay");
    assert!(
        relay.starts_with("fail")
            && relay.contains(&format!("127.0.0.1:{closed}"))
            && relay.to_lowercase().contains("connection refused")
            && relay.contains("is the relay running"),
        "{out}"
    );
    let dkim = line_of(&out, "dkim");
    assert!(
        dkim.starts_with("fail") && dkim.contains("mail.dkim_key_file"),
        "{out}"
    );
    let bounces = line_of(&out, "bounces");
    assert!(
        bounces.starts_with("fail") && bounces.contains("inbound.bind"),
        "{out}"
    );
    // With no relay answering, the clock is not compared.
    assert!(line_of(&out, "clock").starts_with("warn"), "{out}");
    assert!(line_of(&out, "database").starts_with("ok "), "{out}");

    // A configuration file that does not load: the one finding, and it says why.
    let file = dir.path().join("paperboy.toml");
    std::fs::write(&file, "no_such_key = true\n").unwrap();
    let (ok, out, _) = doctor(
        &db.url,
        dir.path(),
        &[("PAPERBOY_CONFIG", file.display().to_string())],
    );
    assert!(!ok);
    let line = line_of(&out, "configuration");
    assert!(
        line.starts_with("fail") && line.contains("no_such_key"),
        "{out}"
    );
    assert!(
        out.contains("1 checks: 0 ok, 0 to look at, 1 failing"),
        "{out}"
    );
    // A value the loader refuses, and a file that is not there.
    let (ok, out, _) = doctor(
        &db.url,
        dir.path(),
        &[("PAPERBOY_HEALTH__OUTBOX_WARN_SECONDS", "999999".into())],
    );
    assert!(
        !ok && line_of(&out, "configuration").contains("health:"),
        "{out}"
    );
    let missing = dir.path().join("missing.toml").display().to_string();
    let (ok, out, _) = doctor(&db.url, dir.path(), &[("PAPERBOY_CONFIG", missing.clone())]);
    assert!(
        !ok && line_of(&out, "configuration").contains(&missing),
        "{out}"
    );
}

/// `paperboy doctor` with these variables.
fn doctor(
    database_url: &str,
    data_dir: &std::path::Path,
    env: &[(&str, String)],
) -> (bool, String, String) {
    paperboy_with(database_url, data_dir, &["doctor"], env)
}

/// The line of check `name` in doctor's output.
fn line_of(out: &str, name: &str) -> String {
    out.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no {name} line in:\n{out}"))
        .to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    Up = 0,
    /// Every connection is closed, new ones at once: the server is gone.
    Refusing = 1,
    /// Connections are taken and nothing is said: the server hangs.
    Hanging = 2,
}

/// A TCP proxy in front of a database server that can be cut.
struct Proxy {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    /// Bumped at each change, so that open connections end.
    epoch: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Proxy {
    async fn start(to: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(Mode::Up as u8));
        let (epoch, _) = tokio::sync::watch::channel(0u64);
        let epoch = Arc::new(epoch);
        let (m, e) = (mode.clone(), epoch.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mode = m.load(Ordering::SeqCst);
                let mut changed = e.subscribe();
                tokio::spawn(async move {
                    if mode == Mode::Refusing as u8 {
                        return;
                    }
                    if mode == Mode::Hanging as u8 {
                        let _ = changed.changed().await;
                        return;
                    }
                    let Ok(mut server) = tokio::net::TcpStream::connect(to).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = changed.changed() => {}
                    }
                });
            }
        });
        Self { addr, mode, epoch }
    }

    fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
        self.epoch.send_modify(|e| *e += 1);
    }
}
