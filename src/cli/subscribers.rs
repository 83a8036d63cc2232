//! `paperboy subscribers`: list, add, remove and export subscribers.

use std::io::Write;

use crate::admin::views::{AdminSubscriber, write_csv};
use crate::domain::{EmailAddress, ImportMode, SubscriberStatus, SubscriptionInput};
use crate::error::ServiceError;
use crate::import::{ImportOptions, ImportReport};
use crate::services::Services;
use crate::store::ListFilter;
use anyhow::{Result, bail};
use clap::{Subcommand, ValueEnum};

#[derive(Subcommand)]
pub(crate) enum SubscribersCommand {
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
    /// Erase a subscriber and everything stored about them (a keyed hash of the address is
    /// kept, so that `add` and imports refuse it; its owner can still sign up by the form).
    Remove { email: String },
    /// Bring a list in from a CSV file with a header row: email and any of topics,
    /// keywords, authors, categories, liked, frequency, weekday, delivery_hour, timezone,
    /// papers_per_digest, status, consented_at, consent_ip, consent_source (listmonk's and
    /// Mailchimp's export columns are read too; others are ignored). Never makes a
    /// suppressed, unsubscribed or erased address active; never changes a reader's
    /// interests. Prints what each row did, and the refused rows by line.
    Import {
        file: std::path::PathBuf,
        /// confirmed: active at once, nobody mailed (each row needs consented_at);
        /// opt-in: each new address is sent a confirmation mail; unsubscribed, suppressed:
        /// a do-not-mail list.
        #[arg(long)]
        mode: ImportMode,
        /// Change nothing: print what the import would do.
        #[arg(long)]
        dry_run: bool,
        /// Topic ids, comma-separated, for rows that name no interest (see config/topics.toml).
        #[arg(long, default_value = "")]
        default_topics: String,
        /// Where the rows' consent came from, for rows without a consent_source (default:
        /// the file's name).
        #[arg(long)]
        source: Option<String>,
    },
    /// Everything stored about one address, or about all.
    Export {
        #[arg(long)]
        email: Option<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ExportFormat {
    Json,
    Csv,
}

pub async fn run(services: &Services, cmd: SubscribersCommand) -> Result<()> {
    let admin = &services.admin;
    let subs = &services.subscriptions;
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
            let filter = ListFilter {
                status,
                email_contains: email,
                ..Default::default()
            };
            for s in admin.list_all(&filter, limit).await? {
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
            let new = subs.parse(&input).map_err(|e| match e {
                ServiceError::Invalid(errors) => anyhow::anyhow!(
                    errors
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                e => e.into(),
            })?;
            let s = subs.add_confirmed(&super::actor(), &new).await?;
            writeln!(out, "{} is subscribed (id {})", s.email, s.id)?;
        }
        SubscribersCommand::Remove { email } => {
            let email = EmailAddress::parse(&email)?;
            if !admin.erase(&super::actor(), &email).await? {
                bail!("no subscriber with the address {email}");
            }
            writeln!(
                out,
                "{email} and everything stored about it is erased; a keyed hash of the address is \
                 kept so that it is not added back (its owner can sign up again through the form)"
            )?;
        }
        SubscribersCommand::Import {
            file,
            mode,
            dry_run,
            default_topics,
            source,
        } => {
            let data = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let options = ImportOptions {
                mode,
                dry_run,
                source: source.unwrap_or_else(|| {
                    file.file_name().map_or_else(
                        || file.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    )
                }),
                default_topics: default_topics
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            };
            let report = services
                .import
                .run(&super::actor(), &data, &options)
                .await?;
            write!(
                out,
                "{}",
                render_import(&file.display().to_string(), &report)
            )?;
        }
        SubscribersCommand::Export { email, format } => {
            let email = email.as_deref().map(EmailAddress::parse).transpose()?;
            let rows = admin.export(&super::actor(), email.as_ref()).await?;
            match format {
                ExportFormat::Json => {
                    // Everything stored about each address, the confirmation mails included.
                    let full = rows
                        .iter()
                        .map(crate::admin::views::exported_json)
                        .collect::<serde_json::Result<Vec<_>>>()?;
                    serde_json::to_writer_pretty(&mut out, &full)?;
                    writeln!(out)?;
                }
                ExportFormat::Csv => {
                    let rows: Vec<AdminSubscriber> = rows
                        .iter()
                        .map(|r| AdminSubscriber::from(&r.subscriber).with_ratings(&r.ratings))
                        .collect();
                    write_csv(out, rows.iter().map(AdminSubscriber::flat))?;
                }
            }
        }
    }
    Ok(())
}

/// An import's report as the CLI prints it (and the tests read it).
fn render_import(file: &str, r: &ImportReport) -> String {
    let mut out = format!(
        "import of {file} as {}{}\n",
        r.mode,
        if r.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    out += &format!("columns: {}\n", r.column_notes().join(", "));
    out += &format!("rows: {}\n", r.rows);
    for (outcome, n) in &r.outcomes {
        out += &format!("  {:<50} {n:>9}\n", outcome.label());
    }
    out += &format!(
        "  {:<50} {:>9}\n",
        "refused (below, by line)",
        r.errors.len()
    );
    out += &format!("confirmation mails queued: {}\n", r.mails);
    if r.raced > 0 {
        out += &format!(
            "changed by a reader during the import, left as they left it: {}\n",
            r.raced
        );
    }
    for e in &r.errors {
        out += &format!("line {}: {}\n", e.line, e.message);
    }
    out += &format!("{:.1} s\n", r.seconds);
    out
}
