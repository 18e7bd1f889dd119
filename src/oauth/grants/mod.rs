//! One module per grant type. Each validates its request against the authenticated
//! client and decides; the token endpoint only parses and dispatches.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;
pub mod token_exchange;

use super::error::{ErrorCode, OAuthError};
use super::issuer::{AccessToken, Issuer, Minted};
use super::tokens::{Audience, new_jti};
use crate::domain::scope::Scope;
use crate::store::Db;

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

/// Token lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access: i64,
    pub refresh_idle: i64,
    pub refresh_absolute: i64,
}

/// What every grant works with: the database, the issuer, the time of the request and
/// the lifetimes of what it issues. Nothing else of the server's state.
pub struct Grants<'a> {
    pub db: &'a Db,
    pub issuer: &'a Issuer,
    pub now: i64,
    pub lifetimes: Lifetimes,
    /// The API scopes personal tokens may carry now (for the token exchange).
    pub api_catalogue: &'a Scope,
    /// The thumbprint of the key of the request's DPoP proof, checked (RFC 9449 §5):
    /// the access token is bound to it.
    pub dpop_jkt: Option<String>,
    /// Refresh tokens rotate on every use (RFC 9700 §4.14.2); not under the FAPI 2.0
    /// profile, whose clients are confidential and sender-constrained (§5.3.2.1).
    pub rotate_refresh: bool,
    /// The caller's address (through trusted proxies), for the records people read.
    pub client_ip: Option<String>,
}

impl Grants<'_> {
    /// Sign an access token for `client` with a fresh `jti`, for the standard lifetime.
    pub fn access_token(
        &self,
        client_id: &str,
        subject: &str,
        scope: &Scope,
        aud: Audience,
    ) -> Result<Minted, OAuthError> {
        self.issuer.access_token(AccessToken {
            client_id,
            subject,
            scope,
            aud,
            jti: new_jti(),
            now: self.now,
            ttl: self.lifetimes.access,
            jkt: self.dpop_jkt.clone(),
            sign_in: None,
        })
    }
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
