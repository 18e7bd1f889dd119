//! Checking a personal access token where it is used: at introspection (the resource
//! server says who called it) and at the token-exchange grant (we see the caller).
//! Every use and every refusal goes to the audit trail; uses are coalesced to one event
//! per token and address per minute, so a busy token does not become a write storm.

pub mod format;

use super::error::OAuthError;
use crate::domain::scope::Scope;
use crate::secret;
use crate::store::Db;
use crate::store::audit::{self, Event};
use crate::store::id::Id;
use crate::store::pat::{self as store, PersonalToken};
use crate::store::users::User;

/// The catalogue entries (name, description) this person may give personal tokens: the
/// whole catalogue, or the part the operator granted them (`user set-api-scopes`). A
/// granted name that is no longer in the catalogue grants nothing.
pub fn entitled<'a>(catalogue: &'a [(String, String)], user: &User) -> Vec<&'a (String, String)> {
    match &user.api_scopes {
        None => catalogue.iter().collect(),
        Some(granted) => catalogue
            .iter()
            .filter(|(name, _)| granted.contains(name))
            .collect(),
    }
}

/// The `jti` of a JWT exchanged from personal token `pat`: the token's id, a dot, and a
/// fresh random id. Introspection reads the id back to answer `active: false` once the
/// personal token is revoked (offline verifiers cannot know; they accept the JWT until it
/// expires, at most the access-token lifetime).
pub fn exchanged_jti(pat: Id) -> String {
    format!("{}.{}", pat.0.simple(), crate::oauth::tokens::new_jti())
}

/// The personal token a JWT was exchanged from, if its `jti` says so.
pub fn exchanged_from(jti: &str) -> Option<Id> {
    let (pat, _) = jti.split_once('.')?;
    uuid::Uuid::try_parse(pat).ok().map(Id)
}

/// `client_id` of tokens exchanged from personal tokens (no OAuth client is involved).
pub const PAT_CLIENT_ID: &str = "portcullis:personal-token";

pub enum Checked {
    Active(Box<PersonalToken>),
    /// Not a token of ours (malformed, wrong checksum, unknown).
    Unknown,
    /// A real token that may not be used: expired, revoked, or address not allowed.
    Refused(&'static str),
}

/// Uses from the same address within this many seconds are one event.
const COALESCE_SECS: i64 = 60;

/// Check `token` as used from `addr`. Its scope is narrowed to the current `catalogue`:
/// a scope the operator has since removed from the catalogue no longer counts.
pub async fn check(
    db: &Db,
    now: i64,
    catalogue: &Scope,
    token: &str,
    addr: Option<String>,
    via: &'static str,
) -> Result<Checked, OAuthError> {
    // The checksum catches typos and truncation before any database work.
    if !format::well_formed(token) {
        crate::metrics::personal_token("unknown");
        return Ok(Checked::Unknown);
    }
    let hash = secret::hash(token);
    let catalogue = catalogue.clone();
    Ok(db
        .run(move |conn| {
            let Some(mut t) = store::find_by_hash(conn, &hash)? else {
                crate::metrics::personal_token("unknown");
                return Ok(Checked::Unknown);
            };
            t.scope = t.scope.intersection(&catalogue);
            let refusal = if t.revoked_at.is_some() {
                Some("revoked")
            } else if t.expires_at.is_some_and(|e| e <= now) {
                Some("expired")
            } else if !t.allowed_ips.allows(addr.as_deref()) {
                Some("address_not_allowed")
            } else if t.scope.is_empty() {
                Some("no_scope_left")
            } else {
                None
            };
            let ip = addr.clone().unwrap_or_else(|| "unknown".into());
            if let Some(reason) = refusal {
                let e = Event::new("pat.refused", "refused")
                    .user(t.user_id)
                    .from_addr(addr.clone(), None)
                    .detail("token_id", t.id.to_string())
                    .detail("token_name", t.name.clone())
                    .detail("reason", reason)
                    .detail("via", via);
                audit::record(conn, &e, now)?;
                crate::metrics::personal_token(reason);
                return Ok(Checked::Refused(reason));
            }
            let used = store::note_use(conn, t.id, &ip, COALESCE_SECS, now)?;
            if used.record {
                let e = Event::new("pat.used", "success")
                    .user(t.user_id)
                    .from_addr(addr.clone(), None)
                    .detail("token_id", t.id.to_string())
                    .detail("token_name", t.name.clone())
                    .detail("new_address", used.new_address)
                    .detail("via", via);
                audit::record(conn, &e, now)?;
            }
            crate::metrics::personal_token("active");
            Ok(Checked::Active(Box::new(t)))
        })
        .await?)
}
