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

/// Refresh tokens are our credential format with this prefix (`credential::Kind::Refresh`).
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
    let token = crate::credential::generate(crate::credential::Kind::Refresh);
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

/// One refresh, as the unit of work sees it: everything it needs, owned.
struct Redemption {
    token_hash: String,
    client_id: String,
    /// The client's registered scope now: the most a grant may still hold.
    registered: Scope,
    requested_scope: Option<String>,
    requested_resources: Vec<String>,
    /// Bind the family to the proof's key (public clients, and the FAPI 2.0 profile).
    bind_public: bool,
    rotate: bool,
    dpop_jkt: Option<String>,
    ip: Option<String>,
    /// The new access token's id, recorded in the family.
    jti: String,
    now: i64,
    access_ttl: i64,
    idle: i64,
}

impl Redemption {
    /// Each step of RFC 6749 §6 and RFC 9700 §4.14.2 in order; the first that refuses
    /// answers, and nothing is spent before every check has passed.
    fn redeem(&self, conn: &mut AnyConnection) -> diesel::QueryResult<Outcome> {
        let Some((row, mut family)) = refresh::find(conn, &self.token_hash)? else {
            return Ok(refused("the refresh token is invalid"));
        };
        if family.client_id != self.client_id {
            return Ok(refused("the refresh token was issued to another client"));
        }
        if family.revoked_at.is_some() {
            return Ok(refused("the refresh token was revoked"));
        }
        if let Some(ended) = self.narrow_to_registration(conn, &mut family)? {
            return Ok(ended);
        }
        if row.used_at.is_some() {
            return reused(conn, &family, self.now);
        }
        if row.expires_at <= self.now || family.expires_at <= self.now {
            return Ok(refused("the refresh token has expired"));
        }
        if let Some(refusal) = self.check_binding_and_request(&family) {
            return Ok(refusal);
        }
        // RFC 9449 §5: a public client that presents a proof binds its refresh token to
        // the key, even if it began without DPoP.
        if self.bind_public
            && family.dpop_jkt.is_none()
            && let Some(jkt) = &self.dpop_jkt
        {
            refresh::bind_dpop(conn, family.id, jkt)?;
        }
        if self.rotate {
            self.rotate_token(conn, family)
        } else {
            self.keep_token(conn, family)
        }
    }

    /// A grant is never wider than its client's registration now: an update that
    /// narrowed the scope (or an operator's edit) narrows the family at its next
    /// refresh, for good. Refresh tokens exist for `offline_access` (OpenID Connect Core
    /// §11): once the client may no longer ask for it, the family ends.
    fn narrow_to_registration(
        &self,
        conn: &mut AnyConnection,
        family: &mut Family,
    ) -> diesel::QueryResult<Option<Outcome>> {
        let allowed = family.scope.intersection(&self.registered);
        if allowed != family.scope {
            refresh::narrow_scope(conn, family.id, &allowed)?;
            family.scope = allowed;
        }
        if family.scope.contains(OFFLINE_ACCESS) {
            return Ok(None);
        }
        let reason = "offline_access no longer registered";
        refresh::revoke_family(conn, family.id, reason, self.now)?;
        Ok(Some(refused(
            "the client may no longer keep people signed in (offline_access)",
        )))
    }

    /// Checked before the token is spent, so that a refused request leaves it usable:
    /// whoever lacks the DPoP key cannot use it, nor cost its holder the family.
    fn check_binding_and_request(&self, family: &Family) -> Option<Outcome> {
        // RFC 9449 §5: a bound token works only with a proof of its key.
        if let Some(bound) = &family.dpop_jkt
            && self.dpop_jkt.as_deref() != Some(bound.as_str())
        {
            return Some(refused(
                "the refresh token is bound to a DPoP key: send a proof made with it",
            ));
        }
        // RFC 8707 §2.2: a refresh token is bound to the full original grant: a refresh
        // may narrow its resources, never name another.
        let granted: Vec<&str> = family
            .resources
            .split(' ')
            .filter(|r| !r.is_empty())
            .collect();
        if !granted.is_empty()
            && self
                .requested_resources
                .iter()
                .any(|r| !granted.contains(&r.as_str()))
        {
            return Some(Outcome::Refused(
                ErrorCode::InvalidTarget,
                "the refresh token was not granted for the requested resource",
            ));
        }
        // RFC 6749 §6: the requested scope may narrow the original grant, never widen it.
        if self
            .requested_scope
            .as_deref()
            .is_some_and(|r| Scope::parse(r).map_or(true, |r| !r.is_subset_of(&family.scope)))
        {
            return Some(Outcome::Refused(
                ErrorCode::InvalidScope,
                "the requested scope exceeds the original grant",
            ));
        }
        None
    }

    /// FAPI 2.0 §5.3.2.1: a client whose response was lost retries with the same token.
    /// It is bound to a confidential client (and its DPoP key), which must authenticate
    /// with its private key.
    fn keep_token(&self, conn: &mut AnyConnection, family: Family) -> diesel::QueryResult<Outcome> {
        let until = (self.now + self.idle).min(family.expires_at);
        refresh::extend(conn, &self.token_hash, until)?;
        let exp = self.now + self.access_ttl;
        refresh::record_access(conn, family.id, &self.jti, exp, self.now)?;
        refresh::touch(conn, family.id, self.ip.as_deref(), self.now)?;
        Ok(Outcome::Rotated {
            family: Box::new(family),
            token: None,
        })
    }

    /// Spend the token (one conditional write: of concurrent uses one wins, and the
    /// others are a reuse) and issue the next one of the family.
    fn rotate_token(
        &self,
        conn: &mut AnyConnection,
        family: Family,
    ) -> diesel::QueryResult<Outcome> {
        if !refresh::mark_used(conn, &self.token_hash, self.now)? {
            return reused(conn, &family, self.now);
        }
        let exp = self.now + self.access_ttl;
        let token = issue_refresh(conn, &family, &self.jti, exp, self.idle, self.now)?;
        refresh::touch(conn, family.id, self.ip.as_deref(), self.now)?;
        Ok(Outcome::Rotated {
            family: Box::new(family),
            token: Some(token),
        })
    }
}

fn refused(why: &'static str) -> Outcome {
    Outcome::Refused(ErrorCode::InvalidGrant, why)
}

/// A used token came back: two parties hold it. The whole family ends.
fn reused(conn: &mut AnyConnection, family: &Family, now: i64) -> diesel::QueryResult<Outcome> {
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
    Ok(refused("the refresh token was already used"))
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
    let jti = new_jti();
    let redemption = Redemption {
        token_hash: secret::hash(&presented),
        client_id: client.client_id.clone(),
        registered: client.scope.clone(),
        requested_scope: req.scope.clone(),
        requested_resources: req.resources.clone(),
        bind_public: client.is_public() || !g.rotate_refresh,
        rotate: g.rotate_refresh,
        dpop_jkt: g.dpop_jkt.clone(),
        ip: g.client_ip.clone(),
        jti: jti.clone(),
        now: g.now,
        access_ttl: g.lifetimes.access,
        idle: g.lifetimes.refresh_idle,
    };
    let (now, ttl) = (g.now, g.lifetimes.access);
    let outcome =
        g.db.run(move |conn| write_transaction(conn, |conn| redemption.redeem(conn)))
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
        sign_in: Some((family.auth_time, family.amr)),
    })?;
    Ok(TokenResponse {
        refresh_token: token,
        ..minted.into()
    })
}
