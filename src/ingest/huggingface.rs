//! Hugging Face Daily Papers: the JSON API (`/api/daily_papers?date=D`).

use chrono::NaiveDate;
use serde::Deserialize;

use super::ParseError;
use crate::domain::{ArxivId, Paper, PaperSource, clean_text};

const WHAT: &str = "Hugging Face daily papers response";

#[derive(Deserialize)]
struct Item {
    paper: HfPaper,
    #[serde(rename = "numComments")]
    num_comments: Option<i64>,
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

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000), cut in 0usize..212_953) {
            let _ = parse_api(&bytes, None);
            let _ = parse_api(&DAY[..cut.min(DAY.len())], None);
        }
    }
}
