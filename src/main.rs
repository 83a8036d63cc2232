//! The `paperboy` command: the service and the operator's tools.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use paperboy::config::Config;
use paperboy::domain::{EmailAddress, NewSubscription, SubscriberStatus, SubscriptionInput};
use paperboy::ingest;
use paperboy::store::{ListFilter, Store};
use paperboy::subscriptions::{Subscriptions, now};
use paperboy::web::{self, AppState};

#[derive(Parser)]
#[command(
    name = "paperboy",
    version,
    about = "Mails each subscriber the trending research papers that match their interests"
)]
struct Cli {
    /// A TOML file overriding config/default.toml (also PAPERBOY_CONFIG).
    #[arg(long, global = true, env = "PAPERBOY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web service (applies migrations first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage subscribers.
    #[command(subcommand)]
    Subscribers(SubscribersCommand),
    /// Fetch the day's papers from the sources, or import a saved response with --file.
    Ingest {
        /// Which source to fetch.
        #[arg(long, value_enum, default_value_t = SourceArg::All, conflicts_with = "file")]
        source: SourceArg,
        /// The day (YYYY-MM-DD); default today (UTC).
        #[arg(long, conflicts_with_all = ["from", "to"])]
        date: Option<chrono::NaiveDate>,
        /// The first day of a range.
        #[arg(long, requires = "to")]
        from: Option<chrono::NaiveDate>,
        /// The last day of a range (inclusive).
        #[arg(long, requires = "from")]
        to: Option<chrono::NaiveDate>,
        /// Import this saved page, feed or JSON response instead of fetching.
        #[arg(long)]
        file: Option<PathBuf>,
        /// The file's format; guessed from its content when not given.
        #[arg(long, value_enum, requires = "file")]
        format: Option<IngestFormat>,
    },
    /// Show stored papers.
    #[command(subcommand)]
    Papers(PapersCommand),
    /// The daily digest: compose the outbox for a day, deliver it.
    #[command(subcommand)]
    Digest(DigestCommand),
    /// The whole day now: ingest it if no papers are stored for it, compose, deliver.
    RunDaily {
        /// The day (YYYY-MM-DD); default today (UTC).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Do not fetch from the sources, even if the day has no papers.
        #[arg(long)]
        skip_ingest: bool,
    },
    /// Last ingest runs, the outbox by state, subscribers by state.
    Status,
    /// Render the digest a reader gets for a day (from the outbox, or as it would be
    /// composed now), without sending or storing anything.
    Preview {
        #[arg(long)]
        email: String,
        /// The day (YYYY-MM-DD); default today (UTC).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value_t = PreviewFormat::Text)]
        format: PreviewFormat,
    },
    /// Measure quality.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Measure speed.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum DigestCommand {
    /// Match every due reader against a day's papers and write their digests to the outbox
    /// (one per reader and day: a rerun adds only what is missing).
    Compose {
        /// The day whose papers are sent (YYYY-MM-DD); default today (UTC).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
    /// Send every digest in the outbox that is due, until none is left.
    Deliver,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Match and rank a population of readers against a day of real papers; prints the
    /// time and the peak memory.
    Matching {
        /// How many readers.
        #[arg(long, default_value_t = 1_000_000)]
        readers: usize,
        /// Papers in the day, drawn from the records.
        #[arg(long, default_value_t = 2000)]
        papers: usize,
        /// Real paper records: JSON lines (title, abstract[, authors, upvotes]) or a JSON
        /// object of records keyed by arXiv id.
        #[arg(long, num_args = 1.., default_values = ["benches/data/hf_daily_papers_2024-01_to_04.json", "benches/data/dev.jsonl"])]
        data: Vec<PathBuf>,
        /// Worker threads; default one per core.
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Matching quality on labelled records (JSON lines: title, abstract, categories).
    Matching {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum PapersCommand {
    /// Papers featured on a day, most upvoted first (or the latest stored).
    List {
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PreviewFormat {
    /// The subject and the plain-text part.
    Text,
    /// The HTML part.
    Html,
    /// The whole message as it would be sent.
    Eml,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SourceArg {
    Huggingface,
    Arxiv,
    All,
}

#[derive(Clone, Copy, ValueEnum)]
enum IngestFormat {
    /// Hugging Face /api/daily_papers JSON
    HfApi,
    /// Hugging Face Daily Papers page (/papers/date/D), saved as HTML
    HfPage,
    /// arXiv RSS feed
    ArxivRss,
    /// arXiv API (Atom) response
    ArxivAtom,
}

impl From<IngestFormat> for ingest::Format {
    fn from(f: IngestFormat) -> Self {
        match f {
            IngestFormat::HfApi => Self::HfApi,
            IngestFormat::HfPage => Self::HfPage,
            IngestFormat::ArxivRss => Self::ArxivRss,
            IngestFormat::ArxivAtom => Self::ArxivAtom,
        }
    }
}

/// Files larger than this are refused rather than read into memory.
const MAX_IMPORT_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Subcommand)]
enum SubscribersCommand {
    /// List subscribers, one per line.
    List {
        #[arg(long)]
        status: Option<String>,
        /// Part of the address.
        #[arg(long)]
        email: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
    /// Add a confirmed subscriber (the operator vouches for their consent).
    Add {
        email: String,
        /// Topic ids, comma-separated (see config/topics.toml).
        #[arg(long, default_value = "")]
        topics: String,
        #[arg(long, default_value = "")]
        keywords: String,
        /// Pinned authors, comma-separated.
        #[arg(long, default_value = "")]
        authors: String,
        /// arXiv ids of liked papers ("more like these").
        #[arg(long, default_value = "")]
        liked: String,
        /// Muted authors, comma-separated.
        #[arg(long, default_value = "")]
        muted_authors: String,
        /// 0 (all personal) … 100 (all trending).
        #[arg(long)]
        trending: Option<u8>,
    },
    /// Erase a subscriber and everything stored about them.
    Remove { email: String },
    /// Everything stored about one address, or about all.
    Export {
        #[arg(long)]
        email: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Csv,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PAPERBOY_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let store = Store::connect(&config.database_url).await?;
            eprintln!("migrations applied to the {} database", store.backend());
            Ok(())
        }
        Command::Subscribers(cmd) => subscribers(config, cmd).await,
        Command::Ingest {
            source,
            date,
            from,
            to,
            file: Some(file),
            format,
        } => {
            let _ = (source, from, to);
            ingest_file(config, &file, format, date).await
        }
        Command::Ingest {
            source,
            date,
            from,
            to,
            file: None,
            ..
        } => ingest_sources(config, source, date, from.zip(to)).await,
        Command::Papers(PapersCommand::List { date, limit }) => {
            list_papers(config, date, limit).await
        }
        Command::Digest(DigestCommand::Compose { date }) => {
            let subs = Subscriptions::start(config).await?;
            let day = date.unwrap_or_else(|| chrono::Utc::now().date_naive());
            compose_day(&subs, day).await?;
            subs.store.close().await;
            Ok(())
        }
        Command::Digest(DigestCommand::Deliver) => {
            let subs = Subscriptions::start(config).await?;
            eprintln!("{}", subs.mailer.describe());
            deliver_now(&subs).await?;
            subs.store.close().await;
            Ok(())
        }
        Command::RunDaily { date, skip_ingest } => run_daily(config, date, skip_ingest).await,
        Command::Status => status(config).await,
        Command::Preview {
            email,
            date,
            format,
        } => preview(config, &email, date, format).await,
        Command::Eval(EvalCommand::Matching { data, seed }) => eval_matching(&config, &data, seed),
        Command::Bench(BenchCommand::Matching {
            readers,
            papers,
            data,
            threads,
            seed,
        }) => bench_matching(&config, readers, papers, &data, threads, seed),
    }
}

async fn ingest_file(
    config: Config,
    file: &std::path::Path,
    format: Option<IngestFormat>,
    date: Option<chrono::NaiveDate>,
) -> Result<()> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > MAX_IMPORT_BYTES {
        bail!(
            "{} is {size} bytes; files over {MAX_IMPORT_BYTES} bytes are refused",
            file.display()
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let format = match format {
        Some(f) => f.into(),
        None => ingest::Format::detect(&bytes).with_context(|| {
            format!(
                "cannot tell what {} is: pass --format hf-api, hf-page, arxiv-rss or arxiv-atom",
                file.display()
            )
        })?,
    };
    let store = Store::connect(&config.database_url).await?;
    let report = ingest::import(&store, &bytes, format, date, &file.display().to_string()).await?;
    report_run(&file.display().to_string(), &report);
    Ok(())
}

/// Paper records for the benchmark, from JSON lines or a JSON object keyed by id.
fn bench_records(files: &[PathBuf]) -> Result<Vec<paperboy::matching::bench::Record>> {
    #[derive(serde::Deserialize)]
    struct Raw {
        title: String,
        #[serde(rename = "abstract")]
        abstract_text: String,
        #[serde(default)]
        authors: Vec<String>,
        #[serde(default)]
        upvotes: i64,
    }
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let raws: Vec<Raw> = if text.trim_start().starts_with('{') && !text.contains("}\n{") {
            let map: std::collections::BTreeMap<String, Raw> = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a JSON object of records", file.display()))?;
            map.into_values().collect()
        } else {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .enumerate()
                .map(|(n, l)| {
                    serde_json::from_str(l)
                        .with_context(|| format!("{}:{}: not a record", file.display(), n + 1))
                })
                .collect::<Result<_>>()?
        };
        out.extend(raws.into_iter().map(|r| paperboy::matching::bench::Record {
            title: r.title,
            abstract_text: r.abstract_text,
            authors: r.authors,
            upvotes: r.upvotes,
        }));
    }
    Ok(out)
}

/// "pending 3, sent 10": counts by state, for `status`.
fn counts<S: std::fmt::Display>(c: Vec<(S, i64)>) -> String {
    let parts: Vec<String> = c.iter().map(|(s, n)| format!("{s} {n}")).collect();
    parts.join(", ")
}

fn bench_matching(
    config: &Config,
    readers: usize,
    papers: usize,
    data: &[PathBuf],
    threads: Option<usize>,
    seed: u64,
) -> Result<()> {
    use paperboy::matching::{Day, Doc, Pick, Scratch, bench};
    use std::time::Instant;
    let records = bench_records(data)?;
    if records.is_empty() {
        bail!("no records in {data:?}");
    }
    let catalogue = paperboy::domain::TopicCatalogue::from_toml(&config.topics_toml()?)?;
    let started = Instant::now();
    let population = bench::population(&catalogue, &records, readers, seed);
    let t_population = started.elapsed();
    let day_records = bench::sample(records.len(), papers, seed);
    let docs: Vec<Doc<'_>> = day_records
        .iter()
        .map(|&i| {
            let r = &records[i];
            Doc {
                authors: &r.authors,
                upvotes: r.upvotes,
                ..Doc::text(&r.title, &r.abstract_text)
            }
        })
        .collect();
    let corpus: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.title.as_str(), r.abstract_text.as_str()))
        .collect();
    let started = Instant::now();
    let day = Day::new(&docs, &corpus, &catalogue, config.matching.clone());
    let t_day = started.elapsed();
    let started = Instant::now();
    // Each liked paper is analysed once per run, however many readers liked it.
    let mut liked: std::collections::HashMap<u32, paperboy::matching::LikedPaper> =
        Default::default();
    for r in &population {
        for &i in &r.liked {
            liked.entry(i).or_insert_with(|| {
                let rec = &records[i as usize];
                day.liked_paper(&rec.title, &rec.abstract_text)
            });
        }
    }
    let t_liked = started.elapsed();
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let started = Instant::now();
    let chunk = population.len().div_ceil(threads).max(1);
    // personal, trending, nothing, papers chosen, checksum of the choices
    let totals = std::thread::scope(|s| {
        let workers: Vec<_> = population
            .chunks(chunk)
            .map(|part| {
                let (day, liked) = (&day, &liked);
                s.spawn(move || {
                    let mut scratch = Scratch::default();
                    let mut t = [0u64; 5];
                    for r in part {
                        let likes: Vec<&paperboy::matching::LikedPaper> =
                            r.liked.iter().map(|i| &liked[i]).collect();
                        let profile = day.profile(&r.interests, &likes);
                        let chosen =
                            match day.pick(&profile, r.papers, r.trending_when_empty, &mut scratch)
                            {
                                Pick::Personal(m) => {
                                    t[0] += 1;
                                    m
                                }
                                Pick::Trending(m) => {
                                    t[1] += 1;
                                    m
                                }
                                Pick::Nothing => {
                                    t[2] += 1;
                                    Vec::new()
                                }
                            };
                        t[3] += chosen.len() as u64;
                        for m in &chosen {
                            t[4] = t[4].wrapping_mul(31).wrapping_add(m.paper as u64);
                        }
                    }
                    t
                })
            })
            .collect();
        let mut total = [0u64; 5];
        for w in workers {
            let t = w.join().expect("a matching thread panicked");
            for i in 0..4 {
                total[i] += t[i];
            }
            total[4] ^= t[4];
        }
        total
    });
    let t_match = started.elapsed();
    println!(
        "readers {readers}, papers {}, corpus {}, threads {threads}, seed {seed}",
        day.len(),
        records.len()
    );
    println!(
        "build readers {:.2} s | analyse day {:.3} s | liked papers {} in {:.3} s",
        t_population.as_secs_f64(),
        t_day.as_secs_f64(),
        liked.len(),
        t_liked.as_secs_f64()
    );
    println!(
        "match and rank {:.2} s = {:.0} readers/s ({:.1} µs a reader per thread)",
        t_match.as_secs_f64(),
        readers as f64 / t_match.as_secs_f64(),
        t_match.as_secs_f64() * 1e6 * threads as f64 / readers.max(1) as f64
    );
    println!(
        "personal {} | trending fallback {} | skipped {} | papers chosen {} | checksum {:016x}",
        totals[0], totals[1], totals[2], totals[3], totals[4]
    );
    match paperboy::measure::peak_rss_mib() {
        Some(mib) => println!("peak memory {mib:.0} MiB"),
        None => println!("peak memory unknown (no /proc/self/status)"),
    }
    Ok(())
}

fn eval_matching(config: &Config, data: &std::path::Path, seed: u64) -> Result<()> {
    use paperboy::matching::eval;
    let text =
        std::fs::read_to_string(data).with_context(|| format!("cannot read {}", data.display()))?;
    let mut records = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r: eval::Record = serde_json::from_str(line).with_context(|| {
            format!(
                "{}:{}: not a record with title, abstract, categories",
                data.display(),
                n + 1
            )
        })?;
        records.push(r);
    }
    let catalogue = paperboy::domain::TopicCatalogue::from_toml(&config.topics_toml()?)?;
    let report = eval::evaluate(&records, &catalogue, seed, &config.matching);
    // `+ 0.0` turns a -0.0 into 0.0 for printing.
    let f = |m: &eval::Metrics| {
        format!(
            "{:.3} {:.3} {:.3}",
            m.p10 + 0.0,
            m.r50 + 0.0,
            m.ndcg10 + 0.0
        )
    };
    println!(
        "{} records, seed {seed}; per category: p@10 r@50 nDCG@10",
        records.len()
    );
    println!(
        "{:<20} {:>5}  {:<17}  {:<17}  {:<17}  {:<17}  topics",
        "category", "n", "topic reader", "topic baseline", "liked reader", "liked baseline"
    );
    for c in &report.categories {
        let topic = if c.topics.is_empty() {
            "uncovered        ".to_string()
        } else {
            f(&c.topic_reader)
        };
        println!(
            "{:<20} {:>5}  {:<17}  {:<17}  {:<17}  {:<17}  {}",
            c.category,
            c.records,
            topic,
            f(&c.topic_baseline),
            f(&c.liked_reader),
            f(&c.liked_baseline),
            c.topics.join(",")
        );
    }
    let covered = report
        .categories
        .iter()
        .filter(|c| !c.topics.is_empty())
        .count();
    println!(
        "coverage: {covered} of {} categories have a topic",
        report.categories.len()
    );
    println!(
        "macro average:  topic reader {}  baseline {}  |  liked reader {}  baseline {}",
        f(&report.topic_readers),
        f(&report.topic_baseline),
        f(&report.liked_paper_readers),
        f(&report.liked_baseline)
    );
    let m =
        |m: &eval::Metrics| serde_json::json!({"p@10": m.p10, "r@50": m.r50, "ndcg@10": m.ndcg10});
    println!(
        "{}",
        serde_json::json!({
            "topic_readers": m(&report.topic_readers),
            "liked_paper_readers": m(&report.liked_paper_readers),
            "baseline": {"topic_readers": m(&report.topic_baseline), "liked_paper_readers": m(&report.liked_baseline)},
        })
    );
    Ok(())
}

/// The longest range one command fetches.
const MAX_RANGE_DAYS: i64 = 366;

async fn deliver_now(subs: &Subscriptions) -> Result<()> {
    let r = paperboy::digest::deliver(subs).await?;
    println!(
        "{} sent, {} deferred, {} bounced, {} failed, {} skipped",
        r.sent, r.deferred, r.bounced, r.failed, r.skipped
    );
    Ok(())
}

async fn compose_day(subs: &Subscriptions, day: chrono::NaiveDate) -> Result<()> {
    let r =
        paperboy::digest::compose(&subs.store, &subs.config, &subs.catalogue, day, None).await?;
    println!(
        "{day}: {} papers, {} readers: {} composed ({} trending instead), {} already composed, {} nothing matched, {} not due",
        r.papers,
        r.readers,
        r.composed,
        r.trending,
        r.already_composed,
        r.nothing_matched,
        r.not_due
    );
    if r.weekly > 0 || r.no_papers > 0 {
        println!(
            "  {} weekly best-of, {} daily readers without papers today",
            r.weekly, r.no_papers
        );
    }
    if let Some(note) = r.note {
        println!("{note}");
    }
    Ok(())
}

async fn run_daily(
    config: Config,
    date: Option<chrono::NaiveDate>,
    skip_ingest: bool,
) -> Result<()> {
    let day = date.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let subs = Subscriptions::start(config.clone()).await?;
    if !skip_ingest && subs.store.papers(Some(day), 1).await?.is_empty() {
        // A source that fails is reported; the day goes on with what the others gave.
        if let Err(e) = ingest_sources(config, SourceArg::All, Some(day), None).await {
            eprintln!("ingest: {e:#}");
        }
    }
    compose_day(&subs, day).await?;
    deliver_now(&subs).await?;
    subs.store.close().await;
    Ok(())
}

async fn preview(
    config: Config,
    email: &str,
    date: Option<chrono::NaiveDate>,
    format: PreviewFormat,
) -> Result<()> {
    let day = date.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let subs = Subscriptions::start(config).await?;
    let address = EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("{email}: {e}"))?;
    let reader = subs
        .store
        .find_by_email(&address)
        .await?
        .with_context(|| format!("no subscriber {address}"))?;
    let content = match subs.store.digest_for(reader.id, day).await? {
        Some(d) => Some(d.content),
        None => {
            match paperboy::digest::Composer::for_frequency(
                &subs.store,
                &subs.config,
                &subs.catalogue,
                day,
                reader.prefs.frequency,
            )
            .await?
            {
                Some(mut c) => c.preview(&subs.store, &reader).await?,
                None => bail!(
                    "no papers are stored for {day}: run `paperboy ingest --date {day}` first"
                ),
            }
        }
    };
    let Some(content) = content else {
        bail!("{address} gets no mail for {day}: nothing matched, and they asked for nothing then");
    };
    let view = paperboy::digest::view(&subs, &reader, day, &content).await?;
    let mail = subs.mailer.render_digest(&view)?;
    match format {
        PreviewFormat::Text => println!("Subject: {}\n\n{}", mail.subject, mail.text),
        PreviewFormat::Html => println!("{}", mail.html),
        PreviewFormat::Eml => {
            let message_id =
                paperboy::digest::message_id(day, &reader.public_id, &subs.config.base_url);
            let list_id =
                paperboy::digest::list_id(&subs.config.operator.name, &subs.config.base_url);
            let message = subs.mailer.digest_message(
                &reader.email,
                &mail.subject,
                mail.html,
                mail.text,
                &paperboy::mail::DigestHeaders {
                    message_id: &message_id,
                    unsubscribe_url: &view.unsubscribe_url,
                    list_id: &list_id,
                },
            )?;
            std::io::stdout().write_all(&message.formatted())?;
        }
    }
    Ok(())
}

async fn status(config: Config) -> Result<()> {
    let store = Store::connect(&config.database_url).await?;
    println!("ingest runs (latest first):");
    for r in store.recent_runs(10).await? {
        let outcome = match (&r.error, r.finished_at) {
            (Some(e), _) => format!("failed: {e}"),
            (None, Some(_)) => format!("{} new, {} updated", r.new_papers, r.updated_papers),
            (None, None) => "running (or interrupted)".into(),
        };
        println!(
            "  {} {} {}: {outcome}",
            chrono::DateTime::from_timestamp(r.started_at, 0)
                .map_or(String::new(), |t| t.to_rfc3339()),
            r.source,
            r.day.as_deref().unwrap_or("file")
        );
    }
    println!("outbox: {}", counts(store.digest_counts().await?));
    println!("subscribers: {}", counts(store.counts_by_status().await?));
    if config.schedule.enabled {
        let schedule = paperboy::scheduler::Schedule::parse(&config.schedule.cron)?;
        match schedule.next_after(chrono::Utc::now()) {
            Some(next) => println!(
                "next scheduled run: {} (cron {:?}, `serve` runs it)",
                next.to_rfc3339(),
                config.schedule.cron
            ),
            None => println!(
                "next scheduled run: never (cron {:?})",
                config.schedule.cron
            ),
        }
    } else {
        println!("next scheduled run: none (schedule.enabled is false)");
    }
    Ok(())
}

async fn ingest_sources(
    config: Config,
    source: SourceArg,
    date: Option<chrono::NaiveDate>,
    range: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) -> Result<()> {
    let days: Vec<chrono::NaiveDate> = match (date, range) {
        (_, Some((from, to))) => {
            let n = (to - from).num_days();
            if !(0..MAX_RANGE_DAYS).contains(&n) {
                bail!(
                    "--from must not be after --to, and a range covers at most {MAX_RANGE_DAYS} days"
                );
            }
            from.iter_days().take(n as usize + 1).collect()
        }
        (Some(d), None) => vec![d],
        (None, None) => vec![chrono::Utc::now().date_naive()],
    };
    let store = Store::connect(&config.database_url).await?;
    let ingestor = ingest::Ingestor::new(store, &config.ingest)?;
    let mut failures = 0;
    if matches!(source, SourceArg::Huggingface | SourceArg::All) {
        let bar = (days.len() > 1).then(|| indicatif::ProgressBar::new(days.len() as u64));
        for day in &days {
            match ingestor.huggingface_day(*day).await {
                Ok(r) => report_run(&format!("huggingface {day}"), &r),
                Err(e) => {
                    failures += 1;
                    eprintln!("huggingface {day}: {e}");
                }
            }
            if let Some(b) = &bar {
                b.inc(1);
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    }
    if matches!(source, SourceArg::Arxiv | SourceArg::All) {
        // The RSS feeds carry only the latest announcement day.
        match ingestor.arxiv_feed().await {
            Ok(r) => report_run("arxiv rss", &r),
            Err(e) => {
                failures += 1;
                eprintln!("arxiv rss: {e}");
            }
        }
    }
    if failures > 0 {
        bail!(
            "{failures} run(s) failed; what was stored before is unchanged (each run is recorded in the ingest_runs table)"
        );
    }
    Ok(())
}

fn report_run(what: &str, r: &ingest::RunReport) {
    if r.not_modified {
        println!("{what}: not modified since the last run (run {})", r.run_id);
    } else {
        println!(
            "{what}: {} papers read, {} new, {} updated (run {})",
            r.ids.len(),
            r.counts.new,
            r.counts.updated,
            r.run_id
        );
    }
}

async fn list_papers(config: Config, date: Option<chrono::NaiveDate>, limit: i64) -> Result<()> {
    let store = Store::connect(&config.database_url).await?;
    let mut out = std::io::stdout().lock();
    for s in store.papers(date, limit.clamp(1, 10_000)).await? {
        let p = &s.paper;
        let upvotes = p.upvotes.map_or_else(|| "-".to_string(), |u| u.to_string());
        writeln!(
            out,
            "{}\t{}\t{}\t{}",
            p.id,
            upvotes,
            p.categories.join(","),
            p.title
        )?;
    }
    Ok(())
}

async fn serve(config: Config) -> Result<()> {
    let bind = config.bind;
    let subs = Subscriptions::start(config).await?;
    tracing::info!(backend = subs.store.backend(), "database ready");
    tracing::info!("{}", subs.mailer.describe());
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| {
        format!("cannot listen on {bind}: is another process using it? set PAPERBOY_BIND")
    })?;
    tracing::info!(
        "listening on http://{} (public URL {})",
        listener.local_addr()?,
        subs.config.base_url
    );
    if subs.config.schedule.enabled {
        let schedule = paperboy::scheduler::Schedule::parse(&subs.config.schedule.cron)?;
        if let Some(next) = schedule.next_after(chrono::Utc::now()) {
            tracing::info!(next = %next, cron = %subs.config.schedule.cron, "daily job scheduled");
        }
        tokio::spawn(paperboy::scheduler::run(subs.clone(), schedule));
    } else {
        tracing::info!(
            "schedule.enabled is false: run `paperboy run-daily` from your own scheduler"
        );
    }
    let purger = subs.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            match purger.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    removed = n,
                    "removed unconfirmed sign-ups past their link's expiry"
                ),
                Err(e) => tracing::warn!(error = %e, "could not remove expired sign-ups"),
            }
        }
    });
    web::serve(listener, AppState::new(subs)).await?;
    Ok(())
}

