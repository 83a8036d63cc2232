//! A digest as a message: the list headers mail providers look for (RFC 2369, RFC 2919,
//! RFC 8058) and a Message-ID that stays the same across retries.

use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use super::{ListUnsubscribe, ListUnsubscribePost, MailError, Mailer};
use crate::domain::EmailAddress;

/// What a digest message carries besides its rendered parts.
pub struct DigestHeaders<'a> {
    /// `<…@host>`, stable for the (reader, day).
    pub message_id: &'a str,
    /// The one-click (RFC 8058) unsubscribe URL.
    pub unsubscribe_url: &'a str,
    /// `List-Id` value, e.g. `Example Lab papers <papers.example.org>`.
    pub list_id: &'a str,
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

impl Mailer {
    /// Build a digest message from its rendered parts.
    pub fn digest_message(
        &self,
        to: &EmailAddress,
        subject: &str,
        html: String,
        text: String,
        h: &DigestHeaders<'_>,
    ) -> Result<Message, MailError> {
        let to: Mailbox = to
            .as_str()
            .parse()
            .map_err(|e| MailError::Build(format!("recipient: {e}")))?;
        // A mailto: alternative for clients that do not do one-click; the From mailbox
        // receives it with the signed link in the subject.
        let mailto = format!(
            "mailto:{}?subject=unsubscribe%20{}",
            self.from.email,
            h.unsubscribe_url.rsplit('/').next().unwrap_or_default()
        );
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject.replace(['\r', '\n'], " "))
            .message_id(Some(h.message_id.to_string()))
            .date_now()
            .header(ListId(h.list_id.to_string()))
            .header(ListUnsubscribe(format!(
                "<{}>, <{mailto}>",
                h.unsubscribe_url
            )))
            .header(ListUnsubscribePost)
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| MailError::Build(e.to_string()))
    }
}
