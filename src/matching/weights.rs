//! How much each part of a match counts: the `[matching]` section of the config.

/// How much each part counts. Field weights multiply term frequencies (BM25F-style).
/// The `[matching]` section of the config.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub title: f32,
    pub abstract_text: f32,
    pub keywords: f32,
    /// Weight of a reader's own keyword relative to a catalogue topic's.
    pub own_keyword: f32,
    /// Weight of a multi-word phrase relative to a single word.
    pub phrase: f32,
    /// Weight of "more like these" similarity relative to keyword relevance.
    pub liked: f32,
    /// Popularity: log upvotes, plus these shares of log comments and log GitHub stars.
    pub comments: f32,
    pub stars: f32,
    /// How much an old paper loses: 0 = age does not matter, 1 = an old paper counts for
    /// nothing. A paper `freshness_half_life_days` old loses half of this share.
    pub freshness: f32,
    pub freshness_half_life_days: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            title: 2.5,
            abstract_text: 1.0,
            keywords: 1.5,
            own_keyword: 2.0,
            phrase: 1.5,
            liked: 1.0,
            comments: 0.5,
            stars: 0.3,
            freshness: 0.3,
            freshness_half_life_days: 7.0,
        }
    }
}
