//! A Return-Path that names the message (VERP): `bounces+<tag>@lists.example.org`, where
//! the tag names the outbox row a message was sent from and its reader, and is signed, so a
//! bounce maps to its digest without guessing and a forged one is refused.
//!
//! Tag: `<kind><row id>-<reader id>-<mac>`, kind `d` (a digest) or `s` (a subscription
//! mail), mac the first 8 bytes of HMAC-SHA256 over `verp\0<kind><row>-<reader>` in lower
//! hex. Lower case throughout: some MTAs fold the case of local parts, and the address
//! survives that. 64 bits of MAC: a forger gets one guess per bounce mail it sends us,
//! which the listener's limits keep to thousands, not 2^64. With ids below 10^12 the local
//! part stays within RFC 5321's 64 octets for a bounce mailbox name of up to 12 characters
//! (12, then `+d999999999999-999999999999-` 28, then the MAC 16: 56).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{EmailAddress, MessageKind, MessageRef};

const MAC_BYTES: usize = 8;

/// Why an address is not one of our signed bounce addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerpError {
    #[error("not our bounce address")]
    NotOurs,
    #[error("our bounce address without a tag")]
    Untagged,
    #[error("a bounce tag that does not parse")]
    Malformed,
    #[error("a bounce tag this service did not sign")]
    BadSignature,
}

/// The bounce mailbox and the key its tags are signed with.
#[derive(Clone)]
pub struct Verp {
    local: String,
    domain: String,
    key: Vec<u8>,
}

impl Verp {
    /// `bounce_address` like `bounces@lists.example.org`; `key` the service's signing key
    /// (a tag's MAC is bound to its purpose, so it cannot stand for a link token).
    pub fn new(bounce_address: &str, key: &[u8]) -> Result<Self, String> {
        let address = EmailAddress::parse(bounce_address)
            .map_err(|e| format!("mail.bounce_address {bounce_address:?}: {e}"))?;
        let (local, domain) = address
            .as_str()
            .rsplit_once('@')
            .expect("a parsed address has an @");
        if local.contains('+') {
            return Err(format!(
                "mail.bounce_address {bounce_address:?}: the name before the @ cannot hold a +, \
                 which separates it from each message's tag"
            ));
        }
        if local.len() > 12 {
            return Err(format!(
                "mail.bounce_address {bounce_address:?}: at most 12 characters before the @, so \
                 that it and a message's tag fit SMTP's 64"
            ));
        }
        Ok(Self {
            local: local.to_string(),
            domain: domain.to_string(),
            key: key.to_vec(),
        })
    }

    /// The bounce mailbox itself, untagged.
    pub fn mailbox(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }

    /// The envelope sender of one message.
    pub fn address(&self, message: MessageRef) -> String {
        let body = body(message);
        format!(
            "{}+{body}-{}@{}",
            self.local,
            hex(&self.mac(&body)),
            self.domain
        )
    }

    /// The message an address names, if it is one of ours and signed by us. Case and
    /// surrounding `<>` or spaces do not matter.
    pub fn parse(&self, address: &str) -> Result<MessageRef, VerpError> {
        let address = address.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = address.rsplit_once('@').ok_or(VerpError::NotOurs)?;
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return Err(VerpError::NotOurs);
        }
        let tag = match local.split_once('+') {
            Some((name, tag)) if name.eq_ignore_ascii_case(&self.local) => tag,
            None if local.eq_ignore_ascii_case(&self.local) => return Err(VerpError::Untagged),
            _ => return Err(VerpError::NotOurs),
        };
        let tag = tag.to_ascii_lowercase();
        let (body, mac) = tag.rsplit_once('-').ok_or(VerpError::Malformed)?;
        let message = parse_body(body).ok_or(VerpError::Malformed)?;
        let mac = unhex(mac).ok_or(VerpError::Malformed)?;
        let mut check = self.hmac();
        check.update(body.as_bytes());
        check
            .verify_truncated_left(&mac)
            .map_err(|_| VerpError::BadSignature)?;
        Ok(message)
    }

    /// The first message named by a signed tag anywhere in `text` (a bounce's headers, the
    /// returned message's Return-Path, a prose bounce quoting it). Tags that fail their MAC
    /// are passed over.
    pub(crate) fn find_in(&self, text: &[u8]) -> Option<MessageRef> {
        let lower = text.to_ascii_lowercase();
        let needle = format!("{}+", self.local);
        let is_part = |b: u8| b.is_ascii_alphanumeric() || b"+-._".contains(&b);
        memchr::memmem::find_iter(&lower, needle.as_bytes())
            .filter(|&at| at == 0 || !is_part(lower[at - 1]))
            .find_map(|at| {
                let end = lower[at..]
                    .iter()
                    .position(|&b| !(is_part(b) || b == b'@'))
                    .map_or(lower.len(), |n| at + n);
                let candidate = std::str::from_utf8(&lower[at..end]).ok()?;
                self.parse(candidate.trim_end_matches('.')).ok()
            })
    }

    fn hmac(&self) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"verp\0");
        mac
    }

    fn mac(&self, body: &str) -> [u8; MAC_BYTES] {
        let mut mac = self.hmac();
        mac.update(body.as_bytes());
        mac.finalize().into_bytes()[..MAC_BYTES]
            .try_into()
            .expect("8 bytes")
    }
}

