//! Digest rendering benchmark: digests of 10 papers from the captured Hugging Face day, each
//! reader with their own papers and reasons (each paper prepared once, as delivery does),
//! built into a view and rendered to HTML (CSS inlined) + text. Digests per second on 1 and 2 threads, with the CSS inlined into the
//! templates once at load (what paperboy does) and, for comparison, into every message.
//! Besides wall-clock rates, the CPU time per digest (from /proc, Linux only), which does not
//! depend on what else the machine runs: 1 / that is the rate per free core.
//!
//! Each paper carries the reader's "more / fewer like this" links, signed per reader and
//! paper as delivery's view does; `BENCH_RATING_LINKS=0` leaves them out, for comparison.
//!
//!     cargo bench --bench render            # BENCH_SECONDS=3 per row by default

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use paperboy::domain::Paper;
use paperboy::ingest::huggingface;
use paperboy::mail::{CssInlining, DigestPaper, DigestView, Templates};
use paperboy::matching::Reason;
use paperboy::measure::thread_cpu;
use paperboy::tokens::{Purpose, Signer};

/// A reader's public id and the key that signs their links.
static SIGNER: std::sync::LazyLock<(Signer, String)> = std::sync::LazyLock::new(|| {
    (
        Signer::new(b"bench-secret-bench-secret-bench-secret"),
        paperboy::tokens::new_public_id(),
    )
});

fn rating_links() -> bool {
    std::env::var("BENCH_RATING_LINKS").map_or(true, |v| v != "0")
}

const HF_DAY: &[u8] = include_bytes!("../tests/fixtures/hf_json/daily_papers_2026-05-08.json");
const PAPERS_PER_DIGEST: usize = 10;
const TOPICS: [(&str, &[&str]); 5] = [
    ("Large language models", &["language model", "llm"]),
    ("Agents", &["agent", "tool use", "planning"]),
    ("Diffusion models", &["diffusion"]),
    (
        "Reinforcement learning",
        &["reinforcement learning", "reward"],
    ),
    ("Robotics", &["world model", "sim-to-real"]),
];

/// Reader `r`'s papers (a window over the day) with reasons that differ by reader.
fn reader(day: &[Paper], r: usize) -> Vec<(usize, Vec<Reason>)> {
    (0..PAPERS_PER_DIGEST)
        .map(|i| {
            let at = (r * 7 + i * 3) % day.len();
            let paper = &day[at];
            let (topic, words) = TOPICS[(r + i) % TOPICS.len()];
            let mut reasons = vec![Reason {
                interest: topic.into(),
                words: words.iter().map(|w| w.to_string()).collect(),
                liked: None,
            }];
            match (r + i) % 4 {
                0 => reasons.push(Reason {
                    interest: "your authors".into(),
                    words: paper.authors.iter().take(1).cloned().collect(),
                    liked: None,
                }),
                1 => reasons.push(Reason {
                    interest: "papers you liked".into(),
                    words: Vec::new(),
                    // Another paper of the day stands in for the liked one.
                    liked: Some(day[(at + 1) % day.len()].title.clone()),
                }),
                2 => reasons.push(Reason {
                    interest: "your keywords".into(),
                    words: vec![format!("keyword{r}")],
                    liked: None,
                }),
                _ => reasons.push(Reason {
                    interest: "trending today".into(),
                    words: Vec::new(),
                    liked: None,
                }),
            }
            (at, reasons)
        })
        .collect()
}

