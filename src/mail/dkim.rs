//! DKIM signing (RFC 6376; Ed25519 per RFC 8463), relaxed/relaxed, with mail-auth's signer.
//!
//! Not lettre's (0.11.23): with `c=simple` headers it hashes its own DKIM-Signature header
//! unfolded but writes it folded before `b=`, so no verifier agrees with it; relaxed, it names
//! a multipart's Content-Type in `h=` but does not hash it (that header is not among its
//! message headers), which fails the same way for every mail we send; and it reads Ed25519
//! keys only as bare seeds, RSA keys only as PKCS#1.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use mail_auth::common::crypto::{Algorithm, DkimKey, Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter, Writable};
use mail_auth::dkim::{Canonicalization, DkimSigner};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

use super::SetupError;

/// The headers signed, as our mails carry them (src/mail/mod.rs `build`, src/mail/outgoing.rs):
/// every mail has the first seven; Message-ID and the List-* headers only some. A header a
/// mail lacks is not named (a relay may add a missing Message-ID), except as below.
const SIGNED: [&str; 10] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// Over-signed (RFC 6376 §5.4.2): named once more than the mail carries them, so that a copy
/// added above ours breaks the signature instead of being shown in our name. These are the
/// ones a reader sees or acts on: who it is from, what it says, where "unsubscribe" goes.
/// A mail without List-Unsubscribe (a confirmation) thus gets none added either.
const OVER_SIGNED: [&str; 4] = [
    "From",
    "Subject",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// A key, domain and selector that sign mail.
pub(crate) struct Dkim {
    key: SharedKey,
    domain: String,
    selector: String,
    /// The public half as its DNS record publishes it: the `k=` type and the `p=` bytes.
    public: (&'static str, Vec<u8>),
}

/// The DNS TXT record that publishes a DKIM key: at `name`, the text `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkimRecord {
    /// `<selector>._domainkey.<domain>`.
    pub name: String,
    /// `v=DKIM1; k=rsa; p=<base64>`.
    pub value: String,
}

impl DkimRecord {
    /// The record as a zone file line. One TXT string holds at most 255 characters (RFC 1035
    /// §3.3.14) and an RSA key's text is longer, so it is written as several strings, which
    /// a verifier reads joined (RFC 6376 §3.6.2.2).
    pub fn zone_line(&self) -> String {
        let chunks: Vec<String> = self
            .value
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        format!("{}. IN TXT ( {} )", self.name, chunks.join(" "))
    }
}

/// The key, shared by the signer made for each message (mail-auth's keys are not `Clone`).
#[derive(Clone)]
struct SharedKey(Arc<DkimKey>);

impl SigningKey for SharedKey {
    type Hasher = Sha256;
    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }
    fn algorithm(&self) -> Algorithm {
        self.0.algorithm()
    }
}

impl Dkim {
    /// The signer for `domain` and `selector` with the key in `key_file`: a PEM (RSA as
    /// PKCS#1 or PKCS#8, Ed25519 as PKCS#8), or an Ed25519 seed in base64.
    pub fn load(domain: &str, selector: &str, key_file: &Path) -> Result<Self, SetupError> {
        let text = std::fs::read_to_string(key_file).map_err(|e| {
            SetupError::Dkim(format!(
                "cannot read mail.dkim_key_file {}: {e}",
                key_file.display()
            ))
        })?;
        let key = parse_key(&text).map_err(|why| {
            SetupError::Dkim(format!(
                "mail.dkim_key_file {}: {why} (write an RSA key, `openssl genrsa 2048`, or an Ed25519 key, `openssl genpkey -algorithm ed25519`, as PEM)",
                key_file.display()
            ))
        })?;
        let public = public_half(&key).map_err(|why| {
            SetupError::Dkim(format!(
                "the public key of {} cannot be written for DNS: {why}",
                key_file.display()
            ))
        })?;
        let dkim = Self {
            key: SharedKey(Arc::new(key)),
            domain: domain.to_string(),
            selector: selector.to_string(),
            public,
        };
        // A key that loads but cannot sign is found now, not at each mail.
        let probe = dkim
            .signature(b"From: a@example.org\r\n\r\n", &["From"])
            .map_err(|e| {
                SetupError::Dkim(format!(
                    "the key in {} cannot sign: {e}",
                    key_file.display()
                ))
            })?;
        // RFC 8301 §3.2: verifiers need not accept RSA keys under 1024 bits, and Gmail
        // does not; a mail signed with one fails DKIM, and so DMARC.
        if dkim.key.0.algorithm() == Algorithm::RsaSha256
            && let Some(bits) = signature_bits(&probe)
            && bits < MIN_RSA_BITS
        {
            return Err(SetupError::Dkim(format!(
                "the RSA key in {} has {bits} bits; DKIM needs at least {MIN_RSA_BITS} (RFC 8301), \
                 write one with `openssl genrsa 2048`",
                key_file.display()
            )));
        }
        Ok(dkim)
    }

