//! Import benchmark: a CSV of N readers (topics, keywords, a time of consent, a quarter of them
//! with a listmonk-style status column value) brought in through the service as
//! `paperboy subscribers import` does, on a fresh database that already holds N/10 readers
//! (some of them in the file). Prints, side by side in one run: the dry run, the real run,
//! and the same file again (every row already here), with rows a second.
//!
//!     cargo bench --bench import                                        # SQLite, 100,000 rows
//!     BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench import
//!     BENCH_ROWS=1000000 cargo bench --bench import

use std::time::Instant;

use paperboy::config::Config;
use paperboy::context::Context;
use paperboy::domain::{Actor, ImportMode, SubscriptionInput};
use paperboy::import::{ImportOptions, ImportReport};
use paperboy::services::Services;

#[path = "common/db.rs"]
#[allow(dead_code)] // the pools are for the benches that write rows themselves
mod db;
use db::on_bench_database;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// N rows as an operator's file would hold them.
fn file(n: usize) -> Vec<u8> {
    const TOPICS: [&str; 6] = [
        "llm",
        "agents",
        "robotics",
        "reasoning",
        "multimodal",
        "computer-vision",
    ];
    let mut out = String::from("email,topics,keywords,status,consented_at,consent_source\n");
    for i in 0..n {
        let status = match i % 20 {
            0 => "unsubscribed",
            1 => "blocklisted",
            _ => "active",
        };
        out += &format!(
            "reader{i}@example.org,{};{},\"graph \"\"neural network\"\" -survey\",{status},2026-0{}-{:02} 09:30:00,newsletter form\n",
            TOPICS[i % 6],
            TOPICS[(i / 6) % 6],
            1 + i % 9,
            1 + i % 28
        );
    }
    out.into_bytes()
}

fn line(what: &str, r: &ImportReport) {
    let rows = r.rows as f64;
    let outcomes: Vec<String> = r
        .outcomes
        .iter()
        .map(|(o, n)| format!("{} {n}", o.label()))
        .collect();
    println!(
        "| {what} | {:.2} s | {:.0} rows/s | {} refused; {} |",
        r.seconds,
        rows / r.seconds,
        r.errors.len(),
        outcomes.join(", ")
    );
}

async fn run(url: String, n: usize, dir: &std::path::Path) {
    let config = Config::with_overrides(&[
        ("database_url", url.into()),
        ("data_dir", dir.display().to_string().into()),
        (
            "secret",
            "a bench secret of at least thirty-two characters".into(),
        ),
    ])
    .unwrap();
    let services = Services::new(Context::start(config).await.expect("the service starts"));
    let bench = Actor::cli_from_env(Some("bench".into()), None);
    // Readers already here: every tenth address of the file, added by the operator.
    for i in (0..n).step_by(10).take(n / 10) {
        let input = SubscriptionInput {
            email: format!("reader{i}@example.org"),
            keywords: "retrieval".into(),
            ..Default::default()
        };
        let new = services.subscriptions.parse(&input).unwrap();
        services
            .subscriptions
            .add_confirmed(&bench, &new)
            .await
            .unwrap();
    }
    let data = file(n);
    println!(
        "{n} rows, {:.1} MiB; {} readers here before",
        data.len() as f64 / 1048576.0,
        n / 10
    );
    println!("| run | time | rate | outcome |");
    println!("|---|---:|---:|---|");
    let mut options = ImportOptions {
        mode: ImportMode::Confirmed,
        dry_run: true,
        source: "bench.csv".into(),
        default_topics: Vec::new(),
    };
    let dry = services.import.run(&bench, &data, &options).await.unwrap();
    line("dry run", &dry);
    assert!(
        dry.errors.is_empty(),
        "the bench's rows are refused: {:?}",
        &dry.errors[..1]
    );
    options.dry_run = false;
    let t = Instant::now();
    let real = services.import.run(&bench, &data, &options).await.unwrap();
    line("import", &real);
    assert_eq!(dry.outcomes, real.outcomes, "the dry run said otherwise");
    assert!(t.elapsed().as_secs_f64() >= real.seconds);
    let again = services.import.run(&bench, &data, &options).await.unwrap();
    line("the same file again", &again);
}

fn main() {
    let n = env("BENCH_ROWS", 100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let (db, ()) = on_bench_database(dir.path(), |url| run(url, n, dir.path())).await;
        println!("({db})");
    });
}
