//! Retention benchmark: simulated days of a service at N readers, each day written as
//! composing and delivering would leave it (a digest of ten papers with their reasons for
//! every reader, its delivery attempt, the record of who was sent each paper, the day's 2,000
//! papers, sign-up mails, bounce events, ingest runs), then the day's retention run through
//! the service (`Maintenance::run`, as the scheduler calls it) with 30-day windows (reasons
//! dropped after 7). Prints, per day, the database's size after retention, the rows removed,
//! the run's time, and the latency of sign-ups and of delivery while it runs, next to the
//! same probes with no retention running (the machine is shared: side by side, one run).
//!
//!     cargo bench --bench retention                                   # SQLite, 100,000 readers, 60 days
//!     BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench retention
//!     BENCH_READERS=1000000 BENCH_DAYS=1 cargo bench --bench retention  # one day at 1M:
//!         # its compaction, then its removal, each as one day's run
//!     BENCH_SVG=docs/retention.svg ...       # also plot the sizes of every run kept under
//!                                            # target/ (BENCH_DAYS=0: only plot them)
//!
//! Setup writes rows with plain multi-row INSERTs and INSERT ... SELECT: what is measured is
//! retention, not the writing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use paperboy::app::App;
use paperboy::config::Config;
use paperboy::domain::{
    ArxivId, DigestContent, DigestEntry, DigestKind, Interests, Reason, SubscriptionInput,
};
use paperboy::maintenance::RetentionReport;
use paperboy::services::Services;

#[path = "common/db.rs"]
mod db;
use db::{Db, on_bench_database, pool_of};

const PAPERS_A_DAY: usize = 2000;
const WINDOW: u32 = 30;
const CONTENT_DAYS: u32 = 7;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn paper_id(day: usize, i: usize) -> String {
    format!("{:02}{:02}.{:05}", 20 + day / 12, 1 + day % 12, i)
}

fn ts(day: NaiveDate) -> i64 {
    day.and_hms_opt(6, 0, 0).unwrap().and_utc().timestamp()
}

/// A digest as composing writes it: ten of the day's papers, each with the reasons a topic
/// reader gets (about 1,300 bytes, as measured after a 1M compose); as stored, the content
/// without the reasons and the reasons apart.
fn content(day: usize, reader: usize) -> (String, String) {
    let entries = (0..10)
        .map(|k| DigestEntry {
            paper: ArxivId::parse(&paper_id(day, (reader * 7 + k * 193) % PAPERS_A_DAY)).unwrap(),
            version: Some(1),
            new_version: false,
            reasons: vec![
                Reason {
                    interest: "Large language models".into(),
                    words: vec!["language".into(), "model".into(), "reasoning".into()],
                    liked: None,
                },
                Reason {
                    interest: "your keywords".into(),
                    words: vec!["retrieval augmented".into()],
                    liked: None,
                },
            ],
        })
        .collect();
    let c = DigestContent {
        kind: DigestKind::Personal,
        entries,
        weekly: false,
    };
    (
        serde_json::to_string(&c.bare()).unwrap(),
        serde_json::to_string(&c.reasons()).unwrap(),
    )
}

