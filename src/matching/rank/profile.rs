//! A reader's interests compiled against the day: their topics, keywords, authors,
//! categories, liked papers and common field.

use super::Profile;
use crate::domain::Interests;
use crate::matching::index::{CompiledTopic, Day, normalise_name};
use crate::matching::similar::{self, LikedPaper};
use crate::matching::taste::Taste;

/// How much a topic reader's common field counts, per standard deviation of closeness, in
/// units of their topics' mean keyword score (as a topic's own learned profile counts). On
/// `dev.jsonl`, seed 1, topic readers' nDCG@10: 0.5 / 1 / 1.5 / 2 gave 0.692 / 0.696 /
/// 0.696 / 0.693 (0.685 without the field).
const TOPIC_FIELD_WEIGHT: f32 = 1.0;

impl Day {
    /// Compile a reader's interests against this day. `liked` are the papers the reader
    /// liked, analysed with [`Day::liked_paper`].
    pub fn profile<'a>(&'a self, interests: &Interests, liked: &[&'a LikedPaper]) -> Profile<'a> {
        let taste = Taste {
            more: liked.iter().map(|p| (*p, 1.0)).collect(),
            fewer: Vec::new(),
        };
        self.profile_with(interests, &taste)
    }

    /// [`profile`](Self::profile) for a reader who also rated papers: `taste` comes from
    /// [`Taste::learn`], its papers analysed with [`Day::liked_paper`].
    pub(crate) fn profile_with<'a>(
        &'a self,
        interests: &Interests,
        taste: &Taste<&'a LikedPaper>,
    ) -> Profile<'a> {
        let mut own = Vec::new();
        let mut blocked = Vec::new();
        for k in interests.keyword_terms() {
            if k.excluded {
                if let Some(t) = self.term(&k.text, 1.0) {
                    blocked.extend(t.hits.iter().map(|h| h.0));
                }
            } else {
                let w = self.weights.own_keyword * if k.phrase { self.weights.phrase } else { 1.0 };
                own.extend(self.term(&k.text, w));
            }
        }
        for a in &interests.muted_authors {
            if let Some(docs) = self.authors.get(&normalise_name(a)) {
                blocked.extend(docs);
            }
        }
        blocked.sort_unstable();
        blocked.dedup();
        let mut pinned: Vec<(u32, String)> = Vec::new();
        for a in &interests.authors {
            for d in self.authors.get(&normalise_name(a)).into_iter().flatten() {
                if !pinned.iter().any(|p| p.0 == *d) {
                    pinned.push((*d, a.clone()));
                }
            }
        }
        pinned.sort_unstable_by_key(|p| p.0);
        let mut in_categories: Vec<(u32, String)> = Vec::new();
        for c in &interests.categories {
            for d in self.categories.get(&c.to_lowercase()).into_iter().flatten() {
                in_categories.push((*d, c.clone()));
            }
        }
        in_categories.sort_unstable_by_key(|p| p.0);
        let liked = (!taste.is_empty()).then(|| similar::score(self, &taste.more, &taste.fewer));
        let topics: Vec<&CompiledTopic> = interests
            .topics
            .iter()
            .filter_map(|t| self.topics.get(t.as_str()))
            .collect();
        let field = self.common_field(&topics);
        Profile {
            topics,
            field,
            own,
            blocked,
            pinned,
            in_categories,
            more: if liked.is_some() {
                taste.more.clone()
            } else {
                Vec::new()
            },
            liked,
            blend: f32::from(interests.trending.min(100)) / 100.0,
        }
    }
}

impl Day {
    /// A topic reader's common field (see [`common_field`]), each category weighing its
    /// share times the mean keyword score of the reader's topics: one standard deviation
    /// of closeness to a shared field adds what one to a topic's own profile adds.
    fn common_field(&self, topics: &[&CompiledTopic]) -> Vec<(u32, f32, usize)> {
        if topics.is_empty() || self.fields.postings.is_empty() {
            return Vec::new();
        }
        let lists: Vec<&[(u32, f32)]> = topics.iter().map(|t| t.fields.as_slice()).collect();
        let mut rows = common_field(&lists);
        let unit = topics.iter().map(|t| t.keyword_mean).sum::<f32>() / topics.len() as f32;
        for r in &mut rows {
            r.1 *= TOPIC_FIELD_WEIGHT * unit;
        }
        rows
    }
}

/// What a reader's topics have in common is their field (as for a liked-paper reader's
/// papers). From each topic's category rows and what each counts (1 for its primary
/// category, less for the others): a category's share is its weight summed over the
/// topics, over the number of topics, raised to [`similar::CONSENSUS`]; the
/// [`similar::FIELDS_KEPT`] heaviest are kept (ties by row), each with the first topic
/// that counts it most, to name in a reason. A reader of the three topics that lead
/// eess.IV, each also listing cs.CV, gets eess.IV at 1 and cs.CV at 0.125.
fn common_field(topics: &[&[(u32, f32)]]) -> Vec<(u32, f32, usize)> {
    let mut rows: Vec<(u32, f32, usize, f32)> = Vec::new();
    for (t, list) in topics.iter().enumerate() {
        for &(r, w) in *list {
            match rows.iter_mut().find(|x| x.0 == r) {
                Some(x) => {
                    x.1 += w;
                    if w > x.3 {
                        (x.2, x.3) = (t, w);
                    }
                }
                None => rows.push((r, w, t, w)),
            }
        }
    }
    let n = topics.len().max(1) as f32;
    let mut rows: Vec<(u32, f32, usize)> = rows
        .into_iter()
        .map(|(r, w, t, _)| (r, (w / n).powi(similar::CONSENSUS), t))
        .collect();
    rows.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    rows.truncate(similar::FIELDS_KEPT);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readers_topics_share_the_field_most_of_them_lead() {
        // Rows: 0 eess.IV, 1 cs.CV, 2 physics.med-ph, 3 physics.geo-ph.
        let restoration: &[(u32, f32)] = &[(0, 1.0), (1, 0.5)];
        let medical: &[(u32, f32)] = &[(0, 1.0), (1, 0.5), (2, 0.5)];
        let sensing: &[(u32, f32)] = &[(0, 1.0), (1, 0.5), (3, 0.5)];
        let field = common_field(&[restoration, medical, sensing]);
        let share = |r: u32| field.iter().find(|x| x.0 == r).map(|x| (x.1, x.2));
        assert_eq!(field[0].0, 0, "eess.IV first");
        assert_eq!(share(0), Some((1.0, 0)), "all three lead it");
        assert_eq!(share(1), Some((0.125, 0)), "a half share, cubed");
        assert!((share(2).unwrap().0 - (0.5f32 / 3.0).powi(3)).abs() < 1e-6);
        assert_eq!(
            share(2).unwrap().1,
            1,
            "named after the topic that lists it"
        );
        // cs.CV led by a fourth topic: that topic is named for it.
        let vision: &[(u32, f32)] = &[(1, 1.0)];
        let field = common_field(&[restoration, medical, vision]);
        let share = |r: u32| field.iter().find(|x| x.0 == r).map(|x| (x.1, x.2));
        assert_eq!(share(1).unwrap().1, 2);
        assert!((share(1).unwrap().0 - (2.0f32 / 3.0).powi(3)).abs() < 1e-6);
        // Only the heaviest are kept; no topic, no field.
        let many: Vec<(u32, f32)> = (0..20).map(|r| (r, 0.5)).collect();
        assert_eq!(
            common_field(&[&many]).len(),
            similar::FIELDS_KEPT,
            "the heaviest kept"
        );
        assert!(common_field(&[]).is_empty());
    }
}
