//! Text analysis: Unicode-aware tokens, case folding, English stop words, Snowball stemming.

use rust_stemmers::{Algorithm, Stemmer};

/// Common English words, and words every abstract uses, that say nothing about a topic.
/// Sorted, for binary search.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "achieve",
    "achieves",
    "across",
    "after",
    "again",
    "against",
    "all",
    "also",
    "although",
    "am",
    "among",
    "an",
    "and",
    "another",
    "any",
    "approach",
    "are",
    "art",
    "as",
    "at",
    "based",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "demonstrate",
    "did",
    "do",
    "does",
    "doing",
    "done",
    "due",
    "during",
    "each",
    "either",
    "et",
    "etc",
    "existing",
    "experimental",
    "experiments",
    "few",
    "finally",
    "first",
    "for",
    "from",
    "further",
    "furthermore",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "however",
    "i",
    "if",
    "in",
    "into",
    "introduce",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "may",
    "me",
    "method",
    "methods",
    "might",
    "more",
    "moreover",
    "most",
    "much",
    "must",
    "my",
    "new",
    "no",
    "nor",
    "not",
    "novel",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "over",
    "own",
    "paper",
    "per",
    "present",
    "propose",
    "proposed",
    "respectively",
    "result",
    "results",
    "same",
    "she",
    "should",
    "show",
    "shown",
    "shows",
    "significantly",
    "since",
    "so",
    "some",
    "state",
    "study",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "though",
    "through",
    "thus",
    "to",
    "too",
    "two",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "use",
    "used",
    "using",
    "very",
    "via",
    "was",
    "we",
    "well",
    "were",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "within",
    "without",
    "work",
    "would",
    "yet",
    "you",
    "your",
];

pub struct Analyzer {
    stemmer: Stemmer,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self {
            stemmer: Stemmer::create(Algorithm::English),
        }
    }
}

fn is_stop(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

impl Analyzer {
    /// Lower-cased, stemmed tokens, stop words removed. Tokens are runs of letters and
    /// digits; `-`, `'` and other punctuation split words ("sim-to-real" → sim, to, real).
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.each_token(text, |t| out.push(t));
        out
    }

    /// Like [`tokens`](Self::tokens), but a stop word leaves a gap marker (`None`), so that a
    /// phrase only matches words that really stand next to each other.
    pub(crate) fn tokens_with_gaps(&self, text: &str) -> Vec<Option<String>> {
        let mut out = Vec::new();
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            // Lower-casing can add combining marks ("İ" → "i̇"): keep letters and digits.
            let lower: String = word
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect();
            if lower.is_empty() || is_stop(&lower) || lower.chars().count() > 40 {
                out.push(None);
            } else {
                out.push(Some(self.stemmer.stem(&lower).into_owned()));
            }
        }
        out
    }

    fn each_token(&self, text: &str, mut f: impl FnMut(String)) {
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            // Lower-casing can add combining marks ("İ" → "i̇"): keep letters and digits.
            let lower: String = word
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect();
            // Single characters and very long runs (hashes, URLs) carry no topic.
            let n = lower.chars().count();
            if n == 0
                || is_stop(&lower)
                || n < 2 && !lower.chars().all(|c| c.is_ascii_digit())
                || n > 40
            {
                continue;
            }
            f(self.stemmer.stem(&lower).into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn tokens_fold_stem_and_drop_stop_words() {
        let a = Analyzer::default();
        assert_eq!(
            a.tokens("The Transformers are LEARNING Graphs"),
            ["transform", "learn", "graph"]
        );
        assert_eq!(
            a.tokens("Sim-to-real RL für Roboter"),
            ["sim", "real", "rl", "für", "robot"]
        );
        assert_eq!(a.tokens("Über große Modelle"), ["über", "große", "modell"]);
        assert!(a.tokens("").is_empty());
        let gaps = a.tokens_with_gaps("learning of the graphs");
        assert_eq!(
            gaps,
            [Some("learn".into()), None, None, Some("graph".into())]
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_tokens_are_clean(s in "\\PC{0,300}") {
            let a = Analyzer::default();
            for t in a.tokens(&s) {
                prop_assert!(!t.is_empty());
                prop_assert!(t.chars().all(char::is_alphanumeric), "{:?}", t);
            }
        }
    }
}
