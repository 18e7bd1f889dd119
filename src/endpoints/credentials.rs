//! Reading a client's credentials from a request (RFC 6749 §2.3): HTTP Basic or the form
//! body, never both; what they are worth is the registrar's to decide.

use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::oauth::client_auth::Presented;
use crate::oauth::error::OAuthError;

fn percent_decode(s: &str) -> Option<String> {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// Read the credentials from the `Authorization` header and the form.
/// RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
pub fn presented(
    headers: &HeaderMap,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Presented, OAuthError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let malformed = || OAuthError::invalid_client("malformed Basic authorization header");
        let value = value.to_str().map_err(|_| malformed())?;
        let (scheme, rest) = value.split_once(' ').ok_or_else(malformed)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(OAuthError::invalid_client(
                "clients authenticate with HTTP Basic or in the form body, not with this scheme",
            ));
        }
        let decoded = STANDARD.decode(rest.trim()).map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
        let client_id = percent_decode(id).ok_or_else(malformed)?;
        let secret = percent_decode(secret).ok_or_else(malformed)?;
        if client_id.is_empty() {
            return Err(malformed());
        }
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method was used",
            ));
        }
        if form_client_id.is_some_and(|f| f != client_id) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the authenticated client",
            ));
        }
        return Ok(Presented::Basic { client_id, secret });
    }
    Ok(match (form_client_id, form_secret) {
        (Some(id), Some(secret)) => Presented::Post {
            client_id: id.to_string(),
            secret: secret.to_string(),
        },
        (Some(id), None) => Presented::IdOnly {
            client_id: id.to_string(),
        },
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "client_secret was sent without client_id",
            ));
        }
        (None, None) => Presented::Nothing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn basic(id: &str, secret: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        h.insert(AUTHORIZATION, HeaderValue::from_str(&v).unwrap());
        h
    }

    #[test]
    fn basic_is_percent_decoded() {
        let p = presented(&basic("a%3Ab", "s%2Bt"), None, None).unwrap();
        match p {
            Presented::Basic { client_id, secret } => {
                assert_eq!(client_id, "a:b");
                assert_eq!(secret, "s+t");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = presented(&basic("svc", "pcs_topsecret"), None, None).unwrap();
        let shown = format!("{p:?}");
        assert!(
            shown.contains("svc") && !shown.contains("topsecret"),
            "{shown}"
        );
        let p = presented(&HeaderMap::new(), Some("svc"), Some("pcs_topsecret")).unwrap();
        assert!(!format!("{p:?}").contains("topsecret"));
    }

    #[test]
    fn two_methods_at_once_is_invalid_request() {
        let e = presented(&basic("a", "b"), Some("a"), Some("b")).unwrap_err();
        assert_eq!(e.code, crate::oauth::error::ErrorCode::InvalidRequest);
    }

    #[test]
    fn other_schemes_are_refused_as_invalid_client() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        let e = presented(&h, None, None).unwrap_err();
        assert_eq!(e.code, crate::oauth::error::ErrorCode::InvalidClient);
    }
}
