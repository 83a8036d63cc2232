use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An arXiv identifier without its version: `2405.01234` (new style) or `hep-th/9901001`
/// (old style). Parsed from the forms sources use: `arXiv:2405.01234v2`,
/// `https://arxiv.org/abs/2405.01234v2`, `oai:arXiv.org:2405.01234v2`, `2405.01234`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArxivId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaperError {
    #[error(
        "{0:?} is not an arXiv identifier (expected 2405.01234 or hep-th/9901001, optionally with a version)"
    )]
    BadId(String),
}

impl ArxivId {
    /// The id and, when given, its version.
    pub(crate) fn parse_versioned(input: &str) -> Result<(Self, Option<u32>), PaperError> {
        let bad = || PaperError::BadId(input.chars().take(80).collect());
        let mut s = input.trim();
        for prefix in [
            "https://arxiv.org/abs/",
            "http://arxiv.org/abs/",
            "https://arxiv.org/pdf/",
            "http://arxiv.org/pdf/",
            "https://huggingface.co/papers/",
            "oai:arXiv.org:",
            "arXiv:",
            "arxiv:",
        ] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest;
                break;
            }
        }
        let s = s.strip_suffix(".pdf").unwrap_or(s);
        // Split a trailing version `v<digits>`.
        let (base, version) = match s.rfind('v') {
            Some(i)
                if i > 0 && s[i + 1..].bytes().all(|b| b.is_ascii_digit()) && i + 1 < s.len() =>
            {
                (&s[..i], Some(s[i + 1..].parse::<u32>().map_err(|_| bad())?))
            }
            _ => (s, None),
        };
        let ok = if let Some((archive, number)) = base.split_once('/') {
            // Old style: archive(.subject)?/YYMMNNN
            !archive.is_empty()
                && archive.bytes().all(|b| {
                    b.is_ascii_lowercase() || b == b'-' || b == b'.' || b.is_ascii_uppercase()
                })
                && number.len() == 7
                && number.bytes().all(|b| b.is_ascii_digit())
        } else {
            // New style: YYMM.NNNN or YYMM.NNNNN
            match base.split_once('.') {
                Some((yymm, n)) => {
                    yymm.len() == 4
                        && yymm.bytes().all(|b| b.is_ascii_digit())
                        && (4..=5).contains(&n.len())
                        && n.bytes().all(|b| b.is_ascii_digit())
                }
                None => false,
            }
        };
        if ok {
            Ok((Self(base.to_string()), version))
        } else {
            Err(bad())
        }
    }

    pub fn parse(input: &str) -> Result<Self, PaperError> {
        Self::parse_versioned(input).map(|(id, _)| id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn abs_url(&self) -> String {
        format!("https://arxiv.org/abs/{}", self.0)
    }
}

impl TryFrom<String> for ArxivId {
    type Error = PaperError;
    fn try_from(s: String) -> Result<Self, PaperError> {
        Self::parse(&s)
    }
}

impl From<ArxivId> for String {
    fn from(id: ArxivId) -> String {
        id.0
    }
}

impl fmt::Display for ArxivId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a paper record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaperSource {
    HuggingFace,
    ArxivRss,
    ArxivApi,
}

impl PaperSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HuggingFace => "hugging_face",
            Self::ArxivRss => "arxiv_rss",
            Self::ArxivApi => "arxiv_api",
        }
    }
}

/// How arXiv announced a paper in a day's feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnnounceType {
    New,
    Cross,
    Replace,
    ReplaceCross,
}

impl AnnounceType {
    const ALL: [Self; 4] = [Self::New, Self::Cross, Self::Replace, Self::ReplaceCross];

    /// Read arXiv's own word for it (`new`, `cross`, `replace`, `replace-cross`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Cross => "cross",
            Self::Replace => "replace",
            Self::ReplaceCross => "replace-cross",
        }
    }
}

/// One source's view of a paper. Optional fields are what that source did not say: merging
/// keeps what an earlier source said (see the store's upsert).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Paper {
    pub id: ArxivId,
    pub version: Option<u32>,
    pub title: String,
    pub abstract_text: String,
    pub authors: Vec<String>,
    /// arXiv categories, primary first; empty when the source does not give them.
    pub categories: Vec<String>,
    /// arXiv publication date.
    pub published: Option<NaiveDate>,
    /// The day a source featured or announced it.
    pub featured_on: Option<NaiveDate>,
    pub announce_type: Option<AnnounceType>,
    pub upvotes: Option<i64>,
    pub comments: Option<i64>,
    pub github_repo: Option<String>,
    pub github_stars: Option<i64>,
    pub project_page: Option<String>,
    /// The source's own keywords (Hugging Face `ai_keywords`).
    pub keywords: Vec<String>,
    /// The source's short summary (Hugging Face `ai_summary`).
    pub summary: Option<String>,
    /// The organisation the source credits (Hugging Face `organization`), its full name.
    #[serde(default)]
    pub organization: Option<String>,
    pub source: PaperSource,
}

impl Paper {
    /// A record with just the required fields; the rest empty.
    pub fn new(id: ArxivId, title: String, abstract_text: String, source: PaperSource) -> Self {
        Self {
            id,
            version: None,
            title,
            abstract_text,
            authors: Vec::new(),
            categories: Vec::new(),
            published: None,
            featured_on: None,
            announce_type: None,
            upvotes: None,
            comments: None,
            github_repo: None,
            github_stars: None,
            project_page: None,
            keywords: Vec::new(),
            summary: None,
            organization: None,
            source,
        }
    }
}

/// Collapse runs of whitespace (arXiv hard-wraps titles and abstracts) and trim.
pub fn clean_text(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_in_every_form() {
        for (input, id, v) in [
            ("2405.01234", "2405.01234", None),
            ("2405.01234v2", "2405.01234", Some(2)),
            ("arXiv:2405.01234v12", "2405.01234", Some(12)),
            ("https://arxiv.org/abs/2104.12255v1", "2104.12255", Some(1)),
            ("oai:arXiv.org:2604.21954v1", "2604.21954", Some(1)),
            ("hep-th/9901001", "hep-th/9901001", None),
            ("quant-ph/0201082v1", "quant-ph/0201082", Some(1)),
            (
                "http://arxiv.org/abs/astro-ph/0601001v1",
                "astro-ph/0601001",
                Some(1),
            ),
            ("0808.05394", "0808.05394", None),
        ] {
            let (got, version) = ArxivId::parse_versioned(input).unwrap();
            assert_eq!((got.as_str(), version), (id, v), "{input}");
        }
        for bad in [
            "",
            "abc",
            "2405.123",
            "2405.123456",
            "24051.2345",
            "2405.01234v",
            "hep-th/99",
            "../../etc/passwd",
            "2405.01234vx",
        ] {
            assert!(ArxivId::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn id_parsing_never_panics(s in "\\PC{0,40}") {
            if let Ok(id) = ArxivId::parse(&s) {
                prop_assert_eq!(ArxivId::parse(id.as_str()), Ok(id.clone()));
            }
        }
    }
}
