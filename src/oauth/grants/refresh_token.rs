//! The refresh-token grant (RFC 6749 §6) with rotation and reuse detection
//! (RFC 9700 §4.14.2): every use returns a new refresh token; a used token that comes
//! back means someone holds a copy, and the whole family is revoked.
//!
//! No grace period: a client whose response was lost and who retries with the old token
//! loses the family and signs the person in again. A grace window would let an
//! attacker's replay inside it pass for the client's retry.

use super::{Grants, TokenRequest, resolve_scope};
use crate::domain::scope::Scope;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::issuer::{AccessToken, TokenResponse};
use crate::oauth::tokens::new_jti;
use crate::secret;
use crate::store::AnyConnection;
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::store::refresh::{self, Family, RefreshRow};

/// Prefix of refresh tokens, so that secret scanners can recognise leaked ones.
pub const PREFIX: &str = "pcr_";
/// The scope that asks for a refresh token (OpenID Connect Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Create a refresh token in `family` and return its value (the only copy).
pub fn issue_refresh(
    conn: &mut AnyConnection,
    family: &Family,
    access_jti: &str,
    access_exp: i64,
    idle: i64,
    now: i64,
) -> diesel::QueryResult<String> {
    let token = secret::random_token(PREFIX, 32);
    refresh::insert_token(
        conn,
        &RefreshRow {
            token_hash: secret::hash(&token),
            family_id: family.id,
            created_at: now,
            expires_at: (now + idle).min(family.expires_at),
            used_at: None,
            access_jti: access_jti.to_string(),
            access_exp,
        },
    )?;
    Ok(token)
}