    /// `formatted`, a whole message, with a DKIM-Signature header in front.
    pub fn sign(&self, formatted: Vec<u8>) -> mail_auth::Result<Vec<u8>> {
        // From the bytes, not lettre's headers: a multipart's Content-Type is not among those.
        let head = header_block(&formatted);
        let names = signed_names(|name| has_header(head, name));
        let header = self.signature(&formatted, &names)?;
        let mut out = Vec::with_capacity(header.len() + formatted.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&formatted);
        Ok(out)
    }

    /// The public key as its DNS record publishes it (the `p=` tag, decoded).
    pub fn public_key(&self) -> &[u8] {
        &self.public.1
    }

    /// The DNS record that publishes this key, for verifiers to find.
    pub fn record(&self) -> DkimRecord {
        let (kind, key) = &self.public;
        let p = base64::engine::general_purpose::STANDARD.encode(key);
        DkimRecord {
            name: format!("{}._domainkey.{}", self.selector, self.domain),
            value: format!("v=DKIM1; k={kind}; p={p}"),
        }
    }

    fn signature(&self, formatted: &[u8], names: &[&str]) -> mail_auth::Result<String> {
        signature(
            self.key.clone(),
            &self.domain,
            &self.selector,
            formatted,
            names,
        )
    }
}

/// `key`'s public half as DNS publishes it: its `k=` type and `p=` bytes. RSA as a
/// SubjectPublicKeyInfo, as `openssl rsa -pubout` and opendkim-genkey write it and every
/// verifier reads it (RFC 6376 names the bare RSAPublicKey, which OpenSSL-based verifiers
/// refuse); Ed25519 as the bare 32-byte key (RFC 8463 §4.2). Any key the signer takes, RSA
/// from 1024 bits up.
fn public_half(key: &DkimKey) -> Result<(&'static str, Vec<u8>), String> {
    match key {
        DkimKey::Rsa(rsa_key) => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            use rsa::pkcs8::EncodePublicKey;
            let spki = rsa::RsaPublicKey::from_pkcs1_der(&rsa_key.public_key())
                .map_err(|e| e.to_string())?
                .to_public_key_der()
                .map_err(|e| e.to_string())?;
            Ok(("rsa", spki.as_bytes().to_vec()))
        }
        DkimKey::Ed25519(ed) => Ok(("ed25519", ed.public_key())),
    }
}

/// The DKIM-Signature header for `formatted` by `key`, over the headers `names`.
fn signature(
    key: impl SigningKey,
    domain: &str,
    selector: &str,
    formatted: &[u8],
    names: &[&str],
) -> mail_auth::Result<String> {
    let signature = DkimSigner::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers(names.iter().copied())
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
        .sign(formatted)?;
    Ok(without_fold_after_b(signature.to_header()))
}

/// The header without a fold between the `b=` value and the `;` after it. mail-auth 0.13
/// folds there when the value ends at its line limit (with RSA-2048, our confirmation mails'
/// did); RFC 6376 §3.7 deletes that whitespace with the value when hashing, as the signer
/// did, but dkimpy keeps it and then rejects the signature. No whitespace of the value is
/// hashed, so dropping it changes nothing that was signed.
fn without_fold_after_b(header: String) -> String {
    match header.strip_suffix("\r\n\t;\r\n") {
        Some(head) => format!("{head};\r\n"),
        None => header,
    }
}

