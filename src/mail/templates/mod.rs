//! The mail templates: the built-in set, or the operator's files where they have them, with
//! the CSS of the HTML templates' `<style>` blocks inlined into `style` attributes.
//!
//! Inlining with `css-inline` parses the whole HTML document each time (it cannot keep a
//! parsed stylesheet), which costs several times the template rendering itself. So by
//! default it happens once, at load: the template tags are swapped for placeholders that
//! survive an HTML parse (a comment in text, private-use characters in attribute values),
//! the template is inlined, and the tags are put back. Values filled in later are escaped
//! text, so they cannot change which rule applies to which element. What that asks of a
//! template (checked at load where it can be):
//! - template tags in text or inside quoted attribute values, never between attributes
//!   (`<td{% if x %} class="a"{% endif %}>` cannot be inlined ahead);
//! - each branch of an `if` and the body of a `for` hold whole elements, and a `for` over
//!   table rows sits inside an explicit `<tbody>` (else the parser moves the loop's end);
//! - the CSS is in `<style>` blocks of the layout (a template that extends another gets the
//!   rules of that one's `<style>` blocks, a fragment such as `paper.html` those of the
//!   template named in [`FRAGMENTS`]), with selectors that do not reach across the
//!   layout/child or fragment boundary; `@media` rules stay in a `<style>` in the head, for phones and
//!   dark mode.

use std::collections::HashMap;
use std::path::Path;

use css_inline::CSSInliner;
use tera::{Context, Tera, Value};

use super::{RenderError, SetupError, escape_html};

mod inline;

use inline::{document_inliner, inline_template};

/// The built-in templates, by name.
const BUILTIN: &[(&str, &str)] = &[
    (
        "layout.html",
        include_str!("../../../email-templates/layout.html"),
    ),
    (
        "layout.txt",
        include_str!("../../../email-templates/layout.txt"),
    ),
    (
        "confirmation.html",
        include_str!("../../../email-templates/confirmation.html"),
    ),
    (
        "confirmation.txt",
        include_str!("../../../email-templates/confirmation.txt"),
    ),
    (
        "already_subscribed.html",
        include_str!("../../../email-templates/already_subscribed.html"),
    ),
    (
        "already_subscribed.txt",
        include_str!("../../../email-templates/already_subscribed.txt"),
    ),
    (
        "welcome.html",
        include_str!("../../../email-templates/welcome.html"),
    ),
    (
        "welcome.txt",
        include_str!("../../../email-templates/welcome.txt"),
    ),
    (
        "digest.html",
        include_str!("../../../email-templates/digest.html"),
    ),
    (
        "digest.txt",
        include_str!("../../../email-templates/digest.txt"),
    ),
    (
        "paper.html",
        include_str!("../../../email-templates/paper.html"),
    ),
];

/// Parts of a mail rendered on their own and put into it as HTML, each with the template
/// whose `<style>` blocks style it.
const FRAGMENTS: &[(&str, &str)] = &[("paper.html", "layout.html")];

/// When the CSS of HTML templates is inlined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CssInlining {
    /// Once, into the templates, when they load (the default; see the module comment).
    AtLoad,
    /// Into every rendered message: slower, kept to check the templates against and to
    /// measure.
    PerMessage,
}

/// The loaded mail templates.
pub struct Templates {
    tera: Tera,
    /// Set when CSS is inlined per message.
    inliner: Option<CSSInliner<'static>>,
}

impl Templates {
    /// The built-in templates, CSS inlined at load (the tests render with them).
    #[cfg(test)]
    pub(crate) fn builtin() -> Result<Self, SetupError> {
        Self::load(None, CssInlining::AtLoad)
    }

    /// The templates, each read from `dir` when a file of that name is there, else the
    /// built-in one.
    pub fn load(dir: Option<&Path>, inlining: CssInlining) -> Result<Self, SetupError> {
        let mut sources: Vec<(&str, String)> = Vec::with_capacity(BUILTIN.len());
        if let Some(dir) = dir
            && !dir.is_dir()
        {
            return Err(SetupError::TemplatesDir(
                dir.display().to_string(),
                "not a folder".into(),
            ));
        }
        for (name, builtin) in BUILTIN {
            let own = dir.map(|d| d.join(name)).filter(|p| p.is_file());
            let source = match own {
                Some(path) => std::fs::read_to_string(&path).map_err(|e| {
                    SetupError::TemplatesDir(path.display().to_string(), e.to_string())
                })?,
                None => (*builtin).to_string(),
            };
            sources.push((name, source));
        }
        let inliner = match inlining {
            CssInlining::AtLoad => {
                let originals: HashMap<&str, String> = sources.iter().cloned().collect();
                for (name, source) in sources.iter_mut().filter(|(n, _)| n.ends_with(".html")) {
                    *source = inline_template(name, source, &originals)?;
                }
                None
            }
            CssInlining::PerMessage => Some(document_inliner()),
        };
        let mut tera = Tera::default();
        tera.set_escape_fn(escape_html);
        tera.register_filter("wrap", wrap_filter);
        tera.add_raw_templates(sources.iter().map(|(n, s)| (*n, s.as_str())))
            .map_err(|source| RenderError::Template {
                name: "loading the templates".into(),
                source,
            })?;
        Ok(Self { tera, inliner })
    }

