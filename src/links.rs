//! Every link a reader is sent and every list header of a mail, made in one place: the
//! confirmation link, the preferences (manage) link, the one-click unsubscribe link, the
//! "view in browser" page, the "more / fewer like this" links of each paper, and the
//! `Message-ID` and `List-Id` of a digest and of a subscription mail.

use chrono::NaiveDate;

use crate::config::Config;
use crate::domain::{ArxivId, Rating, Subscriber, SubscriptionMailKind};
use crate::tokens::{Claims, Purpose, Signer, TokenError};

/// Makes and checks a reader's links.
#[derive(Clone)]
pub struct Links {
    signer: Signer,
    base_url: String,
    confirm_ttl: i64,
    manage_ttl: i64,
    list_id: String,
}

impl Links {
    pub fn new(config: &Config, signer: Signer) -> Self {
        Self {
            signer,
            base_url: config.base_url.clone(),
            confirm_ttl: i64::from(config.subscribe.confirm_ttl_hours) * 3600,
            manage_ttl: i64::from(config.subscribe.manage_ttl_days) * 86_400,
            list_id: list_id(&config.operator.name, &config.base_url),
        }
    }

    /// The key that signs links and form tokens.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// How long a confirmation link stays valid, in seconds.
    pub(crate) fn confirm_ttl(&self) -> i64 {
        self.confirm_ttl
    }

    pub(crate) fn confirm_url(&self, s: &Subscriber, now: i64) -> String {
        let t = self
            .signer
            .sign(Purpose::Confirm, &s.public_id, now, self.confirm_ttl);
        format!("{}/confirm/{t}", self.base_url)
    }

    /// The token of a reader's preferences, digest pages and API resource.
    pub fn manage_token(&self, s: &Subscriber, now: i64) -> String {
        self.signer
            .sign(Purpose::Manage, &s.public_id, now, self.manage_ttl)
    }

    pub fn preferences_url(&self, manage_token: &str) -> String {
        format!("{}/preferences/{manage_token}", self.base_url)
    }

    pub fn browser_url(&self, manage_token: &str, day: NaiveDate) -> String {
        format!("{}/digests/{manage_token}/{day}", self.base_url)
    }

    pub fn unsubscribe_url(&self, s: &Subscriber, now: i64) -> String {
        let t = self
            .signer
            .sign(Purpose::Unsubscribe, &s.public_id, now, self.manage_ttl);
        format!("{}/unsubscribe/{t}", self.base_url)
    }

    /// The token of a reader's rating links for one paper: bound to the reader and the paper
    /// (the paper travels in the link's path), valid as long as a manage link. "More" and
    /// "fewer" share it, so a digest signs once per paper.
    pub fn rate_token(&self, s: &Subscriber, paper: &ArxivId, now: i64) -> String {
        self.signer.sign_bound(
            Purpose::Rate,
            &s.public_id,
            paper.as_str().as_bytes(),
            now,
            self.manage_ttl,
        )
    }

    /// A "more like this" or "fewer like this" link. The GET records nothing (see
    /// `web::pages`); an old-style id's `/` is escaped so that the id is one path segment.
    pub fn rate_url(&self, rate_token: &str, paper: &ArxivId, rating: Rating) -> String {
        format!(
            "{}/rate/{rate_token}/{}/{rating}",
            self.base_url,
            path_segment(paper)
        )
    }

    /// What a rating link's token says, if it was made here for this paper and is unexpired.
    pub(crate) fn verify_rate(
        &self,
        token: &str,
        paper: &ArxivId,
        now: i64,
    ) -> Result<Claims, TokenError> {
        self.signer
            .verify_bound(token, Purpose::Rate, paper.as_str().as_bytes(), now)
    }

    /// What a token says, if it was made here for `purpose` and has not expired.
    pub fn verify(&self, token: &str, purpose: Purpose, now: i64) -> Result<Claims, TokenError> {
        self.signer.verify(token, purpose, now)
    }

    /// The stable `Message-ID` of a reader's digest for a day: a retry or a resend after a
    /// crash carries the same one, so the receiving side can tell it is the same mail.
    pub(crate) fn digest_message_id(&self, day: NaiveDate, subscriber_public_id: &str) -> String {
        format!(
            "<digest.{}.{subscriber_public_id}@{}>",
            day.format("%Y%m%d"),
            host_of(&self.base_url)
        )
    }

    /// The `Message-ID` of one subscription mail (confirmation, welcome, ...): the same for
    /// every attempt at it.
    pub(crate) fn mail_message_id(
        &self,
        kind: SubscriptionMailKind,
        mail_id: i64,
        subscriber_public_id: &str,
    ) -> String {
        format!(
            "<{}.{mail_id}.{subscriber_public_id}@{}>",
            kind.as_str().replace('_', "-"),
            host_of(&self.base_url)
        )
    }

    /// `List-Id` (RFC 2919): the operator's name and the site's host.
    pub fn list_id(&self) -> &str {
        &self.list_id
    }
}

/// An arXiv id as one path segment: old-style ids (`hep-th/9901001`) carry a `/`, the only
/// character of an id that a path cannot hold as it is.
pub(crate) fn path_segment(paper: &ArxivId) -> String {
    paper.as_str().replace('/', "%2F")
}

fn list_id(operator: &str, base_url: &str) -> String {
    let name: String = operator
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '<' | '>' | '"'))
        .collect();
    format!("\"{} papers\" <papers.{}>", name.trim(), host_of(base_url))
}

/// The host of the service's public URL, for `Message-ID` and `List-Id`.
fn host_of(base_url: &str) -> &str {
    base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split(['/', ':'])
        .next()
        .filter(|h| !h.is_empty())
        .unwrap_or("paperboy.invalid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(base_url: &str) -> Links {
        Links {
            signer: Signer::new(b"0123456789abcdef0123456789abcdef"),
            base_url: base_url.into(),
            confirm_ttl: 3600,
            manage_ttl: 86_400,
            list_id: list_id("Lab", base_url),
        }
    }

    #[test]
    fn message_ids_are_stable_and_name_the_host() {
        let d = NaiveDate::from_ymd_opt(2026, 5, 8).unwrap();
        assert_eq!(
            links("https://papers.example.org:8443/x").digest_message_id(d, "abc"),
            "<digest.20260508.abc@papers.example.org>"
        );
        assert_eq!(
            links("").digest_message_id(d, "abc"),
            "<digest.20260508.abc@paperboy.invalid>"
        );
    }

    #[test]
    fn host_and_list_id() {
        assert_eq!(
            host_of("https://papers.example.org:8443/x"),
            "papers.example.org"
        );
        assert_eq!(host_of("http://"), "paperboy.invalid");
        assert_eq!(
            list_id("Lab <\"x\">\n", "https://l.example.org"),
            "\"Lab x papers\" <papers.l.example.org>"
        );
    }
}
