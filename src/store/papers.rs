use chrono::NaiveDate;

use super::{IN_CHUNK, Store, StoreError, on_pool, on_writer, placeholders};
use crate::domain::{ArxivId, Paper, PaperSource};

/// How many stored papers an ingest created and how many it updated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub new: i64,
    pub updated: i64,
}

/// A stored paper with what was merged into it.
#[derive(Clone, Debug)]
pub struct StoredPaper {
    pub paper: Paper,
    pub sources: Vec<String>,
    pub popularity_seen_at: Option<i64>,
    pub first_seen_at: i64,
}

/// The record of one ingest run.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct IngestRun {
    pub id: i64,
    pub source: String,
    pub day: Option<String>,
    pub origin: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub new_papers: i64,
    pub updated_papers: i64,
    pub error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    version: Option<i64>,
    title: String,
    #[sqlx(rename = "abstract")]
    abstract_text: String,
    authors: String,
    categories: String,
    published: Option<String>,
    upvotes: Option<i64>,
    comments: Option<i64>,
    popularity_seen_at: Option<i64>,
    github_repo: Option<String>,
    github_stars: Option<i64>,
    project_page: Option<String>,
    keywords: String,
    summary: Option<String>,
    organization: Option<String>,
    sources: String,
    first_seen_at: i64,
}

const COLUMNS: &str = "p.id, p.version, p.title, p.abstract, p.authors, p.categories, p.published, p.upvotes, \
    p.comments, p.popularity_seen_at, p.github_repo, p.github_stars, p.project_page, p.keywords, p.summary, \
    p.organization, p.sources, p.first_seen_at";

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialise")
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

impl TryFrom<Row> for StoredPaper {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        let bad = |why: &str| StoreError::Corrupt {
            what: format!("paper {}", r.id),
            why: why.into(),
        };
        let list =
            |s: &str, what: &str| serde_json::from_str::<Vec<String>>(s).map_err(|_| bad(what));
        let id = ArxivId::parse(&r.id).map_err(|_| bad("id"))?;
        let sources = list(&r.sources, "sources")?;
        let source = match sources.last().map(String::as_str) {
            Some("arxiv_rss") => PaperSource::ArxivRss,
            Some("arxiv_api") => PaperSource::ArxivApi,
            _ => PaperSource::HuggingFace,
        };
        let mut paper = Paper::new(id, r.title.clone(), r.abstract_text.clone(), source);
        paper.version = r.version.and_then(|v| u32::try_from(v).ok());
        paper.authors = list(&r.authors, "authors")?;
        paper.categories = list(&r.categories, "categories")?;
        paper.published = r
            .published
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        paper.upvotes = r.upvotes;
        paper.comments = r.comments;
        paper.github_repo = r.github_repo.clone();
        paper.github_stars = r.github_stars;
        paper.project_page = r.project_page.clone();
        paper.keywords = list(&r.keywords, "keywords")?;
        paper.summary = r.summary.clone();
        paper.organization = r.organization.clone();
        Ok(StoredPaper {
            paper,
            sources,
            popularity_seen_at: r.popularity_seen_at,
            first_seen_at: r.first_seen_at,
        })
    }
}

