//! Proof Key for Code Exchange (RFC 7636), S256 only (RFC 9700 §2.1.1: `plain` offers
//! no protection when the authorization request leaks).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::secret::ct_eq;

/// RFC 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
fn unreserved(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A code challenge for S256: the base64url SHA-256 of a verifier, 43 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn parse(s: &str) -> Option<CodeChallenge> {
        (s.len() == 43 && unreserved(s) && !s.contains(['.', '~'])).then(|| CodeChallenge(s.into()))
    }

    /// A stored challenge, validated when it was stored.
    pub fn from_stored(s: String) -> CodeChallenge {
        CodeChallenge(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge, compared in constant time.
    pub fn verify(&self, verifier: &str) -> bool {
        if !unreserved(verifier) {
            return false;
        }
        let digest = Sha256::digest(verifier.as_bytes());
        ct_eq(URL_SAFE_NO_PAD.encode(digest).as_bytes(), self.0.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let c = CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap();
        assert!(c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!c.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"));
        assert!(!c.verify("short"));
    }

    #[test]
    fn malformed_challenges_are_refused() {
        assert!(CodeChallenge::parse("plain-is-not-a-digest").is_none());
        assert!(CodeChallenge::parse(&"a".repeat(44)).is_none());
        assert!(CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM").is_none());
    }
}
