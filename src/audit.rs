//! The audit log: every change an operator makes (from the CLI, the admin API or the console)
//! is recorded by the service that makes it, so that no way in can skip it. Read with
//! `paperboy audit`; kept for `[retention] audit_days`.

use crate::clock;
use crate::context::Context;
use crate::domain::{Actor, AuditEntry};
use crate::store::{AuditFilter, StoreError, StoredAudit};

#[derive(Clone)]
pub struct Audit {
    ctx: Context,
}

impl Audit {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// Record a change just made. A change is not undone when its record fails to be
    /// written: the failure is logged, and returned for the caller to report.
    pub(crate) async fn record(&self, actor: &Actor, entry: AuditEntry) -> Result<(), StoreError> {
        let done = self
            .ctx
            .store
            .record_audit(actor, &entry, clock::timestamp())
            .await;
        if let Err(e) = &done {
            tracing::error!(action = %entry.action, error = %e, "the audit log could not be written");
        }
        done
    }

    /// Recorded changes, newest first.
    pub async fn list(&self, filter: &AuditFilter) -> Result<Vec<StoredAudit>, StoreError> {
        self.ctx.store.audit_log(filter).await
    }
}