impl Store {
    /// Merge papers into the store in one transaction: a field a source does not give keeps
    /// its stored value; what it gives replaces it (latest upvotes, comments, stars win).
    pub async fn upsert_papers(
        &self,
        papers: &[Paper],
        now: i64,
    ) -> Result<UpsertCounts, StoreError> {
        let counts = on_writer!(self, pool => async {
            let mut tx = pool.begin().await?;
            let mut counts = UpsertCounts::default();
            for p in papers {
                let existing: Option<String> = sqlx::query_scalar("SELECT sources FROM papers WHERE id = $1")
                    .bind(p.id.as_str()).fetch_optional(&mut *tx).await?;
                let mut sources: Vec<String> = existing.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
                if !sources.iter().any(|s| s == p.source.as_str()) {
                    sources.push(p.source.as_str().to_string());
                }
                if existing.is_some() { counts.updated += 1 } else { counts.new += 1 }
                let popularity = p.upvotes.is_some() || p.comments.is_some();
                sqlx::query(
                    "INSERT INTO papers (id, version, title, abstract, authors, categories, published, upvotes, \
                       comments, popularity_seen_at, github_repo, github_stars, project_page, keywords, summary, \
                       sources, first_seen_at, updated_at, organization) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18) \
                     ON CONFLICT (id) DO UPDATE SET \
                       version = CASE WHEN papers.version IS NULL OR excluded.version > papers.version \
                                 THEN COALESCE(excluded.version, papers.version) ELSE papers.version END, \
                       title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE papers.title END, \
                       abstract = CASE WHEN excluded.abstract <> '' THEN excluded.abstract ELSE papers.abstract END, \
                       authors = CASE WHEN excluded.authors <> '[]' THEN excluded.authors ELSE papers.authors END, \
                       categories = CASE WHEN excluded.categories <> '[]' THEN excluded.categories ELSE papers.categories END, \
                       published = COALESCE(papers.published, excluded.published), \
                       upvotes = COALESCE(excluded.upvotes, papers.upvotes), \
                       comments = COALESCE(excluded.comments, papers.comments), \
                       popularity_seen_at = COALESCE(excluded.popularity_seen_at, papers.popularity_seen_at), \
                       github_repo = COALESCE(excluded.github_repo, papers.github_repo), \
                       github_stars = COALESCE(excluded.github_stars, papers.github_stars), \
                       project_page = COALESCE(excluded.project_page, papers.project_page), \
                       keywords = CASE WHEN excluded.keywords <> '[]' THEN excluded.keywords ELSE papers.keywords END, \
                       summary = COALESCE(excluded.summary, papers.summary), \
                       organization = COALESCE(excluded.organization, papers.organization), \
                       sources = excluded.sources, \
                       updated_at = excluded.updated_at")
                    .bind(p.id.as_str())
                    .bind(p.version.map(i64::from))
                    .bind(&p.title)
                    .bind(&p.abstract_text)
                    .bind(json_list(&p.authors))
                    .bind(json_list(&p.categories))
                    .bind(p.published.map(day))
                    .bind(p.upvotes)
                    .bind(p.comments)
                    .bind(popularity.then_some(now))
                    .bind(&p.github_repo)
                    .bind(p.github_stars)
                    .bind(&p.project_page)
                    .bind(json_list(&p.keywords))
                    .bind(&p.summary)
                    .bind(json_list(&sources))
                    .bind(now)
                    .bind(&p.organization)
                    .execute(&mut *tx).await?;
                if let Some(d) = p.featured_on {
                    sqlx::query(
                        "INSERT INTO paper_features (paper_id, source, day, announce_type) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (paper_id, source, day) DO UPDATE SET \
                           announce_type = COALESCE(excluded.announce_type, paper_features.announce_type)")
                        .bind(p.id.as_str())
                        .bind(p.source.as_str())
                        .bind(day(d))
                        .bind(p.announce_type.map(|a| a.as_str()))
                        .execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(counts)
        }.await)?;
        Ok(counts)
    }

    /// Papers featured on a day (by any source), most upvoted first; or the most recently
    /// stored papers when no day is given.
    pub async fn papers(
        &self,
        on: Option<NaiveDate>,
        limit: i64,
    ) -> Result<Vec<StoredPaper>, StoreError> {
        match on {
            Some(d) => self.papers_featured(d, d, limit).await,
            None => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM papers p ORDER BY p.updated_at DESC, p.id LIMIT $1"
                );
                let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(limit).fetch_all(pool).await)?;
                rows.into_iter().map(StoredPaper::try_from).collect()
            }
        }
    }

    /// Papers featured on any day from `from` to `to` (by any source), most upvoted first.
    pub async fn papers_featured(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        limit: i64,
    ) -> Result<Vec<StoredPaper>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM papers p WHERE p.id IN (SELECT paper_id FROM paper_features WHERE day BETWEEN $1 AND $2) \
             ORDER BY COALESCE(p.upvotes, -1) DESC, p.id LIMIT $3"
        );
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(day(from)).bind(day(to)).bind(limit).fetch_all(pool).await)?;
        rows.into_iter().map(StoredPaper::try_from).collect()
    }

    /// Papers first stored at or after `since` (unix seconds), most upvoted first.
    pub(crate) async fn papers_stored_since(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<StoredPaper>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM papers p WHERE p.first_seen_at >= $1 \
             ORDER BY COALESCE(p.upvotes, -1) DESC, p.id LIMIT $2"
        );
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(since).bind(limit).fetch_all(pool).await)?;
        rows.into_iter().map(StoredPaper::try_from).collect()
    }

    /// The stored papers among `ids` (any order; unknown ids are left out).
    /// The titles of those of `ids` still stored (no abstracts read).
    pub(crate) async fn titles_of(
        &self,
        ids: &[ArxivId],
    ) -> Result<std::collections::HashMap<ArxivId, String>, StoreError> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT id, title FROM papers WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let rows: Vec<(String, String)> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(pool).await
            })?;
            out.extend(
                rows.into_iter()
                    .filter_map(|(id, title)| Some((ArxivId::parse(&id).ok()?, title))),
            );
        }
        Ok(out)
    }

    pub async fn papers_by_ids(&self, ids: &[ArxivId]) -> Result<Vec<StoredPaper>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT {COLUMNS} FROM papers p WHERE p.id IN ({})",
                placeholders(1, chunk.len())
            );
            let rows: Vec<Row> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(pool).await
            })?;
            for r in rows {
                out.push(StoredPaper::try_from(r)?);
            }
        }
        Ok(out)
    }

    /// The most recently updated papers whose titles hold every one of `words` (lower-case
    /// letters and digits only: no LIKE wildcard can be among them).
    pub(crate) async fn papers_titled(
        &self,
        words: &[String],
        limit: i64,
    ) -> Result<Vec<StoredPaper>, StoreError> {
        let conditions: Vec<String> = (0..words.len())
            .map(|i| format!("LOWER(p.title) LIKE ${}", i + 1))
            .collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM papers p WHERE {} ORDER BY p.updated_at DESC, p.id LIMIT ${}",
            conditions.join(" AND "),
            words.len() + 1
        );
        let rows: Vec<Row> = on_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for w in words {
                q = q.bind(format!("%{w}%"));
            }
            q.bind(limit).fetch_all(pool).await
        })?;
        rows.into_iter().map(StoredPaper::try_from).collect()
    }

    /// The latest day some source featured papers on.
    pub(crate) async fn latest_featured_day(&self) -> Result<Option<NaiveDate>, StoreError> {
        let (day,): (Option<String>,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT MAX(day) FROM paper_features").fetch_one(pool).await)?;
        Ok(day.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
    }

    /// What composing a day reads, summed up: it changes when a paper is stored or
    /// updated, a day features one, topics are learned again or a digest is composed. A
    /// composer kept for previews is good while this stays the same.
    pub(crate) async fn composing_stamp(&self) -> Result<ComposingStamp, StoreError> {
        let (papers, papers_updated, features, topics_learned, categories_learned, digests): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = on_pool!(self, pool => sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM papers), (SELECT COALESCE(MAX(updated_at), 0) FROM papers), \
             (SELECT COUNT(*) FROM paper_features), \
             (SELECT COALESCE(MAX(learned_at), 0) FROM learned_topics), \
             (SELECT COALESCE(MAX(learned_at), 0) FROM learned_categories), \
             (SELECT COALESCE(MAX(id), 0) FROM digests)")
            .fetch_one(pool).await)?;
        Ok(ComposingStamp {
            papers,
            papers_updated,
            features,
            topics_learned,
            categories_learned,
            digests,
        })
    }

    #[cfg(any(test, feature = "testing"))]
    pub async fn paper_count(&self) -> Result<i64, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM papers").fetch_one(pool).await)?,
        )
    }

    /// Record that a run started; returns its id.
    pub(crate) async fn start_run(
        &self,
        source: &str,
        on: Option<NaiveDate>,
        origin: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        Ok(on_writer!(self, pool => sqlx::query_scalar(
            "INSERT INTO ingest_runs (source, day, origin, started_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(source).bind(on.map(day)).bind(origin).bind(now).fetch_one(pool).await)?)
    }

    /// Record how a run ended: its counts, or the error that stopped it.
    pub(crate) async fn finish_run(
        &self,
        id: i64,
        outcome: Result<UpsertCounts, &str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (counts, error) = match outcome {
            Ok(c) => (c, None),
            Err(e) => (
                UpsertCounts::default(),
                Some(e.chars().take(2000).collect::<String>()),
            ),
        };
        on_writer!(self, pool => sqlx::query(
            "UPDATE ingest_runs SET finished_at = $1, new_papers = $2, updated_papers = $3, error = $4 WHERE id = $5")
            .bind(now).bind(counts.new).bind(counts.updated).bind(error).bind(id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<IngestRun>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT id, source, day, origin, started_at, finished_at, new_papers, updated_papers, error \
             FROM ingest_runs ORDER BY id DESC LIMIT $1")
            .bind(limit).fetch_all(pool).await)?)
    }
}

impl Store {
    /// The validators saved with the last good response from `url`.
    pub(crate) async fn http_validators(
        &self,
        url: &str,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        let row: Option<(Option<String>, Option<String>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT etag, last_modified FROM http_cache WHERE url = $1")
            .bind(url).fetch_optional(pool).await)?;
        Ok(row.unwrap_or((None, None)))
    }

    pub(crate) async fn save_http_validators(
        &self,
        url: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO http_cache (url, etag, last_modified, fetched_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, \
             fetched_at = excluded.fetched_at")
            .bind(url).bind(etag).bind(last_modified).bind(now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Ids of stored papers that have no arXiv categories yet, among `ids`, in their order.
    pub(crate) async fn papers_without_categories(
        &self,
        ids: &[ArxivId],
    ) -> Result<Vec<ArxivId>, StoreError> {
        let mut missing = std::collections::HashSet::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT id FROM papers WHERE categories = '[]' AND id IN ({})",
                placeholders(1, chunk.len())
            );
            let found: Vec<String> = on_pool!(self, pool => {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(pool).await
            })?;
            missing.extend(found);
        }
        Ok(ids
            .iter()
            .filter(|id| missing.contains(id.as_str()))
            .cloned()
            .collect())
    }
}

/// What composing reads, summed up (see [`Store::composing_stamp`]): two stamps differ when
/// anything composing would see has changed between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComposingStamp {
    /// Papers stored, and the latest time one was stored or updated.
    papers: i64,
    papers_updated: i64,
    /// (paper, day, source) features: a day featuring a paper it did not before.
    features: i64,
    /// When topics' and categories' profiles were last learned.
    topics_learned: i64,
    categories_learned: i64,
    /// The latest digest composed (what a reader was sent counts in their next one).
    digests: i64,
}

/// Values built from what composing reads (an analysed day or week), kept between requests
/// while the store's [`ComposingStamp`] and their key are unchanged. One value per slot:
/// building one for a key replaces the value of the same slot. One request at a time: a
/// second waits for the first's value rather than building its own.
pub struct ComposingCache<K, V>(tokio::sync::Mutex<Vec<(K, ComposingStamp, V)>>);

impl<K, V> Default for ComposingCache<K, V> {
    fn default() -> Self {
        Self(tokio::sync::Mutex::new(Vec::new()))
    }
}

impl<K: PartialEq, V> ComposingCache<K, V> {
    /// The value kept for `key`, else the one `build` makes (kept in place of the value
    /// whose key `same_slot` accepts); `None` when `build` has nothing to keep.
    pub async fn get<E: From<StoreError>>(
        &self,
        store: &Store,
        key: K,
        same_slot: impl Fn(&K) -> bool,
        build: impl Future<Output = Result<Option<V>, E>>,
    ) -> Result<Option<tokio::sync::MappedMutexGuard<'_, V>>, E> {
        let mut kept = self.0.lock().await;
        let stamp = store.composing_stamp().await?;
        let at = match kept.iter().position(|k| k.0 == key && k.1 == stamp) {
            Some(i) => i,
            None => {
                let Some(value) = build.await? else {
                    return Ok(None);
                };
                kept.retain(|k| !same_slot(&k.0));
                kept.push((key, stamp, value));
                kept.len() - 1
            }
        };
        Ok(Some(tokio::sync::MutexGuard::map(kept, |k| &mut k[at].2)))
    }
}