/// The names for mail-auth's signer, which signs every instance of a name it is given and
/// names a header once more for each further time it is listed (or once, if absent).
fn signed_names(present: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let mut names = Vec::with_capacity(SIGNED.len() + OVER_SIGNED.len());
    for name in SIGNED {
        let over = OVER_SIGNED.contains(&name);
        match (present(name), over) {
            (true, true) => names.extend([name, name]),
            (true, false) | (false, true) => names.push(name),
            (false, false) => {}
        }
    }
    names
}

/// The header block of a message: up to the blank line.
fn header_block(message: &[u8]) -> &[u8] {
    let end = memchr::memmem::find(message, b"\r\n\r\n").map_or(message.len(), |i| i + 2);
    &message[..end]
}

/// Whether `head` has a field `name` (a line that starts with it and a colon).
fn has_header(head: &[u8], name: &str) -> bool {
    head.split(|&b| b == b'\n').any(|line| {
        line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && line[name.len()..].trim_ascii_start().starts_with(b":")
    })
}

/// The smallest RSA key a DKIM verifier must accept (RFC 8301 §3.2).
const MIN_RSA_BITS: usize = 1024;

/// The size in bits of the signature in a DKIM-Signature header (its `b=` tag): for RSA,
/// the key's modulus.
fn signature_bits(header: &str) -> Option<usize> {
    let b = header
        .split(';')
        .map(str::trim_start)
        .find_map(|tag| tag.strip_prefix("b="))?;
    let b: String = b.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(b).ok()?;
    Some(bytes.len() * 8)
}

/// The Ed25519 PKCS#8 (RFC 8410) prefix before a 32-byte seed: what `openssl genpkey`
/// writes, so a bare seed can be read the same way.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn parse_key(text: &str) -> Result<DkimKey, String> {
    let text = text.trim();
    if !text.starts_with("-----BEGIN") {
        let seed = base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()
            .filter(|seed| seed.len() == 32)
            .ok_or("neither a PEM key nor a base64 Ed25519 seed of 32 bytes")?;
        let der = [ED25519_PKCS8_PREFIX.as_slice(), &seed].concat();
        return Ed25519Key::from_pkcs8_der(&der)
            .map(DkimKey::from)
            .map_err(|e| e.to_string());
    }
    let der = PrivateKeyDer::from_pem_slice(text.as_bytes())
        .map_err(|e| format!("no private key in this PEM ({e})"))?;
    match der {
        PrivateKeyDer::Pkcs1(_) => rsa(der),
        PrivateKeyDer::Pkcs8(ref pkcs8) => {
            match Ed25519Key::from_pkcs8_der(pkcs8.secret_pkcs8_der()) {
                Ok(key) => Ok(key.into()),
                Err(_) => rsa(der),
            }
        }
        _ => Err("an EC key; DKIM signs with RSA or Ed25519".into()),
    }
}

