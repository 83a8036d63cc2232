//! The three views of a reader's liked papers against every paper of the day: words,
//! topics and fields.

use super::{CONSENSUS, FEWER, FIELDS_KEPT, LIGHTEST_WORD, LikedPaper};
use crate::matching::index::Day;
use crate::matching::vector::Vector;

/// Words: (Σ w·more − n · mean) · paper through the day's postings, less the same for the
/// "fewer" papers on the scale of the "more" ones; with the "more" papers' weighted sum
/// and total weight.
pub(super) fn words_view(
    day: &Day,
    more: &[(&LikedPaper, f32)],
    fewer: &[(&LikedPaper, f32)],
) -> (Vec<f32>, Vector, f32) {
    let centroid = weighted_sum(more);
    let n: f32 = more.iter().map(|m| m.1).sum();
    let n_fewer: f32 = fewer.iter().map(|m| m.1).sum();
    // The "fewer" papers' sum is taken from the "more" papers' before the day's postings
    // are walked: a word both have (the common ones, with the longest lists) is walked once.
    let (query, mean_weight) = if n_fewer > 0.0 {
        let k = FEWER * n.max(1.0) / n_fewer;
        let push_away = weighted_sum(fewer);
        (
            std::borrow::Cow::Owned(difference(&centroid, &push_away, k)),
            n - k * n_fewer,
        )
    } else {
        (std::borrow::Cow::Borrowed(&centroid), n)
    };
    let mut words: Vec<f32> = day
        .similar
        .mean_dot
        .iter()
        .map(|m| -mean_weight * m)
        .collect();
    let floor = LIGHTEST_WORD * query.iter().map(|x| x.1.abs()).fold(0.0, f32::max);
    for (t, q) in query.iter().filter(|x| x.1.abs() >= floor) {
        for &(d, w) in &day.vectors[*t as usize] {
            words[d as usize] += q * w;
        }
    }
    (words, centroid, n)
}

/// Topics: where the liked papers stand in the catalogue, against each paper's place.
pub(super) fn topics_view(
    day: &Day,
    more: &[(&LikedPaper, f32)],
    fewer: &[(&LikedPaper, f32)],
) -> Vec<f32> {
    let n_docs = day.len();
    let topics = day.topic_order.len();
    let mean_z = |list: &[(&LikedPaper, f32)], t: usize| {
        let total: f32 = list.iter().map(|p| p.1).sum();
        list.iter().map(|(p, w)| w * p.topic_z[t]).sum::<f32>() / total.max(f32::EPSILON)
    };
    let q: Vec<f32> = (0..topics)
        .map(|t| {
            let pos = if more.is_empty() {
                0.0
            } else {
                mean_z(more, t)
            };
            let neg = if fewer.is_empty() {
                0.0
            } else {
                mean_z(fewer, t)
            };
            pos - FEWER * neg
        })
        .collect();
    // A paper's standardised score for a topic is (raw − mean) / std, and its raw score is
    // 0 for most papers: Σ q·z is then one constant, −Σ q·mean / std, plus q / std times
    // the raw scores of the papers each topic's keywords occur in. Walking those lists
    // instead of every topic's column of the day touches a tenth as many numbers (9 % of
    // the bench's topics × papers have a keyword score).
    let base: f32 = q
        .iter()
        .zip(&day.similar.topic_stats)
        .map(|(qt, (mean, std))| -qt * mean / std)
        .sum();
    let mut topical = vec![base; n_docs];
    for ((qt, (_, std)), id) in q.iter().zip(&day.similar.topic_stats).zip(&day.topic_order) {
        let k = qt / std;
        for &(d, raw) in &day.topics[id].total {
            topical[d as usize] += k * raw;
        }
    }
    for (x, norm) in topical.iter_mut().zip(&day.similar.topic_norm) {
        *x /= norm;
    }
    topical
}

/// A reader's field view, before it is standardised.
pub(super) struct FieldView {
    pub(super) closeness: Vec<f32>,
    /// The weight of the "more" papers that have categories.
    pub(super) total: f32,
    /// The category rows kept, sorted, and what a "more" paper in each counts per unit of
    /// its weight.
    pub(super) kept: Vec<u32>,
    pub(super) gain: Vec<f32>,
}

