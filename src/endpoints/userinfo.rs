//! The UserInfo endpoint (OpenID Connect Core §5.3), a protected resource: bearer
//! errors follow RFC 6750 §3.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use super::dpop::{self, Refusal};
use crate::domain::scope::Scope;
use crate::oauth::bearer::{self, BearerError, Scheme};
use crate::oauth::liveness;
use crate::oauth::tokens::AccessClaims;
use crate::state::AppState;
use crate::store::id::Id;
use crate::store::users;

pub async fn userinfo_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, BearerError> {
    let (scheme, token) = bearer::extract_token(req.headers(), None)?;
    let mut result = respond(&req, &state, scheme, &token).await;
    dpop::next_nonce(&state, &req, &mut result);
    result
}

pub async fn userinfo_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, BearerError> {
    let has_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form = if has_form {
        Some(
            crate::web::form::read(&req, payload)
                .await
                .map_err(|_| BearerError::invalid_request("the request body could not be read"))?,
        )
    } else {
        None
    };
    let (scheme, token) = bearer::extract_token(
        req.headers(),
        form.as_ref().and_then(|f| f.get("access_token")),
    )?;
    let mut result = respond(&req, &state, scheme, &token).await;
    dpop::next_nonce(&state, &req, &mut result);
    result
}

/// RFC 9449 §7: a DPoP-bound token is accepted only with the DPoP scheme and a proof of
/// its key for this very request (`htm`, `htu`, `ath`); an unbound one only as Bearer.
async fn check_binding(
    req: &HttpRequest,
    state: &AppState,
    scheme: Scheme,
    token: &str,
    claims: &AccessClaims,
) -> Result<(), BearerError> {
    match (scheme, claims.jkt()) {
        (Scheme::Bearer, None) => Ok(()),
        (Scheme::Bearer, Some(_)) => Err(BearerError::invalid_token(
            "the access token is DPoP-bound: present it with the DPoP scheme and a proof",
        )
        .dpop()),
        (Scheme::Dpop, None) => {
            Err(BearerError::invalid_token("the access token is not DPoP-bound").dpop())
        }
        (Scheme::Dpop, Some(jkt)) => {
            let mut proofs = req.headers().get_all("dpop");
            let proof = match (proofs.next(), proofs.next()) {
                (Some(p), None) => p
                    .to_str()
                    .map_err(|_| BearerError::invalid_dpop_proof("the DPoP header is not a JWT"))?,
                (None, _) => {
                    return Err(BearerError::invalid_dpop_proof("a DPoP proof is required"));
                }
                (Some(_), Some(_)) => {
                    return Err(BearerError::invalid_dpop_proof("more than one DPoP header"));
                }
            };
            let method = req.method().as_str();
            let client = Some(claims.client_id.as_str());
            match dpop::check(state, proof, method, "/userinfo", Some(token), client).await {
                Ok(p) if p.jkt == jkt => Ok(()),
                Ok(_) => Err(BearerError::invalid_dpop_proof(
                    "the proof's key is not the one the token is bound to",
                )),
                Err(Refusal::UseNonce(nonce)) => Err(BearerError::use_dpop_nonce(nonce)),
                Err(Refusal::Invalid(why)) => Err(BearerError::invalid_dpop_proof(why)),
                Err(Refusal::Unavailable(_)) => Err(BearerError::unavailable()),
            }
        }
    }
}

async fn respond(
    req: &HttpRequest,
    state: &AppState,
    scheme: Scheme,
    token: &str,
) -> Result<HttpResponse, BearerError> {
    let now = state.clock.now();
    let claims = bearer::verify_access_token(&state.keys.current(), &state.issuer.id, token, now)
        .map_err(|e| if scheme == Scheme::Dpop { e.dpop() } else { e })?;
    check_binding(req, state, scheme, token, &claims).await?;
    // RFC 9068 §4: we are a resource server here, and the token must be meant for us.
    // Tokens with `openid` for the default audience name the issuer too (see
    // `Issuer::access_token`); one asked for another resource does not.
    if !claims.aud.contains(&state.issuer.id) {
        return Err(BearerError::invalid_token(
            "the access token is not meant for this server",
        ));
    }
    // We signed this scope; one that does not parse is not ours to honour.
    let scope = Scope::parse(claims.scope.as_deref().unwrap_or(""))
        .map_err(|_| BearerError::invalid_token("the access token is invalid"))?;
    if !scope.contains("openid") {
        return Err(BearerError::insufficient_scope("openid"));
    }
    // Tokens from the client-credentials grant name a client, not a person.
    let user_id = uuid::Uuid::parse_str(&claims.sub)
        .map(Id)
        .map_err(|_| BearerError::invalid_token("the token does not belong to a user"))?;
    let client_live = liveness::client_live(&state.registrar, &claims)
        .await
        .map_err(|_| BearerError::unavailable())?;
    let checked = claims.clone();
    let catalogue = state.settings.api_scope_names.clone();
    let found = state
        .db
        .run(move |conn| {
            if !liveness::recorded_live(conn, &checked, &catalogue)? {
                return Ok(None);
            }
            users::find(conn, user_id)
        })
        .await
        .map_err(|_| BearerError::unavailable())?;
    let user = found
        .filter(|_| client_live)
        .ok_or_else(|| BearerError::invalid_token("the access token is invalid"))?;
    let mut out = Map::new();
    out.insert("sub".into(), Value::String(user.id.to_string()));
    if scope.contains("profile") {
        out.insert("preferred_username".into(), user.username.clone().into());
        if let Some(n) = &user.name {
            out.insert("name".into(), n.clone().into());
        }
    }
    if scope.contains("email")
        && let Some(e) = &user.email
    {
        out.insert("email".into(), e.clone().into());
        out.insert("email_verified".into(), user.email_verified.into());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(Value::Object(out)))
}
