//! Import: bring an existing list in from a CSV file (`paperboy subscribers import`, and the
//! console's upload, through this one path). A dry run reads the file and the database and
//! reports exactly what a real run would do, changing nothing; a real run does it in batches
//! of [`BATCH`] rows, each one transaction.
//!
//! Never makes a suppressed, unsubscribed or erased address active (the rules are
//! [`crate::domain::decide_import`]'s); never changes an active reader's interests; mails
//! nobody but the new addresses of an `opt-in` file, whose confirmation mails go through the
//! outbox at `delivery.rate_per_second`.

mod file;
mod staged;

use std::collections::BTreeMap;
use std::time::Instant;

pub use file::{FileError, MAX_ROW_BYTES, RowError};
pub use staged::{MAX_AGE as KEPT_SECONDS, StagedError};

use crate::audit::Audit;
use crate::clock;
use crate::context::Context;
use crate::domain::{
    Actor, AuditAction, AuditEntry, Column, ImportMode, ImportOutcome, NewSubscription,
    SubscriberStatus, decide_import,
};
use crate::outbox::Outbox;
use crate::store::{ImportedChange, ImportedReader, StoreError};

/// Rows read from the database and written a transaction at a time. 1,000 rows: one
/// statement of about 400 kB for the new readers, and the writer held for tens of ms.
pub const BATCH: usize = 1000;

/// How to import a file.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub mode: ImportMode,
    pub dry_run: bool,
    /// Where the consent of its rows came from, for rows that do not say: the file's name.
    pub source: String,
    /// Topic ids given to rows (of readers to be mailed) that name no interest.
    pub default_topics: Vec<String>,
}

/// What an import did, or (a dry run) would do.
#[derive(Clone, Debug)]
pub struct ImportReport {
    pub mode: ImportMode,
    pub dry_run: bool,
    /// Each header, and the column it was read as (`None`: ignored).
    pub columns: Vec<(String, Option<&'static str>)>,
    /// Rows after the header.
    pub rows: u64,
    /// Rows imported or left as they were, by what was done with them.
    pub outcomes: BTreeMap<ImportOutcome, u64>,
    /// Rows refused (not valid, or an erased address), by line, with why.
    pub errors: Vec<RowError>,
    /// Confirmation mails queued.
    pub mails: u64,
    /// Addresses a reader or another import changed between this import's reading and its
    /// writing: left as they were left (only a real run meets them).
    pub raced: u64,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(#[from] FileError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Staged(#[from] StagedError),
}

/// Whose a kept upload is: only they import it.
fn owner(actor: &Actor) -> String {
    format!("{} {}", actor.kind(), actor.name())
}

/// One good row, planned: what it asks for and everything needed to store it.
struct Planned {
    line: u64,
    new: NewSubscription,
    target: SubscriberStatus,
    consent_at: i64,
    consent_ip: Option<String>,
    consent_source: String,
}

impl ImportReport {
    /// Each header, and what it was read as: `email`, `created_at as consented_at`,
    /// `name (ignored)`.
    pub fn column_notes(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|(h, c)| match c {
                Some(c) if *c == h.as_str() => h.clone(),
                Some(c) => format!("{h} as {c}"),
                None => format!("{h} (ignored)"),
            })
            .collect()
    }
}

#[derive(Clone)]
pub struct Import {
    ctx: Context,
    outbox: Outbox,
    audit: Audit,
    staging: std::sync::Arc<staged::Staging>,
}

impl Import {
    pub fn new(ctx: Context, outbox: Outbox, audit: Audit) -> Self {
        let staging = std::sync::Arc::new(staged::Staging::new(&ctx.config.data_dir));
        Self {
            ctx,
            outbox,
            audit,
            staging,
        }
    }

    /// The console's upload: a dry run of `data` that, when the file can be read, keeps it
    /// with its options so that [`Import::run_kept`] imports exactly what the operator saw.
    /// The report, and the kept upload's id (`None`: nothing worth keeping).
    pub async fn dry_run_and_keep(
        &self,
        actor: &Actor,
        data: &[u8],
        options: &ImportOptions,
    ) -> Result<(ImportReport, Option<String>), ImportError> {
        let options = ImportOptions {
            dry_run: true,
            ..options.clone()
        };
        let report = self.run(actor, data, &options).await?;
        // A file of refused rows only would import nothing.
        let id = if report.rows > report.errors.len() as u64 {
            Some(self.staging.put(&owner(actor), data, &options).await?)
        } else {
            None
        };
        Ok((report, id))
    }

