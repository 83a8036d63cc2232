//! Hugging Face Daily Papers: the JSON API (`/api/daily_papers?date=D`) and the page
//! (`/papers/date/D`).

use chrono::NaiveDate;
use scraper::{ElementRef, Html, Selector};
use serde::Deserialize;

use super::ParseError;
use crate::domain::{ArxivId, Paper, PaperSource, clean_text};

const WHAT: &str = "Hugging Face daily papers response";
const PAGE: &str = "Hugging Face Daily Papers page";

#[derive(Deserialize)]
struct Item {
    paper: HfPaper,
    #[serde(rename = "numComments")]
    num_comments: Option<i64>,
    organization: Option<HfOrganization>,
}

#[derive(Deserialize)]
struct HfOrganization {
    name: Option<String>,
    fullname: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HfPaper {
    id: String,
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    authors: Vec<HfAuthor>,
    published_at: Option<String>,
    submitted_on_daily_at: Option<String>,
    upvotes: Option<i64>,
    github_repo: Option<String>,
    github_stars: Option<i64>,
    project_page: Option<String>,
    #[serde(rename = "ai_summary")]
    ai_summary: Option<String>,
    #[serde(rename = "ai_keywords", default)]
    ai_keywords: Vec<String>,
    organization: Option<HfOrganization>,
}

#[derive(Deserialize)]
struct HfAuthor {
    name: String,
    #[serde(default)]
    hidden: bool,
}

/// The date part of an ISO 8601 timestamp (`2026-05-08T10:01:31.399Z`).
fn date_of(ts: &Option<String>) -> Option<NaiveDate> {
    ts.as_deref()
        .and_then(|t| t.get(..10))
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

/// Keep a link only if it is an http(s) URL without whitespace; a GitHub repository only if
/// it points at github.com.
fn url(u: Option<String>, github: bool) -> Option<String> {
    let u = u?.trim().to_string();
    let ok = if github {
        u.starts_with("https://github.com/")
    } else {
        u.starts_with("https://") || u.starts_with("http://")
    };
    (ok && u.len() <= 2000 && !u.chars().any(|c| c.is_whitespace() || c.is_control())).then_some(u)
}

/// Parse an `/api/daily_papers` response. `day` is the date the papers were featured on;
/// without it, each paper's submission date is used. An empty list (weekends) is no papers,
/// not an error.
pub fn parse_api(bytes: &[u8], day: Option<NaiveDate>) -> Result<Vec<Paper>, ParseError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ParseError::new(WHAT, format!("not valid JSON ({e})")))?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(o) if o.contains_key("error") => {
            let msg = o["error"]
                .as_str()
                .unwrap_or("unknown error")
                .chars()
                .take(200)
                .collect::<String>();
            return Err(ParseError::new(
                WHAT,
                format!("Hugging Face answered with an error: {msg}"),
            ));
        }
        _ => return Err(ParseError::new(WHAT, "expected a JSON array of papers")),
    };
    items_to_papers(items, day).map_err(|e| ParseError::new(WHAT, e))
}

/// The items of `/api/daily_papers`, or of a page's `dailyPapers` (the same shape), as
/// papers. The error names the failing item.
fn items_to_papers(
    items: Vec<serde_json::Value>,
    day: Option<NaiveDate>,
) -> Result<Vec<Paper>, String> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let item: Item = serde_json::from_value(item)
                .map_err(|e| format!("item {i} has an unexpected shape: {e}"))?;
            to_paper(item, day).map_err(|e| format!("item {i}: {e}"))
        })
        .collect()
}

/// What a Daily Papers page embeds for its Svelte component.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageProps {
    date_string: Option<String>,
    daily_papers: Vec<serde_json::Value>,
}

/// Why the embedded data gave no papers.
enum Embedded {
    /// Missing or unreadable: the cards may still be read.
    Unreadable(String),
    /// Readable, and it says the page is not the one asked for: its cards are not either.
    WrongPage(String),
}

