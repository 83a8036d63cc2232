//! `paperboy bounces`: the bounce mailbox, read by hand.

use crate::bounces::mailbox::Poller;
use crate::services::Services;
use anyhow::{Result, bail};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum BouncesCommand {
    /// Read the bounce mailbox ([mailbox] url) once, as `serve` does every poll_seconds,
    /// and say what was recorded and what was left alone.
    Poll,
}

pub async fn run(services: &Services, cmd: BouncesCommand) -> Result<()> {
    let ctx = &services.ctx;
    match cmd {
        BouncesCommand::Poll => {
            let Some(mut poller) = Poller::from_config(ctx)? else {
                bail!("mailbox.url is empty: set it (PAPERBOY_MAILBOX__URL) to the bounce mailbox");
            };
            let report = poller.poll().await?;
            println!("{}: {report}", poller.target());
            Ok(())
        }
    }
}
