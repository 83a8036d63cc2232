//! `paperboy operator`: who may sign in to the console (`/admin`).

use std::io::{BufRead, Write};

use anyhow::{Result, bail};
use clap::Subcommand;

use crate::operators::MIN_PASSWORD_CHARS;
use crate::services::Services;

#[derive(Subcommand)]
pub(crate) enum OperatorCommand {
    /// Create an operator of the console, or change their password. The password is read
    /// from the first line of standard input (type it, or pipe it from a secret store); at
    /// least 12 characters. It is stored as an argon2id hash.
    SetPassword {
        /// 1 to 64 letters, digits, '.', '_', '-' or '@'.
        name: String,
    },
}

pub async fn run(services: &Services, cmd: OperatorCommand) -> Result<()> {
    match cmd {
        OperatorCommand::SetPassword { name } => {
            let stdin = std::io::stdin();
            if std::io::IsTerminal::is_terminal(&stdin) {
                eprint!(
                    "Password for {name} (at least {MIN_PASSWORD_CHARS} characters; it is shown as you type): "
                );
            }
            let mut line = String::new();
            stdin.lock().read_line(&mut line)?;
            let password = line.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                bail!("no password on standard input: pipe it in, or type it and press Enter");
            }
            let new = services
                .operators
                .set_password(&super::actor(), &name, password)
                .await?;
            let mut out = std::io::stdout().lock();
            if new {
                writeln!(out, "operator {name} created: they can sign in at /admin")?;
            } else {
                writeln!(
                    out,
                    "the password of {name} is changed (their open sessions stay until they end)"
                )?;
            }
            Ok(())
        }
    }
}
