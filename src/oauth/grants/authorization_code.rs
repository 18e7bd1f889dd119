//! The authorization-code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6) and, for
//! `openid` requests, an ID token (OpenID Connect Core §3.1.3).

use super::refresh_token::{OFFLINE_ACCESS, issue_refresh};
use super::{Grants, TokenRequest};
use crate::oauth::client::{Client, GrantType};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::issuer::{AccessToken, IdToken, Issuer, TokenResponse};
use crate::oauth::pkce::CodeChallenge;
use crate::oauth::tokens::new_jti;
use crate::secret;
use crate::store::audit::{self, Event};
use crate::store::codes::{self, CodeRow};
use crate::store::id::Id;
use crate::store::refresh::{self, Family};
use crate::store::{revoked, sessions, users};

fn invalid_grant(d: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, d)
}

/// What the database unit of work decided.
enum Outcome {
    Issued(Box<CodeRow>, users::User, Option<String>),
    Refused(&'static str),
}

pub async fn grant(
    g: &Grants<'_>,
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
    let aud = g.issuer.audience(client, &req.resources)?;
    // Before the code is spent (see `Issuer::id_token_key`).
    Issuer::id_token_key(&g.issuer.keys(), client)?;
    let now = g.now;
    let ttl = g.lifetimes.access;
    let jti = new_jti();
    let client_id = client.client_id.clone();
    let redirect_uri = req.redirect_uri.clone();
    let verifier = req.code_verifier.clone();
    let jti_stored = jti.clone();
    let allows_refresh = client.allows_grant(GrantType::RefreshToken);
    let (refresh_idle, refresh_abs) = (g.lifetimes.refresh_idle, g.lifetimes.refresh_absolute);

    let outcome =
        g.db.run(move |conn| {
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
                    crate::metrics::code_reuse();
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
                // A code belongs to the sign-in that produced it: once that session has
                // ended (sign-out, a new password, the person deleted), so has the code.
                if let Some(sid) = row.session_id
                    && !sessions::is_live(conn, sid, now)?
                {
                    return Ok(Outcome::Refused(
                        "the sign-in session that issued the code has ended",
                    ));
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

    let subject = user.id.to_string();
    let minted = g.issuer.access_token(AccessToken {
        client_id: &client.client_id,
        subject: &subject,
        scope: &row.scope,
        aud,
        jti,
        now,
        ttl,
    })?;
    // The client's id_token_signed_response_alg; the key set must hold an active key of
    // it (`keys rotate --alg`), or the exchange fails loudly.
    let id_token = if row.scope.contains("openid") {
        let t = IdToken {
            subject,
            auth_time: row.auth_time,
            nonce: row.nonce.clone(),
            sid: row.session_id.map(|s| s.to_string()),
            now,
            ttl,
        };
        Some(g.issuer.id_token(client, &minted.token, t)?)
    } else {
        None
    };
    Ok(TokenResponse {
        refresh_token,
        id_token,
        ..minted.into()
    })
}
