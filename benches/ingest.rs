//! Ingest benchmark: parse throughput of each source's document (MB/s) and papers stored per
//! second on SQLite (and PostgreSQL when PAPERBOY_TEST_POSTGRES_URL is set).
//!
//!     cargo bench --bench ingest

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use paperboy::domain::{ArxivId, Paper};
use paperboy::ingest::{arxiv, huggingface};
use paperboy::store::Store;

const HF_DAY: &[u8] = include_bytes!("../tests/fixtures/hf_json/daily_papers_2026-05-08.json");
const RSS: &[u8] = include_bytes!("../tests/fixtures/arxiv_rss/distill_rss_cs.LG_2026-04-27.xml");
const ATOM: &[u8] = include_bytes!(
    "../tests/fixtures/arxiv_atom/recorded/bodies/q_testing_s0_m100_cfe7536492ca.xml"
);

/// Run `f` repeatedly for about `budget`; MB/s of `bytes` per call.
fn throughput(name: &str, bytes: usize, budget: Duration, mut f: impl FnMut() -> usize) {
    let mut items = f();
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        items = black_box(f());
        calls += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let mbps = (bytes as f64 * calls as f64) / secs / 1e6;
    let per_call_ms = secs * 1e3 / calls as f64;
    println!(
        "| parse {name} | {:.1} kB, {items} papers | {per_call_ms:.3} ms | {mbps:.1} MB/s |",
        bytes as f64 / 1e3
    );
}

/// A day of `n` distinct papers made from the captured Hugging Face day.
fn day_of(n: usize) -> Vec<Paper> {
    let base = huggingface::parse_api(HF_DAY, NaiveDate::from_ymd_opt(2026, 5, 8)).unwrap();
    (0..n)
        .map(|i| {
            let mut p = base[i % base.len()].clone();
            p.id = ArxivId::parse(&format!("2605.{:05}", 10_000 + i)).unwrap();
            p
        })
        .collect()
}

async fn store_rate(name: &str, store: &Store) {
    let papers = day_of(2000);
    let start = Instant::now();
    let first = store.upsert_papers(&papers, 1).await.unwrap();
    let insert = start.elapsed();
    let start = Instant::now();
    let second = store.upsert_papers(&papers, 2).await.unwrap();
    let update = start.elapsed();
    assert_eq!((first.new, second.updated), (2000, 2000));
    println!(
        "| store on {name} | 2000 papers | insert {:.0} papers/s | re-ingest (update) {:.0} papers/s |",
        2000.0 / insert.as_secs_f64(),
        2000.0 / update.as_secs_f64()
    );
}

fn main() {
    let budget = Duration::from_secs(3);
    println!("| what | input | per document | throughput |\n|---|---|---:|---:|");
    throughput("Hugging Face API JSON", HF_DAY.len(), budget, || {
        huggingface::parse_api(HF_DAY, None).unwrap().len()
    });
    throughput("arXiv RSS", RSS.len(), budget, || {
        arxiv::parse_rss(RSS).unwrap().papers.len()
    });
    throughput("arXiv API Atom", ATOM.len(), budget, || {
        arxiv::parse_atom(ATOM).unwrap().len()
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Store::connect(&format!(
            "sqlite://{}",
            dir.path().join("bench.db").display()
        ))
        .await
        .unwrap();
        store_rate("SQLite", &sqlite).await;
        if let Ok(url) = std::env::var("PAPERBOY_TEST_POSTGRES_URL") {
            use sqlx::Connection;
            let name = format!("paperboy_bench_ingest_{}", chrono::Utc::now().timestamp());
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let pg = Store::connect(&format!("{}/{name}", url.rsplit_once('/').unwrap().0))
                .await
                .unwrap();
            store_rate("PostgreSQL", &pg).await;
        }
    });
}
