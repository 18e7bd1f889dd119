//! OAuth 2.0 Token Exchange (RFC 8693) for personal access tokens: a script holding a
//! personal token swaps it for a short-lived JWT access token (same scopes or fewer)
//! that resource servers verify offline. The token's address allow-list applies to the
//! caller of the exchange.

use super::{Grants, TokenRequest, resolve_scope};
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::issuer::{AccessToken, TokenResponse};
use crate::oauth::personal::{self, Checked, PAT_CLIENT_ID, exchanged_jti};
use crate::oauth::tokens::Audience;

pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// `client`: the authenticated client, if the caller presented credentials (the
/// exchange is also open to callers without any, since a person's script has none).
pub async fn grant(
    g: &Grants<'_>,
    client: Option<&Client>,
    req: &TokenRequest,
) -> Result<TokenResponse, OAuthError> {
    // A client named in the exchange ends up as the JWT's client_id, so it must have
    // proved who it is (a public client cannot) and be registered for this grant.
    if let Some(c) = client {
        if c.is_public() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "a public client cannot be named in a token exchange; send no client_id",
            ));
        }
        if !c.allows_grant(GrantType::TokenExchange) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the client is not allowed the token-exchange grant",
            ));
        }
    }
    // RFC 8693 §2.1: no delegation (actor tokens) and no `audience` targets here; say
    // so rather than issue something other than what was asked for (§2.2.2).
    if req.actor_token.is_some() || req.actor_token_type.is_some() {
        return Err(OAuthError::invalid_request(
            "actor tokens (delegation) are not supported",
        ));
    }
    if req.audience.is_some() {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "audience is not supported; use resource with an authenticated client",
        ));
    }
    let subject = req
        .subject_token
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("subject_token is required"))?;
    match req.subject_token_type.as_deref() {
        Some(ACCESS_TOKEN_TYPE) => {}
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "subject_token_type must be urn:ietf:params:oauth:token-type:access_token",
            ));
        }
        None => {
            return Err(OAuthError::invalid_request(
                "subject_token_type is required",
            ));
        }
    }
    if req
        .requested_token_type
        .as_deref()
        .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
    {
        return Err(OAuthError::invalid_request(
            "only access tokens can be requested",
        ));
    }
    // RFC 8693 §2.2.2: an unusable subject token is invalid_grant.
    let token = match personal::check(
        g.db,
        g.now,
        g.api_catalogue,
        subject,
        g.client_ip.clone(),
        "token_exchange",
    )
    .await?
    {
        Checked::Active(t) => t,
        Checked::Unknown => {
            return Err(OAuthError::new(
                ErrorCode::InvalidGrant,
                "the subject token is invalid",
            ));
        }
        Checked::Refused(_) => {
            return Err(OAuthError::new(
                ErrorCode::InvalidGrant,
                "the subject token may not be used (expired, revoked, or not from this address)",
            ));
        }
    };
    let scope = resolve_scope(req.scope.as_deref(), &token.scope)?;
    let aud = match client {
        Some(c) => g.issuer.audience(c, &req.resources)?,
        None if req.resources.is_empty() => Audience::One(g.issuer.default_audience.clone()),
        None => {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "resource indicators need an authenticated client",
            ));
        }
    };
    let client_id = client.map_or(PAT_CLIENT_ID, |c| c.client_id.as_str());
    // Never outlive the personal token.
    let ttl = token
        .expires_at
        .map_or(g.lifetimes.access, |e| g.lifetimes.access.min(e - g.now));
    let minted = g.issuer.access_token(AccessToken {
        client_id,
        subject: &token.user_id.to_string(),
        scope: &scope,
        aud,
        jti: exchanged_jti(token.id),
        now: g.now,
        ttl,
        jkt: g.dpop_jkt.clone(),
        sign_in: None,
    })?;
    Ok(TokenResponse {
        issued_token_type: Some(ACCESS_TOKEN_TYPE),
        ..minted.into()
    })
}
