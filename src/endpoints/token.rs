//! The token endpoint (RFC 6749 §3.2): parse, authenticate the client, dispatch to
//! the grant, answer with `Cache-Control: no-store` (§5.1).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::form;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::grants::{
    TokenRequest, authorization_code, client_credentials, refresh_token, token_exchange,
};
use crate::oauth::personal::PAT_CLIENT_ID;
use crate::state::AppState;

pub async fn token_ep(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = form::read(&req, payload).await?;
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let presented = client_auth::extract(
        req.headers(),
        form.get("client_id"),
        form.get("client_secret"),
    )?;
    let text = |name: &str| form.get(name).map(str::to_string);
    let request = TokenRequest {
        scope: text("scope"),
        resources: form.resources.clone(),
        code: text("code"),
        redirect_uri: text("redirect_uri"),
        code_verifier: text("code_verifier"),
        refresh_token: text("refresh_token"),
        subject_token: text("subject_token"),
        subject_token_type: text("subject_token_type"),
        requested_token_type: text("requested_token_type"),
        audience: text("audience"),
        actor_token: text("actor_token"),
        actor_token_type: text("actor_token_type"),
    };
    // RFC 8693 exchange of a personal token: the person's script has no client of its
    // own; a caller that does present credentials must present good ones.
    if grant_type == token_exchange::GRANT_TYPE {
        let client = match presented {
            Presented::Nothing => None,
            ref p => Some(state.authenticate_client(p).await?),
        };
        let caller = crate::audit::origin(&req).0;
        let response = token_exchange::grant(&state, client.as_deref(), &request, caller).await?;
        state.issued.note(
            client
                .as_ref()
                .map_or(PAT_CLIENT_ID, |c| c.client_id.as_str()),
            "token_exchange",
        );
        return Ok(no_store(response));
    }
    let client = state.authenticate_client(&presented).await?;
    let (grant, response): (&'static str, _) = match grant_type {
        "client_credentials" => (
            "client_credentials",
            client_credentials::grant(&state, &client, &request)?,
        ),
        "authorization_code" => (
            "authorization_code",
            authorization_code::grant(&state, &client, &request).await?,
        ),
        "refresh_token" => (
            "refresh_token",
            refresh_token::grant(&state, &client, &request).await?,
        ),
        _ => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "this grant type is not supported",
            ));
        }
    };
    state.issued.note(&client.client_id, grant);
    Ok(no_store(response))
}

/// RFC 6749 §5.1: token responses are never cached.
fn no_store(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// Anything but POST at the token, revocation and introspection endpoints (RFC 6749
/// §3.2, RFC 7009 §2.1, RFC 7662 §2.1).
pub async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "error": "invalid_request",
            "error_description": "this endpoint accepts POST only",
        }))
}
