//! Protected resources of ours (userinfo): token errors per RFC 6750 §3 (Bearer) and
//! RFC 9449 §7.1 (DPoP), and the validation of our own JWT access tokens.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpResponse, ResponseError};
use jsonwebtoken::{Validation, decode, decode_header};

use super::error::REALM;
use super::tokens::{AT_JWT, AccessClaims};
use crate::keys::KeySet;

/// How a token was presented (RFC 6750 §2.1, RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// Which challenges an error answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    Bearer,
    Dpop,
    /// No token at all: either scheme would do (RFC 9449 §7.1).
    Both,
}

#[derive(Debug, Clone)]
pub struct BearerError {
    status: StatusCode,
    /// `None` when the request carried no credentials at all (RFC 6750 §3.1).
    error: Option<&'static str>,
    description: &'static str,
    scope: Option<&'static str>,
    challenge: Challenge,
    /// A `DPoP-Nonce` to send (RFC 9449 §9).
    nonce: Option<String>,
}

impl std::fmt::Display for BearerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.error.unwrap_or("no token"),
            self.description
        )
    }
}

impl BearerError {
    /// 401 with a bare challenge: the request had no token.
    pub fn missing() -> BearerError {
        BearerError {
            status: StatusCode::UNAUTHORIZED,
            error: None,
            description: "",
            scope: None,
            challenge: Challenge::Both,
            nonce: None,
        }
    }

    /// 401 with a DPoP challenge: the proof is missing or wrong (RFC 9449 §7.1).
    pub fn invalid_dpop_proof(description: &'static str) -> BearerError {
        BearerError {
            status: StatusCode::UNAUTHORIZED,
            error: Some("invalid_dpop_proof"),
            description,
            scope: None,
            challenge: Challenge::Dpop,
            nonce: None,
        }
    }

    /// 401 with a DPoP challenge: the proof must carry this server nonce (RFC 9449 §9).
    pub fn use_dpop_nonce(nonce: String) -> BearerError {
        BearerError {
            status: StatusCode::UNAUTHORIZED,
            error: Some("use_dpop_nonce"),
            description: "the DPoP proof must carry the nonce in the DPoP-Nonce header",
            scope: None,
            challenge: Challenge::Dpop,
            nonce: Some(nonce),
        }
    }

    /// The same error, challenged with the DPoP scheme (the request used it, or the
    /// token is DPoP-bound).
    pub fn dpop(mut self) -> BearerError {
        self.challenge = Challenge::Dpop;
        self
    }

    pub fn invalid_request(description: &'static str) -> BearerError {
        BearerError {
            status: StatusCode::BAD_REQUEST,
            error: Some("invalid_request"),
            description,
            scope: None,
            challenge: Challenge::Bearer,
            nonce: None,
        }
    }

    /// 401: unknown, expired, revoked or malformed token: "who are you?"
    pub fn invalid_token(description: &'static str) -> BearerError {
        BearerError {
            status: StatusCode::UNAUTHORIZED,
            error: Some("invalid_token"),
            description,
            scope: None,
            challenge: Challenge::Bearer,
            nonce: None,
        }
    }

    /// 403: a valid token without the scope needed: "not allowed".
    pub fn insufficient_scope(scope: &'static str) -> BearerError {
        BearerError {
            status: StatusCode::FORBIDDEN,
            error: Some("insufficient_scope"),
            description: "the token lacks the scope this resource needs",
            scope: Some(scope),
            challenge: Challenge::Bearer,
            nonce: None,
        }
    }

