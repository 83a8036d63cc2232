//! Browser forms: turning submitted pairs into a [`SubscriptionInput`], the CSRF cookie
//! and the signed form token that also times how fast a form was filled in.

use axum::http::StatusCode;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::error::PageError;
use crate::clock::timestamp as now;
use crate::domain::SubscriptionInput;
use crate::tokens::{Purpose, Signer};

pub(crate) const CSRF_COOKIE: &str = "pb_csrf";
/// The honeypot: a field people never see, so only a bot fills it.
pub(crate) const HONEYPOT: &str = "website";
const FORM_TTL: i64 = 24 * 3600;

/// A submitted form: the subscription fields plus the form's own control fields.
#[derive(Debug, Default)]
pub(crate) struct Submission {
    pub input: SubscriptionInput,
    pub honeypot_filled: bool,
    pub form_token: String,
}

impl Submission {
    /// Build from raw pairs; repeated `topics` collect, unknown names are ignored. An
    /// unchecked box is absent from a form post, so absence means false here.
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut s = Submission::default();
        s.input.send_when_empty = Some(false);
        for (k, v) in pairs {
            match k.as_str() {
                "email" => s.input.email = v,
                "topics" => s.input.topics.push(v),
                "keywords" => s.input.keywords = v,
                "authors" => s.input.authors = v,
                "liked" => s.input.liked = v,
                "muted_authors" => s.input.muted_authors = v,
                "categories" => s.input.categories = v,
                "trending" => s.input.trending = Some(v),
                "frequency" => s.input.frequency = Some(v),
                "weekday" => s.input.weekday = Some(v),
                "delivery_hour" => s.input.delivery_hour = Some(v),
                "timezone" => s.input.timezone = Some(v),
                "papers_per_digest" => s.input.papers_per_digest = Some(v),
                "send_when_empty" => s.input.send_when_empty = Some(true),
                "form_token" => s.form_token = v,
                HONEYPOT => s.honeypot_filled = !v.trim().is_empty(),
                _ => {}
            }
        }
        s
    }
}

/// The CSRF nonce from the cookie, or a new one set on the returned jar.
pub(crate) fn csrf_nonce(jar: CookieJar, https: bool) -> (CookieJar, String) {
    if let Some(c) = jar.get(CSRF_COOKIE)
        && c.value().len() == 22
    {
        let v = c.value().to_string();
        return (jar, v);
    }
    let nonce = crate::tokens::new_public_id();
    let cookie = Cookie::build((CSRF_COOKIE, nonce.clone()))
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Strict)
        .build();
    (jar.add(cookie), nonce)
}

pub fn form_token(signer: &Signer, nonce: &str) -> String {
    signer.sign(Purpose::Form, nonce, now(), FORM_TTL)
}

/// Check a posted form against the browser's CSRF cookie. Returns the seconds since the
/// form was served.
pub fn check(signer: &Signer, jar: &CookieJar, form_token: &str) -> Result<i64, PageError> {
    let refused = |why: &str| {
        PageError::new(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this site",
            &format!(
                "{why} Go back, reload the page and submit again. This site needs a cookie to protect its forms."
            ),
        )
    };
    let claims = signer
        .verify(form_token, Purpose::Form, now())
        .map_err(|_| refused("The form's security token is missing or out of date."))?;
    let cookie = jar.get(CSRF_COOKIE).map(|c| c.value().to_string());
    if cookie.as_deref() != Some(claims.subject.as_str()) {
        return Err(refused(
            "Your browser did not send this site's form cookie.",
        ));
    }
    Ok(now() - claims.issued_at)
}
