use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The stable slug of a catalogue topic, stored with each subscriber.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TopicId(String);

impl TopicId {
    pub fn parse(s: &str) -> Result<Self, TopicError> {
        let ok = (2..=40).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(TopicError::BadId(truncate(s, 60)))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TopicId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TopicId::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A named bundle of keywords, phrases and arXiv categories that a reader can tick.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    #[schema(value_type = String)]
    pub id: TopicId,
    pub name: String,
    pub group: String,
    pub description: String,
    pub categories: Vec<String>,
    pub keywords: Vec<String>,
    pub phrases: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("topic id {0:?} is not a slug of 2 to 40 lowercase letters, digits or '-'")]
    BadId(String),
    #[error("the topic catalogue is not valid TOML: {0}")]
    Toml(String),
    #[error("topic {0:?} appears twice in the catalogue")]
    Duplicate(String),
    #[error("topic {0:?} has an empty name or no keywords, phrases and categories")]
    Empty(String),
    #[error("the topic catalogue is empty")]
    NoTopics,
}

/// The catalogue from `config/topics.toml`, in file order, grouped for the form.
#[derive(Clone, Debug)]
pub struct TopicCatalogue {
    topics: Vec<Topic>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    topic: Vec<Topic>,
}

impl TopicCatalogue {
    pub fn from_toml(text: &str) -> Result<Self, TopicError> {
        let file: CatalogueFile =
            toml::from_str(text).map_err(|e| TopicError::Toml(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for t in &file.topic {
            if !seen.insert(t.id.clone()) {
                return Err(TopicError::Duplicate(t.id.to_string()));
            }
            if t.name.trim().is_empty()
                || (t.keywords.is_empty() && t.phrases.is_empty() && t.categories.is_empty())
            {
                return Err(TopicError::Empty(t.id.to_string()));
            }
        }
        if file.topic.is_empty() {
            return Err(TopicError::NoTopics);
        }
        Ok(Self { topics: file.topic })
    }

    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    pub fn get(&self, id: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.id.as_str() == id)
    }

    /// Topics by group, groups in order of first appearance.
    pub fn grouped(&self) -> Vec<(&str, Vec<&Topic>)> {
        let mut order: Vec<&str> = Vec::new();
        let mut groups: BTreeMap<&str, Vec<&Topic>> = BTreeMap::new();
        for t in &self.topics {
            if !groups.contains_key(t.group.as_str()) {
                order.push(&t.group);
            }
            groups.entry(&t.group).or_default().push(t);
        }
        order
            .into_iter()
            .map(|g| (g, groups.remove(g).unwrap_or_default()))
            .collect()
    }
}

pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_catalogue_is_valid_and_large_enough() {
        let c = TopicCatalogue::from_toml(include_str!("../../config/topics.toml")).unwrap();
        assert!(c.topics().len() >= 30, "only {} topics", c.topics().len());
        assert!(c.grouped().len() > 3);
    }

    #[test]
    fn rejects_duplicates_and_bad_ids() {
        let one = "[[topic]]\nid='{}'\nname='X'\ngroup='G'\ndescription=''\ncategories=['cs.LG']\nkeywords=[]\nphrases=[]\n";
        let dup = format!("{}{}", one.replace("{}", "ab"), one.replace("{}", "ab"));
        assert!(matches!(
            TopicCatalogue::from_toml(&dup),
            Err(TopicError::Duplicate(_))
        ));
        let bad = one.replace("{}", "Not A Slug");
        assert!(matches!(
            TopicCatalogue::from_toml(&bad),
            Err(TopicError::Toml(_))
        ));
        assert!(matches!(
            TopicCatalogue::from_toml("topic = []"),
            Err(TopicError::NoTopics)
        ));
    }
}