    pub fn unavailable() -> BearerError {
        BearerError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: None,
            description: "",
            scope: None,
            challenge: Challenge::Bearer,
            nonce: None,
        }
    }

    /// The challenges to send, one `WWW-Authenticate` header each.
    fn challenges(&self) -> Vec<String> {
        match self.challenge {
            Challenge::Bearer => vec![self.challenge_for("Bearer")],
            Challenge::Dpop => vec![self.challenge_for("DPoP")],
            Challenge::Both => vec![self.challenge_for("Bearer"), self.challenge_for("DPoP")],
        }
    }

    fn challenge_for(&self, scheme: &str) -> String {
        let mut c = format!("{scheme} realm=\"{REALM}\"");
        if scheme == "DPoP" {
            // RFC 9449 §7.1: the algorithms we accept for proofs.
            c.push_str(&format!(
                ", algs=\"{}\"",
                super::jwk::SIGNING_ALGS.join(" ")
            ));
        }
        if let Some(e) = self.error {
            c.push_str(&format!(", error=\"{e}\""));
            if !self.description.is_empty() {
                c.push_str(&format!(", error_description=\"{}\"", self.description));
            }
        }
        if let Some(s) = self.scope {
            c.push_str(&format!(", scope=\"{s}\""));
        }
        c
    }
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.status != StatusCode::SERVICE_UNAVAILABLE {
            for c in self.challenges() {
                res.append_header((header::WWW_AUTHENTICATE, c));
            }
        }
        if let Some(n) = &self.nonce {
            res.insert_header(("DPoP-Nonce", n.as_str()));
        }
        match self.error {
            Some(e) => res.json(serde_json::json!({
                "error": e,
                "error_description": self.description,
            })),
            None => res.finish(),
        }
    }
}

/// RFC 6750 §2.1 (header) and §2.2 (form body, POST only), RFC 9449 §7.1 (`DPoP`
/// header scheme); §3.1: more than one way is `invalid_request`.
pub fn extract_token(
    headers: &HeaderMap,
    form_token: Option<&str>,
) -> Result<(Scheme, String), BearerError> {
    let from_header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| BearerError::invalid_request("malformed Authorization header"))?;
            let scheme = match v.split_once(' ') {
                Some((s, _)) if s.eq_ignore_ascii_case("bearer") => Scheme::Bearer,
                Some((s, _)) if s.eq_ignore_ascii_case("dpop") => Scheme::Dpop,
                // Another scheme: this resource does not accept it, as if absent.
                _ => return Err(BearerError::missing()),
            };
            let token = v.split_once(' ').map_or("", |(_, t)| t.trim());
            if token.is_empty() {
                return Err(BearerError::invalid_request("empty access token"));
            }
            Some((scheme, token.to_string()))
        }
    };
    match (from_header, form_token) {
        (Some(_), Some(_)) => Err(BearerError::invalid_request(
            "the token was sent in more than one way",
        )),
        (Some(t), None) => Ok(t),
        (None, Some(t)) => Ok((Scheme::Bearer, t.to_string())),
        (None, None) => Err(BearerError::missing()),
    }
}

/// Seconds of clock difference tolerated between instances.
const CLOCK_SKEW: i64 = 60;

/// Check one of our access tokens: a key of ours by `kid`, the algorithm of that key
/// (never the one the header asks for), `typ: at+jwt`, our issuer, not expired.
/// Revocation and audience are the caller's to check.
pub fn verify_access_token(
    keys: &KeySet,
    issuer: &str,
    token: &str,
    now: i64,
) -> Result<AccessClaims, BearerError> {
    let bad = || BearerError::invalid_token("the access token is invalid");
    let header = decode_header(token).map_err(|_| bad())?;
    let key = header
        .kid
        .as_deref()
        .and_then(|k| keys.find(k))
        .ok_or_else(bad)?;
    if header.alg != key.alg.jwt() {
        return Err(bad());
    }
    // RFC 9068 §4: reject tokens of another type, such as our own ID tokens.
    if !header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case(AT_JWT) || t.eq_ignore_ascii_case("application/at+jwt")
    }) {
        return Err(bad());
    }
    let mut v = Validation::new(key.alg.jwt());
    v.set_issuer(&[issuer]);
    v.validate_aud = false;
    v.validate_exp = false;
    v.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
    let data = decode::<AccessClaims>(token, &key.decoding, &v).map_err(|_| bad())?;
    if data.claims.exp <= now {
        return Err(BearerError::invalid_token("the access token has expired"));
    }
    // RFC 7519 §4.1.5-6: not yet valid, or issued in the future beyond clock skew.
    if data.claims.nbf.is_some_and(|nbf| nbf > now + CLOCK_SKEW)
        || data.claims.iat > now + CLOCK_SKEW
    {
        return Err(bad());
    }
    Ok(data.claims)
}
