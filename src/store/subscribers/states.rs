//! A reader's state changed by hand or by their own link: unsubscribe, suppress, lift,
//! erase, and the pending sign-ups that expire.

use super::super::{Store, StoreError, on_writer};

impl Store {
    /// Unsubscribe at once. Idempotent; a suppressed address stays suppressed.
    pub async fn unsubscribe(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(
            "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = $1, updated_at = $1 \
             WHERE id = $2 AND status IN ('pending', 'active')")
            .bind(now).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Stop mailing an address after a hard bounce or a complaint.
    pub async fn suppress(&self, id: i64, reason: &str, now: i64) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(
            "UPDATE subscribers SET status = 'suppressed', suppressed_at = $1, suppression_reason = $2, \
             updated_at = $1 WHERE id = $3")
            .bind(now).bind(reason).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Lift a suppression by hand: the reader returns to where they were before it (left
    /// unsubscribed when they had unsubscribed since confirming, as a complaint does; else
    /// active if they had confirmed; else pending). False when they were not suppressed.
    pub(crate) async fn lift_suppression(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(
            "UPDATE subscribers SET status = CASE \
               WHEN unsubscribed_at IS NOT NULL AND (confirmed_at IS NULL OR unsubscribed_at >= confirmed_at) \
                 THEN 'unsubscribed' \
               WHEN confirmed_at IS NOT NULL THEN 'active' ELSE 'pending' END, \
             suppressed_at = NULL, suppression_reason = NULL, updated_at = $1 \
             WHERE id = $2 AND status = 'suppressed'")
            .bind(now).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Erase a subscriber and everything stored about them.
    pub async fn delete(&self, id: i64) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query("DELETE FROM subscribers WHERE id = $1")
            .bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Remove sign-ups never confirmed whose consent is older than `before`.
    pub async fn delete_expired_pending(&self, before: i64) -> Result<u64, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(
            "DELETE FROM subscribers WHERE status = 'pending' AND consent_at < $1")
            .bind(before).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n)
    }
}
