//! The digest's words: a paper's summary, its authors shortened, why it was picked as a
//! sentence, and plain text of what a source sent.

use crate::matching::Reason;

/// A summary is at most this many characters.
pub(super) const SUMMARY_MAX: usize = 300;
/// A first sentence shorter than this gets the second one too, if both fit.
const SHORT_SENTENCE: usize = 120;
/// Authors named before "et al.".
const AUTHORS_SHOWN: usize = 3;
/// Words named in one reason.
const REASON_WORDS: usize = 4;
/// A liked paper's title in a reason is at most this many characters: the reason names it
/// so that the reader recognises it, and the line should not outgrow the paper's own title.
const LIKED_TITLE_MAX: usize = 60;

/// A reason as a sentence for the reader: "Matches Robotics: world model, sim-to-real",
/// "By Yann LeCun, whom you follow", "Because you liked “Attention Is All You Need”" (or
/// "Like papers you liked" in digests composed before the liked paper was named),
/// "Trending today".
pub fn reason_sentence(reason: &Reason) -> String {
    let mut words: Vec<String> = Vec::new();
    for w in reason.words.iter().map(|w| plain(w)) {
        if !w.is_empty() && !words.contains(&w) {
            words.push(w);
        }
    }
    let interest = plain(&reason.interest);
    match interest.as_str() {
        "your authors" if !words.is_empty() => {
            format!("By {}, whom you follow", and_list(&words))
        }
        "your authors" => "By authors you follow".into(),
        "papers you liked" => match reason.liked.as_deref().map(plain) {
            // The title shortened as a subject line shortens it (a name before a colon,
            // else cut at a word); typographic quotes, which HTML need not escape.
            Some(title) if !title.is_empty() => {
                format!(
                    "Because you liked “{}”",
                    short_title(&title, LIKED_TITLE_MAX)
                )
            }
            _ => "Like papers you liked".into(),
        },
        "trending today" => "Trending today".into(),
        "" => String::new(),
        _ if words.is_empty() => format!("Matches {interest}"),
        _ => {
            let more = words.len() > REASON_WORDS;
            words.truncate(REASON_WORDS);
            format!(
                "Matches {interest}: {}{}",
                words.join(", "),
                if more { ", …" } else { "" }
            )
        }
    }
}

/// "A", "A and B", "A, B and C".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "A, B, C et al." beyond three authors; "" for none.
pub fn shorten_authors(authors: &[String]) -> String {
    // Papers can have hundreds of authors: clean only the ones shown, and one more.
    let names: Vec<String> = authors
        .iter()
        .map(|a| plain(a))
        .filter(|a| !a.is_empty())
        .take(AUTHORS_SHOWN + 1)
        .collect();
    if names.len() > AUTHORS_SHOWN {
        format!("{} et al.", names[..AUTHORS_SHOWN].join(", "))
    } else {
        names.join(", ")
    }
}

/// One or two sentences from the start of `text`, cut at a sentence end, at most
/// [`SUMMARY_MAX`] characters; a first sentence longer than that is cut at a word and gets
/// an ellipsis. Control characters are dropped and whitespace collapsed.
pub fn summarize(text: &str) -> String {
    // Enough text to see a sentence end after the limit; abstracts run to 2,000 characters.
    let text = plain_prefix(text, SUMMARY_MAX + 100);
    if text.is_empty() {
        return text;
    }
    let mut ends = sentence_ends(&text);
    ends.push(text.len());
    let chars = |end: usize| text[..end].chars().count();
    let first = ends[0];
    if chars(first) > SUMMARY_MAX {
        return cut_at_word(&text, SUMMARY_MAX);
    }
    let end = match ends.get(1) {
        Some(&second) if chars(first) < SHORT_SENTENCE && chars(second) <= SUMMARY_MAX => second,
        _ => first,
    };
    text[..end].trim_end().to_string()
}

/// Words that end with a period without ending the sentence (compared lower-cased, without
/// the period). Multi-letter abbreviations with inner periods ("e.g", "U.S") and initials
/// are recognised by shape.
const ABBREVIATIONS: &[&str] = &[
    "al", "approx", "ca", "cf", "ch", "co", "corp", "dr", "eq", "eqs", "esp", "fig", "figs", "inc",
    "incl", "jr", "ltd", "mr", "mrs", "ms", "no", "nos", "pp", "prof", "ref", "refs", "resp",
    "sec", "sect", "st", "tab", "viz", "vol", "vs", "wrt",
];

