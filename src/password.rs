//! Passwords: argon2id with the crate's default cost (RFC 9106 second recommended
//! option). CPU-heavy: call only from blocking contexts.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::rngs::OsRng;

pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` is good enough to set, and why not: 8 to 1024 characters
/// (NIST SP 800-63B §5.1.1.2) and not easy to guess by zxcvbn's estimate (score 3 of 4,
/// "safely unguessable": about 10^8 guesses), with the person's own details (`inputs`:
/// username, name, email) counted as known to a guesser. One rule for the CLI and the
/// pages.
pub fn acceptable(password: &str, inputs: &[&str]) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < 8 {
        return Err("It must be at least 8 characters long.".into());
    }
    if chars > 1024 {
        return Err("It must be at most 1024 characters long.".into());
    }
    // The estimate's matching grows quickly with length: judge the first 100 characters
    // (a password whose first 100 are hard to guess is), so that a long input cannot
    // hold a thread. Callers on request paths run this off the worker threads.
    let head: String = password.chars().take(100).collect();
    let estimate = zxcvbn::zxcvbn(&head, inputs);
    if (estimate.score() as u8) >= 3 {
        return Ok(());
    }
    let why = estimate
        .feedback()
        .and_then(|f| f.warning())
        .map(|w| w.to_string())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "It is too easy to guess.".into());
    Err(format!(
        "{why} Try a longer passphrase of several unrelated words."
    ))
}

/// Verification is constant-time in the password (argon2's own comparison).
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong", &h));
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        for weak in [
            "short",
            "password1",
            "alice2026!",
            "qwertyuiop",
            "aaaaaaaaaaaa",
        ] {
            let why = super::acceptable(weak, &["alice", "alice@example.com"]).unwrap_err();
            assert!(!why.is_empty(), "{weak}");
        }
        // The person's own details count as known.
        assert!(super::acceptable("alice.liddell", &["alice.liddell"]).is_err());
        for strong in ["correct horse battery staple", "violet-tundra-spoon-42"] {
            assert!(super::acceptable(strong, &["alice"]).is_ok(), "{strong}");
        }
    }
}
