//! Compose benchmark: one day of 2,000 real papers composed for N readers on a fresh SQLite
//! file (the embedded default): the time, the peak memory while composing, and the outbox it
//! leaves. A second row composes the next day with the same papers, all sent the day before:
//! the worst case for looking up what readers were sent.
//!
//!     cargo bench --bench compose                        # 100,000 readers
//!     BENCH_READERS=1000000 cargo bench --bench compose  # the README's figures
//!     BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench compose
//!                                                        # on PostgreSQL (its own database)
//!
//! It also times five previews for one new reader (`digest::preview_interests`, what the
//! form's `POST /preview` runs) against that day: the first builds the day's composer, the
//! others reuse it.
//!
//! Readers come from `paperboy::matching::bench::population`: topics, keywords, authors and
//! liked papers drawn from real abstracts (benches/data/dev.jsonl), and for one reader in ten
//! 5 to 40 ratings of those papers; every topic is learned from the papers' categories.
//! Readers and ratings are written with plain multi-row INSERTs: setting up is not what is
//! measured.

use std::time::Instant;

use chrono::NaiveDate;
use paperboy::config::Config;
use paperboy::context::Context;
use paperboy::domain::{ArxivId, Paper, PaperSource, TopicCatalogue};
use paperboy::matching::Rating;
use paperboy::matching::bench::{Reader, Record, population};
use paperboy::measure::{peak_rss_mib, reset_peak_rss};
use paperboy::services::Services;

#[path = "common/db.rs"]
mod db;
use db::{on_bench_database, pool_of};
use paperboy::store::Store;

const RECORDS: &str = include_str!("data/dev.jsonl");
const TOPICS: &str = include_str!("../config/topics.toml");
const DAY_PAPERS: usize = 2000;

fn records() -> Vec<Record> {
    RECORDS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a record");
            let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let list = |k: &str| -> Vec<String> {
                v[k].as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            Record {
                title: text("title"),
                abstract_text: text("abstract"),
                authors: list("authors"),
                upvotes: v["upvotes"].as_i64().unwrap_or(0),
                categories: list("categories"),
            }
        })
        .collect()
}

fn id_of(i: usize) -> ArxivId {
    ArxivId::parse(&format!("2605.{:05}", 10_000 + i)).expect("an arXiv id")
}

/// Every record as a stored paper: the first `DAY_PAPERS` featured on `day`, the rest the
/// day before (they are what readers liked, and the corpus).
async fn papers(store: &Store, records: &[Record], day: NaiveDate) {
    let papers: Vec<Paper> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut p = Paper::new(
                id_of(i),
                r.title.clone(),
                r.abstract_text.clone(),
                PaperSource::HuggingFace,
            );
            p.authors = r.authors.clone();
            p.categories = r.categories.clone();
            p.upvotes = Some(r.upvotes);
            p.featured_on = Some(if i < DAY_PAPERS {
                day
            } else {
                day.pred_opt().unwrap()
            });
            p
        })
        .collect();
    // Stored now: the last week's papers are what a "more like this" page looks among.
    store
        .upsert_papers(&papers, paperboy::clock::timestamp())
        .await
        .expect("papers stored");
}

