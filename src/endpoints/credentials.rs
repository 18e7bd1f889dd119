//! Reading a client's credentials from a request (RFC 6749 §2.3): HTTP Basic or the form
//! body, never both; what they are worth is the registrar's to decide.

use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::oauth::clients::assertion::{ASSERTION_TYPE, claimed_client};
use crate::oauth::clients::auth::Presented;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::web::form::Form;

fn percent_decode(s: &str) -> Option<String> {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// Read the credentials from the `Authorization` header and the form: a secret (Basic
/// or in the body), a `private_key_jwt` assertion (RFC 7523 §2.2), or a bare client id.
/// RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
pub fn presented(headers: &HeaderMap, form: &Form) -> Result<Presented, OAuthError> {
    let form_client_id = form.get("client_id");
    let form_secret = form.get("client_secret");
    let assertion = match (
        form.get("client_assertion_type"),
        form.get("client_assertion"),
    ) {
        (None, None) => None,
        (Some(ASSERTION_TYPE), Some(a)) => Some(a),
        (Some(ASSERTION_TYPE), None) => {
            return Err(OAuthError::invalid_request(
                "client_assertion_type was sent without client_assertion",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "client_assertion was sent without client_assertion_type",
            ));
        }
        (Some(_), _) => {
            return Err(OAuthError::invalid_client(
                "unsupported client_assertion_type: use urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
    };
    let several =
        || OAuthError::invalid_request("more than one client authentication method was used");
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
        if form_secret.is_some() || assertion.is_some() {
            return Err(several());
        }
        if form_client_id.is_some_and(|f| f != client_id) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the authenticated client",
            ));
        }
        return Ok(Presented::Basic { client_id, secret });
    }
    if let Some(assertion) = assertion {
        if form_secret.is_some() {
            return Err(several());
        }
        let claimed = claimed_client(assertion).ok_or_else(|| {
            OAuthError::invalid_client("the client assertion is not a JWT with a sub")
        })?;
        // RFC 7523 §3: client_id, if sent, names the same client as the assertion.
        if form_client_id.is_some_and(|f| f != claimed) {
            return Err(OAuthError::invalid_client(
                "client_id differs from the client assertion's sub",
            ));
        }
        return Ok(Presented::Assertion {
            client_id: claimed,
            assertion: assertion.to_string(),
        });
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

/// The `DPoP` header (RFC 9449 §4.1), if there is one; several are refused (§4.3
/// point 1).
pub fn dpop_proof(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    let mut all = headers.get_all("dpop");
    let Some(first) = all.next() else {
        return Ok(None);
    };
    let bad = |d: &'static str| OAuthError::new(ErrorCode::InvalidDpopProof, d);
    if all.next().is_some() {
        return Err(bad("more than one DPoP header"));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| bad("the DPoP header is not a JWT"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn form(pairs: &[(&str, &str)]) -> Form {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        crate::web::form::parse(encoded.as_bytes())
    }

    fn basic(id: &str, secret: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        h.insert(AUTHORIZATION, HeaderValue::from_str(&v).unwrap());
        h
    }

    #[test]
    fn basic_is_percent_decoded() {
        let p = presented(&basic("a%3Ab", "s%2Bt"), &form(&[])).unwrap();
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
        let p = presented(&basic("svc", "pcs_topsecret"), &form(&[])).unwrap();
        let shown = format!("{p:?}");
        assert!(
            shown.contains("svc") && !shown.contains("topsecret"),
            "{shown}"
        );
        let p = presented(
            &HeaderMap::new(),
            &form(&[("client_id", "svc"), ("client_secret", "pcs_topsecret")]),
        )
        .unwrap();
        assert!(!format!("{p:?}").contains("topsecret"));
    }

    #[test]
    fn two_methods_at_once_is_invalid_request() {
        let e = presented(
            &basic("a", "b"),
            &form(&[("client_id", "a"), ("client_secret", "b")]),
        )
        .unwrap_err();
        assert_eq!(e.code, crate::oauth::error::ErrorCode::InvalidRequest);
    }

    #[test]
    fn other_schemes_are_refused_as_invalid_client() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        let e = presented(&h, &form(&[])).unwrap_err();
        assert_eq!(e.code, crate::oauth::error::ErrorCode::InvalidClient);
    }
}
