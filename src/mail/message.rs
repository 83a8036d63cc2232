//! Rendered parts into the message that goes out: From, To, Subject, Date, a Message-ID that
//! stays the same across retries, the list headers mail providers look for (RFC 2369,
//! RFC 2919, RFC 8058), and the text and HTML alternatives. Every mail is built here.

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};

use super::{RenderError, RenderedMail};
use crate::domain::EmailAddress;

/// What a message carries besides its rendered parts.
#[derive(Clone, Copy, Default)]
pub struct Headers<'a> {
    /// `<…@host>`, the same for every attempt at this mail; `None`: one is made up.
    pub message_id: Option<&'a str>,
    /// For a mail to a confirmed reader: the list headers every digest carries too.
    pub list: Option<ListHeaders<'a>>,
}

/// The list headers of a mail to a confirmed reader (RFC 2369, RFC 2919, RFC 8058).
#[derive(Clone, Copy)]
pub struct ListHeaders<'a> {
    /// The one-click unsubscribe URL.
    pub unsubscribe_url: &'a str,
    /// `List-Id` value, e.g. `Example Lab papers <papers.example.org>`.
    pub list_id: &'a str,
}

/// The message `mail` is, from `from` to `to`.
pub(super) fn build(
    from: &Mailbox,
    to: &EmailAddress,
    mail: RenderedMail,
    headers: &Headers<'_>,
) -> Result<Message, RenderError> {
    let to: Mailbox = to
        .as_str()
        .parse()
        .map_err(|e| RenderError::Build(format!("recipient: {e}")))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.replace(['\r', '\n'], " "))
        .date(crate::clock::now().into());
    if let Some(id) = headers.message_id {
        builder = builder.message_id(Some(id.to_string()));
    }
    if let Some(list) = &headers.list {
        builder = list_headers(from, builder, list);
    }
    builder
        .multipart(alternative(mail.text, mail.html))
        .map_err(|e| RenderError::Build(e.to_string()))
}

/// A confirmed reader's list headers: List-Id, and List-Unsubscribe with the one-click URL
/// and a mailto: alternative.
fn list_headers(
    from: &Mailbox,
    builder: lettre::message::MessageBuilder,
    list: &ListHeaders<'_>,
) -> lettre::message::MessageBuilder {
    // A mailto: alternative for clients that do not do one-click; the From mailbox
    // receives it with the signed link in the subject.
    let mailto = format!(
        "mailto:{}?subject=unsubscribe%20{}",
        from.email,
        list.unsubscribe_url.rsplit('/').next().unwrap_or_default()
    );
    builder
        .header(ListId(list.list_id.to_string()))
        .header(ListUnsubscribe(format!(
            "<{}>, <{mailto}>",
            list.unsubscribe_url
        )))
        .header(ListUnsubscribePost)
}

/// RFC 2919 `List-Id`.
#[derive(Clone)]
struct ListId(String);

impl Header for ListId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Id")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// RFC 2369 `List-Unsubscribe`.
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// RFC 8058 one-click unsubscribe.
#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}

/// A mail's text and HTML parts, each as 7bit where it can go so.
fn alternative(text: String, html: String) -> MultiPart {
    MultiPart::alternative()
        .singlepart(part(ContentType::TEXT_PLAIN, text))
        .singlepart(part(ContentType::TEXT_HTML, html))
}

/// One part, as 7bit when [`seven_bit`] allows, else encoded by lettre. lettre on its own
/// sends 7bit only for lines under 76 bytes, so every HTML part (and most text parts, with
/// their long links) went quoted-printable, in four passes over the body.
fn part(kind: ContentType, body: String) -> SinglePart {
    let builder = SinglePart::builder().header(kind);
    match seven_bit(&body) {
        Some(bytes) => builder.body(Body::dangerous_pre_encoded(
            bytes,
            ContentTransferEncoding::SevenBit,
        )),
        None => builder.body(body),
    }
}

/// The longest line sent as 7bit, without its CRLF: RFC 5322 allows 998, and a margin
/// keeps clear of relays that fold lines a little short of that (a folded line breaks
/// the DKIM signature).
const LINE_MAX: usize = 900;

/// `body` with CRLF line ends, if it can go as 7bit: ASCII without NUL or a lone CR, no
/// line longer than [`LINE_MAX`].
fn seven_bit(body: &str) -> Option<Vec<u8>> {
    let bytes = body.as_bytes();
    if !body.is_ascii() || memchr::memchr(0, bytes).is_some() {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', bytes).map(Some).chain([None]);
    for end in ends {
        let mut line = &bytes[start..end.unwrap_or(bytes.len())];
        if end.is_some() {
            line = line.strip_suffix(b"\r").unwrap_or(line);
        }
        if line.len() > LINE_MAX || memchr::memchr(b'\r', line).is_some() {
            return None;
        }
        out.extend_from_slice(line);
        if let Some(end) = end {
            out.extend_from_slice(b"\r\n");
            start = end + 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_within_998_goes_7bit_with_crlf() {
        assert_eq!(seven_bit("a\nb\r\n\nc").unwrap(), b"a\r\nb\r\n\r\nc");
        assert_eq!(seven_bit("ends\n").unwrap(), b"ends\r\n");
        assert_eq!(seven_bit("").unwrap(), b"");
        assert!(seven_bit(&"x".repeat(LINE_MAX)).is_some());
        assert!(seven_bit(&format!("ok\n{}\n", "x".repeat(LINE_MAX + 1))).is_none());
        assert!(seven_bit("caf\u{e9}").is_none());
        assert!(seven_bit("lone\rcr").is_none());
        assert!(seven_bit("nul\0").is_none());
    }

    #[test]
    fn a_part_says_how_it_is_encoded() {
        let formatted = |body: &str| {
            String::from_utf8(part(ContentType::TEXT_HTML, body.to_string()).formatted()).unwrap()
        };
        let long_ascii = formatted(&format!("<p>{}</p>\n", "a".repeat(300)));
        assert!(
            long_ascii.contains("Content-Transfer-Encoding: 7bit"),
            "{long_ascii}"
        );
        assert!(long_ascii.contains(&"a".repeat(300)));
        let accented = formatted("<p>caf\u{e9}</p>");
        assert!(
            accented.contains("Content-Transfer-Encoding: quoted-printable"),
            "{accented}"
        );
    }

    proptest! {
        #[test]
        fn seven_bit_bodies_are_the_input_with_crlf(s in "[ -~\n]{0,300}") {
            let out = String::from_utf8(seven_bit(&s).unwrap()).unwrap();
            prop_assert_eq!(out.replace("\r\n", "\n"), s);
            prop_assert!(!out.replace("\r\n", "").contains(['\r', '\n']));
        }
    }
}
