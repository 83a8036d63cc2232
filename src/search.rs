//! Finding stored papers for a reader who names one: an arXiv id or link, or a few words of
//! its title (the sign-up form's "Papers you liked").

use crate::domain::ArxivId;
use crate::store::{Store, StoreError, StoredPaper};

/// Longer queries are refused: a title's few words are enough.
pub(crate) const MAX_QUERY_CHARS: usize = 200;
/// Words of a query looked for, at most; each must be in the title.
pub(crate) const MAX_WORDS: usize = 8;
/// Papers answered, at most.
pub(crate) const MAX_RESULTS: i64 = 10;

/// What a reader typed, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PaperQuery {
    Id(ArxivId),
    /// Lower-cased words, each at least two characters, every one of them in the title.
    Words(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(
        "type an arXiv id or link (2405.01234, https://arxiv.org/abs/2405.01234) or at least one word of two letters from the title"
    )]
    Empty,
    #[error(
        "the query has {0} characters; {MAX_QUERY_CHARS} at most: a few words of the title are enough"
    )]
    TooLong(usize),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl PaperQuery {
    pub fn parse(input: &str) -> Result<Self, SearchError> {
        let n = input.chars().count();
        if n > MAX_QUERY_CHARS {
            return Err(SearchError::TooLong(n));
        }
        let input = input.trim();
        if let Ok(id) = ArxivId::parse(input) {
            return Ok(Self::Id(id));
        }
        let mut words: Vec<String> = Vec::new();
        // Lower case first, then split: lowering can make a letter and a combining mark
        // ("İ" becomes "i" and a combining dot), and the mark, not a letter, is dropped.
        let lower: String = input
            .to_lowercase()
            .chars()
            .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
            .collect();
        for w in lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 2)
        {
            if !words.iter().any(|x| x == w) && words.len() < MAX_WORDS {
                words.push(w.to_string());
            }
        }
        if words.is_empty() {
            return Err(SearchError::Empty);
        }
        Ok(Self::Words(words))
    }
}

/// The stored papers a query names: the paper with that id, or the latest stored papers
/// whose titles hold every word (as a part of a word: "diffus" finds "Diffusion").
/// A query without a word to look for (empty, punctuation, one letter: what a search box
/// sends while the reader starts typing) finds nothing; it is not an error.
pub(crate) async fn find_papers(
    store: &Store,
    input: &str,
) -> Result<Vec<StoredPaper>, SearchError> {
    Ok(match PaperQuery::parse(input) {
        Ok(PaperQuery::Id(id)) => store.papers_by_ids(&[id]).await?,
        Ok(PaperQuery::Words(words)) => store.papers_titled(&words, MAX_RESULTS).await?,
        Err(SearchError::Empty) => Vec::new(),
        Err(e) => return Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_links_and_words() {
        assert_eq!(
            PaperQuery::parse(" https://arxiv.org/abs/2405.01234v2 ").unwrap(),
            PaperQuery::Id(ArxivId::parse("2405.01234").unwrap())
        );
        assert_eq!(
            PaperQuery::parse("Attention is ALL you need, attention!").unwrap(),
            PaperQuery::Words(vec![
                "attention".into(),
                "is".into(),
                "all".into(),
                "you".into(),
                "need".into()
            ])
        );
        // LIKE's wildcards are not words: nothing but the letters is looked for.
        assert_eq!(
            PaperQuery::parse("100% _diffusion_").unwrap(),
            PaperQuery::Words(vec!["100".into(), "diffusion".into()])
        );
        assert!(matches!(
            PaperQuery::parse("  a - ; "),
            Err(SearchError::Empty)
        ));
        // A capital whose lower case carries a combining mark (proptest found it).
        assert!(matches!(PaperQuery::parse("İ"), Err(SearchError::Empty)));
        assert_eq!(
            PaperQuery::parse("İstanbul").unwrap(),
            PaperQuery::Words(vec!["istanbul".into()])
        );
        assert!(matches!(
            PaperQuery::parse(&"x".repeat(201)),
            Err(SearchError::TooLong(201))
        ));
    }

    proptest! {
        /// Any text: a clear answer, never more than the bounded words, each of letters
        /// and digits only.
        #[test]
        fn any_text_parses_or_is_refused(s in "\\PC{0,300}") {
            match PaperQuery::parse(&s) {
                Ok(PaperQuery::Words(w)) => {
                    prop_assert!(!w.is_empty() && w.len() <= MAX_WORDS);
                    prop_assert!(w.iter().all(|w| w.chars().all(char::is_alphanumeric)));
                }
                Ok(PaperQuery::Id(_)) => {}
                Err(SearchError::Empty) | Err(SearchError::TooLong(_)) => {}
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}