    pub(super) fn render(&self, name: &str, ctx: &Context) -> Result<String, RenderError> {
        self.tera
            .render(name, ctx)
            .map_err(|source| RenderError::Template {
                name: name.into(),
                source,
            })
    }

    /// Render an HTML template, its CSS inlined, in ASCII (see [`ascii_html`]).
    pub(super) fn render_html(&self, name: &str, ctx: &Context) -> Result<String, RenderError> {
        let html = self.render(name, ctx)?;
        let html = match &self.inliner {
            None => html,
            Some(inliner) => inliner.inline(&html).map_err(|e| RenderError::Inline {
                name: name.into(),
                reason: e.to_string(),
            })?,
        };
        Ok(ascii_html(html))
    }

    pub(super) fn render_text(&self, name: &str, ctx: &Context) -> Result<String, RenderError> {
        self.render(name, ctx)
    }
}

/// Non-ASCII characters as numeric references (`é` as `&#233;`), so that an HTML part can
/// go as 7bit rather than quoted-printable: one pass here instead of lettre's encoding
/// passes, and no `=C3=A9` through every paragraph. A `<style>` block keeps its characters,
/// since references mean nothing in CSS; such a document stays as it was.
pub(super) fn ascii_html(html: String) -> String {
    if html.is_ascii() {
        return html;
    }
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len() + 256);
    let mut at = 0;
    while at < html.len() {
        let style = find_tag(bytes, at, b"<style");
        let plain_end = style.unwrap_or(html.len());
        references_into(&mut out, &html[at..plain_end]);
        let raw_end = style.map_or(html.len(), |s| {
            find_tag(bytes, s, b"</style")
                .and_then(|e| memchr::memchr(b'>', &bytes[e..]).map(|g| e + g + 1))
                .unwrap_or(html.len())
        });
        out.push_str(&html[plain_end..raw_end]);
        at = raw_end;
    }
    out
}

/// `text` onto `out`, each non-ASCII character as a numeric reference; ASCII runs are
/// copied whole.
fn references_into(out: &mut String, text: &str) {
    use std::fmt::Write;
    let mut rest = text;
    while let Some(i) = rest.bytes().position(|b| !b.is_ascii()) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().expect("a character starts here");
        if ('\u{80}'..='\u{9f}').contains(&c) {
            // HTML reads &#128;-&#159; as Windows-1252 characters, not these controls.
            out.push(c);
        } else {
            let _ = write!(out, "&#{};", u32::from(c));
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
}

/// Where the tag `tag` (`<style`, `</style`: lower-case ASCII) next starts at or after
/// `from`, in any case; `<styles` is another tag.
fn find_tag(hay: &[u8], from: usize, tag: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'<', &hay[from..])
        .map(|i| from + i)
        .find(|&i| {
            hay.get(i..i + tag.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(tag))
                && hay
                    .get(i + tag.len())
                    .is_none_or(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
        })
}

/// `wrap(width=72, indent=0, first=indent)`: text wrapped at word boundaries to `width`
/// columns, lines after the first indented by `indent` spaces; the first line is taken to
/// start at column `first` (after what the template wrote before it). Words longer than a
/// line, such as links, are never broken.
fn wrap_filter(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let text = value
        .as_str()
        .ok_or_else(|| tera::Error::msg("wrap: the value must be a string"))?;
    let number = |key: &str, default: u64| {
        args.get(key)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| tera::Error::msg(format!("wrap: {key} must be a number")))
            })
            .unwrap_or(Ok(default))
    };
    let width = number("width", 72)? as usize;
    let indent = number("indent", 0)? as usize;
    let first = number("first", indent as u64)? as usize;
    Ok(Value::String(wrap(text, width, indent, first)))
}

