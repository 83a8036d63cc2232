//! A digest as the outbox holds it: what to send one reader for one day (papers and the
//! reasons they were chosen), and where its delivery stands.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::paper::ArxivId;

// The outbox holds a million of these a day, so they are stored with one-letter keys and
// without default values; the long names of earlier rows are still read.

/// Why a paper was chosen for a reader.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The interest that matched: a topic's name, "your keywords", "your authors",
    /// "your arXiv categories", "papers you liked", "trending today".
    #[serde(rename = "i", alias = "interest")]
    pub interest: String,
    /// The words (or authors) it matched on.
    #[serde(
        rename = "w",
        alias = "words",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub words: Vec<String>,
    /// For "papers you liked": the title of the liked paper closest to this one ("Because
    /// you liked …"). Kept with the digest rather than looked up when it is rendered: the
    /// mail then reads the same whatever becomes of the liked paper, and delivery reads
    /// no more papers. Absent in rows written before it was recorded.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub liked: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestKind {
    /// Papers matching the reader.
    Personal,
    /// Nothing matched; the day's trending papers, as the reader asked.
    Trending,
}

/// One paper in a digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    #[serde(rename = "p", alias = "paper")]
    pub paper: ArxivId,
    #[serde(
        rename = "v",
        alias = "version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<u32>,
    /// A newer arXiv version of a paper this reader was sent before.
    #[serde(
        rename = "n",
        alias = "new_version",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub new_version: bool,
    /// Stored apart from the rest (see [`EntryReasons`]); inline in rows written before.
    #[serde(
        rename = "r",
        alias = "reasons",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub reasons: Vec<Reason>,
}

/// What one digest holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestContent {
    #[serde(rename = "k", alias = "kind")]
    pub kind: DigestKind,
    #[serde(rename = "e", alias = "entries")]
    pub entries: Vec<DigestEntry>,
    /// The best of the week to the digest's day (a weekly reader), not of that day alone.
    #[serde(rename = "w", default, skip_serializing_if = "std::ops::Not::not")]
    pub weekly: bool,
}

/// A digest's content as stored: [`DigestContent::bare`] and [`DigestContent::reasons`] are
/// written apart, so that retention drops the reasons by deleting their row (on SQLite a
/// whole page freed, where shrinking the row in place freed none); [`DigestContent::with_reasons`]
/// puts them back together.
pub type EntryReasons = Vec<Vec<Reason>>;

/// The content without reasons, serialised as [`DigestContent`] is (one-letter keys).
pub struct Bare<'a>(&'a DigestContent);

/// Each entry's reasons, in order.
pub struct ReasonsOf<'a>(&'a [DigestEntry]);

impl Serialize for Bare<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        #[derive(Serialize)]
        struct Entry<'a> {
            p: &'a ArxivId,
            #[serde(skip_serializing_if = "Option::is_none")]
            v: Option<u32>,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            n: bool,
        }
        struct Entries<'a>(&'a [DigestEntry]);
        impl Serialize for Entries<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter().map(|e| Entry {
                    p: &e.paper,
                    v: e.version,
                    n: e.new_version,
                }))
            }
        }
        let c = self.0;
        let mut out = s.serialize_struct("DigestContent", 3)?;
        out.serialize_field("k", &c.kind)?;
        out.serialize_field("e", &Entries(&c.entries))?;
        if c.weekly {
            out.serialize_field("w", &true)?;
        }
        out.end()
    }
}

impl Serialize for ReasonsOf<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|e| &e.reasons))
    }
}

impl DigestContent {
    /// The content without its reasons, to serialise.
    pub fn bare(&self) -> Bare<'_> {
        Bare(self)
    }

    /// Each entry's reasons, in order, to serialise.
    pub fn reasons(&self) -> ReasonsOf<'_> {
        ReasonsOf(&self.entries)
    }

    /// Put back the reasons stored apart (`reasons`, one list an entry, as [`Self::reasons`]
    /// wrote them). Refuses a list that does not match the entries.
    pub fn with_reasons(mut self, reasons: EntryReasons) -> Result<Self, String> {
        if reasons.len() != self.entries.len() {
            return Err(format!(
                "{} entries but reasons for {}",
                self.entries.len(),
                reasons.len()
            ));
        }
        for (e, r) in self.entries.iter_mut().zip(reasons) {
            e.reasons = r;
        }
        Ok(self)
    }

    /// What retention keeps of a digest once its reasons are no longer needed: the kind, the
    /// papers in order with their versions, weekly or not. The reasons are most of the bytes
    /// (a day's digest of ten papers: about 1,300 B with them, 200 B without). Returns
    /// whether anything was dropped.
    pub fn compact(&mut self) -> bool {
        let mut dropped = false;
        for e in &mut self.entries {
            dropped |= !e.reasons.is_empty();
            e.reasons = Vec::new();
        }
        dropped
    }
}

/// Where a digest's delivery stands, or a subscription mail's (the two outboxes share their
/// states and the machinery that moves them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestStatus {
    /// Waiting to be sent (first time, or again after a temporary failure).
    Pending,
    /// Claimed by a worker; if its lease runs out, another worker claims it.
    Sending,
    Sent,
    /// The server refused the recipient permanently (5xx): the reader is suppressed.
    Bounced,
    /// Gave up after the most attempts allowed.
    Failed,
    /// Not sent: the reader left or was suppressed before delivery.
    Skipped,
}

