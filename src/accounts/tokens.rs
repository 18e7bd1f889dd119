//! Personal API tokens: created (shown once), revoked.

use diesel::QueryResult;

use super::Actor;
use crate::domain::net::AllowList;
use crate::domain::scope::Scope;
use crate::oauth::personal::format;
use crate::secret;
use crate::store::AnyConnection;
use crate::store::audit::{self, Event};
use crate::store::id::Id;
use crate::store::pat::{self, PersonalToken};

/// A token to create, validated.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub scope: Scope,
    pub expires_at: Option<i64>,
    pub allowed_ips: AllowList,
}

/// The outcome of a creation.
pub enum Created {
    /// The token's value: shown once, never stored.
    Token(String),
    /// A live token of the person already has this name.
    NameTaken,
}

/// Create a token for `user`, with its `pat.created` event.
pub fn create(
    conn: &mut AnyConnection,
    user: Id,
    new: &NewToken,
    by: &Actor,
    now: i64,
) -> QueryResult<Created> {
    let value = format::generate();
    let t = PersonalToken {
        id: Id::new_v7(),
        user_id: user,
        name: new.name.clone(),
        token_hash: secret::hash(&value),
        scope: new.scope.clone(),
        allowed_ips: new.allowed_ips.clone(),
        created_at: now,
        expires_at: new.expires_at,
        revoked_at: None,
        last_used_at: None,
        last_used_ip: None,
    };
    if !pat::insert(conn, &t, now)? {
        return Ok(Created::NameTaken);
    }
    let e = Event::new("pat.created", "success")
        .user(user)
        .detail("token_id", t.id.to_string())
        .detail("token_name", t.name.clone())
        .detail("scope", t.scope.to_string())
        .detail("expires_at", t.expires_at)
        .detail("allowed_ips", t.allowed_ips.to_string());
    audit::record(conn, &by.stamp(e), now)?;
    Ok(Created::Token(value))
}

/// Revoke token `id` (only if `owner` owns it, when given), with its `pat.revoked`
/// event. Returns whether a live token was revoked.
pub fn revoke(
    conn: &mut AnyConnection,
    id: Id,
    owner: Option<Id>,
    by: &Actor,
    now: i64,
) -> QueryResult<bool> {
    let Some(t) = pat::revoke(conn, id, owner, now)? else {
        return Ok(false);
    };
    let e = Event::new("pat.revoked", "success")
        .user(t.user_id)
        .detail("token_id", t.id.to_string())
        .detail("token_name", t.name);
    audit::record(conn, &by.stamp(e), now)?;
    Ok(true)
}
