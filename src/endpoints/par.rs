//! The pushed authorization request endpoint (RFC 9126 §2): authenticate the client as
//! the token endpoint does, validate the whole request, answer 201 with its
//! `request_uri`, or a 400 JSON error (never a redirect).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::dpop::Refusal;
use crate::oauth::authorize::par::PushError;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::state::AppState;
use crate::web::form;

pub async fn par_ep(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let mut result = push(&req, payload, &state).await;
    super::dpop::next_nonce(&state, &req, &mut result);
    result
}

async fn push(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, OAuthError> {
    let params = form::parse(
        form::read_raw_up_to(
            req,
            payload,
            crate::oauth::authorize::transaction::MAX_PARAMS,
        )
        .await?
        .as_bytes(),
    );
    if let Some(name) = params.repeated() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name:?} is repeated"
        )));
    }
    let presented = super::credentials::presented(req.headers(), &params)?;
    // RFC 9449 §10.1: a proof here binds the code to its key, as dpop_jkt does; both
    // must then agree.
    let proof_jkt = match super::credentials::dpop_proof(req.headers())? {
        None => None,
        Some(proof) => {
            match super::dpop::check(state, proof, "POST", "/par", None, presented.client_id())
                .await
            {
                Ok(p) => Some(p.jkt),
                Err(Refusal::UseNonce(nonce)) => return Err(OAuthError::use_dpop_nonce(&nonce)),
                Err(Refusal::Invalid(why)) => {
                    return Err(OAuthError::new(ErrorCode::InvalidDpopProof, why));
                }
                Err(Refusal::Unavailable(e)) => return Err(e.into()),
            }
        }
    };
    let client = state.registrar.authenticate(&presented).await?;
    let params = match (proof_jkt, params.get("dpop_jkt")) {
        (Some(p), Some(j)) if p != j => {
            return Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "dpop_jkt differs from the key of the DPoP proof",
            ));
        }
        (Some(p), None) => params.with("dpop_jkt", &p),
        _ => params,
    };
    let now = state.clock.now();
    match state.authorizer().push(params, &client, now).await {
        Ok(pushed) => Ok(HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "request_uri": pushed.request_uri,
                "expires_in": pushed.expires_in,
            }))),
        Err(PushError::Unavailable) => Err(OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "try again in a moment",
        )),
        Err(PushError::Invalid { error, description }) => {
            Err(OAuthError::new(code_of(error), description))
        }
    }
}

/// The error codes a pushed request can be refused with (RFC 9126 §2.3: those of the
/// authorization endpoint, RFC 6749 §4.1.2.1, as JSON).
fn code_of(error: &'static str) -> ErrorCode {
    match error {
        "invalid_scope" => ErrorCode::InvalidScope,
        "invalid_target" => ErrorCode::InvalidTarget,
        "unauthorized_client" => ErrorCode::UnauthorizedClient,
        "unsupported_response_type" => ErrorCode::UnsupportedResponseType,
        "request_not_supported" => ErrorCode::RequestNotSupported,
        _ => ErrorCode::InvalidRequest,
    }
}
