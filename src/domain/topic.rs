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
    pub(crate) fn grouped(&self) -> Vec<(&str, Vec<&Topic>)> {
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

    /// arXiv's category taxonomy (https://arxiv.org/category_taxonomy, 2026-11): every
    /// category of cs, stat, eess and q-bio, and math.OC, math.ST, physics.comp-ph and q-fin.
    const TAXONOMY: &str = "cs.AI cs.AR cs.CC cs.CE cs.CG cs.CL cs.CR cs.CV cs.CY cs.DB cs.DC \
        cs.DL cs.DM cs.DS cs.ET cs.FL cs.GL cs.GR cs.GT cs.HC cs.IR cs.IT cs.LG cs.LO cs.MA cs.MM \
        cs.MS cs.NA cs.NE cs.NI cs.OH cs.OS cs.PF cs.PL cs.RO cs.SC cs.SD cs.SE cs.SI cs.SY \
        stat.AP stat.CO stat.ME stat.ML stat.OT stat.TH eess.AS eess.IV eess.SP eess.SY \
        q-bio.BM q-bio.CB q-bio.GN q-bio.MN q-bio.NC q-bio.OT q-bio.PE q-bio.QM q-bio.SC q-bio.TO \
        math.OC math.ST physics.comp-ph q-fin.CP q-fin.EC q-fin.GN q-fin.MF q-fin.PM q-fin.PR \
        q-fin.RM q-fin.ST q-fin.TR";

    #[test]
    fn shipped_catalogue_covers_the_taxonomy_and_keeps_every_topic_id() {
        let c = TopicCatalogue::from_toml(include_str!("../../config/topics.toml")).unwrap();
        let missing: Vec<&str> = TAXONOMY
            .split_whitespace()
            .filter(|cat| {
                !c.topics()
                    .iter()
                    .any(|t| t.categories.iter().any(|x| x == cat))
            })
            .collect();
        assert!(missing.is_empty(), "no topic for {missing:?}");
        // Ids are stored with every subscriber: the 82 of the first catalogue stay.
        for id in FIRST_IDS.split_whitespace() {
            assert!(c.get(id).is_some(), "topic {id} was removed");
        }
    }

    const FIRST_IDS: &str = "llm nlp machine-translation dialogue retrieval-rag speech-audio computer-vision \
        human-centric-vision image-generation 3d-vision multimodal image-restoration \
        medical-imaging remote-sensing deep-learning transfer-continual \
        reinforcement-learning generative-models graph-learning probabilistic-ml \
        optimization learning-theory time-series recommender-systems efficient-ml \
        federated-privacy agents reasoning code-generation knowledge-representation \
        ai-safety interpretability fairness-ethics adversarial-robustness \
        multi-agent-game-theory evolutionary-computation robotics autonomous-driving \
        control ml-systems distributed-computing security-crypto cryptography \
        programming-languages hci databases algorithms-theory information-theory \
        neuroscience bio-drug-discovery health scientific-ml climate-earth statistics \
        signal-processing finance-economics social-computing education quantum \
        astrophysics cosmology gravitation hep-theory high-energy-physics \
        particle-experiments nuclear-physics condensed-matter strongly-correlated \
        superconductivity mesoscopic-physics statistical-physics soft-matter cold-atoms \
        optics-photonics mathematics algebra-representation geometry-topology \
        combinatorics probability analysis-pde mathematical-physics dynamical-systems";

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
