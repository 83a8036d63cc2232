//! The audit log (`audit_log`): written by the services, read by the operator.

use super::{Store, StoreError, on_pool, on_writer};
use crate::domain::{Actor, AuditAction, AuditEntry};

/// One recorded change.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredAudit {
    pub id: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor: String,
    pub origin: Option<String>,
    pub action: String,
    pub subject: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Which entries to read: newest first, before `before_id` for the next page.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub action: Option<AuditAction>,
    /// `cli`, `api` or `console`.
    pub actor_kind: Option<String>,
    /// Only entries at or after this time (unix seconds).
    pub since: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

impl Store {
    pub(crate) async fn record_audit(
        &self,
        actor: &Actor,
        entry: &AuditEntry,
        at: i64,
    ) -> Result<(), StoreError> {
        on_writer!(self, p => sqlx::query(
            "INSERT INTO audit_log (at, actor_kind, actor, origin, action, subject, before, after) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(at).bind(actor.kind()).bind(actor.name()).bind(actor.origin())
            .bind(entry.action.as_str()).bind(entry.subject.as_deref())
            .bind(entry.before.as_deref()).bind(entry.after.as_deref())
            .execute(p).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn audit_log(&self, f: &AuditFilter) -> Result<Vec<StoredAudit>, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT id, at, actor_kind, actor, origin, action, subject, before, after FROM audit_log \
             WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR actor_kind = $2) \
             AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5")
            .bind(f.action.map(AuditAction::as_str)).bind(f.actor_kind.as_deref())
            .bind(f.since).bind(f.before_id).bind(f.limit)
            .fetch_all(p).await)?)
    }
}
