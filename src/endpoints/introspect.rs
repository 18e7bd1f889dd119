//! Token introspection (RFC 7662) for resource servers, which register as clients.
//! §4: a client that registered itself learns only about its own tokens (any other is
//! `active: false`), unless an operator's initial access token allowed it more.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::oauth::bearer;
use crate::oauth::clients::Introspection;
use crate::oauth::error::OAuthError;
use crate::oauth::liveness;
use crate::oauth::personal::{self, Checked};
use crate::secret;
use crate::state::AppState;
use crate::store::refresh;

fn answer(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

pub async fn introspect_ep(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (form, caller, token) = super::client_token_request(&req, payload, &state).await?;
    // §2.1: the endpoint is protected; a public client has no credential to protect it with.
    if caller.is_public() {
        return Err(OAuthError::invalid_client(
            "introspection requires a confidential client",
        ));
    }
    // Extension parameter `client_ip` (personal tokens): the address the resource server
    // saw the token come from. An address, or nothing: anything else is refused, never
    // stored in the audit trail.
    let addr = match form.get("client_ip") {
        None => None,
        Some(ip) => Some(
            ip.parse::<std::net::IpAddr>()
                .map(|ip| ip.to_canonical())
                .map_err(|_| {
                    OAuthError::invalid_request("client_ip must be an IPv4 or IPv6 address")
                })?
                .to_string(),
        ),
    };
    let now = state.clock.now();
    let inactive = || answer(json!({ "active": false }));

    // Our JWT access tokens: signature, expiry, then the revocation record and the
    // issuing client, which may have been deleted since.
    if let Ok(claims) =
        bearer::verify_access_token(&state.keys.current(), &state.issuer.id, &token, now)
    {
        let checked = claims.clone();
        let catalogue = state.settings.api_scope_names.clone();
        let live = state
            .db
            .run(move |conn| liveness::recorded_live(conn, &checked, &catalogue))
            .await?;
        if !live || !liveness::client_live(&state.registrar, &claims).await? {
            return Ok(inactive());
        }
        if caller.introspection == Introspection::Own && claims.client_id != caller.client_id {
            return Ok(inactive());
        }
        let mut body = json!({
            "active": true,
            "client_id": claims.client_id,
            "sub": claims.sub,
            "exp": claims.exp,
            "iat": claims.iat,
            "aud": claims.aud,
            "iss": claims.iss,
            "token_type": if claims.cnf.is_some() { "DPoP" } else { "Bearer" },
            "jti": claims.jti,
        });
        if let Some(s) = claims.scope {
            body["scope"] = s.into();
        }
        // RFC 9449 §6.2: the key the token is bound to.
        // RFC 7662 §2.2 allows other claims; these say how the person signed in.
        if let Some(t) = claims.auth_time {
            body["auth_time"] = json!(t);
        }
        if let Some(acr) = claims.acr {
            body["acr"] = json!(acr);
        }
        if let Some(cnf) = claims.cnf {
            body["cnf"] = json!({ "jkt": cnf.jkt });
        }
        return Ok(answer(body));
    }

    // Personal access tokens, with `client_ip` checked against the token's allow-list;
    // issued to no client, so only for callers that may introspect any token.
    if token.starts_with(crate::oauth::personal::format::PREFIX)
        && caller.introspection == Introspection::Any
    {
        if let Checked::Active(t) = personal::check(
            &state.db,
            now,
            &state.settings.api_scope_names,
            &token,
            addr,
            "introspection",
        )
        .await?
        {
            let mut body = json!({
                "active": true,
                "scope": t.scope.to_string(),
                "sub": t.user_id.to_string(),
                "iat": t.created_at,
                "iss": state.issuer.id,
                "token_type": "personal_access_token",
                "jti": t.id.to_string(),
            });
            if let Some(e) = t.expires_at {
                body["exp"] = e.into();
            }
            return Ok(answer(body));
        }
        return Ok(inactive());
    }

    // Refresh tokens, only for the client they were issued to.
    if token.starts_with(crate::oauth::grants::refresh_token::PREFIX) {
        let hash = secret::hash(&token);
        if let Some((row, family)) = state.db.run(move |conn| refresh::find(conn, &hash)).await?
            && family.client_id == caller.client_id
            && family.revoked_at.is_none()
            && row.used_at.is_none()
            && row.expires_at > now
            && family.expires_at > now
        {
            return Ok(answer(json!({
                "active": true,
                "scope": family.scope.to_string(),
                "client_id": family.client_id,
                "sub": family.user_id.to_string(),
                "exp": row.expires_at,
                "iat": row.created_at,
                "iss": state.issuer.id,
                "token_type": "refresh_token",
            })));
        }
    }
    Ok(inactive())
}
