//! Delivery benchmark: digests delivered per second (claim, render, send over SMTP, record)
//! into Postfix's `smtp-sink`, at concurrency 1, 4 and 16, next to what Postfix's own load
//! generator `smtp-source` pushes into the same sink with messages of the same size.
//!
//!     apt-get install postfix      # for smtp-sink and smtp-source
//!     cargo bench --bench deliver  # BENCH_DIGESTS (default 3000) per row
//!
//! With stunnel installed (apt-get install stunnel4), each row also runs over smtps://
//! through stunnel in front of the same sink: TLS from the first byte, as to a relay on 465.
//!
//! BENCH_CONCURRENCY=16 runs that row only (to profile it); BENCH_SETUP_PAUSE=1 waits for
//! Enter between the outbox's setup and delivery, to attach a profiler then.

use std::process::{Command, Stdio};
use std::time::Instant;

use chrono::NaiveDate;
use paperboy::config::Config;
use paperboy::context::Context;
use paperboy::domain::{NewSubscription, SubscriptionInput};
use paperboy::measure::process_cpu;
use paperboy::services::Services;

const HF_DAY: &[u8] = include_bytes!("../tests/fixtures/hf_json/daily_papers_2026-05-08.json");
#[path = "../tests/api/certificate.rs"]
mod certificate;