async fn readers(db: &Db, n: usize) {
    let interests = serde_json::to_string(&Interests::default()).unwrap();
    on_db!(db, pool => {
        let mut tx = pool.begin().await.unwrap();
        for start in (0..n).step_by(1000) {
            let rows: Vec<String> = (start..n.min(start + 1000))
                .map(|i| format!("('bench{i:09}', 'reader{i}@example.org', 'active', $1, 'daily', NULL, 7, 'UTC', 10, TRUE, 1, 1, 1, 1)"))
                .collect();
            let sql = format!(
                "INSERT INTO subscribers (public_id, email, status, interests, frequency, weekday, \
                 delivery_hour, timezone, papers_per_digest, send_when_empty, created_at, updated_at, \
                 consent_at, confirmed_at) VALUES {}",
                rows.join(", ")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&interests).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    });
}

/// Everything one day leaves behind.
async fn write_day(db: &Db, d: usize, day: NaiveDate, n: usize) {
    let t = ts(day);
    let ymd = day.to_string();
    on_db!(db, pool => {
        let mut tx = pool.begin().await.unwrap();
        // The day's papers and the day each was featured on.
        let abstract_text = "We study a method for training models that reason over long contexts. ".repeat(14);
        for start in (0..PAPERS_A_DAY).step_by(200) {
            let ids: Vec<String> = (start..start + 200).map(|i| paper_id(d, i)).collect();
            let rows: Vec<String> = ids.iter().map(|id| format!(
                "('{id}', 1, 'A paper about models', $1, '[\"A. Author\"]', '[\"cs.LG\"]', '[]', '[\"huggingface\"]', $2, $2)")).collect();
            let sql = format!("INSERT INTO papers (id, version, title, abstract, authors, categories, keywords, sources, first_seen_at, updated_at) VALUES {}", rows.join(", "));
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&abstract_text).bind(t).execute(&mut *tx).await.unwrap();
            let rows: Vec<String> = ids.iter().map(|id| format!("('{id}', 'huggingface', $1)")).collect();
            let sql = format!("INSERT INTO paper_features (paper_id, source, day) VALUES {}", rows.join(", "));
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&ymd).execute(&mut *tx).await.unwrap();
        }
        // A digest for every reader, sent, with its one attempt.
        let (last,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM digests").fetch_one(&mut *tx).await.unwrap();
        let (bare, reasons) = content(d, 0);
        sqlx::query("INSERT INTO digests (subscriber_id, day, content, message_id, status, attempts, next_attempt_at, created_at, sent_at) \
                     SELECT id, $1, $2, 'bench.' || id || '.' || $1, 'sent', 1, $3, $3, $3 FROM subscribers WHERE public_id LIKE 'bench%'")
            .bind(&ymd).bind(bare).bind(t).execute(&mut *tx).await.unwrap();
        sqlx::query("INSERT INTO digest_reasons (digest_id, reasons) SELECT id, $1 FROM digests WHERE id > $2")
            .bind(reasons).bind(last.unwrap_or(0)).execute(&mut *tx).await.unwrap();
        sqlx::query("INSERT INTO delivery_attempts (digest_id, at, outcome) SELECT id, $1, 'sent' FROM digests WHERE id > $2")
            .bind(t).bind(last.unwrap_or(0)).execute(&mut *tx).await.unwrap();
        // Who was sent each paper: ten papers a reader, each paper's readers packed per block
        // of 4,096 ids, as composing writes them.
        let blocks = n.div_ceil(4096);
        let per_block = (10 * n / PAPERS_A_DAY / blocks).max(1);
        let blob: Vec<u8> = (0..per_block as u32).flat_map(|i| (i * 8).to_be_bytes()).collect();
        let pairs: Vec<(String, i64)> = (0..PAPERS_A_DAY)
            .flat_map(|p| (0..blocks as i64).map(move |b| (paper_id(d, p), b)))
            .collect();
        for chunk in pairs.chunks(1000) {
            let rows: Vec<String> = chunk.iter().map(|(id, b)| format!("('{id}', 1, $1, {b}, $2)")).collect();
            let sql = format!("INSERT INTO paper_recipients (paper_id, version, day, block, readers) VALUES {}", rows.join(", "));
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&ymd).bind(&blob).execute(&mut *tx).await.unwrap();
        }
        // Sign-ups (0.2 % of the readers a day), each with its confirmation mail and attempt;
        // bounces (0.1 %); two ingest runs.
        let (mails, bounces) = ((n / 500).max(1), (n / 1000).max(1));
        sqlx::query("INSERT INTO subscription_mails (kind, subscriber_id, client_ip, status, attempts, next_attempt_at, created_at, sent_at) \
                     SELECT 'confirmation', id, '192.0.2.1', 'sent', 1, $1, $1, $1 FROM subscribers WHERE public_id LIKE 'bench%' ORDER BY id LIMIT $2")
            .bind(t).bind(mails as i64).execute(&mut *tx).await.unwrap();
        sqlx::query("INSERT INTO mail_events (subscriber_id, kind, status, diagnostic, source, effect, at) \
                     SELECT id, 'soft_bounce', '4.2.2', 'mailbox full', 'relay', 'noted', $1 FROM subscribers WHERE public_id LIKE 'bench%' ORDER BY id LIMIT $2")
            .bind(t).bind(bounces as i64).execute(&mut *tx).await.unwrap();
        for source in ["huggingface", "arxiv"] {
            sqlx::query("INSERT INTO ingest_runs (source, day, origin, started_at, finished_at, new_papers) VALUES ($1, $2, 'bench', $3, $3, 1000)")
                .bind(source).bind(&ymd).bind(t).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    });
    if let Db::Postgres(p) = db {
        // As autovacuum would, before the day's retention reads the tables.
        sqlx::query("ANALYZE").execute(p).await.unwrap();
    }
}

