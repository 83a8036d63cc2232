//! `paperboy subscribers`: list, add, remove and export subscribers.

use std::io::Write;

use crate::admin::views::AdminSubscriber;
use crate::domain::{EmailAddress, SubscriberStatus, SubscriptionInput};
use crate::error::ServiceError;
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
            let s = subs.add_confirmed(&new).await?;
            writeln!(out, "{} is subscribed (id {})", s.email, s.id)?;
        }
        SubscribersCommand::Remove { email } => {
            let email = EmailAddress::parse(&email)?;
            if !admin.erase(&email).await? {
                bail!("no subscriber with the address {email}");
            }
            writeln!(
                out,
                "{email} and everything stored about it is erased; a keyed hash of the address is \
                 kept so that it is not added back (its owner can sign up again through the form)"
            )?;
        }
        SubscribersCommand::Export { email, format } => {
            let email = email.as_deref().map(EmailAddress::parse).transpose()?;
            let rows = admin.export(email.as_ref()).await?;
            match format {
                ExportFormat::Json => {
                    // Everything stored about each address, the confirmation mails included.
                    let mut full = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let mut v = serde_json::to_value(
                            AdminSubscriber::from(&row.subscriber).with_ratings(&row.ratings),
                        )?;
                        v["confirmation_mails"] = row
                            .confirmation_mails
                            .iter()
                            .map(|(sent_at, client_ip)| serde_json::json!({"sent_at": sent_at, "client_ip": client_ip}))
                            .collect();
                        v["mail_events"] = serde_json::to_value(
                            row.mail_events
                                .iter()
                                .map(crate::admin::views::MailEvent::from)
                                .collect::<Vec<_>>(),
                        )?;
                        full.push(v);
                    }
                    serde_json::to_writer_pretty(&mut out, &full)?;
                    writeln!(out)?;
                }
                ExportFormat::Csv => {
                    let mut w = csv::Writer::from_writer(out);
                    for row in &rows {
                        let row = AdminSubscriber::from(&row.subscriber).with_ratings(&row.ratings);
                        w.serialize(row.flat())?;
                    }
                    w.flush()?;
                }
            }
        }
    }
    Ok(())
}
