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

/// What a guesser knows of the person whose password it is.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    /// The display name.
    pub name: Option<&'a str>,
}

impl Known<'_> {
    /// Words a password must not contain (NIST SP 800-63B §5.1.1.2 lists "context-specific
    /// words, such as the name of the service, the username"): the username, and each
    /// word of the display name and of the email's local part, of 4 letters or more.
    fn words(&self) -> impl Iterator<Item = String> + '_ {
        let local = self.email.and_then(|e| e.split('@').next());
        let parts = [self.name, local]
            .into_iter()
            .flatten()
            .flat_map(|s| s.split(|c: char| !c.is_alphanumeric()));
        std::iter::once(self.username)
            .chain(parts)
            .filter(|w| w.chars().count() >= 4)
            .map(str::to_lowercase)
    }

    fn inputs(&self) -> Vec<&str> {
        [Some(self.username), self.email, self.name]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// Whether `password` is good enough to set, and why not: 8 to 1024 characters
/// (NIST SP 800-63B §5.1.1.2), none of the person's own words (`Known::words`), and not
/// easy to guess by zxcvbn's estimate (score 3 of 4, "safely unguessable": about 10^8
/// guesses), with the person's own details counted as known to a guesser. One rule for
/// the CLI and the pages.
pub fn acceptable(password: &str, known: &Known<'_>) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < 8 {
        return Err("It must be at least 8 characters long.".into());
    }
    if chars > 1024 {
        return Err("It must be at most 1024 characters long.".into());
    }
    let lower = password.to_lowercase();
    if known.words().any(|w| lower.contains(&w)) {
        return Err("It contains your username, or a word of your name or email address.".into());
    }
    let inputs = known.inputs();
    // The estimate's matching grows quickly with length: judge the first 100 characters
    // (a password whose first 100 are hard to guess is), so that a long input cannot
    // hold a thread. Callers on request paths run this off the worker threads.
    let head: String = password.chars().take(100).collect();
    let estimate = zxcvbn::zxcvbn(&head, &inputs);
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
    use super::Known;

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
            let why = super::acceptable(weak, &alice(Some("alice@example.com"), None));
            assert!(!why.unwrap_err().is_empty(), "{weak}");
        }
        // The person's own details count as known.
        let known = Known {
            username: "alice.liddell",
            email: None,
            name: None,
        };
        assert!(super::acceptable("alice.liddell", &known).is_err());
        for strong in ["correct horse battery staple", "violet-tundra-spoon-42"] {
            assert!(
                super::acceptable(strong, &alice(None, None)).is_ok(),
                "{strong}"
            );
        }
    }

    fn alice<'a>(email: Option<&'a str>, name: Option<&'a str>) -> Known<'a> {
        Known {
            username: "alice",
            email,
            name,
        }
    }

    #[test]
    fn the_persons_own_words_are_refused_in_any_case() {
        let known = alice(
            Some("wonder.land@example.com"),
            Some("Alice Pleasance Liddell"),
        );
        for own in [
            "ALICE purple monkey dishwasher",
            "purple monkey liddell dishwasher",
            "purple pleasance monkey dishwasher",
            "wonder purple monkey dishwasher",
        ] {
            let why = super::acceptable(own, &known).unwrap_err();
            assert!(why.contains("username"), "{own}: {why}");
        }
        // Short words of a name are not words to avoid ("Li" of "Li Wei").
        let short = alice(None, Some("Li Wei"));
        assert!(super::acceptable("violet tundra wei spoon li", &short).is_ok());
        assert!(super::acceptable("purple monkey dishwasher example", &known).is_ok());
    }
}
