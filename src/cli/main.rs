//! The command line: arguments parsed, each command dispatched to its group's module.

use std::path::PathBuf;

use crate::config::Config;
use crate::context::Context;
use crate::services::Services;
use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::cli::backup::{BackupArgs, RestoreArgs};
use crate::cli::bounces::BouncesCommand;
use crate::cli::digest::{DigestCommand, PreviewArgs, RunDailyArgs};
#[cfg(feature = "tools")]
use crate::cli::eval::EvalCommand;
use crate::cli::ingest::{IngestArgs, PapersCommand};
use crate::cli::subscribers::SubscribersCommand;
use crate::cli::suppressions::{EventsArgs, SuppressionsCommand};
#[cfg(feature = "tools")]
use crate::cli::tools::BenchCommand;

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
    /// Write a consistent snapshot of the database to a file, while the service runs.
    Backup(BackupArgs),
    /// Restore a backup into an empty database (refused for a non-empty one).
    Restore(RestoreArgs),
    /// Manage subscribers.
    #[command(subcommand)]
    Subscribers(SubscribersCommand),
    /// Readers nothing is sent to (bounced, complained, or by hand).
    #[command(subcommand)]
    Suppressions(SuppressionsCommand),
    /// Bounces and complaints recorded, newest first.
    Events(EventsArgs),
    /// What operators changed (CLI, admin API, console), newest first.
    Audit(crate::cli::audit::AuditArgs),
    /// Who may sign in to the console (/admin).
    #[command(subcommand)]
    Operator(crate::cli::operator::OperatorCommand),
    /// Fetch the day's papers from the sources, or import a saved response with --file.
    Ingest(IngestArgs),
    /// Show stored papers.
    #[command(subcommand)]
    Papers(PapersCommand),
    /// The daily digest: compose the outbox for a day, deliver it.
    #[command(subcommand)]
    Digest(DigestCommand),
    /// The whole day now: ingest it if no papers are stored for it, compose, deliver.
    RunDaily(RunDailyArgs),
    /// Bounces and complaints: read the bounce mailbox.
    #[command(subcommand)]
    Bounces(BouncesCommand),
    /// Retention: remove what the [retention] windows no longer keep.
    #[command(subcommand)]
    Maintenance(crate::cli::maintenance::MaintenanceCommand),
    /// Last ingest runs, the outbox by state, subscribers by state, bounces and complaints.
    Status,
    /// Check the installation: configuration, database and migrations, disk, relay, bounces,
    /// DKIM (with the DNS record to publish), clock. Changes nothing; fails if a check fails.
    Doctor,
    /// Render the digest a reader gets for a day (from the outbox, or as it would be
    /// composed now), without sending or storing anything.
    Preview(PreviewArgs),
    /// Measure quality.
    #[command(subcommand)]
    #[cfg(feature = "tools")]
    Eval(EvalCommand),
    /// Measure speed.
    #[command(subcommand)]
    #[cfg(feature = "tools")]
    Bench(BenchCommand),
}

/// The `paperboy` command: parse the arguments, run the command.
pub async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PAPERBOY_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Doctor reports a configuration that does not load as one of its findings.
    if let Command::Doctor = cli.command {
        return crate::cli::doctor::run(cli.config.as_deref()).await;
    }
    let config = Config::load(cli.config.as_deref())?;
    let command = match cli.command {
        Command::Serve => return crate::cli::serve(config).await,
        Command::Migrate => return crate::cli::migrate(config).await,
        // These two open the database themselves: neither may migrate it.
        Command::Backup(args) => return crate::cli::backup::backup(&config, args).await,
        Command::Restore(args) => return crate::cli::backup::restore(&config, args).await,
        #[cfg(feature = "tools")]
        Command::Eval(cmd) => return crate::cli::eval::eval(&config, cmd),
        #[cfg(feature = "tools")]
        Command::Bench(cmd) => return crate::cli::tools::bench(&config, cmd),
        other => other,
    };
    // The rest work on the application context; the database is closed at the end, so a
    // SQLite file is checkpointed before the process exits.
    let services = Services::new(Context::start(config).await?);
    let ctx = &services.ctx;
    let result = match command {
        Command::Ingest(args) => crate::cli::ingest::run(&services, args).await,
        Command::Papers(cmd) => crate::cli::ingest::papers(&services, cmd).await,
        Command::Subscribers(cmd) => crate::cli::subscribers::run(&services, cmd).await,
        Command::Suppressions(cmd) => crate::cli::suppressions::run(&services, cmd).await,
        Command::Events(args) => crate::cli::suppressions::events(&services, args).await,
        Command::Audit(args) => crate::cli::audit::run(&services, args).await,
        Command::Operator(cmd) => crate::cli::operator::run(&services, cmd).await,
        Command::Digest(cmd) => crate::cli::digest::run(&services, cmd).await,
        Command::RunDaily(args) => crate::cli::digest::run_daily(&services, args).await,
        Command::Status => crate::cli::status(&services).await,
        Command::Maintenance(cmd) => crate::cli::maintenance::run(&services, cmd).await,
        Command::Bounces(cmd) => crate::cli::bounces::run(&services, cmd).await,
        Command::Preview(args) => crate::cli::digest::preview(&services, args).await,
        _ => unreachable!("handled above"),
    };
    ctx.store.close().await;
    result
}
