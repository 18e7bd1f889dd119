//! The `htu` of a proof, compared with the request's URL (RFC 9449 §4.3 point 9).

/// `htu` compared as RFC 9449 §4.3 point 9 asks: without query and fragment, after the
/// syntax- and scheme-based normalisation of RFC 3986 §6.2.2-6.2.3 (case of scheme and
/// host, default port, percent-encoding), and nothing more. The URL parser we use
/// follows the WHATWG URL standard, which also repairs what RFC 3986 does not accept:
/// integer and hex IPv4 hosts, tabs and newlines, backslashes, `http:host` without `//`,
/// spaces around the URL, dot segments. A value that needs such a repair is refused
/// (`plain`) before it is parsed.
pub fn normalize_htu(u: &str) -> Option<String> {
    if !plain(u) {
        return None;
    }
    let url = url::Url::parse(u).ok()?;
    if !matches!(url.scheme(), "https" | "http")
        || url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    Some(format!(
        "{}{}",
        url.origin().ascii_serialization(),
        normalize_percent(url.path())
    ))
}

/// RFC 3986 §6.2.2.1-2: percent-encoded unreserved characters decoded, the hex digits of
/// the others in upper case (`/%74oken` and `/token` are one path).
fn normalize_percent(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            let c = h * 16 + l;
            if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                out.push(c as char);
            } else {
                out.push_str(&format!("%{c:02X}"));
            }
            i += 3;
            continue;
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Whether `u` is an absolute http(s) URI as RFC 3986 spells one, with nothing that only
/// a WHATWG parser would repair.
fn plain(u: &str) -> bool {
    if u.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return false;
    }
    let Some((scheme, rest)) = u.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return false;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = path.split(['?', '#']).next().unwrap_or("");
    plain_host(authority) && !has_dot_segment(path)
}

/// A host as RFC 3986 §3.2.2 spells it: `[IPv6]`, four decimal octets without leading
/// zeros, or a name whose last label is not numeric (the WHATWG parser reads
/// `2130706433`, `0x7f.1` or `127.1` as IPv4 addresses).
fn plain_host(authority: &str) -> bool {
    if authority.starts_with('[') {
        return authority.contains(']');
    }
    let host = match authority.rsplit_once(':') {
        // Digits, and no leading zero (`:018080` is 18080 only to a lenient parser).
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.starts_with('0') => h,
        Some(_) => return false,
        None => authority,
    };
    let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    if host.is_empty() || last.is_empty() {
        return false;
    }
    let numeric = last.bytes().next().is_some_and(|b| b.is_ascii_digit());
    !numeric || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// `.` or `..` as a path segment, also percent-encoded (`%2e`).
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|seg| {
        let lower = seg.to_ascii_lowercase().replace("%2e", ".");
        lower == "." || lower == ".."
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_is_compared_without_query_fragment_case_or_default_port() {
        let a = normalize_htu("https://AS.example:443/token?x=1#f").unwrap();
        assert_eq!(a, "https://as.example/token");
        assert_ne!(normalize_htu("https://as.example/token/").unwrap(), a);
        assert_ne!(normalize_htu("http://as.example/token").unwrap(), a);
        assert!(normalize_htu("urn:x:y").is_none());
        assert_eq!(normalize_htu("https://as.example/%74oken").unwrap(), a);
        assert_eq!(
            normalize_htu("https://as.example/a%2fb").unwrap(),
            "https://as.example/a%2Fb"
        );
        assert!(normalize_htu("https://user@as.example/token").is_none());
        assert!(normalize_htu("/token").is_none());
        assert_eq!(
            normalize_htu("https://127.0.0.1:8443/token").unwrap(),
            "https://127.0.0.1:8443/token"
        );
        assert!(normalize_htu("https://[::1]/token").is_some());
    }

    #[test]
    fn spellings_only_a_whatwg_parser_repairs_are_refused() {
        for bad in [
            "https://2130706433/token",
            "https://0x7f000001/token",
            "https://0x7f.0.0.1/token",
            "https://127.1/token",
            "https://0127.0.0.1/token",
            "https://as.example/to\tken",
            "https://as.example/to\nken",
            "https://as.example\\token",
            "https:as.example/token",
            "https:/as.example/token",
            "https://as.example/token ",
            " https://as.example/token",
            "https://as.example/./token",
            "https://as.example/x/../token",
            "https://as.example/x/%2E%2e/token",
            "https://as.example:x/token",
            "https://as.example:0443/token",
        ] {
            assert!(normalize_htu(bad).is_none(), "{bad:?}");
        }
        // The spellings RFC 3986 §6.2.2-6.2.3 equates still match.
        let a = normalize_htu("https://as.example/token").unwrap();
        for same in [
            "HTTPS://AS.example/token",
            "https://as.example:443/token",
            "https://as.example/%74oken",
        ] {
            assert_eq!(normalize_htu(same).as_deref(), Some(a.as_str()), "{same}");
        }
    }
}
