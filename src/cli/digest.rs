//! `paperboy digest`, `run-daily` and `preview`: the daily digest by hand.

use std::io::Write;

use crate::clock;
use crate::digest::{ComposeReport, Preview};
use crate::domain::EmailAddress;
use crate::outbox::DeliverReport;
use crate::scheduler::{self, Job};
use crate::services::Delivered;
use crate::services::Services;
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Subcommand)]
pub(crate) enum DigestCommand {
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

/// The whole day now: ingest it if no papers are stored for it, compose, deliver.
#[derive(Args)]
pub(crate) struct RunDailyArgs {
    /// The day (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    date: Option<chrono::NaiveDate>,
    /// Do not fetch from the sources, even if the day has no papers.
    #[arg(long)]
    skip_ingest: bool,
}

/// Render the digest a reader gets for a day (from the outbox, or as it would be
/// composed now), without sending or storing anything.
#[derive(Args)]
pub(crate) struct PreviewArgs {
    #[arg(long)]
    email: String,
    /// The day (YYYY-MM-DD); default today (UTC).
    #[arg(long)]
    date: Option<chrono::NaiveDate>,
    #[arg(long, value_enum, default_value_t = PreviewFormat::Text)]
    format: PreviewFormat,
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

pub async fn run(services: &Services, cmd: DigestCommand) -> Result<()> {
    let ctx = &services.ctx;
    match cmd {
        DigestCommand::Compose { date } => {
            let day = date.unwrap_or_else(clock::today);
            print_composed(&services.digests.compose(day, None).await?);
        }
        DigestCommand::Deliver => {
            eprintln!("{}", ctx.mailer.describe());
            print_delivered(&services.deliver().await?);
        }
    }
    Ok(())
}

/// The scheduler's own daily job, its compose lock included, for the whole day.
pub(crate) async fn run_daily(services: &Services, args: RunDailyArgs) -> Result<()> {
    let job = Job {
        day: args.date.unwrap_or_else(clock::today),
        at: None,
        ingest: !args.skip_ingest,
    };
    let r = scheduler::daily_job(services, job).await?;
    for (what, run) in &r.ingested {
        super::ingest::report_run(what, run);
    }
    // A source that fails is reported; the day goes on with what the others gave.
    for e in &r.ingest_errors {
        eprintln!("ingest: {e}");
    }
    if let Some(l) = &r.learned {
        super::ingest::report_learned(l);
    }
    if r.composed_elsewhere {
        println!("another instance is composing now: this one only delivered");
    } else {
        print_composed(&r.composed);
    }
    print_delivered(&r.delivered);
    if let Some(Err(e)) = &r.stats {
        eprintln!("the dashboard's figures were not counted: {e}");
    }
    Ok(())
}

fn print_composed(r: &ComposeReport) {
    let day = r.day.map_or_else(String::new, |d| d.to_string());
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
    if let Some(note) = &r.note {
        println!("{note}");
    }
}

fn print_delivered(r: &Delivered) {
    // Subscription mails go first; a line for them only when there were some.
    if r.mails != DeliverReport::default() {
        println!("subscription mails: {}", r.mails);
    }
    println!("{}", r.digests);
}

pub async fn preview(services: &Services, args: PreviewArgs) -> Result<()> {
    let ctx = &services.ctx;
    let day = args.date.unwrap_or_else(clock::today);
    let email = &args.email;
    let address = EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("{email}: {e}"))?;
    let reader = services
        .subscriptions
        .find(&address)
        .await?
        .with_context(|| format!("no subscriber {address}"))?;
    let view = match services.digests.preview(&reader, day).await? {
        Preview::Digest(view) => view,
        Preview::NoPapers => {
            bail!("no papers are stored for {day}: run `paperboy ingest --date {day}` first")
        }
        Preview::Nothing => bail!(
            "{address} gets no mail for {day}: nothing matched, and they asked for nothing then"
        ),
    };
    match args.format {
        PreviewFormat::Text => {
            let mail = ctx.mailer.render_digest(&view)?;
            println!("Subject: {}\n\n{}", mail.subject, mail.text)
        }
        PreviewFormat::Html => println!("{}", ctx.mailer.render_digest(&view)?.html),
        PreviewFormat::Eml => {
            let message_id = ctx.links.digest_message_id(day, &reader.public_id);
            let message = services.digests.message(&reader, &view, &message_id)?;
            std::io::stdout().write_all(&message.formatted())?;
        }
    }
    Ok(())
}
