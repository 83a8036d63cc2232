//! Readers' ratings of papers ("more like this", "fewer like this"): one row per (reader,
//! paper), the latest wins, a bounded number kept per reader.

use std::collections::HashMap;

use super::{IN_CHUNK, Store, StoreError, on_pool, on_writer, placeholders};
use crate::domain::{ArxivId, PaperRating, Rating};

/// What recording a rating did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateOutcome {
    /// Stored; `previous` is what the reader had said of the paper before, if anything.
    Recorded { previous: Option<Rating> },
    /// The opposite rating of the same paper had arrived within the cancelling window:
    /// both are gone (see [`Store::rate`]).
    Cancelled,
    /// No such subscriber (erased meanwhile).
    NoSubscriber,
}

#[derive(sqlx::FromRow)]
struct Row {
    subscriber_id: i64,
    paper_id: String,
    rating: String,
    at: i64,
}

impl Row {
    fn read(self) -> Result<(i64, PaperRating), StoreError> {
        let bad = |why: String| StoreError::Corrupt {
            what: format!(
                "rating of paper {:?} by subscriber {}",
                self.paper_id, self.subscriber_id
            ),
            why,
        };
        let paper = ArxivId::parse(&self.paper_id).map_err(|e| bad(e.to_string()))?;
        let rating = self.rating.parse().map_err(bad)?;
        Ok((
            self.subscriber_id,
            PaperRating {
                paper,
                rating,
                at: self.at,
            },
        ))
    }
}

impl Store {
    /// Record `rating` of `paper` by a subscriber at `now`, replacing what they said of it
    /// before, and keep only their latest `keep` ratings. With `cancel_within`, an opposite
    /// rating of the same paper stored less than that many seconds before `now` is deleted
    /// instead and nothing is stored ([`RateOutcome::Cancelled`]). Atomic per subscriber:
    /// their row is locked (PostgreSQL) or the write lock held (SQLite), so two requests
    /// at once (a scanner opening both links of a paper) cannot both miss each other.
    pub async fn rate(
        &self,
        subscriber_id: i64,
        paper: &ArxivId,
        rating: Rating,
        now: i64,
        cancel_within: Option<i64>,
        keep: i64,
    ) -> Result<RateOutcome, StoreError> {
        // A web request: see [`super::uncancelled`].
        let (store, paper) = (self.clone(), paper.clone());
        super::uncancelled(async move {
            store
                .rate_in_transaction(subscriber_id, &paper, rating, now, cancel_within, keep)
                .await
        })
        .await
    }

    async fn rate_in_transaction(
        &self,
        subscriber_id: i64,
        paper: &ArxivId,
        rating: Rating,
        now: i64,
        cancel_within: Option<i64>,
        keep: i64,
    ) -> Result<RateOutcome, StoreError> {
        let outcome = on_writer!(self, pool => async {
            let mut tx = pool.begin().await?;
            let locked = sqlx::query("UPDATE subscribers SET updated_at = updated_at WHERE id = $1")
                .bind(subscriber_id).execute(&mut *tx).await?.rows_affected();
            if locked == 0 {
                tx.rollback().await?;
                return Ok::<_, sqlx::Error>(Err(RateOutcome::NoSubscriber));
            }
            let before: Option<(String, i64)> = sqlx::query_as(
                "SELECT rating, at FROM ratings WHERE subscriber_id = $1 AND paper_id = $2")
                .bind(subscriber_id).bind(paper.as_str()).fetch_optional(&mut *tx).await?;
            let previous = before.as_ref().and_then(|(r, _)| r.parse::<Rating>().ok());
            if let (Some(window), Some((_, at))) = (cancel_within, &before)
                && previous == Some(rating.opposite())
                && now - at < window
            {
                sqlx::query("DELETE FROM ratings WHERE subscriber_id = $1 AND paper_id = $2")
                    .bind(subscriber_id).bind(paper.as_str()).execute(&mut *tx).await?;
                tx.commit().await?;
                return Ok(Err(RateOutcome::Cancelled));
            }
            sqlx::query(
                "INSERT INTO ratings (subscriber_id, paper_id, rating, at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (subscriber_id, paper_id) DO UPDATE SET rating = excluded.rating, at = excluded.at")
                .bind(subscriber_id).bind(paper.as_str()).bind(rating.as_str()).bind(now)
                .execute(&mut *tx).await?;
            // The bound: all but the latest `keep` go (ties in time by paper id, so the
            // rating just stored, the newest, always stays).
            sqlx::query(
                "DELETE FROM ratings WHERE subscriber_id = $1 AND paper_id NOT IN \
                 (SELECT paper_id FROM ratings WHERE subscriber_id = $1 \
                  ORDER BY at DESC, paper_id = $2 DESC, paper_id DESC LIMIT $3)")
                .bind(subscriber_id).bind(paper.as_str()).bind(keep.max(1))
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(Ok(previous))
        }.await)?;
        Ok(match outcome {
            Ok(previous) => RateOutcome::Recorded { previous },
            Err(o) => o,
        })
    }

    /// Forget a subscriber's rating of a paper; false if there was none.
    pub async fn remove_rating(
        &self,
        subscriber_id: i64,
        paper: &ArxivId,
    ) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(
            "DELETE FROM ratings WHERE subscriber_id = $1 AND paper_id = $2")
            .bind(subscriber_id).bind(paper.as_str()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// A subscriber's ratings, latest first.
    pub async fn ratings_of(&self, subscriber_id: i64) -> Result<Vec<PaperRating>, StoreError> {
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT subscriber_id, paper_id, rating, at FROM ratings WHERE subscriber_id = $1 \
             ORDER BY at DESC, paper_id DESC")
            .bind(subscriber_id).fetch_all(pool).await)?;
        rows.into_iter().map(|r| r.read().map(|(_, p)| p)).collect()
    }

    /// The ratings of each of `ids` that has any, latest first.
    pub(crate) async fn ratings_of_many(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<PaperRating>>, StoreError> {
        let mut out: HashMap<i64, Vec<PaperRating>> = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT subscriber_id, paper_id, rating, at FROM ratings WHERE subscriber_id IN ({}) \
                 ORDER BY subscriber_id, at DESC, paper_id DESC",
                placeholders(1, chunk.len())
            );
            let rows: Vec<Row> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await
            })?;
            for r in rows {
                let (id, p) = r.read()?;
                out.entry(id).or_default().push(p);
            }
        }
        Ok(out)
    }

    /// The ratings of the subscribers with ids in `first..=last`, for composing a batch of
    /// readers: one index range, whatever the batch's size.
    pub(crate) async fn ratings_between(
        &self,
        first: i64,
        last: i64,
    ) -> Result<HashMap<i64, Vec<PaperRating>>, StoreError> {
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT subscriber_id, paper_id, rating, at FROM ratings \
             WHERE subscriber_id BETWEEN $1 AND $2")
            .bind(first).bind(last).fetch_all(pool).await)?;
        let mut out: HashMap<i64, Vec<PaperRating>> = HashMap::new();
        for r in rows {
            let (id, p) = r.read()?;
            out.entry(id).or_default().push(p);
        }
        Ok(out)
    }
}
