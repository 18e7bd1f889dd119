//! Resource indicators (RFC 8707 §2): the audiences a token may be asked for.

/// A resource indicator is an absolute URI without a fragment (RFC 8707 §2).
pub fn is_valid(r: &str) -> bool {
    !r.contains('#')
        && !r
            .chars()
            .any(|c| c.is_whitespace() || crate::escape::dangerous(c))
        && url::Url::parse(r).is_ok_and(|u| !u.cannot_be_a_base())
}

#[cfg(test)]
mod tests {
    #[test]
    fn absolute_without_fragment() {
        assert!(super::is_valid("https://api.example/v1"));
        assert!(!super::is_valid("/relative"));
        assert!(!super::is_valid("https://api.example/#f"));
        assert!(!super::is_valid(
            "https://api.example/\u{1b}]52;c;eA==\u{7}"
        ));
        assert!(!super::is_valid("https://api.example/\u{202e}gpj"));
        assert!(!super::is_valid("https://api.example/a b"));
    }
}
