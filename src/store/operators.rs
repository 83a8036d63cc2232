//! Console operators and their sessions (`operators`, `operator_sessions`).

use super::{Store, StoreError, on_pool, on_writer};

impl Store {
    /// Set (or replace) an operator's password hash.
    pub(crate) async fn set_operator_password(
        &self,
        name: &str,
        hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_writer!(self, p => sqlx::query(
            "INSERT INTO operators (name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at")
            .bind(name).bind(hash).bind(now).execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// An operator's password hash, if there is such an operator.
    pub(crate) async fn operator_password(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT password_hash FROM operators WHERE name = $1")
            .bind(name).fetch_optional(p).await)?)
    }

    pub(crate) async fn start_operator_session(
        &self,
        token_hash: &str,
        operator: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_writer!(self, p => async {
            let mut tx = p.begin().await?;
            // Expired sessions go as new ones come: the table stays small.
            sqlx::query("DELETE FROM operator_sessions WHERE expires_at < $1")
                .bind(now).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO operator_sessions (token_hash, operator, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(token_hash).bind(operator).bind(now).bind(expires_at)
                .execute(&mut *tx).await?;
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// The operator a live session belongs to.
    pub(crate) async fn operator_session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT operator FROM operator_sessions WHERE token_hash = $1 AND expires_at >= $2")
            .bind(token_hash).bind(now).fetch_optional(p).await)?)
    }

    pub(crate) async fn end_operator_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let n = on_writer!(self, p => sqlx::query("DELETE FROM operator_sessions WHERE token_hash = $1")
            .bind(token_hash).execute(p).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}
