//! The do-not-contact record an erasure leaves: a keyed hash of the address, never the
//! address itself.
//!
//! Why a guess cannot be tested: the hash is HMAC-SHA256 of the normalised address under a
//! key derived from the service's secret (`PAPERBOY_SECRET`, or `data_dir/secret`). A plain
//! SHA-256 of an address would be reversible by guessing: addresses are few and predictable,
//! and anyone with the table could hash a list of candidates and compare. Keyed, a guess can
//! only be checked by someone who also holds the secret, and the secret is not in the
//! database: a leaked database or backup alone gives nothing to test guesses against. (The
//! service itself, which holds both, can tell whether a given address was erased: that is
//! the point of the record.)

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::EmailAddress;

/// What the secret is stretched with to key the hashes: a key of its own, so that a hash
/// can never be mistaken for (or used as) a link token's MAC made with the secret.
const DERIVATION: &[u8] = b"paperboy erased-address v1";

/// The key the hashes of erased addresses are made with.
#[derive(Clone)]
pub struct ErasureKey([u8; 32]);

/// An erased address as stored: 64 hex digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressHash(String);

impl ErasureKey {
    /// The key for a service secret: HMAC-SHA256(secret, "paperboy erased-address v1").
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
        mac.update(DERIVATION);
        Self(mac.finalize().into_bytes().into())
    }

    /// HMAC-SHA256 of the address as parsed (lower case, IDNA domain), so that every way of
    /// writing one address gives one hash.
    pub fn hash(&self, email: &EmailAddress) -> AddressHash {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(email.as_str().as_bytes());
        let bytes = mac.finalize().into_bytes();
        AddressHash(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl AddressHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ErasureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErasureKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_one_hash_and_another_secret_another() {
        let key = ErasureKey::from_secret(b"a secret of at least thirty-two characters");
        let a = EmailAddress::parse("Ada@Example.COM").unwrap();
        let b = EmailAddress::parse(" ada@example.com").unwrap();
        assert_eq!(key.hash(&a), key.hash(&b));
        assert_eq!(key.hash(&a).as_str().len(), 64);
        assert_ne!(
            key.hash(&a),
            key.hash(&EmailAddress::parse("bob@example.com").unwrap())
        );
        let other = ErasureKey::from_secret(b"another secret of thirty-two characters!");
        assert_ne!(key.hash(&a), other.hash(&a));
        // Not the plain SHA-256 of the address, which anyone could compute from a guess.
        use sha2::Digest;
        let plain: String = sha2::Sha256::digest(a.as_str().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(key.hash(&a).as_str(), plain);
    }
}
