//! `paperboy backup` and `paperboy restore`: the whole database into one file and back.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::backup::Manifest;
use crate::config::Config;

#[derive(Args)]
pub(crate) struct BackupArgs {
    /// The backup file to write (a new file: an existing one is not overwritten).
    file: PathBuf,
}

#[derive(Args)]
pub(crate) struct RestoreArgs {
    /// A file written by `paperboy backup`.
    file: PathBuf,
    /// Restore although this configuration's signing key (PAPERBOY_SECRET) is not the one
    /// the backup was made with: links in mails already sent stop working, and erased
    /// addresses are no longer recognised.
    #[arg(long)]
    new_secret: bool,
}

/// `paperboy backup FILE`: a consistent snapshot, while the service runs.
pub async fn backup(config: &Config, args: BackupArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let m = crate::backup::backup(config, &args.file).await?;
    println!(
        "backup written to {} in {:.1} s ({} bytes of {} data)",
        args.file.display(),
        started.elapsed().as_secs_f64(),
        m.data.bytes,
        m.backend
    );
    describe(&m);
    Ok(())
}

/// `paperboy restore FILE`: into an empty database, checked against the manifest.
pub async fn restore(config: &Config, args: RestoreArgs) -> Result<()> {
    let r = crate::backup::restore(config, &args.file, args.new_secret).await?;
    println!(
        "restored {} into the {} database; every table's rows match the manifest",
        args.file.display(),
        r.manifest.backend
    );
    describe(&r.manifest);
    for note in &r.notes {
        println!("note: {note}");
    }
    println!("start the service (`paperboy serve`): it applies any newer migrations first");
    Ok(())
}

fn describe(m: &Manifest) {
    println!(
        "made {} by paperboy {} at migration {} with {}",
        m.created_at, m.paperboy_version, m.last_migration, m.made_with
    );
    println!("data sha256 {}", m.data.sha256);
    println!(
        "signing key fingerprint {}",
        m.secret_fingerprint.as_deref().unwrap_or("none")
    );
    match &m.dkim {
        Some(d) => println!(
            "DKIM key {}._domainkey.{}: public key sha256 {}",
            d.selector, d.domain, d.public_key_sha256
        ),
        None => println!("DKIM: none configured"),
    }
    for (table, rows) in &m.tables {
        println!("  {table}: {rows}");
    }
}