/// Parse a Daily Papers page (`/papers/date/D`): the JSON its `DailyPapers` component
/// embeds (the API's items, abstracts included), or else its paper cards (id, title,
/// upvotes, comments; no abstract). `day` as for [`parse_api`]; without it, the page's own
/// date. A page with neither is an error, so a re-designed page or an error page stores
/// nothing; so is a page whose `dateString` is another day than `day`. The cards carry no
/// year, so a page read from its cards alone is taken to be for `day`.
pub fn parse_page(bytes: &[u8], day: Option<NaiveDate>) -> Result<Vec<Paper>, ParseError> {
    // The page is UTF-8; other bytes become U+FFFD and simply match nothing below.
    let html = Html::parse_document(&String::from_utf8_lossy(bytes));
    let why = match embedded_papers(&html, day) {
        Ok(papers) => return Ok(papers),
        Err(Embedded::WrongPage(e)) => return Err(ParseError::new(PAGE, e)),
        Err(Embedded::Unreadable(why)) => why,
    };
    let cards =
        card_papers(&html, day).map_err(|e| ParseError::new(PAGE, format!("{why}; {e}")))?;
    if cards.is_empty() {
        return Err(ParseError::new(
            PAGE,
            format!(
                "{why}, and there are no paper cards (article > h3 > a[href=\"/papers/ID\"]): \
                 not a Daily Papers page but an error page, a login wall or a re-designed page \
                 (if re-designed, use ingest.huggingface_mode = \"api\")"
            ),
        ));
    }
    tracing::warn!(%why, cards = cards.len(), "Hugging Face page: read its cards (no abstracts)");
    Ok(cards)
}

/// Selected by `data-target`, never by position: other components carry the same class.
fn embedded_papers(html: &Html, day: Option<NaiveDate>) -> Result<Vec<Paper>, Embedded> {
    let unreadable = |why: &str| Embedded::Unreadable(why.to_string());
    let component = selector(r#"div.SVELTE_HYDRATER[data-target="DailyPapers"]"#);
    let props = html
        .select(&component)
        .next()
        .ok_or_else(|| unreadable("no div.SVELTE_HYDRATER[data-target=\"DailyPapers\"] element"))?
        .attr("data-props")
        .ok_or_else(|| unreadable("the DailyPapers element has no data-props"))?;
    // `attr` gives the value with its HTML entities already decoded.
    let props: PageProps = serde_json::from_str(props).map_err(|e| {
        Embedded::Unreadable(format!(
            "the DailyPapers data-props is not the expected JSON ({e})"
        ))
    })?;
    let page_day = props.date_string.map(|d| {
        NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
            let d: String = d.chars().take(40).collect();
            Embedded::WrongPage(format!("the page's dateString {d:?} is not a date"))
        })
    });
    let page_day = page_day.transpose()?;
    // Hugging Face may answer for one day with another day's page (or a page was saved on
    // another day): its papers would be filed under the wrong day.
    if let (Some(asked), Some(page)) = (day, page_day)
        && asked != page
    {
        return Err(Embedded::WrongPage(format!(
            "the page is for {page} (its dateString), not for {asked} as asked"
        )));
    }
    items_to_papers(props.daily_papers, day.or(page_day))
        .map_err(|e| Embedded::Unreadable(format!("the DailyPapers data-props: {e}")))
}

/// How far above a title, count or comment link its card's `article` may be. Cards are
/// shallow; a bounded walk keeps hostile nesting linear.
const CARD_DEPTH: usize = 16;