async fn subscribers(config: Config, cmd: SubscribersCommand) -> Result<()> {
    let subs = Subscriptions::start(config).await?;
    let store = &subs.store;
    let mut out = std::io::stdout().lock();
    match cmd {
        SubscribersCommand::List {
            status,
            email,
            limit,
        } => {
            let status = status
                .map(|s| s.parse::<SubscriberStatus>())
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let mut filter = ListFilter {
                status,
                email_contains: email,
                after_id: None,
                limit: limit.clamp(1, 10_000),
            };
            let mut shown = 0;
            while shown < limit {
                let page = store.list(&filter).await?;
                for s in &page {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}",
                        s.id,
                        s.email,
                        s.status,
                        s.interests
                            .topics
                            .iter()
                            .map(|t| t.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    )?;
                }
                shown += page.len() as i64;
                match page.last() {
                    Some(last) if page.len() as i64 == filter.limit => {
                        filter.after_id = Some(last.id)
                    }
                    _ => break,
                }
            }
        }
        SubscribersCommand::Add {
            email,
            topics,
            keywords,
            authors,
            liked,
            muted_authors,
            trending,
        } => {
            let input = SubscriptionInput {
                liked,
                muted_authors,
                trending: trending.map(|t| t.to_string()),
                email,
                topics: topics
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
                keywords,
                authors,
                ..Default::default()
            };
            let new = NewSubscription::parse(&input, &subs.catalogue).map_err(|errors| {
                anyhow::anyhow!(
                    errors
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })?;
            let (s, _) = store.subscribe(&new, Some("cli"), now()).await?;
            store.confirm(s.id, now()).await?;
            writeln!(out, "{} is subscribed (id {})", s.email, s.id)?;
        }
        SubscribersCommand::Remove { email } => {
            let email = EmailAddress::parse(&email)?;
            let Some(s) = store.find_by_email(&email).await? else {
                bail!("no subscriber with the address {email}");
            };
            store.delete(s.id).await?;
            writeln!(out, "{email} and everything stored about it is erased")?;
        }
        SubscribersCommand::Export { email, format } => {
            let rows = match email {
                Some(e) => {
                    let e = EmailAddress::parse(&e)?;
                    store
                        .find_by_email(&e)
                        .await?
                        .into_iter()
                        .collect::<Vec<_>>()
                }
                None => {
                    let mut all = Vec::new();
                    let mut filter = ListFilter {
                        limit: 5000,
                        ..Default::default()
                    };
                    loop {
                        let page = store.list(&filter).await?;
                        let done = (page.len() as i64) < filter.limit;
                        filter.after_id = page.last().map(|s| s.id);
                        all.extend(page);
                        if done {
                            break;
                        }
                    }
                    all
                }
            };
            let views: Vec<web::ExportRow> = rows.iter().map(web::ExportRow::from).collect();
            match format {
                Format::Json => {
                    // Everything stored about each address, the confirmation mails included.
                    let mut full = Vec::with_capacity(views.len());
                    for (view, s) in views.into_iter().zip(&rows) {
                        let mails = store.confirmation_mails_of(s.id).await?;
                        let mut v = serde_json::to_value(view)?;
                        v["confirmation_mails"] = mails
                            .into_iter()
                            .map(|(sent_at, client_ip)| serde_json::json!({"sent_at": sent_at, "client_ip": client_ip}))
                            .collect();
                        full.push(v);
                    }
                    serde_json::to_writer_pretty(&mut out, &full)?;
                    writeln!(out)?;
                }
                Format::Csv => {
                    let mut w = csv::Writer::from_writer(out);
                    for v in &views {
                        w.serialize(v.flat())?;
                    }
                    w.flush()?;
                }
            }
        }
    }
    Ok(())
}
