//! `paperboy audit`: what operators changed, newest first.

use std::io::Write;

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;
use serde::Serialize;

use super::subscribers::ExportFormat;
use crate::admin::views::write_csv;
use crate::domain::AuditAction;
use crate::services::Services;
use crate::store::{AuditFilter, StoredAudit};

#[derive(Args)]
pub(crate) struct AuditArgs {
    /// Only this action: add, erase, export, import, suppress, lift, unsubscribe,
    /// resubscribe, resend_confirmation, set_password, sign_in, sign_out.
    #[arg(long)]
    action: Option<AuditAction>,
    /// Only changes made from here: cli, api or console.
    #[arg(long, value_parser = crate::domain::ACTOR_KINDS)]
    actor: Option<String>,
    /// Only changes on or after this day (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    since: Option<NaiveDate>,
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Lines of text by default.
    #[arg(long, value_enum)]
    format: Option<ExportFormat>,
}

/// One entry as JSON and CSV show it.
#[derive(Serialize)]
struct Entry<'a> {
    id: i64,
    /// Unix seconds.
    at: i64,
    actor_kind: &'a str,
    actor: &'a str,
    origin: Option<&'a str>,
    action: &'a str,
    subject: Option<&'a str>,
    before: Option<&'a str>,
    after: Option<&'a str>,
}

impl<'a> From<&'a StoredAudit> for Entry<'a> {
    fn from(a: &'a StoredAudit) -> Self {
        Self {
            id: a.id,
            at: a.at,
            actor_kind: &a.actor_kind,
            actor: &a.actor,
            origin: a.origin.as_deref(),
            action: &a.action,
            subject: a.subject.as_deref(),
            before: a.before.as_deref(),
            after: a.after.as_deref(),
        }
    }
}

pub async fn run(services: &Services, args: AuditArgs) -> Result<()> {
    let filter = AuditFilter {
        action: args.action,
        actor_kind: args.actor,
        since: args
            .since
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp()),
        before_id: None,
        limit: args.limit.clamp(1, 100_000),
    };
    let rows = services.audit.list(&filter).await?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Some(ExportFormat::Json) => {
            let entries: Vec<Entry> = rows.iter().map(Entry::from).collect();
            serde_json::to_writer_pretty(&mut out, &entries)?;
            writeln!(out)?;
        }
        Some(ExportFormat::Csv) => write_csv(out, rows.iter().map(Entry::from))?,
        None => {
            for a in &rows {
                let at = crate::clock::utc_text(a.at);
                let change = match (&a.before, &a.after) {
                    (Some(b), Some(x)) => format!(": {b} -> {x}"),
                    (None, Some(x)) => format!(": {x}"),
                    _ => String::new(),
                };
                writeln!(
                    out,
                    "{at} {} {}{} {} {}{change}",
                    a.actor_kind,
                    a.actor,
                    a.origin
                        .as_deref()
                        .map_or_else(String::new, |o| format!(" ({o})")),
                    a.action,
                    a.subject.as_deref().unwrap_or("-"),
                )?;
            }
        }
    }
    Ok(())
}
