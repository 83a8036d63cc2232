use std::fmt;

/// The longest address SMTP can carry in a forward path (RFC 5321 §4.5.3.1.3).
const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

/// An email address, validated and normalised once where it enters the system:
/// trimmed, lower-cased, the domain in its ASCII (punycode) form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("enter your email address")]
    Empty,
    #[error("this address is too long (at most {MAX_LEN} characters)")]
    TooLong,
    #[error("an email address cannot contain line breaks or control characters")]
    ControlChars,
    #[error(
        "this does not look like an email address: it needs one @ with a name before it and a domain after it"
    )]
    Shape,
    #[error("the part before the @ is too long (at most {MAX_LOCAL_LEN} characters)")]
    LocalTooLong,
    #[error(
        "quoted names and non-ASCII characters before the @ are not supported; use a plain address"
    )]
    UnsupportedLocal,
    #[error("the domain after the @ is not valid; check for typos")]
    Domain,
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > MAX_LEN * 4 {
            return Err(EmailError::TooLong);
        }
        if super::has_control_chars(s) {
            return Err(EmailError::ControlChars);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(EmailError::Shape)?;
        if local.is_empty() || domain.is_empty() {
            return Err(EmailError::Shape);
        }
        // Plain dot-atoms only: quoted local parts and SMTPUTF8 local parts are legal but rare,
        // and refusing them keeps every address safe to put in a header as is.
        if !local.bytes().all(is_atext_or_dot) {
            return Err(if local.contains('@') {
                EmailError::Shape
            } else {
                EmailError::UnsupportedLocal
            });
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(EmailError::Shape);
        }
        if local.len() > MAX_LOCAL_LEN {
            return Err(EmailError::LocalTooLong);
        }
        let domain = normalise_domain(domain)?;
        let address = format!("{}@{}", local.to_ascii_lowercase(), domain);
        if address.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        // A second opinion from a maintained RFC 5322 parser: both must agree.
        if !email_address::EmailAddress::is_valid(&address) {
            return Err(EmailError::Shape);
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

fn is_atext_or_dot(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b)
}

/// IDNA-normalise a domain and insist on a public-looking name: at least two labels,
/// no IP literals, no `localhost`.
fn normalise_domain(domain: &str) -> Result<String, EmailError> {
    if domain.starts_with('[') {
        return Err(EmailError::Domain);
    }
    let ascii = idna::domain_to_ascii(domain).map_err(|_| EmailError::Domain)?;
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii).to_string();
    let labels: Vec<&str> = ascii.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(EmailError::Domain);
    }
    // A top-level domain is never all digits, so `user@10.0.0.1` is refused here.
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(EmailError::Domain);
    }
    Ok(ascii)
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_case_whitespace_and_idn() {
        assert_eq!(
            EmailAddress::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        assert_eq!(
            EmailAddress::parse("ada+papers@example.com")
                .unwrap()
                .as_str(),
            "ada+papers@example.com"
        );
        assert_eq!(
            EmailAddress::parse("info@bücher.example").unwrap().as_str(),
            "info@xn--bcher-kva.example"
        );
    }

    #[test]
    fn refuses_what_it_should_with_the_right_reason() {
        let cases = [
            ("", EmailError::Empty),
            ("plainaddress", EmailError::Shape),
            ("@example.com", EmailError::Shape),
            ("ada@", EmailError::Shape),
            ("a..b@example.com", EmailError::Shape),
            (".a@example.com", EmailError::Shape),
            ("ada@localhost", EmailError::Domain),
            ("ada@[127.0.0.1]", EmailError::Domain),
            ("ada@10.0.0.1", EmailError::Domain),
            ("ada@-bad-.com", EmailError::Domain),
            ("\"ada lovelace\"@example.com", EmailError::UnsupportedLocal),
            (
                "ada@example.com\r\nBcc: x@evil.com",
                EmailError::ControlChars,
            ),
            ("用户@例子.广告", EmailError::UnsupportedLocal),
        ];
        for (input, want) in cases {
            assert_eq!(EmailAddress::parse(input), Err(want), "{input:?}");
        }
        let long = format!("{}@example.com", "a".repeat(300));
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::LocalTooLong));
        let long_domain = format!("ada@{}.com", ["abcdefghij"; 30].join("."));
        assert_eq!(EmailAddress::parse(&long_domain), Err(EmailError::TooLong));
    }

    proptest! {
        #[test]
        fn never_panics_and_output_is_stable(s in "\\PC{0,80}") {
            if let Ok(e) = EmailAddress::parse(&s) {
                // Normalised output parses to itself and is header-safe.
                prop_assert_eq!(EmailAddress::parse(e.as_str()), Ok(e.clone()));
                prop_assert!(!e.as_str().contains(['\r', '\n', ' ', '"', '<', '>']));
            }
        }

        #[test]
        fn simple_addresses_round_trip(local in "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", dom in "[a-z][a-z0-9-]{0,10}[a-z0-9]\\.[a-z]{2,6}") {
            prop_assume!(!local.contains(".."));
            // "xn--…" is punycode, and a label that does not decode ("xn--a") is refused as
            // it should be: not a simple address.
            prop_assume!(dom.get(2..4) != Some("--"));
            let s = format!("{local}@{dom}");
            prop_assert_eq!(EmailAddress::parse(&s).map(|e| e.as_str().to_string()), Ok(s));
        }
    }
}
