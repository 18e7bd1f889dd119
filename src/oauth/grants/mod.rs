//! One module per grant type. Each validates its request against the authenticated
//! client and decides; the token endpoint only parses and dispatches.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;
pub mod token_exchange;

use serde::Serialize;

use super::client::Client;
use super::error::{ErrorCode, OAuthError};
use super::tokens::{AccessClaims, Audience, new_jti, sign_access_token};
use crate::domain::scope::Scope;
use crate::state::AppState;

/// The grant-independent parameters of a token request. It holds codes, verifiers and
/// tokens: `Debug` shows which parameters are present, never their values.
#[derive(Default)]
pub struct TokenRequest {
    pub scope: Option<String>,
    /// RFC 8707 `resource`, which may repeat.
    pub resources: Vec<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    /// RFC 8693 §2.1.
    pub subject_token: Option<String>,
    pub subject_token_type: Option<String>,
    pub requested_token_type: Option<String>,
    pub audience: Option<String>,
    pub actor_token: Option<String>,
    pub actor_token_type: Option<String>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| if v.is_some() { "[redacted]" } else { "-" };
        f.debug_struct("TokenRequest")
            .field("scope", &self.scope)
            .field("resources", &self.resources)
            .field("code", &shown(&self.code))
            .field("redirect_uri", &self.redirect_uri)
            .field("code_verifier", &shown(&self.code_verifier))
            .field("refresh_token", &shown(&self.refresh_token))
            .field("subject_token", &shown(&self.subject_token))
            .field("subject_token_type", &self.subject_token_type)
            .field("requested_token_type", &self.requested_token_type)
            .field("audience", &self.audience)
            .field("actor_token", &shown(&self.actor_token))
            .field("actor_token_type", &self.actor_token_type)
            .finish()
    }
}

/// RFC 6749 §5.1. `Debug` hides the tokens.
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// RFC 8693 §2.2.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

/// RFC 6749 §3.3: a requested scope must lie within what the client may have; an
/// omitted scope means the client's registered default.
pub fn resolve_scope(requested: Option<&str>, allowed: &Scope) -> Result<Scope, OAuthError> {
    let Some(requested) = requested else {
        return Ok(allowed.clone());
    };
    let scope = Scope::parse(requested)
        .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
    if let Some(extra) = scope.excess_over(allowed).next() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope {extra:?} is not allowed for this client"),
        ));
    }
    Ok(scope)
}

/// RFC 8707 §2: the token is for the resources asked for, each of which the client
/// must be registered for; otherwise for the configured default audience.
pub fn resolve_audience(
    state: &AppState,
    client: &Client,
    resources: &[String],
) -> Result<Audience, OAuthError> {
    if resources.is_empty() {
        return Ok(Audience::One(state.default_audience.clone()));
    }
    for r in resources {
        if !super::client::validate_resource(r) {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "resource must be an absolute URI without a fragment",
            ));
        }
        if !client.resources.iter().any(|c| c == r) {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "the client is not registered for the requested resource",
            ));
        }
    }
    Ok(Audience::from_vec(resources.to_vec()))
}

/// A signed access token and what the response says about it.
pub struct Minted {
    pub token: String,
    pub expires_in: i64,
    pub scope: Option<String>,
}

/// Sign an access token. `jti` is chosen by the caller when it must be recorded first
/// (the authorization-code grant stores it with the consumed code).
#[allow(clippy::too_many_arguments)] // each is one claim of the token; a struct would only rename them
pub fn mint_access_token(
    state: &AppState,
    client_id: &str,
    subject: &str,
    scope: &Scope,
    aud: Audience,
    jti: String,
    now: i64,
    ttl: i64,
) -> Result<Minted, OAuthError> {
    // Our UserInfo endpoint accepts only tokens naming the issuer (RFC 9068 §4). An
    // `openid` token for the default audience is for it too; a token asked for other
    // resources (RFC 8707) stays limited to them, so they cannot replay it there.
    let aud = if scope.contains("openid") && aud.contains(&state.default_audience) {
        aud.with(&state.issuer)
    } else {
        aud
    };
    let scope = (!scope.is_empty()).then(|| scope.to_string());
    let claims = AccessClaims {
        iss: state.issuer.clone(),
        sub: subject.to_string(),
        aud,
        exp: now + ttl,
        iat: now,
        jti,
        client_id: client_id.to_string(),
        scope: scope.clone(),
        nbf: None,
    };
    let keys = state.keys.current();
    let token = sign_access_token(keys.signing(), &claims).map_err(OAuthError::server)?;
    Ok(Minted {
        token,
        expires_in: ttl,
        scope,
    })
}

pub fn issue_access_token(
    state: &AppState,
    client: &Client,
    subject: &str,
    scope: Scope,
    aud: Audience,
) -> Result<TokenResponse, OAuthError> {
    let now = state.clock.now();
    let m = mint_access_token(
        state,
        &client.client_id,
        subject,
        &scope,
        aud,
        new_jti(),
        now,
        state.settings.access_token_ttl,
    )?;
    Ok(TokenResponse {
        access_token: m.token,
        token_type: "Bearer",
        expires_in: m.expires_in,
        scope: m.scope,
        refresh_token: None,
        id_token: None,
        issued_token_type: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_which_parameters_came_not_their_values() {
        let r = TokenRequest {
            code: Some("the-code".into()),
            code_verifier: Some("the-verifier".into()),
            refresh_token: Some("pcr_the-refresh".into()),
            subject_token: Some("pcp_the-subject".into()),
            scope: Some("openid".into()),
            ..Default::default()
        };
        let shown = format!("{r:?}");
        for secret in ["the-code", "the-verifier", "the-refresh", "the-subject"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("openid") && shown.contains("[redacted]"));
    }
}
