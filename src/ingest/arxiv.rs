//! arXiv: the RSS feeds of categories (`rss.arxiv.org/rss/cs.LG+cs.CV`) and the API's Atom
//! responses (`export.arxiv.org/api/query?id_list=…`). Both are read into a small element
//! tree first (quick-xml events), so that namespaced elements (`arxiv:announce_type`,
//! `dc:creator`, `arxiv:primary_category`) and entity references are handled in one place.

use chrono::NaiveDate;
use quick_xml::Reader;
use quick_xml::events::Event;

use super::ParseError;
use crate::domain::{AnnounceType, ArxivId, Paper, PaperSource, clean_text};

const RSS: &str = "arXiv RSS feed";
const ATOM: &str = "arXiv API response";
/// Deeper nesting than this is not a feed.
const MAX_DEPTH: usize = 32;

/// One XML element: its qualified name, attributes, text and children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The name without a namespace prefix, for the root check.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn predefined_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

fn parse_tree(bytes: &[u8], what: &'static str) -> Result<Node, ParseError> {
    let err = |detail: String| ParseError::new(what, detail);
    let text = std::str::from_utf8(bytes).map_err(|e| err(format!("not UTF-8 text ({e})")))?;
    if text.trim().is_empty() {
        return Err(err("the document is empty".into()));
    }
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let open = |e: &quick_xml::events::BytesStart<'_>| -> Result<Node, ParseError> {
        let name = e.name().as_ref().to_string();
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|x| err(format!("a bad attribute in <{name}>: {x}")))?;
            let value = a
                .normalized_value(quick_xml::XmlVersion::default())
                .map_err(|x| err(format!("a bad attribute value in <{name}>: {x}")))?;
            attrs.push((a.key.as_ref().to_string(), value.into_owned()));
        }
        Ok(Node {
            name,
            attrs,
            ..Node::default()
        })
    };
    loop {
        let event = reader.read_event().map_err(|e| {
            err(format!(
                "not well-formed XML at byte {}: {e}",
                reader.buffer_position()
            ))
        })?;
        match event {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                stack.push(open(&e)?);
            }
            Event::Empty(e) => {
                let node = open(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_none() => root = Some(node),
                    None => return Err(err("more than one root element".into())),
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| err("a closing tag without an opening one".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_none() => root = Some(node),
                    None => return Err(err("more than one root element".into())),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => predefined_entity(&r.xml10_content()),
                    Err(_) => None,
                };
                let c =
                    c.ok_or_else(|| err(format!("an unknown entity &{};", r.xml10_content())))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push(c);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(err(format!(
            "the document ends inside <{}>: truncated",
            open.name
        )));
    }
    root.ok_or_else(|| err("no XML element found".into()))
}

/// A date from an RFC 2822 timestamp (`Mon, 27 Apr 2026 00:00:00 -0400`), in its own offset.
fn rfc2822_date(s: &str) -> Option<NaiveDate> {
    chrono::DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|d| d.date_naive())
}

