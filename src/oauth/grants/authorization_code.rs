//! The authorization-code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636 §4.6) and, for
//! `openid` requests, an ID token (OpenID Connect Core §3.1.3).

use super::refresh_token::{OFFLINE_ACCESS, issue_refresh};
use super::{Grants, TokenRequest};
use crate::oauth::clients::{Client, GrantType};
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

/// What the database unit of work decided.
enum Outcome {
    /// The code's row, its user, the refresh token, and the resources the token is for.
    Issued(Box<(CodeRow, users::User, Option<String>, Vec<String>)>),
    Refused(ErrorCode, &'static str),
    /// A good code for an ID token that no active key can sign: left unspent.
    NoIdTokenKey,
}

fn refused(d: &'static str) -> diesel::QueryResult<Outcome> {
    Ok(Outcome::Refused(ErrorCode::InvalidGrant, d))
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
    // The resources asked for must be registered for the client (checked here, before
    // the code is spent); the code may narrow them further below.
    g.issuer.audience(client, &req.resources)?;
    // Checked before the code is spent (see `Issuer::id_token_key`), and only once the
    // code is known to be good: a made-up code is invalid_grant, never a server error.
    let key_error = Issuer::id_token_key(&g.issuer.keys(), client).err();
    let key_missing = key_error.is_some();
    let now = g.now;
    let ttl = g.lifetimes.access;
    let jti = new_jti();
    let client_id = client.client_id.clone();
    let redirect_uri = req.redirect_uri.clone();
    let verifier = req.code_verifier.clone();
    let jti_stored = jti.clone();
    let allows_refresh = client.allows_grant(GrantType::RefreshToken);
    let (refresh_idle, refresh_abs) = (g.lifetimes.refresh_idle, g.lifetimes.refresh_absolute);
    let requested_resources = req.resources.clone();
    let dpop_jkt = g.dpop_jkt.clone();
    // RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key; a
    // confidential client's are bound to the client, which authenticates (and, under the
    // FAPI 2.0 profile, where they do not rotate, to its DPoP key too).
    let family_jkt = if client.is_public() || !g.rotate_refresh {
        g.dpop_jkt.clone()
    } else {
        None
    };

    let outcome =
        g.db.run(move |conn| {
            crate::store::db::write_transaction(conn, |conn| {
                let hash = secret::hash(&code);
                let Some(row) = codes::find(conn, &hash)? else {
                    return refused("the code is invalid or expired");
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
                    return refused("the code was already used");
                }
                if row.client_id != client_id {
                    return refused("the code was issued to another client");
                }
                if row.expires_at <= now {
                    return refused("the code is invalid or expired");
                }
                // A code belongs to the sign-in that produced it: once that session has
                // ended (sign-out, a new password, the person deleted), so has the code.
                if let Some(sid) = row.session_id
                    && !sessions::is_live(conn, sid, now)?
                {
                    return refused("the sign-in session that issued the code has ended");
                }
                // RFC 6749 §4.1.3: redirect_uri must repeat the authorization request's.
                match (&redirect_uri, row.redirect_uri_given) {
                    (Some(u), _) if *u != row.redirect_uri => {
                        return refused("redirect_uri does not match");
                    }
                    (None, true) => {
                        return refused("redirect_uri is required");
                    }
                    _ => {}
                }
                let challenge = CodeChallenge::from_stored(row.code_challenge.clone());
                if !verifier.as_deref().is_some_and(|v| challenge.verify(v)) {
                    return refused("code_verifier is missing or wrong");
                }
                // RFC 9449 §10: a code bound to a DPoP key is exchanged with a proof of
                // that key only.
                if let Some(bound) = &row.dpop_jkt
                    && dpop_jkt.as_deref() != Some(bound.as_str())
                {
                    return refused("the code is bound to a DPoP key: send a proof made with it");
                }
                // RFC 8707 §2.2: the token request may narrow the resources the
                // authorization request named, never name another.
                let bound: Vec<String> = row
                    .resources
                    .split(' ')
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect();
                // The refresh tokens keep the full original grant: the code's resources,
                // or, when it named none, those this first token was asked for.
                let granted = if bound.is_empty() {
                    requested_resources.join(" ")
                } else {
                    bound.join(" ")
                };
                let resources = if requested_resources.is_empty() {
                    bound
                } else if bound.is_empty() || requested_resources.iter().all(|r| bound.contains(r))
                {
                    requested_resources.clone()
                } else {
                    return Ok(Outcome::Refused(
                        ErrorCode::InvalidTarget,
                        "the code was not issued for the requested resource",
                    ));
                };
                if key_missing && row.scope.contains("openid") {
                    return Ok(Outcome::NoIdTokenKey);
                }
                let family =
                    (allows_refresh && row.scope.contains(OFFLINE_ACCESS)).then(Id::new_v7);
                if !codes::consume(conn, &hash, &jti_stored, now + ttl, family, now)? {
                    // Another request consumed it between our read and our write.
                    return refused("the code was already used");
                }
                let Some(user) = users::find(conn, row.user_id)? else {
                    return refused("the user no longer exists");
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
                            dpop_jkt: family_jkt.clone(),
                            resources: granted.clone(),
                            amr: row.amr,
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
                Ok(Outcome::Issued(Box::new((
                    row,
                    user,
                    refresh_token,
                    resources,
                ))))
            })
        })
        .await?;
    let (row, user, refresh_token, resources) = match outcome {
        Outcome::Issued(issued) => *issued,
        Outcome::Refused(code, why) => return Err(OAuthError::new(code, why)),
        Outcome::NoIdTokenKey => {
            return Err(key_error.unwrap_or_else(|| OAuthError::server("no ID token key")));
        }
    };
    let aud = g.issuer.audience(client, &resources)?;

    let subject = user.id.to_string();
    let minted = g.issuer.access_token(AccessToken {
        client_id: &client.client_id,
        subject: &subject,
        scope: &row.scope,
        aud,
        jti,
        now,
        ttl,
        jkt: g.dpop_jkt.clone(),
        sign_in: Some((row.auth_time, row.amr)),
    })?;
    // The client's id_token_signed_response_alg; the key set must hold an active key of
    // it (`keys rotate --alg`), or the exchange fails loudly.
    let id_token = if row.scope.contains("openid") {
        let t = IdToken {
            subject,
            auth_time: row.auth_time,
            method: row.amr,
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
