//! Catalogue topics' learned profiles (matching::LearnedTopics), and the labelled papers
//! they are learned from.

use std::collections::BTreeMap;

use super::{Store, StoreError, on_pool, on_writer};
use crate::matching::{LearnedTopic, LearnedTopics};

/// A stored paper's text and arXiv categories, to learn topics from.
#[derive(Clone, Debug)]
pub struct LabelledText {
    pub title: String,
    pub abstract_text: String,
    pub categories: Vec<String>,
}

/// When the stored profiles were learned, and from how many papers in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LearnedSummary {
    pub topics: i64,
    pub learned_at: Option<i64>,
}

impl Store {
    /// The `limit` most recently updated papers that carry arXiv categories.
    pub(crate) async fn labelled_papers(
        &self,
        limit: i64,
    ) -> Result<Vec<LabelledText>, StoreError> {
        let rows: Vec<(String, String, String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, title, abstract, categories FROM papers WHERE categories <> '[]' \
             ORDER BY updated_at DESC, id LIMIT $1")
            .bind(limit).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(id, title, abstract_text, categories)| {
                let categories =
                    serde_json::from_str(&categories).map_err(|e| StoreError::Corrupt {
                        what: format!("categories of paper {id}"),
                        why: e.to_string(),
                    })?;
                Ok(LabelledText {
                    title,
                    abstract_text,
                    categories,
                })
            })
            .collect()
    }

    /// Replace every stored topic profile with `learned`, in one transaction: composing
    /// reads either the old set or the new.
    pub(crate) async fn save_learned_topics(
        &self,
        learned: &LearnedTopics,
        now: i64,
    ) -> Result<(), StoreError> {
        on_writer!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM learned_topics").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM learned_categories").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM learned_zones").execute(&mut *tx).await?;
            for (id, t) in &learned.topics {
                let terms = serde_json::to_string(&t.terms).expect("words and weights serialise");
                sqlx::query("INSERT INTO learned_topics (topic_id, papers, floor, terms, learned_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id).bind(i64::from(t.papers)).bind(f64::from(t.floor)).bind(terms).bind(now)
                    .execute(&mut *tx).await?;
            }
            for (insert, profiles) in [
                ("INSERT INTO learned_categories (category, papers, floor, terms, learned_at) VALUES ($1, $2, $3, $4, $5)", &learned.categories),
                ("INSERT INTO learned_zones (category, papers, floor, terms, learned_at) VALUES ($1, $2, $3, $4, $5)", &learned.zones),
            ] {
                for (category, t) in profiles {
                    let terms = serde_json::to_string(&t.terms).expect("words and weights serialise");
                    sqlx::query(insert)
                        .bind(category).bind(i64::from(t.papers)).bind(f64::from(t.floor)).bind(terms).bind(now)
                        .execute(&mut *tx).await?;
                }
            }
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// The stored topic profiles (none before the first ingest that had categories).
    pub async fn learned_topics(&self) -> Result<LearnedTopics, StoreError> {
        // One read for the three tables: a topic id is lower-case letters, digits and '-', so
        // the prefixes "category:" and "zone:" cannot clash with one.
        let rows: Vec<(String, i64, f64, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT topic_id, papers, floor, terms FROM learned_topics \
             UNION ALL SELECT 'category:' || category, papers, floor, terms FROM learned_categories \
             UNION ALL SELECT 'zone:' || category, papers, floor, terms FROM learned_zones")
            .fetch_all(pool).await)?;
        let mut topics = BTreeMap::new();
        let mut categories = BTreeMap::new();
        let mut zones = BTreeMap::new();
        for (id, papers, floor, terms) in rows {
            let bad = |why: String| StoreError::Corrupt {
                what: format!("learned profile of {id:?}"),
                why,
            };
            let terms = serde_json::from_str(&terms).map_err(|e| bad(e.to_string()))?;
            let papers = u32::try_from(papers).map_err(|e| bad(e.to_string()))?;
            let profile = LearnedTopic {
                papers,
                terms,
                floor: floor as f32,
            };
            if let Some(category) = id.strip_prefix("category:") {
                categories.insert(category.to_string(), profile);
            } else if let Some(category) = id.strip_prefix("zone:") {
                zones.insert(category.to_string(), profile);
            } else {
                topics.insert(id, profile);
            }
        }
        Ok(LearnedTopics {
            topics,
            categories,
            zones,
        })
    }

    /// How many topics have a stored profile, and when they were learned.
    pub(crate) async fn learned_summary(&self) -> Result<LearnedSummary, StoreError> {
        let (topics, learned_at): (i64, Option<i64>) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*), MAX(learned_at) FROM learned_topics")
            .fetch_one(pool).await)?;
        Ok(LearnedSummary { topics, learned_at })
    }
}
