//! Resource indicators (RFC 8707 §2): the audiences a token may be asked for.

/// A resource indicator is an absolute URI without a fragment (RFC 8707 §2).
pub fn is_valid(r: &str) -> bool {
    !r.contains('#')
        && !r.chars().any(char::is_whitespace)
        && url::Url::parse(r).is_ok_and(|u| !u.cannot_be_a_base())
}

#[cfg(test)]
mod tests {
    #[test]
    fn absolute_without_fragment() {
        assert!(super::is_valid("https://api.example/v1"));
        assert!(!super::is_valid("/relative"));
        assert!(!super::is_valid("https://api.example/#f"));
        assert!(!super::is_valid("https://api.example/a b"));
    }
}