fn body(m: MessageRef) -> String {
    let letter = match m.kind {
        MessageKind::Digest => 'd',
        MessageKind::SubscriptionMail => 's',
    };
    format!("{letter}{}-{}", m.id, m.reader)
}

fn parse_body(body: &str) -> Option<MessageRef> {
    let kind = match body.as_bytes().first()? {
        b'd' => MessageKind::Digest,
        b's' => MessageKind::SubscriptionMail,
        _ => return None,
    };
    let (id, reader) = body[1..].split_once('-')?;
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    Some(MessageRef {
        kind,
        id: number(id)?,
        reader: number(reader)?,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != MAC_BYTES * 2 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn verp() -> Verp {
        Verp::new(
            "Bounces@Lists.Example.org",
            b"0123456789abcdef0123456789abcdef",
        )
        .unwrap()
    }

    #[test]
    fn an_address_names_its_message_and_reader() {
        let v = verp();
        let m = MessageRef {
            kind: MessageKind::Digest,
            id: 1234,
            reader: 56,
        };
        let a = v.address(m);
        assert!(a.starts_with("bounces+d1234-56-"), "{a}");
        assert!(a.ends_with("@lists.example.org"), "{a}");
        assert!(EmailAddress::parse(&a).is_ok(), "{a} is a valid address");
        assert_eq!(v.parse(&a), Ok(m));
        // Case folded by an MTA, or in angle brackets: still ours.
        assert_eq!(v.parse(&format!("<{}>", a.to_uppercase())), Ok(m));
        assert_eq!(v.mailbox(), "bounces@lists.example.org");
    }

    #[test]
    fn forged_other_and_untagged_addresses_are_told_apart() {
        let v = verp();
        let m = MessageRef {
            kind: MessageKind::SubscriptionMail,
            id: 7,
            reader: 8,
        };
        let a = v.address(m);
        // The same tag naming another reader fails its MAC.
        let forged = a.replacen("s7-8-", "s7-9-", 1);
        assert_eq!(v.parse(&forged), Err(VerpError::BadSignature));
        let other_key = Verp::new("bounces@lists.example.org", b"another key").unwrap();
        assert_eq!(other_key.parse(&a), Err(VerpError::BadSignature));
        assert_eq!(
            v.parse("bounces@lists.example.org"),
            Err(VerpError::Untagged)
        );
        assert_eq!(
            v.parse("someone@lists.example.org"),
            Err(VerpError::NotOurs)
        );
        assert_eq!(
            v.parse(&a.replace("example.org", "example.net")),
            Err(VerpError::NotOurs)
        );
        assert_eq!(
            v.parse("bounces+x1-2-0011223344556677@lists.example.org"),
            Err(VerpError::Malformed)
        );
        assert_eq!(
            v.parse("bounces+d1-2-00@lists.example.org"),
            Err(VerpError::Malformed)
        );
        // The bounce mailbox, tagged or not, forged or not: ours (refused for other reasons).
        assert_ne!(v.parse(&forged), Err(VerpError::NotOurs));
        assert_eq!(v.parse("digest@lists.example.org"), Err(VerpError::NotOurs));
    }

    #[test]
    fn a_tag_is_found_in_text_and_forged_ones_are_passed_over() {
        let v = verp();
        let m = MessageRef {
            kind: MessageKind::Digest,
            id: 5,
            reader: 6,
        };
        let good = v.address(m);
        let forged = v
            .address(MessageRef { reader: 7, ..m })
            .replacen("-7-", "-8-", 1);
        let text = format!(
            "X-Postfix-Sender: rfc822; {forged}\r\nReturn-Path: <{}>\r\nsee {good}.",
            good.to_uppercase()
        );
        assert_eq!(v.find_in(text.as_bytes()), Some(m));
        assert_eq!(v.find_in(forged.as_bytes()), None);
        assert_eq!(v.find_in(b"xbounces+d5-6-0011@lists.example.org"), None);
        assert_eq!(v.find_in(b""), None);
    }

    #[test]
    fn a_bounce_address_that_cannot_carry_tags_is_refused() {
        assert!(Verp::new("bounces+x@example.org", b"k").is_err());
        assert!(Verp::new("a-very-long-bounce-name@example.org", b"k").is_err());
        assert!(Verp::new("not an address", b"k").is_err());
    }

    proptest! {
        #[test]
        fn any_message_round_trips_and_fits_smtp(id in 0i64..1_000_000_000_000, reader in 0i64..1_000_000_000_000, digest: bool) {
            let v = Verp::new("bounces12345@example.org", b"key").unwrap();
            let kind = if digest { MessageKind::Digest } else { MessageKind::SubscriptionMail };
            let m = MessageRef { kind, id, reader };
            let a = v.address(m);
            prop_assert!(a.split('@').next().unwrap().len() <= 64, "{}", a);
            prop_assert_eq!(v.parse(&a), Ok(m));
        }

        #[test]
        fn no_input_panics(s in "\\PC{0,200}") {
            let _ = verp().parse(&s);
            let _ = verp().find_in(s.as_bytes());
        }
    }
}
