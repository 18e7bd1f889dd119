//! The token endpoint (RFC 6749 §3.2): parse, authenticate the client, dispatch to
//! the grant, answer with `Cache-Control: no-store` (§5.1).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::dpop::Refusal;
use crate::metrics;
use crate::oauth::clients::Client;
use crate::oauth::clients::GrantType;
use crate::oauth::clients::auth::Presented;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::grants::{
    Grants, Lifetimes, TokenRequest, authorization_code, client_credentials, refresh_token,
    token_exchange,
};
use crate::oauth::personal::PAT_CLIENT_ID;
use crate::state::AppState;
use crate::web::{form, origin};

pub async fn token_ep(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    // A request that names no grant of ours counts as `other`.
    let mut grant = "other";
    let mut result = token(&req, payload, &state, &mut grant).await;
    super::dpop::next_nonce(&state, &req, &mut result);
    let outcome = match &result {
        Ok(_) => "success",
        Err(e) => e.code.as_str(),
    };
    metrics::token_request(grant, outcome);
    result
}

/// The token request itself; `grant` learns the grant type's label once it is known.
async fn token(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    grant: &mut &'static str,
) -> Result<HttpResponse, OAuthError> {
    let form = form::read(req, payload).await?;
    let grant_type: Option<GrantType> = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?
        .parse()
        .ok();
    if let Some(g) = grant_type {
        *grant = g.label();
    }
    let presented = super::credentials::presented(req.headers(), &form)?;
    // RFC 9449 §5: a proof binds what this request issues to its key. Checked (and its
    // jti spent) before the client is: a bad proof costs no client authentication.
    let dpop_jkt = match super::credentials::dpop_proof(req.headers())? {
        None => None,
        Some(proof) => {
            let checked =
                super::dpop::check(state, proof, "POST", "/token", None, presented.client_id())
                    .await;
            match checked {
                Ok(p) => Some(p.jkt),
                Err(Refusal::UseNonce(nonce)) => return Err(OAuthError::use_dpop_nonce(&nonce)),
                Err(Refusal::Invalid(why)) => {
                    return Err(OAuthError::new(ErrorCode::InvalidDpopProof, why));
                }
                Err(Refusal::Unavailable(e)) => return Err(e.into()),
            }
        }
    };
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
    let grants = Grants {
        db: &state.db,
        issuer: &state.issuer,
        now: state.clock.now(),
        lifetimes: Lifetimes {
            access: state.settings.access_token_ttl,
            refresh_idle: state.settings.refresh_idle_ttl,
            refresh_absolute: state.settings.refresh_absolute_ttl,
        },
        api_catalogue: &state.settings.api_scope_names,
        dpop_jkt,
        rotate_refresh: state.settings.profile != crate::config::Profile::Fapi2,
        client_ip: origin::client_ip(req, &state.settings.trusted_proxies).map(|ip| ip.to_string()),
    };
    // A client registered for DPoP-bound tokens (RFC 9449 §5.2), or any client under
    // the FAPI 2.0 profile, gets nothing without a proof.
    let needs_proof =
        |c: Option<&Client>| state.settings.requires_dpop() || c.is_some_and(|c| c.dpop_bound);
    // RFC 8693 exchange of a personal token: the person's script has no client of its
    // own; a caller that does present credentials must present good ones.
    if grant_type == Some(GrantType::TokenExchange) {
        let client = match presented {
            Presented::Nothing => None,
            ref p => Some(state.registrar.authenticate(p).await?),
        };
        if grants.dpop_jkt.is_none() && needs_proof(client.as_deref()) {
            return Err(proof_required());
        }
        let response = token_exchange::grant(&grants, client.as_deref(), &request).await?;
        state.issued.note(
            client
                .as_ref()
                .map_or(PAT_CLIENT_ID, |c| c.client_id.as_str()),
            GrantType::TokenExchange.label(),
        );
        return Ok(no_store(response));
    }
    let client = state.registrar.authenticate(&presented).await?;
    if grants.dpop_jkt.is_none() && needs_proof(Some(&client)) {
        return Err(proof_required());
    }
    let (grant, response) = match grant_type {
        Some(g @ GrantType::ClientCredentials) => {
            (g, client_credentials::grant(&grants, &client, &request)?)
        }
        Some(g @ GrantType::AuthorizationCode) => (
            g,
            authorization_code::grant(&grants, &client, &request).await?,
        ),
        Some(g @ GrantType::RefreshToken) => {
            (g, refresh_token::grant(&grants, &client, &request).await?)
        }
        Some(GrantType::TokenExchange) | None => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "this grant type is not supported",
            ));
        }
    };
    state.issued.note(&client.client_id, grant.label());
    Ok(no_store(response))
}

fn proof_required() -> OAuthError {
    OAuthError::invalid_request(
        "DPoP-bound tokens only (this client, or the FAPI 2.0 profile): send a DPoP proof (RFC 9449)",
    )
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
