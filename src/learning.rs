//! Topics learned from the stored papers: after each ingest, every catalogue topic's
//! profile is rebuilt from the stored papers that carry its arXiv categories
//! (matching::TopicLearner) and kept in the store, where composing and previews read it.
//! A topic reader is then matched like a liked-paper reader, and the topic's keywords
//! still say why.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock;
use crate::domain::TopicCatalogue;
use crate::matching::{LabelledPaper, TopicLearner};
use crate::store::{Store, StoreError};

/// The most recently updated labelled papers that topics learn from: a profile keeps
/// 400 words, which this many papers settle, and older papers speak
/// of older work. Learning from 100,000 stored papers: see the README's figures.
pub(crate) const MAX_PAPERS: i64 = 100_000;

/// What one rebuild did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LearnReport {
    /// Labelled papers read.
    pub papers: usize,
    /// Topics with a learned profile now; the others match by their keywords.
    pub learned: usize,
    /// Topics in the catalogue.
    pub topics: usize,
    /// arXiv categories with a profile of their own (for "more like these").
    pub categories: usize,
    pub took: Duration,
}

/// Rebuild every topic's profile from the stored papers and store it, replacing the
/// previous set at once. The analysis runs off the async workers (it takes seconds for a
/// large store).
pub async fn learn_topics(
    store: &Store,
    catalogue: Arc<TopicCatalogue>,
) -> Result<LearnReport, StoreError> {
    let started = Instant::now();
    let texts = store.labelled_papers(MAX_PAPERS).await?;
    let papers = texts.len();
    let topics = catalogue.topics().len();
    let learned = tokio::task::spawn_blocking(move || {
        let labelled: Vec<LabelledPaper<'_>> = texts
            .iter()
            .map(|t| LabelledPaper {
                title: &t.title,
                abstract_text: &t.abstract_text,
                categories: &t.categories,
            })
            .collect();
        TopicLearner::new(&labelled, &catalogue).learn(&catalogue, |_| true)
    })
    .await
    .expect("learning topics does not panic");
    store
        .save_learned_topics(&learned, clock::timestamp())
        .await?;
    Ok(LearnReport {
        papers,
        learned: learned.topics.len(),
        topics,
        categories: learned.categories.len(),
        took: started.elapsed(),
    })
}
