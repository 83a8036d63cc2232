//! CSS inlined into the templates when they load: each template's source is masked (its
//! template tags kept aside), inlined with the CSS of the layout it extends, and unmasked.

use std::collections::HashMap;

use css_inline::CSSInliner;

use super::{FRAGMENTS, RenderError};

/// Inlines a whole document: `<style>` rules into attributes, `@media` rules kept in a
/// `<style>`, nothing fetched.
pub(super) fn document_inliner() -> CSSInliner<'static> {
    CSSInliner::options()
        .keep_at_rules(true)
        .load_remote_stylesheets(false)
        .minify_css(true)
        .build()
}

/// Start of a placeholder; the private-use characters never occur in a template.
pub(super) const OPEN: char = '\u{E000}';
pub(super) const CLOSE: char = '\u{E001}';

/// Where the HTML scanner is.
#[derive(Clone, Copy, PartialEq)]
enum At {
    Text,
    /// Inside `<...>`, in a quoted value (with its quote) or not.
    Tag(Option<u8>, RawAfter),
    Comment,
    /// In the text of `<title>`, `<style>`, `<script>` or `<textarea>`, until its end tag.
    Raw(&'static str),
}

/// What text follows the tag being scanned.
#[derive(Clone, Copy, PartialEq)]
enum RawAfter {
    No,
    Yes(&'static str),
}

const RAW_ELEMENTS: [&str; 4] = ["title", "style", "script", "textarea"];

/// A template's source with its CSS inlined and its template tags intact.
pub(super) fn inline_template(
    name: &str,
    source: &str,
    sources: &HashMap<&str, String>,
) -> Result<String, RenderError> {
    let fail = |reason: String| RenderError::Inline {
        name: name.into(),
        reason,
    };
    let (masked, tags) = mask(source).map_err(fail)?;
    let fragment_of = FRAGMENTS.iter().find(|(n, _)| *n == name).map(|f| f.1);
    let inlined = match (parent(source), fragment_of) {
        (None, None) => document_inliner().inline(&masked),
        (parent, fragment_of) => {
            let css = match (parent, fragment_of.and_then(|f| sources.get(f))) {
                (None, Some(styled_by)) => style_blocks(styled_by),
                _ => inherited_css(source, sources),
            };
            CSSInliner::options()
                .load_remote_stylesheets(false)
                .minify_css(true)
                .build()
                .inline_fragment(&masked, &css)
        }
    }
    .map_err(|e| fail(e.to_string()))?;
    unmask(&inlined, &tags).map_err(fail)
}

/// The template a template extends.
pub(super) fn parent(source: &str) -> Option<&str> {
    // The first tag that is an `extends`, as tera requires it to be.
    let rest = source.split("{%").skip(1).find_map(|tag| {
        tag.trim_start_matches('-')
            .trim_start()
            .strip_prefix("extends ")
    })?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    rest[1..].split(quote).next()
}

/// The CSS of the `<style>` blocks of the templates `source` extends.
pub(super) fn inherited_css(source: &str, sources: &HashMap<&str, String>) -> String {
    let mut css = String::new();
    let mut next = parent(source);
    let mut depth = 0;
    while let Some(name) = next
        && depth < 8
    {
        let Some(parent_source) = sources.get(name) else {
            break;
        };
        css.insert_str(0, &style_blocks(parent_source));
        next = parent(parent_source);
        depth += 1;
    }
    css
}

/// The text of every `<style>` element in `html`.
pub(super) fn style_blocks(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut css = String::new();
    let mut from = 0;
    while let Some(open) = lower[from..].find("<style").map(|i| i + from) {
        let Some(body) = lower[open..].find('>').map(|i| open + i + 1) else {
            break;
        };
        let end = lower[body..]
            .find("</style")
            .map_or(html.len(), |i| body + i);
        css.push_str(&html[body..end]);
        css.push('\n');
        from = end;
    }
    css
}

/// Replace each template tag (`{{ }}`, `{% %}`, `{# #}`) by a placeholder fit for where it
/// stands in the HTML; the tags, in order.
pub(super) fn mask(source: &str) -> Result<(String, Vec<&str>), String> {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut tags = Vec::new();
    let mut at = At::Text;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' && matches!(bytes.get(i + 1), Some(b'{' | b'%' | b'#')) {
            let end = tag_end(source, i).ok_or_else(|| {
                format!("line {}: a template tag is not closed", line_of(source, i))
            })?;
            let tag = &source[i..end];
            let n = tags.len();
            match at {
                At::Text => out.push_str(&format!("<!--{OPEN}{n}{CLOSE}-->")),
                At::Tag(Some(_), _) if tag.contains('"') => {
                    return Err(format!(
                        "line {}: {tag} is inside an attribute value: write its strings in single quotes",
                        line_of(source, i)
                    ));
                }
                At::Tag(Some(_), _) | At::Comment | At::Raw("title" | "textarea" | "script") => {
                    out.push_str(&format!("{OPEN}{n}{CLOSE}"))
                }
                At::Tag(None, _) => {
                    return Err(format!(
                        "line {}: {tag} stands between attributes of an HTML tag; only text and \
                         quoted attribute values can hold template tags when CSS is inlined at load",
                        line_of(source, i)
                    ));
                }
                At::Raw(_) => {
                    return Err(format!(
                        "line {}: {tag} is inside <style>: the CSS is inlined at load and cannot \
                         hold template tags",
                        line_of(source, i)
                    ));
                }
            }
            tags.push(tag);
            i = end;
            continue;
        }
        let rest = &source[i..];
        at = match at {
            At::Text if rest.starts_with("<!--") => {
                out.push_str("<!--");
                i += 4;
                at = At::Comment;
                continue;
            }
            At::Text
                if bytes[i] == b'<'
                    && bytes.get(i + 1).is_some_and(|b| {
                        b.is_ascii_alphabetic() || matches!(b, b'/' | b'!' | b'?')
                    }) =>
            {
                let name: String = rest[1..]
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_ascii_lowercase();
                let raw = RAW_ELEMENTS.iter().find(|r| **r == name);
                At::Tag(None, raw.map_or(RawAfter::No, |r| RawAfter::Yes(r)))
            }
            At::Tag(None, after) if bytes[i] == b'"' || bytes[i] == b'\'' => {
                At::Tag(Some(bytes[i]), after)
            }
            At::Tag(Some(q), after) if bytes[i] == q => At::Tag(None, after),
            At::Tag(None, RawAfter::Yes(raw)) if bytes[i] == b'>' => At::Raw(raw),
            At::Tag(None, RawAfter::No) if bytes[i] == b'>' => At::Text,
            At::Comment if rest.starts_with("-->") => {
                out.push_str("-->");
                i += 3;
                at = At::Text;
                continue;
            }
            At::Raw(raw)
                if rest.starts_with("</")
                    && rest[2..]
                        .get(..raw.len())
                        .is_some_and(|n| n.eq_ignore_ascii_case(raw)) =>
            {
                At::Tag(None, RawAfter::No)
            }
            other => other,
        };
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        i += c.len_utf8();
    }
    Ok((out, tags))
}

/// The end of the template tag starting at `start`, skipping quoted strings in it.
pub(super) fn tag_end(source: &str, start: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    let close = match bytes[start + 1] {
        b'{' => b'}',
        other => other,
    };
    let mut quote = None;
    let mut i = start + 2;
    while i + 1 < bytes.len() {
        match (quote, bytes[i]) {
            (Some(q), b) if b == q => quote = None,
            (None, b'"' | b'\'' | b'`') if close != b'#' => quote = Some(bytes[i]),
            (None, b) if b == close && bytes[i + 1] == b'}' => return Some(i + 2),
            _ => {}
        }
        i += 1;
    }
    None
}

pub(super) fn line_of(source: &str, at: usize) -> usize {
    source[..at].matches('\n').count() + 1
}

/// Put the template tags back; every placeholder must come back once, in order, or the
/// HTML parser has moved things and the inlined template would not be the same template.
pub(super) fn unmask(inlined: &str, tags: &[&str]) -> Result<String, String> {
    let mut out =
        String::with_capacity(inlined.len() + tags.iter().map(|t| t.len()).sum::<usize>());
    let mut next = 0;
    let mut rest = inlined;
    while let Some(open) = rest.find(OPEN) {
        let after = &rest[open + OPEN.len_utf8()..];
        let close = after
            .find(CLOSE)
            .ok_or("a placeholder was cut by the HTML parser")?;
        let n: usize = after[..close]
            .parse()
            .map_err(|_| "a placeholder was changed by the HTML parser")?;
        if n != next {
            return Err(format!(
                "the HTML parser moved {} (check that it sits in text or a quoted attribute value \
                 and that if/for bodies hold whole elements)",
                tags.get(next).unwrap_or(&"a template tag")
            ));
        }
        let mut head = &rest[..open];
        let mut tail = &after[close + CLOSE.len_utf8()..];
        // A tag that stood in text was masked as a comment: drop the comment markers.
        if head.ends_with("<!--") && tail.starts_with("-->") {
            head = &head[..head.len() - 4];
            tail = &tail[3..];
        }
        out.push_str(head);
        out.push_str(tags[n]);
        next += 1;
        rest = tail;
    }
    if next != tags.len() {
        return Err(format!(
            "the HTML parser dropped {} (check that it sits in text or a quoted attribute value)",
            tags[next]
        ));
    }
    out.push_str(rest);
    Ok(out)
}
