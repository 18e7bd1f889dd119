//! Protocol errors as RFC 6749 §5.2 responses: a JSON body with `error` and
//! `error_description`, the matching status, `Cache-Control: no-store`, and
//! `WWW-Authenticate: Basic` on every 401.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// RFC 8707 §2: a `resource` the client may not ask for.
    InvalidTarget,
    /// RFC 9449 §5: the DPoP proof is missing what it must have, or wrong.
    InvalidDpopProof,
    /// RFC 9449 §8: the proof must carry the server's nonce (sent in `DPoP-Nonce`).
    UseDpopNonce,
    /// RFC 6749 §4.1.2.1, at the PAR endpoint (RFC 9126 §2.3).
    UnsupportedResponseType,
    /// OpenID Connect Core §3.1.2.6, at the PAR endpoint.
    RequestNotSupported,
    ServerError,
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The code as it appears in the response (RFC 6749 §5.2).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    pub status: StatusCode,
    pub extra_headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.description)
    }
}

pub const REALM: &str = "portcullis";

/// RFC 6749 §5.2: `error_description` may hold only %x20-21 / %x23-5B / %x5D-7E, so a
/// quote, a backslash or anything non-ASCII (say, an echoed scope) is replaced.
fn printable(d: Cow<'static, str>) -> Cow<'static, str> {
    let ok = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    if d.chars().all(ok) {
        return d;
    }
    Cow::Owned(
        d.chars()
            .map(|c| {
                if ok(c) {
                    c
                } else if c == '"' {
                    '\''
                } else {
                    '?'
                }
            })
            .collect(),
    )
}

/// The reference of an internal error: the request's id (`X-Request-Id`, in every log
/// line of the request), or a fresh one outside a request.
fn reference() -> String {
    crate::web::observe::current_request_id()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> OAuthError {
        let description = printable(description.into());
        let status = match code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        OAuthError {
            code,
            description,
            status,
            extra_headers: Vec::new(),
        }
    }

    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRequest, d)
    }

    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidClient, d)
    }

    pub fn with_status(mut self, status: StatusCode) -> OAuthError {
        self.status = status;
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> OAuthError {
        self.extra_headers.push((name, value));
        self
    }

    /// RFC 9449 §8.1: `use_dpop_nonce`, with the nonce to use in `DPoP-Nonce`.
    pub fn use_dpop_nonce(nonce: &str) -> OAuthError {
        let e = OAuthError::new(
            ErrorCode::UseDpopNonce,
            "the DPoP proof must carry the nonce in the DPoP-Nonce header",
        );
        match HeaderValue::from_str(nonce) {
            Ok(v) => e.with_header(header::HeaderName::from_static("dpop-nonce"), v),
            Err(_) => e,
        }
    }

    /// An internal failure: logged with a random reference, answered with that
    /// reference only, so that no internal detail reaches the client.
    pub fn server(err: impl std::fmt::Display) -> OAuthError {
        let reference = reference();
        tracing::error!(error_id = %reference, error = %err, "internal error");
        OAuthError::new(
            ErrorCode::ServerError,
            format!("internal error, reference {reference}"),
        )
    }

    /// The database or another dependency is not answering.
    pub fn unavailable(err: impl std::fmt::Display) -> OAuthError {
        let reference = reference();
        tracing::error!(error_id = %reference, error = %err, "dependency unavailable");
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            format!("the service is temporarily unavailable, reference {reference}"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
    }
}

impl From<crate::store::DbError> for OAuthError {
    fn from(e: crate::store::DbError) -> OAuthError {
        match e {
            crate::store::DbError::Unavailable(_) => OAuthError::unavailable(e),
            _ => OAuthError::server(e),
        }
    }
}

/// The form reader's refusals, with the status of why: too large (413), too slow to
/// arrive (408), anything else 400.
impl From<crate::web::form::FormError> for OAuthError {
    fn from(e: crate::web::form::FormError) -> OAuthError {
        use crate::web::form::FormError;
        let status = match e {
            FormError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            FormError::TooSlow => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        };
        OAuthError::invalid_request(e.to_string()).with_status(status)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: ErrorCode,
    #[serde(skip_serializing_if = "str::is_empty")]
    error_description: &'a str,
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        // RFC 6749 §5.2 and RFC 9110 §15.5.2: a 401 names the scheme to use. Basic is
        // the only header scheme we accept, so it is the challenge for every 401.
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""),
            ));
        }
        for (k, v) in &self.extra_headers {
            res.insert_header((k.clone(), v.clone()));
        }
        res.json(Body {
            error: self.code,
            error_description: &self.description,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_stay_within_the_rfc_6749_charset() {
        let e = OAuthError::new(ErrorCode::InvalidScope, "scope \"x\\y\" \u{e9}");
        assert_eq!(e.description, "scope 'x?y' ?");
    }
}
