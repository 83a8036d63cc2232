//! Why a paper is in a reader's list, computed only for the few papers chosen.

use super::Profile;
use crate::domain::Reason;
use crate::matching::index::{Day, Term};

impl Day {
    /// Why paper `d` is in a reader's list: only computed for the few papers chosen.
    pub(super) fn reasons(&self, p: &Profile<'_>, d: u32) -> Vec<Reason> {
        let mut out = Vec::new();
        let authors = labels(&p.pinned, d);
        if !authors.is_empty() {
            out.push(Reason {
                interest: "your authors".into(),
                words: authors,
                liked: None,
            });
        }
        let before = out.len();
        topic_reasons(p, d, &mut out);
        if out.len() == before {
            out.extend(self.field_reason(p, d));
        }
        let hit = |t: &&Term| t.hits.binary_search_by_key(&d, |h| h.0).is_ok();
        let words: Vec<String> = p.own.iter().filter(hit).map(|t| t.text.clone()).collect();
        if !words.is_empty() {
            out.push(Reason {
                interest: "your keywords".into(),
                words,
                liked: None,
            });
        }
        let cats = labels(&p.in_categories, d);
        if !cats.is_empty() {
            out.push(Reason {
                interest: "your arXiv categories".into(),
                words: cats,
                liked: None,
            });
        }
        out.extend(self.liked_reason(p, d));
        if out.is_empty() {
            out.push(trending_reason());
        }
        out
    }

    /// Found by the reader's common field alone: credit the topic that leads the category
    /// paper `d` is closest to.
    fn field_reason(&self, p: &Profile<'_>, d: u32) -> Option<Reason> {
        let best = p
            .field
            .iter()
            .filter_map(|&(r, w, t)| {
                let list = &self.fields.postings[r as usize];
                let i = list.binary_search_by_key(&d, |h| h.0).ok()?;
                Some((w * list[i].1, t))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        best.map(|(_, t)| Reason {
            interest: p.topics[t].name.clone(),
            words: Vec::new(),
            liked: None,
        })
    }

    /// Paper `d` is close to the reader's liked papers: the words it shares with them, and
    /// the liked paper closest to it.
    fn liked_reason(&self, p: &Profile<'_>, d: u32) -> Option<Reason> {
        let liked = p.liked.as_ref().filter(|liked| liked.is_match(d))?;
        Some(Reason {
            interest: "papers you liked".into(),
            words: liked.words(self, &p.more, d),
            liked: liked
                .nearest(self, &p.more, d)
                .map(|i| p.more[i].0.title().to_string())
                .filter(|t| !t.trim().is_empty()),
        })
    }
}

pub(super) fn trending_reason() -> Reason {
    Reason {
        interest: "trending today".into(),
        words: Vec::new(),
        liked: None,
    }
}

/// The labels (authors, categories) `list` gives paper `d`.
fn labels(list: &[(u32, String)], d: u32) -> Vec<String> {
    list.iter()
        .filter(|x| x.0 == d)
        .map(|x| x.1.clone())
        .collect()
}

/// A reason for each of the reader's topics paper `d` is in: by its keywords (named), or
/// close to what the topic's papers say, in none of its keywords.
fn topic_reasons(p: &Profile<'_>, d: u32, out: &mut Vec<Reason>) {
    for topic in &p.topics {
        if let Ok(i) = topic.total.binary_search_by_key(&d, |h| h.0) {
            out.push(Reason {
                interest: topic.name.clone(),
                words: topic.terms_in[i]
                    .iter()
                    .map(|t| topic.terms[*t as usize].text.clone())
                    .collect(),
                liked: None,
            });
        } else if topic.reader.binary_search_by_key(&d, |h| h.0).is_ok() {
            // Close to what the topic's papers say, in none of its keywords.
            out.push(Reason {
                interest: topic.name.clone(),
                words: Vec::new(),
                liked: None,
            });
        }
    }
}
