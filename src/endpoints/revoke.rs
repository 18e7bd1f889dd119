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
    let as_access = bearer::verify_access_token(&keys, &state.issuer, &token, now).ok();
    let client_id = client.client_id.clone();
    let done = state
        .db(move |conn| {
            let revoke_access =
                |conn: &mut crate::store::AnyConnection| -> diesel::QueryResult<bool> {
                    match &as_access {
                        Some(c) if c.client_id == client_id => {
                            revoked::revoke(conn, &c.jti, c.exp, now)?;
                            Ok(true)
                        }
                        _ => Ok(false),
                    }
                };
            if hint_access && revoke_access(conn)? {
                return Ok("access_token");
            }
            if let Some((_, family)) = refresh::find(conn, &secret::hash(&token))? {
                if family.client_id == client_id {
                    refresh::revoke_family(conn, family.id, "revoked by the client", now)?;
                    return Ok("refresh_token");
                }
                return Ok("none");
            }
            if revoke_access(conn)? {
                return Ok("access_token");
            }
            Ok("none")
        })
        .await?;
    if done != "none" {
        state
            .audit(
                Event::new("token.revoked", "success")
                    .client(client.client_id.clone())
                    .detail("token_type", done),
            )
            .await;
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
