//! Matching: compile a reader's interests once, score a day's papers against them
//! (relevance × popularity), keep the top N with the reasons. Pure: no I/O.

#[cfg(feature = "tools")]
pub mod bench;
mod bm25;
mod day_stats;
#[cfg(feature = "tools")]
pub mod eval;
mod index;
mod learned;
mod rank;
mod similar;
mod taste;
mod text;
mod vector;
mod weights;

pub use index::{Corpus, Day, Doc};
pub use learned::{LabelledPaper, LearnedTopic, LearnedTopics, TopicLearner};
pub use rank::{Match, Pick, Profile, Reason, Scratch};
pub use similar::LikedPaper;
pub use taste::{MAX_FEWER, MAX_MORE, Rated, Rating, Taste};
pub use text::Analyzer;
pub use weights::Weights;
