//! `paperboy ingest` and `paperboy papers`: fetch or import papers, show what is stored.

use std::io::Write;
use std::path::PathBuf;

use crate::clock;
use crate::ingest;
use crate::learning;
use crate::services::Services;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

/// Fetch the day's papers from the sources, or import a saved response with --file.
#[derive(Args)]
pub(crate) struct IngestArgs {
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
}

pub async fn run(services: &Services, args: IngestArgs) -> Result<()> {
    match args.file {
        Some(file) => ingest_file(services, &file, args.format, args.date).await,
        None => ingest_sources(services, args.source, args.date, args.from.zip(args.to)).await,
    }
}

#[derive(Subcommand)]
pub(crate) enum PapersCommand {
    /// Papers featured on a day, most upvoted first (or the latest stored).
    List {
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Rebuild every topic's profile from the stored papers' categories (each ingest does
    /// it; run it after changing the topic catalogue).
    LearnTopics,
}

pub async fn papers(services: &Services, cmd: PapersCommand) -> Result<()> {
    match cmd {
        PapersCommand::List { date, limit } => list_papers(services, date, limit).await,
        PapersCommand::LearnTopics => learn(services).await,
    }
}

/// Rebuild the topics' learned profiles from what is stored now.
async fn learn(services: &Services) -> Result<()> {
    let report = services
        .papers
        .learn_topics()
        .await
        .context("learning the topics from the stored papers failed (the papers are stored; run `paperboy papers learn-topics` to retry)")?;
    report_learned(&report);
    Ok(())
}

pub(crate) fn report_learned(r: &learning::LearnReport) {
    println!(
        "topics: {} of {} learned from {} papers with arXiv categories in {:.1} s (the others match by their keywords); {} arXiv categories learned",
        r.learned,
        r.topics,
        r.papers,
        r.took.as_secs_f64(),
        r.categories
    );
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SourceArg {
    Huggingface,
    Arxiv,
    All,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum IngestFormat {
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

async fn ingest_file(
    services: &Services,
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
    let origin = file.display().to_string();
    let report = services
        .papers
        .import(&bytes, format, date, &origin)
        .await?;
    report_run(&origin, &report);
    learn(services).await
}

/// The longest range one command fetches.
const MAX_RANGE_DAYS: i64 = 366;

pub(crate) async fn ingest_sources(
    services: &Services,
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
        (None, None) => vec![clock::today()],
    };
    let ingestor = services.papers.ingestor()?;
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
    // What was stored is kept even when learning fails: the error says so.
    learn(services).await?;
    if failures > 0 {
        bail!(
            "{failures} run(s) failed; what was stored before is unchanged (each run is recorded in the ingest_runs table)"
        );
    }
    Ok(())
}

pub(crate) fn report_run(what: &str, r: &ingest::RunReport) {
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

async fn list_papers(
    services: &Services,
    date: Option<chrono::NaiveDate>,
    limit: i64,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for s in services.papers.list(date, limit).await? {
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