/// The server-rendered cards, in one pass over the elements: selecting within each
/// `article` would cost quadratic time on nested articles.
fn card_papers(html: &Html, day: Option<NaiveDate>) -> Result<Vec<Paper>, String> {
    let (article, link) = (selector("article"), selector(r#"h3 > a[href^="/papers/"]"#));
    let (checkbox, upvotes) = (selector("div[role=checkbox]"), selector("div.leading-none"));
    let comments = selector(r##"a[href$="#community"]"##);
    fn up_to<'a>(el: ElementRef<'a>, sel: &Selector) -> Option<ElementRef<'a>> {
        el.ancestors()
            .take(CARD_DEPTH)
            .filter_map(ElementRef::wrap)
            .find(|a| sel.matches(a))
    }
    let count = |el: ElementRef| {
        let text = el.text().collect::<String>().replace(',', "");
        match text.trim() {
            // How a card shows no upvotes (the embedded data says 0 for those papers).
            "-" => Some(0),
            t => t.parse::<i64>().ok().filter(|n| *n >= 0),
        }
    };
    // Per card, in page order: its title link, upvotes, comments.
    let mut cards: Vec<(Option<ElementRef>, Option<i64>, Option<i64>)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for el in html
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
    {
        let Some(card) = up_to(el, &article) else {
            continue;
        };
        let i = *index.entry(card.id()).or_insert_with(|| {
            cards.push((None, None, None));
            cards.len() - 1
        });
        let (title, up, comm) = &mut cards[i];
        if link.matches(&el) {
            title.get_or_insert(el);
        } else if comments.matches(&el) {
            *comm = comm.or_else(|| count(el));
        } else if upvotes.matches(&el) && up_to(el, &checkbox).is_some() {
            *up = up.or_else(|| count(el));
        }
    }
    // Articles without a paper link are something else on the page.
    let cards = cards
        .into_iter()
        .filter_map(|(a, up, comm)| Some((a?, up, comm)));
    cards
        .enumerate()
        .map(|(i, (a, up, comm))| {
            let href = a.attr("href").unwrap_or_default();
            let id = href
                .strip_prefix("/papers/")
                .unwrap_or_default()
                .split(['?', '#', '/'])
                .next()
                .unwrap_or_default();
            let (id, version) = ArxivId::parse_versioned(id)
                .map_err(|e| format!("paper card {i} ({href}): {e}"))?;
            let title = clean_text(&a.text().collect::<String>());
            let mut paper = Paper::new(id, title, String::new(), PaperSource::HuggingFace);
            paper.version = version;
            paper.featured_on = day;
            paper.upvotes = up;
            paper.comments = comm;
            Ok(paper)
        })
        .collect()
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("a constant, valid selector")
}

fn to_paper(item: Item, day: Option<NaiveDate>) -> Result<Paper, crate::domain::PaperError> {
    let p = item.paper;
    let (id, version) = ArxivId::parse_versioned(&p.id)?;
    let mut paper = Paper::new(
        id,
        clean_text(&p.title),
        clean_text(&p.summary),
        PaperSource::HuggingFace,
    );
    paper.version = version;
    paper.authors = p
        .authors
        .into_iter()
        .filter(|a| !a.hidden)
        .map(|a| clean_text(&a.name))
        .filter(|a| !a.is_empty())
        .collect();
    paper.published = date_of(&p.published_at);
    paper.featured_on = day.or_else(|| date_of(&p.submitted_on_daily_at));
    paper.upvotes = p.upvotes.filter(|n| *n >= 0);
    paper.comments = item.num_comments.filter(|n| *n >= 0);
    paper.github_repo = url(p.github_repo, true);
    paper.github_stars = p.github_stars.filter(|n| *n >= 0);
    paper.project_page = url(p.project_page, false);
    paper.summary = p
        .ai_summary
        .map(|s| clean_text(&s))
        .filter(|s| !s.is_empty());
    paper.organization = p
        .organization
        .or(item.organization)
        .and_then(|o| o.fullname.or(o.name))
        .map(|o| clean_text(&o))
        .filter(|o| !o.is_empty() && o.chars().count() <= 200);
    paper.keywords = p
        .ai_keywords
        .iter()
        .map(|k| clean_text(k).to_lowercase())
        .filter(|k| !k.is_empty())
        .collect();
    Ok(paper)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: &[u8] = include_bytes!("../../tests/fixtures/hf_json/daily_papers_2026-05-08.json");

    #[test]
    fn parses_the_captured_day() {
        let day = NaiveDate::from_ymd_opt(2026, 5, 8);
        let papers = parse_api(DAY, day).unwrap();
        assert_eq!(papers.len(), 37);
        let p = &papers[0];
        assert_eq!(p.id.as_str(), "2605.05242");
        assert!(
            p.title
                .starts_with("Beyond Semantic Similarity: Rethinking Retrieval for Agentic Search")
        );
        assert_eq!(
            (p.upvotes, p.comments, p.authors.len()),
            (Some(86), Some(3), 19)
        );
        assert_eq!(p.authors[0], "Zhuofeng Li");
        assert_eq!(
            p.github_repo.as_deref(),
            Some("https://github.com/DCI-Agent/DCI-Agent-Lite")
        );
        assert_eq!(p.github_stars, Some(101));
        assert_eq!(p.published, NaiveDate::from_ymd_opt(2026, 5, 3));
        assert_eq!(p.featured_on, day);
        assert!(p.keywords.contains(&"retrieval systems".to_string()));
        assert!(
            p.categories.is_empty(),
            "Hugging Face gives no arXiv categories"
        );
        let second = &papers[1];
        assert_eq!(
            (
                second.id.as_str(),
                second.upvotes,
                second.comments,
                second.authors.len()
            ),
            ("2605.06548", Some(68), Some(6), 11)
        );
        assert_eq!(second.github_repo, None);
    }

    #[test]
    fn refuses_what_is_not_a_day_of_papers() {
        assert!(parse_api(b"[]", None).unwrap().is_empty());
        for bad in [
            &b""[..],
            b"<html><body>502 Bad Gateway</body></html>",
            b"{\"error\":\"Invalid date\"}",
            b"{\"papers\":[]}",
            &DAY[..DAY.len() / 2],
        ] {
            let e = parse_api(bad, None).unwrap_err();
            assert_eq!(e.what, WHAT);
        }
        let e = parse_api(
            b"[{\"paper\":{\"id\":\"not-an-id\",\"title\":\"x\"}}]",
            None,
        )
        .unwrap_err();
        assert!(e.detail.contains("item 0"), "{e}");
        let e = parse_api(b"{\"error\":\"Invalid date\"}", None).unwrap_err();
        assert!(e.detail.contains("Invalid date"));
    }

    #[test]
    fn page_survives_hostile_input() {
        // Deep nesting: a card too far below its article is not read (an error here), one in
        // the innermost of nested articles is. Kept moderate: html5ever's tree building is
        // quadratic in depth.
        let card = r#"<h3><a href="/papers/2605.05242">A title</a></h3>"#;
        for (tag, found) in [("div", false), ("article", true), ("h3", true)] {
            let page = format!("<article>{}{card}", format!("<{tag}>").repeat(2_000));
            match parse_page(page.as_bytes(), None) {
                Ok(papers) => assert!(found && papers[0].title == "A title", "{tag}"),
                Err(e) => assert!(!found && e.detail.contains("no paper cards"), "{tag}: {e}"),
            }
        }
        let component = r#"<div class="SVELTE_HYDRATER" data-target="DailyPapers" data-props=""#;
        let huge = format!("{component}{}\"></div>", "[".repeat(8_000_000));
        let cut = format!("{component}{{&quot;dailyPapers&quot;:[{{&quot;paper&quot;:\"></div>");
        for page in [huge, cut] {
            let e = parse_page(page.as_bytes(), None).unwrap_err();
            assert!(e.detail.contains("not the expected JSON"), "{e}");
        }
        let e = parse_page(b"\xff\xfe<\x00h\x00t\x00m\x00l\x00>\x80\x81", None).unwrap_err();
        assert!(e.detail.contains("no paper cards"), "{e}");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000), cut in 0usize..212_953) {
            let _ = parse_api(&bytes, None);
            let _ = parse_api(&DAY[..cut.min(DAY.len())], None);
            let _ = parse_page(&bytes, None);
        }
    }
}