const SINK: &str = "/usr/sbin/smtp-sink";
const STUNNEL: &str = "/usr/bin/stunnel";
const SOURCE: &str = "/usr/sbin/smtp-source";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Sink(std::process::Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `command` started quietly, once something listens on `port`.
fn serving(command: &mut Command, port: u16, what: &str) -> Sink {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(what);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Sink(child)
}

fn sink(port: u16) -> Sink {
    let args = ["-u", "root", &format!("127.0.0.1:{port}"), "256"];
    serving(
        Command::new(SINK).args(args),
        port,
        "smtp-sink (apt-get install postfix)",
    )
}

/// Where paperboy sends: the sink itself, or stunnel in front of it (TLS from the first
/// byte, `smtps://`, on a self-signed certificate), each process killed when dropped.
struct Relay {
    url: String,
    ca: Option<std::path::PathBuf>,
    _processes: Vec<Sink>,
}

fn plain_relay() -> Relay {
    let port = free_port();
    Relay {
        url: format!("smtp://127.0.0.1:{port}"),
        ca: None,
        _processes: vec![sink(port)],
    }
}

fn stunnel_relay(dir: &std::path::Path) -> Relay {
    let (cert, key) = certificate::self_signed_certificate(dir);
    let (inner, outer) = (free_port(), free_port());
    let conf = dir.join("stunnel.conf");
    std::fs::write(
        &conf,
        format!(
            "foreground = yes\npid =\ndebug = err\n[smtps]\naccept = 127.0.0.1:{outer}\nconnect = 127.0.0.1:{inner}\ncert = {}\nkey = {}\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let sink = sink(inner);
    let stunnel = serving(
        Command::new(STUNNEL).arg(&conf),
        outer,
        "stunnel (apt-get install stunnel4)",
    );
    Relay {
        url: format!("smtps://127.0.0.1:{outer}"),
        ca: Some(cert),
        _processes: vec![stunnel, sink],
    }
}

/// Readers with a composed digest each, on a fresh SQLite file; returns the app and the
/// size of one rendered message.
async fn outbox(dir: &std::path::Path, relay: &Relay, concurrency: usize, n: usize) -> Services {
    let mut pairs: Vec<(&str, toml::Value)> = vec![
        (
            "database_url",
            format!("sqlite://{}", dir.join("bench.db").display()).into(),
        ),
        ("base_url", "https://papers.example.org".into()),
        ("secret", "bench-secret-bench-secret-bench-secret-0".into()),
        ("smtp_url", relay.url.clone().into()),
        ("mail_from", "Paper Boy <digest@papers.example.org>".into()),
        ("data_dir", dir.display().to_string().into()),
        ("mail.pool_size", (concurrency as i64).into()),
        ("delivery.concurrency", (concurrency as i64).into()),
        ("delivery.batch", 256.into()),
    ];
    if let Some(ca) = &relay.ca {
        pairs.push(("mail.tls_ca_file", ca.display().to_string().into()));
    }
    let config = Config::with_overrides(&pairs).unwrap();
    let subs = Services::new(Context::start(config).await.unwrap());
    let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
    paperboy::ingest::import(
        &subs.ctx.store,
        HF_DAY,
        paperboy::ingest::Format::HfApi,
        Some(day),
        "bench",
    )
    .await
    .unwrap();
    let keywords = [
        "agents",
        "diffusion",
        "reasoning",
        "benchmark",
        "video",
        "reward",
    ];
    for i in 0..n {
        let input = SubscriptionInput {
            email: format!("reader{i}@example.org"),
            keywords: format!("{} {}", keywords[i % 6], keywords[(i / 6) % 6]),
            ..Default::default()
        };
        let new = NewSubscription::parse(&input, &subs.ctx.catalogue).unwrap();
        let (s, _) = subs.ctx.store.subscribe(&new, None, 1).await.unwrap();
        subs.ctx.store.confirm(s.id, 1).await.unwrap();
    }
    let r = subs.digests.compose(day, None).await.unwrap();
    assert_eq!(r.composed as usize, n);
    subs
}

fn main() {
    if !std::path::Path::new(SINK).exists() {
        eprintln!("{SINK} is missing: apt-get install postfix");
        return;
    }
    let n: usize = std::env::var("BENCH_DIGESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| sender | concurrency | messages | seconds | messages/s | CPU µs a message |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut size = 20_000;
    let rows: Vec<usize> = match std::env::var("BENCH_CONCURRENCY") {
        Ok(c) => vec![c.parse().expect("BENCH_CONCURRENCY is a number")],
        Err(_) => vec![1, 4, 16],
    };
    let tls = std::path::Path::new(STUNNEL).exists();
    let vias: Vec<bool> = if tls { vec![false, true] } else { vec![false] };
    for &(concurrency, over_tls) in &rows
        .iter()
        .flat_map(|c| vias.iter().map(move |t| (*c, *t)))
        .collect::<Vec<_>>()
    {
        let dir = tempfile::tempdir().unwrap();
        let relay = match over_tls {
            false => plain_relay(),
            true => stunnel_relay(dir.path()),
        };
        let subs = rt.block_on(outbox(dir.path(), &relay, concurrency, n));
        if std::env::var_os("BENCH_SETUP_PAUSE").is_some() {
            eprintln!("set up; Enter to deliver");
            std::io::stdin().read_line(&mut String::new()).unwrap();
        }
        let start = Instant::now();
        // CPU time is less at the mercy of a busy machine than the wall clock.
        let cpu = process_cpu().unwrap_or_default();
        let r = rt.block_on(subs.deliver()).unwrap();
        let secs = start.elapsed().as_secs_f64();
        let cpu = process_cpu().unwrap_or_default() - cpu;
        assert_eq!(r.digests.sent as usize, n, "{r:?}");
        let sender = match over_tls {
            false => "paperboy (SQLite)",
            true => "paperboy (SQLite), smtps via stunnel",
        };
        println!(
            "| {sender} | {concurrency} | {n} | {secs:.2} | {:.0} | {:.0} |",
            n as f64 / secs,
            cpu.as_secs_f64() * 1e6 / n as f64
        );
        if concurrency == rows[0] && !over_tls {
            // The size of a real digest, for smtp-source.
            let reader = rt
                .block_on(subs.ctx.store.find_by_email(
                    &paperboy::domain::EmailAddress::parse("reader0@example.org").unwrap(),
                ))
                .unwrap()
                .unwrap();
            let day = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
            // The digest in the outbox, as the reader's "view in browser" page shows it.
            let m = rt
                .block_on(subs.digests.sent_digest(&reader, day))
                .unwrap()
                .expect("the reader's digest");
            size = m.html.len() + m.text.len() + 1500;
        }
    }
    if std::path::Path::new(SOURCE).exists() {
        for &concurrency in &rows {
            let port = free_port();
            let _sink = sink(port);
            let start = Instant::now();
            let status = Command::new(SOURCE)
                .args([
                    "-s",
                    &concurrency.to_string(),
                    "-m",
                    &n.to_string(),
                    "-l",
                    &size.to_string(),
                    "-d",
                    &format!("127.0.0.1:{port}"),
                ])
                .stdout(Stdio::null())
                .status()
                .unwrap();
            let secs = start.elapsed().as_secs_f64();
            assert!(status.success());
            println!(
                "| smtp-source ({size} B messages) | {concurrency} | {n} | {secs:.2} | {:.0} | |",
                n as f64 / secs
            );
        }
    }
}
