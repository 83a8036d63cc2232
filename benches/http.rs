//! HTTP benchmark: the subscribe POST, the confirm GET and a provider's bounce webhook
//! (Postmark), on SQLite and on PostgreSQL, next to a bare axum handler (the ceiling), loaded
//! by `wrk` from a second process on loopback.
//!
//!     cargo bench --bench http            (needs `wrk`: apt-get install wrk)
//!
//! PostgreSQL runs when PAPERBOY_TEST_POSTGRES_URL is set. Tunables: BENCH_SECONDS (default
//! 10), BENCH_CONNECTIONS (default 32).

use std::net::TcpListener as StdListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::routing::get;
use mailin_embedded::{Handler, Server, SslConfig};
use paperboy::clock::timestamp as now;
use paperboy::config::Config;
use paperboy::context::Context;
use paperboy::domain::{NewSubscription, SubscriptionInput};
use paperboy::tokens::Purpose;

const SECRET: &str = "bench-secret-bench-secret-bench-secret-01";
const POSTMARK_USER: &str = "bench";
const POSTMARK_PASSWORD: &str = "bench-password";

/// An SMTP server that accepts and counts.
#[derive(Clone)]
struct Count(Arc<AtomicU64>);

impl Handler for Count {
    fn data_end(&mut self) -> mailin_embedded::Response {
        self.0.fetch_add(1, Ordering::Relaxed);
        mailin_embedded::response::OK
    }
}

fn smtp_sink() -> (String, Arc<AtomicU64>) {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let mut server = Server::new(Count(count.clone()));
    server
        .with_name("sink.bench")
        .with_ssl(SslConfig::None)
        .unwrap()
        .with_num_threads(128)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (format!("smtp://{addr}"), count)
}

struct Row {
    target: String,
    endpoint: &'static str,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

const REPORT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.6f %.3f %.3f %d\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status + e.connect + e.read + e.write + e.timeout))
end
"#;

