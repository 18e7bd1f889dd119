//! Scopes (RFC 6749 §3.3): a space-delimited, case-sensitive set of tokens.

use std::collections::BTreeSet;
use std::fmt;

/// A parsed, validated scope set. Kept ordered so that its string form is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid scope token {0:?}")]
pub struct ScopeSyntaxError(pub String);

/// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
fn valid_token(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

impl Scope {
    /// Parse a scope string. Tokens are separated by single spaces per the RFC; runs of
    /// spaces are tolerated, any other whitespace or a forbidden byte is refused.
    pub fn parse(s: &str) -> Result<Scope, ScopeSyntaxError> {
        let mut set = BTreeSet::new();
        for t in s.split(' ').filter(|t| !t.is_empty()) {
            if !valid_token(t) {
                return Err(ScopeSyntaxError(t.to_string()));
            }
            set.insert(t.to_string());
        }
        Ok(Scope(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The tokens of `self` that `allowed` does not hold.
    pub fn excess_over<'a>(&'a self, allowed: &'a Scope) -> impl Iterator<Item = &'a str> {
        self.0.difference(&allowed.0).map(String::as_str)
    }

    /// The tokens in both.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    /// The tokens in either.
    pub fn union(&self, other: &Scope) -> Scope {
        Scope(self.0.union(&other.0).cloned().collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// A stored scope is parsed where it is read: diesel converts the column's text with this
/// (`deserialize_as`), so a row whose scope does not parse fails to load.
impl TryFrom<String> for Scope {
    type Error = ScopeSyntaxError;
    fn try_from(s: String) -> Result<Scope, ScopeSyntaxError> {
        Scope::parse(&s)
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.to_string()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for t in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(t)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let s = Scope::parse("write  read").unwrap();
        assert_eq!(s.to_string(), "read write");
        assert!(Scope::parse("read").unwrap().is_subset_of(&s));
        assert!(!Scope::parse("admin").unwrap().is_subset_of(&s));
    }

    #[test]
    fn refuses_forbidden_bytes() {
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("a\tb").is_err());
        assert!(Scope::parse("é").is_err());
        assert_eq!(Scope::parse("").unwrap(), Scope::default());
    }
}