/// Fields: the liked papers' own arXiv categories, through the learned profiles.
pub(super) fn fields_view(
    day: &Day,
    more: &[(&LikedPaper, f32)],
    fewer: &[(&LikedPaper, f32)],
) -> FieldView {
    let n_docs = day.len();
    let rows = day.fields.of_category.len();
    // Each category's share of the "more" papers (and of the "fewer" ones), raised to
    // [`CONSENSUS`]: what most of a reader's papers have in common is their field, a
    // category one paper is cross-listed in is not.
    let shares = |list: &[(&LikedPaper, f32)]| {
        let mut share = vec![0.0f32; rows];
        let total: f32 = list
            .iter()
            .filter(|p| !p.0.fields.is_empty())
            .map(|p| p.1)
            .sum();
        for (p, w) in list {
            for r in &p.fields {
                share[*r as usize] += w / total;
            }
        }
        (share, total)
    };
    let (pos, total) = shares(more);
    let (neg, _) = shares(fewer);
    let fq: Vec<f32> = pos
        .iter()
        .zip(&neg)
        .map(|(p, n)| p.powi(CONSENSUS) - FEWER * n.powi(CONSENSUS))
        .collect();
    // The heaviest categories only: a reader's weight sits in a few fields, and a rated
    // reader whose 40 papers span 50 categories would otherwise pay a pass over the day for
    // each.
    let mut kept: Vec<u32> = (0..rows as u32)
        .filter(|r| fq[*r as usize] != 0.0)
        .collect();
    kept.sort_unstable_by(|a, b| {
        fq[*b as usize]
            .abs()
            .total_cmp(&fq[*a as usize].abs())
            .then(a.cmp(b))
    });
    kept.truncate(FIELDS_KEPT);
    kept.sort_unstable();
    let mut closeness = vec![0.0f32; n_docs];
    for &r in &kept {
        let (r, q) = (r as usize, fq[r as usize]);
        for (x, z) in closeness
            .iter_mut()
            .zip(&day.fields.z[r * n_docs..(r + 1) * n_docs])
        {
            *x += q * z;
        }
    }
    FieldView {
        closeness,
        total,
        gain: kept
            .iter()
            .map(|r| pos[*r as usize].powi(CONSENSUS - 1))
            .collect(),
        kept,
    }
}

/// Σ weight · vector, sorted by term.
fn weighted_sum(list: &[(&LikedPaper, f32)]) -> Vector {
    // Summed in a dense array over the day's words (one per thread, kept between readers)
    // and only the distinct words sorted: a rated reader's 40 papers make some 4,000
    // entries, and each word's terms still add up in the list's order. What sorting them
    // all, or a hash map, cost is in docs/performance.md (matching).
    thread_local! {
        static SUMS: std::cell::RefCell<DenseSum> = std::cell::RefCell::default();
    }
    SUMS.with_borrow_mut(|sums| {
        sums.epoch = sums.epoch.wrapping_add(1);
        if sums.epoch == 0 {
            sums.mark.fill(0);
            sums.epoch = 1;
        }
        let mut terms: Vec<u32> = Vec::new();
        for (p, w) in list {
            for &(t, x) in &p.vector {
                let i = t as usize;
                if i >= sums.total.len() {
                    sums.total.resize(i + 1, 0.0);
                    sums.mark.resize(i + 1, 0);
                }
                if sums.mark[i] != sums.epoch {
                    sums.mark[i] = sums.epoch;
                    sums.total[i] = 0.0;
                    terms.push(t);
                }
                sums.total[i] += w * x;
            }
        }
        // In word order: sorted when they are few, else read off the marks in order (a
        // rated reader's 40 papers touch some 2,000 of the day's 11,000 words).
        if terms.len() * 16 < sums.mark.len() {
            terms.sort_unstable();
        } else {
            let epoch = sums.epoch;
            terms.clear();
            terms.extend((0..sums.mark.len() as u32).filter(|t| sums.mark[*t as usize] == epoch));
        }
        terms.iter().map(|&t| (t, sums.total[t as usize])).collect()
    })
}

/// Working memory of [`weighted_sum`]: a running total per word, and which words the
/// current sum has touched (`mark` equal to `epoch`).
#[derive(Default)]
struct DenseSum {
    total: Vec<f32>,
    mark: Vec<u32>,
    epoch: u32,
}

/// a − k·b, both sorted by term.
fn difference(a: &Vector, b: &Vector, k: f32) -> Vector {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                out.push((x.0, x.1 - k * y.1));
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                out.push(*x);
                i += 1;
            }
            (Some(x), None) => {
                out.push(*x);
                i += 1;
            }
            (_, Some(y)) => {
                out.push((y.0, -k * y.1));
                j += 1;
            }
            (None, None) => unreachable!("the loop runs while one list has terms"),
        }
    }
    out
}
