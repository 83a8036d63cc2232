//! Erasing a reader, and the do-not-contact records it leaves (`erased_addresses`).

use super::{Store, StoreError, on_pool, on_writer};
use crate::domain::{AddressHash, EmailAddress};

impl Store {
    /// Erase a subscriber and everything stored about them, and keep the keyed hash of
    /// their address, in one transaction: there is no moment when the reader is gone and
    /// the record not yet written. The audit log's entries that named the address name
    /// the reader by id instead. False (and nothing recorded) when there was no such
    /// subscriber.
    pub(crate) async fn erase(
        &self,
        id: i64,
        email: &EmailAddress,
        hash: &AddressHash,
        now: i64,
    ) -> Result<bool, StoreError> {
        let hash = hash.as_str();
        let instead = format!("subscriber {id} (erased)");
        let erased = on_writer!(self, pool => async {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("DELETE FROM subscribers WHERE id = $1")
                .bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 1 {
                sqlx::query(
                    "INSERT INTO erased_addresses (hash, erased_at) VALUES ($1, $2) \
                     ON CONFLICT (hash) DO UPDATE SET erased_at = excluded.erased_at")
                    .bind(hash).bind(now).execute(&mut *tx).await?;
                sqlx::query("UPDATE audit_log SET subject = $1 WHERE subject = $2")
                    .bind(&instead).bind(email.as_str()).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(n == 1)
        }.await)?;
        Ok(erased)
    }

    /// When the address with this hash was erased, if it was (and not confirmed again since).
    pub(crate) async fn erased_at(&self, hash: &AddressHash) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT erased_at FROM erased_addresses WHERE hash = $1")
            .bind(hash.as_str()).fetch_optional(p).await)?;
        Ok(row.map(|(t,)| t))
    }
}