#[derive(Default)]
struct Latencies(Vec<Duration>);

impl Latencies {
    fn percentile(&self, p: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort();
        v.get(((v.len() as f64 - 1.0) * p).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }
}

/// Sign-ups every 20 ms, each an HTTP POST to the served API as a reader's client sends it,
/// and the outbox's delivery of their mails every 100 ms, until `stop`.
async fn probe(
    services: Services,
    site: Site,
    stop: Arc<AtomicBool>,
    tag: String,
) -> (Latencies, Latencies) {
    let (mut sign_ups, mut deliveries) = (Latencies::default(), Latencies::default());
    let mut i = 0;
    let mut next_delivery = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let input = SubscriptionInput {
            email: format!("probe{tag}x{i}@example.org"),
            keywords: "retrieval".into(),
            ..Default::default()
        };
        let t = Instant::now();
        let answer = site
            .client
            .post(&site.sign_up)
            .json(&input)
            .send()
            .await
            .unwrap();
        sign_ups.0.push(t.elapsed());
        assert_eq!(
            answer.status(),
            reqwest::StatusCode::ACCEPTED,
            "{:?}",
            answer.text().await
        );
        if Instant::now() >= next_delivery {
            let t = Instant::now();
            services.deliver().await.unwrap();
            deliveries.0.push(t.elapsed());
            next_delivery = Instant::now() + Duration::from_millis(100);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (sign_ups, deliveries)
}

/// The served app's sign-up address, and a client (one connection, kept alive, as a form
/// behind a proxy would be).
#[derive(Clone)]
struct Site {
    client: reqwest::Client,
    sign_up: String,
}

/// Retention as of `as_of`, with the probes beside it; and the same probes for as long
/// with nothing else running.
async fn measured_run(
    services: &Services,
    site: &Site,
    as_of: NaiveDate,
    tag: &str,
) -> (RetentionReport, [f64; 4]) {
    let stop = Arc::new(AtomicBool::new(false));
    let probing = tokio::spawn(probe(
        services.clone(),
        site.clone(),
        stop.clone(),
        format!("{tag}r"),
    ));
    let report = services.maintenance.run(as_of, false).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let (busy_sign_ups, busy_deliveries) = probing.await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let probing = tokio::spawn(probe(
        services.clone(),
        site.clone(),
        stop.clone(),
        format!("{tag}i"),
    ));
    tokio::time::sleep(Duration::from_secs_f64(report.seconds.clamp(0.5, 3.0))).await;
    stop.store(true, Ordering::Relaxed);
    let (idle_sign_ups, _) = probing.await.unwrap();
    (
        report,
        [
            busy_sign_ups.percentile(0.99),
            idle_sign_ups.percentile(0.99),
            busy_deliveries.percentile(0.99),
            busy_sign_ups.0.len() as f64,
        ],
    )
}

async fn run(url: &str, n: usize, days: usize, data: &std::path::Path) -> Vec<(usize, f64)> {
    let config = Config::with_overrides(&[
        ("database_url", url.into()),
        ("data_dir", data.display().to_string().into()),
        (
            "secret",
            "a bench secret of at least thirty-two characters".into(),
        ),
        (
            "retention.digest_content_days",
            i64::from(CONTENT_DAYS).into(),
        ),
        ("retention.digests_days", i64::from(WINDOW).into()),
        (
            "retention.subscription_mails_days",
            i64::from(WINDOW).into(),
        ),
        ("retention.mail_events_days", i64::from(WINDOW).into()),
        ("retention.ingest_runs_days", i64::from(WINDOW).into()),
        ("retention.papers_days", i64::from(WINDOW).into()),
        // The probe signs up from one address every 20 ms: no limit may answer it instead.
        ("limits.posts_per_minute", 1_000_000.into()),
        ("limits.post_burst", 1_000_000.into()),
        ("subscribe.max_mails_per_client_per_hour", 1_000_000.into()),
        // The bench runs retention itself, as the daily job would.
        ("schedule.enabled", false.into()),
    ])
    .unwrap();
    // The service as `paperboy serve` runs it, on a port of its own.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = Site {
        client: reqwest::Client::new(),
        sign_up: format!(
            "http://{}/api/v1/subscriptions",
            listener.local_addr().unwrap()
        ),
    };
    let app = App::build_on(config, listener)
        .await
        .expect("the service starts");
    let services = app.services().clone();
    tokio::spawn(app.run());
    let db = pool_of(url).await;
    readers(&db, n).await;
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    println!(
        "| day | database after | removed rows | retention | sign-up p99 during / idle | delivery p99 during | sign-ups during |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut sizes = Vec::new();
    let as_ofs: Vec<(usize, NaiveDate)> = if days == 1 {
        write_day(&db, 0, start, n).await;
        vec![
            (1, start + Days::new(u64::from(CONTENT_DAYS) + 1)),
            (2, start + Days::new(u64::from(WINDOW) + 1)),
        ]
    } else {
        (0..days)
            .map(|d| (d, start + Days::new(d as u64)))
            .collect()
    };
    for (d, as_of) in as_ofs {
        if days > 1 {
            write_day(&db, d, as_of, n).await;
        }
        let (r, [busy, idle, delivery, count]) =
            measured_run(&services, &site, as_of, &d.to_string()).await;
        let removed: u64 = r.kinds.iter().map(|k| k.rows).sum();
        let mib = r.database_bytes_after as f64 / 1048576.0;
        sizes.push((d, mib));
        println!(
            "| {d} | {mib:.0} MiB | {removed} | {:.2} s | {busy:.1} / {idle:.1} ms | {delivery:.1} ms | {count} |",
            r.seconds
        );
        if let Db::Postgres(p) = &db {
            // The cost batched deletes leave behind on PostgreSQL: dead rows, and the VACUUM
            // (autovacuum's work) that makes their space reusable.
            let (dead,): (i64,) = sqlx::query_as(
                "SELECT COALESCE(SUM(n_dead_tup), 0)::BIGINT FROM pg_stat_user_tables",
            )
            .fetch_one(p)
            .await
            .unwrap();
            let t = Instant::now();
            sqlx::query("VACUUM").execute(p).await.unwrap();
            println!(
                "|  | dead rows {dead}, VACUUM {:.2} s |||||",
                t.elapsed().as_secs_f64()
            );
        }
        if r.seconds > 0.5 {
            let kinds: Vec<String> = r
                .kinds
                .iter()
                .filter(|k| k.rows > 0)
                .map(|k| format!("{} {}", k.kind.name(), k.rows))
                .collect();
            println!("|  | {} |||||", kinds.join(", "));
        }
    }
    sizes
}

/// A line chart of the database's size per day, as SVG.
fn svg(series: &[(String, Vec<(usize, f64)>)]) -> String {
    let (w, h, m) = (640.0, 360.0, 50.0);
    let max_x = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let max_y = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.1))
        .fold(1.0, f64::max)
        * 1.1;
    let x = |d: f64| m + d / max_x * (w - 2.0 * m);
    let y = |v: f64| h - m - v / max_y * (h - 2.0 * m);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <line x1=\"{m}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n<line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{}\" stroke=\"black\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">simulated day</text>\n<text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">database size (MiB)</text>\n",
        h - m,
        w - m,
        h - m,
        h - m,
        w / 2.0,
        h - 12.0,
        h / 2.0,
        h / 2.0
    );
    for i in 0..=4 {
        let v = max_y * f64::from(i) / 4.0;
        out += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v:.0}</text>\n",
            m - 4.0,
            y(v) + 4.0
        );
    }
    for d in (0..=max_x as usize).step_by(10) {
        out += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{d}</text>\n",
            x(d as f64),
            h - m + 16.0
        );
    }
    out += &format!(
        "<line x1=\"{0}\" y1=\"{m}\" x2=\"{0}\" y2=\"{1}\" stroke=\"grey\" stroke-dasharray=\"4\"/>\n<text x=\"{0}\" y=\"{2}\" fill=\"grey\"> {WINDOW}-day window</text>\n",
        x(f64::from(WINDOW)),
        h - m,
        m + 12.0
    );
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = ["#1f77b4", "#d62728"][i % 2];
        let line: Vec<String> = points
            .iter()
            .map(|(d, v)| format!("{:.1},{:.1}", x(*d as f64), y(*v)))
            .collect();
        out += &format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\n",
            line.join(" ")
        );
        out += &format!(
            "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{name}</text>\n",
            m + 10.0,
            m + 30.0 + 16.0 * i as f64
        );
    }
    out + "</svg>\n"
}

