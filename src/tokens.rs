//! Signed, expiring tokens for confirm / preferences / unsubscribe links and browser forms.
//!
//! Layout before base64url: purpose (1) | issued (8, BE unix s) | expires (8) | subject (16)
//! | HMAC-SHA256 of all that, truncated to 16 bytes. The MAC is checked first and in
//! constant time, so a forged token learns nothing about purpose or expiry.
//!
//! A token can also be bound to a value it does not carry (a rating link to its paper):
//! the MAC then covers the body followed by that value, and the value travels next to the
//! token (in the link's path). The same token for another value fails as a bad signature.
//! One scheme, one length: [`TOKEN_PATTERN`] holds for every purpose.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SUBJECT_LEN: usize = 16;
const MAC_LEN: usize = 16;
const BODY_LEN: usize = 1 + 8 + 8 + SUBJECT_LEN;
const TOKEN_LEN: usize = BODY_LEN + MAC_LEN;

/// The shape of every token, as the OpenAPI document states it: base64url of `TOKEN_LEN`
/// (49) bytes without padding is 66 characters, and the last one carries only 2 bits (the
/// other 4 are zero, which decoding insists on), so it is one of `A`, `Q`, `g`, `w`.
pub const TOKEN_PATTERN: &str = "^[A-Za-z0-9_-]{65}[AQgw]$";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Confirm = 1,
    Manage = 2,
    Unsubscribe = 3,
    Form = 4,
    /// A reader's "more / fewer like this" link: bound to the paper (see the module docs).
    Rate = 5,
}

impl Purpose {
    fn from_byte(b: u8) -> Option<Self> {
        [
            Self::Confirm,
            Self::Manage,
            Self::Unsubscribe,
            Self::Form,
            Self::Rate,
        ]
        .into_iter()
        .find(|p| *p as u8 == b)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("this link is incomplete or damaged: copy the whole link from the mail")]
    Malformed,
    #[error("this link is not valid: it was not issued by this service")]
    BadSignature,
    #[error("this link is meant for something else")]
    WrongPurpose,
    #[error("this link has expired")]
    Expired,
}

/// A verified token's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub purpose: Purpose,
    pub issued_at: i64,
    pub expires_at: i64,
    /// A subscriber's public id, or a form nonce.
    pub subject: String,
}

