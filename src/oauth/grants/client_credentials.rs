//! The client-credentials grant (RFC 6749 §4.4): a confidential client asks for a
//! token for itself. No refresh token is issued (§4.4.3).

use super::{TokenRequest, TokenResponse, issue_access_token, resolve_audience, resolve_scope};
use crate::oauth::client::{Client, GrantType};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::state::AppState;

pub fn grant(
    state: &AppState,
    client: &Client,
    req: &TokenRequest,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows_grant(GrantType::ClientCredentials) || client.is_public() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not allowed the client_credentials grant",
        ));
    }
    let scope = resolve_scope(req.scope.as_deref(), &client.scope)?;
    let aud = resolve_audience(state, client, &req.resources)?;
    issue_access_token(state, client, &client.client_id, scope, aud)
}
