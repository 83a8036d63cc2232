//! The daily digest mail: a view model built from the day's matches (pure), its subject
//! line, and its rendering to HTML + text through the mail templates.

use chrono::NaiveDate;
use serde::Serialize;
use tera::Context;

use super::templates::wrap;
use super::{RenderError, Templates};
use crate::domain::{ArxivId, Paper, PaperSource};
use crate::matching::Reason;

mod words;

use words::{plain, short_title, web_url};
pub use words::{reason_sentence, shorten_authors, summarize};

/// Subject lines stay under this many characters (phones show about 40–90).
const SUBJECT_MAX: usize = 90;
/// Below this many papers, the header also shows the day's top trending paper.
pub(crate) const THIN_LIST: usize = 3;

/// One paper as the digest shows it. Every string is plain text (control characters
/// removed, whitespace collapsed); the HTML template escapes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DigestPaper {
    pub id: ArxivId,
    pub title: String,
    /// The Hugging Face paper page for papers that came from there, else arXiv's abstract.
    pub url: String,
    /// "A, B, C et al." beyond three authors; empty when the source named none.
    pub authors: String,
    /// One or two sentences: the source's summary, or the abstract's opening.
    pub summary: String,
    pub upvotes: Option<i64>,
    pub comments: Option<i64>,
    pub code_url: Option<String>,
    /// Stars of `code_url`; only with a code link.
    pub stars: Option<i64>,
    pub project_url: Option<String>,
    /// Why it was chosen, as sentences.
    pub reasons: Vec<String>,
    /// `Some(v)` when this is arXiv version `v` of a paper the reader was already sent.
    pub new_version: Option<u32>,
    /// This reader's "more like this" and "fewer like this" links for the paper (signed for
    /// the reader and the paper, so made per message, not per run); empty when there are
    /// none (a sample rendering).
    pub more_url: String,
    pub fewer_url: String,
    /// The text part's title, authors and summary, wrapped at 72 columns under a 3-space
    /// indent, and its stats line ("12 upvotes, 3 comments, 40 stars on GitHub", empty when
    /// none is known): prepared once per paper and run, as the built-in `digest.txt` shows
    /// them, rather than through `| wrap` and a dozen conditions in every message (tera's
    /// filter calls alone were a tenth of the time a message took to deliver).
    pub title_text: String,
    pub authors_text: String,
    pub summary_text: String,
    pub stats_text: String,
    /// The text part's lines under the title, as the built-in `digest.txt` shows them: the
    /// authors, then the summary and the stats line each after a blank line; and the links
    /// after the reasons (the page, code, project page), one per line. Prepared once per
    /// paper and run like the fields above.
    pub about_text: String,
    pub links_text: String,
    /// The paper's card in the HTML digest (`paper.html`: title, authors, summary, stats
    /// and links), its CSS inlined when that happens at load; empty until
    /// [`Templates::prepare`] renders it (an empty card is rendered again). Delivery
    /// prepares each paper once per run, so that a message renders a dozen fewer template
    /// nodes per paper (they were half of rendering an HTML part).
    pub card_html: String,
}

impl DigestPaper {
    pub fn new(paper: &Paper, reasons: &[Reason]) -> Self {
        Self::of(paper).with_reasons(reasons)
    }

