//! `paperboy maintenance`: retention and the dashboard's figures on demand.

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use crate::maintenance::{RetentionReport, Vacuum};
use crate::services::Services;

#[derive(Subcommand)]
pub(crate) enum MaintenanceCommand {
    /// Apply the [retention] windows now, as the scheduler does once a day: print per kind
    /// the rows (and bytes, where counted) removed.
    Run(RunArgs),
    /// Count the dashboard's daily figures now, as the daily job does after each run: the
    /// days since the last count (the last 90 on the first).
    Stats,
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// Remove nothing: print what a run would remove.
    #[arg(long)]
    dry_run: bool,
    /// Count ages as of this day (YYYY-MM-DD) instead of today: with --dry-run, what a run on
    /// that day would remove.
    #[arg(long, value_name = "DATE")]
    as_of: Option<NaiveDate>,
}

pub async fn run(services: &Services, cmd: MaintenanceCommand) -> Result<()> {
    match cmd {
        MaintenanceCommand::Run(args) => {
            let as_of = args.as_of.unwrap_or_else(crate::clock::today);
            let report = services.maintenance.run(as_of, args.dry_run).await?;
            print!("{}", render(&report));
            Ok(())
        }
        MaintenanceCommand::Stats => {
            let r = services.stats.refresh(crate::clock::timestamp()).await?;
            println!(
                "counted the dashboard's figures of {} to {} ({} figures)",
                r.from, r.to, r.rows
            );
            Ok(())
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn render(r: &RetentionReport) -> String {
    let verb = if r.dry_run { "would remove" } else { "removed" };
    let mut out = format!(
        "retention as of {}{}\n{:<20} {:>12} {:>14} {:>12}\n",
        r.as_of,
        if r.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        },
        "kind",
        "older than",
        verb,
        "bytes"
    );
    for k in &r.kinds {
        let before = k
            .before
            .map_or("kept forever".to_string(), |d| d.to_string());
        let bytes = k.bytes.map_or("-".to_string(), mib);
        out += &format!(
            "{:<20} {:>12} {:>14} {:>12}\n",
            k.kind.name(),
            before,
            k.rows,
            bytes
        );
    }
    out += &format!(
        "database: {} before, {} after; {}; {:.1} s\n",
        mib(r.database_bytes_before),
        mib(r.database_bytes_after),
        match r.vacuum {
            Vacuum::Returned { pages } => format!("{pages} free pages returned to the file system"),
            Vacuum::NotIncremental => "this SQLite file was made without incremental vacuum: freed pages are reused but the file does not shrink (stop the service and run `sqlite3 FILE 'PRAGMA auto_vacuum = INCREMENTAL; VACUUM;'` once to change that)".into(),
            Vacuum::Autovacuum => "PostgreSQL's autovacuum makes the space reusable".into(),
            Vacuum::None => "nothing freed".into(),
        },
        r.seconds
    );
    out
}