pub(super) fn wrap(text: &str, width: usize, indent: usize, first: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut column = first;
    let mut line_empty = true;
    for word in text.split_whitespace() {
        let len = if word.is_ascii() {
            word.len()
        } else {
            word.chars().count()
        };
        if !line_empty && column + 1 + len > width {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
            column = indent;
        } else if !line_empty {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += len;
        line_empty = false;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_goes_out_in_ascii_except_inside_style() {
        assert_eq!(
            ascii_html("plain <b>ascii</b>".into()),
            "plain <b>ascii</b>"
        );
        assert_eq!(
            ascii_html("<a title=\"Zoë\">▲ 3 · Ünïcode 😀</a>".into()),
            "<a title=\"Zo&#235;\">&#9650; 3 &#183; &#220;n&#239;code &#128512;</a>"
        );
        let styled =
            "<STYLE>p::after{content:\"·\"}</Style ><p>é</p><styles>ü<style>q{}".to_string();
        assert_eq!(
            ascii_html(styled),
            "<STYLE>p::after{content:\"·\"}</Style ><p>&#233;</p><styles>&#252;<style>q{}"
        );
        // C1 controls stay as they are: HTML would read their references as Windows-1252.
        assert_eq!(ascii_html("a\u{85}é".into()), "a\u{85}&#233;");
    }

    proptest::proptest! {
        #[test]
        fn ascii_html_reads_back_as_the_same_text(s in "[^&<\\u{80}-\\u{9f}]{0,200}") {
            let out = ascii_html(s.clone());
            proptest::prop_assert!(out.is_ascii());
            // Reading the references back gives the original.
            let mut back = String::new();
            let mut rest = out.as_str();
            while let Some(i) = rest.find("&#") {
                back.push_str(&rest[..i]);
                let end = rest[i..].find(';').unwrap() + i;
                back.push(char::from_u32(rest[i + 2..end].parse().unwrap()).unwrap());
                rest = &rest[end + 1..];
            }
            back.push_str(rest);
            proptest::prop_assert_eq!(back, s);
        }
    }

    use super::inline::*;
    use super::*;

    #[test]
    fn masking_round_trips_and_refuses_what_cannot_be_inlined_ahead() {
        let src = r#"<title>{% block title %}T{% endblock title %}</title>
<table><tbody>{% for p in ps %}<tr><td class="x"><a href="{{ p.url }}">{{ p.title }}</a></td></tr>{% endfor %}</tbody></table>"#;
        let (masked, tags) = mask(src).unwrap();
        assert!(!masked.contains("{{") && !masked.contains("{%"));
        assert_eq!(tags.len(), 6);
        assert_eq!(unmask(&masked, &tags).unwrap(), src);

        for bad in [
            r#"<td{% if x %} class="a"{% endif %}>"#,
            "<style>{{ colour }}</style>",
            r#"<a href="{{ x | default(value="y") }}">"#,
            "text {{ unclosed",
        ] {
            assert!(mask(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn finds_the_parent_template() {
        assert_eq!(
            parent("{% extends \"layout.html\" %}x"),
            Some("layout.html")
        );
        assert_eq!(parent("{%- extends 'a.html' -%}"), Some("a.html"));
        assert_eq!(parent("<p>{{ x }}</p>{% if y %}{% endif %}"), None);
        assert_eq!(parent("{% block extends_me %}{% endblock %}"), None);
    }

    #[test]
    fn a_moved_tag_is_an_error() {
        // Text in a table is moved out of it by the parser: the placeholder order breaks.
        let tags = ["{{ a }}", "{{ b }}"];
        let moved = format!("{OPEN}1{CLOSE}<!--{OPEN}0{CLOSE}-->");
        assert!(unmask(&moved, &tags).unwrap_err().contains("moved {{ a }}"));
        let dropped = format!("<!--{OPEN}0{CLOSE}-->");
        assert!(
            unmask(&dropped, &tags)
                .unwrap_err()
                .contains("dropped {{ b }}")
        );
    }

    #[test]
    fn wraps_at_words_and_keeps_links_whole() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let wrapped = wrap(text, 20, 3, 3);
        assert!(
            wrapped
                .lines()
                .all(|l| l.chars().count() <= 20 - 3 || l.starts_with("   "))
        );
        assert!(wrapped.lines().skip(1).all(|l| l.starts_with("   ")));
        assert_eq!(
            wrapped.split_whitespace().collect::<Vec<_>>().join(" "),
            text
        );
        let link = "https://example.com/a/very/long/path/that/does/not/fit";
        assert_eq!(
            wrap(&format!("see {link}"), 20, 0, 0),
            format!("see\n{link}")
        );
        // The first line starts after what the template wrote before it.
        assert_eq!(wrap("aaa bbb ccc", 11, 2, 5), "aaa\n  bbb ccc");
    }

    #[test]
    fn operator_templates_override_per_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("confirmation.txt"),
            "{% extends \"layout.txt\" %}{% block content %}Hello from the operator {{ confirm_url }}{% endblock content %}",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path()), CssInlining::AtLoad).unwrap();
        let mut ctx = Context::new();
        for k in [
            "confirm_url",
            "operator_name",
            "operator_address",
            "ttl_hours",
        ] {
            ctx.insert(k, "v");
        }
        assert!(
            t.render_text("confirmation.txt", &ctx)
                .unwrap()
                .contains("Hello from the operator v")
        );
        // The HTML part is still the built-in one.
        assert!(
            t.render_html("confirmation.html", &ctx)
                .unwrap()
                .contains("Confirm my subscription")
        );

        std::fs::write(
            dir.path().join("already_subscribed.html"),
            "{% extends \"layout.html\" %}{% block content %}<p{% if x %} class=\"a\"{% endif %}>x</p>{% endblock content %}",
        )
        .unwrap();
        let e = Templates::load(Some(dir.path()), CssInlining::AtLoad)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("already_subscribed.html") && e.contains("between attributes"),
            "{e}"
        );
        let e = Templates::load(Some(&dir.path().join("nope")), CssInlining::AtLoad)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("nope") && e.contains("not a folder"), "{e}");
    }
}
