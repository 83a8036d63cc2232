//! Console benchmark (issue 26): every page of the operator's console under `/admin`, and the
//! admin API call that reads the same thing, on a service of N readers with 30 days of mail
//! events, ratings, audit entries, digests and the daily figures, on SQLite and PostgreSQL
//! in one run. Each page is asked for sequentially (after a warm-up) through the served app
//! by a signed-in client, as an operator's browser would, its API twin right after it, so
//! both see the same machine; prints p50 and p99 of each. Also times the daily job's count
//! (`Stats::refresh`), which the dashboard reads instead of counting.
//!
//!     cargo bench --bench console                          # 1,000,000 readers, both databases
//!     cargo bench --bench console -- --readers 100000      # or BENCH_READERS=100000
//!     BENCH_REQUESTS=50 BENCH_DATABASES=sqlite cargo bench --bench console
//!
//! PostgreSQL: a database of its own on BENCH_POSTGRES_URL, else PAPERBOY_TEST_POSTGRES_URL,
//! else postgres://postgres@127.0.0.1:5432/test; skipped (said so) when unreachable.
//!
//! Setup writes rows with multi-row INSERTs and INSERT ... SELECT, as the other benches do:
//! what is measured is reading them. Digests (and their delivery attempts) are written for
//! one reader in a hundred only: 30 days for all would be 30 million rows to set up, and no
//! page reads them but a reader's own.

use std::time::{Duration, Instant};

use paperboy::app::App;
use paperboy::config::Config;
use paperboy::domain::{ArxivId, DigestContent, DigestEntry, DigestKind, Interests, TopicId};
use paperboy::services::Services;

#[path = "common/db.rs"]
#[allow(dead_code)] // picks one database; this bench runs both
mod db;
use db::{Db, on_postgres, pool_of};

const DAY: i64 = 86_400;
/// Days of events, ratings, digests and audit entries.
const DAYS: i64 = 30;
const ADMIN_TOKEN: &str = "a bench admin token of some length";

