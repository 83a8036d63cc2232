//! Matching: compile a reader's interests once, score a day's papers against them
//! (relevance × popularity), keep the top N with the reasons. Pure: no I/O.

pub mod eval;
mod rank;
mod text;

pub use rank::{Day, Doc, Match, Profile, Reason, Weights};
pub use text::Analyzer;
