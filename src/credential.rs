//! The shape of every secret we issue, so that people and secret scanners can recognise
//! one anywhere (a repository, a paste, a log) without false positives:
//!
//! `pc` + a kind letter + `_` + 43 base62 characters (256 bits from the OS RNG) + `_` +
//! a 6-character base62 checksum: the first 4 bytes of SHA-256 of everything before the
//! last `_`, big-endian. Base62 has no `-` or `_`, so a double-click selects a whole
//! token and the regular expression is simple:
//! `pc[prsmiw]_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}`.
//!
//! The checksum is no secret and adds no security (a credential is checked by looking up
//! `secret::hash` of it, like any 256-bit value): it lets us turn away typos, truncated
//! copies and scanners' near-misses before any lookup. Hand-written rather than a crate:
//! it is our format, a dozen lines, and its test vectors are below.

use rand::Rng;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Each kind of secret we issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A personal API token.
    Personal,
    /// A refresh token.
    Refresh,
    /// A client secret.
    ClientSecret,
    /// A registration access token (RFC 7592).
    RegistrationAccess,
    /// An initial access token (RFC 7591 §3).
    InitialAccess,
    /// A password reset link's token.
    ResetLink,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[
        Kind::Personal,
        Kind::Refresh,
        Kind::ClientSecret,
        Kind::RegistrationAccess,
        Kind::InitialAccess,
        Kind::ResetLink,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Personal => "pcp_",
            Kind::Refresh => "pcr_",
            Kind::ClientSecret => "pcs_",
            Kind::RegistrationAccess => "pcm_",
            Kind::InitialAccess => "pci_",
            Kind::ResetLink => "pcw_",
        }
    }

    /// What it is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Personal => "personal API token",
            Kind::Refresh => "refresh token",
            Kind::ClientSecret => "client secret",
            Kind::RegistrationAccess => "registration access token",
            Kind::InitialAccess => "initial access token",
            Kind::ResetLink => "password reset link token",
        }
    }

    /// Its label in metrics.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Personal => "personal_token",
            Kind::Refresh => "refresh_token",
            Kind::ClientSecret => "client_secret",
            Kind::RegistrationAccess => "registration_access_token",
            Kind::InitialAccess => "initial_access_token",
            Kind::ResetLink => "reset_link",
        }
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters of the random part: 62^43 > 2^256.
pub const BODY_LEN: usize = 43;
/// Characters of the checksum: 62^6 > 2^32, so any 4-byte value fits.
pub const CHECKSUM_LEN: usize = 6;
/// Length of a whole credential: prefix (4), body, `_`, checksum.
pub const LEN: usize = 4 + BODY_LEN + 1 + CHECKSUM_LEN;

/// A fresh credential of `kind`. Show it once; store only `secret::hash` of it.
pub fn generate(kind: Kind) -> String {
    let mut out = String::with_capacity(LEN);
    out.push_str(kind.prefix());
    // Each character uniform over 62 (the RNG rejects what would bias it).
    for _ in 0..BODY_LEN {
        out.push(char::from(BASE62[OsRng.gen_range(0..BASE62.len())]));
    }
    seal(out)
}

/// `head` + `_` + its checksum.
fn seal(mut head: String) -> String {
    let sum = checksum(&head);
    head.push('_');
    head.push_str(&sum);
    head
}

/// Which of our credentials `s` is, when it has our shape and its checksum holds. Pure
/// and cheap: call it before any lookup. Personal tokens issued before this format
/// (a base64url body, which may hold `-` and `_`) are recognised too.
pub fn recognise(s: &str) -> Option<Kind> {
    if s.len() != LEN || !s.is_ascii() {
        return None;
    }
    let kind = Kind::ALL
        .iter()
        .copied()
        .find(|k| s.starts_with(k.prefix()))?;
    let (head, tail) = s.split_at(4 + BODY_LEN);
    let presented = tail.strip_prefix('_')?;
    let body = &head[4..];
    let body_ok = body.bytes().all(|b| b.is_ascii_alphanumeric())
        || (kind == Kind::Personal && old_personal_body(body));
    let sum_ok = bool::from(checksum(head).as_bytes().ct_eq(presented.as_bytes()));
    (body_ok && sum_ok).then_some(kind)
}

/// The body of a personal token of the first format: 32 bytes in base64url (decoding
/// also refuses a last character with stray low bits, 43 × 6 = 258).
fn old_personal_body(body: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .is_ok_and(|bytes| bytes.len() == 32)
}

/// The first 4 bytes of SHA-256 of `head`, big-endian, in base62, zero-padded to 6.
pub fn checksum(head: &str) -> String {
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

    #[test]
    fn checksum_is_base62_of_the_sha256_prefix() {
        // SHA-256("") starts e3b0c442 = 3820012610, which is "4AWNmc" in base62;
        // small values are zero-padded (values computed independently with Python).
        assert_eq!(checksum(""), "4AWNmc");
        assert_eq!(checksum("pcp_"), "2Swvwy");
    }

    #[test]
    fn every_kind_is_generated_well_formed_and_recognised() {
        for kind in Kind::ALL {
            let a = generate(*kind);
            assert_eq!(a.len(), LEN);
            assert!(a.starts_with(kind.prefix()));
            let body = &a[4..4 + BODY_LEN];
            assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()), "{a}");
            assert_eq!(&a[4 + BODY_LEN..4 + BODY_LEN + 1], "_");
            assert_eq!(recognise(&a), Some(*kind), "{a}");
            assert_ne!(a, generate(*kind));
        }
    }

    #[test]
    fn any_change_truncation_or_other_prefix_is_not_recognised() {
        let token = generate(Kind::ClientSecret);
        for i in 0..token.len() {
            for c in ["A", "z", "0", "-", "_", "é"] {
                let mut changed = token.clone();
                if &token[i..i + 1] == c {
                    continue;
                }
                changed.replace_range(i..i + 1, c);
                assert_eq!(recognise(&changed), None, "position {i} -> {c}: {changed}");
            }
        }
        for end in 0..token.len() {
            assert_eq!(recognise(&token[..end]), None);
        }
        assert_eq!(recognise(&format!("{token}0")), None);
        assert_eq!(recognise(&token.replacen("pcs_", "pcp_", 1)), None);
        assert_eq!(recognise(&token.replacen("pcs_", "pcx_", 1)), None);
    }

    /// Personal tokens of the first format (base64url body) still count; other kinds
    /// had no checksum then, and never had such a body.
    #[test]
    fn old_personal_tokens_are_recognised() {
        let body = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        let old = seal(format!("pcp_{body}"));
        assert_eq!(recognise(&old), Some(Kind::Personal));
        let with_dash = seal("pcp_-_ECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".into());
        assert_eq!(recognise(&with_dash), Some(Kind::Personal));
        assert_eq!(
            recognise(&seal(
                "pcs_-_ECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".into()
            )),
            None
        );
    }
}
