//! Ingest: the day's papers from each source, normalised to [`Paper`], stored and recorded.
//! Parsers are pure (bytes in, papers out); fetching and storing live beside them.

pub mod arxiv;
pub mod fetch;
pub mod huggingface;

/// A document that is not what its source should send: truncated, re-designed, empty
/// where it must not be, or an error page. Says which source and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct ParseError {
    /// Which kind of document, e.g. "arXiv RSS feed".
    pub what: &'static str,
    pub detail: String,
}

impl ParseError {
    pub fn new(what: &'static str, detail: impl Into<String>) -> Self {
        Self {
            what,
            detail: detail.into(),
        }
    }
}

use chrono::NaiveDate;

use crate::clock;
use crate::config::{HuggingFaceMode, IngestConfig};
use crate::domain::{ArxivId, Paper, PaperSource};
use crate::store::{Store, StoreError, UpsertCounts};

/// What kind of document is being ingested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Hugging Face `/api/daily_papers` JSON.
    HfApi,
    /// A Hugging Face Daily Papers page (`/papers/date/D`).
    HfPage,
    /// An arXiv RSS feed.
    ArxivRss,
    /// An arXiv API (Atom) response.
    ArxivAtom,
}

impl Format {
    /// Guess from the content: JSON, a Daily Papers page, RSS or Atom. Other HTML (an
    /// error page, another site) is not guessed.
    pub(crate) fn detect(bytes: &[u8]) -> Option<Self> {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]);
        let t = head.trim_start_matches('\u{feff}').trim_start();
        let lower = t.to_ascii_lowercase();
        // A page saved from a browser may begin with a comment (`<!-- saved from url=… -->`).
        let html = lower.starts_with("<!doctype html")
            || lower.starts_with("<html")
            || (lower.starts_with("<!--") && lower.contains("<html"));
        if t.starts_with('[') || t.starts_with('{') {
            Some(Self::HfApi)
        } else if html {
            // The page's data sits far below its head (about 2 kB of it on the real page is
            // meta tags): look through it for the component or a paper card's link.
            let page = |marker: &[u8]| bytes.windows(marker.len()).any(|w| w == marker);
            let component = page(br#"data-target="DailyPapers""#);
            let cards = page(b"<h3") && page(br#"href="/papers/"#);
            (component || cards).then_some(Self::HfPage)
        } else if t.contains("<rss") {
            Some(Self::ArxivRss)
        } else if t.contains("<feed") {
            Some(Self::ArxivAtom)
        } else {
            None
        }
    }

    pub fn source(self) -> PaperSource {
        match self {
            Self::HfApi | Self::HfPage => PaperSource::HuggingFace,
            Self::ArxivRss => PaperSource::ArxivRss,
            Self::ArxivAtom => PaperSource::ArxivApi,
        }
    }

    pub fn parse(self, bytes: &[u8], day: Option<NaiveDate>) -> Result<Vec<Paper>, ParseError> {
        match self {
            Self::HfApi => huggingface::parse_api(bytes, day),
            Self::HfPage => huggingface::parse_page(bytes, day),
            Self::ArxivRss => arxiv::parse_rss(bytes).map(|feed| feed.papers),
            Self::ArxivAtom => arxiv::parse_atom(bytes),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Fetch(#[from] fetch::FetchError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Input(String),
}

/// What one run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub run_id: i64,
    /// The papers the document held.
    pub ids: Vec<ArxivId>,
    pub counts: UpsertCounts,
    /// The source answered 304: nothing changed since the last run.
    pub not_modified: bool,
}

/// Parse a document and merge its papers into the store, recording the run. A document that
/// does not parse records a failed run and changes no paper.
pub async fn import(
    store: &Store,
    bytes: &[u8],
    format: Format,
    day: Option<NaiveDate>,
    origin: &str,
) -> Result<RunReport, IngestError> {
    let run_id = store
        .start_run(format.source().as_str(), day, origin, clock::timestamp())
        .await?;
    import_into_run(store, run_id, bytes, format, day).await
}

async fn import_into_run(
    store: &Store,
    run_id: i64,
    bytes: &[u8],
    format: Format,
    day: Option<NaiveDate>,
) -> Result<RunReport, IngestError> {
    let result = match format.parse(bytes, day) {
        Ok(papers) => store
            .upsert_papers(&papers, clock::timestamp())
            .await
            .map(|counts| (papers, counts))
            .map_err(IngestError::from),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok((papers, counts)) => {
            store
                .finish_run(run_id, Ok(counts), clock::timestamp())
                .await?;
            let ids = papers.into_iter().map(|p| p.id).collect();
            Ok(RunReport {
                run_id,
                ids,
                counts,
                not_modified: false,
            })
        }
        Err(e) => {
            store
                .finish_run(run_id, Err(&e.to_string()), clock::timestamp())
                .await?;
            Err(e)
        }
    }
}

/// Fetches each source's documents and imports them.
pub struct Ingestor {
    store: Store,
    fetcher: fetch::Fetcher,
    config: IngestConfig,
}

impl Ingestor {
    pub fn new(store: Store, config: &IngestConfig) -> Result<Self, IngestError> {
        Ok(Self {
            store,
            fetcher: fetch::Fetcher::new(config)?,
            config: config.clone(),
        })
    }

    /// A day of Hugging Face Daily Papers (from the API or the page, per the configured
    /// mode), then the arXiv API for papers without categories (it also brings the abstract
    /// that a page's cards lack).
    pub async fn huggingface_day(&self, day: NaiveDate) -> Result<RunReport, IngestError> {
        let base = self.config.huggingface_url.trim_end_matches('/');
        let (url, format) = match self.config.huggingface_mode {
            HuggingFaceMode::Api => (format!("{base}/api/daily_papers?date={day}"), Format::HfApi),
            HuggingFaceMode::Page => (format!("{base}/papers/date/{day}"), Format::HfPage),
        };
        let report = self.fetch_and_import(&url, format, Some(day), None).await?;
        let missing = self.store.papers_without_categories(&report.ids).await?;
        self.add_categories(&missing).await?;
        Ok(report)
    }

    /// The latest announcement day of the configured arXiv categories' RSS feeds.
    pub async fn arxiv_feed(&self) -> Result<RunReport, IngestError> {
        let base = self.config.arxiv_rss_url.trim_end_matches('/');
        let url = format!("{base}/rss/{}", self.config.arxiv_categories.join("+"));
        self.fetch_and_import(&url, Format::ArxivRss, None, None)
            .await
    }

    /// Look papers up in the arXiv API in batches, at most one request per interval.
    pub(crate) async fn add_categories(&self, ids: &[ArxivId]) -> Result<(), IngestError> {
        let base = self.config.arxiv_api_url.trim_end_matches('/');
        let spacing = std::time::Duration::from_millis(self.config.arxiv_api_interval_ms);
        for chunk in ids.chunks(self.config.arxiv_api_batch.max(1)) {
            let list = chunk
                .iter()
                .map(ArxivId::as_str)
                .collect::<Vec<_>>()
                .join(",");
            let url = format!(
                "{base}/api/query?id_list={list}&max_results={}",
                chunk.len()
            );
            self.fetch_and_import(&url, Format::ArxivAtom, None, Some(spacing))
                .await?;
        }
        Ok(())
    }

    async fn fetch_and_import(
        &self,
        url: &str,
        format: Format,
        day: Option<NaiveDate>,
        spacing: Option<std::time::Duration>,
    ) -> Result<RunReport, IngestError> {
        let run_id = self
            .store
            .start_run(format.source().as_str(), day, url, clock::timestamp())
            .await?;
        let (etag, last_modified) = self.store.http_validators(url).await?;
        let cached = fetch::Validators {
            etag,
            last_modified,
        };
        match self.fetcher.get(url, &cached, spacing).await {
            Err(e) => {
                self.store
                    .finish_run(run_id, Err(&e.to_string()), clock::timestamp())
                    .await?;
                Err(e.into())
            }
            Ok(fetch::Fetched::NotModified) => {
                self.store
                    .finish_run(run_id, Ok(UpsertCounts::default()), clock::timestamp())
                    .await?;
                Ok(RunReport {
                    run_id,
                    ids: Vec::new(),
                    counts: UpsertCounts::default(),
                    not_modified: true,
                })
            }
            Ok(fetch::Fetched::Fresh { body, validators }) => {
                let report = import_into_run(&self.store, run_id, &body, format, day).await?;
                self.store
                    .save_http_validators(
                        url,
                        validators.etag.as_deref(),
                        validators.last_modified.as_deref(),
                        clock::timestamp(),
                    )
                    .await?;
                Ok(report)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Format;

    const PAGE: &[u8] =
        include_bytes!("../../tests/fixtures/hf_html/huggingface_papers_2026-09-28.html");

    #[test]
    fn detects_a_daily_papers_page_not_any_html() {
        assert_eq!(Format::detect(PAGE), Some(Format::HfPage));
        // As a browser saves it: a byte order mark and a comment before the doctype.
        let saved = [
            "\u{feff}<!-- saved from url=(0028)https://huggingface.co/papers -->\n".as_bytes(),
            PAGE,
        ]
        .concat();
        assert_eq!(Format::detect(&saved), Some(Format::HfPage));
        for other in [
            "<html><body>Service Unavailable</body></html>",
            "<!DOCTYPE html><html><body><h3>News</h3><a href=\"/models\">x</a></body></html>",
            "<!-- a comment --> and text",
        ] {
            assert_eq!(Format::detect(other.as_bytes()), None, "{other}");
        }
        let rss = include_bytes!("../../tests/fixtures/arxiv_rss/distill_rss_cs.LG_2026-04-27.xml");
        assert_eq!(Format::detect(rss), Some(Format::ArxivRss));
    }
}
