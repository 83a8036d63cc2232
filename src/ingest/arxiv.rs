//! arXiv: the RSS feeds of categories (`rss.arxiv.org/rss/cs.LG+cs.CV`) and the API's Atom
//! responses (`export.arxiv.org/api/query?id_list=…`). Both are read into a small element
//! tree first (quick-xml events, namespaces resolved), so that namespaced elements
//! (`arxiv:announce_type`, `dc:creator`, `arxiv:primary_category`) and entity references are
//! handled in one place. Parsers are pure: bytes in, papers out.

use chrono::NaiveDate;
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};

use super::ParseError;
use crate::domain::{AnnounceType, ArxivId, Paper, PaperSource, clean_text};

const RSS: &str = "arXiv RSS feed";
const ATOM: &str = "arXiv API response";
/// Deeper nesting than this is not a feed (arXiv's go four deep).
const MAX_DEPTH: usize = 32;

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
/// Namespaces read by a fixed prefix, whatever prefix the document binds them to.
const KNOWN_NAMESPACES: [(&str, &str); 4] = [
    ("arxiv", "http://arxiv.org/schemas/atom"),
    ("dc", "http://purl.org/dc/elements/1.1/"),
    ("atom", ATOM_NS),
    ("opensearch", "http://a9.com/-/spec/opensearch/1.1/"),
];

/// One XML element: its name (see [`element_name`]), attributes, text and children.
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

