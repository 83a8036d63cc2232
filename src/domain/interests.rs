use serde::{Deserialize, Serialize};

use super::paper::ArxivId;
use super::topic::{TopicCatalogue, TopicId};

const MAX_KEYWORDS: usize = 50;
const MAX_LIKED: usize = 20;
/// The trending dial's default: mostly the reader's own matches, a little of what is popular.
pub const DEFAULT_TRENDING: u8 = 20;
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

/// One interest a reader can drop on its own (the preferences page offers it when papers
/// they hid came through it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interest {
    Topic(TopicId),
    /// A keyword or phrase in its canonical form, as stored ([`Keyword::canonical`]).
    Keyword(String),
}

/// What a reader wants to read about. Stored as JSON: fields added later default on read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interests {
    pub topics: Vec<TopicId>,
    /// Canonical keyword forms (see [`Keyword::canonical`]); `-word` mutes a word.
    pub keywords: Vec<String>,
    /// Pinned authors: their papers always come first.
    pub authors: Vec<String>,
    /// "More like these": papers the reader liked.
    #[serde(default)]
    pub liked: Vec<ArxivId>,
    /// Authors whose papers are never sent.
    #[serde(default)]
    pub muted_authors: Vec<String>,
    /// arXiv categories (`cs.RO`, `hep-th`): their papers match.
    #[serde(default)]
    pub categories: Vec<String>,
    /// The dial from all personal (0) to all trending (100).
    #[serde(default = "default_trending")]
    pub trending: u8,
}

fn default_trending() -> u8 {
    DEFAULT_TRENDING
}

impl Default for Interests {
    fn default() -> Self {
        Self {
            topics: Vec::new(),
            keywords: Vec::new(),
            authors: Vec::new(),
            liked: Vec::new(),
            muted_authors: Vec::new(),
            categories: Vec::new(),
            trending: DEFAULT_TRENDING,
        }
    }
}

/// The interest fields as a reader submitted them, unvalidated.
#[derive(Clone, Copy, Debug, Default)]
pub struct InterestsForm<'a> {
    pub topics: &'a [String],
    pub keywords: &'a str,
    pub authors: &'a str,
    /// arXiv ids or links, separated by spaces, commas or lines.
    pub liked: &'a str,
    pub muted_authors: &'a str,
    /// arXiv categories, separated by spaces or commas.
    pub categories: &'a str,
    /// 0–100; blank takes the default.
    pub trending: Option<&'a str>,
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
    #[error("at most {MAX_LIKED} liked papers")]
    TooManyLiked,
    #[error("at most {MAX_LIKED} arXiv categories")]
    TooManyCategories,
    #[error(
        "{0:?} is not an arXiv id or link (like 2405.01234 or https://arxiv.org/abs/2405.01234)"
    )]
    BadLiked(String),
    #[error("{0:?} is not an arXiv category (like cs.RO, stat.ML or hep-th)")]
    BadCategory(String),
    #[error("the trending dial is a whole number from 0 (all yours) to 100 (all trending)")]
    Trending,
    #[error("pick at least one topic or enter a keyword, phrase, author or liked paper")]
    Nothing,
}

impl Interests {
    /// Build interests from what a reader submitted; topic ids are checked against the
    /// catalogue. The error names the field it belongs to.
    pub fn parse(
        catalogue: &TopicCatalogue,
        form: &InterestsForm<'_>,
    ) -> Result<Self, (&'static str, InterestsError)> {
        let mut topic_ids = Vec::new();
        for t in form.topics {
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
        let keywords = parse_keywords(form.keywords).map_err(|e| ("keywords", e))?;
        let authors = parse_authors(form.authors).map_err(|e| ("authors", e))?;
        let liked = parse_liked(form.liked).map_err(|e| ("liked", e))?;
        let muted_authors = parse_authors(form.muted_authors).map_err(|e| ("muted_authors", e))?;
        let categories = parse_categories(form.categories).map_err(|e| ("categories", e))?;
        let trending = match form.trending.map(str::trim).filter(|s| !s.is_empty()) {
            None => DEFAULT_TRENDING,
            Some(t) => t
                .parse::<u8>()
                .ok()
                .filter(|t| *t <= 100)
                .ok_or(("trending", InterestsError::Trending))?,
        };
        let interests = Self {
            topics: topic_ids,
            keywords: keywords.iter().map(Keyword::canonical).collect(),
            authors,
            liked,
            muted_authors,
            categories,
            trending,
        };
        if !interests.wants_something() {
            return Err(("topics", InterestsError::Nothing));
        }
        Ok(interests)
    }

    /// Does anything here pick papers: a topic, a keyword that is not an exclusion, an
    /// author, a liked paper or a category?
    pub(crate) fn wants_something(&self) -> bool {
        !self.topics.is_empty()
            || !self.authors.is_empty()
            || !self.liked.is_empty()
            || !self.categories.is_empty()
            || self.keyword_terms().iter().any(|k| !k.excluded)
    }

    /// These interests without `what`; `None` when they do not hold it.
    pub fn without(&self, what: &Interest) -> Option<Self> {
        let mut out = self.clone();
        match what {
            Interest::Topic(id) => out.topics.retain(|t| t != id),
            Interest::Keyword(k) => out.keywords.retain(|x| x != k),
        }
        (out != *self).then_some(out)
    }

    /// The keywords as typed values.
    pub(crate) fn keyword_terms(&self) -> Vec<Keyword> {
        parse_keywords(&self.keywords.join(" ")).unwrap_or_default()
    }
}

/// Split free text into keywords: separated by commas or whitespace, `"quoted phrases"`
/// kept together, a leading `-` excludes. Lower-cased; duplicates dropped.
pub(crate) fn parse_keywords(input: &str) -> Result<Vec<Keyword>, InterestsError> {
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

/// arXiv categories: an archive (`hep-th`, `cs`) optionally with a subject class (`cs.RO`,
/// `math.AP`, `cond-mat.mes-hall`). Matched without regard to case.
fn parse_categories(input: &str) -> Result<Vec<String>, InterestsError> {
    let mut out: Vec<String> = Vec::new();
    for raw in input.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
        if raw.is_empty() {
            continue;
        }
        let bad = || InterestsError::BadCategory(raw.chars().take(30).collect());
        let (archive, class) = match raw.split_once('.') {
            Some((a, c)) => (a.to_lowercase(), Some(c)),
            None => (raw.to_lowercase(), None),
        };
        let archive_ok = (2..=12).contains(&archive.len())
            && archive.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            && !archive.starts_with('-');
        let class_ok = class.is_none_or(|c| {
            (1..=8).contains(&c.len()) && c.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
        });
        if !archive_ok || !class_ok {
            return Err(bad());
        }
        let cat = match class {
            Some(c) => format!("{archive}.{c}"),
            None => archive,
        };
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&cat)) {
            out.push(cat);
        }
        if out.len() > MAX_LIKED {
            return Err(InterestsError::TooManyCategories);
        }
    }
    Ok(out)
}

