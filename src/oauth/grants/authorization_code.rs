//! The authorization-code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6) and, for
//! `openid` requests, an ID token (OpenID Connect Core §3.1.3).

use super::refresh_token::{OFFLINE_ACCESS, issue_refresh};
use super::{TokenRequest, TokenResponse, mint_access_token, resolve_audience};
use crate::keys::{KeySet, Material};
use crate::oauth::client::{Client, GrantType};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::pkce::CodeChallenge;
use crate::oauth::tokens::{IdClaims, at_hash, new_jti, sign_id_token};
use crate::secret;
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::codes::{self, CodeRow};
use crate::store::id::Id;
use crate::store::refresh::{self, Family};
use crate::store::{revoked, users};

fn invalid_grant(d: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, d)
}

/// What the database unit of work decided.
enum Outcome {
    Issued(Box<CodeRow>, users::User, Option<String>),
    Refused(&'static str),
}

/// The active key of the client's ID-token algorithm (`id_token_signed_response_alg`).
fn id_token_key<'k>(keys: &'k KeySet, client: &Client) -> Result<&'k Material, OAuthError> {
    let alg = client.id_token_alg;
    keys.active(alg).ok_or_else(|| {
        OAuthError::server(format!(
            "no active {} key for this client's ID tokens",
            alg.as_str()
        ))
    })
}

pub async fn grant(
    state: &AppState,
    client: &Client,
    req: &TokenRequest,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not allowed the authorization_code grant",
        ));
    }
    let code = req
        .code
        .clone()
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let aud = resolve_audience(state, client, &req.resources)?;
    // Before the code is spent: a client whose ID-token algorithm has no active key
    // cannot be served now, and should be able to retry with the same code once an
    // operator adds one (`keys rotate --alg`).
    id_token_key(&state.keys.current(), client)?;
    let now = state.clock.now();
    let ttl = state.settings.access_token_ttl;
    let jti = new_jti();
    let client_id = client.client_id.clone();
    let redirect_uri = req.redirect_uri.clone();
    let verifier = req.code_verifier.clone();
    let jti_stored = jti.clone();
    let allows_refresh = client.allows_grant(GrantType::RefreshToken);
    let (refresh_idle, refresh_abs) = (
        state.settings.refresh_idle_ttl,
        state.settings.refresh_absolute_ttl,
    );

    let outcome = state
        .db(move |conn| {
            crate::store::db::write_transaction(conn, |conn| {
                let hash = secret::hash(&code);
                let Some(row) = codes::find(conn, &hash)? else {
                    return Ok(Outcome::Refused("the code is invalid or expired"));
                };
                if row.consumed_at.is_some() {
                    // RFC 6749 §4.1.2: a second use revokes what the first one issued.
                    if let (Some(j), Some(exp)) = (&row.issued_jti, row.issued_exp) {
                        revoked::revoke(conn, j, exp, now)?;
                    }
                    if let Some(f) = row.family_id {
                        refresh::revoke_family(conn, f, "authorization code reused", now)?;
                    }
                    audit::record(
                        conn,
                        &Event::new("code.reuse_detected", "tokens_revoked")
                            .user(row.user_id)
                            .client(row.client_id.clone()),
                        now,
                    )?;
                    return Ok(Outcome::Refused("the code was already used"));
                }
                if row.client_id != client_id {
                    return Ok(Outcome::Refused("the code was issued to another client"));
                }
                if row.expires_at <= now {
                    return Ok(Outcome::Refused("the code is invalid or expired"));
                }
                // RFC 6749 §4.1.3: redirect_uri must repeat the authorization request's.
                match (&redirect_uri, row.redirect_uri_given) {
                    (Some(u), _) if *u != row.redirect_uri => {
                        return Ok(Outcome::Refused("redirect_uri does not match"));
                    }
                    (None, true) => {
                        return Ok(Outcome::Refused("redirect_uri is required"));
                    }
                    _ => {}
                }
                let challenge = CodeChallenge::from_stored(row.code_challenge.clone());
                if !verifier.as_deref().is_some_and(|v| challenge.verify(v)) {
                    return Ok(Outcome::Refused("code_verifier is missing or wrong"));
                }
                let family =
                    (allows_refresh && row.scope.contains(OFFLINE_ACCESS)).then(Id::new_v7);
                if !codes::consume(conn, &hash, &jti_stored, now + ttl, family, now)? {
                    // Another request consumed it between our read and our write.
                    return Ok(Outcome::Refused("the code was already used"));
                }
                let Some(user) = users::find(conn, row.user_id)? else {
                    return Ok(Outcome::Refused("the user no longer exists"));
                };
                let refresh_token = match family {
                    None => None,
                    Some(id) => {
                        let f = Family {
                            id,
                            client_id: row.client_id.clone(),
                            user_id: row.user_id,
                            scope: row.scope.clone(),
                            auth_time: row.auth_time,
                            created_at: now,
                            expires_at: now + refresh_abs,
                            revoked_at: None,
                            revoked_reason: None,
                        };
                        refresh::create_family(conn, &f)?;
                        Some(issue_refresh(
                            conn,
                            &f,
                            &jti_stored,
                            now + ttl,
                            refresh_idle,
                            now,
                        )?)
                    }
                };
                Ok(Outcome::Issued(Box::new(row), user, refresh_token))
            })
        })
        .await?;
    let (row, user, refresh_token) = match outcome {
        Outcome::Issued(row, user, refresh) => (row, user, refresh),
        Outcome::Refused(why) => return Err(invalid_grant(why)),
    };

    let scope = row.scope.clone();
    let subject = user.id.to_string();
    let minted = mint_access_token(
        state,
        &client.client_id,
        &subject,
        &scope,
        aud,
        jti,
        now,
        ttl,
    )?;
    let id_token = if scope.contains("openid") {
        let keys = state.keys.current();
        // The client's id_token_signed_response_alg; the key set must hold an active
        // key of it (`keys rotate --alg`), or the exchange fails loudly.
        let key = id_token_key(&keys, client)?;
        let alg = key.alg;
        let claims = IdClaims {
            iss: state.issuer.clone(),
            sub: subject,
            aud: client.client_id.clone(),
            exp: now + ttl,
            iat: now,
            auth_time: row.auth_time,
            nonce: row.nonce.clone(),
            at_hash: at_hash(alg, &minted.token),
            sid: row.session_id.map(|s| s.to_string()),
        };
        Some(sign_id_token(key, &claims).map_err(OAuthError::server)?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token: minted.token,
        token_type: "Bearer",
        expires_in: minted.expires_in,
        scope: minted.scope,
        refresh_token,
        id_token,
        issued_token_type: None,
    })
}