fn wrk(url: &str, script: &str, target: &str, endpoint: &'static str) -> Row {
    let seconds = std::env::var("BENCH_SECONDS").unwrap_or_else(|_| "10".into());
    let connections: u32 = std::env::var("BENCH_CONNECTIONS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(32);
    let threads = connections.clamp(1, 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.lua");
    std::fs::write(&path, format!("{script}\n{REPORT}")).unwrap();
    let out = Command::new("wrk")
        .args([
            &format!("-t{threads}"),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "-s",
        ])
        .arg(&path)
        .arg(url)
        .output()
        .expect("wrk is installed (apt-get install wrk)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "wrk gave no result:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let f: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    let row = Row {
        target: target.into(),
        endpoint,
        rps: f[0] / f[1],
        p50_ms: f[2],
        p99_ms: f[3],
        errors: f[4] as u64,
    };
    eprintln!(
        "{:<22} {:<16} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  non-2xx/errors {}",
        row.target, row.endpoint, row.rps, row.p50_ms, row.p99_ms, row.errors
    );
    row
}

fn subscribe_script(run: &str) -> String {
    format!(
        r#"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads = 0
setup = function(thread) thread:set("tid", threads); threads = threads + 1 end
local n = 0
request = function()
  n = n + 1
  local body = string.format('{{"email":"bench-{run}-%d-%d@example.com","topics":["llm"],"keywords":"diffusion \\"world model\\""}}', tid, n)
  return wrk.format(nil, "/api/v1/subscriptions", nil, body)
end
"#
    )
}

/// A Postmark bounce record per request (soft, so each is recorded and counted, none
/// refused), each with its own record ID, about one of the seeded readers; behind basic auth.
fn postmark_script(run: &str) -> String {
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{POSTMARK_USER}:{POSTMARK_PASSWORD}"),
    );
    format!(
        r#"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic {auth}"
local threads = 0
setup = function(thread) thread:set("tid", threads); threads = threads + 1 end
local n = 0
request = function()
  n = n + 1
  local body = string.format('{{"RecordType":"Bounce","ID":{run}%d%09d,"Type":"SoftBounce","TypeCode":4096,"Email":"seed%d@example.com","Description":"Mailbox full","Details":"452 4.2.2 mailbox full"}}', tid, n, n % 2000)
  return wrk.format(nil, "/webhooks/postmark", nil, body)
end
"#
    )
}

fn confirm_script(paths: &[String]) -> String {
    let list = paths
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(",\n");
    format!(
        r#"
local paths = {{
{list}
}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"#
    )
}

async fn bare_axum() -> String {
    let app = axum::Router::new()
        .route("/confirm/{token}", get(|| async { axum::response::Html("<!DOCTYPE html><h1>Confirm</h1><form method=post><button>Confirm</button></form>") }))
        .route(
            "/api/v1/subscriptions",
            axum::routing::post(|body: String| async move {
                (axum::http::StatusCode::ACCEPTED, format!("{{\"status\":\"check_your_inbox\",\"len\":{}}}", body.len()))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn paperboy_app(
    database_url: String,
    smtp_url: &str,
    dir: &std::path::Path,
) -> (String, Context) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = Config::with_overrides(&[
        ("database_url", database_url.into()),
        ("base_url", base.clone().into()),
        ("secret", SECRET.into()),
        ("smtp_url", smtp_url.into()),
        ("data_dir", dir.display().to_string().into()),
        ("limits.posts_per_minute", 1_000_000_000.into()),
        ("limits.post_burst", 1_000_000_000.into()),
        (
            "subscribe.max_mails_per_client_per_hour",
            1_000_000_000.into(),
        ),
        ("mail.pool_size", 16.into()),
        ("schedule.enabled", false.into()),
        ("webhooks.postmark_user", POSTMARK_USER.into()),
        ("webhooks.postmark_password", POSTMARK_PASSWORD.into()),
    ])
    .unwrap();
    let app = paperboy::app::App::build_on(config, listener)
        .await
        .unwrap();
    let ctx = app.context().clone();
    tokio::spawn(app.run());
    (base, ctx)
}

/// Pending subscribers to confirm, and the confirm paths for them.
async fn seed(subs: &Context, n: usize) -> Vec<String> {
    let mut paths = Vec::with_capacity(n);
    for i in 0..n {
        let input = SubscriptionInput {
            email: format!("seed{i}@example.com"),
            topics: vec!["llm".into()],
            ..Default::default()
        };
        let new = NewSubscription::parse(&input, &subs.catalogue).unwrap();
        let (s, _) = subs.store.subscribe(&new, None, now()).await.unwrap();
        let token = subs
            .links
            .signer()
            .sign(Purpose::Confirm, &s.public_id, now(), 3600);
        paths.push(format!("/confirm/{token}"));
    }
    paths
}

/// Seconds until the outbox of subscription mails holds nothing left to send (at most 600).
async fn drain(ctx: &Context) -> f64 {
    use paperboy::domain::DigestStatus;
    let start = std::time::Instant::now();
    loop {
        let counts = ctx
            .store
            .outbox_counts(paperboy::store::OutboxTable::SubscriptionMails)
            .await
            .unwrap();
        let left: i64 = counts
            .iter()
            .filter(|(s, _)| matches!(s, DigestStatus::Pending | DigestStatus::Sending))
            .map(|(_, n)| n)
            .sum();
        if left == 0 || start.elapsed().as_secs() > 600 {
            return start.elapsed().as_secs_f64();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn create_pg_database(url: &str) -> String {
    use sqlx::Connection;
    let name = format!("paperboy_bench_{}", now());
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    format!("{}/{name}", url.rsplit_once('/').unwrap().0)
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wrk is not installed: apt-get install wrk");
        std::process::exit(1);
    }
    // Warnings (a delivery that failed, outcomes not recorded) on stderr.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PAPERBOY_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (smtp_url, sent) = smtp_sink();
        let dir = tempfile::tempdir().unwrap();
        let mut rows = Vec::new();

        let bare = bare_axum().await;
        rows.push(wrk(&format!("{bare}/api/v1/subscriptions"), &subscribe_script("bare"), "bare axum", "POST subscribe"));
        rows.push(wrk(&format!("{bare}/confirm/x"), &confirm_script(&["/confirm/x".into()]), "bare axum", "GET confirm"));

        let sqlite = |file: &str| format!("sqlite://{}", dir.path().join(file).display());
        // The third run writes mail as .eml files instead of SMTP: what the service costs
        // without lettre's per-message Nagle stall (see the README).
        let mut backends = vec![
            ("paperboy (SQLite)", sqlite("bench.db"), smtp_url.clone()),
            ("paperboy (SQLite, .eml)", sqlite("bench-eml.db"), String::new()),
        ];
        if let Ok(url) = std::env::var("PAPERBOY_TEST_POSTGRES_URL") {
            backends.push(("paperboy (PostgreSQL)", create_pg_database(&url).await, smtp_url.clone()));
        }
        for (name, database_url, smtp_url) in backends {
            let (base, subs) = paperboy_app(database_url, &smtp_url, dir.path()).await;
            let before = sent.load(Ordering::Relaxed);
            let run = format!("{}", now());
            let row = wrk(&format!("{base}/api/v1/subscriptions"), &subscribe_script(&run), name, "POST subscribe");
            // The answers do not wait for the mails: the outbox sends them meanwhile and after.
            let during = sent.load(Ordering::Relaxed) - before;
            let drained = drain(&subs).await;
            let mails = sent.load(Ordering::Relaxed) - before;
            eprintln!(
                "    confirmation mails received by the SMTP server: {during} during the load, {mails} in all; the outbox emptied {drained:.1} s after the load"
            );
            rows.push(row);
            let paths = seed(&subs, 2000).await;
            rows.push(wrk(&format!("{base}/confirm/x"), &confirm_script(&paths), name, "GET confirm"));
            // Bounce events from a provider: each checked, recorded and counted against its
            // reader's soft-bounce window before the 200.
            let run = now() % 100_000;
            rows.push(wrk(&format!("{base}/webhooks/postmark"), &postmark_script(&run.to_string()), name, "POST webhook"));
        }

        println!("\n| target | endpoint | req/s | p50 ms | p99 ms | errors |\n|---|---|---:|---:|---:|---:|");
        for r in rows {
            println!("| {} | {} | {:.0} | {:.2} | {:.2} | {} |", r.target, r.endpoint, r.rps, r.p50_ms, r.p99_ms, r.errors);
        }
    });
}
