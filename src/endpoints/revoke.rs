//! Token revocation (RFC 7009). The answer is 200 whether or not anything was revoked
//! (§2.2): a client learns nothing about tokens that are not its own.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::oauth::bearer;
use crate::oauth::error::OAuthError;
use crate::secret;
use crate::state::AppState;
use crate::store::audit::Event;
use crate::store::{refresh, revoked};

/// What a revocation request turned out to revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Revoked {
    AccessToken,
    RefreshFamily,
    /// Not a token of this client's (or not one of ours at all).
    Nothing,
}

pub async fn revoke_ep(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (form, client, token) = super::client_token_request(&req, payload, &state).await?;
    let now = state.clock.now();
    // §2.1: the hint only orders the search; we look everywhere regardless.
    let hint_access = form.get("token_type_hint") == Some("access_token");
    let keys = state.keys.current();
    let as_access = bearer::verify_access_token(&keys, &state.issuer.id, &token, now)
        .ok()
        .filter(|c| c.client_id == client.client_id);
    let client_id = client.client_id.clone();
    let done = state
        .db
        .run(move |conn| {
            let revoke_access = |conn: &mut crate::store::AnyConnection| match &as_access {
                // Counted (and audited) only when this request revoked it.
                Some(c) => revoked::revoke_first(conn, &c.jti, c.exp, now).map(|first| {
                    if first {
                        Revoked::AccessToken
                    } else {
                        Revoked::Nothing
                    }
                }),
                None => Ok(Revoked::Nothing),
            };
            if hint_access && as_access.is_some() {
                return revoke_access(conn);
            }
            if let Some((_, family)) = refresh::find(conn, &secret::hash(&token))? {
                if family.client_id != client_id || family.revoked_at.is_some() {
                    return Ok(Revoked::Nothing);
                }
                refresh::revoke_family(conn, family.id, "revoked by the client", now)?;
                return Ok(Revoked::RefreshFamily);
            }
            revoke_access(conn)
        })
        .await?;
    let token_type = match done {
        Revoked::AccessToken => "access_token",
        Revoked::RefreshFamily => "refresh_token",
        Revoked::Nothing => return Ok(answer()),
    };
    crate::metrics::revoked(token_type);
    let event = Event::new("token.revoked", "success")
        .client(client.client_id.clone())
        .detail("token_type", token_type);
    crate::audit::record(&state.db, event, now).await;
    Ok(answer())
}

fn answer() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