impl DigestStatus {
    pub(crate) const ALL: [Self; 6] = [
        Self::Pending,
        Self::Sending,
        Self::Sent,
        Self::Bounced,
        Self::Failed,
        Self::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Bounced => "bounced",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

impl FromStr for DigestStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown delivery status {s:?}"))
    }
}

impl fmt::Display for DigestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn compacting_keeps_the_papers_in_order_and_drops_the_reasons() {
        let text = r#"{"k":"personal","e":[{"p":"2405.01234","v":2,"r":[{"i":"topic","w":["a","b"]}]},{"p":"2405.00001","n":true,"r":[{"i":"your keywords"}]}],"w":true}"#;
        let mut c: super::DigestContent = serde_json::from_str(text).unwrap();
        assert!(c.compact());
        let out = serde_json::to_string(&c).unwrap();
        assert_eq!(
            out,
            r#"{"k":"personal","e":[{"p":"2405.01234","v":2},{"p":"2405.00001","n":true}],"w":true}"#
        );
        // A compacted digest reads back, and compacting it again changes nothing.
        let mut again: super::DigestContent = serde_json::from_str(&out).unwrap();
        assert!(!again.compact());
        assert_eq!(again, c);
    }

    #[test]
    fn the_reasons_stored_apart_come_back_as_they_were() {
        let text = r#"{"k":"personal","e":[{"p":"2405.01234","v":2,"r":[{"i":"topic","w":["a","b"]}]},{"p":"2405.00001","n":true,"r":[{"i":"your keywords","l":"A & B"}]},{"p":"2405.00002"}],"w":true}"#;
        let c: super::DigestContent = serde_json::from_str(text).unwrap();
        let bare = serde_json::to_string(&c.bare()).unwrap();
        assert_eq!(
            bare,
            r#"{"k":"personal","e":[{"p":"2405.01234","v":2},{"p":"2405.00001","n":true},{"p":"2405.00002"}],"w":true}"#
        );
        let reasons = serde_json::to_string(&c.reasons()).unwrap();
        assert_eq!(
            reasons,
            r#"[[{"i":"topic","w":["a","b"]}],[{"i":"your keywords","l":"A & B"}],[]]"#
        );
        // The bare content is what compacting leaves.
        let mut compacted = c.clone();
        compacted.compact();
        assert_eq!(bare, serde_json::to_string(&compacted).unwrap());
        let back: super::DigestContent = serde_json::from_str(&bare).unwrap();
        let back = back
            .with_reasons(serde_json::from_str(&reasons).unwrap())
            .unwrap();
        assert_eq!(back, c);
        // Reasons for another number of entries are refused, not misplaced.
        let two: super::EntryReasons = serde_json::from_str(r#"[[],[]]"#).unwrap();
        let err = compacted.with_reasons(two).unwrap_err();
        assert!(err.contains("3 entries but reasons for 2"), "{err}");
    }

    use super::*;

    #[test]
    fn status_names_round_trip_and_content_reads_back() {
        for s in DigestStatus::ALL {
            assert_eq!(s.as_str().parse::<DigestStatus>(), Ok(s));
        }
        assert!("sendingg".parse::<DigestStatus>().is_err());
        let c = DigestContent {
            kind: DigestKind::Personal,
            entries: vec![DigestEntry {
                paper: ArxivId::parse("2405.01234").unwrap(),
                version: Some(2),
                new_version: true,
                reasons: vec![Reason {
                    interest: "Robotics".into(),
                    words: vec!["grasping".into()],
                    liked: None,
                }],
            }],
            weekly: true,
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<DigestContent>(&json).unwrap(), c);
        // The liked paper a reason names travels under its own key.
        let liked = Reason {
            interest: "papers you liked".into(),
            words: Vec::new(),
            liked: Some("Attention Is All You Need".into()),
        };
        let json = serde_json::to_string(&liked).unwrap();
        assert_eq!(
            json,
            r#"{"i":"papers you liked","l":"Attention Is All You Need"}"#
        );
        assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), liked);
        assert!(serde_json::from_str::<DigestContent>(r#"{"kind":"x","entries":[]}"#).is_err());
        assert!(serde_json::from_str::<DigestContent>(r#"{"k":"personal"}"#).is_err());
    }

    #[test]
    fn content_is_stored_compactly_and_earlier_rows_still_read() {
        let entry = |new_version, words: &[&str]| DigestEntry {
            paper: ArxivId::parse("2405.01234").unwrap(),
            version: None,
            new_version,
            reasons: vec![Reason {
                interest: "trending today".into(),
                words: words.iter().map(|w| w.to_string()).collect(),
                liked: None,
            }],
        };
        let c = DigestContent {
            kind: DigestKind::Trending,
            entries: vec![entry(false, &[])],
            weekly: false,
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"k":"trending","e":[{"p":"2405.01234","r":[{"i":"trending today"}]}]}"#
        );
        let earlier = r#"{"kind":"personal","entries":[{"paper":"2405.01234","version":null,
            "new_version":true,"reasons":[{"interest":"trending today","words":["graph"]}]}]}"#;
        assert_eq!(
            serde_json::from_str::<DigestContent>(earlier).unwrap(),
            DigestContent {
                kind: DigestKind::Personal,
                entries: vec![entry(true, &["graph"])],
                weekly: false,
            }
        );
    }
}
