//! The `paperboy` command: the service and the operator's tools.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use paperboy::config::Config;
use paperboy::domain::{EmailAddress, NewSubscription, SubscriberStatus, SubscriptionInput};
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
}

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
        #[arg(long, default_value = "")]
        authors: String,
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
    }
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
        } => {
            let input = SubscriptionInput {
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