    /// The real run of the upload `id` that [`Import::dry_run_and_keep`] kept for this same
    /// operator, with the options it was shown with (returned with the report). The upload
    /// is deleted: it runs once.
    pub async fn run_kept(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<(ImportReport, ImportOptions), ImportError> {
        let (data, options) = self.staging.take(&owner(actor), id).await?;
        let report = self.run(actor, &data, &options).await?;
        Ok((report, options))
    }

    /// Import `data` (a CSV file's bytes) as `options` say; a real run is recorded in the
    /// audit log with its counts.
    pub async fn run(
        &self,
        actor: &Actor,
        data: &[u8],
        options: &ImportOptions,
    ) -> Result<ImportReport, ImportError> {
        let started = Instant::now();
        let now = clock::timestamp();
        let file = file::read(data, now)?;
        let mut report = ImportReport {
            mode: options.mode,
            dry_run: options.dry_run,
            columns: file
                .columns
                .iter()
                .map(|(h, c)| (h.clone(), c.map(Column::name)))
                .collect(),
            rows: file.rows.len() as u64,
            outcomes: BTreeMap::new(),
            errors: Vec::new(),
            mails: 0,
            raced: 0,
            seconds: 0.0,
        };
        let mut planned = Vec::with_capacity(file.rows.len());
        for row in file.rows {
            match row.and_then(|r| self.plan(r, options, now)) {
                Ok(p) => planned.push(p),
                Err(e) => report.errors.push(e),
            }
        }
        let reason = format!("imported from a do-not-mail list ({})", options.source);
        for batch in planned.chunks(BATCH) {
            self.batch(batch, options, &reason, now, &mut report)
                .await?;
        }
        if report.mails > 0 {
            self.outbox.wake();
        }
        report.errors.sort_by_key(|e| e.line);
        report.seconds = started.elapsed().as_secs_f64();
        if !options.dry_run {
            let counts: Vec<String> = report
                .outcomes
                .iter()
                .map(|(o, n)| format!("{} {n}", o.label()))
                .chain([format!("refused {}", report.errors.len())])
                .collect();
            self.audit
                .record(
                    actor,
                    AuditEntry::new(AuditAction::Import, options.source.as_str()).result(format!(
                        "{} rows as {}: {}",
                        report.rows,
                        options.mode,
                        counts.join(", ")
                    )),
                )
                .await?;
        }
        for (outcome, n) in &report.outcomes {
            metrics::counter!("paperboy_import_rows_total", "outcome" => outcome.label(), "dry_run" => options.dry_run.to_string())
                .increment(*n);
        }
        Ok(report)
    }

    /// A good row made ready to store, or why it cannot be.
    fn plan(
        &self,
        row: file::FileRow,
        options: &ImportOptions,
        now: i64,
    ) -> Result<Planned, RowError> {
        let err = |message: String| RowError {
            line: row.line,
            message,
        };
        let target = options.mode.target(row.listed).map_err(err)?;
        let consent_at = match (target, row.consented_at) {
            (_, Some(t)) => t,
            (SubscriberStatus::Active, None) => {
                return Err(err(
                    "no consented_at: a confirmed reader needs the time they consented (or import the file as opt-in, which asks them)".into(),
                ));
            }
            // The confirmation they are asked for will be their consent; a do-not-mail row
            // records when it came in.
            (_, None) => now,
        };
        let mailed = matches!(target, SubscriberStatus::Active | SubscriberStatus::Pending);
        let new = if mailed {
            let mut input = row.input.clone();
            if !row.has_interests() {
                if options.default_topics.is_empty() {
                    return Err(err(
                        "no topics, keywords, authors, categories or liked papers: add a column, or give default topics (--default-topics)".into(),
                    ));
                }
                input.topics = options.default_topics.clone();
            }
            NewSubscription::parse(&input, &self.ctx.catalogue).map_err(|fields| {
                err(fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; "))
            })?
        } else {
            // Nothing is sent to it: its address is all that is kept.
            NewSubscription {
                email: row.email.clone(),
                interests: Default::default(),
                prefs: Default::default(),
            }
        };
        Ok(Planned {
            line: row.line,
            new,
            target,
            consent_at,
            consent_ip: row.consent_ip,
            consent_source: row
                .consent_source
                .unwrap_or_else(|| format!("import of {}", options.source)),
        })
    }

    async fn batch(
        &self,
        batch: &[Planned],
        options: &ImportOptions,
        reason: &str,
        now: i64,
        report: &mut ImportReport,
    ) -> Result<(), ImportError> {
        let store = &self.ctx.store;
        let emails: Vec<&str> = batch.iter().map(|p| p.new.email.as_str()).collect();
        let existing = store.statuses_of(&emails).await?;
        let hashes: Vec<_> = batch
            .iter()
            .map(|p| self.ctx.erasure.hash(&p.new.email))
            .collect();
        let hash_strs: Vec<&str> = hashes.iter().map(|h| h.as_str()).collect();
        let erased = store.erased_among(&hash_strs).await?;
        let (mut readers, mut changes) = (Vec::new(), Vec::new());
        for (p, hash) in batch.iter().zip(&hash_strs) {
            let here = existing.get(p.new.email.as_str());
            let outcome = decide_import(p.target, here.map(|h| h.1), erased.contains(*hash));
            // A refused row is reported with the others, by its line.
            if outcome != ImportOutcome::Erased {
                *report.outcomes.entry(outcome).or_default() += 1;
            }
            let reason = (p.target == SubscriberStatus::Suppressed).then_some(reason);
            match (outcome, here) {
                (ImportOutcome::Created(status), _) => readers.push(ImportedReader {
                    new: &p.new,
                    status,
                    consent_at: p.consent_at,
                    consent_ip: p.consent_ip.as_deref(),
                    consent_source: &p.consent_source,
                    suppression_reason: reason,
                }),
                (ImportOutcome::Changed { from, to }, Some((id, _))) => {
                    changes.push(ImportedChange {
                        id: *id,
                        from,
                        to,
                        consent_at: p.consent_at,
                        consent_source: &p.consent_source,
                        suppression_reason: reason,
                    })
                }
                (ImportOutcome::Erased, _) => report.errors.push(RowError {
                    line: p.line,
                    message: format!(
                        "{} was erased at its owner's request: not imported (its owner can sign up again through the form)",
                        p.new.email
                    ),
                }),
                _ => {}
            }
        }
        if options.dry_run {
            report.mails += readers
                .iter()
                .filter(|r| r.status == SubscriberStatus::Pending)
                .count() as u64;
            return Ok(());
        }
        let written = store.write_import(&readers, &changes, now).await?;
        report.mails += written.mails;
        report.raced += written.raced;
        Ok(())
    }
}
