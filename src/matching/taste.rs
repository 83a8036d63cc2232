//! What a reader taught paperboy by rating the papers they were sent ("more like this",
//! "fewer like this"), turned into what the matcher ranks with: papers to come closer to and
//! papers to keep away from, each with a weight. Pure and bounded: any number of ratings, in
//! any order, gives at most [`MAX_MORE`] + [`MAX_FEWER`] rated papers next to the liked ones.
//!
//! The mail's rating links and `paperboy eval matching` (rated readers) both go through
//! [`Taste::learn`]; [`Day::profile_with`](super::Day::profile_with) ranks with the result
//! (Rocchio: the day's papers scored by closeness to the "more" papers minus a share of their
//! closeness to the "fewer" papers, see `similar.rs`).

use std::collections::HashSet;
use std::hash::Hash;

/// A reader's verdict on one paper: the domain's, so that the mail's links and the model
/// speak of the same thing.
pub use crate::domain::Rating;

/// One rating: the paper (an id, an index, or the paper itself), the verdict, and when it
/// was given (seconds since the epoch, or any increasing count).
#[derive(Clone, Debug, PartialEq)]
pub struct Rated<P> {
    pub paper: P,
    pub rating: Rating,
    pub at: i64,
}

/// The most recent "more" ratings kept; older ones have taught what they could.
pub const MAX_MORE: usize = 50;
/// The most recent "fewer" ratings kept.
pub const MAX_FEWER: usize = 50;
/// A rated paper counts half as much as a liked one after this many newer ratings of the
/// same kind: the most recent weigh most, and tastes may drift.
const HALF_LIFE: f32 = 20.0;

/// Weighted examples of what a reader wants and does not want.
#[derive(Clone, Debug, PartialEq)]
pub struct Taste<P> {
    /// The papers liked at sign-up (weight 1) and the most recent "more" papers.
    pub more: Vec<(P, f32)>,
    /// The most recent "fewer" papers.
    pub fewer: Vec<(P, f32)>,
}

impl<P> Default for Taste<P> {
    fn default() -> Self {
        Self {
            more: Vec::new(),
            fewer: Vec::new(),
        }
    }
}

impl<P: Clone + Eq + Hash> Taste<P> {
    /// From the papers the reader liked at sign-up and their ratings. A paper's latest
    /// rating is the one that counts (equal times: the later in the list); a liked paper
    /// rated "fewer" stops being liked.
    pub fn learn(liked: &[P], ratings: &[Rated<P>]) -> Self {
        let mut newest_first: Vec<&Rated<P>> = ratings.iter().collect();
        // Stable sort, then reversed: among equal times the later in the list comes first.
        newest_first.sort_by_key(|r| r.at);
        newest_first.reverse();
        let mut seen: HashSet<&P> = HashSet::new();
        let mut more: Vec<(P, f32)> = Vec::new();
        let mut fewer: Vec<(P, f32)> = Vec::new();
        let mut disliked: HashSet<&P> = HashSet::new();
        for r in newest_first {
            if !seen.insert(&r.paper) {
                continue;
            }
            let (list, cap) = match r.rating {
                Rating::More => (&mut more, MAX_MORE),
                Rating::Fewer => {
                    disliked.insert(&r.paper);
                    (&mut fewer, MAX_FEWER)
                }
            };
            if list.len() < cap {
                let w = 0.5f32.powf(list.len() as f32 / HALF_LIFE);
                list.push((r.paper.clone(), w));
            }
        }
        let mut taste = Self {
            more: Vec::with_capacity(liked.len() + more.len()),
            fewer,
        };
        let mut liked_seen: HashSet<&P> = HashSet::new();
        for p in liked {
            if !disliked.contains(p) && liked_seen.insert(p) {
                taste.more.push((p.clone(), 1.0));
            }
        }
        // A liked paper also rated "more" counts once, as liked.
        taste
            .more
            .extend(more.into_iter().filter(|(p, _)| !liked_seen.contains(p)));
        taste
    }
}

impl<P> Taste<P> {
    /// The same taste over other handles (the papers analysed against a day); papers `f`
    /// does not know (no longer stored) are left out.
    pub fn map<Q>(&self, mut f: impl FnMut(&P) -> Option<Q>) -> Taste<Q> {
        let mut list = |l: &[(P, f32)]| -> Vec<(Q, f32)> {
            l.iter().filter_map(|(p, w)| Some((f(p)?, *w))).collect()
        };
        Taste {
            more: list(&self.more),
            fewer: list(&self.fewer),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.more.is_empty() && self.fewer.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rated(paper: u32, rating: Rating, at: i64) -> Rated<u32> {
        Rated { paper, rating, at }
    }

    #[test]
    fn the_latest_rating_counts_and_the_newest_weigh_most() {
        let t = Taste::learn(
            &[1, 2],
            &[
                rated(3, Rating::More, 10),
                rated(4, Rating::More, 30),
                rated(3, Rating::Fewer, 20),
                rated(2, Rating::Fewer, 5),
                rated(1, Rating::More, 40),
            ],
        );
        // 2 was liked, then hidden; 3 was liked, then hidden; 1 liked twice counts once.
        let more: Vec<u32> = t.more.iter().map(|m| m.0).collect();
        assert_eq!(more, [1, 4]);
        assert_eq!(t.more[0].1, 1.0, "a sign-up like keeps full weight");
        let fewer: Vec<u32> = t.fewer.iter().map(|m| m.0).collect();
        assert_eq!(fewer, [3, 2], "newest first");
        assert!(t.fewer[0].1 > t.fewer[1].1);
        // Equal times: the later in the list wins.
        let t = Taste::learn(
            &[],
            &[rated(7, Rating::More, 1), rated(7, Rating::Fewer, 1)],
        );
        assert!(t.more.is_empty());
        assert_eq!(t.fewer, [(7, 1.0)]);
    }

    #[test]
    fn map_drops_papers_no_longer_known() {
        let t = Taste::learn(
            &[1],
            &[rated(2, Rating::Fewer, 1), rated(3, Rating::More, 2)],
        );
        let m = t.map(|p| (*p != 3).then(|| p * 10));
        assert_eq!(m.more, [(10, 1.0)]);
        assert_eq!(m.fewer, [(20, 1.0)]);
        assert!(!m.is_empty());
        assert!(Taste::<u32>::default().is_empty());
    }

    proptest! {
        #[test]
        fn a_thousand_ratings_keep_the_taste_bounded(
            ratings in prop::collection::vec((0u32..5000, any::<bool>(), 0i64..1_000_000), 1000),
            liked in prop::collection::vec(0u32..5000, 0..10),
        ) {
            let ratings: Vec<Rated<u32>> = ratings
                .into_iter()
                .map(|(p, more, at)| rated(p, if more { Rating::More } else { Rating::Fewer }, at))
                .collect();
            let t = Taste::learn(&liked, &ratings);
            prop_assert!(t.more.len() <= liked.len() + MAX_MORE);
            prop_assert!(t.fewer.len() <= MAX_FEWER);
            let mut all: Vec<u32> = t.more.iter().chain(&t.fewer).map(|x| x.0).collect();
            let n = all.len();
            all.sort_unstable();
            all.dedup();
            prop_assert_eq!(all.len(), n, "no paper twice");
            prop_assert!(t.more.iter().chain(&t.fewer).all(|x| x.1 > 0.0 && x.1 <= 1.0));
        }
    }
}
