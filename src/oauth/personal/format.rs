//! Personal access tokens: `pcp_` + 43 characters of base64url (256 bits from the OS
//! RNG) + `_` + a 6-character checksum.
//!
//! The prefix lets secret scanners and people recognise a leaked token. The checksum
//! (the first 4 bytes of SHA-256 of everything before the final `_`, in base62) lets
//! `well_formed` turn away typos and truncated copies without touching the database,
//! and lets scanners avoid false positives. It is no secret and adds no security: a
//! token is checked by looking up `crate::secret::hash` of it, like any credential with
//! 256 bits of entropy.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const PREFIX: &str = "pcp_";

/// Random bytes per token.
const RANDOM_BYTES: usize = 32;
/// base64url characters of the random part (256 bits, unpadded).
const BODY_LEN: usize = 43;
/// Characters of the checksum: 62^6 > 2^32, so any 4-byte value fits.
const CHECKSUM_LEN: usize = 6;
/// Length of a whole token: prefix, body, `_`, checksum.
pub const LEN: usize = PREFIX.len() + BODY_LEN + 1 + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A fresh token. Show it once; store only `crate::secret::hash` of it.
pub fn generate() -> String {
    let mut random = [0u8; RANDOM_BYTES];
    OsRng.fill_bytes(&mut random);
    from_bytes(&random)
}

fn from_bytes(random: &[u8; RANDOM_BYTES]) -> String {
    let mut token = String::with_capacity(LEN);
    token.push_str(PREFIX);
    URL_SAFE_NO_PAD.encode_string(random, &mut token);
    let checksum = checksum(&token);
    token.push('_');
    token.push_str(&checksum);
    token
}

/// Does `token` have our shape and a correct checksum? Pure and cheap: call it before
/// any database lookup. The checksum comparison is constant-time.
pub fn well_formed(token: &str) -> bool {
    if token.len() != LEN || !token.starts_with(PREFIX) {
        return false;
    }
    // The length and prefix are ASCII, so these byte offsets are char boundaries
    // unless the token has non-ASCII characters, which `get` then refuses.
    let sep = PREFIX.len() + BODY_LEN;
    let (Some(head), Some(body), Some(tail)) = (
        token.get(..sep),
        token.get(PREFIX.len()..sep),
        token.get(sep..),
    ) else {
        return false;
    };
    let Some(presented) = tail.strip_prefix('_') else {
        return false;
    };
    // Decoding also rejects a last character with stray low bits (43 × 6 = 258).
    let body_ok = URL_SAFE_NO_PAD
        .decode(body)
        .is_ok_and(|bytes| bytes.len() == RANDOM_BYTES);
    body_ok && bool::from(checksum(head).as_bytes().ct_eq(presented.as_bytes()))
}

/// The first 4 bytes of SHA-256 of `head`, big-endian, in base62, zero-padded to 6.
fn checksum(head: &str) -> String {
    let digest = Sha256::digest(head.as_bytes());
    let mut value = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out.iter().map(|b| char::from(*b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character that may appear anywhere in a token, plus a few that may not.
    const CANDIDATES: &str =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= .é";

    fn fixed() -> String {
        let mut bytes = [0u8; RANDOM_BYTES];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
        from_bytes(&bytes)
    }

    #[test]
    fn generated_tokens_are_well_formed_and_distinct() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        for t in [&a, &b] {
            assert_eq!(t.len(), 54);
            assert!(t.starts_with("pcp_"));
            assert_eq!(&t[47..48], "_");
            assert!(well_formed(t), "{t}");
        }
    }

    #[test]
    fn checksum_is_base62_of_the_sha256_prefix() {
        // SHA-256("") starts e3b0c442 = 3820012610, which is "4AWNmc" in base62;
        // small values are zero-padded (values computed independently with Python).
        assert_eq!(checksum(""), "4AWNmc");
        assert_eq!(checksum("pcp_"), "2Swvwy");
    }

    #[test]
    fn every_single_character_change_is_rejected() {
        let token = fixed();
        assert!(well_formed(&token));
        for (i, original) in token.char_indices() {
            for c in CANDIDATES.chars().filter(|c| *c != original) {
                let mut changed = token.clone();
                changed.replace_range(i..i + 1, c.encode_utf8(&mut [0; 4]));
                assert!(!well_formed(&changed), "position {i} -> {c:?}: {changed}");
            }
        }
    }

    #[test]
    fn a_change_at_any_position_of_a_random_token_is_rejected() {
        let token = generate();
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).expect("ascii");
            assert!(!well_formed(&changed), "position {i}: {changed}");
        }
    }

    #[test]
    fn truncations_and_extensions_are_rejected() {
        let token = generate();
        for end in 0..token.len() {
            assert!(!well_formed(&token[..end]), "{}", &token[..end]);
            assert!(!well_formed(&token[token.len() - end..]));
        }
        assert!(!well_formed(&format!("{token}0")));
        assert!(!well_formed(&format!(" {token}")));
        assert!(!well_formed(&token.replacen("pcp_", "pcs_", 1)));
    }
}
