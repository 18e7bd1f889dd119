//! Thin HTTP handlers: parse the request, call the protocol, render the response.

pub mod credentials;
pub mod discovery;
pub mod dpop;
pub mod health;
pub mod introspect;
pub mod leaks;
pub mod metrics;
pub mod par;
pub mod register;
pub mod revoke;
pub mod token;
pub mod userinfo;

use std::sync::Arc;

use actix_web::{HttpRequest, web};

use crate::oauth::clients::Client;
use crate::oauth::error::OAuthError;
use crate::state::AppState;
use crate::web::form;

/// Revocation and introspection both take a form with `token`, from an authenticated
/// client (RFC 7009 §2.1, RFC 7662 §2.1).
pub async fn client_token_request(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<(form::Form, Arc<Client>, String), OAuthError> {
    let form = form::read(req, payload).await?;
    let presented = credentials::presented(req.headers(), &form)?;
    let client = state.registrar.authenticate(&presented).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?
        .to_string();
    Ok((form, client, token))
}