/// arXiv ids or links, one per word; versions dropped, duplicates removed.
fn parse_liked(input: &str) -> Result<Vec<ArxivId>, InterestsError> {
    let mut out: Vec<ArxivId> = Vec::new();
    for raw in input.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
        if raw.is_empty() {
            continue;
        }
        let id = ArxivId::parse(raw)
            .map_err(|_| InterestsError::BadLiked(raw.chars().take(60).collect()))?;
        if !out.contains(&id) {
            out.push(id);
        }
        if out.len() > MAX_LIKED {
            return Err(InterestsError::TooManyLiked);
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
    fn an_interest_is_dropped_alone_and_the_last_one_is_noticed() {
        let cat = TopicCatalogue::from_toml(include_str!("../../config/topics.toml")).unwrap();
        let topics = ["agents".to_string()];
        let i = Interests::parse(
            &cat,
            &InterestsForm {
                topics: &topics,
                keywords: r#"diffusion "graph neural network" -medical"#,
                ..Default::default()
            },
        )
        .unwrap();
        let agents = Interest::Topic(TopicId::parse("agents").unwrap());
        let no_topic = i.without(&agents).unwrap();
        assert!(no_topic.topics.is_empty());
        assert_eq!(no_topic.keywords, i.keywords);
        assert_eq!(no_topic.without(&agents), None, "not there any more");
        let phrase = Interest::Keyword("\"graph neural network\"".into());
        let left = no_topic.without(&phrase).unwrap();
        assert_eq!(left.keywords, ["diffusion", "-medical"]);
        assert!(left.wants_something());
        // An exclusion alone picks nothing.
        let none = left
            .without(&Interest::Keyword("diffusion".into()))
            .unwrap();
        assert_eq!(none.keywords, ["-medical"]);
        assert!(!none.wants_something());
        // Only the stored form names a keyword.
        assert_eq!(
            i.without(&Interest::Keyword("graph neural network".into())),
            None
        );
        assert_eq!(i.without(&Interest::Keyword("DIFFUSION".into())), None);
    }

    #[test]
    fn liked_papers_mutes_and_the_dial() {
        let cat = TopicCatalogue::from_toml(include_str!("../../config/topics.toml")).unwrap();
        let form = InterestsForm {
            liked: "https://arxiv.org/abs/2405.01234v2, arXiv:2405.01234\n2310.00001",
            muted_authors: "Some One",
            categories: "cs.RO, hep-th cond-mat.mes-hall CS.ro",
            trending: Some(" 0 "),
            ..Default::default()
        };
        let i = Interests::parse(&cat, &form).unwrap();
        assert_eq!(
            i.liked.iter().map(ArxivId::as_str).collect::<Vec<_>>(),
            ["2405.01234", "2310.00001"]
        );
        assert_eq!(i.muted_authors, ["Some One"]);
        assert_eq!(i.categories, ["cs.RO", "hep-th", "cond-mat.mes-hall"]);
        assert_eq!(i.trending, 0);
        let bad = |form: InterestsForm<'_>| Interests::parse(&cat, &form).unwrap_err();
        assert_eq!(
            bad(InterestsForm {
                liked: "2405.01234 not-an-id",
                ..form
            }),
            ("liked", InterestsError::BadLiked("not-an-id".into()))
        );
        assert_eq!(
            bad(InterestsForm {
                categories: "cs.RO <b>",
                ..form
            }),
            ("categories", InterestsError::BadCategory("<b>".into()))
        );
        assert_eq!(
            bad(InterestsForm {
                trending: Some("101"),
                ..form
            })
            .0,
            "trending"
        );
        assert_eq!(
            bad(InterestsForm {
                muted_authors: "",
                liked: "",
                categories: "",
                keywords: "-medical",
                ..form
            }),
            ("topics", InterestsError::Nothing),
            "muting alone is not an interest"
        );
        let many = (0..25)
            .map(|i| format!("2405.{:05}", i))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            bad(InterestsForm {
                liked: &many,
                ..form
            }),
            ("liked", InterestsError::TooManyLiked)
        );
        // Interests stored before these fields existed read back with their defaults.
        let old: Interests =
            serde_json::from_str(r#"{"topics":[],"keywords":["x"],"authors":[]}"#).unwrap();
        assert_eq!(old.trending, DEFAULT_TRENDING);
        assert!(old.liked.is_empty() && old.muted_authors.is_empty());
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
