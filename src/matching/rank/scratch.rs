//! The per-thread working memory of ranking: each paper's score for the current reader,
//! and the best papers so far.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Per-thread working memory, reused from one reader to the next so that matching a reader
/// allocates almost nothing.
#[derive(Default)]
pub struct Scratch {
    pub(super) score: Vec<f32>,
    pub(super) seen: Vec<u32>,
    pub(super) blocked: Vec<u32>,
    pub(super) epoch: u32,
    pub(super) touched: Vec<u32>,
    /// The best papers so far, the worst of them on top: a reader with liked or rated
    /// papers has a score for every paper of the day, and keeping the best 10 of 2,000 as
    /// they come costs one comparison for most papers, less than selecting them afterwards
    /// (`select_nth_unstable`; docs/performance.md, matching).
    pub(super) best: BinaryHeap<Reverse<Ranked>>,
}

/// A paper and its score, ordered from worse to better: a higher score, then (on a tie)
/// the earlier paper.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Ranked(pub(super) u32, pub(super) f32);

impl Eq for Ranked {}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.1.total_cmp(&other.1).then(other.0.cmp(&self.0))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Scratch {
    pub(super) fn reset(&mut self, n: usize) {
        if self.score.len() != n {
            self.score = vec![0.0; n];
            self.seen = vec![0; n];
            self.blocked = vec![0; n];
            self.epoch = 0;
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.seen.fill(0);
            self.blocked.fill(0);
            self.epoch = 1;
        }
        self.touched.clear();
        self.best.clear();
    }

    /// Keep paper `d` if it is among the best `n` so far.
    #[inline]
    pub(super) fn offer(&mut self, n: usize, d: u32, score: f32) {
        let paper = Ranked(d, score);
        if self.best.len() < n {
            self.best.push(Reverse(paper));
        } else if self
            .best
            .peek()
            // A plain comparison first: most papers fall below the worst kept.
            .is_some_and(|worst| score >= worst.0.1 && paper > worst.0)
            && let Some(mut worst) = self.best.peek_mut()
        {
            *worst = Reverse(paper);
        }
    }

    #[inline]
    pub(super) fn add(&mut self, doc: u32, s: f32) {
        let d = doc as usize;
        if self.seen[d] != self.epoch {
            self.seen[d] = self.epoch;
            self.score[d] = 0.0;
            self.touched.push(doc);
        }
        self.score[d] += s;
    }

    pub(super) fn is_blocked(&self, doc: u32) -> bool {
        self.blocked[doc as usize] == self.epoch
    }
}
