use serde::{Deserialize, Serialize};

use super::topic::{TopicCatalogue, TopicId};

const MAX_KEYWORDS: usize = 50;
const MAX_KEYWORD_CHARS: usize = 100;
const MAX_AUTHORS: usize = 50;
const MAX_AUTHOR_CHARS: usize = 100;

/// One free keyword or quoted phrase a reader typed, possibly excluded with a leading `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyword {
    pub text: String,
    pub phrase: bool,
    pub excluded: bool,
}

impl Keyword {
    /// The canonical written form, which is also how it is stored: `word`, `"a phrase"`,
    /// `-word`, `-"a phrase"`.
    pub fn canonical(&self) -> String {
        let minus = if self.excluded { "-" } else { "" };
        if self.phrase {
            format!("{minus}\"{}\"", self.text)
        } else {
            format!("{minus}{}", self.text)
        }
    }
}

/// What a reader wants to read about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interests {
    pub topics: Vec<TopicId>,
    /// Canonical keyword forms (see [`Keyword::canonical`]).
    pub keywords: Vec<String>,
    pub authors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterestsError {
    #[error("unknown topic {0:?}: pick topics from the list")]
    UnknownTopic(String),
    #[error("at most {MAX_KEYWORDS} keywords and phrases")]
    TooManyKeywords,
    #[error("a keyword or phrase is longer than {MAX_KEYWORD_CHARS} characters")]
    KeywordTooLong,
    #[error("a quote is not closed: write phrases as \"graph neural network\"")]
    UnclosedQuote,
    #[error("keywords cannot contain control characters or line breaks")]
    KeywordControl,
    #[error("at most {MAX_AUTHORS} authors")]
    TooManyAuthors,
    #[error(
        "an author name is longer than {MAX_AUTHOR_CHARS} characters or contains control characters"
    )]
    BadAuthor,
    #[error("pick at least one topic or enter a keyword, phrase or author")]
    Nothing,
}

impl Interests {
    /// Build interests from what a reader submitted: topic ids (checked against the
    /// catalogue), free keyword text and author text (one per line or comma-separated).
    pub fn parse(
        catalogue: &TopicCatalogue,
        topics: &[String],
        keywords: &str,
        authors: &str,
    ) -> Result<Self, (&'static str, InterestsError)> {
        let mut topic_ids = Vec::new();
        for t in topics {
            let t = t.trim();
            if t.is_empty() {
                continue;
            }
            if catalogue.get(t).is_none() {
                return Err((
                    "topics",
                    InterestsError::UnknownTopic(super::topic::truncate(t, 40)),
                ));
            }
            let id = TopicId::parse(t)
                .map_err(|_| ("topics", InterestsError::UnknownTopic(t.to_string())))?;
            if !topic_ids.contains(&id) {
                topic_ids.push(id);
            }
        }
        let keywords = parse_keywords(keywords).map_err(|e| ("keywords", e))?;
        let authors = parse_authors(authors).map_err(|e| ("authors", e))?;
        let interests = Self {
            topics: topic_ids,
            keywords: keywords.iter().map(Keyword::canonical).collect(),
            authors,
        };
        if interests.topics.is_empty()
            && interests.authors.is_empty()
            && !keywords.iter().any(|k| !k.excluded)
        {
            return Err(("topics", InterestsError::Nothing));
        }
        Ok(interests)
    }

    /// The keywords as typed values.
    pub fn keyword_terms(&self) -> Vec<Keyword> {
        parse_keywords(&self.keywords.join(" ")).unwrap_or_default()
    }
}

/// Split free text into keywords: separated by commas or whitespace, `"quoted phrases"`
/// kept together, a leading `-` excludes. Lower-cased; duplicates dropped.
pub fn parse_keywords(input: &str) -> Result<Vec<Keyword>, InterestsError> {
    if super::has_control_chars(&input.replace(['\r', '\n'], " ")) {
        return Err(InterestsError::KeywordControl);
    }
    let mut out: Vec<Keyword> = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut excluded = false;
        if first == '-' {
            excluded = true;
            chars.next();
        }
        let (text, phrase) = if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => s.push(c),
                    None => return Err(InterestsError::UnclosedQuote),
                }
            }
            (s.split_whitespace().collect::<Vec<_>>().join(" "), true)
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == ',' {
                    break;
                }
                s.push(c);
                chars.next();
            }
            (s, false)
        };
        // A phrase of one word is just a word; quotes inside a bare word are dropped.
        let text = text.replace('"', "").to_lowercase();
        // Punctuation alone can never match a paper's words.
        if !text.chars().any(char::is_alphanumeric) {
            continue;
        }
        if text.chars().count() > MAX_KEYWORD_CHARS {
            return Err(InterestsError::KeywordTooLong);
        }
        // A quoted single word is just a word, unless it needs its quotes to read back.
        let phrase = phrase
            && (text.contains(|c: char| c.is_whitespace() || c == ',') || text.starts_with('-'));
        let k = Keyword {
            text,
            phrase,
            excluded,
        };
        if !out.contains(&k) {
            out.push(k);
        }
        if out.len() > MAX_KEYWORDS {
            return Err(InterestsError::TooManyKeywords);
        }
    }
    Ok(out)
}

fn parse_authors(input: &str) -> Result<Vec<String>, InterestsError> {
    let mut out: Vec<String> = Vec::new();
    for raw in input.split(['\n', ',', ';']) {
        let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            continue;
        }
        if name.chars().count() > MAX_AUTHOR_CHARS || super::has_control_chars(&name) {
            return Err(InterestsError::BadAuthor);
        }
        if !out.iter().any(|a| a.eq_ignore_ascii_case(&name)) {
            out.push(name);
        }
        if out.len() > MAX_AUTHORS {
            return Err(InterestsError::TooManyAuthors);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keywords_phrases_and_exclusions() {
        let k = parse_keywords(
            r#"Diffusion, "Graph  Neural Network" -medical -"x ray", diffusion "single""#,
        )
        .unwrap();
        let canon: Vec<String> = k.iter().map(Keyword::canonical).collect();
        assert_eq!(
            canon,
            [
                "diffusion",
                "\"graph neural network\"",
                "-medical",
                "-\"x ray\"",
                "single"
            ]
        );
        assert_eq!(
            parse_keywords(r#"a "b c"#),
            Err(InterestsError::UnclosedQuote)
        );
        assert_eq!(
            parse_keywords("a\u{0}b"),
            Err(InterestsError::KeywordControl)
        );
        let many = (0..60)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(parse_keywords(&many), Err(InterestsError::TooManyKeywords));
    }

    #[test]
    fn authors_split_and_dedupe() {
        assert_eq!(
            parse_authors("Yann LeCun\n yann lecun ; Fei-Fei Li,").unwrap(),
            ["Yann LeCun", "Fei-Fei Li"]
        );
    }

    proptest! {
        #[test]
        fn keyword_parsing_never_panics_and_round_trips(s in "\\PC{0,200}") {
            if let Ok(ks) = parse_keywords(&s) {
                let joined = ks.iter().map(Keyword::canonical).collect::<Vec<_>>().join(" ");
                prop_assert_eq!(parse_keywords(&joined).unwrap(), ks);
            }
        }
    }
}