#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    /// `subject` is a public id from [`random_id`] (16 bytes, base64url).
    pub fn sign(&self, purpose: Purpose, subject: &str, now: i64, ttl_seconds: i64) -> String {
        self.sign_bound(purpose, subject, b"", now, ttl_seconds)
    }

    /// [`sign`](Self::sign), the MAC also covering `bound`, which the token does not carry:
    /// only [`verify_bound`](Self::verify_bound) with the same `bound` accepts it.
    pub fn sign_bound(
        &self,
        purpose: Purpose,
        subject: &str,
        bound: &[u8],
        now: i64,
        ttl_seconds: i64,
    ) -> String {
        let subject = decode_subject(subject).unwrap_or([0; SUBJECT_LEN]);
        let mut buf = Vec::with_capacity(TOKEN_LEN);
        buf.push(purpose as u8);
        buf.extend_from_slice(&now.to_be_bytes());
        buf.extend_from_slice(&(now.saturating_add(ttl_seconds)).to_be_bytes());
        buf.extend_from_slice(&subject);
        let mut mac = self.mac();
        mac.update(&buf);
        mac.update(bound);
        buf.extend_from_slice(&mac.finalize().into_bytes()[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(buf)
    }

    pub fn verify(&self, token: &str, purpose: Purpose, now: i64) -> Result<Claims, TokenError> {
        self.verify_bound(token, purpose, b"", now)
    }

    /// Check a token made by [`sign_bound`](Self::sign_bound) for `bound`. A token of
    /// another purpose is checked as unbound, so a manage token offered here is told apart
    /// ([`TokenError::WrongPurpose`]); a bound token offered anywhere else, or for another
    /// value, fails its MAC ([`TokenError::BadSignature`]).
    pub(crate) fn verify_bound(
        &self,
        token: &str,
        purpose: Purpose,
        bound: &[u8],
        now: i64,
    ) -> Result<Claims, TokenError> {
        // Base64 of TOKEN_LEN bytes is 66 characters; refuse anything else before decoding.
        if token.len() != TOKEN_LEN.div_ceil(3) * 4 - 2 {
            return Err(TokenError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| TokenError::Malformed)?;
        if bytes.len() != TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        let mut mac = self.mac();
        mac.update(body);
        // Which value the MAC covers depends on the claimed purpose, which the MAC covers
        // too: a changed purpose byte fails either way.
        if body[0] == purpose as u8 {
            mac.update(bound);
        }
        mac.verify_truncated_left(tag)
            .map_err(|_| TokenError::BadSignature)?;
        let found = Purpose::from_byte(body[0]).ok_or(TokenError::Malformed)?;
        if found != purpose {
            return Err(TokenError::WrongPurpose);
        }
        let issued_at = i64::from_be_bytes(body[1..9].try_into().expect("8 bytes"));
        let expires_at = i64::from_be_bytes(body[9..17].try_into().expect("8 bytes"));
        if now >= expires_at {
            return Err(TokenError::Expired);
        }
        Ok(Claims {
            purpose,
            issued_at,
            expires_at,
            subject: URL_SAFE_NO_PAD.encode(&body[17..]),
        })
    }
}

fn decode_subject(s: &str) -> Option<[u8; SUBJECT_LEN]> {
    URL_SAFE_NO_PAD.decode(s).ok()?.try_into().ok()
}

/// A random identifier of `bytes` random bytes, base64url. With 16 bytes: a public id.
pub fn random_id(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source is available");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new subscriber public id (16 random bytes).
pub fn new_public_id() -> String {
    random_id(SUBJECT_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_every_failure() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        let id = new_public_id();
        let t = s.sign(Purpose::Confirm, &id, 1000, 60);
        let c = s.verify(&t, Purpose::Confirm, 1059).unwrap();
        assert_eq!(
            (c.subject.as_str(), c.issued_at, c.expires_at),
            (id.as_str(), 1000, 1060)
        );
        assert_eq!(
            s.verify(&t, Purpose::Confirm, 1060),
            Err(TokenError::Expired)
        );
        assert_eq!(
            s.verify(&t, Purpose::Manage, 1001),
            Err(TokenError::WrongPurpose)
        );
        let other = Signer::new(b"another key, another key, another");
        assert_eq!(
            other.verify(&t, Purpose::Confirm, 1001),
            Err(TokenError::BadSignature)
        );
        // Flip one character in the middle: the MAC fails.
        let mut forged = t.clone().into_bytes();
        forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(
            s.verify(&forged, Purpose::Confirm, 1001),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            s.verify("short", Purpose::Confirm, 1001),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            s.verify(&"!".repeat(66), Purpose::Confirm, 1001),
            Err(TokenError::Malformed)
        );
    }

    /// The documented pattern is exact: signed tokens match it, and a token of the right
    /// length whose last character is outside `AQgw` does not decode.
    #[test]
    fn token_pattern_is_the_real_shape() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        let length = TOKEN_LEN.div_ceil(3) * 4 - 2;
        assert_eq!(
            TOKEN_PATTERN,
            format!("^[A-Za-z0-9_-]{{{}}}[AQgw]$", length - 1)
        );
        for (i, purpose) in [
            Purpose::Confirm,
            Purpose::Manage,
            Purpose::Unsubscribe,
            Purpose::Form,
            Purpose::Rate,
        ]
        .into_iter()
        .enumerate()
        {
            let t = s.sign(purpose, &new_public_id(), i as i64 * 1_000_003, 86_400);
            assert_eq!(t.len(), length);
            assert!("AQgw".contains(t.chars().last().unwrap()), "{t}");
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
        }
        let t = s.sign(Purpose::Manage, &new_public_id(), 0, 60);
        for last in ('A'..='Z')
            .chain('a'..='z')
            .chain('0'..='9')
            .chain(['-', '_'])
        {
            let other = format!("{}{last}", &t[..t.len() - 1]);
            let decodes = URL_SAFE_NO_PAD.decode(&other).is_ok();
            assert_eq!(decodes, "AQgw".contains(last), "last character {last:?}");
            if !decodes {
                assert_eq!(
                    s.verify(&other, Purpose::Manage, 1),
                    Err(TokenError::Malformed)
                );
            }
        }
    }

    #[test]
    fn a_bound_token_holds_only_for_its_value() {
        let s = Signer::new(b"0123456789abcdef0123456789abcdef");
        let id = new_public_id();
        let t = s.sign_bound(Purpose::Rate, &id, b"2606.12243", 1000, 60);
        assert_eq!(t.len(), 66);
        let c = s
            .verify_bound(&t, Purpose::Rate, b"2606.12243", 1001)
            .unwrap();
        assert_eq!((c.subject.as_str(), c.expires_at), (id.as_str(), 1060));
        assert_eq!(
            s.verify_bound(&t, Purpose::Rate, b"2606.12244", 1001),
            Err(TokenError::BadSignature),
            "another paper"
        );
        assert_eq!(
            s.verify(&t, Purpose::Rate, 1001),
            Err(TokenError::BadSignature),
            "no paper"
        );
        assert_eq!(
            s.verify(&t, Purpose::Manage, 1001),
            Err(TokenError::BadSignature),
            "a rating link offered as a manage link"
        );
        assert_eq!(
            s.verify_bound(&t, Purpose::Rate, b"2606.12243", 1060),
            Err(TokenError::Expired)
        );
        let manage = s.sign(Purpose::Manage, &id, 1000, 60);
        assert_eq!(
            s.verify_bound(&manage, Purpose::Rate, b"2606.12243", 1001),
            Err(TokenError::WrongPurpose),
            "a manage link offered as a rating link"
        );
        // Unbound signing is binding to nothing: the tokens of before still verify.
        assert_eq!(
            s.sign_bound(Purpose::Manage, &id, b"", 5, 60),
            s.sign(Purpose::Manage, &id, 5, 60)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_verify(t in "\\PC{0,100}") {
            let s = Signer::new(b"0123456789abcdef0123456789abcdef");
            prop_assert!(s.verify(&t, Purpose::Manage, 0).is_err());
        }
    }
}
