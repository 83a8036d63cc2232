//! `paperboy suppressions`: who is sent nothing and why; suppress or lift by hand; and
//! `paperboy events`: the bounces and complaints recorded.

use std::io::Write;

use crate::admin::views::{MailEvent, Suppression, write_csv};
use crate::domain::EmailAddress;
use crate::services::Services;
use crate::store::EventFilter;
use anyhow::Result;
use clap::{Args, Subcommand};

use super::subscribers::ExportFormat;

#[derive(Subcommand)]
pub(crate) enum SuppressionsCommand {
    /// Suppressed readers: address, when, why.
    List {
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
    /// Send nothing more to a reader until they confirm again.
    Add {
        email: String,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a suppression: the reader returns to where they were before it.
    Remove {
        email: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Every suppression, as JSON or CSV.
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
    },
}

#[derive(Args)]
pub(crate) struct EventsArgs {
    /// Only this reader's.
    #[arg(long)]
    email: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long, value_enum)]
    format: Option<ExportFormat>,
}

pub async fn run(services: &Services, cmd: SuppressionsCommand) -> Result<()> {
    let admin = &services.admin;
    let mut out = std::io::stdout().lock();
    match cmd {
        SuppressionsCommand::List { limit } => {
            for s in admin.suppressions(None, limit).await? {
                let s = Suppression::from(&s);
                writeln!(
                    out,
                    "{}\t{}\t{}",
                    s.email,
                    time(s.suppressed_at),
                    s.reason.unwrap_or_default()
                )?;
            }
        }
        SuppressionsCommand::Add { email, reason } => {
            let s = admin
                .suppress(&super::actor(), &EmailAddress::parse(&email)?, &reason)
                .await?;
            writeln!(
                out,
                "{} is suppressed: {}",
                s.email,
                s.suppression_reason.unwrap_or_default()
            )?;
        }
        SuppressionsCommand::Remove { email, reason } => {
            let s = admin
                .lift(&super::actor(), &EmailAddress::parse(&email)?, &reason)
                .await?;
            writeln!(out, "{} is no longer suppressed: {}", s.email, s.status)?;
        }
        SuppressionsCommand::Export { format } => {
            let rows: Vec<Suppression> = admin
                .export_suppressions(&super::actor())
                .await?
                .iter()
                .map(Suppression::from)
                .collect();
            match format {
                ExportFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &rows)?;
                    writeln!(out)?;
                }
                ExportFormat::Csv => {
                    write_csv(out, &rows)?;
                }
            }
        }
    }
    Ok(())
}

pub async fn events(services: &Services, args: EventsArgs) -> Result<()> {
    let admin = &services.admin;
    let subscriber_id = match args.email.as_deref().map(EmailAddress::parse).transpose()? {
        Some(email) => match services.subscriptions.find(&email).await? {
            Some(s) => Some(s.id),
            None => anyhow::bail!("no subscriber with the address {email}"),
        },
        None => None,
    };
    let filter = EventFilter {
        subscriber_id,
        limit: args.limit,
        ..Default::default()
    };
    let rows: Vec<MailEvent> = admin
        .events(&filter)
        .await?
        .iter()
        .map(MailEvent::from)
        .collect();
    let mut out = std::io::stdout().lock();
    match args.format {
        Some(ExportFormat::Json) => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        Some(ExportFormat::Csv) => {
            write_csv(out, &rows)?;
        }
        None => {
            for e in &rows {
                writeln!(out, "{}", event_line(e))?;
            }
        }
    }
    Ok(())
}

/// One event on one line, as `status` and `events` print it.
pub(crate) fn event_line(e: &MailEvent) -> String {
    format!(
        "{}\t{}\t{} ({})\t{}\t{}\t{}",
        time(Some(e.at)),
        e.email,
        e.kind,
        e.source,
        e.status.as_deref().unwrap_or("-"),
        e.effect,
        e.diagnostic.as_deref().unwrap_or_default()
    )
}

fn time(t: Option<i64>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(|| "-".into(), |t| t.to_rfc3339())
}