/// Topics and the share of readers (per mille, independently drawn) who follow each: a
/// skew like the catalogue's use. `human-centric-vision` nobody follows: the topic search's
/// worst case (see `Store::list`). `machine-translation` is the rare one (0.1 %).
const TOPICS: [(&str, u64); 10] = [
    ("llm", 300),
    ("nlp", 150),
    ("computer-vision", 120),
    ("multimodal", 100),
    ("retrieval-rag", 80),
    ("dialogue", 50),
    ("speech-audio", 30),
    ("image-generation", 20),
    ("3d-vision", 10),
    ("machine-translation", 1),
];
const NAMES: [&str; 16] = [
    "maria", "john", "wei", "aisha", "lucas", "olga", "kenji", "fatima", "pierre", "ana", "ivan",
    "sofia", "omar", "lena", "raj", "chloe",
];
const DOMAINS: [&str; 8] = [
    "example.org",
    "uni-example.edu",
    "mail.example.com",
    "lab.example.net",
    "example.ac.uk",
    "research.example.de",
    "example.fr",
    "inst.example.jp",
];
const REASONS: [&str; 4] = [
    "hard bounce 5.1.1 (relay): user unknown",
    "complaint (ses)",
    "3 soft bounces in 14 days",
    "by hand: asked by mail",
];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A reproducible draw for reader `i` (splitmix64): the bench needs no random crate.
fn draw(i: u64, salt: u64) -> u64 {
    let mut z = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn email(i: usize) -> String {
    format!(
        "{}.{i}@{}",
        NAMES[i % NAMES.len()],
        DOMAINS[(i / NAMES.len()) % DOMAINS.len()]
    )
}

fn paper_id(day: i64, k: i64) -> String {
    format!("2601.{:05}", day * 100 + k)
}

/// The readers, ids 1..=n in order of sign-up over two years: 5 % pending, 7 % unsubscribed,
/// 3 % suppressed (with a reason), the rest active; 0–3 topics each.
async fn readers(db: &Db, n: usize, now: i64) {
    let span = 730 * DAY;
    on_db!(db, pool => {
        let mut tx = pool.begin().await.unwrap();
        for start in (0..n).step_by(1000) {
            let rows: Vec<String> = (start..n.min(start + 1000)).map(|i| {
                let created = now - span + (i as i64) * span / n as i64;
                let later = |salt| created + (draw(i as u64, salt) % (now - created).max(1) as u64) as i64;
                let topics = TOPICS.iter().enumerate()
                    .filter(|(k, (_, per_mille))| draw(i as u64, 10 + *k as u64) % 1000 < *per_mille)
                    .map(|(_, (t, _))| TopicId::parse(t).unwrap())
                    .take(3)
                    .collect();
                let interests = serde_json::to_string(&Interests {
                    topics,
                    keywords: vec!["retrieval".into()],
                    ..Default::default()
                }).unwrap();
                let null = "NULL".to_string();
                let (status, confirmed, unsubscribed, suppressed, reason) = match draw(i as u64, 1) % 100 {
                    0..5 => ("pending", null.clone(), null.clone(), null.clone(), null.clone()),
                    5..12 => ("unsubscribed", (created + 600).to_string(), later(2).to_string(), null.clone(), null.clone()),
                    12..15 => ("suppressed", (created + 600).to_string(), null.clone(), later(3).to_string(),
                               format!("'{}'", REASONS[i % REASONS.len()])),
                    _ => ("active", (created + 600).to_string(), null.clone(), null.clone(), null.clone()),
                };
                format!("('bench{i:09}', '{}', '{status}', '{interests}', 'daily', NULL, 7, 'UTC', 10, TRUE, \
                         {created}, {created}, {created}, {confirmed}, {unsubscribed}, {suppressed}, {reason})", email(i))
            }).collect();
            let sql = format!(
                "INSERT INTO subscribers (public_id, email, status, interests, frequency, weekday, \
                 delivery_hour, timezone, papers_per_digest, send_when_empty, created_at, updated_at, \
                 consent_at, confirmed_at, unsubscribed_at, suppressed_at, suppression_reason) VALUES {}",
                rows.join(", ")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    });
}

/// 30 days of what the console reads beside the readers: each day's mail events (0.1 % of
/// the readers, so 3 % over the month; every source, every kind), ratings (0.5 %), digests
/// with their delivery attempt (1 % of the active readers; the day's ten papers), and the
/// confirmation mails of the month's sign-ups; audit entries (0.1 % of the readers a day);
/// and one reader with a long history (`history`).
async fn month(db: &Db, now: i64, history: i64) {
    let today = now.div_euclid(DAY);
    on_db!(db, pool => {
        let mut tx = pool.begin().await.unwrap();
        for d in 0..DAYS {
            let t = (today - d) * DAY + 6 * 3600;
            let day = chrono::DateTime::from_timestamp(t, 0).unwrap().date_naive().to_string();
            // Events: hard bounces and complaints suppress, the others are noted.
            sqlx::query(
                "INSERT INTO mail_events (subscriber_id, kind, status, diagnostic, source, effect, at) \
                 SELECT id, \
                   CASE id / 1000 % 10 WHEN 7 THEN 'hard_bounce' WHEN 8 THEN 'hard_bounce' \
                     WHEN 9 THEN 'complaint' WHEN 6 THEN 'delayed' ELSE 'soft_bounce' END, \
                   CASE WHEN id / 1000 % 10 IN (7, 8) THEN '5.1.1' ELSE '4.2.2' END, 'mailbox full', \
                   CASE id / 7 % 7 WHEN 0 THEN 'relay' WHEN 1 THEN 'listener' WHEN 2 THEN 'mailbox' \
                     WHEN 3 THEN 'ses' WHEN 4 THEN 'postmark' WHEN 5 THEN 'sendgrid' ELSE 'mailgun' END, \
                   CASE WHEN id / 1000 % 10 >= 7 THEN 'suppressed' ELSE 'noted' END, \
                   $1 + id % 43200 \
                 FROM subscribers WHERE (id + $2 * 37) % 1000 = 0")
                .bind(t).bind(d).execute(&mut *tx).await.unwrap();
            sqlx::query(
                "INSERT INTO ratings (subscriber_id, paper_id, rating, at) \
                 SELECT id, $1 || (id % 10), CASE WHEN id % 3 = 0 THEN 'fewer' ELSE 'more' END, $2 + id % 43200 \
                 FROM subscribers WHERE (id + $3 * 11) % 200 = 0")
                .bind(format!("2601.{:04}", d * 10)).bind(t).bind(d).execute(&mut *tx).await.unwrap();
            let entries = (0..10)
                .map(|k| DigestEntry {
                    paper: ArxivId::parse(&paper_id(d, k)).unwrap(),
                    version: Some(1),
                    new_version: false,
                    reasons: Vec::new(),
                })
                .collect();
            let content = DigestContent { kind: DigestKind::Personal, entries, weekly: false };
            sqlx::query(
                "INSERT INTO digests (subscriber_id, day, content, message_id, status, attempts, \
                 next_attempt_at, created_at, sent_at) \
                 SELECT id, $1, $2, 'bench.' || id || '.' || $1, 'sent', 1, $3, $3, $3 FROM subscribers \
                 WHERE id % 100 = $4 % 100 AND status = 'active' AND created_at < $3")
                .bind(&day).bind(serde_json::to_string(&content.bare()).unwrap()).bind(t).bind(history)
                .execute(&mut *tx).await.unwrap();
            sqlx::query(
                "INSERT INTO delivery_attempts (digest_id, at, outcome) SELECT id, sent_at, 'sent' FROM digests WHERE day = $1")
                .bind(&day).execute(&mut *tx).await.unwrap();
            for k in 0..10 {
                sqlx::query(
                    "INSERT INTO papers (id, version, title, abstract, authors, categories, keywords, sources, \
                     first_seen_at, updated_at) VALUES ($1, 1, $2, 'An abstract.', '[\"A. Author\"]', '[\"cs.LG\"]', '[]', \
                     '[\"huggingface\"]', $3, $3)")
                    .bind(paper_id(d, k)).bind(format!("A paper about models, number {k} of {day}"))
                    .bind(t).execute(&mut *tx).await.unwrap();
            }
            sqlx::query(
                "INSERT INTO audit_log (at, actor_kind, actor, origin, action, subject, before, after) \
                 SELECT $1 + id % 43200, CASE id % 3 WHEN 0 THEN 'cli' WHEN 1 THEN 'api' ELSE 'console' END, \
                   CASE id % 3 WHEN 0 THEN 'root' WHEN 1 THEN 'admin token' ELSE 'alice' END, '192.0.2.7', \
                   CASE id / 1000 % 8 WHEN 0 THEN 'suppress' WHEN 1 THEN 'lift' WHEN 2 THEN 'export' \
                     WHEN 3 THEN 'import' WHEN 4 THEN 'sign_in' WHEN 5 THEN 'unsubscribe' \
                     WHEN 6 THEN 'resend_confirmation' ELSE 'add' END, \
                   'subscriber ' || id, 'active', 'suppressed' \
                 FROM subscribers WHERE (id + $2 * 13) % 1000 = 0 ORDER BY id")
                .bind(t).bind(d).execute(&mut *tx).await.unwrap();
        }
        sqlx::query(
            "INSERT INTO subscription_mails (kind, subscriber_id, client_ip, status, attempts, next_attempt_at, created_at, sent_at) \
             SELECT 'confirmation', id, '192.0.2.1', 'sent', 1, created_at, created_at, created_at + 5 \
             FROM subscribers WHERE created_at >= $1")
            .bind(now - DAYS * DAY).execute(&mut *tx).await.unwrap();
        // The long history: an event and a rating most days, confirmation mails sent again.
        for d in 0..DAYS {
            let t = (today - d) * DAY + 9 * 3600;
            sqlx::query(
                "INSERT INTO mail_events (subscriber_id, kind, status, diagnostic, source, effect, at) \
                 VALUES ($1, 'soft_bounce', '4.2.2', 'mailbox full', 'mailbox', 'noted', $2), \
                 ($1, 'delayed', '4.4.1', 'no answer from host', 'relay', 'noted', $2 + 60)")
                .bind(history).bind(t).execute(&mut *tx).await.unwrap();
            sqlx::query(
                "INSERT INTO ratings (subscriber_id, paper_id, rating, at) VALUES ($1, $2, 'more', $3) \
                 ON CONFLICT DO NOTHING")
                .bind(history).bind(paper_id(d, 3)).bind(t).execute(&mut *tx).await.unwrap();
            if d % 6 == 0 {
                sqlx::query(
                    "INSERT INTO subscription_mails (kind, subscriber_id, client_ip, status, attempts, next_attempt_at, created_at, sent_at) \
                     VALUES ('confirmation', $1, '192.0.2.9', 'sent', 1, $2, $2, $2)")
                    .bind(history).bind(t).execute(&mut *tx).await.unwrap();
            }
        }
        tx.commit().await.unwrap();
    });
}

/// One page of the console and, where it has one, the API call that reads the same.
struct Probe {
    what: &'static str,
    page: String,
    /// Text the first answer must hold: the page found what it was asked for.
    expect: String,
    api: Option<String>,
}

fn percentile(v: &[Duration], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort();
    v.get(((v.len() as f64 - 1.0) * p).round() as usize)
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

async fn get(client: &reqwest::Client, url: &str, bearer: bool) -> (Duration, String) {
    let mut r = client.get(url);
    if bearer {
        r = r.bearer_auth(ADMIN_TOKEN);
    }
    let t = Instant::now();
    let answer = r.send().await.unwrap();
    let status = answer.status();
    let body = answer.text().await.unwrap();
    let took = t.elapsed();
    assert_eq!(status, reqwest::StatusCode::OK, "{url}: {body:.300}");
    (took, body)
}

/// The form's token on a page.
fn form_token(page: &str) -> String {
    let start = page.find("name=\"form_token\" value=\"").expect("a form") + 25;
    page[start..start + page[start..].find('"').unwrap()].to_string()
}

/// A row of figures: p50, p99 (ms) and how many were asked, console then API.
type Figures = (f64, f64, usize, Option<(f64, f64)>);

async fn run(url: &str, n: usize, requests: usize, dir: &std::path::Path) -> Vec<Figures> {
    let config = Config::with_overrides(&[
        ("database_url", url.into()),
        ("data_dir", dir.display().to_string().into()),
        (
            "secret",
            "a bench secret of at least thirty-two characters".into(),
        ),
        ("admin_token", ADMIN_TOKEN.into()),
        // The bench runs the daily count itself.
        ("schedule.enabled", false.into()),
    ])
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = App::build_on(config, listener)
        .await
        .expect("the service starts");
    let services: Services = app.services().clone();
    tokio::spawn(app.run());
    let db = pool_of(url).await;
    let now = chrono::Utc::now().timestamp();
    // The reader with a long history: one of those with digests, in the middle.
    let history = (n as i64 / 2..)
        .find(|&i| i % 100 == 7 && draw(i as u64 - 1, 1) % 100 >= 15)
        .unwrap();
    let t = Instant::now();
    readers(&db, n, now).await;
    let seeded_readers = t.elapsed().as_secs_f64();
    let t = Instant::now();
    month(&db, now, history).await;
    let seeded_month = t.elapsed().as_secs_f64();
    if let Db::Postgres(p) = &db {
        // As autovacuum would after such writes. (SQLite: the service never runs ANALYZE, so
        // neither does the bench: its plans are those of a real database.)
        sqlx::query("ANALYZE").execute(p).await.unwrap();
    }
    let count = |sql: &'static str| {
        let db = &db;
        async move {
            let (c,): (i64,) = on_db!(db, p => sqlx::query_as(sql).fetch_one(p).await.unwrap());
            c
        }
    };
    println!(
        "seeded {n} readers in {seeded_readers:.1} s; the month ({} events, {} ratings, {} digests, {} audit entries) in {seeded_month:.1} s",
        count("SELECT COUNT(*) FROM mail_events").await,
        count("SELECT COUNT(*) FROM ratings").await,
        count("SELECT COUNT(*) FROM digests").await,
        count("SELECT COUNT(*) FROM audit_log").await,
    );
    // The daily job's count: the first ever (90 days back), then a day's (from yesterday).
    let t = Instant::now();
    let first = services.stats.refresh(now).await.unwrap();
    let first_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    services.stats.refresh(now + 60).await.unwrap();
    let daily_s = t.elapsed().as_secs_f64();
    println!(
        "Stats::refresh: first ({} to {}) {first_s:.2} s; the next day's {daily_s:.2} s",
        first.from, first.to
    );

    // Signed in with the admin token (an empty name), as the sign-in form takes it.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (_, form) = get(&client, &format!("{base}/admin/sign-in"), false).await;
    let signed = client
        .post(format!("{base}/admin/sign-in"))
        .form(&[
            ("form_token", form_token(&form).as_str()),
            ("name", ""),
            ("password", ADMIN_TOKEN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), reqwest::StatusCode::SEE_OTHER, "signed in");

    let deep = n as i64 * 9 / 10;
    let wanted = email(n * 7 / 9);
    let prefix = &wanted[..wanted.find('@').unwrap()];
    let today = chrono::DateTime::from_timestamp(now, 0)
        .unwrap()
        .date_naive();
    let week_ago = today - chrono::Days::new(7);
    let probes = [
        Probe {
            what: "dashboard (API: counts)",
            page: "/admin".into(),
            expect: "Readers".into(),
            api: Some("/api/v1/admin/counts".into()),
        },
        Probe {
            what: "readers, first page",
            page: "/admin/readers".into(),
            expect: email(0),
            api: Some("/api/v1/admin/subscribers?limit=50".into()),
        },
        Probe {
            what: "readers, address prefix",
            page: format!("/admin/readers?email={prefix}"),
            expect: wanted.clone(),
            api: Some(format!("/api/v1/admin/subscribers?limit=50&email={prefix}")),
        },
        Probe {
            what: "readers, whole address",
            page: format!("/admin/readers?email={wanted}"),
            expect: wanted.clone(),
            api: Some(format!("/api/v1/admin/subscribers?limit=50&email={wanted}")),
        },
        Probe {
            what: "readers, state suppressed",
            page: "/admin/readers?status=suppressed".into(),
            expect: "suppressed".into(),
            api: Some("/api/v1/admin/subscribers?limit=50&status=suppressed".into()),
        },
        Probe {
            what: "readers, state pending, deep page",
            page: format!("/admin/readers?status=pending&after={deep}"),
            expect: "pending".into(),
            api: Some(format!(
                "/api/v1/admin/subscribers?limit=50&status=pending&after={deep}"
            )),
        },
        Probe {
            what: "readers, deep keyset page",
            page: format!("/admin/readers?after={deep}"),
            expect: email(deep as usize),
            api: Some(format!("/api/v1/admin/subscribers?limit=50&after={deep}")),
        },
        Probe {
            what: "readers, topic llm (30 %)",
            page: "/admin/readers?topic=llm".into(),
            expect: "llm".into(),
            api: None,
        },
        Probe {
            what: "readers, topic machine-translation (0.1 %)",
            page: "/admin/readers?topic=machine-translation".into(),
            expect: "machine-translation".into(),
            api: None,
        },
        Probe {
            what: "readers, topic nobody follows",
            page: "/admin/readers?topic=human-centric-vision".into(),
            expect: "Readers".into(),
            api: None,
        },
        Probe {
            what: "a reader with a long history",
            page: format!("/admin/readers/{history}"),
            expect: "digest of".into(),
            api: None,
        },
        Probe {
            what: "deliverability (API: events)",
            page: "/admin/deliverability".into(),
            expect: "mailbox full".into(),
            api: Some("/api/v1/admin/events?limit=50".into()),
        },
        Probe {
            what: "deliverability, complaints",
            page: "/admin/deliverability?kind=complaint".into(),
            expect: "complaint".into(),
            api: None,
        },
        Probe {
            what: "deliverability, ses, last 7 days",
            page: format!("/admin/deliverability?source=ses&from={week_ago}&to={today}"),
            expect: "ses".into(),
            api: None,
        },
        Probe {
            what: "deliverability, hard bounces via mailgun, a day a week ago",
            page: format!(
                "/admin/deliverability?kind=hard_bounce&source=mailgun&from={week_ago}&to={week_ago}"
            ),
            expect: "Deliverability".into(),
            api: None,
        },
        Probe {
            what: "deliverability, suppressions deep page (API: suppressions)",
            page: format!("/admin/deliverability?suppressed_after={deep}"),
            expect: "Deliverability".into(),
            api: Some(format!("/api/v1/admin/suppressions?limit=50&after={deep}")),
        },
        Probe {
            what: "audit log",
            page: "/admin/audit".into(),
            expect: "subscriber ".into(),
            api: None,
        },
        Probe {
            what: "audit log, lifts by the API",
            page: "/admin/audit?action=lift&actor=api".into(),
            expect: "lift".into(),
            api: None,
        },
        Probe {
            what: "import form",
            page: "/admin/import".into(),
            expect: "form_token".into(),
            api: None,
        },
    ];
    // A probe asks at most this long (its count said), so that a slow page does not hold the
    // run for minutes: 200 requests at a second each would.
    let budget = Duration::from_secs(env("BENCH_PROBE_SECONDS", 40) as u64);
    let mut out = Vec::new();
    for probe in &probes {
        let page = format!("{base}{}", probe.page);
        let api = probe.api.as_ref().map(|a| format!("{base}{a}"));
        let (_, body) = get(&client, &page, false).await;
        assert!(
            body.contains(&probe.expect),
            "{}: {:?} not on the page",
            probe.what,
            probe.expect
        );
        // Warm-up: caches, prepared statements, PostgreSQL's switch to a generic plan
        // (after five runs of a statement).
        for _ in 0..10 {
            get(&client, &page, false).await;
            if let Some(a) = &api {
                get(&client, a, true).await;
            }
        }
        let (mut pages, mut calls) = (Vec::new(), Vec::new());
        let start = Instant::now();
        while pages.len() < requests && (pages.len() < 20 || start.elapsed() < budget) {
            pages.push(get(&client, &page, false).await.0);
            if let Some(a) = &api {
                calls.push(get(&client, a, true).await.0);
            }
        }
        let api = api.map(|_| (percentile(&calls, 0.5), percentile(&calls, 0.99)));
        let f = (
            percentile(&pages, 0.5),
            percentile(&pages, 0.99),
            pages.len(),
            api,
        );
        eprintln!("{}: {f:?}", probe.what);
        out.push(f);
    }
    print_table(&probes, &out);
    out
}

fn print_table(probes: &[Probe], figures: &[Figures]) {
    println!("| page | console p50 / p99 | API p50 / p99 | requests |");
    println!("|---|---:|---:|---:|");
    for (p, (p50, p99, count, api)) in probes.iter().zip(figures) {
        let api = api.map_or_else(|| "—".into(), |(a, b)| format!("{a:.1} / {b:.1} ms"));
        let flag = if *p99 > 200.0 { " **over 200 ms**" } else { "" };
        println!(
            "| {} `{}` | {p50:.1} / {p99:.1} ms{flag} | {api} | {count} |",
            p.what, p.page
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench` to the binary; `--readers N` may come after `--`.
    let args: Vec<String> = std::env::args().collect();
    let n = args
        .iter()
        .position(|a| a == "--readers")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| env("BENCH_READERS", 1_000_000));
    let requests = env("BENCH_REQUESTS", 200);
    let databases = std::env::var("BENCH_DATABASES").unwrap_or("sqlite,postgres".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if databases.contains("sqlite") {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            println!("## SQLite, {n} readers, {requests} requests a page");
            run(&url, n, requests, dir.path()).await;
        }
        if databases.contains("postgres") {
            let admin = std::env::var("BENCH_POSTGRES_URL")
                .or_else(|_| std::env::var("PAPERBOY_TEST_POSTGRES_URL"))
                .unwrap_or("postgres://postgres@127.0.0.1:5432/test".into());
            if sqlx::PgPool::connect(&admin).await.is_err() {
                println!("## PostgreSQL skipped: {admin} unreachable");
                return;
            }
            let dir = tempfile::tempdir().unwrap();
            println!("## PostgreSQL, {n} readers, {requests} requests a page");
            on_postgres(&admin, |url| async move {
                run(&url, n, requests, dir.path()).await
            })
            .await;
        }
    });
}
