//! A reader's rating of a paper from a digest: "more like this" or "fewer like this".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::paper::ArxivId;

/// What a reader said about a paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    /// "More like this": the paper joins what the reader likes.
    More,
    /// "Fewer like this": the paper is hidden from the reader for good, and papers like it
    /// count less.
    Fewer,
}

impl Rating {
    pub(crate) const ALL: [Self; 2] = [Self::More, Self::Fewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::More => "more",
            Self::Fewer => "fewer",
        }
    }

    /// The other rating: the one that cancels this one out.
    pub fn opposite(self) -> Self {
        match self {
            Self::More => Self::Fewer,
            Self::Fewer => Self::More,
        }
    }
}

impl FromStr for Rating {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown rating {:?} (expected \"more\" or \"fewer\")",
                    s.chars().take(40).collect::<String>()
                )
            })
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored rating: which paper, what the reader said, when (unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaperRating {
    pub paper: ArxivId,
    pub rating: Rating,
    pub at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_show() {
        for r in Rating::ALL {
            assert_eq!(r.as_str().parse::<Rating>(), Ok(r));
            assert_eq!(r.to_string(), r.as_str());
            assert_eq!(r.opposite().opposite(), r);
            assert_ne!(r.opposite(), r);
        }
        for bad in ["", "More", "less", " more", "fewer\n", "<script>"] {
            let e = bad.parse::<Rating>().unwrap_err();
            assert!(e.contains("expected \"more\" or \"fewer\""), "{e}");
        }
        assert_eq!(serde_json::to_string(&Rating::Fewer).unwrap(), "\"fewer\"");
        assert_eq!(
            serde_json::from_str::<Rating>("\"more\"").unwrap(),
            Rating::More
        );
        assert!(serde_json::from_str::<Rating>("\"MORE\"").is_err());
    }
}
