//! Bounce mails processed per second through the built-in SMTP listener, on SQLite and on
//! PostgreSQL: each a real Postfix DSN (tests/fixtures/bounces/postfix-5xx.eml) for one of
//! 2,000 readers, sent by 16 clients at once, each in one session of many transactions
//! (as an MTA with a queue of bounces does), every one recorded before its 250.
//!
//!     cargo bench --bench bounces
//!
//! PostgreSQL runs when PAPERBOY_TEST_POSTGRES_URL is set. Tunables: BENCH_BOUNCES (default
//! 10000), BENCH_CONNECTIONS (default 16).

use std::time::Instant;

use paperboy::config::Config;
use paperboy::context::Context;
use paperboy::domain::{MessageKind, MessageRef, NewSubscription, SubscriptionInput};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const SECRET: &str = "bench-secret-bench-secret-bench-secret-01";
const READERS: usize = 2000;
const DSN: &str = include_str!("../tests/fixtures/bounces/postfix-5xx.eml");

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn app(database_url: String, dir: &std::path::Path) -> (Context, std::net::SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = Config::with_overrides(&[
        ("database_url", database_url.into()),
        ("base_url", base.into()),
        ("secret", SECRET.into()),
        ("data_dir", dir.display().to_string().into()),
        ("schedule.enabled", false.into()),
        ("mail.bounce_address", "bounces@lists.bench.test".into()),
        ("inbound.bind", "127.0.0.1:0".into()),
        ("inbound.max_connections", 64.into()),
    ])
    .unwrap();
    let app = paperboy::app::App::build_on(config, listener)
        .await
        .unwrap();
    let ctx = app.context().clone();
    let inbound = app.inbound_addr().unwrap();
    tokio::spawn(app.run());
    (ctx, inbound)
}

/// One DSN per reader: (its VERP tag, the message).
async fn bounces(ctx: &Context) -> Vec<(String, String)> {
    let verp = ctx.mailer.verp().unwrap().clone();
    let mut out = Vec::with_capacity(READERS);
    for i in 0..READERS {
        let input = SubscriptionInput {
            email: format!("r{i}@example.net"),
            keywords: "agents".into(),
            ..Default::default()
        };
        let new = NewSubscription::parse(&input, &ctx.catalogue).unwrap();
        let (s, _) = ctx
            .store
            .subscribe(&new, None, paperboy::clock::timestamp())
            .await
            .unwrap();
        let tag = verp.address(MessageRef {
            kind: MessageKind::Digest,
            id: i as i64 + 1,
            reader: s.id,
        });
        let dsn = DSN
            .replace("bounces+d12-34-0011223344556677@lists.example.org", &tag)
            .replace("gone@example.net", s.email.as_str());
        out.push((tag, dsn));
    }
    out
}

async fn reply(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await.unwrap() == 0 {
            return all;
        }
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return all;
        }
    }
}

/// Send `n` bounces (the i-th with Message-ID i, so each is a new event) over one session.
async fn client(
    addr: std::net::SocketAddr,
    mails: std::sync::Arc<Vec<(String, String)>>,
    range: std::ops::Range<usize>,
) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // As an MTA's client does: without it, each message's last small write waits for the
    // server's delayed ACK (Nagle), and every database measures the same 40 ms a bounce.
    stream.set_nodelay(true).unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    assert!(reply(&mut read).await.starts_with("220"));
    write.write_all(b"EHLO bench.test\r\n").await.unwrap();
    assert!(reply(&mut read).await.starts_with("250"));
    for i in range {
        let (tag, dsn) = &mails[i % mails.len()];
        let dsn = dsn.replace(
            "20261130204302.1910498E06F@relay.paperboy.test",
            &format!("bench-{i}@relay"),
        );
        // Pipelined (the listener offers PIPELINING): one round trip for the envelope.
        write
            .write_all(format!("MAIL FROM:<>\r\nRCPT TO:<{tag}>\r\nDATA\r\n").as_bytes())
            .await
            .unwrap();
        for expect in ["250", "250", "354"] {
            let r = reply(&mut read).await;
            assert!(r.starts_with(expect), "{r}");
        }
        write
            .write_all(format!("{dsn}\r\n.\r\n").as_bytes())
            .await
            .unwrap();
        let r = reply(&mut read).await;
        assert!(r.starts_with("250"), "{r}");
    }
    write.write_all(b"QUIT\r\n").await.unwrap();
}

async fn create_pg_database(url: &str) -> String {
    use sqlx::Connection;
    let name = format!("paperboy_bench_{}", paperboy::clock::timestamp());
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    format!("{}/{name}", url.rsplit_once('/').unwrap().0)
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PAPERBOY_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let total = env("BENCH_BOUNCES", 10_000);
    let connections = env("BENCH_CONNECTIONS", 16).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut backends = vec![(
            "SQLite",
            format!("sqlite://{}", dir.path().join("bounces.db").display()),
        )];
        if let Ok(url) = std::env::var("PAPERBOY_TEST_POSTGRES_URL") {
            backends.push(("PostgreSQL", create_pg_database(&url).await));
        }
        println!("\n| database | bounces | clients | seconds | bounces/s | events recorded |\n|---|---:|---:|---:|---:|---:|");
        for (name, url) in backends {
            let (ctx, addr) = app(url, dir.path()).await;
            let mails = std::sync::Arc::new(bounces(&ctx).await);
            let started = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            let per = total.div_ceil(connections);
            for c in 0..connections {
                let range = c * per..((c + 1) * per).min(total);
                tasks.spawn(client(addr, mails.clone(), range));
            }
            while let Some(r) = tasks.join_next().await {
                r.unwrap();
            }
            let seconds = started.elapsed().as_secs_f64();
            let recorded = ctx
                .store
                .mail_events(&paperboy::store::EventFilter {
                    limit: i64::MAX,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len();
            println!(
                "| {name} | {total} | {connections} | {seconds:.2} | {:.0} | {recorded} |",
                total as f64 / seconds
            );
        }
    });
}