fn main() {
    let n = env("BENCH_READERS", 100_000);
    let days = env("BENCH_DAYS", 60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    if days == 0 {
        return plot();
    }
    let (name, sizes) = rt.block_on(on_bench_database(dir.path(), async |url| {
        run(&url, n, days, dir.path()).await
    }));
    // Each database's series is kept under target/, so that one chart shows both runs.
    let series_file = format!("target/retention-{name}-{n}.csv");
    let csv: String = sizes
        .iter()
        .map(|(d, mib)| format!("{d},{mib:.1}\n"))
        .collect();
    std::fs::write(&series_file, csv).expect("the series written");
    plot();
}

/// The chart of every simulated run kept under target/, to `BENCH_SVG` if set.
fn plot() {
    if let Ok(path) = std::env::var("BENCH_SVG") {
        let mut series = Vec::new();
        for entry in std::fs::read_dir("target").unwrap().flatten() {
            let file = entry.file_name().to_string_lossy().to_string();
            let Some(label) = file
                .strip_prefix("retention-")
                .and_then(|f| f.strip_suffix(".csv"))
            else {
                continue;
            };
            let points = std::fs::read_to_string(entry.path())
                .unwrap()
                .lines()
                .filter_map(|l| l.split_once(','))
                .map(|(d, v)| (d.parse().unwrap(), v.parse().unwrap()))
                .collect::<Vec<(usize, f64)>>();
            // A run of a day or two (the 1M rows) is no curve.
            if points.len() > 2 {
                series.push((label.replace('-', ", ") + " readers", points));
            }
        }
        series.sort_by(|a, b| a.0.cmp(&b.0));
        std::fs::write(&path, svg(&series)).expect("the SVG written");
        println!("wrote {path}");
    }
}