/// A date from an RFC 3339 timestamp (`2026-06-11T17:59:49Z`).
fn rfc3339_date(s: &str) -> Option<NaiveDate> {
    s.trim()
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

/// Authors as arXiv writes them in `dc:creator`: `A, B, and C` or `A and B`.
fn split_authors(s: &str) -> Vec<String> {
    s.split(',')
        .flat_map(|part| {
            let part = part.trim();
            let part = part.strip_prefix("and ").unwrap_or(part);
            part.split(" and ").map(clean_text).collect::<Vec<_>>()
        })
        .filter(|a| !a.is_empty())
        .collect()
}

/// A day's arXiv RSS feed (one or more categories): the papers, and the feed's date.
#[derive(Debug)]
pub struct RssFeed {
    pub date: Option<NaiveDate>,
    pub papers: Vec<Paper>,
}

/// Parse an arXiv RSS feed. A feed with no items (a day without announcements) is an empty
/// list; a document that is not such a feed, or an item without a readable id, is an error.
pub fn parse_rss(bytes: &[u8]) -> Result<RssFeed, ParseError> {
    let root = parse_tree(bytes, RSS)?;
    if local(&root.name) != "rss" {
        return Err(ParseError::new(
            RSS,
            format!("not an RSS feed: the document is <{}>", root.name),
        ));
    }
    let channel = root
        .child("channel")
        .ok_or_else(|| ParseError::new(RSS, "the feed has no <channel>"))?;
    let date = channel
        .text_of("pubDate")
        .or(channel.text_of("lastBuildDate"))
        .and_then(rfc2822_date);
    let mut papers = Vec::new();
    for (i, item) in channel.all("item").enumerate() {
        let raw_id = item
            .text_of("guid")
            .or(item.text_of("link"))
            .unwrap_or_default();
        let (id, version) = ArxivId::parse_versioned(raw_id)
            .map_err(|e| ParseError::new(RSS, format!("item {i} has no arXiv id: {e}")))?;
        let title = clean_text(item.text_of("title").unwrap_or_default());
        if title.is_empty() {
            return Err(ParseError::new(
                RSS,
                format!("item {i} ({id}) has no title"),
            ));
        }
        let description = item.text_of("description").unwrap_or_default();
        let abstract_text = description
            .split_once("Abstract:")
            .map_or(description, |(_, a)| a);
        let mut paper = Paper::new(id, title, clean_text(abstract_text), PaperSource::ArxivRss);
        paper.version = version;
        paper.authors = split_authors(item.text_of("dc:creator").unwrap_or_default());
        paper.categories = item
            .all("category")
            .map(|c| c.text.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        paper.announce_type = item
            .text_of("arxiv:announce_type")
            .and_then(AnnounceType::parse);
        paper.featured_on = item.text_of("pubDate").and_then(rfc2822_date).or(date);
        if matches!(
            paper.announce_type,
            Some(AnnounceType::New | AnnounceType::Cross)
        ) && version.is_none_or(|v| v == 1)
        {
            paper.published = paper.featured_on;
        }
        papers.push(paper);
    }
    Ok(RssFeed { date, papers })
}

/// Parse an arXiv API (Atom) response. An error feed (arXiv answers a bad query with one
/// entry titled "Error") is an error carrying arXiv's message; no entries is an empty list.
pub fn parse_atom(bytes: &[u8]) -> Result<Vec<Paper>, ParseError> {
    let root = parse_tree(bytes, ATOM)?;
    if local(&root.name) != "feed" {
        return Err(ParseError::new(
            ATOM,
            format!("not an Atom feed: the document is <{}>", root.name),
        ));
    }
    let mut papers = Vec::new();
    for (i, entry) in root.all("entry").enumerate() {
        let raw_id = entry.text_of("id").unwrap_or_default();
        if raw_id.contains("/api/errors")
            || entry.text_of("title").map(str::trim) == Some("Error") && !raw_id.contains("/abs/")
        {
            let msg = clean_text(entry.text_of("summary").unwrap_or("no message"));
            return Err(ParseError::new(
                ATOM,
                format!("arXiv refused the query: {msg}"),
            ));
        }
        let (id, version) = ArxivId::parse_versioned(raw_id)
            .map_err(|e| ParseError::new(ATOM, format!("entry {i} has no arXiv id: {e}")))?;
        let title = clean_text(entry.text_of("title").unwrap_or_default());
        if title.is_empty() {
            return Err(ParseError::new(
                ATOM,
                format!("entry {i} ({id}) has no title"),
            ));
        }
        let mut paper = Paper::new(
            id,
            title,
            clean_text(entry.text_of("summary").unwrap_or_default()),
            PaperSource::ArxivApi,
        );
        paper.version = version;
        paper.published = entry.text_of("published").and_then(rfc3339_date);
        paper.authors = entry
            .all("author")
            .filter_map(|a| a.text_of("name"))
            .map(clean_text)
            .filter(|a| !a.is_empty())
            .collect();
        let primary = entry
            .child("arxiv:primary_category")
            .and_then(|c| c.attr("term"));
        let mut categories: Vec<String> = primary.into_iter().map(str::to_string).collect();
        for term in entry.all("category").filter_map(|c| c.attr("term")) {
            if !categories.iter().any(|c| c == term) {
                categories.push(term.to_string());
            }
        }
        paper.categories = categories;
        papers.push(paper);
    }
    Ok(papers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RSS_LG: &[u8] =
        include_bytes!("../../tests/fixtures/arxiv_rss/distill_rss_cs.LG_2026-04-27.xml");
    const RSS_AI: &[u8] =
        include_bytes!("../../tests/fixtures/arxiv_rss/distill_rss_cs.AI_2026-04-27.xml");
    const RSS_CL: &[u8] =
        include_bytes!("../../tests/fixtures/arxiv_rss/distill_rss_cs.CL_2026-04-27.xml");
    const QUERY: &[u8] =
        include_bytes!("../../tests/fixtures/arxiv_atom/query_transformer_cs.LG_2026-06-14.xml");
    const OLD_ID: &[u8] = include_bytes!(
        "../../tests/fixtures/arxiv_atom/recorded/bodies/id_astro-ph_0601001_s0_m100_3150dca9dc76.xml"
    );
    const VERSIONED: &[u8] = include_bytes!(
        "../../tests/fixtures/arxiv_atom/recorded/bodies/id_2104.12255v1_s0_m100_6ae69987ffe1.xml"
    );
    const TWO_IDS: &[u8] = include_bytes!(
        "../../tests/fixtures/arxiv_atom/recorded/bodies/id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.xml"
    );
    const EMPTY: &[u8] = include_bytes!(
        "../../tests/fixtures/arxiv_atom/recorded/bodies/id_0000.0000_s0_m100_8b51d9633a68.xml"
    );
    const ERROR: &[u8] = include_bytes!(
        "../../tests/fixtures/arxiv_atom/recorded/bodies/id_abc_s0_m100_b79c8dcf6bc3.xml"
    );
    const LEGACY: &[u8] = include_bytes!(
        "../../tests/fixtures/arxiv_atom/recorded/legacy_2016/id_list_1111.2011v2.xml"
    );

    #[test]
    fn rss_feeds() {
        let feed = parse_rss(RSS_LG).unwrap();
        assert_eq!(feed.date, NaiveDate::from_ymd_opt(2026, 4, 27));
        assert_eq!(feed.papers.len(), 3);
        let p = &feed.papers[0];
        assert_eq!((p.id.as_str(), p.version), ("2604.21952", Some(1)));
        assert_eq!(
            p.title,
            "Focus Session: Hardware and Software Techniques for Accelerating Multimodal Foundation Models"
        );
        assert_eq!(p.categories, ["cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO"]);
        assert_eq!(p.authors.len(), 6);
        assert_eq!(p.authors[0], "Muhammad Shafique");
        assert_eq!(p.announce_type, Some(AnnounceType::New));
        assert!(
            p.abstract_text
                .starts_with("This work presents a multi-layered methodology")
        );
        assert!(
            p.abstract_text.contains("visual resolution & stride"),
            "entities decoded"
        );
        assert_eq!(p.featured_on, NaiveDate::from_ymd_opt(2026, 4, 27));
        assert_eq!(feed.papers[1].categories, ["cs.LG", "cs.CY"]);
        assert_eq!(
            feed.papers[1].title,
            "Performance Anomaly Detection in Athletics: A Benchmarking System with Visual Analytics"
        );

        let ai = parse_rss(RSS_AI).unwrap();
        assert_eq!(ai.papers.len(), 3);
        assert_eq!(ai.papers[0].id.as_str(), "2604.21935");
        assert_eq!(ai.papers[0].authors, ["Michael Cooper", "Samuel Cooper"]);
        assert_eq!(
            ai.papers[0].title,
            "Math Takes Two: A test for emergent mathematical reasoning in communication"
        );
        assert_eq!(ai.papers[1].authors.len(), 18);
        assert_eq!(ai.papers[1].categories, ["cs.AI", "cs.CV", "cs.MA"]);

        let cl = parse_rss(RSS_CL).unwrap();
        assert_eq!(cl.papers.len(), 3);
        assert_eq!(cl.papers[0].id.as_str(), "2604.22002");
        assert_eq!(
            cl.papers[0].authors,
            [
                "Anamta Khan",
                "Ratna Kandala",
                "Deepti",
                "Sheza Munir",
                "Joyojeet Pal"
            ]
        );
        assert_eq!(cl.papers[1].authors.len(), 8);
        assert_eq!(cl.papers[1].categories, ["cs.CL", "cs.AI", "cs.LG"]);
    }

    #[test]
    fn rss_empty_day_and_other_announce_types() {
        let empty = br#"<rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom"><channel><title>cs.LG updates on arXiv.org</title><pubDate>Sat, 25 Apr 2026 00:00:00 -0400</pubDate></channel></rss>"#;
        let feed = parse_rss(empty).unwrap();
        assert!(feed.papers.is_empty());
        assert_eq!(feed.date, NaiveDate::from_ymd_opt(2026, 4, 25));
        // The same capture with the announce type changed, as arXiv writes replacements.
        let replaced = String::from_utf8_lossy(RSS_LG).replacen(
            "<arxiv:announce_type>new<",
            "<arxiv:announce_type>replace-cross<",
            1,
        );
        let feed = parse_rss(replaced.as_bytes()).unwrap();
        assert_eq!(
            feed.papers[0].announce_type,
            Some(AnnounceType::ReplaceCross)
        );
        assert_eq!(
            feed.papers[0].published, None,
            "a replacement is not a publication"
        );
        assert_eq!(
            feed.papers[1].published,
            NaiveDate::from_ymd_opt(2026, 4, 27)
        );
    }

    #[test]
    fn atom_responses() {
        let papers = parse_atom(QUERY).unwrap();
        assert_eq!(papers.len(), 5);
        let p = &papers[0];
        assert_eq!((p.id.as_str(), p.version), ("2606.13677", Some(1)));
        assert_eq!(p.title, "Mana: Dexterous Manipulation of Articulated Tools");
        assert_eq!(
            p.authors,
            [
                "Zhao-Heng Yin",
                "Guanya Shi",
                "Pieter Abbeel",
                "C. Karen Liu"
            ]
        );
        assert_eq!(p.categories, ["cs.RO", "cs.AI", "cs.CV", "cs.LG"]);
        assert_eq!(p.published, NaiveDate::from_ymd_opt(2026, 6, 11));
        assert!(p.abstract_text.contains("(<1 minute per tool)"));
        assert_eq!(
            (papers[1].id.as_str(), papers[1].authors.len()),
            ("2606.13591", 2)
        );
        assert_eq!(papers[1].categories[0], "cs.AI");

        let old = parse_atom(OLD_ID).unwrap();
        assert_eq!(
            (old[0].id.as_str(), old[0].version, old[0].authors.len()),
            ("astro-ph/0601001", Some(1), 4)
        );
        assert_eq!(old[0].categories[0], "astro-ph");

        let v = parse_atom(VERSIONED).unwrap();
        assert_eq!(
            (
                v[0].id.as_str(),
                v[0].title.as_str(),
                v[0].categories[0].as_str()
            ),
            ("2104.12255", "0", "cs.CR")
        );

        // 0808.05394 does not exist: arXiv returns only the other.
        let two = parse_atom(TWO_IDS).unwrap();
        assert_eq!(
            two.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["1707.08567"]
        );
        assert_eq!(two[0].authors.len(), 34);

        assert!(parse_atom(EMPTY).unwrap().is_empty());

        let legacy = parse_atom(LEGACY).unwrap();
        assert_eq!(
            legacy[0].title,
            "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
        );
        assert_eq!(legacy[0].categories[0], "cond-mat.str-el");
    }

    #[test]
    fn atom_error_feed_names_arxivs_message() {
        let e = parse_atom(ERROR).unwrap_err();
        assert_eq!(e.what, ATOM);
        assert_eq!(
            e.detail,
            "arXiv refused the query: incorrect id format for abc"
        );
    }

    #[test]
    fn refuses_what_is_not_a_feed() {
        for bad in [
            &b""[..],
            b"   ",
            b"<html><body>Service Unavailable</body></html>",
            b"{\"papers\": []}",
            &RSS_LG[..RSS_LG.len() / 2],
            b"<rss><channel><item><title>x</title><guid>not-an-id</guid></item></channel></rss>",
            b"\xff\xfe<rss/>",
        ] {
            assert!(
                parse_rss(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(
            parse_rss(QUERY)
                .unwrap_err()
                .detail
                .contains("not an RSS feed")
        );
        assert!(
            parse_atom(RSS_LG)
                .unwrap_err()
                .detail
                .contains("not an Atom feed")
        );
        assert!(
            parse_atom(&QUERY[..QUERY.len() / 2])
                .unwrap_err()
                .detail
                .contains("truncated")
                || parse_atom(&QUERY[..QUERY.len() / 2]).is_err()
        );
        let deep = "<a>".repeat(100);
        assert!(
            parse_rss(deep.as_bytes())
                .unwrap_err()
                .detail
                .contains("nested deeper")
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = parse_rss(&bytes);
            let _ = parse_atom(&bytes);
        }

        #[test]
        fn never_panics_on_damaged_captures(cut in 0usize..12_000, at in 0usize..12_000, byte in any::<u8>()) {
            for doc in [RSS_LG, QUERY] {
                let mut d = doc[..cut.min(doc.len())].to_vec();
                if !d.is_empty() {
                    let i = at % d.len();
                    d[i] = byte;
                }
                let _ = parse_rss(&d);
                let _ = parse_atom(&d);
            }
        }
    }
}
