//! Matching: compile a reader's interests once, score a day's papers against them
//! (relevance × popularity), keep the top N with the reasons. Pure: no I/O.

pub mod bench;
pub mod eval;
mod index;
mod rank;
mod similar;
mod text;

pub use index::{Day, Doc, Weights};
pub use rank::{Match, Pick, Profile, Reason, Scratch};
pub use similar::LikedPaper;
pub use text::Analyzer;