/// Readers straight into the table, active, 500 a statement, in one transaction.
async fn readers(url: &str, population: &[Reader]) {
    on_db!(pool_of(url).await, pool => {
        let mut tx = pool.begin().await.unwrap();
        for (c, chunk) in population.chunks(500).enumerate() {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = 5 * i;
                    format!(
                        "(${}, ${}, 'active', ${}, 'daily', NULL, 7, 'UTC', ${}, ${}, 1, 1, 1, 1)",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO subscribers (public_id, email, status, interests, frequency, weekday, \
                 delivery_hour, timezone, papers_per_digest, send_when_empty, created_at, updated_at, \
                 consent_at, confirmed_at) VALUES {}",
                rows.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (i, r) in chunk.iter().enumerate() {
                let n = c * 500 + i;
                let mut interests = r.interests.clone();
                interests.liked = r.liked.iter().map(|&l| id_of(l as usize)).collect();
                q = q
                    .bind(format!("bench{n:09}"))
                    .bind(format!("reader{n}@example.org"))
                    .bind(serde_json::to_string(&interests).unwrap())
                    .bind(r.papers.clamp(1, 50) as i64)
                    .bind(r.trending_when_empty);
            }
            q.execute(&mut *tx).await.expect("readers stored");
        }
        tx.commit().await.unwrap();
        // The rated readers' ratings (ids are contiguous: one transaction on a fresh
        // database), 1,000 a statement.
        let (first,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM subscribers")
            .fetch_one(&pool).await.unwrap();
        let rows: Vec<(i64, String, &str, i64)> = population
            .iter()
            .enumerate()
            .flat_map(|(n, r)| {
                r.ratings.iter().map(move |x| {
                    let rating = match x.rating {
                        Rating::More => "more",
                        Rating::Fewer => "fewer",
                    };
                    (first + n as i64, id_of(x.paper as usize).to_string(), rating, x.at)
                })
            })
            .collect();
        let mut tx = pool.begin().await.unwrap();
        for chunk in rows.chunks(1000) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
                .collect();
            let sql = format!(
                "INSERT INTO ratings (subscriber_id, paper_id, rating, at) VALUES {} ON CONFLICT DO NOTHING",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, paper, rating, at) in chunk {
                q = q.bind(*id).bind(paper.as_str()).bind(*rating).bind(*at);
            }
            q.execute(&mut *tx).await.expect("ratings stored");
        }
        tx.commit().await.unwrap();
        pool.close().await;
    })
}

async fn run(url: &str, n: usize, records: &[Record], catalogue: &TopicCatalogue) {
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    let config = Config::with_overrides(&[
        ("database_url", url.into()),
        ("base_url", "https://papers.example.org".into()),
        ("secret", "bench-secret-bench-secret-bench-secret-0".into()),
    ])
    .unwrap();
    let services = Services::new(Context::start(config).await.expect("a database"));
    let ctx = &services.ctx;
    let store = ctx.store.clone();
    papers(&store, records, day).await;
    // Every topic learned from the stored papers' categories, as each ingest does.
    let learned = paperboy::learning::learn_topics(&store, ctx.catalogue.clone())
        .await
        .expect("topics learned");
    println!(
        "(topics: {} of {} learned from {} papers in {:.2} s)",
        learned.learned,
        learned.topics,
        learned.papers,
        learned.took.as_secs_f64()
    );
    let started = Instant::now();
    {
        let population = population(catalogue, records, n, 7);
        readers(url, &population).await;
    }
    let t_setup = started.elapsed();
    preview(&services).await;
    similar(&services).await;
    let label = n.to_string();
    measure(&services, url, n, day, &label, t_setup).await;
    // The next day features the same papers, all sent the day before: every batch now looks
    // up what its readers were sent, the path a day with re-announced papers takes, and a
    // weekly reader's always.
    let next = day.succ_opt().unwrap();
    papers(&store, records, next).await;
    let label = format!("{n}, next day, same papers");
    measure(&services, url, n, next, &label, t_setup).await;
    store.close().await;
}

/// The form's preview for a reader who ticked two topics and named two liked papers, as
/// `POST /preview` computes it: the latest day matched for one unsaved reader.
async fn preview(services: &Services) {
    let ctx = &services.ctx;
    let input = paperboy::domain::SubscriptionInput {
        email: "preview@example.org".into(),
        topics: vec!["llm".into(), "agents".into()],
        liked: format!("{} {}", id_of(0).as_str(), id_of(1).as_str()),
        ..Default::default()
    };
    let new = paperboy::domain::NewSubscription::parse(&input, &ctx.catalogue).unwrap();
    let mut took = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let preview = services
            .digests
            .preview_interests(&new)
            .await
            .expect("a preview");
        took.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(matches!(
            preview,
            Some((_, paperboy::digest::Preview::Digest(_)))
        ));
    }
    println!("(a new reader's preview: {took:.0?} ms)");
}

/// The page after a "more like this" link: the papers of the last week closest to the one
/// rated (`Ratings::similar`), for the first reader and the day's first paper.
async fn similar(services: &Services) {
    let ctx = &services.ctx;
    let email = paperboy::domain::EmailAddress::parse("reader0@example.org").unwrap();
    let reader = ctx
        .store
        .find_by_email(&email)
        .await
        .unwrap()
        .expect("a reader");
    let paper = ctx
        .store
        .papers_by_ids(&[id_of(0)])
        .await
        .unwrap()
        .remove(0);
    let ratings = &services.ratings;
    let mut took = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let found = ratings
            .similar(&reader, &paper)
            .await
            .expect("similar papers");
        took.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(!found.is_empty());
    }
    println!("(the papers like a rated one: {took:.0?} ms)");
}

async fn measure(
    services: &Services,
    url: &str,
    n: usize,
    day: NaiveDate,
    label: &str,
    t_setup: std::time::Duration,
) {
    reset_peak_rss();
    let before = peak_rss_mib().unwrap_or(0.0);
    let started = Instant::now();
    let report = services.digests.compose(day, None).await.expect("composed");
    let t = started.elapsed();
    let peak = peak_rss_mib().unwrap_or(0.0);
    assert_eq!(report.readers as usize, n, "every reader looked at");
    assert!(report.composed > 0, "some digests composed: {report:?}");
    let sql = "SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(content)), 0) AS BIGINT), \
         (SELECT CAST(COALESCE(SUM(LENGTH(readers)) / 4, 0) AS BIGINT) FROM paper_recipients WHERE day = $1), \
         (SELECT COUNT(*) FROM paper_recipients WHERE day = $1) \
         FROM digests WHERE day = $1";
    let (rows, bytes, sent, recipient_rows): (i64, i64, i64, i64) = on_db!(pool_of(url).await, pool => {
        sqlx::query_as(sql).bind(day.to_string()).fetch_one(&pool).await.unwrap()
    });
    println!(
        "| {label} | {:.1} s | {:.0} | {:.0} MiB (from {:.0}) | {rows} digests, {:.0} B each | {sent} in {recipient_rows} rows |   (setup {:.0} s; {} trending, {} nothing)",
        t.as_secs_f64(),
        n as f64 / t.as_secs_f64(),
        peak,
        before,
        bytes as f64 / rows.max(1) as f64,
        t_setup.as_secs_f64(),
        report.trending,
        report.nothing_matched,
    );
}

fn main() {
    let n: usize = std::env::var("BENCH_READERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let records = records();
    let catalogue = TopicCatalogue::from_toml(TOPICS).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "| readers | compose | readers/s | peak memory | outbox | (paper, reader) pairs sent |"
    );
    println!("|---:|---:|---:|---:|---|---:|");
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(on_bench_database(dir.path(), async |url| {
        run(&url, n, &records, &catalogue).await
    }));
}