/// Build reader `r`'s view from the day's papers, prepared once as delivery does, and render
/// it; the bytes produced.
fn digest(templates: &Templates, day: &[Paper], prepared: &[DigestPaper], r: usize) -> usize {
    let links = rating_links();
    let papers = reader(day, r)
        .into_iter()
        .map(|(at, reasons)| {
            let p = prepared[at].clone().with_reasons(&reasons);
            if !links {
                return p;
            }
            // As `digest::view_of` makes them: one signature per paper, two links.
            let (signer, public_id) = &*SIGNER;
            let token = signer.sign_bound(
                Purpose::Rate,
                public_id,
                p.id.as_str().as_bytes(),
                1_780_000_000,
                90 * 86_400,
            );
            let url =
                |rating: &str| format!("https://papers.example.org/rate/{token}/{}/{rating}", p.id);
            let (more, fewer) = (url("more"), url("fewer"));
            p.with_rating_links(more, fewer)
        })
        .collect();
    let view = DigestView {
        date: NaiveDate::from_ymd_opt(2026, 5, 8).unwrap(),
        papers,
        trending_instead: false,
        weekly: false,
        top_trending: None,
        preferences_url: format!("https://papers.example.org/preferences/reader-{r}-token"),
        unsubscribe_url: format!("https://papers.example.org/unsubscribe/reader-{r}-token"),
        browser_url: format!("https://papers.example.org/digest/2026-05-08/reader-{r}-token"),
        operator_name: "Example Lab papers".into(),
        operator_address: "Example Lab, 1 Main Street, 12345 Springfield".into(),
    };
    let mail = paperboy::mail::digest::render(templates, &view).unwrap();
    mail.html.len() + mail.text.len()
}

struct Rate {
    /// Digests per second, wall clock, all threads together.
    per_second: f64,
    /// CPU time per digest.
    cpu: Option<Duration>,
    /// Bytes of one digest, HTML + text.
    bytes: usize,
}

/// Render for `budget` on `threads` threads, each rendering its own readers.
fn rate(
    templates: &Templates,
    day: &[Paper],
    prepared: &[DigestPaper],
    threads: usize,
    budget: Duration,
) -> Rate {
    let start = Instant::now();
    let counts: Vec<(usize, usize, Option<Duration>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let cpu = thread_cpu();
                    let (mut n, mut bytes) = (0, 0);
                    while start.elapsed() < budget {
                        bytes += black_box(digest(templates, day, prepared, t + n * threads));
                        n += 1;
                    }
                    let cpu = cpu.zip(thread_cpu()).map(|(a, b)| b - a);
                    (n, bytes, cpu)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let n: usize = counts.iter().map(|c| c.0).sum();
    let cpu: Option<Duration> = counts.iter().map(|c| c.2).sum();
    Rate {
        per_second: n as f64 / start.elapsed().as_secs_f64(),
        cpu: cpu.map(|c| c / n.max(1) as u32),
        bytes: counts.iter().map(|c| c.1).sum::<usize>() / n.max(1),
    }
}

fn main() {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let budget = Duration::from_secs(seconds);
    let day = huggingface::parse_api(HF_DAY, NaiveDate::from_ymd_opt(2026, 5, 8)).unwrap();
    println!(
        "| CSS inlined | threads | digests/s (wall clock) | CPU per digest | digests/s per free core | bytes (HTML + text) |\n|---|---:|---:|---:|---:|---:|"
    );
    for (name, inlining) in [
        ("once, at load", CssInlining::AtLoad),
        ("per message", CssInlining::PerMessage),
    ] {
        let load = Instant::now();
        let templates = Templates::load(None, inlining).unwrap();
        let load = load.elapsed();
        let prepared: Vec<DigestPaper> = day
            .iter()
            .map(|p| paperboy::mail::digest::prepare(&templates, DigestPaper::of(p)).unwrap())
            .collect();
        for threads in [1, 2] {
            // Warm up: allocator, caches.
            rate(
                &templates,
                &day,
                &prepared,
                threads,
                Duration::from_millis(200),
            );
            let r = rate(&templates, &day, &prepared, threads, budget);
            let (cpu, per_core) = match r.cpu {
                Some(c) => (
                    format!("{:.1} µs", c.as_secs_f64() * 1e6),
                    format!("{:.0}", 1.0 / c.as_secs_f64()),
                ),
                None => ("?".into(), "?".into()),
            };
            println!(
                "| {name} | {threads} | {:.0} | {cpu} | {per_core} | {} |",
                r.per_second, r.bytes
            );
        }
        eprintln!(
            "({name}: templates loaded in {:.1} ms)",
            load.as_secs_f64() * 1e3
        );
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        eprintln!("(load average during the run: {})", load.trim());
    }
}