fn rsa(der: PrivateKeyDer<'_>) -> Result<DkimKey, String> {
    RsaKey::<Sha256>::from_key_der(der)
        .map(DkimKey::from)
        .map_err(|e| format!("neither an RSA nor an Ed25519 key ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_signed_names_are_named_once_more_than_present() {
        let present = |names: &'static [&'static str]| move |n: &str| names.contains(&n);
        // A confirmation: no Message-ID, no List-* headers.
        let confirmation = signed_names(present(&[
            "From",
            "To",
            "Subject",
            "Date",
            "MIME-Version",
            "Content-Type",
        ]));
        assert_eq!(
            confirmation.join(":"),
            "From:From:To:Subject:Subject:Date:MIME-Version:Content-Type:List-Unsubscribe:List-Unsubscribe-Post"
        );
        let digest = signed_names(|_| true);
        assert_eq!(
            digest.join(":"),
            "From:From:To:Subject:Subject:Date:Message-ID:MIME-Version:Content-Type:List-Id:List-Unsubscribe:List-Unsubscribe:List-Unsubscribe-Post:List-Unsubscribe-Post"
        );
    }

    #[test]
    fn headers_are_found_in_the_header_block_only() {
        let head = header_block(
            b"From: a@example.org\r\nSubject: x\r\n Content-Type: folded\r\nList-Id : l\r\n\r\nTo: body\r\n",
        );
        assert!(has_header(head, "from") && has_header(head, "Subject"));
        assert!(has_header(head, "List-Id"));
        // A continuation line, the body, a longer name: not headers.
        assert!(!has_header(head, "Content-Type"));
        assert!(!has_header(head, "To"));
        assert!(!has_header(head, "List"));
    }

    /// A key that signs like RSA-2048 (256 bytes), so that headers are laid out as with one.
    struct LikeRsa2048;

    impl SigningKey for LikeRsa2048 {
        type Hasher = Sha256;
        fn sign(&self, _: impl Writable) -> mail_auth::Result<Vec<u8>> {
            Ok(vec![7; 256])
        }
        fn algorithm(&self) -> Algorithm {
            Algorithm::RsaSha256
        }
    }

    /// `h=` lists of many lengths, so that the `b=` value ends at many columns, at the line
    /// limit too: no header keeps a fold before its last `;`.
    #[test]
    fn no_fold_between_the_signature_and_its_semicolon() {
        let message = b"From: a@example.org\r\n\r\nbody\r\n";
        let mut folded = 0;
        for len in 1..=70 {
            let name = format!("X-{}", "a".repeat(len));
            let names = ["From", name.as_str()];
            let header = signature(LikeRsa2048, "example.org", "s", message, &names).unwrap();
            assert!(header.ends_with("=;\r\n"), "{header}");
            let raw = DkimSigner::from_key(LikeRsa2048)
                .domain("example.org")
                .selector("s")
                .headers(names)
                .sign(message)
                .unwrap()
                .to_header();
            folded += usize::from(raw.ends_with("\r\n\t;\r\n"));
        }
        // The case happened, so the assertion above was put to the test.
        assert!(folded > 0);
    }

    /// A 512-bit RSA key, made for this test with `openssl genrsa -traditional 512`: too
    /// small for DKIM, refused at start-up.
    const RSA_512: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOwIBAAJBAMNORmpNsJvEgbBBylnhY6CY7VC0Pf11pWbh3hvLJ/pcqn4IJB6V\nVB9fNnVvFr9uwJvokCmgDr0HQfNvGh6hTaUCAwEAAQJAKT0H5T5OQjW15I+fuGa8\n8JYZ1eaZCEGlERo0Gc5FvLkh3pr/wZonv4BHIduqxy3w9ILlPChvJrXbBmS1291j\nQQIhAOLni8aBoi+DpkNycLBkHY5wPmkQLAh3hY/c9yvB7qHdAiEA3Fl1G2jknTu1\nRkuSddgHhwCQHBdQOME27KdKKHDW8mkCIQCess3LF+3kh5JpCAiTBmK5tf2gpAP4\nJAhRV320qB4MLQIgEjCITETyalBdfHoMkxHMPUa8nrUF+Elq4UpGAuSdudECIQCn\nhCpf1o2xobNecv9YWk0FoafEzlIzYbRVc8YWRvy1rA==\n-----END RSA PRIVATE KEY-----";

    #[test]
    fn an_rsa_key_under_1024_bits_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small.pem");
        std::fs::write(&path, RSA_512).unwrap();
        let Err(SetupError::Dkim(why)) = Dkim::load("example.org", "s1", &path) else {
            panic!("a 512-bit key loaded");
        };
        assert!(
            why.contains("512 bits") && why.contains("at least 1024"),
            "{why}"
        );
        assert_eq!(
            signature_bits("DKIM-Signature: v=1; a=rsa-sha256; bh=AAAA; b=AAAA\r\n\t AAAA"),
            Some(48)
        );
    }

    #[test]
    fn keys_that_are_not_rsa_or_ed25519_say_so() {
        let err = |text: &str| match parse_key(text) {
            Ok(_) => panic!("{text:?} loaded"),
            Err(e) => e,
        };
        assert!(
            err("not a key").contains("neither a PEM key"),
            "{}",
            err("x")
        );
        // 31 bytes: not a seed.
        assert!(
            err(&base64::engine::general_purpose::STANDARD.encode([7u8; 31])).contains("32 bytes")
        );
        assert!(
            err("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
                .contains("no private key")
        );
        // A bare seed (the form lettre took) still loads.
        assert!(parse_key(&base64::engine::general_purpose::STANDARD.encode([7u8; 32])).is_ok());
    }
}
