//! The operator's commands, one module per group; `main.rs` parses and dispatches.

mod main;

mod audit;
mod backup;
mod bounces;
mod digest;
mod doctor;
#[cfg(feature = "tools")]
mod eval;
mod ingest;
mod maintenance;
mod operator;
mod subscribers;
mod suppressions;
#[cfg(feature = "tools")]
mod tools;

pub use main::main;

use crate::app::App;
use crate::clock;
use crate::config::Config;
use crate::context::Context;
use crate::scheduler::Schedule;
use crate::services::Services;
use anyhow::Result;

/// `paperboy serve`: the service as `App` builds and runs it.
pub async fn serve(config: Config) -> Result<()> {
    App::build(config).await?.run().await?;
    Ok(())
}

/// `paperboy migrate`: open the database, which applies the migrations.
pub async fn migrate(config: Config) -> Result<()> {
    let ctx = Context::start(config).await?;
    eprintln!("migrations applied to the {} database", ctx.store.backend());
    ctx.store.close().await;
    Ok(())
}

/// `paperboy status`: the last ingest runs, the outbox and subscribers by state, the next
/// scheduled run.
pub async fn status(services: &Services) -> Result<()> {
    let ctx = &services.ctx;
    let status = services.admin.status().await?;
    println!("ingest runs (latest first):");
    for r in status.runs {
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
    println!("outbox: {}", counts(status.outbox));
    println!("subscription mails: {}", counts(status.subscription_mails));
    println!("subscribers: {}", counts(status.subscribers));
    let events: Vec<String> = status
        .mail_events
        .iter()
        .map(|(kind, source, n)| format!("{n} {kind} ({source})"))
        .collect();
    println!(
        "bounces and complaints, last {} days: {}",
        crate::admin::EVENTS_WINDOW_DAYS,
        if events.is_empty() {
            "none".to_string()
        } else {
            events.join(", ")
        }
    );
    for e in &status.latest_events {
        println!(
            "  {}",
            suppressions::event_line(&crate::admin::views::MailEvent::from(e))
        );
    }
    let learned = status.learned;
    match learned
        .learned_at
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
    {
        Some(at) => println!(
            "learned topics: {} of {}, at {} (the others match by their keywords)",
            learned.topics,
            ctx.catalogue.topics().len(),
            at.to_rfc3339()
        ),
        None => println!(
            "learned topics: none yet (each ingest learns them from papers with arXiv categories; topics match by their keywords)"
        ),
    }
    let schedule = &ctx.config.schedule;
    if schedule.enabled {
        match Schedule::parse(&schedule.cron)?.next_after(clock::now()) {
            Some(next) => println!(
                "next scheduled run: {} (cron {:?}, `serve` runs it)",
                next.to_rfc3339(),
                schedule.cron
            ),
            None => println!("next scheduled run: never (cron {:?})", schedule.cron),
        }
    } else {
        println!("next scheduled run: none (schedule.enabled is false)");
    }
    Ok(())
}

/// "pending 3, sent 10": counts by state.
/// Who runs a command, for the audit log: the system user on this host.
pub(crate) fn actor() -> crate::domain::Actor {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    crate::domain::Actor::cli_from_env(user, host)
}

fn counts<S: std::fmt::Display>(c: Vec<(S, i64)>) -> String {
    let parts: Vec<String> = c.iter().map(|(s, n)| format!("{s} {n}")).collect();
    parts.join(", ")
}