fn is_abbreviation(word: &str) -> bool {
    let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
    let lower = word.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    // An initial ("J.") or a dotted abbreviation ("e.g", "i.e", "U.S").
    !word.is_empty()
        && word.split('.').all(|part| {
            (1..=2).contains(&part.chars().count()) && part.chars().all(char::is_alphabetic)
        })
        && (word.contains('.') || word.chars().count() == 1)
}

/// Byte offsets just past each sentence-ending punctuation (and any closing quote or
/// bracket after it) of whitespace-collapsed `text`, excluding the very end.
fn sentence_ends(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut ends = Vec::new();
    for (i, c) in text.char_indices() {
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        let mut end = i + 1;
        while let Some(closer) = text[end..]
            .chars()
            .next()
            .filter(|c| matches!(c, '"' | '\'' | ')' | ']' | '”' | '’'))
        {
            end += closer.len_utf8();
        }
        // A sentence ends before a space and a word that does not start in lower case
        // ("3.5" and "e.g.," have no space after the period).
        if bytes.get(end) != Some(&b' ') {
            continue;
        }
        match text[end + 1..].chars().next() {
            Some(next) if !next.is_lowercase() => {}
            _ => continue,
        }
        if c == '.' && end == i + 1 {
            let word = text[..i].rsplit(' ').next().unwrap_or("");
            if is_abbreviation(word) {
                continue;
            }
        }
        ends.push(end);
    }
    ends
}

/// `text` cut to at most `max` characters at a word boundary, with an ellipsis.
fn cut_at_word(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    // Byte offset of the character that would be the ellipsis.
    let limit = text
        .char_indices()
        .nth(max.saturating_sub(1))
        .map_or(text.len(), |(i, _)| i);
    // Up to and including that character, whatever its width in bytes.
    let through = limit + text[limit..].chars().next().map_or(0, char::len_utf8);
    let cut = match text[..through].rfind(' ') {
        Some(space) if space > limit / 2 => space,
        // One huge "word" (a URL, a formula): cut inside it rather than lose it all.
        _ => limit,
    };
    let head = text[..cut].trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-' | '–' | '—' | '(' | '[')
    });
    format!("{head}…")
}

/// A title for the subject: the part before a colon when that is a name that fits
/// ("MARBLE: Multi-Aspect ..." → "MARBLE"), else the title cut at a word.
pub(super) fn short_title(title: &str, budget: usize) -> String {
    if title.chars().count() <= budget {
        return title.to_string();
    }
    if let Some((head, _)) = title.split_once(": ")
        && head.chars().count() >= 3
        && head.chars().count() <= budget
    {
        return head.to_string();
    }
    cut_at_word(title, budget)
}

/// Plain text from a source's string: control and invisible formatting characters
/// (bidirectional overrides, zero-width ones) dropped, since they could reorder or hide text
/// or split a header; whitespace collapsed.
pub(super) fn plain(s: &str) -> String {
    plain_prefix(s, usize::MAX)
}

/// [`plain`] of the start of `s`: stops after the word that reaches `max_chars`.
pub(super) fn plain_prefix(s: &str, max_chars: usize) -> String {
    let invisible = |c: char| matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
    let mut out = String::with_capacity(s.len().min(max_chars.saturating_add(64)));
    let mut chars = 0;
    for word in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if chars >= max_chars {
            break;
        }
        let before = out.len();
        let space = usize::from(before > 0);
        if space == 1 {
            out.push(' ');
        }
        if word.is_ascii() {
            out.push_str(word);
            chars += word.len();
        } else {
            for c in word.chars().filter(|c| !invisible(*c)) {
                out.push(c);
                chars += 1;
            }
        }
        if out.len() == before + space {
            // An empty (or all invisible) word: no space for it.
            out.truncate(before);
        } else {
            chars += space;
        }
    }
    out
}

/// A source's link, if it is a plain http(s) URL (never `javascript:` or the like).
pub(super) fn web_url(s: &str) -> Option<String> {
    let s = s.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let ok = !rest.is_empty()
        && s.len() <= 500
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'));
    ok.then(|| s.to_string())
}