    /// What the paper shows in every reader's digest: all but the reasons. Delivery builds
    /// it once per paper and run.
    pub fn of(paper: &Paper) -> Self {
        let title = match plain(&paper.title) {
            t if t.is_empty() => format!("arXiv:{}", paper.id),
            t => t,
        };
        let url = match paper.source {
            PaperSource::HuggingFace => format!("https://huggingface.co/papers/{}", paper.id),
            PaperSource::ArxivRss | PaperSource::ArxivApi => paper.id.abs_url(),
        };
        let summary = paper
            .summary
            .as_deref()
            .map(summarize)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| summarize(&paper.abstract_text));
        let code_url = paper.github_repo.as_deref().and_then(web_url);
        let stars = code_url.as_ref().and(paper.github_stars);
        let authors = shorten_authors(&paper.authors);
        let text = |s: &str| wrap(s, TEXT_WIDTH, TEXT_INDENT, TEXT_INDENT);
        let (authors_text, summary_text) = (text(&authors), text(&summary));
        let stats_text = stats_text(paper.upvotes, paper.comments, stars);
        let project_url = paper.project_page.as_deref().and_then(web_url);
        let mut about_text = String::new();
        if !authors.is_empty() {
            about_text += &format!("   {authors_text}\n");
        }
        if !summary.is_empty() {
            about_text += &format!("\n   {summary_text}\n");
        }
        match stats_text.is_empty() {
            false => about_text += &format!("\n   {stats_text}\n"),
            true => about_text.push('\n'),
        }
        let mut links_text = format!("   {url}\n");
        if let Some(code) = &code_url {
            links_text += &format!("   Code: {code}\n");
        }
        if let Some(project) = &project_url {
            links_text += &format!("   Project: {project}\n");
        }
        Self {
            id: paper.id.clone(),
            title_text: text(&title),
            authors_text,
            summary_text,
            stats_text,
            about_text,
            links_text,
            title,
            url,
            authors,
            summary,
            upvotes: paper.upvotes,
            comments: paper.comments,
            stars,
            code_url,
            project_url,
            reasons: Vec::new(),
            new_version: None,
            more_url: String::new(),
            fewer_url: String::new(),
            card_html: String::new(),
        }
    }

    /// Why this reader gets it.
    pub fn with_reasons(mut self, reasons: &[Reason]) -> Self {
        let mut sentences: Vec<String> = Vec::with_capacity(reasons.len());
        for s in reasons.iter().map(reason_sentence) {
            if !s.is_empty() && !sentences.contains(&s) {
                sentences.push(s);
            }
        }
        self.reasons = sentences;
        self
    }

    /// The reader's "more like this" and "fewer like this" links for this paper.
    pub fn with_rating_links(mut self, more_url: String, fewer_url: String) -> Self {
        self.more_url = more_url;
        self.fewer_url = fewer_url;
        self
    }

    /// Flag this as a new arXiv version of a paper already sent to the reader.
    pub(crate) fn with_new_version(mut self, version: u32) -> Self {
        self.new_version = Some(version);
        self
    }
}

/// The text part's line width and the indent of a paper's lines under its number.
const TEXT_WIDTH: usize = 72;
const TEXT_INDENT: usize = 3;

