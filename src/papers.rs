//! The papers as a service: bring them in (fetched from the sources or imported from a saved
//! response), learn the topics' profiles from them, list and find them. The web layer, the
//! CLI and the scheduler call this; the work itself is in `ingest`, `learning` and `search`.

use chrono::NaiveDate;

use crate::context::Context;
use crate::ingest::{self, Format, IngestError, Ingestor, RunReport};
use crate::learning::{self, LearnReport};
use crate::search::{self, SearchError};
use crate::store::{StoreError, StoredPaper};

#[derive(Clone)]
pub struct Papers {
    ctx: Context,
}

impl Papers {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// What fetches from the configured sources.
    pub fn ingestor(&self) -> Result<Ingestor, IngestError> {
        Ingestor::new(self.ctx.store.clone(), &self.ctx.config.ingest)
    }

    /// Parse a saved response (a page, a feed, API JSON) and merge its papers, recording
    /// the run; `origin` names where it came from.
    pub async fn import(
        &self,
        bytes: &[u8],
        format: Format,
        day: Option<NaiveDate>,
        origin: &str,
    ) -> Result<RunReport, IngestError> {
        ingest::import(&self.ctx.store, bytes, format, day, origin).await
    }

    /// Rebuild every topic's profile from the stored papers (each ingest does it).
    pub async fn learn_topics(&self) -> Result<LearnReport, StoreError> {
        learning::learn_topics(&self.ctx.store, self.ctx.catalogue.clone()).await
    }

    /// Whether any paper is featured on `day`.
    pub(crate) async fn any_on(&self, day: NaiveDate) -> Result<bool, StoreError> {
        Ok(!self.ctx.store.papers(Some(day), 1).await?.is_empty())
    }

    /// Stored papers, most upvoted first; of one day when `on` is given.
    pub async fn list(
        &self,
        on: Option<NaiveDate>,
        limit: i64,
    ) -> Result<Vec<StoredPaper>, StoreError> {
        self.ctx.store.papers(on, limit.clamp(1, 10_000)).await
    }

    /// The stored papers a search box's query names (see [`search::find_papers`]).
    pub async fn find(&self, query: &str) -> Result<Vec<StoredPaper>, SearchError> {
        search::find_papers(&self.ctx.store, query).await
    }
}
