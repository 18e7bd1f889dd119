//! Random credentials, their stored hashes, and constant-time comparison.
//!
//! Every credential we mint (client secrets, and later codes and refresh tokens) carries
//! 256 bits from the OS RNG. For such values a fast hash is as safe as a slow one: a
//! brute-force search of 2^256 inputs is out of reach whatever the per-guess cost, so
//! SHA-256 keeps the token endpoint fast without weakening storage. Passwords, which
//! people choose, are different and use argon2id (see `password`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `prefix` followed by `bytes` random bytes, base64url without padding.
pub fn random_token(prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    let mut out = String::with_capacity(prefix.len() + bytes * 4 / 3 + 2);
    out.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(&buf, &mut out);
    out
}

/// Hex SHA-256 of a high-entropy credential: the only form in which we store it.
pub fn hash(credential: &str) -> String {
    let digest = Sha256::digest(credential.as_bytes());
    // A table instead of `write!` per byte: this runs on every token request.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Constant-time equality of two byte strings (the length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Does `presented` hash to `stored_hash`? Compared in constant time.
pub fn verify(presented: &str, stored_hash: &str) -> bool {
    ct_eq(hash(presented).as_bytes(), stored_hash.as_bytes())
}

/// A secret key for message authentication (HMAC-SHA-256): values we hand out and must
/// recognise later without storing them (device cookies, session-bound CSRF tokens).
#[derive(Clone)]
pub struct MacKey(aws_lc_rs::hmac::Key);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey([redacted])")
    }
}

impl MacKey {
    pub fn new(bytes: [u8; 32]) -> MacKey {
        MacKey(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            &bytes,
        ))
    }

    /// The tag of `message`, base64url without padding (43 characters).
    pub fn tag(&self, message: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&self.0, message))
    }

    /// Is `tag` the tag of `message`? Constant-time.
    pub fn verify(&self, message: &[u8], tag: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(tag)
            .is_ok_and(|t| aws_lc_rs::hmac::verify(&self.0, message, &t).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = random_token("pcs_", 32);
        let b = random_token("pcs_", 32);
        assert!(a.starts_with("pcs_"));
        assert_eq!(a.len(), 4 + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn mac_tags_verify_only_for_their_message_and_key() {
        let k = MacKey::new([1; 32]);
        let t = k.tag(b"alice");
        assert_eq!(t.len(), 43);
        assert!(k.verify(b"alice", &t));
        assert!(!k.verify(b"alicf", &t));
        assert!(!MacKey::new([2; 32]).verify(b"alice", &t));
        assert!(!k.verify(b"alice", "not base64!"));
    }

    #[test]
    fn verify_matches_only_the_same_secret() {
        let s = random_token("pcs_", 32);
        let h = hash(&s);
        assert!(verify(&s, &h));
        assert!(!verify(&format!("{s}x"), &h));
    }
}