/// "12 upvotes, 1 comment, 40 stars on GitHub": what is known and not zero.
fn stats_text(upvotes: Option<i64>, comments: Option<i64>, stars: Option<i64>) -> String {
    [(upvotes, "upvote"), (comments, "comment"), (stars, "star")]
        .into_iter()
        .filter_map(|(n, what)| n.filter(|n| *n != 0).map(|n| (n, what)))
        .map(|(n, what)| {
            let s = if n.abs() == 1 { "" } else { "s" };
            let on = if what == "star" { " on GitHub" } else { "" };
            format!("{n} {what}{s}{on}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything one reader's digest shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DigestView {
    pub date: NaiveDate,
    pub papers: Vec<DigestPaper>,
    /// Nothing matched the reader: `papers` are the day's trending papers instead.
    pub trending_instead: bool,
    /// The best of the week to `date` (a weekly reader), not of that day alone.
    pub weekly: bool,
    /// The day's top trending paper, shown in the header when the reader's own list is thin
    /// (fewer than [`THIN_LIST`] papers).
    pub top_trending: Option<DigestPaper>,
    pub preferences_url: String,
    pub unsubscribe_url: String,
    /// "View in browser".
    pub browser_url: String,
    pub operator_name: String,
    /// The operator's postal address (config `operator.postal_address`); may be empty.
    pub operator_address: String,
}

/// A rendered mail, ready to be built into a message.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedMail {
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl DigestView {
    /// The line mail clients show after the subject: the first titles.
    fn preheader(&self) -> String {
        let titles: Vec<&str> = self
            .papers
            .iter()
            .take(3)
            .map(|p| p.title.as_str())
            .collect();
        titles.join(" · ")
    }

    /// The top trending paper when the list is thin, unless it is already in the list.
    fn header_trending(&self) -> Option<&DigestPaper> {
        self.top_trending
            .as_ref()
            .filter(|_| !self.trending_instead && self.papers.len() < THIN_LIST)
            .filter(|t| self.papers.iter().all(|p| p.id != t.id))
    }

    /// The subject line: the date, the count and the first paper's title, shortened to fit
    /// [`SUBJECT_MAX`] characters. Paper titles are the only text in it not ours.
    pub fn subject(&self) -> String {
        let day = match self.weekly {
            false => self.date.format("%a %-d %b").to_string(),
            true => format!("the week to {}", self.date.format("%a %-d %b")),
        };
        let n = self.papers.len();
        let (head, title) = match self.papers.first() {
            None => return format!("Your papers for {day}: nothing new today"),
            Some(first) if self.trending_instead => (
                format!("Nothing matched on {day}; trending: "),
                &first.title,
            ),
            Some(first) if n == 1 => (format!("Your paper for {day}: "), &first.title),
            Some(first) => (
                format!("Your papers for {day}: {n} new, led by "),
                &first.title,
            ),
        };
        let budget = SUBJECT_MAX.saturating_sub(head.chars().count());
        head + &short_title(&plain(title), budget)
    }
}

/// `paper` with its HTML card rendered (see [`DigestPaper::card_html`]).
pub fn prepare(templates: &Templates, mut paper: DigestPaper) -> Result<DigestPaper, RenderError> {
    let ctx = Context::from_serialize(&paper).map_err(|source| RenderError::Template {
        name: "paper.html".into(),
        source,
    })?;
    // Not `render_html`: the card is part of a digest, which is made ASCII (and, if
    // configured, CSS-inlined per message) as a whole.
    let mut card = templates.render("paper.html", &ctx)?;
    // The digest template puts the card on a line of its own.
    card.truncate(card.trim_end().len());
    paper.card_html = card;
    Ok(paper)
}

/// Render a digest: subject, HTML (CSS inlined) and text. Papers not prepared yet are
/// prepared here.
pub fn render(templates: &Templates, view: &DigestView) -> Result<RenderedMail, RenderError> {
    let template = |source| RenderError::Template {
        name: "digest".into(),
        source,
    };
    let prepared;
    let view = match view.papers.iter().any(|p| p.card_html.is_empty()) {
        false => view,
        true => {
            let mut v = view.clone();
            v.papers = std::mem::take(&mut v.papers)
                .into_iter()
                .map(|p| match p.card_html.is_empty() {
                    true => prepare(templates, p),
                    false => Ok(p),
                })
                .collect::<Result<_, _>>()?;
            prepared = v;
            &prepared
        }
    };
    let subject = view.subject();
    let mut ctx = Context::from_serialize(view).map_err(template)?;
    ctx.insert("subject", &subject);
    let date_long = view.date.format("%A %-d %B %Y").to_string();
    ctx.insert(
        "date_long",
        &match view.weekly {
            false => date_long,
            true => format!("the week to {date_long}"),
        },
    );
    ctx.insert("count", &view.papers.len());
    ctx.insert("header_trending", &view.header_trending());
    ctx.insert("preheader", &view.preheader());
    let html = templates.render_html("digest.html", &ctx)?;
    let text = templates.render_text("digest.txt", &ctx)?;
    Ok(RenderedMail {
        subject,
        html,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::words::{SUMMARY_MAX, plain_prefix};
    use super::*;
    use crate::ingest::huggingface::parse_api;

    const DAY: &[u8] =
        include_bytes!("../../../tests/fixtures/hf_json/daily_papers_2026-05-08.json");

    fn reason(interest: &str, words: &[&str]) -> Reason {
        Reason {
            interest: interest.into(),
            words: words.iter().map(|w| w.to_string()).collect(),
            liked: None,
        }
    }

    fn day() -> Vec<Paper> {
        parse_api(DAY, NaiveDate::from_ymd_opt(2026, 5, 8)).unwrap()
    }

    fn view(papers: Vec<DigestPaper>) -> DigestView {
        DigestView {
            date: NaiveDate::from_ymd_opt(2026, 5, 8).unwrap(),
            papers,
            trending_instead: false,
            weekly: false,
            top_trending: None,
            preferences_url: "https://papers.example.org/preferences/tok-pref".into(),
            unsubscribe_url: "https://papers.example.org/unsubscribe/tok-unsub".into(),
            browser_url: "https://papers.example.org/digest/tok-view".into(),
            operator_name: "Example Lab papers".into(),
            operator_address: "Example Lab, 1 Main Street, 12345 Springfield".into(),
        }
    }

    fn digest_of(papers: &[Paper], n: usize) -> Vec<DigestPaper> {
        let reasons = [
            reason("Robotics", &["world model", "sim-to-real"]),
            reason("your keywords", &["agents"]),
            reason("trending today", &[]),
        ];
        papers
            .iter()
            .cycle()
            .take(n)
            .enumerate()
            .map(|(i, p)| DigestPaper::new(p, &reasons[i % 2..]))
            .collect()
    }

    /// The captured day with every mix of counts the stats line can show (one and zero
    /// included), with and without code and project links, and a paper with no authors and
    /// a title of markup, quotes and accents.
    fn varied_papers() -> Vec<Paper> {
        let mut papers = day();
        for (i, p) in papers.iter_mut().enumerate() {
            p.upvotes = [None, Some(0), Some(1), Some(12)][i % 4];
            p.comments = [Some(1), None, Some(3), Some(0)][i % 4];
            p.github_repo = (i % 3 != 0).then(|| "https://github.com/a/b".to_string());
            p.github_stars = [Some(1), Some(40), None][i % 3];
            p.project_page = (i % 2 == 0).then(|| "https://example.org/<p>".to_string());
            if i == 1 {
                p.title = "Ünïcode & <tags> \"quoted\"".into();
                p.authors.clear();
            }
        }
        papers
    }

    /// `digest.txt` as it was before the text fields were prepared per paper: an operator's
    /// copy of it, with `| wrap` and the stats conditions, still renders the same mail.
    const DIGEST_TXT_WITH_FILTERS: &str = r#"{% extends "layout.txt" %}
{% block content %}{% if trending_instead %}Trending papers for {{ date_long }}

{{ "Nothing matched your interests today, so here are the day's trending papers instead." | wrap }}
{% else %}Your papers for {{ date_long }}

{% if count == 1 %}1 new paper matched your interests.{% elif count == 0 %}No new paper matched your interests today.{% else %}{{ count }} new papers matched your interests.{% endif %}
{% endif %}{% if header_trending %}
Trending today: {{ header_trending.title | wrap(indent=2, first=16) }}
  {{ header_trending.url }}
{% endif %}{% for p in papers %}

{{ loop.index }}. {{ p.title | wrap(indent=3) }}
{% if p.new_version %}   [new version v{{ p.new_version }}]
{% endif %}{% if p.authors %}   {{ p.authors | wrap(indent=3) }}
{% endif %}{% if p.summary %}
   {{ p.summary | wrap(indent=3) }}
{% endif %}{% if p.upvotes or p.comments or p.stars %}
   {% if p.upvotes %}{{ p.upvotes }} upvote{{ p.upvotes | pluralize }}{% if p.comments or p.stars %}, {% endif %}{% endif %}{% if p.comments %}{{ p.comments }} comment{{ p.comments | pluralize }}{% if p.stars %}, {% endif %}{% endif %}{% if p.stars %}{{ p.stars }} star{{ p.stars | pluralize }} on GitHub{% endif %}
{% else %}
{% endif %}{% if p.reasons %}   Why: {{ p.reasons | join(sep="; ") | wrap(indent=3, first=8) }}
{% endif %}   {{ p.url }}
{% if p.code_url %}   Code: {{ p.code_url }}
{% endif %}{% if p.project_url %}   Project: {{ p.project_url }}
{% endif %}{% endfor %}
{% endblock content %}
{% block footer %}Preferences: {{ preferences_url }}
Unsubscribe: {{ unsubscribe_url }}
View in browser: {{ browser_url }}
{% endblock footer %}
"#;

    #[test]
    fn prepared_text_fields_render_what_the_filters_did() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("digest.txt"), DIGEST_TXT_WITH_FILTERS).unwrap();
        let before = Templates::load(Some(dir.path()), super::super::CssInlining::AtLoad).unwrap();
        let now = Templates::builtin().unwrap();
        let papers = varied_papers();
        for n in [1, 5, 12] {
            let v = view(digest_of(&papers, n));
            let a = render(&before, &v).unwrap();
            let b = render(&now, &v).unwrap();
            assert_eq!(a.text, b.text);
            assert!(b.text.contains("1 comment\n"), "{}", b.text);
        }
    }

    /// `digest.html` as it was before each paper's card was rendered once per run (the card
    /// spelled out in place): an operator's copy of it still renders the same mail as the
    /// built-in one with cards.
    fn digest_html_without_cards() -> String {
        const CARD: &str = r#"<a class="title" href="{{ p.url }}">{{ p.title }}</a>
{% if p.authors %}<div class="authors">{{ p.authors }}</div>{% endif %}
{% if p.summary %}<div class="summary">{{ p.summary }}</div>{% endif %}
<div class="stats">{% if p.upvotes %}▲ {{ p.upvotes }} upvote{{ p.upvotes | pluralize }} &nbsp; {% endif %}{% if p.comments %}{{ p.comments }} comment{{ p.comments | pluralize }} &nbsp; {% endif %}{% if p.code_url %}<a href="{{ p.code_url }}">Code</a>{% if p.stars %} ★ {{ p.stars }}{% endif %} &nbsp; {% endif %}{% if p.project_url %}<a href="{{ p.project_url }}">Project page</a>{% endif %}</div>
"#;
        let builtin = include_str!("../../../email-templates/digest.html");
        let with_card = "{{ p.card_html | safe }}\n";
        assert!(builtin.contains(with_card));
        builtin.replace(with_card, CARD)
    }

    #[test]
    fn cards_render_what_the_whole_template_did() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("digest.html"), digest_html_without_cards()).unwrap();
        let papers = varied_papers();
        for inlining in [
            super::super::CssInlining::AtLoad,
            super::super::CssInlining::PerMessage,
        ] {
            let before = Templates::load(Some(dir.path()), inlining).unwrap();
            let now = Templates::load(None, inlining).unwrap();
            for n in [1, 5, 12] {
                let v = view(digest_of(&papers, n));
                let a = render(&before, &v).unwrap();
                // Prepared ahead, as delivery does, and at render, as the browser page does.
                let ahead = DigestView {
                    papers: v
                        .papers
                        .iter()
                        .map(|p| prepare(&now, p.clone()).unwrap())
                        .collect(),
                    ..v.clone()
                };
                let styled = inlining == super::super::CssInlining::AtLoad;
                assert!(
                    ahead
                        .papers
                        .iter()
                        .all(|p| p.card_html.contains("class=\"title\"")
                            && p.card_html.contains(" style=") == styled)
                );
                for b in [render(&now, &v).unwrap(), render(&now, &ahead).unwrap()] {
                    assert_eq!(a.html, b.html, "{inlining:?}");
                }
            }
        }
    }

    #[test]
    fn an_operators_card_is_used_and_styled_by_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("paper.html"),
            "<div class=\"summary\">{{ title }} (own card)</div>\n",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path()), super::super::CssInlining::AtLoad).unwrap();
        let papers = day();
        let out = render(&t, &view(digest_of(&papers, 2))).unwrap();
        assert_eq!(
            out.html.matches("(own card)</div>").count(),
            2,
            "{}",
            out.html
        );
        assert!(
            out.html
                .contains("<div class=\"summary\" style=\"margin:6px 0\">")
        );
        assert!(!out.html.contains("class=\"title\" href"));
    }

    #[test]
    fn summary_stops_at_a_sentence_end_not_at_abbreviations_or_decimals() {
        for (abstract_text, summary) in [
            (
                "We scale models, e.g. GPT-3.5 and Llama, to 3.5B parameters as in Smith et al. (2020). Results follow. More text here that is not wanted at all in the summary because it is the third.",
                "We scale models, e.g. GPT-3.5 and Llama, to 3.5B parameters as in Smith et al. (2020). Results follow.",
            ),
            (
                "As shown in Fig. 3 and Eq. 2, J. Smith's method (i.e. ours) wins by 2.5 points on the U.S. benchmark, while the prior approach, which is considerably slower and older, loses. Second sentence is here.",
                "As shown in Fig. 3 and Eq. 2, J. Smith's method (i.e. ours) wins by 2.5 points on the U.S. benchmark, while the prior approach, which is considerably slower and older, loses.",
            ),
            (
                "Does it work? Yes! It does, \"mostly.\" Then more.",
                "Does it work? Yes!",
            ),
            ("No final period", "No final period"),
            (
                "Ends with approx. three words. Next.",
                "Ends with approx. three words. Next.",
            ),
        ] {
            assert_eq!(summarize(abstract_text), summary, "{abstract_text}");
        }
    }

    #[test]
    fn summary_takes_a_second_sentence_only_after_a_short_first_one() {
        let long_first = format!("{}end.", "word ".repeat(30));
        let text = format!("{long_first} Second sentence.");
        assert_eq!(summarize(&text), long_first);
        // Two short sentences that would pass the limit together: only the first.
        let first = format!("{}end.", "short ".repeat(15));
        let second = format!("Longer {}end.", "longer ".repeat(40));
        assert_eq!(summarize(&format!("{first} {second}")), first);
    }

    #[test]
    fn a_very_long_sentence_is_cut_at_a_word_with_an_ellipsis() {
        let text = "transformers ".repeat(60) + "end.";
        let s = summarize(&text);
        assert!(s.chars().count() <= SUMMARY_MAX, "{}", s.len());
        assert!(s.ends_with("transformers…"), "{s}");
        // One unbroken token is cut inside it rather than lost.
        let s = summarize(&"x".repeat(1000));
        assert_eq!(s.chars().count(), SUMMARY_MAX);
        assert!(s.ends_with('…'));
        // Multi-byte characters are cut on a character boundary.
        let s = summarize(&"Ünïcödé wörds ".repeat(60));
        assert!(s.chars().count() <= SUMMARY_MAX && s.ends_with('…'));
        // ... including the character where the ellipsis goes (it used to panic).
        let s = summarize(&format!("{}ö and more", "x".repeat(SUMMARY_MAX - 1)));
        assert_eq!(s.chars().count(), SUMMARY_MAX);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn empty_abstract_and_empty_source_summary() {
        assert_eq!(summarize(""), "");
        assert_eq!(summarize(" \n\t "), "");
        let mut p = day()[0].clone();
        p.summary = Some("  ".into());
        p.abstract_text = "From the abstract. Then more.".into();
        assert_eq!(
            DigestPaper::new(&p, &[]).summary,
            "From the abstract. Then more."
        );
        p.abstract_text.clear();
        p.summary = None;
        assert_eq!(DigestPaper::new(&p, &[]).summary, "");
        p.summary = Some("The source's own summary.".into());
        assert_eq!(
            DigestPaper::new(&p, &[]).summary,
            "The source's own summary."
        );
    }

    #[test]
    fn plain_text_drops_controls_and_invisible_characters() {
        assert_eq!(plain("  a\r\n\tb\u{0}c  "), "a b c");
        assert_eq!(plain("x \u{202E}\u{200B} y\u{FEFF}z"), "x yz");
        assert_eq!(plain("Ünï  cödé"), "Ünï cödé");
        assert_eq!(plain(""), "");
        // A prefix stops after the word that reaches the limit.
        assert_eq!(plain_prefix("one two three four", 5), "one two");
    }

    #[test]
    fn authors_are_shortened() {
        let names = |n: usize| (1..=n).map(|i| format!("Author {i}")).collect::<Vec<_>>();
        assert_eq!(shorten_authors(&names(0)), "");
        assert_eq!(shorten_authors(&names(1)), "Author 1");
        assert_eq!(shorten_authors(&names(3)), "Author 1, Author 2, Author 3");
        assert_eq!(
            shorten_authors(&names(19)),
            "Author 1, Author 2, Author 3 et al."
        );
        let messy = [
            "  Ada\nLovelace ".to_string(),
            String::new(),
            "\u{0}".into(),
        ];
        assert_eq!(shorten_authors(&messy), "Ada Lovelace");
    }

    #[test]
    fn reasons_read_as_sentences() {
        for (r, sentence) in [
            (
                reason("Robotics", &["world model", "sim-to-real", "world model"]),
                "Matches Robotics: world model, sim-to-real",
            ),
            (reason("Robotics", &[]), "Matches Robotics"),
            (
                reason("your keywords", &["a", "b", "c", "d", "e"]),
                "Matches your keywords: a, b, c, d, …",
            ),
            (
                reason("your authors", &["Yann LeCun"]),
                "By Yann LeCun, whom you follow",
            ),
            (
                reason("your authors", &["A B", "C D", "E F"]),
                "By A B, C D and E F, whom you follow",
            ),
            (reason("papers you liked", &[]), "Like papers you liked"),
            (
                Reason {
                    liked: Some("Attention Is All You Need".into()),
                    ..reason("papers you liked", &["attention"])
                },
                "Because you liked “Attention Is All You Need”",
            ),
            (
                Reason {
                    liked: Some(
                        "MARBLE: Multi-Aspect Reward Balance for Diffusion RL and more".into(),
                    ),
                    ..reason("papers you liked", &[])
                },
                "Because you liked “MARBLE”",
            ),
            (
                Reason {
                    liked: Some(format!(
                        "{} Schrödinger bridges",
                        "Very long words ".repeat(4)
                    )),
                    ..reason("papers you liked", &[])
                },
                "Because you liked “Very long words Very long words Very long words Very long…”",
            ),
            (
                Reason {
                    liked: Some(format!("Schr{}ödinger and more", "x".repeat(55))),
                    ..reason("papers you liked", &[])
                },
                "Because you liked “Schrxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…”",
            ),
            (
                Reason {
                    liked: Some(" \u{202E}\n ".into()),
                    ..reason("papers you liked", &[])
                },
                "Like papers you liked",
            ),
            (reason("trending today", &[]), "Trending today"),
        ] {
            assert_eq!(reason_sentence(&r), sentence);
        }
        // The same sentence twice is shown once.
        let p = DigestPaper::new(
            &day()[0],
            &[reason("trending today", &[]), reason("trending today", &[])],
        );
        assert_eq!(p.reasons, ["Trending today"]);
    }

    #[test]
    fn links_go_to_hugging_face_or_arxiv_and_only_to_the_web() {
        let mut p = day()[0].clone();
        let d = DigestPaper::new(&p, &[]);
        assert_eq!(d.url, "https://huggingface.co/papers/2605.05242");
        assert_eq!(
            (d.code_url.as_deref(), d.stars),
            (
                Some("https://github.com/DCI-Agent/DCI-Agent-Lite"),
                Some(101)
            )
        );
        p.source = PaperSource::ArxivRss;
        p.github_repo = Some("javascript:alert(1)".into());
        p.project_page = Some("https://example.org/x\" onmouseover=\"y".into());
        let d = DigestPaper::new(&p, &[]);
        assert_eq!(d.url, "https://arxiv.org/abs/2605.05242");
        assert_eq!((d.code_url, d.stars, d.project_url), (None, None, None));
    }

    #[test]
    fn subject_lines() {
        let papers = digest_of(&day(), 7);
        let mut v = view(papers.clone());
        assert_eq!(
            v.subject(),
            "Your papers for Fri 8 May: 7 new, led by Beyond Semantic Similarity"
        );
        v.papers.truncate(1);
        v.papers[0].title = "A\r\nBcc: x@example.com\u{202E} title".into();
        assert_eq!(
            v.subject(),
            "Your paper for Fri 8 May: A Bcc: x@example.com title"
        );
        v.papers[0].title = "word ".repeat(40);
        let s = v.subject();
        assert!(
            s.chars().count() <= SUBJECT_MAX && s.ends_with("word…"),
            "{s}"
        );
        v.trending_instead = true;
        v.papers = papers;
        assert!(
            v.subject()
                .starts_with("Nothing matched on Fri 8 May; trending: Beyond Semantic")
        );
        v.papers.clear();
        v.trending_instead = false;
        assert_eq!(v.subject(), "Your papers for Fri 8 May: nothing new today");
        v.weekly = true;
        assert_eq!(
            v.subject(),
            "Your papers for the week to Fri 8 May: nothing new today"
        );
        v.weekly = false;
        for p in digest_of(&day(), 37) {
            let s = view(vec![p.clone(), p]).subject();
            assert!(s.chars().count() <= SUBJECT_MAX, "{s}");
        }
    }

    /// Tags in `s` that look like HTML elements.
    fn has_html_tag(s: &str) -> bool {
        s.match_indices('<').any(|(i, _)| {
            s[i + 1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!')
        })
    }

    #[test]
    fn renders_ten_real_papers() {
        let papers = day();
        let digest = digest_of(&papers, 10);
        let v = view(digest.clone());
        let out = render(&Templates::builtin().unwrap(), &v).unwrap();
        assert_eq!(out.subject, v.subject());
        for p in &digest {
            let escaped = crate::mail::escape_html(&p.title);
            assert!(out.html.contains(&escaped), "HTML lacks {}", p.title);
            // The text part wraps titles: compare words.
            let words = out.text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(words.contains(&p.title), "text lacks {}", p.title);
            for link in [Some(&p.url), p.code_url.as_ref(), p.project_url.as_ref()]
                .into_iter()
                .flatten()
            {
                assert!(out.html.contains(&format!("href=\"{link}\"")), "{link}");
                assert!(
                    out.text.lines().any(|l| l
                        .trim()
                        .trim_start_matches("Code: ")
                        .trim_start_matches("Project: ")
                        == link),
                    "text link {link} on its own line"
                );
            }
            assert!(out.html.contains(&crate::mail::escape_html(&p.reasons[0])));
        }
        // CSS inlined; only the @media rules are left in a <style>.
        let styles: Vec<&str> = out.html.split("<style").skip(1).collect();
        assert_eq!(styles.len(), 1, "one <style> block");
        let block = styles[0].split("</style>").next().unwrap();
        assert!(
            block.contains("@media (max-width") && block.contains("prefers-color-scheme: dark")
        );
        let outside_media = block.split("@media").next().unwrap();
        assert!(
            !outside_media.contains('{'),
            "no rule outside @media: {outside_media}"
        );
        assert!(out.html.contains(" style=\"") && out.html.matches(" style=\"").count() > 50);
        assert!(!out.html.to_lowercase().contains("<script"));
        assert!(!out.html.contains("<link") && !out.html.contains("<img"));
        assert!(!out.html.contains("{{") && !out.html.contains("{%"));
        assert!(!out.html.contains('\u{E000}'), "no placeholder left");
        // Text: no HTML, lines of about 72 columns but for links.
        assert!(!has_html_tag(&out.text), "{}", out.text);
        for line in out.text.lines().filter(|l| !l.contains("://")) {
            assert!(line.chars().count() <= 74, "{line}");
        }
        assert!(out.text.contains("\n1. Beyond Semantic Similarity"));
        assert!(out.text.contains("\n10. "));
        // Footers.
        for part in [&out.html, &out.text] {
            for needle in [
                &v.preferences_url,
                &v.unsubscribe_url,
                &v.browser_url,
                &v.operator_address,
                &v.operator_name,
            ] {
                assert!(part.contains(needle.as_str()), "{needle}");
            }
        }
        assert!(out.html.contains(">View in browser</a>") && out.html.contains(">Unsubscribe</a>"));
    }

    #[test]
    fn fifty_papers_stay_under_100_kb() {
        let mut papers = digest_of(&day(), 50);
        for (i, p) in papers.iter_mut().enumerate() {
            if i % 5 == 0 {
                p.new_version = Some(2);
            }
            // Rating links as long as real ones: a 66-character token and the paper.
            let link = |r: &str| {
                format!(
                    "https://papers.example.org/rate/{}/{}/{r}",
                    "T".repeat(66),
                    p.id
                )
            };
            *p = p.clone().with_rating_links(link("more"), link("fewer"));
        }
        let out = render(&Templates::builtin().unwrap(), &view(papers)).unwrap();
        assert!(out.html.len() < 100_000, "{} bytes", out.html.len());
        assert!(out.html.contains("new version v2"));
        assert!(out.text.contains("[new version v2]"));
        assert_eq!(out.html.matches(">Fewer like this</a>").count(), 50);
        assert_eq!(out.text.matches("   Fewer like this: https://").count(), 50);
    }

    #[test]
    fn hostile_text_is_escaped_in_html_and_plain_in_text() {
        let mut p = day()[0].clone();
        p.title = "Attack <b>&\"\u{7}</b>\r\n<script>alert(1)</script>".into();
        p.abstract_text = "<img src=x onerror=alert(1)> Ignore\u{0} this\u{1b}[31m. Rest.".into();
        p.summary = None;
        p.authors = vec!["<i>Eve</i>".into()];
        let d = DigestPaper::new(&p, &[reason("<u>Topic</u>", &["<w>"])]);
        assert!(!d.title.chars().any(char::is_control));
        let out = render(&Templates::builtin().unwrap(), &view(vec![d])).unwrap();
        // A control character counts as a space.
        assert!(
            out.html
                .contains("Attack &lt;b&gt;&amp;&quot; &lt;/b&gt; &lt;script&gt;")
        );
        assert!(out.html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(out.html.contains("&lt;i&gt;Eve&lt;/i&gt;"));
        assert!(
            out.html
                .contains("Matches &lt;u&gt;Topic&lt;/u&gt;: &lt;w&gt;")
        );
        assert!(!out.html.contains("<b>") && !out.html.to_lowercase().contains("<script"));
        assert!(!out.subject.contains(['\r', '\n', '\u{7}']));
        // The text part shows the text as it is, without control characters.
        assert!(
            out.text
                .contains("Attack <b>&\" </b> <script>alert(1)</script>")
        );
        assert!(!out.text.chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn thin_lists_show_the_top_trending_paper_and_trending_instead_says_so() {
        let papers = digest_of(&day(), 5);
        let mut v = view(papers[..2].to_vec());
        v.top_trending = Some(papers[4].clone());
        let t = Templates::builtin().unwrap();
        let out = render(&t, &v).unwrap();
        assert!(out.html.contains("class=\"label\""));
        assert!(
            out.html
                .contains(&crate::mail::escape_html(&papers[4].title))
        );
        assert!(out.text.contains("Trending today: "));
        // Not when the list is long enough, nor when the paper is already in it.
        v.papers = papers[..3].to_vec();
        assert!(!render(&t, &v).unwrap().html.contains("class=\"label\""));
        v.papers = vec![papers[4].clone()];
        assert!(!render(&t, &v).unwrap().html.contains("class=\"label\""));
        // Trending instead of matches: said in the header of both parts.
        v.papers = papers;
        v.trending_instead = true;
        let out = render(&t, &v).unwrap();
        assert!(out.html.contains("Nothing matched your interests today"));
        assert!(out.html.contains("Trending papers for Friday 8 May 2026"));
        assert!(out.text.contains("Nothing matched your interests today"));
    }

    /// Normalise HTML through one parse and serialisation, so two renderings compare by
    /// structure rather than by the spelling of their escapes.
    fn normalise(html: &str) -> String {
        css_inline::CSSInliner::options()
            .inline_style_tags(false)
            .keep_style_tags(true)
            .load_remote_stylesheets(false)
            .build()
            .inline(html)
            .unwrap()
    }

    #[test]
    fn css_inlined_at_load_gives_the_same_mail_as_css_inlined_per_message() {
        let mut papers = digest_of(&day(), 12);
        papers[3].new_version = Some(3);
        papers[4].title = "Quotes ' \" & <tags>".into();
        let at_load = Templates::builtin().unwrap();
        let per_message = Templates::load(None, crate::mail::CssInlining::PerMessage).unwrap();
        let mut v = view(papers.clone());
        for trending_instead in [false, true] {
            v.trending_instead = trending_instead;
            let a = render(&at_load, &v).unwrap();
            let b = render(&per_message, &v).unwrap();
            assert_eq!(normalise(&a.html), normalise(&b.html));
            assert_eq!(a.text, b.text);
        }
        v.papers.truncate(1);
        v.top_trending = Some(papers[5].clone());
        let a = render(&at_load, &v).unwrap();
        let b = render(&per_message, &v).unwrap();
        assert_eq!(normalise(&a.html), normalise(&b.html));
    }
}