enum Outcome {
    /// `token`: the new refresh token (`None` when it was not rotated).
    Rotated {
        family: Box<Family>,
        token: Option<String>,
    },
    Refused(ErrorCode, &'static str),
}

pub async fn grant(
    g: &Grants<'_>,
    client: &Client,
    req: &TokenRequest,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not allowed the refresh_token grant",
        ));
    }
    let presented = req
        .refresh_token
        .clone()
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    // Checked against the client's registration here; against the family's grant below.
    g.issuer.audience(client, &req.resources)?;
    let requested_resources = req.resources.clone();
    let requested = req.scope.clone();
    let bind_public = client.is_public() || !g.rotate_refresh;
    let client_id = client.client_id.clone();
    let ip = g.client_ip.clone();
    let now = g.now;
    let ttl = g.lifetimes.access;
    let idle = g.lifetimes.refresh_idle;
    let jti = new_jti();
    let jti_stored = jti.clone();
    let dpop_jkt = g.dpop_jkt.clone();
    let rotate = g.rotate_refresh;
    let registered = client.scope.clone();

    let outcome = g
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let hash = secret::hash(&presented);
                let Some((row, mut family)) = refresh::find(conn, &hash)? else {
                    return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the refresh token is invalid"));
                };
                if family.client_id != client_id {
                    return Ok(Outcome::Refused(
                        ErrorCode::InvalidGrant,
                        "the refresh token was issued to another client",
                    ));
                }
                if family.revoked_at.is_some() {
                    return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the refresh token was revoked"));
                }
                // A grant is never wider than its client's registration now: an update
                // that narrowed the scope (or an operator's edit) narrows the family at
                // its next refresh, for good.
                let allowed = family.scope.intersection(&registered);
                if allowed != family.scope {
                    refresh::narrow_scope(conn, family.id, &allowed)?;
                    family.scope = allowed;
                }
                // Refresh tokens exist for `offline_access` (OpenID Connect Core §11): a
                // client that may no longer ask for it keeps none.
                if !family.scope.contains(OFFLINE_ACCESS) {
                    refresh::revoke_family(conn, family.id, "offline_access no longer registered", now)?;
                    return Ok(Outcome::Refused(
                        ErrorCode::InvalidGrant,
                        "the client may no longer keep people signed in (offline_access)",
                    ));
                }
                let reused = |conn: &mut AnyConnection| -> diesel::QueryResult<Outcome> {
                    // Two parties hold the token: cut the whole family.
                    refresh::revoke_family(conn, family.id, "refresh token reused", now)?;
                    audit::record(
                        conn,
                        &Event::new("refresh.reuse_detected", "family_revoked")
                            .user(family.user_id)
                            .client(family.client_id.clone())
                            .detail("family", family.id.to_string()),
                        now,
                    )?;
                    tracing::warn!(family = %family.id, client_id = %family.client_id, "refresh token reuse: family revoked");
                    crate::metrics::refresh_reuse();
                    Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the refresh token was already used"))
                };
                if row.used_at.is_some() {
                    return reused(conn);
                }
                if row.expires_at <= now || family.expires_at <= now {
                    return Ok(Outcome::Refused(ErrorCode::InvalidGrant, "the refresh token has expired"));
                }
                // RFC 9449 §5: a public client's refresh token works only with a proof of
                // the key it was issued with. Checked before the token is spent: whoever
                // lacks the key cannot use it, nor cost its holder the family.
                if let Some(bound) = &family.dpop_jkt
                    && dpop_jkt.as_deref() != Some(bound.as_str())
                {
                    return Ok(Outcome::Refused(
                        ErrorCode::InvalidGrant,
                        "the refresh token is bound to a DPoP key: send a proof made with it",
                    ));
                }
                // RFC 8707 §2.2: a refresh token is bound to the full original grant: a
                // refresh may narrow its resources, never name another.
                let granted: Vec<&str> =
                    family.resources.split(' ').filter(|r| !r.is_empty()).collect();
                if !granted.is_empty()
                    && requested_resources.iter().any(|r| !granted.contains(&r.as_str()))
                {
                    return Ok(Outcome::Refused(
                        ErrorCode::InvalidTarget,
                        "the refresh token was not granted for the requested resource",
                    ));
                }
                // RFC 9449 §5: a public client that presents a proof binds its refresh
                // token to the key, even if it began without DPoP.
                if bind_public
                    && family.dpop_jkt.is_none()
                    && let Some(jkt) = &dpop_jkt
                {
                    refresh::bind_dpop(conn, family.id, jkt)?;
                }
                // RFC 6749 §6: the requested scope may narrow the original grant, never
                // widen it. Checked before the token is consumed, so a refused request
                // leaves the token usable.
                if requested.as_deref().is_some_and(|r| {
                    Scope::parse(r).map_or(true, |r| !r.is_subset_of(&family.scope))
                }) {
                    return Ok(Outcome::Refused(
                        ErrorCode::InvalidScope,
                        "the requested scope exceeds the original grant",
                    ));
                }
                if !rotate {
                    // FAPI 2.0 §5.3.2.1: a client whose response was lost retries with
                    // the same token. It is bound to a confidential client (and its
                    // DPoP key), which must authenticate with its private key.
                    refresh::extend(conn, &hash, (now + idle).min(family.expires_at))?;
                    refresh::record_access(conn, family.id, &jti_stored, now + ttl, now)?;
                    refresh::touch(conn, family.id, ip.as_deref(), now)?;
                    return Ok(Outcome::Rotated {
                        family: Box::new(family),
                        token: None,
                    });
                }
                if !refresh::mark_used(conn, &hash, now)? {
                    // A concurrent request with the same token won the race.
                    return reused(conn);
                }
                let token = Some(issue_refresh(conn, &family, &jti_stored, now + ttl, idle, now)?);
                refresh::touch(conn, family.id, ip.as_deref(), now)?;
                Ok(Outcome::Rotated {
                    family: Box::new(family),
                    token,
                })
            })
        })
        .await?;
    let (family, token) = match outcome {
        Outcome::Rotated { family, token } => (family, token),
        Outcome::Refused(code, why) => return Err(OAuthError::new(code, why)),
    };
    let scope = resolve_scope(req.scope.as_deref(), &family.scope)?;
    let resources = if req.resources.is_empty() {
        family
            .resources
            .split(' ')
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect()
    } else {
        req.resources.clone()
    };
    let aud = g.issuer.audience(client, &resources)?;
    let subject = family.user_id.to_string();
    let minted = g.issuer.access_token(AccessToken {
        client_id: &client.client_id,
        subject: &subject,
        scope: &scope,
        aud,
        jti,
        now,
        ttl,
        jkt: g.dpop_jkt.clone(),
    })?;
    Ok(TokenResponse {
        refresh_token: token,
        ..minted.into()
    })
}
