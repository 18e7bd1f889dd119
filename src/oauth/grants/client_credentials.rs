//! The client-credentials grant (RFC 6749 §4.4): a confidential client asks for a
//! token for itself. No refresh token is issued (§4.4.3).

use super::{Grants, TokenRequest, resolve_scope};
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::issuer::TokenResponse;

pub fn grant(g: &Grants, client: &Client, req: &TokenRequest) -> Result<TokenResponse, OAuthError> {
    if !client.allows_grant(GrantType::ClientCredentials) || client.is_public() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not allowed the client_credentials grant",
        ));
    }
    let scope = resolve_scope(req.scope.as_deref(), &client.scope)?;
    let aud = g.issuer.audience(client, &req.resources)?;
    g.access_token(&client.client_id, &client.client_id, &scope, aud)
        .map(TokenResponse::from)
}
