//! Redirect URIs, validated once at registration and then compared as exact strings
//! (RFC 9700 §4.1.3, OAuth 2.1 §2.3.1: no pattern matching, no normalisation).

use url::{Host, Url};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedirectUriError {
    #[error("redirect URI {0:?} is not an absolute URI")]
    NotAbsolute(String),
    #[error("redirect URI {0:?} has a fragment (RFC 6749 §3.1.2)")]
    Fragment(String),
    #[error("redirect URI {0:?} uses http for a host that is not loopback; use https")]
    InsecureHttp(String),
    #[error("redirect URI {0:?} contains whitespace or user information")]
    Unsafe(String),
    #[error(
        "redirect URI {0:?} contains a control or invisible formatting character (it could rewrite a terminal or a log line)"
    )]
    Control(String),
    #[error("redirect URI {0:?} uses a scheme that cannot return to an app ({1})")]
    Scheme(String, String),
    #[error("redirect URI {0:?} has no host")]
    NoHost(String),
    #[error(
        "redirect URI {0:?} has a query parameter {1:?}, which this server adds to its responses"
    )]
    ReservedParameter(String, String),
}

/// Parameters an authorization response adds to the redirect URI (RFC 6749 §4.1.2 and
/// §4.1.2.1, RFC 9207, OpenID Connect Core and Session Management, and the implicit
/// flow's names that must never appear either). A registered URI whose query already
/// names one would send the client two values, or one the client put there itself.
pub const AUTHORIZATION_RESPONSE_PARAMETERS: &[&str] = &[
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
    "session_state",
    "access_token",
    "id_token",
    "token_type",
    "expires_in",
];

/// What the sign-out redirect adds (RP-Initiated Logout 1.0 §3).
pub const LOGOUT_RESPONSE_PARAMETERS: &[&str] = &["state"];

/// Validate a redirect URI for registration, refusing a query that names a parameter
/// of `reserved` (one of the lists above). Clients parse queries in many ways: a name is
/// compared after form decoding, splitting on `;` as well as `&` (older parsers did),
/// dropping surrounding spaces and control characters (some trim them), and ignoring
/// case. A name with a control character in it is refused outright.
pub fn validate_for(uri: &str, reserved: &[&str]) -> Result<(), RedirectUriError> {
    validate(uri)?;
    let Some(query) = Url::parse(uri)
        .ok()
        .and_then(|u| u.query().map(str::to_string))
    else {
        return Ok(());
    };
    for part in query.split(['&', ';']).filter(|p| !p.is_empty()) {
        let raw = part.split('=').next().unwrap_or("");
        let name: String = url::form_urlencoded::parse(format!("{raw}=").as_bytes())
            .next()
            .map(|(k, _)| k.into_owned())
            .unwrap_or_default();
        let trimmed = name.trim_matches(|c: char| c.is_whitespace() || c.is_control());
        if trimmed.chars().any(char::is_control)
            || reserved.iter().any(|r| r.eq_ignore_ascii_case(trimmed))
        {
            return Err(RedirectUriError::ReservedParameter(uri.into(), name));
        }
    }
    Ok(())
}

/// Validate a URI for registration. Custom schemes (for native apps, RFC 8252 §7.1)
/// are accepted; plain `http` only for loopback hosts (RFC 8252 §7.3).
pub fn validate(uri: &str) -> Result<(), RedirectUriError> {
    // Before anything else: the URL parser would quietly drop tabs and newlines, and
    // keep ESC or U+202E as typed for `client show` and the logs to print.
    if uri.chars().any(crate::escape::dangerous) {
        return Err(RedirectUriError::Control(uri.into()));
    }
    if uri.chars().any(char::is_whitespace) {
        return Err(RedirectUriError::Unsafe(uri.into()));
    }
    if uri.contains('#') {
        return Err(RedirectUriError::Fragment(uri.into()));
    }
    let url = Url::parse(uri).map_err(|_| RedirectUriError::NotAbsolute(uri.into()))?;
    // Schemes that run code, read files or name other protocols: never a way back to
    // an app (custom schemes of native apps contain a dot, RFC 8252 §7.1).
    if matches!(
        url.scheme(),
        "javascript" | "data" | "file" | "vbscript" | "ftp" | "ws" | "wss" | "blob" | "about"
    ) {
        return Err(RedirectUriError::Scheme(uri.into(), url.scheme().into()));
    }
    if url.cannot_be_a_base() && url.scheme() != "urn" && !url.scheme().contains('.') {
        return Err(RedirectUriError::NotAbsolute(uri.into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::Unsafe(uri.into()));
    }
    // `https:///cb` parses as host "cb": the string as registered must name its host.
    if matches!(url.scheme(), "http" | "https") {
        let after = uri.split_once("://").map_or("", |(_, rest)| rest);
        if after.is_empty() || after.starts_with('/') || url.host().is_none() {
            return Err(RedirectUriError::NoHost(uri.into()));
        }
    }
    if url.scheme() == "http" {
        let loopback = match url.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if !loopback {
            return Err(RedirectUriError::InsecureHttp(uri.into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_loopback_and_native() {
        assert!(validate("https://app.example.com/cb").is_ok());
        assert!(validate("http://127.0.0.1:9000/cb").is_ok());
        assert!(validate("http://[::1]/cb").is_ok());
        assert!(validate("http://localhost:3000/cb").is_ok());
        assert!(validate("com.example.app:/oauth2redirect").is_ok());
    }

    #[test]
    fn refuses_hostless_and_foreign_schemes() {
        assert!(matches!(
            validate("https:///cb"),
            Err(RedirectUriError::NoHost(_))
        ));
        assert!(matches!(
            validate("http:///cb"),
            Err(RedirectUriError::NoHost(_))
        ));
        for u in [
            "ftp://example.com/cb",
            "file:///etc/passwd",
            "javascript:alert(1)",
        ] {
            assert!(
                matches!(validate(u), Err(RedirectUriError::Scheme(..))),
                "{u}"
            );
        }
    }

    #[test]
    fn refuses_queries_that_name_response_parameters() {
        let r = AUTHORIZATION_RESPONSE_PARAMETERS;
        assert!(validate_for("https://a.example/cb?tenant=1", r).is_ok());
        for p in r {
            assert!(
                validate_for(&format!("https://a.example/cb?x=1&{p}=z"), r).is_err(),
                "{p}"
            );
        }
        for sly in [
            "?x=1;code=2",
            "?+code=1",
            "?%20code=1",
            "?code%00=1",
            "?CODE=1",
            "?x=1&%63ode=2",
        ] {
            let uri = format!("https://a.example/cb{sly}");
            assert!(validate_for(&uri, r).is_err(), "{uri}");
        }
        assert!(validate_for("https://a.example/out?code=1", LOGOUT_RESPONSE_PARAMETERS).is_ok());
        assert!(
            validate_for(
                "https://a.example/out?x=1;state=2",
                LOGOUT_RESPONSE_PARAMETERS
            )
            .is_err()
        );
        assert!(validate_for("https://a.example/out?state=1", LOGOUT_RESPONSE_PARAMETERS).is_err());
    }

    #[test]
    fn refuses_the_rest() {
        assert!(validate("/relative").is_err());
        assert!(validate("https://a.example/cb#frag").is_err());
        assert!(validate("http://app.example.com/cb").is_err());
        assert!(validate("https://user:pw@a.example/cb").is_err());
        assert!(validate("javascript:alert(1)").is_err());
        assert!(validate("https://a.example/c b").is_err());
    }
}