/// An element's name for lookups: the bare local name in the document's own namespace
/// (`home`) or in none; `arxiv:…`, `dc:…`, `atom:…`, `opensearch:…` for those namespaces
/// whatever prefix the document chose; the name as written otherwise (an undeclared
/// prefix is read as written, leniently).
fn element_name(ns: &ResolveResult<'_>, e: &BytesStart<'_>, home: Option<&str>) -> String {
    let text = |b: &str| b.to_string();
    let local = text(e.local_name().as_ref());
    match ns {
        ResolveResult::Unbound => local,
        ResolveResult::Bound(Namespace(uri)) if Some(*uri) == home => local,
        ResolveResult::Bound(Namespace(uri)) => {
            match KNOWN_NAMESPACES.iter().find(|(_, known)| known == uri) {
                Some((prefix, _)) => format!("{prefix}:{local}"),
                None => text(e.name().as_ref()),
            }
        }
        ResolveResult::Unknown(_) => text(e.name().as_ref()),
    }
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

/// Read a whole document into a tree. Anything that is not one well-formed XML element
/// (empty, not UTF-8, truncated, JSON, too deep) is an error saying so. The tree is at
/// most a constant factor larger than the input.
fn parse_tree(bytes: &[u8], what: &'static str, home: Option<&str>) -> Result<Node, ParseError> {
    let err = |detail: String| ParseError::new(what, detail);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(err("the document is empty".into()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| err(format!("not UTF-8 text ({e})")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let open = |ns: &ResolveResult<'_>, e: &BytesStart<'_>| -> Result<Node, ParseError> {
        let name = element_name(ns, e, home);
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
    let mut close = |node: Node, stack: &mut Vec<Node>| -> Result<(), ParseError> {
        match stack.last_mut() {
            Some(parent) => parent.children.push(node),
            None if root.is_none() => root = Some(node),
            None => return Err(err("more than one root element".into())),
        }
        Ok(())
    };
    loop {
        let position = reader.buffer_position();
        let (ns, event) = reader.read_resolved_event().map_err(|e| {
            err(format!(
                "not well-formed XML (after byte {position}): {e}; truncated or not XML"
            ))
        })?;
        match event {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                let node = open(&ns, &e)?;
                stack.push(node);
            }
            Event::Empty(e) => {
                let node = open(&ns, &e)?;
                close(node, &mut stack)?;
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| err("a closing tag without an opening one".into()))?;
                close(node, &mut stack)?;
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
                let c = c.ok_or_else(|| {
                    let name: String = r.xml10_content().chars().take(40).collect();
                    err(format!("an unknown entity &{name};"))
                })?;
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
    root.ok_or_else(|| err("no XML element found: not XML".into()))
}

/// A date from an RFC 2822 timestamp (`Mon, 27 Apr 2026 00:00:00 -0400`), in its own offset.
fn rfc2822_date(s: &str) -> Option<NaiveDate> {
    chrono::DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|d| d.date_naive())
}

/// A date from an RFC 3339 timestamp (`2026-06-11T17:59:49Z`): the date as written.
fn rfc3339_date(s: &str) -> Option<NaiveDate> {
    s.trim()
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

/// Authors as arXiv writes them in `dc:creator`: `A, B, C`, `A, B, and C` or `A and B`.
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

/// The start of a text, for error messages.
fn snippet(s: &str) -> String {
    const CHARS: usize = 60;
    let s = clean_text(s);
    if s.chars().count() > CHARS {
        format!("{}…", s.chars().take(CHARS).collect::<String>())
    } else {
        s
    }
}

/// A day's arXiv RSS feed (one or more categories): the papers, and the feed's date.
#[derive(Debug)]
pub struct RssFeed {
    pub date: Option<NaiveDate>,
    pub papers: Vec<Paper>,
}

/// Parse an arXiv RSS feed (the 2024+ RSS 2.0 format of `rss.arxiv.org`). A feed with no
/// items (a day without announcements) is an empty list; a document that is not such a
/// feed, or an item without a readable id or title, is an error naming the item.
pub fn parse_rss(bytes: &[u8]) -> Result<RssFeed, ParseError> {
    let root = parse_tree(bytes, RSS, None)?;
    if root.name != "rss" {
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
        .and_then(rfc2822_date)
        .or_else(|| channel.text_of("lastBuildDate").and_then(rfc2822_date));
    let items: Vec<&Node> = channel.all("item").collect();
    let count = items.len();
    let mut papers = Vec::with_capacity(count);
    for (i, item) in items.into_iter().enumerate() {
        let which = || {
            let title = item.text_of("title").map(snippet).unwrap_or_default();
            format!("item {} of {count} ({title:?})", i + 1)
        };
        let description = item.text_of("description").unwrap_or_default();
        // "arXiv:2604.21952v1 Announce Type: new \nAbstract: …"
        let (header, abstract_text) = description
            .split_once("Abstract:")
            .unwrap_or(("", description));
        let raw_id = item
            .text_of("guid")
            .or(item.text_of("link"))
            .ok_or_else(|| ParseError::new(RSS, format!("{} has no <guid> or <link>", which())))?;
        let (id, version) = ArxivId::parse_versioned(raw_id)
            .map_err(|e| ParseError::new(RSS, format!("{} has no arXiv id: {e}", which())))?;
        let title = clean_text(item.text_of("title").unwrap_or_default());
        if title.is_empty() {
            return Err(ParseError::new(
                RSS,
                format!("{} ({id}) has no title", which()),
            ));
        }
        let mut paper = Paper::new(id, title, clean_text(abstract_text), PaperSource::ArxivRss);
        // The guid carries the version; the description's header does too.
        paper.version = version.or_else(|| {
            let first = header.split_whitespace().next()?;
            ArxivId::parse_versioned(first)
                .ok()
                .filter(|(same, _)| *same == paper.id)
                .and_then(|(_, v)| v)
        });
        paper.authors = split_authors(item.text_of("dc:creator").unwrap_or_default());
        paper.categories = item
            .all("category")
            .map(|c| c.text.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        paper.announce_type = item
            .text_of("arxiv:announce_type")
            .or_else(|| {
                let (_, rest) = header.split_once("Announce Type:")?;
                rest.split_whitespace().next()
            })
            .and_then(AnnounceType::parse);
        paper.featured_on = item.text_of("pubDate").and_then(rfc2822_date).or(date);
        // A new submission (or its cross-listing) is published the day it is announced; a
        // replacement says nothing about when the paper first appeared.
        if matches!(
            paper.announce_type,
            Some(AnnounceType::New | AnnounceType::Cross)
        ) && paper.version.is_none_or(|v| v == 1)
        {
            paper.published = paper.featured_on;
        }
        papers.push(paper);
    }
    Ok(RssFeed { date, papers })
}

/// Parse an arXiv API (Atom) response, the current format and the 2016 one alike. An
/// error feed (arXiv answers a bad query with one entry titled "Error") is an error carrying
/// arXiv's message; no entries (nothing found) is an empty list.
pub fn parse_atom(bytes: &[u8]) -> Result<Vec<Paper>, ParseError> {
    let root = parse_tree(bytes, ATOM, Some(ATOM_NS))?;
    if root.name != "feed" {
        return Err(ParseError::new(
            ATOM,
            format!("not an Atom feed: the document is <{}>", root.name),
        ));
    }
    let entries: Vec<&Node> = root.all("entry").collect();
    let count = entries.len();
    let mut papers = Vec::with_capacity(count);
    for (i, entry) in entries.into_iter().enumerate() {
        let raw_id = entry.text_of("id").unwrap_or_default().trim();
        let raw_title = entry.text_of("title").unwrap_or_default();
        if raw_id.contains("/api/errors")
            || raw_title.trim() == "Error" && !raw_id.contains("/abs/")
        {
            let message = clean_text(entry.text_of("summary").unwrap_or_default());
            let message = if message.is_empty() {
                "no message".to_string()
            } else {
                message
            };
            return Err(ParseError::new(
                ATOM,
                format!("arXiv refused the query: {message}"),
            ));
        }
        let which = || format!("entry {} of {count} ({:?})", i + 1, snippet(raw_title));
        let (id, version) = ArxivId::parse_versioned(raw_id)
            .map_err(|e| ParseError::new(ATOM, format!("{} has no arXiv id: {e}", which())))?;
        let title = clean_text(raw_title);
        if title.is_empty() {
            return Err(ParseError::new(
                ATOM,
                format!("{} ({id}) has no title", which()),
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
        let mut categories: Vec<String> = Vec::new();
        for term in primary
            .into_iter()
            .chain(entry.all("category").filter_map(|c| c.attr("term")))
        {
            let term = term.trim();
            if !term.is_empty() && !categories.iter().any(|c| c == term) {
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
    const OLD_VERSIONED: &[u8] = include_bytes!(
        "../../tests/fixtures/arxiv_atom/recorded/bodies/id_quant-ph_0201082v1_s0_m100_86989fe779ef.xml"
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
    const MISSING: &[u8] = include_bytes!(
        "../../tests/fixtures/arxiv_atom/recorded/bodies/id_0808.05394_s0_m100_7b0c7d0a7cdd.xml"
    );
    const ERROR: &[u8] = include_bytes!(
        "../../tests/fixtures/arxiv_atom/recorded/bodies/id_abc_s0_m100_b79c8dcf6bc3.xml"
    );
    const LEGACY: &[u8] = include_bytes!(
        "../../tests/fixtures/arxiv_atom/recorded/legacy_2016/id_list_1111.2011v2.xml"
    );
    const LEGACY_TWO: &[u8] = include_bytes!(
        "../../tests/fixtures/arxiv_atom/recorded/legacy_2016/search_query_au_del_maestro_AND_ti_quantum_criticality.xml"
    );
    /// Every Atom capture with its number of `<entry>` elements (counted with grep).
    const ATOM_CAPTURES: [(&str, &[u8], usize); 18] = [
        ("query", QUERY, 5),
        ("astro-ph", OLD_ID, 1),
        ("quant-ph v1", OLD_VERSIONED, 1),
        ("2104.12255v1", VERSIONED, 1),
        ("two ids", TWO_IDS, 1),
        ("0000.0000", EMPTY, 0),
        ("0808.05394", MISSING, 0),
        (
            "1605.08386",
            include_bytes!(
                "../../tests/fixtures/arxiv_atom/recorded/bodies/id_1605.08386_s0_m100_199195aa31ad.xml"
            ),
            1,
        ),
        (
            "q s0 m100",
            include_bytes!(
                "../../tests/fixtures/arxiv_atom/recorded/bodies/q_testing_s0_m100_cfe7536492ca.xml"
            ),
            100,
        ),
        (
            "q s0 m15",
            include_bytes!(
                "../../tests/fixtures/arxiv_atom/recorded/bodies/q_testing_s0_m15_80c242b59d59.xml"
            ),
            15,
        ),
        (
            "q s9 m15",
            include_bytes!(
                "../../tests/fixtures/arxiv_atom/recorded/bodies/q_testing_s9_m15_0b78d4b4d476.xml"
            ),
            15,
        ),
        (
            "q s50 m10",
            include_bytes!(
                "../../tests/fixtures/arxiv_atom/recorded/bodies/q_testing_s50_m10_7f488ab8598c.xml"
            ),
            10,
        ),
        ("legacy 1111.2011v2", LEGACY, 1),
        ("legacy quantum criticality", LEGACY_TWO, 2),
        (
            "legacy del maestro",
            include_bytes!(
                "../../tests/fixtures/arxiv_atom/recorded/legacy_2016/search_query_au_del_maestro.xml"
            ),
            10,
        ),
        (
            "legacy ANDNOT",
            include_bytes!(
                "../../tests/fixtures/arxiv_atom/recorded/legacy_2016/search_query_au_del_maestro_ANDNOT_checkerboard_OR_Pyrochlore.xml"
            ),
            10,
        ),
        (
            "legacy checkerboard",
            include_bytes!(
                "../../tests/fixtures/arxiv_atom/recorded/legacy_2016/search_query_au_del_maestro_AND_ti_checkerboard.xml"
            ),
            1,
        ),
        (
            "q s5 m10",
            include_bytes!(
                "../../tests/fixtures/arxiv_atom/recorded/bodies/q_testing_s5_m10_c0e94a259d4a.xml"
            ),
            10,
        ),
    ];

    fn day(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    /// The fields the brief pins for one RSS item.
    #[track_caller]
    fn check_item(
        p: &Paper,
        id: &str,
        title: &str,
        authors: usize,
        first_author: &str,
        categories: &[&str],
    ) {
        assert_eq!((p.id.as_str(), p.version), (id, Some(1)), "{id}");
        assert_eq!(p.title, title, "{id}");
        assert_eq!(p.authors.len(), authors, "{id}: {:?}", p.authors);
        assert_eq!(p.authors[0], first_author, "{id}");
        assert_eq!(p.categories, categories, "{id}");
        assert_eq!(p.announce_type, Some(AnnounceType::New), "{id}");
        assert_eq!(p.source, PaperSource::ArxivRss);
        assert_eq!(p.featured_on, day(2026, 4, 27), "{id}");
        assert_eq!(p.published, day(2026, 4, 27), "{id}: new, so published");
        assert!(!p.abstract_text.is_empty(), "{id}");
        assert!(!p.abstract_text.contains("Announce Type"), "{id}");
    }

    #[test]
    fn rss_cs_lg() {
        let feed = parse_rss(RSS_LG).unwrap();
        assert_eq!(feed.date, day(2026, 4, 27));
        assert_eq!(feed.papers.len(), 3);
        let p = &feed.papers[0];
        check_item(
            p,
            "2604.21952",
            "Focus Session: Hardware and Software Techniques for Accelerating Multimodal Foundation Models",
            6,
            "Muhammad Shafique",
            &["cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO"],
        );
        assert_eq!(p.authors[5], "Minghao Shao");
        assert!(
            p.abstract_text
                .starts_with("This work presents a multi-layered methodology")
        );
        assert!(
            p.abstract_text.contains("visual resolution & stride"),
            "entities decoded"
        );
        check_item(
            &feed.papers[1],
            "2604.21953",
            "Performance Anomaly Detection in Athletics: A Benchmarking System with Visual Analytics",
            2,
            "Blessed Madukoma",
            &["cs.LG", "cs.CY"],
        );
        check_item(
            &feed.papers[2],
            "2604.21956",
            "Conditional anomaly detection using soft harmonic functions: An application to clinical alerting",
            5,
            "Michal Valko",
            &["cs.LG"],
        );
    }

    #[test]
    fn rss_cs_ai() {
        let feed = parse_rss(RSS_AI).unwrap();
        assert_eq!(feed.date, day(2026, 4, 27));
        assert_eq!(feed.papers.len(), 3);
        check_item(
            &feed.papers[0],
            "2604.21935",
            "Math Takes Two: A test for emergent mathematical reasoning in communication",
            2,
            "Michael Cooper",
            &["cs.AI", "cs.LG"],
        );
        assert_eq!(feed.papers[0].authors, ["Michael Cooper", "Samuel Cooper"]);
        check_item(
            &feed.papers[1],
            "2604.21936",
            "An Artifact-based Agent Framework for Adaptive and Reproducible Medical Image Processing",
            18,
            "Lianrui Zuo",
            &["cs.AI", "cs.CV", "cs.MA"],
        );
        check_item(
            &feed.papers[2],
            "2604.21937",
            "MolClaw: An Autonomous Agent with Hierarchical Skills for Drug Molecule Evaluation, Screening, and Optimization",
            17,
            "Lisheng Zhang",
            &["cs.AI", "cs.MA"],
        );
    }

    #[test]
    fn rss_cs_cl() {
        let feed = parse_rss(RSS_CL).unwrap();
        assert_eq!(feed.date, day(2026, 4, 27));
        assert_eq!(feed.papers.len(), 3);
        check_item(
            &feed.papers[0],
            "2604.22002",
            "When Cow Urine Cures Constipation on YouTube: Limits of LLMs in Detecting Culture-specific Health Misinformation",
            5,
            "Anamta Khan",
            &["cs.CL"],
        );
        // The capture has "Ratna Kandala,  Deepti" (two spaces, a one-word name).
        assert_eq!(
            feed.papers[0].authors,
            [
                "Anamta Khan",
                "Ratna Kandala",
                "Deepti",
                "Sheza Munir",
                "Joyojeet Pal"
            ]
        );
        check_item(
            &feed.papers[1],
            "2604.22027",
            "Shared Lexical Task Representations Explain Behavioral Variability In LLMs",
            8,
            "Zhuonan Yang",
            &["cs.CL", "cs.AI", "cs.LG"],
        );
        check_item(
            &feed.papers[2],
            "2604.22038",
            "Source-Modality Monitoring in Vision-Language Models",
            3,
            "Etha Tianze Hua",
            &["cs.CL"],
        );
    }

    #[test]
    fn rss_authors_joined_with_and() {
        assert_eq!(split_authors("A. One and B. Two"), ["A. One", "B. Two"]);
        assert_eq!(
            split_authors("A. One, B. Two, and C. Three"),
            ["A. One", "B. Two", "C. Three"]
        );
        assert_eq!(
            split_authors("A. One, B. Two and C. Three"),
            ["A. One", "B. Two", "C. Three"]
        );
        assert_eq!(split_authors("  Solo  "), ["Solo"]);
        assert!(split_authors("").is_empty());
    }

    #[test]
    fn rss_empty_day_and_other_announce_types() {
        let empty = br#"<rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom"><channel><title>cs.LG updates on arXiv.org</title><pubDate>Sat, 25 Apr 2026 00:00:00 -0400</pubDate></channel></rss>"#;
        let feed = parse_rss(empty).unwrap();
        assert!(feed.papers.is_empty());
        assert_eq!(feed.date, day(2026, 4, 25));

        // The same capture with the announce type changed, as arXiv writes replacements.
        let text = String::from_utf8_lossy(RSS_LG);
        let replaced = text
            .replacen(
                "<arxiv:announce_type>new<",
                "<arxiv:announce_type>replace-cross<",
                1,
            )
            .replacen(
                "<arxiv:announce_type>new<",
                "<arxiv:announce_type>cross<",
                1,
            )
            .replacen(
                "<arxiv:announce_type>new<",
                "<arxiv:announce_type>replace<",
                1,
            );
        let feed = parse_rss(replaced.as_bytes()).unwrap();
        let types: Vec<_> = feed.papers.iter().map(|p| p.announce_type).collect();
        assert_eq!(
            types,
            [
                Some(AnnounceType::ReplaceCross),
                Some(AnnounceType::Cross),
                Some(AnnounceType::Replace)
            ]
        );
        assert_eq!(
            feed.papers[0].published, None,
            "a replacement is not a publication"
        );
        assert_eq!(feed.papers[1].published, day(2026, 4, 27));
        assert_eq!(feed.papers[2].published, None);
        assert_eq!(feed.papers[2].featured_on, day(2026, 4, 27));
    }

    #[test]
    fn rss_other_prefixes_and_fallbacks() {
        // Another prefix for arXiv's namespace, no item pubDate, no version in the guid, no
        // announce_type element: the description's header and the channel date stand in.
        let feed = br#"<?xml version="1.0"?>
<rss version="2.0" xmlns:ax="http://arxiv.org/schemas/atom" xmlns:d="http://purl.org/dc/elements/1.1/">
<channel><lastBuildDate>Tue, 28 Apr 2026 04:00:00 +0000</lastBuildDate>
<item><title>A
  wrapped title</title><link>https://arxiv.org/abs/2604.00001</link>
<description>arXiv:2604.00001v3 Announce Type: replace
Abstract: Some &lt;b&gt;text&lt;/b&gt;.</description>
<guid isPermaLink="false">oai:arXiv.org:2604.00001</guid>
<category>cs.LG</category><d:creator>A. One and B. Two</d:creator></item>
<item><title><![CDATA[Old style & CDATA]]></title><link>https://arxiv.org/abs/hep-th/9901001</link>
<description>No header at all</description><ax:announce_type>cross</ax:announce_type></item>
</channel></rss>"#;
        let feed = parse_rss(feed).unwrap();
        assert_eq!(feed.date, day(2026, 4, 28));
        let [a, b] = &feed.papers[..] else {
            panic!("{:?}", feed.papers)
        };
        assert_eq!((a.id.as_str(), a.version), ("2604.00001", Some(3)));
        assert_eq!(a.title, "A wrapped title");
        assert_eq!(a.abstract_text, "Some <b>text</b>.");
        assert_eq!(a.announce_type, Some(AnnounceType::Replace));
        assert_eq!(a.authors, ["A. One", "B. Two"]);
        assert_eq!((a.featured_on, a.published), (day(2026, 4, 28), None));
        assert_eq!((b.id.as_str(), b.version), ("hep-th/9901001", None));
        assert_eq!(b.title, "Old style & CDATA");
        assert_eq!(b.abstract_text, "No header at all");
        assert_eq!(b.announce_type, Some(AnnounceType::Cross));
        assert_eq!(b.published, day(2026, 4, 28));
        assert!(b.authors.is_empty() && b.categories.is_empty());
    }

    #[test]
    fn rss_item_without_an_id_fails_the_feed_and_names_it() {
        let text = String::from_utf8_lossy(RSS_AI);
        let broken = text.replacen(
            "oai:arXiv.org:2604.21936v1",
            "tag:example.com,2026:whatever",
            1,
        );
        let e = parse_rss(broken.as_bytes()).unwrap_err();
        assert_eq!(e.what, RSS);
        assert!(
            e.detail.starts_with("item 2 of 3 (\"An Artifact-based"),
            "{e}"
        );
        assert!(e.detail.contains("no arXiv id"), "{e}");

        let no_guid = b"<rss><channel><item><title>x</title></item></channel></rss>";
        let e = parse_rss(no_guid).unwrap_err();
        assert!(e.detail.contains("item 1 of 1"), "{e}");

        let no_title =
            b"<rss><channel><item><guid>oai:arXiv.org:2604.21936v1</guid></item></channel></rss>";
        assert!(parse_rss(no_title).unwrap_err().detail.contains("no title"));
    }

    #[test]
    fn atom_query() {
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
        assert_eq!(p.published, day(2026, 6, 11));
        assert_eq!(p.source, PaperSource::ArxivApi);
        assert_eq!((p.featured_on, p.announce_type), (None, None));
        assert!(
            p.abstract_text
                .starts_with("Articulated tool manipulation remains")
        );
        assert!(p.abstract_text.contains("(<1 minute per tool)"));

        let p = &papers[1];
        assert_eq!((p.id.as_str(), p.version), ("2606.13591", Some(1)));
        assert_eq!(
            p.title,
            "Multiagent Protocols with Aggregated Confidence Signals"
        );
        assert_eq!(p.authors, ["Ali Elahi", "Barbara Di Eugenio"]);
        assert_eq!(p.categories, ["cs.AI", "cs.LG", "cs.MA"]);

        assert_eq!(papers[3].id.as_str(), "2606.13515");
        assert_eq!(papers[3].authors.len(), 7);
        assert_eq!(papers[3].categories, ["cs.CV", "cs.LG", "cs.RO"]);
        assert_eq!(papers[4].id.as_str(), "2606.13501");
        assert_eq!(papers[4].authors.len(), 9);
        assert_eq!(papers[4].categories[0], "cs.DC");
    }

    #[test]
    fn atom_id_lookups() {
        let old = parse_atom(OLD_ID).unwrap();
        assert_eq!(old.len(), 1);
        assert_eq!(
            (old[0].id.as_str(), old[0].version, old[0].authors.len()),
            ("astro-ph/0601001", Some(1), 4)
        );
        assert_eq!(
            old[0].title,
            "Frequency of Hot Jupiters and Very Hot Jupiters from the OGLE-III Transit Surveys Toward the Galactic Bulge and Carina"
        );
        assert_eq!(
            old[0].authors[0], "Andrew Gould",
            "affiliation not mixed in"
        );
        assert_eq!(old[0].categories, ["astro-ph"]);
        assert_eq!(old[0].published, day(2006, 1, 2));
        assert!(
            old[0]
                .abstract_text
                .starts_with("We derive the frequencies")
        );

        let old_v = parse_atom(OLD_VERSIONED).unwrap();
        assert_eq!(
            (old_v[0].id.as_str(), old_v[0].version),
            ("quant-ph/0201082", Some(1))
        );

        let v = parse_atom(VERSIONED).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].id.as_str(), v[0].version, v[0].title.as_str()),
            ("2104.12255", Some(1), "0")
        );
        assert_eq!(v[0].authors, ["Quan Thoi Minh Nguyen"]);
        assert_eq!(v[0].categories, ["cs.CR"]);

        // 0808.05394 does not exist (five-digit numbers began in 2015): arXiv answers the
        // two-id lookup with the other paper only.
        let two = parse_atom(TWO_IDS).unwrap();
        assert_eq!(
            two.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["1707.08567"]
        );
        assert_eq!(
            two[0].title,
            "Proceedings of Workshop AEW10: Concepts in Information Theory and Communications"
        );
        assert_eq!(two[0].authors.len(), 34);
        assert_eq!(two[0].authors[0], "Kees A. Schouhamer Immink");
        assert_eq!(two[0].categories[0], "cs.IT");

        assert!(parse_atom(EMPTY).unwrap().is_empty());
        assert!(parse_atom(MISSING).unwrap().is_empty());
    }

    #[test]
    fn atom_legacy_2016_format() {
        let legacy = parse_atom(LEGACY).unwrap();
        assert_eq!(legacy.len(), 1);
        let p = &legacy[0];
        assert_eq!((p.id.as_str(), p.version), ("1111.2011", Some(2)));
        assert_eq!(
            p.title,
            "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
        );
        assert_eq!(
            p.authors,
            ["James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic"]
        );
        assert_eq!(p.categories, ["cond-mat.str-el", "cond-mat.stat-mech"]);
        assert_eq!(p.published, day(2011, 11, 8));
        assert!(p.abstract_text.starts_with("Theoretical description of anisotropic systems, such as layered superconductors and coupled"));
        assert!(!p.abstract_text.contains('\n'));

        let two = parse_atom(LEGACY_TWO).unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(
            two[1].title,
            "A striped supersolid phase and the search for deconfined quantum criticality in hard-core bosons on the triangular lattice"
        );
    }

    #[test]
    fn atom_primary_category_first_and_any_prefix() {
        // arXiv's namespace under another prefix, the primary category listed last among the
        // categories and repeated; Atom elements under an explicit prefix.
        let doc = br#"<a:feed xmlns:a="http://www.w3.org/2005/Atom" xmlns:x="http://arxiv.org/schemas/atom">
<a:entry><a:id>http://arxiv.org/abs/2401.00001v2</a:id><a:title>T</a:title><a:summary>S</a:summary>
<a:category term="cs.LG"/><a:category term="stat.ML"/><a:category term="cs.LG"/>
<x:primary_category term="stat.ML"/><a:author><a:name> A  B </a:name></a:author></a:entry></a:feed>"#;
        let papers = parse_atom(doc).unwrap();
        assert_eq!(papers[0].categories, ["stat.ML", "cs.LG"]);
        assert_eq!(
            (papers[0].id.as_str(), papers[0].version),
            ("2401.00001", Some(2))
        );
        assert_eq!(papers[0].authors, ["A B"]);
        assert_eq!(papers[0].published, None);
        // An entry without an id fails the response and says which.
        let doc =
            br#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>T</title></entry></feed>"#;
        let e = parse_atom(doc).unwrap_err();
        assert!(
            e.detail.starts_with("entry 1 of 1 (\"T\") has no arXiv id"),
            "{e}"
        );
    }

    #[test]
    fn atom_every_capture_parses() {
        for (name, bytes, entries) in ATOM_CAPTURES {
            let papers = parse_atom(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(papers.len(), entries, "{name}");
            for p in &papers {
                assert!(!p.title.is_empty() && !p.abstract_text.is_empty(), "{name}");
                assert!(!p.authors.is_empty() && !p.categories.is_empty(), "{name}");
                assert!(p.published.is_some() && p.version.is_some(), "{name}");
            }
        }
    }

    #[test]
    fn atom_error_feed_names_arxivs_message() {
        let e = parse_atom(ERROR).unwrap_err();
        assert_eq!(e.what, ATOM);
        assert_eq!(
            e.detail,
            "arXiv refused the query: incorrect id format for abc"
        );
        assert_eq!(
            e.to_string(),
            "arXiv API response: arXiv refused the query: incorrect id format for abc"
        );
    }

    #[test]
    fn refuses_what_is_not_a_feed() {
        let half_rss = &RSS_LG[..RSS_LG.len() / 2];
        let half_atom = &QUERY[..QUERY.len() / 2];
        for (bad, says) in [
            (&b""[..], "empty"),
            (b"  \n ", "empty"),
            (b"<html><body>Service Unavailable</body></html>", "not an"),
            (b"{\"papers\": []}", "not XML"),
            (half_rss, "truncated"),
            (half_atom, "truncated"),
            (b"\xff\xfe<rss/>", "not UTF-8"),
            (b"<rss></rss><rss></rss>", "more than one root"),
            (b"<rss>&nbsp;</rss>", "unknown entity"),
            (b"<rss><channel></rss>", "not well-formed"),
        ] {
            let shown = String::from_utf8_lossy(&bad[..bad.len().min(40)]).into_owned();
            let e = parse_rss(bad).unwrap_err();
            assert_eq!(e.what, RSS);
            assert!(e.detail.contains(says), "RSS {shown:?}: {e}");
            let e = parse_atom(bad).unwrap_err();
            assert_eq!(e.what, ATOM);
            assert!(e.detail.contains(says), "Atom {shown:?}: {e}");
        }
        assert!(
            parse_rss(QUERY)
                .unwrap_err()
                .detail
                .contains("not an RSS feed: the document is <atom:feed>")
        );
        assert!(
            parse_atom(RSS_LG)
                .unwrap_err()
                .detail
                .contains("not an Atom feed: the document is <rss>")
        );
        assert!(
            parse_rss(b"<rss version=\"2.0\"/>")
                .unwrap_err()
                .detail
                .contains("no <channel>")
        );
        let deep = "<a>".repeat(100);
        assert!(
            parse_rss(deep.as_bytes())
                .unwrap_err()
                .detail
                .contains("nested deeper")
        );
        // A byte-order mark is not a problem.
        let with_bom = [&b"\xef\xbb\xbf"[..], RSS_LG].concat();
        assert_eq!(parse_rss(&with_bom).unwrap().papers.len(), 3);
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = parse_rss(&bytes);
            let _ = parse_atom(&bytes);
        }

        #[test]
        fn never_panics_on_damaged_captures(
            cut in 0usize..12_000,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        ) {
            for doc in [RSS_LG, RSS_CL, QUERY, ERROR, LEGACY] {
                let mut d = doc[..cut.min(doc.len())].to_vec();
                for &(at, byte) in &edits {
                    if !d.is_empty() {
                        let i = at % d.len();
                        d[i] = byte;
                    }
                }
                let _ = parse_rss(&d);
                let _ = parse_atom(&d);
            }
        }

        #[test]
        fn truncated_captures_are_errors(keep in 0.0f64..0.97) {
            // Cut before the closing tags: never a silently shorter list.
            for doc in [RSS_AI, QUERY] {
                let cut = (doc.len() as f64 * keep) as usize;
                let d = &doc[..cut];
                prop_assert!(parse_rss(d).is_err());
                prop_assert!(parse_atom(d).is_err());
            }
        }
    }
}
